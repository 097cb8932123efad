"""The progress bar of ``Study.optimize(..., show_progress_bar=True)`` (extra ``progress``: tqdm).

With ``n_trials`` the bar counts finished trials out of ``n_trials``; with only a ``timeout`` it
fills with elapsed seconds out of the timeout; with neither it is a plain counter. Its postfix
shows the best value so far (single objective) or the number of complete trials (several
objectives). It is driven from ``optimize``'s callbacks, which run in the caller's process for
every kind of parallelism (threads, processes, executors), and is safe to update from several
threads.

Example:
    >>> import hpopt, io
    >>> from hpopt.progress import ProgressBar
    >>> study = hpopt.create_study(seed=0)
    >>> bar = ProgressBar(study, n_trials=5, timeout=None, file=io.StringIO())
    >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5, callbacks=[bar.update])
    >>> bar.close()
    >>> bar.n_done
    5
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from hpopt._checks import stored_constraints
from hpopt.records import FrozenTrial, TrialState

if TYPE_CHECKING:  # pragma: no cover
    from hpopt.study import Study

__all__ = ["ProgressBar", "active_write"]

_active: list[ProgressBar] = []  # bars currently drawn (log lines are printed above them)
_active_lock = threading.Lock()


def active_write() -> Callable[[str], None] | None:
    """``tqdm.write`` when a progress bar is on screen (so a log line does not tear it), else None."""
    with _active_lock:
        if not _active:
            return None
        bar = _active[-1]
    return bar._write


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "show_progress_bar=True needs tqdm: pip install 'hpopt[progress]'."
        ) from None
    return tqdm


class ProgressBar:
    """A tqdm bar for one ``optimize`` call; pass :meth:`update` as a callback, :meth:`close` at the end.

    Args:
        study: The study being optimized (its best value so far seeds the postfix).
        n_trials: The trial budget of the call, or None.
        timeout: The time budget in seconds, or None.
        file: Where to draw (default: stderr).

    Raises:
        ImportError: tqdm is not installed (names the extra ``hpopt[progress]``).
    """

    def __init__(
        self, study: Study, n_trials: int | None, timeout: float | None, *, file: TextIO | None = None
    ) -> None:
        tqdm = _tqdm()
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._timeout = timeout
        self._by_time = n_trials is None and timeout is not None
        self._sign = 0.0
        self._best = math.nan
        self.n_done = 0
        self._complete = 0
        dirs = study.directions
        if len(dirs) == 1:
            self._sign = 1.0 if dirs[0] == "minimize" else -1.0
            try:
                self._best = float(study.best_value)
            except (ValueError, RuntimeError):
                pass
        if self._by_time:
            total: float | None = float(timeout)  # type: ignore[arg-type]
            digits = 1 if float(timeout) < 100 else 0  # type: ignore[arg-type]
            num = f".{digits}f"
            fmt = "{l_bar}{bar}| {n:" + num + "}/{total:" + num + "} s [{elapsed}<{remaining}{postfix}]"
        else:
            total = n_trials
            fmt = None
        kwargs: dict[str, Any] = {"total": total, "file": file, "unit": "s" if self._by_time else "trial",
                                  "dynamic_ncols": True}
        if not re.fullmatch(r"study-[0-9a-f]{32}", study.study_name):  # not a generated name
            kwargs["desc"] = study.study_name[:30]
        if fmt is not None:
            kwargs["bar_format"] = fmt
        self._bar = tqdm(**kwargs)
        self._write = lambda text: tqdm.write(text, file=file)
        self._closed = threading.Event()
        self._ticker: threading.Thread | None = None
        with _active_lock:
            _active.append(self)
        if self._by_time:  # keep the time bar moving while a long trial runs
            self._ticker = threading.Thread(target=self._tick, name="hpopt-progress", daemon=True)
            self._ticker.start()

    def _elapsed(self) -> float:
        return min(time.monotonic() - self._start, float(self._timeout or math.inf))

    def _tick(self) -> None:
        while not self._closed.wait(1.0):
            with self._lock:
                if self._closed.is_set():
                    return
                self._bar.n = self._elapsed()
                self._bar.refresh()

    def _postfix(self) -> str:
        if self._sign:
            return "" if math.isnan(self._best) else f"best={self._best:.6g}"
        return f"complete={self._complete}"

    def update(self, study: Study, trial: FrozenTrial) -> None:
        """The ``optimize`` callback: count ``trial`` and refresh the best value."""
        with self._lock:
            if self._closed.is_set():
                return
            self.n_done += 1
            if trial.state is TrialState.COMPLETE and trial.values:
                self._complete += 1
                v = float(trial.values[0])
                cons = stored_constraints(trial)  # an infeasible trial is never the best
                feasible = cons is None or bool((cons <= 0).all())
                if feasible and self._sign and (
                    math.isnan(self._best) or self._sign * v < self._sign * self._best
                ):
                    self._best = v
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            if self._by_time:
                self._bar.n = self._elapsed()
                self._bar.refresh()
            else:
                self._bar.update(1)

    def close(self) -> None:
        """Stop the ticker and close the bar (idempotent)."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            if self._by_time:
                self._bar.n = self._elapsed()
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.close()
        with _active_lock:
            if self in _active:
                _active.remove(self)
        if self._ticker is not None:
            self._ticker.join(timeout=5.0)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
