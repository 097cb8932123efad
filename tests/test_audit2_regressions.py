"""Regression tests for the second adversarial audit (study API, storages, CLI) through the public API.

Each test failed before its fix; see the audit report for the reproducers and root causes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hpopt
from hpopt import Categorical, Float, TrialState
from hpopt.cli import main as cli_main

BIG = 10**400  # an int no float can hold


def _study(**kwargs: object) -> hpopt.Study:
    return hpopt.create_study(sampler="random", seed=0, **kwargs)


# -- integers beyond the float range ------------------------------------------------------------------
def test_objective_returning_huge_int_fails_the_trial_instead_of_leaving_it_running() -> None:
    study = _study()
    with pytest.warns(hpopt.FailedTrialWarning):
        study.optimize(lambda t: BIG, n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    assert "float" in study.trials[0].system_attrs["fail_reason"]


def test_tell_report_and_settings_refuse_huge_int_with_value_error() -> None:
    study = _study()
    trial = study.ask()
    with pytest.raises(ValueError, match="objective value"):
        study.tell(trial, BIG)
    with pytest.raises(ValueError, match="reported value"):
        trial.report(BIG, step=0)
    assert study.trials[0].state is TrialState.RUNNING  # untouched
    with pytest.raises(ValueError, match="timeout"):
        study.optimize(lambda t: 1.0, n_trials=1, timeout=BIG)
    with pytest.raises(ValueError, match="grace_period"):
        hpopt.create_study(heartbeat_interval=1, grace_period=BIG)
    study.tell(trial, 1.0)


def test_float_bounds_and_contains_with_huge_int() -> None:
    with pytest.raises(ValueError, match="high"):
        Float(0, BIG)
    with pytest.raises(ValueError, match="step"):
        Float(0, 1, step=BIG)
    assert not Float(0, 1).contains(BIG)
    assert Float(0, 2).contains(1)  # ordinary ints still inside


def test_enqueued_huge_int_does_not_block_the_queue_of_static_asks() -> None:
    study = _study()
    study.enqueue_trial({"x": BIG})
    with pytest.raises(ValueError, match="enqueued value"):
        study.ask({"x": Float(0, 1)})
    assert study.trials[0].state is TrialState.FAIL  # failed with its reason, not stuck WAITING
    trial = study.ask({"x": Float(0, 1)})
    assert trial.number == 1 and 0 <= trial.params["x"] <= 1


def test_enqueued_huge_int_meeting_a_float_fails_with_value_error() -> None:
    study = _study()
    study.enqueue_trial({"x": BIG})
    with pytest.raises(ValueError, match="enqueued value"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert study.trials[0].state is TrialState.FAIL


# -- distribution compatibility -------------------------------------------------------------------------
def test_static_ask_refuses_another_kind_or_log_flag_for_a_known_parameter() -> None:
    study = _study()
    study.tell(study.ask({"x": Float(1, 10)}), 1.0)
    with pytest.raises(ValueError, match="'x'"):
        study.ask({"x": Categorical(["a", "b"])})
    with pytest.raises(ValueError, match="'x'"):
        study.ask({"x": Float(1, 10, log=True)})
    assert len(study.trials) == 1  # nothing written
    study.tell(study.ask({"x": Float(0, 100)}), 2.0)  # a widened range stays allowed
    trial = study.ask()
    assert 0 <= trial.suggest_float("x", 0, 100) <= 100  # define-by-run still works afterwards


@pytest.mark.parametrize(
    ("old", "new"), [([True, "a"], [1, "a"]), ([1, 2], [1.0, 2]), ([0, 1], [False, True])]
)
def test_categorical_choices_that_only_compare_equal_are_another_choice_list(old: list, new: list) -> None:
    study = _study()
    trial = study.ask()
    trial.suggest_categorical("c", old)
    study.tell(trial, 1.0)
    trial = study.ask()
    with pytest.raises(ValueError, match="'c'"):
        trial.suggest_categorical("c", new)
    trial.suggest_categorical("c", list(old))  # the same list again is fine
    study.tell(trial, 1.0)


# -- create_study(load_if_exists=True) --------------------------------------------------------------------
def test_load_if_exists_checks_the_sampler_against_the_stored_directions() -> None:
    first = hpopt.create_study(study_name="mo", directions=["minimize", "minimize"], sampler="random")
    with pytest.raises(ValueError, match="one objective"):
        hpopt.create_study(study_name="mo", storage=first.storage, load_if_exists=True, sampler="gradient")
    with pytest.raises(ValueError, match="one objective"):  # as load_study already did
        hpopt.load_study("mo", first.storage, sampler="gradient")
    again = hpopt.create_study(study_name="mo", storage=first.storage, load_if_exists=True, sampler="random")
    assert again.directions == ["minimize", "minimize"]


# -- CLI: clear messages, no tracebacks -------------------------------------------------------------------
def test_cli_storage_upgrade_of_a_file_that_is_no_database(tmp_path, capsys) -> None:
    path = tmp_path / "text.db"
    path.write_text("this is not a database " * 50)
    assert cli_main(["storage", "upgrade", f"sqlite:///{path}"]) == 2
    assert "not an hpopt storage" in capsys.readouterr().err


def test_cli_worker_with_an_objective_module_that_does_not_exist(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    code = cli_main(["worker", "--storage", url, "--study", "s", "--objective", "no_such_module_4f2a:f",
                     "--n-trials", "1"])
    assert code == 2
    assert "no_such_module_4f2a" in capsys.readouterr().err


# -- names -------------------------------------------------------------------------------------------------
def test_names_with_lone_surrogates_are_refused_up_front() -> None:
    bad = "x\ud800"
    with pytest.raises(ValueError, match="surrogate"):
        hpopt.create_study(study_name=bad)
    study = _study()
    trial = study.ask()
    with pytest.raises(ValueError, match="surrogate"):
        trial.suggest_float(bad, 0, 1)  # was a UnicodeEncodeError from inside RandomSampler
    with pytest.raises(ValueError, match="surrogate"):
        trial.set_user_attr(bad, 1)
    assert trial.suggest_float("é😀", 0, 1) <= 1  # other non-ASCII names stay fine
    study.tell(trial, 1.0)


# -- arguments named in the error ----------------------------------------------------------------------------
def test_bad_optimize_and_enqueue_arguments_name_the_parameter() -> None:
    study = _study()
    with pytest.raises(TypeError, match="`catch`"):
        study.optimize(lambda t: 1.0, n_trials=1, catch=5)
    with pytest.raises(TypeError, match="`catch`"):
        study.optimize(lambda t: 1.0, n_trials=1, catch="ValueError")
    with pytest.raises(TypeError, match="`callbacks`"):
        study.optimize(lambda t: 1.0, n_trials=1, callbacks=None)
    with pytest.raises(TypeError, match="`callbacks`"):
        study.optimize(lambda t: 1.0, n_trials=1, callbacks=print)
    with pytest.raises(TypeError, match="`user_attrs`"):
        study.enqueue_trial({"x": 1}, user_attrs=[("a", 1)])
    assert study.trials == []
    study.optimize(lambda t: 1.0, n_trials=2, n_jobs=np.int64(1))  # numpy ints, as n_trials takes them
    assert len(study.trials) == 2


def test_deeply_nested_attribute_is_a_type_error() -> None:
    value: list = []
    for _ in range(5000):
        value = [value]
    study = _study()
    trial = study.ask()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="JSON"):
            trial.set_user_attr("deep", value)
        with pytest.raises(TypeError, match="JSON"):
            study.set_user_attr("deep", value)
    study.tell(trial, 1.0)


def test_get_trials_takes_one_state_as_to_records_does() -> None:
    study = _study()
    study.optimize(lambda t: 1.0, n_trials=2)
    assert [t.number for t in study.get_trials("complete")] == [0, 1]
    assert len(study.to_records(states="complete")) == 2


# -- step grids far from zero ------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    (-5.679229485006639e16, -1.844037026918848e16, 533187.8172536914),
    (0.0, 2.9897842760803348e16, 521720.4313290725),  # a `high` the constructor kept must be contained
    (387037.0742216017, 5414045536754307.0, 387037.0742216017),
])
def test_wide_step_grids_contain_every_point_they_snap_to(args) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hpopt.HpoptWarning)
        dist = Float(args[0], args[1], step=args[2])
    assert dist.contains(dist.low) and dist.contains(dist.high)
    a, b = dist.internal_bounds
    for x in np.linspace(a, b, 101):
        v = dist.from_internal(float(x))
        assert dist.contains(v) and dist.contains(dist.canonical(v)), (x, v)
    assert not dist.contains(dist.low + 0.5 * dist.step)  # still a grid


def _wide_grid_objective(trial: hpopt.Trial) -> float:
    return trial.suggest_float("x", -5.679229485006639e16, -1.844037026918848e16, step=533187.8172536914)


@pytest.mark.filterwarnings("ignore::hpopt.errors.HpoptWarning")  # high lowered onto the grid
def test_random_and_tpe_sample_a_wide_step_grid_without_sampler_errors() -> None:
    for name in ("random", "tpe"):
        study = hpopt.create_study(sampler=name, seed=0)
        study.optimize(_wide_grid_objective, n_trials=15)
        assert all(t.state is TrialState.COMPLETE for t in study.trials)


# -- CMA-ES on discrete parameters with very many values ---------------------------------------------------
@pytest.mark.parametrize("kind", ["int", "log-int", "float-step"])
def test_cmaes_handles_a_discrete_parameter_with_a_huge_number_of_values(kind: str) -> None:
    """One threshold per value was materialized: Int(0, 2**40) asked for 8 TB (MemoryError)."""

    def objective(trial: hpopt.Trial) -> float:
        if kind == "int":
            x = trial.suggest_int("x", 0, 2**40)
        elif kind == "log-int":
            x = trial.suggest_int("x", 1, 2**50, log=True)
        else:
            x = trial.suggest_float("x", 0.0, 1.0, step=1e-12)
        return float(abs(x - 12345))

    study = hpopt.create_study(sampler="cmaes", seed=0)
    study.optimize(objective, n_trials=6)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
