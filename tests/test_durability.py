"""Durability under concurrency and crashes (RELIABILITY.md battery T2, T4-T6, T10, T11, T13, T14, T16).

PostgreSQL tests need a server: ``source .ci/postgres.sh start`` exports HPOPT_TEST_POSTGRES_URL
(CI does this). Outside CI they are skipped, with the reason printed, when no server is configured.

T12 (a torn last record) does not apply to SQLite or PostgreSQL: both append a record inside a
transaction that either commits whole or not at all (the WAL / the server's log roll an unfinished
transaction back on reopen), so a store of either never holds a half-written record. T10 and T11
check exactly that by killing writers mid-transaction.
"""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import random
import signal
import sqlite3
import time
import traceback
import uuid

import pytest

import hpopt
from hpopt import TrialState
from hpopt.errors import StorageError, TrialFinishedError
from hpopt.storage.journal import Storage
from hpopt.storage.sqlite import SQLiteBackend

PG_URL = os.environ.get("HPOPT_TEST_POSTGRES_URL")
if not PG_URL and os.environ.get("CI"):
    raise RuntimeError("CI must start PostgreSQL (.ci/postgres.sh) and set HPOPT_TEST_POSTGRES_URL")
needs_pg = pytest.mark.skipif(
    not PG_URL,
    reason="no PostgreSQL server configured: run `source .ci/postgres.sh start` to test this backend",
)
CTX = mp.get_context("spawn")
JOIN = 300  # seconds: a generous bound on any child process (the machine is shared)


def _name() -> str:
    return f"d-{uuid.uuid4().hex[:12]}"


def _sqlite_url(tmp_path, file: str = "store.db") -> str:
    return f"sqlite:///{tmp_path / file}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_pg)])
def url(request, tmp_path) -> str:
    """A fresh store URL of each backend (PostgreSQL: the test database, studies get fresh names)."""
    return _sqlite_url(tmp_path) if request.param == "sqlite" else PG_URL


def _join_all(procs) -> None:
    for p in procs:
        p.join(JOIN)
    for p in procs:
        if p.exitcode is None:
            p.kill()
            p.join()


# -- T2: 4 processes x 250 trials -----------------------------------------------------------------
def _t2_worker(url: str, name: str, n: int, out) -> None:
    errors = 0
    try:
        study = hpopt.create_study(study_name=name, storage=url, load_if_exists=True)
        for _ in range(n):
            try:
                trial = study.ask()
                x = trial.suggest_float("x", 0.0, 1.0)
                for step in range(3):
                    trial.report(x + step, step)
                trial.set_user_attr("pid", os.getpid())
                trial.set_user_attr("tag", f"w{x!r}")
                study.tell(trial, 2.0 * x)
            except Exception:  # noqa: BLE001  (counted and reported, never hidden)
                errors += 1
                out.put(traceback.format_exc())
    except Exception:  # noqa: BLE001
        errors += 1
        out.put(traceback.format_exc())
    out.put(errors)


@pytest.mark.slow
def test_four_processes_write_1000_trials_exactly_once(url):
    """T2: 4 processes x 250 trials (3 reports, 2 attributes): 1000 COMPLETE, numbers 0..999."""
    name = _name()
    hpopt.create_study(study_name=name, storage=url)
    out = CTX.Queue()
    procs = [CTX.Process(target=_t2_worker, args=(url, name, 250, out)) for _ in range(4)]
    for p in procs:
        p.start()
    reports = []
    while sum(isinstance(r, int) for r in reports) < 4:
        reports.append(out.get(timeout=JOIN))
    _join_all(procs)
    assert reports == [0, 0, 0, 0], "worker errors:\n" + "\n".join(map(str, reports))
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    trials = hpopt.load_study(name, url).trials
    assert [t.number for t in trials] == list(range(1000))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    for t in trials:
        x = t.params["x"]
        assert t.value == 2.0 * x
        assert t.intermediate_values == {0: x, 1: x + 1, 2: x + 2}
        assert t.user_attrs["tag"] == f"w{x!r}" and isinstance(t.user_attrs["pid"], int)
    assert len({t.user_attrs["pid"] for t in trials}) == 4


