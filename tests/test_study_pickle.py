"""A Study pickles as a way back to its storage: ``client.submit(study.optimize, f, n_trials=10)``
(Dask), joblib and ``ProcessPoolExecutor`` tasks reopen the storage and continue the same study.

SQLite always; PostgreSQL with ``source .ci/postgres.sh start`` (exports HPOPT_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import os
import pickle
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor

import pytest
from _helpers import postgres_url

import hpopt
from hpopt.errors import StudyNotFoundError
from hpopt.pruners.base import NopPruner
from hpopt.samplers import NSGAIISampler, RandomSampler


def objective(trial: hpopt.Trial) -> float:
    """Module level, so that worker processes find it."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_int("y", 0, 4)
    return (x - 1.0) ** 2 + y


@pytest.fixture(autouse=True)
def _quiet(hpopt_at_warning: None) -> None:
    """Every test with hpopt's logger at WARNING (tests/conftest.py)."""


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pickle.db'}"
    return postgres_url()


def _name() -> str:
    return f"pickle-{uuid.uuid4().hex[:10]}"


def test_round_trip_continues_the_same_study(url):
    study = hpopt.create_study(study_name=_name(), storage=url, sampler="tpe", seed=3, pruner="median",
                               heartbeat_interval=30.0, max_retry=2)
    study.optimize(objective, n_trials=6)
    copy = pickle.loads(pickle.dumps(study))
    assert copy is not study and copy.study_name == study.study_name and copy._sid == study._sid
    assert copy.best_trial == study.best_trial and copy.trials == study.trials
    assert type(copy.sampler) is type(study.sampler) and copy.sampler.seed == study.sampler.seed
    assert type(copy.pruner) is type(study.pruner)
    assert copy._beater is not None and copy._beater.interval == 30.0 and copy._beater is not study._beater
    assert copy.system_attrs == study.system_attrs  # grace period and retry bound from the store
    assert copy._storage is not study._storage  # a handle of its own (its own lock and connection)
    copy.optimize(objective, n_trials=2)
    assert [t.number for t in study.trials] == list(range(8))  # the original sees the copy's trials
    assert study.best_trial == copy.best_trial


def test_open_trials_stay_with_the_original(url):
    study = hpopt.create_study(study_name=_name(), storage=url, sampler="random", seed=0)
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    copy = pickle.loads(pickle.dumps(study))
    assert copy._live == {} and list(study._live) == [trial.number]
    study.tell(trial, 0.5)
    assert copy.best_value == 0.5


def test_relative_sqlite_path_reopens_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = hpopt.create_study(study_name="rel", storage="sqlite:///rel.db", sampler="random", seed=0)
    study.optimize(objective, n_trials=2)
    blob = pickle.dumps(study)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    copy = pickle.loads(blob)
    assert copy.trials == study.trials
    assert not (tmp_path / "elsewhere" / "rel.db").exists()


def test_memory_study_is_refused_with_what_to_do():
    study = hpopt.create_study(sampler="random", seed=0)
    with pytest.raises(TypeError) as info:
        pickle.dumps(study)
    msg = str(info.value)
    assert study.study_name in msg and "memory" in msg and "another process" in msg
    assert "sqlite:///" in msg and "PostgreSQL" in msg and "executor=" in msg


def test_deleted_study_is_refused_at_unpickling(tmp_path):
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    study = hpopt.create_study(study_name="gone", storage=url, sampler="random", seed=0)
    blob = pickle.dumps(study)
    hpopt.delete_study("gone", url)
    with pytest.raises(StudyNotFoundError, match="'gone'.*no longer exists"):
        pickle.loads(blob)
    hpopt.create_study(study_name="gone", storage=url)  # a new study of the same name is not it
    with pytest.raises(StudyNotFoundError, match="another one"):
        pickle.loads(blob)


