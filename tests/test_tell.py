"""Study.tell as a state machine: accepted values, states, finished trials, unknown trials."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt import TrialState


@pytest.fixture(params=["memory", "sqlite"])
def study(request: Any, tmp_path: Any) -> hpopt.Study:
    storage = None if request.param == "memory" else f"sqlite:///{tmp_path}/t.db"
    return hpopt.create_study(study_name="s", storage=storage, seed=0)


def _running(study: hpopt.Study) -> hpopt.Trial:
    t = study.ask()
    t.suggest_float("x", 0, 1)
    return t


@pytest.mark.parametrize("value", [1, 2.5, np.float32(0.5), np.int64(3), np.array(4.0), math.inf, -math.inf,
                                   -0.0, 1e308])
def test_accepts_real_numbers(study: hpopt.Study, value: Any) -> None:
    """Real numbers, numpy real scalars, 0-d arrays and ±inf complete the trial as Python floats."""
    ft = study.tell(_running(study), value)
    assert ft.state is TrialState.COMPLETE and type(ft.values[0]) is float
    assert repr(ft.values[0]) == repr(float(value))
    assert repr(hpopt.load_study("s", study.storage).trials[-1].values[0]) == repr(float(value))


@pytest.mark.parametrize("value", [None, "abc", "1.5", True, np.bool_(False), 1j, object(), {"v": 1},
                                   [[1.0]]])
def test_refuses_non_real(study: hpopt.Study, value: Any) -> None:
    """None, strings, bools, complex and containers are refused; the trial stays RUNNING."""
    t = _running(study)
    with pytest.raises((TypeError, ValueError)):
        study.tell(t, value)
    assert study.trials[-1].state is TrialState.RUNNING
    assert study.tell(t, 1.0).state is TrialState.COMPLETE


def test_nan_fails_with_reason_and_warning(study: hpopt.Study) -> None:
    """tell(t, nan) marks the trial FAIL with a recorded reason and a FailedTrialWarning."""
    with pytest.warns(hpopt.FailedTrialWarning, match="NaN"):
        ft = study.tell(_running(study), math.nan)
    assert ft.state is TrialState.FAIL and "NaN" in ft.system_attrs["fail_reason"] and ft.values is None


def test_wrong_count(study: hpopt.Study) -> None:
    """A wrong number of values is a ValueError naming expected and received counts."""
    t = _running(study)
    with pytest.raises(ValueError, match=r"1 objective.*2 value"):
        study.tell(t, [1.0, 2.0])
    assert study.trials[-1].state is TrialState.RUNNING


def test_multi_objective_count(tmp_path: Any) -> None:
    """A two-objective study needs exactly two values."""
    study = hpopt.create_study(directions=["minimize", "maximize"])
    t = study.ask()
    for bad in (1.0, [1.0], [1.0, 2.0, 3.0]):
        with pytest.raises(ValueError, match="2 objective"):
            study.tell(t, bad)
    assert study.tell(t, np.array([1.0, 2.0])).values == (1.0, 2.0)


def test_identical_again_is_noop(study: hpopt.Study) -> None:
    """Telling the identical value again returns the same record and writes nothing."""
    t = _running(study)
    first = study.tell(t, 2.0)
    assert study.tell(t, 2.0) == first
    assert study.tell(t.number, 2.0) == first
    assert len(study.trials) == 1


def test_other_value_refused(study: hpopt.Study) -> None:
    """Telling a finished trial another value or state is a TrialFinishedError; it keeps its first value."""
    t = _running(study)
    study.tell(t, 2.0)
    with pytest.raises(hpopt.TrialFinishedError, match="COMPLETE"):
        study.tell(t, 3.0)
    with pytest.raises(hpopt.TrialFinishedError):
        study.tell(t.number, state="fail")
    assert study.trials[0].values == (2.0,)


def test_skip_if_finished(study: hpopt.Study) -> None:
    """skip_if_finished returns the existing record instead of raising."""
    t = _running(study)
    study.tell(t, 2.0)
    assert study.tell(t, 5.0, skip_if_finished=True).values == (2.0,)


def test_pruned_takes_last_report(study: hpopt.Study) -> None:
    """state='pruned' without values takes the last reported value."""
    t = _running(study)
    t.report(5.0, 0)
    t.report(4.0, 7)
    ft = study.tell(t, state="pruned")
    assert ft.state is TrialState.PRUNED and ft.values == (4.0,)


def test_pruned_without_reports(study: hpopt.Study) -> None:
    """A pruned trial without reports has no values."""
    ft = study.tell(_running(study), state=TrialState.PRUNED)
    assert ft.state is TrialState.PRUNED and ft.values is None


def test_fail_with_values_refused(study: hpopt.Study) -> None:
    """state='fail' with values is a ValueError."""
    with pytest.raises(ValueError, match="None"):
        study.tell(_running(study), 1.0, state="fail")


@pytest.mark.parametrize("state", ["running", "waiting", "done", 3])
def test_bad_state(study: hpopt.Study, state: Any) -> None:
    """A state that is not complete, pruned or fail is a ValueError."""
    with pytest.raises(ValueError, match="state"):
        study.tell(_running(study), 1.0, state=state)


def test_unknown_number(study: hpopt.Study) -> None:
    """An unknown trial number is a ValueError naming the study and the count; nothing is written."""
    with pytest.raises(ValueError, match=r"'s' has no trial number 3"):
        study.tell(3, 1.0)
    assert study.trials == []


@pytest.mark.parametrize("number", [1.0, "0", True, None])
def test_number_type(study: hpopt.Study, number: Any) -> None:
    """A trial reference that is neither a Trial nor an int is a TypeError."""
    _running(study)
    with pytest.raises(TypeError):
        study.tell(number, 1.0)


def test_waiting_trial_refused(study: hpopt.Study) -> None:
    """Telling an enqueued (WAITING) trial is a ValueError."""
    n = study.enqueue_trial({"x": 0.5})
    with pytest.raises(ValueError, match="WAITING"):
        study.tell(n, 1.0)


def test_trial_of_another_study(tmp_path: Any) -> None:
    """A trial of another study or storage is a ValueError naming both; nothing is written."""
    a = hpopt.create_study(study_name="a")
    b = hpopt.create_study(study_name="b", storage=f"sqlite:///{tmp_path}/b.db")
    t = a.ask()
    with pytest.raises(ValueError, match=r"'a'.*'b'"):
        b.tell(t, 1.0)
    assert b.trials == [] and a.trials[0].state is TrialState.RUNNING


def test_tell_by_number_from_another_handle(tmp_path: Any) -> None:
    """A trial asked in one study object can be told by number through another on the same file."""
    url = f"sqlite:///{tmp_path}/s.db"
    a = hpopt.create_study(study_name="a", storage=url, seed=0)
    t = a.ask()
    x = t.suggest_float("x", 0, 1)
    t.report(1.0, 0)  # writes the pending suggestion
    b = hpopt.load_study("a", url)
    ft = b.tell(t.number, 0.5)
    assert ft.params == {"x": x} and ft.values == (0.5,)
    with pytest.raises(hpopt.TrialFinishedError):
        a.tell(t, 0.7)


def test_finished_trial_handle_refuses_changes(study: hpopt.Study) -> None:
    """After tell, the Trial handle refuses suggest, report and set_user_attr."""
    t = _running(study)
    study.tell(t, 1.0)
    for call in (lambda: t.suggest_float("y", 0, 1), lambda: t.report(1.0, 1),
                 lambda: t.set_user_attr("a", 1), lambda: t.should_prune()):
        with pytest.raises(hpopt.TrialFinishedError):
            call()


def test_context_manager_fails_untold_trial(study: hpopt.Study) -> None:
    """Leaving a trial's with-block without tell fails it, with the exception as reason."""
    with pytest.raises(RuntimeError), study.ask() as t:
        raise RuntimeError("crashed")
    ft = study.trials[t.number]
    assert ft.state is TrialState.FAIL and "crashed" in ft.system_attrs["fail_reason"]


def test_handle_told_through_a_second_storage_object(tmp_path: Any) -> None:
    """A Trial from one storage object can be told through a study opened on the same URL."""
    url = f"sqlite:///{tmp_path}/s.db"
    a = hpopt.create_study(study_name="a", storage=url, seed=0)
    hpopt.create_study(study_name="other", storage=url)
    t = a.ask()
    x = t.suggest_float("x", 0, 1)
    b = hpopt.load_study("a", url)
    ft = b.tell(t, 0.5)
    assert ft.params == {"x": x} and a.trials == b.trials
    with pytest.raises(ValueError, match="'other'"):
        hpopt.load_study("other", url).tell(a.ask(), 1.0)
