"""optimize(executor=...): objectives evaluated by thread, process and Dask executors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import hpopt
from hpopt import TrialState


def objective(trial):
    """Module-level (picklable) objective with a conditional parameter and a report."""
    kind = trial.suggest_categorical("kind", ["a", "b"])
    x = trial.suggest_float("x", -1.0, 1.0)
    extra = trial.suggest_int("n", 1, 4) if kind == "b" else 0
    trial.report(x * x, 0)
    trial.set_user_attr("kind", kind)
    return x * x + extra


def failing(trial):
    """Raises for half of the trials."""
    x = trial.suggest_float("x", 0.0, 1.0)
    if x > 0.5:
        raise ValueError("too big")
    return x


def _check(study: hpopt.Study, n: int) -> None:
    trials = study.trials
    assert [t.number for t in trials] == list(range(n))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    for t in trials:
        x = t.params["x"]
        expected = x * x + (t.params["n"] if t.params["kind"] == "b" else 0)  # as the objective computes it
        assert t.value == expected
        assert t.intermediate_values == {0: x * x}
        assert t.user_attrs == {"kind": t.params["kind"]}
        assert ("n" in t.params) == (t.params["kind"] == "b")


def _params(study: hpopt.Study) -> list[dict]:
    return [dict(t.params) for t in study.trials]


def test_thread_executor_runs_conditional_objective():
    """Any Executor instance works; conditional parameters and reports come back to the study."""
    study = hpopt.create_study(sampler="random", seed=3)
    with ThreadPoolExecutor(3) as ex:
        study.optimize(objective, n_trials=30, executor=ex)
    _check(study, 30)


@pytest.mark.slow
def test_process_pool_gives_the_same_parameters_as_a_sequential_run():
    """executor='process' with 2 workers: the seeded random sampler reproduces sequential params."""
    parallel = hpopt.create_study(sampler="random", seed=11)
    parallel.optimize(objective, n_trials=40, n_jobs=2, executor="process")
    _check(parallel, 40)
    sequential = hpopt.create_study(sampler="random", seed=11)
    sequential.optimize(objective, n_trials=40)
    assert _params(parallel) == _params(sequential)


def test_exceptions_follow_catch_rules():
    """An error in a worker fails its trial; re-raised unless listed in catch."""
    study = hpopt.create_study(sampler="random", seed=0)
    with ThreadPoolExecutor(2) as ex:
        study.optimize(failing, n_trials=20, executor=ex, catch=(ValueError,))
    states = [t.state for t in study.trials]
    assert len(states) == 20 and TrialState.FAIL in states and TrialState.COMPLETE in states
    assert all("too big" in t.system_attrs["fail_reason"] for t in study.trials if t.state is TrialState.FAIL)
    study = hpopt.create_study(sampler="random", seed=0)
    with ThreadPoolExecutor(2) as ex, pytest.raises(ValueError, match="too big"):
        study.optimize(failing, n_trials=50, executor=ex)
    assert not study.get_trials(states=[TrialState.RUNNING])


def test_bad_executor_is_refused():
    """Something that is not an Executor is a TypeError before any trial starts."""
    study = hpopt.create_study()
    with pytest.raises(TypeError, match="executor"):
        study.optimize(objective, n_trials=1, executor="nope")
    assert study.trials == []


@pytest.mark.slow
def test_dask_local_cluster(tmp_path):
    """Dask's Client.get_executor() on a LocalCluster(n_workers=2): 200 trials on SQLite."""
    import distributed  # the `test` extra installs it
    url = f"sqlite:///{tmp_path}/dask.db"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        study = hpopt.create_study(sampler="random", study_name="d", storage=url, seed=5)
        study.optimize(objective, n_trials=200, executor=client.get_executor(), n_jobs=4)
    _check(hpopt.load_study("d", url), 200)