def test_missing_sqlite_file_is_refused_and_not_created(tmp_path):
    path = tmp_path / "moved.db"
    study = hpopt.create_study(study_name="moved", storage=f"sqlite:///{path}", sampler="random", seed=0)
    blob = pickle.dumps(study)
    study.storage.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")
    with pytest.raises(StudyNotFoundError, match="no SQLite storage"):
        pickle.loads(blob)
    assert not path.exists()


class _LockedSampler(RandomSampler):
    def __init__(self) -> None:
        super().__init__(seed=0)
        self.guard = threading.Lock()


class _LockedPruner(NopPruner):
    def __init__(self) -> None:
        self.guard = threading.Lock()


@pytest.mark.parametrize("part", ["sampler", "pruner"])
def test_a_part_that_does_not_pickle_is_named(tmp_path, part):
    kwargs = {"sampler": _LockedSampler()} if part == "sampler" else {"sampler": "random",
                                                                      "pruner": _LockedPruner()}
    study = hpopt.create_study(study_name="locked", storage=f"sqlite:///{tmp_path / 'l.db'}", **kwargs)
    with pytest.raises(TypeError, match=f"study 'locked': its {part} .* does not pickle .*lock"):
        pickle.dumps(study)


def test_cloudpickle_takes_a_lambda_constraints_func(tmp_path):
    """Dask and joblib pickle with cloudpickle, which takes a lambda that plain pickle refuses: the
    study must not be refused for it."""
    cloudpickle = pytest.importorskip("cloudpickle")
    sampler = NSGAIISampler(seed=0, constraints_func=lambda t: [t.params["x"]])
    study = hpopt.create_study(study_name="cp", storage=f"sqlite:///{tmp_path / 'cp.db'}", sampler=sampler,
                               directions=["minimize", "minimize"])
    study.optimize(lambda t: (t.suggest_float("x", -1, 1), 1.0), n_trials=4)
    copy = cloudpickle.loads(cloudpickle.dumps(study))
    assert copy.best_trials == study.best_trials
    assert copy.sampler.constraints_func(study.trials[0]) == [study.trials[0].params["x"]]


def test_process_pool_submit_optimize_twice_in_parallel(tmp_path):
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    study = hpopt.create_study(study_name="pool", storage=url, sampler="random", seed=7)
    with ProcessPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(study.optimize, objective, n_trials=5) for _ in range(2)]
        for f in futures:
            assert f.result() is None
    trials = study.trials
    assert sorted(t.number for t in trials) == list(range(10))
    assert all(t.state is hpopt.TrialState.COMPLETE for t in trials)
    # seeded by (seed, trial number): the two workers' copies of one seeded sampler do not repeat
    assert len({t.params["x"] for t in trials}) == 10
    assert study.best_trial == pickle.loads(pickle.dumps(study)).best_trial


@pytest.mark.slow
def test_joblib_parallel_delayed_optimize(tmp_path):
    joblib = pytest.importorskip("joblib")
    url = f"sqlite:///{tmp_path / 'joblib.db'}"
    study = hpopt.create_study(study_name="jl", storage=url, sampler="random", seed=1)
    joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(study.optimize)(objective, n_trials=3)
                                              for _ in range(2))
    assert sorted(t.number for t in study.trials) == list(range(6))
    assert all(t.state is hpopt.TrialState.COMPLETE for t in study.trials)


@pytest.mark.slow
def test_dask_client_submit_optimize(tmp_path):
    distributed = pytest.importorskip("distributed")
    url = f"sqlite:///{tmp_path / 'dask.db'}"
    study = hpopt.create_study(study_name="dk", storage=url, sampler="tpe", seed=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        futures = [client.submit(study.optimize, objective, n_trials=4, pure=False) for _ in range(2)]
        client.gather(futures)
    assert sorted(t.number for t in study.trials) == list(range(8))
    assert all(t.state is hpopt.TrialState.COMPLETE for t in study.trials)
