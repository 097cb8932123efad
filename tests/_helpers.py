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