# -- T4: 16 processes start at once ---------------------------------------------------------------
def _t4_worker(url: str, name: str, go, out) -> None:
    try:
        go.wait(JOIN)
        study = hpopt.create_study(study_name=name, storage=url, load_if_exists=True)
        for _ in range(10):
            trial = study.ask()
            study.tell(trial, trial.suggest_float("x", 0.0, 1.0))
        out.put("ok")
    except BaseException:  # noqa: BLE001  (the parent shows it)
        out.put(traceback.format_exc())


@pytest.mark.slow
def test_sixteen_processes_create_and_run_one_study_at_once(url):
    """T4: 16 processes create_study(load_if_exists=True) at once, 10 trials each: 1 study, 160 trials."""
    name = _name()
    go, out = CTX.Event(), CTX.Queue()
    procs = [CTX.Process(target=_t4_worker, args=(url, name, go, out)) for _ in range(16)]
    for p in procs:
        p.start()
    go.set()  # the SQLite file does not exist yet: opening it races too
    results = [out.get(timeout=JOIN) for _ in procs]
    _join_all(procs)
    assert not any("locked" in r for r in results), results
    assert results == ["ok"] * 16, results
    assert hpopt.study_names(url).count(name) == 1
    trials = hpopt.load_study(name, url).trials
    assert [t.number for t in trials] == list(range(160))
    assert all(t.state is TrialState.COMPLETE for t in trials)


# -- T5: an enqueued trial runs exactly once -------------------------------------------------------
def _t5_worker(url: str, name: str, out) -> None:
    ran: list[tuple[int, int]] = []
    try:
        study = hpopt.load_study(name, url)
        while study.get_trials(states=[TrialState.WAITING]):
            trial = study.ask()
            if trial.number >= 50:  # the queue emptied between the check and the ask
                study.tell(trial, state="fail")
                break
            i = trial.suggest_int("i", 0, 1000)
            ran.append((trial.number, i))
            study.tell(trial, float(i))
        out.put(ran)
    except BaseException:  # noqa: BLE001
        out.put(traceback.format_exc())


@needs_pg
@pytest.mark.slow
def test_enqueued_trials_popped_by_eight_processes_run_once():
    """T5 (PostgreSQL): 50 enqueued trials popped by 8 processes: each runs exactly once."""
    name = _name()
    study = hpopt.create_study(study_name=name, storage=PG_URL)
    for i in range(50):
        study.enqueue_trial({"i": 100 + i})
    out = CTX.Queue()
    procs = [CTX.Process(target=_t5_worker, args=(PG_URL, name, out)) for _ in range(8)]
    for p in procs:
        p.start()
    results = [out.get(timeout=JOIN) for _ in procs]
    _join_all(procs)
    assert all(isinstance(r, list) for r in results), results
    ran = sorted(pair for r in results for pair in r)
    assert ran == [(n, 100 + n) for n in range(50)]
    trials = hpopt.load_study(name, PG_URL).trials
    assert all(t.state is TrialState.COMPLETE and t.value == 100 + t.number for t in trials[:50])
    assert all(t.state is TrialState.FAIL for t in trials[50:]) and len(trials) <= 58


# -- T6: two processes tell the same trial at once --------------------------------------------------
def _t6_teller(url: str, name: str, me: int, n: int, barrier, out) -> None:
    won, lost = [], []
    try:
        study = hpopt.load_study(name, url)
        for number in range(n):
            barrier.wait(JOIN)
            try:
                study.tell(number, float(me))
                won.append(number)
            except TrialFinishedError:
                lost.append(number)
        out.put((me, won, lost))
    except BaseException:  # noqa: BLE001
        out.put(traceback.format_exc())


