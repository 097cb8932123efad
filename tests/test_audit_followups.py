"""Follow-ups to the audits' "unsure" items that were acted on: each test failed before its fix."""

from __future__ import annotations

import math

import pytest

import hpopt


def test_tell_pruned_with_nan_value_stores_no_value() -> None:
    study = hpopt.create_study(sampler="random", seed=0)
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    trial.report(0.5, 1)
    frozen = study.tell(trial, math.nan, state="pruned")
    assert frozen.state is hpopt.TrialState.PRUNED
    assert frozen.values is None  # was (nan,): a NaN stored as a pruned trial's value


def test_tell_pruned_with_a_value_keeps_it() -> None:
    study = hpopt.create_study(sampler="random", seed=0)
    trial = study.ask()
    trial.report(0.5, 1)
    assert study.tell(trial, 0.25, state="pruned").values == (0.25,)


@pytest.mark.parametrize("flag", ["no", 1, None])
def test_load_if_exists_must_be_a_bool(flag) -> None:
    with pytest.raises(TypeError, match="load_if_exists"):
        hpopt.create_study(study_name="s", load_if_exists=flag)


def test_sqlite_memory_url_is_refused_without_creating_a_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="in-memory"):
        hpopt.create_study(storage="sqlite:///:memory:")
    assert list(tmp_path.iterdir()) == []  # it used to create a file named ':memory:'


def _x(trial) -> float:
    return trial.suggest_float("x", 0.0, 2.0)


@pytest.mark.parametrize("use_executor", [False, True])
def test_trial_enqueued_after_the_grid_is_exhausted_still_runs(use_executor) -> None:
    from concurrent.futures import ThreadPoolExecutor

    study = hpopt.create_study(sampler=hpopt.GridSampler({"x": [0.0, 1.0]}))
    study.optimize(_x, n_trials=5)
    assert len(study.trials) == 2  # the grid ran out
    study.enqueue_trial({"x": 1.5})
    if use_executor:
        with ThreadPoolExecutor(2) as pool:
            study.optimize(_x, n_trials=5, executor=pool)
    else:
        study.optimize(_x, n_trials=5)
    last = study.trials[-1]
    assert (last.state.name, last.params) == ("COMPLETE", {"x": 1.5})  # it stayed WAITING forever


def test_enqueued_trial_the_exhausted_grid_cannot_complete_fails_instead_of_blocking_the_queue() -> None:
    study = hpopt.create_study(sampler=hpopt.GridSampler({"x": [0.0, 1.0]}))
    study.optimize(_x, n_trials=5)
    study.enqueue_trial({})  # needs a grid point for x: none is left
    study.enqueue_trial({"x": 0.5})
    study.optimize(_x, n_trials=5)
    states = [(t.state.name, t.params) for t in study.trials[2:]]
    assert states == [("FAIL", {}), ("COMPLETE", {"x": 0.5})]
    assert "exhausted" in study.trials[2].system_attrs.get("fail_reason", "")


def test_tell_by_number_keeps_the_suggestions_of_a_trial_object_the_caller_dropped() -> None:
    import gc

    study = hpopt.create_study(sampler="random", seed=0)
    trial = study.ask()
    x = trial.suggest_float("x", 0.0, 1.0)
    number = trial.number
    del trial
    gc.collect()
    frozen = study.tell(number, x * x)
    assert frozen.params == {"x": x}  # was {}: the unwritten suggestion went with the object
    assert study.best_params == {"x": x}


def test_load_study_from_a_missing_sqlite_file_creates_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(hpopt.StudyNotFoundError, match="no SQLite storage"):
        hpopt.load_study("s", "sqlite:///missing.db")
    assert list(tmp_path.iterdir()) == []  # it used to leave an empty storage file behind


@pytest.mark.parametrize("level", [0.0, 3.0, 1e6])
def test_terminator_bound_of_a_constant_objective_is_zero(level) -> None:
    from hpopt.terminator import regret_bound

    study = hpopt.create_study(sampler="random", seed=0)
    for _ in range(12):
        t = study.ask({"x": hpopt.Float(0.0, 1.0)})
        study.tell(t, level)
    bound, n_params = regret_bound(study.get_trials(states=["complete"]))
    assert (bound, n_params) == (0.0, 1)  # was about 0.005 whatever the level: never a stop


@pytest.mark.parametrize("bad", [("1.5", 2.0), (True, 1.0), "12"])
def test_pareto_plot_targets_must_be_real_numbers(bad) -> None:
    pytest.importorskip("matplotlib")
    from hpopt.plot import plot_pareto_front

    study = hpopt.create_study(sampler="random", seed=0)
    for _ in range(3):
        t = study.ask({"x": hpopt.Float(0.0, 1.0)})
        study.tell(t, t.params["x"])
    with pytest.raises(ValueError, match="real numbers"):
        plot_pareto_front(study, targets=lambda t: bad, directions=["minimize", "minimize"])


def test_pareto_plot_targets_accept_numpy_rows() -> None:
    pytest.importorskip("matplotlib")
    import numpy as np

    from hpopt.plot import plot_pareto_front

    study = hpopt.create_study(sampler="random", seed=0)
    for _ in range(3):
        t = study.ask({"x": hpopt.Float(0.0, 1.0)})
        study.tell(t, t.params["x"])
    fig = plot_pareto_front(
        study, targets=lambda t: np.array([t.values[0], np.float32(1.0)]), directions=["minimize"] * 2
    )
    assert fig is not None


