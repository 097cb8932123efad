"""Test helpers shared by several test modules (not collected: the name does not start with test_)."""

from __future__ import annotations

import os
import pickle
from concurrent.futures import Executor, Future

import pytest


class PickleInline(Executor):
    """Runs each task at submit time, after a pickle round trip of the task and of its result, as
    a process pool does (deterministic and fast: no processes; this process is the one long-lived
    'worker process')."""

    def submit(self, fn, /, *args, **kwargs):
        fn, args, kwargs = pickle.loads(pickle.dumps((fn, args, kwargs)))
        fut: Future = Future()
        try:
            fut.set_result(pickle.loads(pickle.dumps(fn(*args, **kwargs))))
        except BaseException as exc:  # noqa: BLE001
            fut.set_exception(exc)
        return fut


def postgres_url() -> str:
    """The test PostgreSQL server's URL (``HPOPT_TEST_POSTGRES_URL``); the test is skipped without
    one, except under CI, which must start it (``.ci/postgres.sh``)."""
    url = os.environ.get("HPOPT_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            raise RuntimeError("CI must start PostgreSQL (.ci/postgres.sh) and set HPOPT_TEST_POSTGRES_URL")
        pytest.skip("no PostgreSQL server configured: run `source .ci/postgres.sh start`")
    pytest.importorskip("psycopg")
    return url


def proposal_digest(study, digits: int = 6) -> str:
    """A digest of every trial's number, parameters and state, floats rounded to ``digits``
    significant digits, for tests that pin a sampler's proposals.

    Why rounded: numpy's ``exp``/``log`` kernels differ by an ulp between CPUs (AVX-512 and AVX2
    builds of the same wheel), so an exact digest recorded on one machine fails on another. An ulp
    in a log-scale decode moves the gradient sampler's later proposals by up to about 1e-13
    (relative), far below six digits, while any change of method moves them far above it.
    """
    import hashlib

    def rounded(v):
        return float(f"{v:.{digits}g}") if isinstance(v, float) else v

    rows = [(t.number, {k: rounded(v) for k, v in t.params.items()}, t.state.name) for t in study.trials]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
