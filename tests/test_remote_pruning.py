"""Pruning inside executor workers (process pools, Dask) when the study lives in a database.

The worker writes each report to the store at once and asks its copy of the pruner against the
stored study; the caller does not write those reports again. Memory store, nop pruner or a pruner
that does not pickle: as before (reports recorded when the result comes back, no pruning).
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import threading
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from _helpers import PickleInline

import hpopt
from hpopt import TrialState
from hpopt import remote as rm
from hpopt.errors import HpoptWarning, TrialFinishedError
from hpopt.pruners import ThresholdPruner
from hpopt.pruners.base import Pruner

UPPER = 2.0  # ThresholdPruner(upper=UPPER): a trial is pruned at its first report above it


def curve(trial):
    """Reports x * (step + 1) for 5 steps, pruned by the threshold once above UPPER: the decision
    depends on the trial's own reports only, so not on how workers interleave. With x > 0.5 it
    suggests a new parameter after two reports (the first such trial stops to ask the caller for
    it and runs again: its two reports are in the store already)."""
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(5):
        trial.report(x * (step + 1), step)
        if step == 1 and x > 0.5:
            trial.suggest_int("k", 1, 3)
        if trial.should_prune():
            raise hpopt.TrialPruned()
    return x


Inline = PickleInline


class LockedPruner(Pruner):
    """A threshold pruner holding a lock: it does not pickle."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def prune(self, history, trial):
        return max(trial.intermediate_values.values()) > UPPER


@pytest.fixture(autouse=True)
def fresh_worker_cache():
    """Tasks run inline here open their storages in this process: forget them after each test."""
    rm._reset_worker_cache()
    yield
    rm._reset_worker_cache()


def _study(tmp_path, name, pruner="threshold", **kw):
    url = f"sqlite:///{tmp_path}/{name}.db"
    if pruner == "threshold":
        pruner = ThresholdPruner(upper=UPPER)
    return hpopt.create_study(study_name=name, storage=url, sampler="random", seed=7, pruner=pruner, **kw)


def _outcome(study):
    return [(t.state, dict(t.params), dict(t.intermediate_values), t.values) for t in study.trials]


def _report_writes(study):
    """How many times each (trial, step) report was written to the SQLite journal."""
    path = study.storage._backend.path
    with sqlite3.connect(path) as conn:
        ops = [json.loads(row[0]) for row in conn.execute("SELECT op FROM hpopt_ops")]
    return Counter((op["n"], step) for op in ops for step, _ in op.get("rep") or ())


def _sequential(tmp_path, n, **kw):
    study = _study(tmp_path, "sequential", **kw)
    study.optimize(curve, n_trials=n)
    return study


def _check_like_sequential(study, sequential, n):
    out = _outcome(study)
    assert out == _outcome(sequential)
    states = Counter(t.state for t in study.trials)
    assert states[TrialState.PRUNED] >= 3 and states[TrialState.COMPLETE] >= 3, states
    assert any("k" in t.params for t in study.trials)  # a trial ran again after asking for "k"
    for t in study.get_trials(states=[TrialState.PRUNED]):  # stopped at its first report above UPPER
        last = max(t.intermediate_values)
        assert t.intermediate_values[last] > UPPER >= max(
            [v for s, v in t.intermediate_values.items() if s < last], default=0.0)
        assert t.values == (t.intermediate_values[last],)
    writes = _report_writes(study)
    assert sum(len(t.intermediate_values) for t in study.trials) == len(writes)
    assert set(writes.values()) == {1}, writes  # every report written once


def test_pickled_tasks_prune_like_a_sequential_run(tmp_path):
    """Tasks pickled as for a process pool: the worker prunes, with the sequential run's outcome."""
    sequential = _sequential(tmp_path, 24)
    study = _study(tmp_path, "inline")
    study.optimize(curve, n_trials=24, executor=Inline())
    _check_like_sequential(study, sequential, 24)