@needs_pg
@pytest.mark.slow
def test_two_processes_telling_one_trial_first_wins_other_gets_error():
    """T6 (PostgreSQL): 2 processes tell the same trial at once, 200 times: exactly one wins."""
    name, n = _name(), 200
    study = hpopt.create_study(study_name=name, storage=PG_URL)
    for _ in range(n):
        study.ask({"x": hpopt.Float(0, 1)})
    barrier, out = CTX.Barrier(2), CTX.Queue()
    procs = [CTX.Process(target=_t6_teller, args=(PG_URL, name, me, n, barrier, out)) for me in (0, 1)]
    for p in procs:
        p.start()
    results = sorted(out.get(timeout=JOIN) for _ in procs)
    _join_all(procs)
    assert all(isinstance(r, tuple) for r in results), results
    (_, won0, lost0), (_, won1, lost1) = results
    assert sorted(won0 + won1) == list(range(n))
    assert sorted(won0) == sorted(lost1) and sorted(won1) == sorted(lost0)
    winner = {number: 0.0 for number in won0} | {number: 1.0 for number in won1}
    trials = hpopt.load_study(name, PG_URL).trials
    assert [t.value for t in trials] == [winner[i] for i in range(n)]


# -- T10: SIGKILL a writer at a random instant, 25 rounds --------------------------------------------
def _t10_writer(url: str, name: str, log_path: str, ready) -> None:
    study = hpopt.create_study(study_name=name, storage=url, load_if_exists=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    ready.set()
    while True:
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, 1.0)
        ft = study.tell(trial, 2.0 * x)
        os.write(fd, f"{ft.number} {2.0 * x!r}\n".encode())  # acknowledged: tell returned
        os.fsync(fd)


def _acknowledged(log_path: str) -> dict[int, float]:
    with open(log_path, "rb") as f:
        lines = f.read().split(b"\n")[:-1]  # a line cut by the kill has no newline: not counted
    return {int(a): float(b) for a, b in (line.split() for line in lines)}


@pytest.mark.slow
def test_writer_killed_at_random_instants_loses_no_acknowledged_tell(tmp_path):
    """T10 (SQLite): 25 SIGKILLs of a writer: every acknowledged tell survives, numbers contiguous."""
    url, name = _sqlite_url(tmp_path), "kill"
    path, log_path = str(tmp_path / "store.db"), str(tmp_path / "acks.log")
    rng = random.Random(10)
    for _ in range(25):
        ready = CTX.Event()
        p = CTX.Process(target=_t10_writer, args=(url, name, log_path, ready))
        p.start()
        assert ready.wait(JOIN)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(p.pid, signal.SIGKILL)
        p.join(JOIN)
        assert p.exitcode == -signal.SIGKILL
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
        trials = hpopt.load_study(name, url).trials
        assert [t.number for t in trials] == list(range(len(trials)))
        acks = _acknowledged(log_path)
        for number, value in acks.items():
            assert trials[number].state is TrialState.COMPLETE and trials[number].value == value
        for t in trials:
            assert t.state in (TrialState.COMPLETE, TrialState.RUNNING)
            assert t.state is TrialState.RUNNING or t.value == 2.0 * t.params["x"]
    assert len(_acknowledged(log_path)) > 25  # the writers did get work acknowledged


# -- T11: a writer killed while holding the write lock ------------------------------------------------
def _lock_and_hang(path: str, locked) -> None:
    backend = SQLiteBackend(path)
    with backend.write():
        backend.append([{"op": "study", "name": "ghost", "dirs": ["minimize"], "t": 0.0}])
        locked.set()
        time.sleep(JOIN)


