"""PostgreSQL storage: round trip, dropped connections, many processes.

Needs a server: ``source .ci/postgres.sh start`` exports HPOPT_TEST_POSTGRES_URL (CI does this).
Outside CI the tests are skipped, with the reason printed, when no server is configured.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import uuid

import pytest

import hpopt
from hpopt.storage.journal import RetryableStorageError, Storage
from hpopt.storage.postgres import PostgresBackend

URL = os.environ.get("HPOPT_TEST_POSTGRES_URL")
if not URL:
    if os.environ.get("CI"):
        raise RuntimeError("CI must start PostgreSQL (.ci/postgres.sh) and set HPOPT_TEST_POSTGRES_URL")
    pytest.skip(
        "no PostgreSQL server configured: run `source .ci/postgres.sh start` to test this backend",
        allow_module_level=True,
    )

psycopg = pytest.importorskip("psycopg")


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def _terminate_other_connections() -> None:
    with psycopg.connect(URL, autocommit=True) as c:
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_round_trip_through_a_second_storage_object():
    """Everything a study writes is read back by another storage opened on the same URL."""
    study = hpopt.create_study(study_name=_name(), storage=URL, directions=["minimize", "maximize"])
    t = study.ask()
    x = t.suggest_float("x", -1, 1)
    t.suggest_categorical("c", [None, True, 2, 1.5, "s"])
    t.report([0.5, 0.25], 3)
    t.set_user_attr("note", {"a": [1, 2]})
    study.tell(t, [float("inf"), -0.0])
    other = hpopt.load_study(study.study_name, URL)
    (ft,) = other.trials
    assert ft.params["x"] == x and ft.values == (float("inf"), -0.0)
    assert ft.intermediate_values == {3: (0.5, 0.25)} and ft.user_attrs == {"note": {"a": [1, 2]}}


def test_tell_after_the_connection_was_killed_is_stored_once():
    """A connection terminated by the server before tell/ask is replaced; each tell lands once."""
    study = hpopt.create_study(study_name=_name(), storage=URL, seed=0)
    for i in range(50):
        t = study.ask()
        t.suggest_float("x", 0, 1)
        _terminate_other_connections()
        study.tell(t, float(i))
        _terminate_other_connections()
    trials = hpopt.load_study(study.study_name, URL).trials
    assert [t.number for t in trials] == list(range(50))
    assert [t.value for t in trials] == [float(i) for i in range(50)]
    assert all(t.state is hpopt.TrialState.COMPLETE for t in trials)


class _DropAfterCommit(PostgresBackend):
    """Commits every write for real, then reports a lost connection: the client cannot know that
    it landed. (Commits that append nothing, like the retry that finds its op, go through.)"""

    drops = 0
    max_drops = 0
    appended = False

    def append(self, ops):  # type: ignore[override]
        self.appended = True
        return super().append(ops)

    def write(self):  # type: ignore[override]
        backend = self

        class _Tx:
            def __enter__(self_inner):
                backend.appended = False
                self_inner.cm = PostgresBackend.write(backend)
                return self_inner.cm.__enter__()

            def __exit__(self_inner, *exc):
                out = self_inner.cm.__exit__(*exc)
                if exc[0] is None and backend.appended and backend.drops < backend.max_drops:
                    backend.drops += 1
                    backend.reset()
                    raise RetryableStorageError("simulated: connection lost after COMMIT")
                return out

        return _Tx()


def test_a_commit_whose_reply_was_lost_is_not_written_twice():
    """A write that committed before the connection dropped is recognised by its token."""
    backend = _DropAfterCommit(URL)
    backend.max_drops = 1000
    study = hpopt.create_study(study_name=_name(), storage=Storage(backend))
    for i in range(20):
        t = study.ask({"x": hpopt.Float(0, 1)})
        study.tell(t, float(i))
    assert backend.drops > 40
    trials = hpopt.load_study(study.study_name, URL).trials
    assert [t.number for t in trials] == list(range(20))
    assert [t.value for t in trials] == [float(i) for i in range(20)]
    with psycopg.connect(URL) as c:
        n = c.execute("SELECT count(*) FROM hpopt_ops WHERE op LIKE %s", (f'%"s":{study._sid},%',)).fetchone()
    # one "study" op is not counted (it has no "s"); 20 trial ops + 20 fin ops
    assert n[0] == 40


def _worker(name: str, n: int) -> None:
    study = hpopt.create_study(study_name=name, storage=URL, load_if_exists=True)
    for _ in range(n):
        t = study.ask()
        x = t.suggest_float("x", 0, 1)
        t.report(x, 0)
        t.set_user_attr("pid", os.getpid())
        study.tell(t, x * 2)


@pytest.mark.slow
def test_four_processes_share_one_study():
    """4 processes x 100 trials: exactly 400 COMPLETE, numbered 0..399, values match params."""
    name = _name()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(name, 100)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert all(p.exitcode == 0 for p in procs)
    trials = hpopt.load_study(name, URL).trials
    assert [t.number for t in trials] == list(range(400))
    assert all(t.state is hpopt.TrialState.COMPLETE for t in trials)
    assert all(t.value == t.params["x"] * 2 for t in trials)