def test_a_worker_process_opens_the_storage_once(tmp_path, monkeypatch):
    """One storage per URL and process, opened at the first report: never per report or task."""
    opened = []
    real_open = rm._open
    monkeypatch.setattr(rm, "_open", lambda url: opened.append(url) or real_open(url))
    study = _study(tmp_path, "once")
    study.optimize(curve, n_trials=12, executor=Inline())
    assert opened == [f"sqlite:///{tmp_path}/once.db"]
    assert study.get_trials(states=[TrialState.PRUNED])
    rm._reset_worker_cache()  # as in a new worker process
    study.optimize(curve, n_trials=2, executor=Inline())
    assert len(opened) == 2


def test_process_pool_prunes_like_a_sequential_run(tmp_path):
    """executor='process', n_jobs=2 on SQLite: the same trials are pruned as in-process."""
    sequential = _sequential(tmp_path, 16)
    study = _study(tmp_path, "pool")
    study.optimize(curve, n_trials=16, n_jobs=2, executor="process")
    _check_like_sequential(study, sequential, 16)


def test_postgres_process_pool_prunes_like_a_sequential_run(tmp_path):
    """PostgreSQL (CI starts a server: .ci/postgres.sh): workers open it by URL and prune."""
    url = os.environ.get("HPOPT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server (HPOPT_TEST_POSTGRES_URL is not set)")
    pytest.importorskip("psycopg")
    sequential = _sequential(tmp_path, 12)
    name = f"remote-{os.getpid()}-{tmp_path.name}"
    study = hpopt.create_study(study_name=name, storage=url, sampler="random", seed=7,
                               pruner=ThresholdPruner(upper=UPPER))
    try:
        assert rm._link_for(study, Inline()).url == url
        study.optimize(curve, n_trials=12, n_jobs=2, executor="process")
        assert _outcome(study) == _outcome(sequential)
        assert study.get_trials(states=[TrialState.PRUNED])
    finally:
        study.storage.delete_study(name)


def test_thread_executor_prunes_with_the_callers_pruner(tmp_path):
    """A ThreadPoolExecutor on SQLite prunes too (with the caller's own storage and pruner)."""
    sequential = _sequential(tmp_path, 16)
    study = _study(tmp_path, "threads")
    link = rm._link_for(study, ThreadPoolExecutor(1))
    assert link is not None and link.local[0] is study.storage and link.local[2] is study.pruner
    with ThreadPoolExecutor(2) as ex:
        study.optimize(curve, n_trials=16, executor=ex)
    _check_like_sequential(study, sequential, 16)


def test_heartbeats_keep_working(tmp_path):
    """With heartbeat_interval set, the caller beats the trials in flight; pruning is unchanged."""
    sequential = _sequential(tmp_path, 16)
    study = _study(tmp_path, "beats", heartbeat_interval=0.05, grace_period=600)
    study.optimize(curve, n_trials=16, executor=Inline())
    _check_like_sequential(study, sequential, 16)
    beats = study.storage._backend.beats(study._sid)
    assert set(beats) == set(range(16))
    assert not any(t.system_attrs.get("fail_reason") == "stale" for t in study.trials)


@pytest.mark.slow
def test_dask_local_cluster_prunes(tmp_path):
    """Dask's Client.get_executor() on a small LocalCluster: the same trials are pruned."""
    distributed = pytest.importorskip("dask.distributed")
    sequential = _sequential(tmp_path, 12)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        study = _study(tmp_path, "dask")
        study.optimize(curve, n_trials=12, executor=client.get_executor(), n_jobs=2)
    _check_like_sequential(study, sequential, 12)


# -- the same decision as the caller's ---------------------------------------------------------------
def _worker_trial(study, proposals):
    """A caller's trial and a worker's RemoteTrial for it, linked through a pickled link (so the
    worker opens the storage by URL, as in another process)."""
    trial = study.ask()
    link = pickle.loads(pickle.dumps(rm._link_for(study, Inline())))
    assert link.local is None
    return trial, rm.RemoteTrial(trial.number, proposals, link=link)