@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_nested_attribute_values_handed_out_cannot_change_the_study(storage, tmp_path) -> None:
    url = None if storage == "memory" else f"sqlite:///{tmp_path / 's.db'}"
    study = hpopt.create_study(storage=url, sampler="random", seed=0)
    study.set_user_attr("hist", [1, {"a": [2]}])
    running = study.ask()
    running.set_user_attr("log", [1])
    running.report(0.5, 1)  # written: the study's records hold it now
    done = study.ask()
    done.set_user_attr("log", {"xs": [1]})
    study.tell(done, 1.0)
    with pytest.raises(TypeError):
        study.trials[1].user_attrs["log"]["xs"].append(2)
    with pytest.raises(TypeError):
        study.trials[0].user_attrs["log"].append(2)  # a running trial's attribute
    with pytest.raises(TypeError):
        study.user_attrs["hist"][1]["a"].append(3)
    assert study.trials[1].user_attrs == {"log": {"xs": [1]}}  # equal to plain dicts and lists
    study.tell(running, 0.0)
    again = hpopt.load_study(study.study_name, study.storage) if url else study
    assert [t.user_attrs for t in again.trials] == [{"log": [1]}, {"log": {"xs": [1]}}]
    assert again.user_attrs == {"hist": [1, {"a": [2]}]}


@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_running_trials_own_nested_attribute_cannot_be_changed_behind_the_study(storage, tmp_path) -> None:
    """``trial.user_attrs`` of the live handle hands out read-only nested values: a non-JSON
    object put into one made every later report and tell of the trial fail (SQLite) or stored an
    object (memory)."""
    url = None if storage == "memory" else f"sqlite:///{tmp_path / 's.db'}"
    study = hpopt.create_study(storage=url, sampler="random", seed=0)
    trial = study.ask()
    trial.set_user_attr("d", {"a": [1]})
    with pytest.raises(TypeError, match="read-only"):
        trial.user_attrs["d"]["b"] = object()
    with pytest.raises(TypeError, match="read-only"):
        trial.user_attrs["d"]["a"].append(object())
    trial.suggest_float("x", 0, 1)
    study.tell(trial, 1.0)
    assert study.trials[0].user_attrs == {"d": {"a": [1]}}
    assert study.trials[0].state is hpopt.TrialState.COMPLETE


def test_tell_by_number_from_another_handle_keeps_what_the_asking_handle_wrote(tmp_path) -> None:
    """Documented in Study.tell: suggestions are written with report, heartbeat or beat(); a number
    told through another handle after a beat keeps the parameters."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    asking = hpopt.create_study(storage=url, study_name="s", sampler="random", seed=0)
    other = hpopt.load_study("s", url)
    trial = asking.ask()
    x = trial.suggest_float("x", 0, 1)
    trial.beat()
    done = other.tell(trial.number, 1.0)
    assert done.params == {"x": x} and done.state is hpopt.TrialState.COMPLETE


def test_flags_of_tell_and_enqueue_must_be_bools() -> None:
    """skip_if_finished='no' and skip_if_exists='no' were read as True; refused before anything."""
    study = hpopt.create_study(sampler="random", seed=0)
    trial = study.ask()
    with pytest.raises(TypeError, match="skip_if_finished"):
        study.tell(trial, 1.0, skip_if_finished="no")
    assert study.trials[0].state is hpopt.TrialState.RUNNING
    with pytest.raises(TypeError, match="skip_if_exists"):
        study.enqueue_trial({"x": 1.0}, skip_if_exists="no")
    assert len(study.trials) == 1
    study.tell(trial, 1.0, skip_if_finished=False)
    assert study.enqueue_trial({"x": 1.0}, skip_if_exists=True) is not None


def test_check_pruner_refuses_a_non_callable_factory_up_front() -> None:
    """It failed every check with one AssertionError each, instead of naming the argument."""
    from hpopt.testing import check_pruner

    with pytest.raises(TypeError, match="make_pruner"):
        check_pruner(3)  # type: ignore[arg-type]


def test_journal_replay_pauses_the_garbage_collector_and_restores_it(tmp_path, monkeypatch) -> None:
    """Loading replays the journal with the collector off (0.5 s of a 20,000-trial load was
    collections), and leaves it as it found it, on or off."""
    import gc

    from hpopt.storage import model as model_module

    url = f"sqlite:///{tmp_path / 's.db'}"
    study = hpopt.create_study(storage=url, study_name="s", sampler="random", seed=0)
    for _ in range(3):
        t = study.ask({"x": hpopt.Float(0, 1)})
        study.tell(t, t.params["x"])
    seen: list[bool] = []
    original = model_module.Model.apply

    def spy(self, op):
        seen.append(gc.isenabled())
        return original(self, op)

    monkeypatch.setattr(model_module.Model, "apply", spy)
    assert gc.isenabled()
    assert len(hpopt.load_study("s", url).trials) == 3
    assert seen and not any(seen) and gc.isenabled()
    gc.disable()
    try:
        hpopt.load_study("s", url)
        assert not gc.isenabled()
    finally:
        gc.enable()