def test_writer_killed_inside_the_write_lock_does_not_block_the_next(tmp_path):
    """T11 (SQLite): SIGKILL of a process holding BEGIN IMMEDIATE: the next writer proceeds."""
    url, path = _sqlite_url(tmp_path), str(tmp_path / "store.db")
    study = hpopt.create_study(study_name="live", storage=url)
    study.tell(study.ask(), 1.0)
    locked = CTX.Event()
    p = CTX.Process(target=_lock_and_hang, args=(path, locked))
    p.start()
    assert locked.wait(JOIN)
    probe = sqlite3.connect(path, timeout=0.0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        probe.execute("BEGIN IMMEDIATE")  # the helper really holds the write lock
    os.kill(p.pid, signal.SIGKILL)
    p.join(JOIN)
    probe.execute("PRAGMA busy_timeout = 60000")
    probe.execute("BEGIN IMMEDIATE")  # the kernel released the dead process's lock
    probe.execute("ROLLBACK")
    probe.close()
    trial = study.ask()
    study.tell(trial, 2.0)
    other = hpopt.load_study("live", url)
    assert [t.value for t in other.trials] == [1.0, 2.0]
    assert "ghost" not in hpopt.study_names(url)  # the uncommitted write is gone


# -- T13: a record in the middle overwritten ---------------------------------------------------------
def _store_with_trials(url: str, name: str, n: int) -> None:
    study = hpopt.create_study(study_name=name, storage=url)
    for i in range(n):
        trial = study.ask()
        trial.set_user_attr("marker", f"MARK{i:04d}")
        study.tell(trial, float(i))


def test_garbage_bytes_in_the_middle_of_the_sqlite_file_are_reported(tmp_path):
    """T13: bytes of a middle record overwritten in the file: StorageError naming file and position."""
    url, path = _sqlite_url(tmp_path), str(tmp_path / "store.db")
    _store_with_trials(url, "c", 40)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every record in the main file
    (target,) = conn.execute("SELECT id FROM hpopt_ops WHERE op LIKE '%MARK0020%'").fetchone()
    conn.close()
    data = bytearray(open(path, "rb").read())
    at = data.index(b"MARK0020")
    assert data.find(b"MARK0020", at + 1) == -1
    junk = b"\xff\xfe\x00garbage\x9c\x80\xc3{]\""  # not UTF-8, not JSON; the same length
    assert len(junk) == 16
    data[at - 6:at + 10] = junk
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(StorageError) as info:
        hpopt.load_study("c", url)
    message = str(info.value)
    assert path in message and f"journal id {target}" in message


def test_a_zeroed_page_in_the_middle_of_the_sqlite_file_is_reported(tmp_path):
    """T13: a whole journal page of the file zeroed: StorageError naming the file, no raw sqlite3 error."""
    url, path = _sqlite_url(tmp_path), str(tmp_path / "store.db")
    _store_with_trials(url, "c", 200)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(open(path, "rb").read())
    page = data.index(b"MARK0100") // size
    assert 1 < page < len(data) // size - 1  # a page in the middle
    data[page * size:(page + 1) * size] = bytes(size)
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(StorageError, match="integrity_check") as info:
        hpopt.load_study("c", url)
    assert path in str(info.value)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_pg)])