@pytest.mark.parametrize("pruner", [
    "median",
    hpopt.make_pruner("percentile", percentile=25.0),
    hpopt.make_pruner("successive_halving", min_resource=1, reduction_factor=2),
    hpopt.make_pruner("hyperband", min_resource=1, max_resource=8, reduction_factor=2),
    "forecast",
    hpopt.make_pruner("patient", wrapped="median", patience=1),
    ThresholdPruner(upper=5.0),
], ids=lambda p: p if isinstance(p, str) else type(p).__name__)
def test_worker_decides_as_the_caller(tmp_path, pruner):
    """For the same stored history and the same trial, RemoteTrial.should_prune in a worker answers
    what Trial.should_prune answers in the caller, at every step."""
    study = _study(tmp_path, "same", pruner=pruner)
    for i in range(10):  # finished trials with curves 1/(s+1) + i/10, and one running one
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        for s in range(8):
            trial.report(1.0 / (s + 1) + i / 10, s)
        study.tell(trial, 1.0 / 8 + i / 10)
    running = study.ask()
    running.report(0.5, 0)
    study.enqueue_trial({"x": 0.25})
    trial, remote = _worker_trial(study, {"x": 0.25})
    assert remote.suggest_float("x", 0.0, 1.0) == trial.suggest_float("x", 0.0, 1.0) == 0.25
    decisions = []
    for s in range(8):
        value = 0.9 + s  # worse than every finished trial, and growing
        remote.report(value, s)  # written by the worker at once
        trial.report(value, s)  # a repeat the store ignores: the caller's handle learns it
        decisions.append(remote.should_prune())
        assert decisions[-1] is trial.should_prune(), (s, decisions)
    assert True in decisions
    assert study.trials[trial.number].intermediate_values == {s: 0.9 + s for s in range(8)}


# -- the worker's reports ---------------------------------------------------------------------------
def test_report_is_written_at_once_and_checked_first(tmp_path):
    """A worker's report is in the store before the objective returns; bad input raises in the
    worker before anything is written; a repeated step keeps the first value, with a warning."""
    study = _study(tmp_path, "checks")
    trial, remote = _worker_trial(study, {})
    remote.report(0.5, 3)
    assert hpopt.load_study("checks", study.storage.url).trials[trial.number].intermediate_values == {3: 0.5}
    before = sum(_report_writes(study).values())
    for value, step, exc, match in [
        ("a", 0, TypeError, "reported value"), (None, 0, TypeError, "reported value"),
        (1.0, -1, ValueError, "step"), (1.0, True, TypeError, "step"), (1.0, 1.5, TypeError, "step"),
        (1.0, 2**63, ValueError, "step"), (10**400, 0, ValueError, "fit in a float"),
    ]:
        with pytest.raises(exc, match=match):
            remote.report(value, step)
    with pytest.warns(HpoptWarning, match="already reported step 3; the first value is kept"):
        remote.report(0.9, 3)
    assert sum(_report_writes(study).values()) == before
    assert study.trials[trial.number].intermediate_values == {3: 0.5}
    assert remote.snapshot().intermediate_values == {3: 0.5}


def test_multi_objective_reports(tmp_path):
    """Several objectives: one value per objective, checked in the worker; the caller keeps them
    as the store does (a tuple) and does not write them again."""
    study = hpopt.create_study(storage=f"sqlite:///{tmp_path}/mo.db", directions=["minimize", "maximize"],
                               pruner=ThresholdPruner(upper=[10.0, 10.0]))
    trial, remote = _worker_trial(study, {})
    with pytest.raises(ValueError, match="needs 2 values"):
        remote.report(1.0, 0)
    remote.report([1.0, 20.0], 0)
    assert remote.should_prune() is True
    rm._record(study, trial, pickle.loads(pickle.dumps(remote)), "pruned", None, ())
    ft = study.trials[trial.number]
    assert ft.state is TrialState.PRUNED and ft.values == (1.0, 20.0)
    assert ft.intermediate_values == {0: (1.0, 20.0)}
    assert _report_writes(study) == {(trial.number, 0): 1}


def test_a_finished_trial_refuses_the_worker(tmp_path):
    """A trial the caller finished meanwhile: the worker's report and should_prune raise
    TrialFinishedError, as a live trial's would; nothing is written."""
    study = _study(tmp_path, "finished")
    trial, remote = _worker_trial(study, {})
    remote.report(0.5, 0)
    study.tell(trial, state="fail")
    with pytest.raises(TrialFinishedError, match=r"already finished \(FAIL\); a finished trial never"):
        remote.report(0.6, 1)
    with pytest.raises(TrialFinishedError, match="already finished"):
        remote.should_prune()
    assert study.trials[trial.number].intermediate_values == {0: 0.5}


