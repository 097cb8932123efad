"""One BLAS thread for the small dense linear algebra of a sampler's ask.

A GP ask factorises and solves matrices of a few hundred rows many times (every step of the kernel
fit, every acquisition evaluation). At these sizes multi-threaded BLAS gains nothing and costs a
lot: its threads synchronise on every call and, when other processes or the study's other workers
keep the cores busy, they spin while waiting for a core. On the shared 2-core machine a GP ask at
200 trials in 20 dimensions took 13-35 s of CPU with the default BLAS threads and 0.17 s with one
(benchmarks/RESULTS.md). :func:`single_blas_thread` limits BLAS to one thread for the block it
guards and restores the previous setting after; it needs ``threadpoolctl`` (installed with
scikit-learn, or ``pip install 'hpopt[gp]'``) and does nothing without it.

The limit is process-wide while the block runs: another thread's BLAS calls during that time also
run on one thread (results are the same; only their speed can change). Blocks may nest and overlap
across threads; the previous setting comes back when the last one ends. OpenBLAS (numpy's and
scipy's wheels) can ignore a thread-count change made from a thread other than the one that set it
first, so in worker threads the limit may not take effect: then the ask runs as before.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["single_blas_thread"]

_lock = threading.Lock()
_state: dict[str, Any] = {}
_depth = 0


def _controller() -> Any:
    """The threadpoolctl controller of this process (built once), or None without threadpoolctl."""
    if "controller" not in _state:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _state["controller"] = None
        else:
            _state["controller"] = ThreadpoolController()
    return _state["controller"]


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (nested and concurrent uses are counted)."""
    global _depth
    with _lock:
        ctl = _controller()
        if ctl is None:
            limiter = None
        else:
            _depth += 1
            if _depth == 1:
                _state["limiter"] = ctl.limit(limits=1, user_api="blas")
            limiter = _state.get("limiter")
    try:
        yield
    finally:
        if limiter is not None:
            with _lock:
                _depth -= 1
                if _depth == 0:
                    _state.pop("limiter").restore_original_limits()