def private_url(request, tmp_path):
    """A store of each backend that no other test reads (PostgreSQL: a throw-away database)."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path)
        return
    import psycopg

    # Administered through the `postgres` database: other tests terminate the test database's
    # connections on purpose.
    root, db = PG_URL.rsplit("/", 1)[0], f"hpopt_dur_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(root + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    try:
        yield f"{root}/{db}"
    finally:
        with psycopg.connect(root + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {db} WITH (FORCE)")


def _overwrite_record(url: str, text: str) -> int:
    """Replace the middle record of the journal at ``url`` by ``text``; returns its id."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(SQLiteBackend.path_from_url(url))
        ids = [r[0] for r in conn.execute("SELECT id FROM hpopt_ops ORDER BY id")]
        conn.execute("UPDATE hpopt_ops SET op = ? WHERE id = ?", (text, ids[len(ids) // 2]))
        conn.commit()
        conn.close()
        return ids[len(ids) // 2]
    import psycopg

    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM hpopt_ops ORDER BY id")]
        conn.execute("UPDATE hpopt_ops SET op = %s WHERE id = %s", (text, ids[len(ids) // 2]))
    return ids[len(ids) // 2]


@pytest.mark.parametrize(
    "garbage", ['{"op": "fin", "s": 0, "n": 3, "sta', '{"op": "bogus"}', '{"s": 0}', "[1, 2]", ""]
)
def test_a_middle_record_rewritten_as_garbage_is_reported(private_url, garbage):
    """T13: a middle journal record replaced by garbage: StorageError naming the store and record id."""
    _store_with_trials(private_url, "c", 10)
    target = _overwrite_record(private_url, garbage)
    where = (SQLiteBackend.path_from_url(private_url) if private_url.startswith("sqlite")
             else private_url)
    for _ in range(2):  # reported again on every read: never skipped
        with pytest.raises(StorageError) as info:
            hpopt.load_study("c", private_url)
        message = str(info.value)
        assert where in message and f"journal id {target}" in message, message


# -- T14: a write that fails halfway (simulated ENOSPC) ------------------------------------------------
def _disk_full(base: type) -> type:
    class DiskFull(base):  # type: ignore[misc, valid-type]
        """Appends the first record of a write, then fails like a full disk."""

        full = False

        def append(self, ops):  # type: ignore[no-untyped-def]
            if not self.full:
                return super().append(ops)
            super().append(ops[:1])
            raise OSError(errno.ENOSPC, "No space left on device (simulated)")

    return DiskFull


def test_a_write_failing_halfway_reaches_the_caller_and_leaves_the_store_intact(url):
    """T14: ENOSPC mid-append reaches the caller; the store stays intact; the retried tell lands once."""
    if url.startswith("sqlite"):
        backend = _disk_full(SQLiteBackend)(SQLiteBackend.path_from_url(url))
    else:
        from hpopt.storage.postgres import PostgresBackend

        backend = _disk_full(PostgresBackend)(url)
    name = _name()
    study = hpopt.create_study(study_name=name, storage=Storage(backend))
    study.enqueue_trial({"x": 0.25})
    backend.full = True
    with pytest.raises(OSError) as info:
        study.ask()  # start + parameters of the enqueued trial: two records, the second fails
    assert info.value.errno == errno.ENOSPC
    backend.full = False
    trial = study.ask()
    assert trial.number == 0 and trial.suggest_float("x", 0, 1) == 0.25
    backend.full = True
    with pytest.raises(OSError):
        study.tell(trial, 0.5)
    with pytest.raises(OSError):
        study.ask()  # a new trial: nothing is numbered
    (before,) = hpopt.load_study(name, url).trials
    assert before.number == 0 and before.state is TrialState.RUNNING and before.values is None
    backend.full = False
    ft = study.tell(trial, 0.5)
    assert ft.state is TrialState.COMPLETE and ft.params == {"x": 0.25}
    assert study.tell(trial, 0.5).value == 0.5  # the identical tell again is a no-op
    trials = hpopt.load_study(name, url).trials
    assert [(t.number, t.state, t.value, dict(t.params)) for t in trials] == [
        (0, TrialState.COMPLETE, 0.5, {"x": 0.25})
    ]
    assert study.ask().number == 1


# -- T16: a copy taken while a writer is active ------------------------------------------------------
def _t16_writer(url: str, name: str) -> None:
    study = hpopt.load_study(name, url)
    while True:
        trial = study.ask()
        study.tell(trial, 2.0 * trial.suggest_float("x", 0.0, 1.0))


@pytest.mark.slow
def test_backup_copy_taken_during_writes_has_every_complete_trial(tmp_path):
    """T16 (SQLite): sqlite3 backup copies taken while writing: integrity ok, every COMPLETE trial present."""
    url, path = _sqlite_url(tmp_path), str(tmp_path / "store.db")
    hpopt.create_study(study_name="live", storage=url)
    p = CTX.Process(target=_t16_writer, args=(url, "live"))
    p.start()
    try:
        watcher = hpopt.load_study("live", url)
        deadline = time.monotonic() + JOIN
        while len(watcher.trials) < 20:
            assert time.monotonic() < deadline and p.is_alive()
            time.sleep(0.1)
        sizes: list[int] = []
        for k in range(5):
            complete = {t.number: t.value for t in watcher.get_trials([TrialState.COMPLETE])}
            copy_path = str(tmp_path / f"copy{k}.db")
            src, dst = sqlite3.connect(path), sqlite3.connect(copy_path)
            src.backup(dst)
            src.close()
            dst.close()
            assert p.is_alive()  # the writer was active throughout
            conn = sqlite3.connect(copy_path)
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            conn.close()
            copied = hpopt.load_study("live", f"sqlite:///{copy_path}").trials
            assert [t.number for t in copied] == list(range(len(copied)))
            for number, value in complete.items():
                assert copied[number].state is TrialState.COMPLETE and copied[number].value == value
            assert len(copied) >= len(complete)
            sizes.append(len(copied))
            time.sleep(0.2)
        assert sizes[-1] > sizes[0]  # trials were being written between the copies
    finally:
        p.kill()
        p.join(JOIN)