def test_a_trial_failed_as_stale_refuses_the_worker(tmp_path):
    """Failed as stale by another worker (its caller stopped beating): the error says so."""
    study = _study(tmp_path, "stale", heartbeat_interval=3600, grace_period=7200)
    trial, remote = _worker_trial(study, {})
    with sqlite3.connect(study.storage._backend.path) as conn:  # the last beat, three hours ago
        conn.execute("UPDATE hpopt_beats SET t = t - 10800")
    other = hpopt.load_study("stale", study.storage.url)
    assert other.fail_stale_trials() == [trial.number]
    with pytest.raises(TrialFinishedError, match="FAIL, failed as stale: no heartbeat for"):
        remote.report(0.5, 0)
    with pytest.raises(TrialFinishedError, match="stale"):
        remote.should_prune()


# -- as before: memory store, nop pruner, a pruner that does not pickle, an unreachable store --------
def _check_unpruned(study, n):
    """No trial pruned: every report recorded (when the result came back), once."""
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * n
    for t in study.trials:
        x = t.params["x"]
        assert t.intermediate_values == {s: x * (s + 1) for s in range(5)}


def test_memory_store_and_nop_pruner_are_unchanged(tmp_path):
    """The memory store or the nop pruner: no link, no pruning in workers, as before."""
    memory = hpopt.create_study(sampler="random", seed=7, pruner=ThresholdPruner(upper=UPPER))
    assert rm._link_for(memory, Inline()) is None
    memory.optimize(curve, n_trials=12, executor=Inline())
    _check_unpruned(memory, 12)
    nop = _study(tmp_path, "nop", pruner=None)
    assert rm._link_for(nop, Inline()) is None
    nop.optimize(curve, n_trials=12, executor=Inline())
    _check_unpruned(nop, 12)
    assert set(_report_writes(nop).values()) == {1}
    assert [dict(t.params) for t in nop.trials] == [dict(t.params) for t in memory.trials]


def test_a_pruner_that_does_not_pickle_warns_once(tmp_path):
    """Such a pruner stays with the caller: one warning, and the behaviour without pruning."""
    study = _study(tmp_path, "locked", pruner=LockedPruner())
    with pytest.warns(HpoptWarning, match="does not pickle") as record:
        study.optimize(curve, n_trials=12, executor=Inline())
    assert sum("does not pickle" in str(w.message) for w in record) == 1
    _check_unpruned(study, 12)
    assert set(_report_writes(study).values()) == {1}


def test_a_worker_that_cannot_open_the_storage(tmp_path, monkeypatch):
    """A worker that cannot open the store (a SQLite file on another machine): one warning in the
    caller naming why, and the behaviour without pruning; no empty database is created."""
    monkeypatch.setattr(rm, "_worker_url", lambda storage: f"sqlite:///{tmp_path}/elsewhere/gone.db")
    study = _study(tmp_path, "unreachable")
    with pytest.warns(HpoptWarning, match="cannot reach the storage .*gone.db.* does not exist") as record:
        study.optimize(curve, n_trials=12, executor=Inline())
    assert sum("cannot reach" in str(w.message) for w in record) == 1
    _check_unpruned(study, 12)
    assert set(_report_writes(study).values()) == {1}
    assert not (tmp_path / "elsewhere").exists()


def test_relative_sqlite_url_reaches_workers_elsewhere(tmp_path, monkeypatch):
    """A relative sqlite:/// URL is sent to workers as an absolute path (a worker may run in
    another folder)."""
    monkeypatch.chdir(tmp_path)
    study = hpopt.create_study(storage="sqlite:///rel.db?synchronous=normal", pruner="median")
    link = rm._link_for(study, Inline())
    assert link.url == f"sqlite:///{tmp_path}/rel.db?synchronous=normal"
    monkeypatch.chdir("/")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = rm._reach(pickle.loads(pickle.dumps(link)))
    assert not isinstance(got, str) and got[1].study_name == study.study_name
