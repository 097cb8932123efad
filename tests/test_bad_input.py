"""The bad-input table of RELIABILITY.md, row by row, on every backend (memory and SQLite)."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt import Categorical, Float, TrialState
from hpopt.records import MAX_NAME_LENGTH


@pytest.fixture(params=["memory", "sqlite"])
def storage(request: Any, tmp_path: Any) -> Any:
    return None if request.param == "memory" else f"sqlite:///{tmp_path}/bad.db"


@pytest.fixture
def study(storage: Any) -> hpopt.Study:
    return hpopt.create_study(study_name="s", storage=storage, seed=0)


@contextlib.contextmanager
def unchanged(study: hpopt.Study) -> Iterator[None]:
    """The block must leave every trial and the study attributes exactly as they were (also as
    another storage object on the same store sees them)."""
    before, attrs = study.trials, study.user_attrs
    yield
    assert study.trials == before and study.user_attrs == attrs
    url = study.storage.url
    if "://" in url:
        again = hpopt.load_study(study.study_name, url)
        assert again.trials == before


def _running(study: hpopt.Study) -> hpopt.Trial:
    t = study.ask()
    t.suggest_float("x", 0, 1)
    t.report(0.5, 0)  # written: the trial has something to lose
    return t


def test_tell_nan(study: hpopt.Study) -> None:
    """tell(t, nan): FAIL, reason recorded, warning."""
    with pytest.warns(hpopt.FailedTrialWarning):
        ft = study.tell(_running(study), math.nan)
    assert ft.state is TrialState.FAIL and "NaN" in study.trials[0].system_attrs["fail_reason"]


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_tell_inf(study: hpopt.Study, value: float) -> None:
    """tell(t, ±inf): COMPLETE; round-trips through the backend."""
    study.tell(_running(study), value)
    again = hpopt.load_study("s", study.storage.url) if "://" in study.storage.url else study
    assert again.trials[0].state is TrialState.COMPLETE and again.trials[0].values == (value,)


def test_wrong_number_of_values(study: hpopt.Study) -> None:
    """Wrong count: ValueError naming expected and received counts; trial untouched."""
    t = _running(study)
    with unchanged(study), pytest.raises(ValueError, match=r"1 objective.*3 value"):
        study.tell(t, [1.0, 2.0, 3.0])


def test_wrong_number_of_values_inside_optimize(storage: Any) -> None:
    """Wrong count returned inside optimize: the trial is FAIL with the reason."""
    study = hpopt.create_study(storage=storage, directions=["minimize", "minimize"])
    with pytest.warns(hpopt.FailedTrialWarning):
        study.optimize(lambda t: 1.0, n_trials=1)
    ft = study.trials[0]
    assert ft.state is TrialState.FAIL and "2 objective" in ft.system_attrs["fail_reason"]


@pytest.mark.parametrize("value", [None, "abc", "1.5", True, 1 + 2j, np.complex128(1)])
def test_tell_non_real(study: hpopt.Study, value: Any) -> None:
    """None, "abc", "1.5", True, complex: TypeError, trial untouched."""
    t = _running(study)
    with unchanged(study), pytest.raises(TypeError):
        study.tell(t, value)


@pytest.mark.parametrize("value", [np.float64(1.5), np.int32(2), np.array(2.5), np.float16(0.5)])
def test_tell_numpy_reals_accepted(study: hpopt.Study, value: Any) -> None:
    """Numpy real scalars and 0-d arrays are accepted."""
    assert study.tell(_running(study), value).values == (float(value),)


def test_tell_finished(study: hpopt.Study) -> None:
    """tell on a finished trial: error, unless the identical value or skip_if_finished."""
    t = _running(study)
    study.tell(t, 1.0)
    with unchanged(study):
        with pytest.raises(hpopt.TrialFinishedError):
            study.tell(t, 2.0)
        assert study.tell(t, 1.0).values == (1.0,)
        assert study.tell(t, 2.0, skip_if_finished=True).values == (1.0,)


def test_unknown_trial_number(study: hpopt.Study) -> None:
    """Unknown trial number: ValueError naming the study; nothing written."""
    _running(study)
    with unchanged(study), pytest.raises(ValueError, match=r"'s'.*number 5"):
        study.tell(5, 1.0)


def test_trial_of_another_study(study: hpopt.Study, tmp_path: Any) -> None:
    """A trial of another study or another storage: ValueError naming both; nothing written."""
    other_same = hpopt.create_study(study_name="o", storage=study.storage)
    other_file = hpopt.create_study(study_name="f", storage=f"sqlite:///{tmp_path}/other.db")
    _running(study)
    for other in (other_same, other_file):
        t = other.ask()
        with unchanged(study), pytest.raises(ValueError, match=rf"'{other.study_name}'.*'s'"):
            study.tell(t, 1.0)
        assert other.trials[0].state is TrialState.RUNNING


@pytest.mark.parametrize(
    ("call", "err"),
    [
        (lambda t: t.suggest_float("p", 2.0, 1.0), ValueError),
        (lambda t: t.suggest_float("p", -math.inf, 1.0), ValueError),
        (lambda t: t.suggest_float("p", 0.0, math.nan), ValueError),
        (lambda t: t.suggest_float("p", 0.0, 1.0, log=True), ValueError),
        (lambda t: t.suggest_int("p", 0, 4, log=True), ValueError),
        (lambda t: t.suggest_float("p", 0.0, 1.0, step=0.0), ValueError),
        (lambda t: t.suggest_int("p", 0, 4, step=-2), ValueError),
        (lambda t: t.suggest_float("p", 0.1, 1.0, step=0.1, log=True), ValueError),
        (lambda t: t.suggest_int("p", 1, 8, step=2, log=True), ValueError),
        (lambda t: t.suggest_int("p", 2, 1), ValueError),
    ],
)
def test_invalid_distribution_names_parameter(study: hpopt.Study, call: Any, err: type) -> None:
    """low > high, non-finite bounds, log with low <= 0 (int < 1), step <= 0, step with log:
    ValueError naming the parameter; nothing written."""
    t = _running(study)
    with unchanged(study), pytest.raises(err, match="parameter 'p'"):
        call(t)
    study.tell(t, 1.0)
    assert study.trials[0].params == {"x": study.trials[0].params["x"]}


def test_step_that_does_not_divide(study: hpopt.Study, storage: Any) -> None:
    """A step that does not divide the range: warning once, the adjusted high stored."""
    # Identical suggest arguments warn once per process (built distributions are cached), so each
    # backend's run uses its own bounds.
    hi, ihi = (1.0, 10) if storage is None else (1.1, 11)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            t = study.ask()
            v = t.suggest_float("q", 0.0, hi, step=0.3)
            n = t.suggest_int("k", 0, ihi, step=4)
            study.tell(t, v)
    advisories = [w for w in caught if issubclass(w.category, hpopt.HpoptWarning)]
    assert len(advisories) == 2, [str(w.message) for w in advisories]
    assert v <= 0.9 and n <= 8
    ft = study.trials[0]
    assert ft.distributions["q"] == Float(0.0, 0.9, step=0.3) and ft.distributions["k"].high == 8


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.suggest_int("p", 0.5, 3),
        lambda t: t.suggest_int("p", 0, 3.5),
        lambda t: t.suggest_int("p", 0, 8, step=1.5),
        lambda t: t.suggest_int("p", "0", 3),
        lambda t: t.suggest_int("p", 0, None),
    ],
)
def test_suggest_int_non_integral(study: hpopt.Study, call: Any) -> None:
    """Non-integral bounds or step for suggest_int: TypeError."""
    t = _running(study)
    with unchanged(study), pytest.raises(TypeError, match="parameter 'p'"):
        call(t)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (lambda t: t.suggest_float("p", 0, 1), lambda t: t.suggest_int("p", 0, 1)),
        (lambda t: t.suggest_int("p", 0, 1), lambda t: t.suggest_categorical("p", [0, 1])),
        (lambda t: t.suggest_categorical("p", ["a", "b"]), lambda t: t.suggest_categorical("p", ["b", "a"])),
        (lambda t: t.suggest_float("p", 0.1, 1), lambda t: t.suggest_float("p", 0.1, 1, log=True)),
        (lambda t: t.suggest_int("p", 1, 9, log=True), lambda t: t.suggest_int("p", 1, 9)),
    ],
)
def test_same_name_other_distribution(study: hpopt.Study, first: Any, second: Any) -> None:
    """Same name, other kind / choices / log flag (in a later trial): ValueError naming the
    parameter, old and new distribution."""
    t = study.ask()
    old = first(t) is not None and t.distributions["p"]
    study.tell(t, 1.0)
    t = _running(study)
    with unchanged(study), pytest.raises(ValueError) as info:
        second(t)
    assert "'p'" in str(info.value) and repr(old) in str(info.value)


@pytest.mark.parametrize(
    ("choices", "err"),
    [([], ValueError), ([1, 1], ValueError), ([1, True], ValueError), ([1, 1.0], ValueError),
     ([math.nan], ValueError), ({1, 2}, TypeError), ([object()], TypeError), ([[1, 2]], TypeError),
     ([b"x"], TypeError), ([1j], TypeError), ("ab", TypeError)],
)
def test_bad_categorical_choices(study: hpopt.Study, choices: Any, err: type) -> None:
    """Empty, duplicate (1/True/1.0), NaN, sets, unpersistable choices: refused at construction."""
    with pytest.raises(err):
        Categorical(choices)
    t = _running(study)
    with unchanged(study), pytest.raises(err, match="parameter 'c'"):
        t.suggest_categorical("c", choices)


def test_user_attrs_not_json_or_long_names(study: hpopt.Study) -> None:
    """User attributes that are not JSON, and names longer than the limit, are refused up front."""
    t = _running(study)
    with unchanged(study):
        for value in ({1, 2}, object(), b"x", {"k": {1}}, {1: 2j}):
            with pytest.raises(TypeError):
                t.set_user_attr("a", value)
            with pytest.raises(TypeError):
                study.set_user_attr("a", value)
        long = "n" * (MAX_NAME_LENGTH + 1)
        with pytest.raises(ValueError, match=str(MAX_NAME_LENGTH)):
            t.set_user_attr(long, 1)
        with pytest.raises(ValueError):
            study.set_user_attr(long, 1)
        with pytest.raises(ValueError):
            t.suggest_float(long, 0, 1)
        with pytest.raises(TypeError):
            t.set_user_attr(1, 1)
    t.set_user_attr("n" * MAX_NAME_LENGTH, 1)  # the limit itself is fine
    study.tell(t, 1.0)
    assert "n" * MAX_NAME_LENGTH in study.trials[0].user_attrs


def test_long_study_name(storage: Any) -> None:
    """A study name longer than the limit is refused before anything is written."""
    with pytest.raises(ValueError):
        hpopt.create_study(study_name="s" * (MAX_NAME_LENGTH + 1), storage=storage)


def test_report_rules(study: hpopt.Study) -> None:
    """report: non-numeric TypeError; negative or non-integral step ValueError/TypeError; same step
    twice keeps the first value with a warning; after finish an error."""
    t = _running(study)
    with unchanged(study):
        for value in ("1.0", None, True, 1j):
            with pytest.raises(TypeError):
                t.report(value, 1)
        with pytest.raises(ValueError):
            t.report(1.0, -1)
        for step in (1.5, "1", True, None):
            with pytest.raises(TypeError):
                t.report(1.0, step)
    with pytest.warns(hpopt.HpoptWarning, match="first value is kept"):
        t.report(9.0, 0)
    study.tell(t, 1.0)
    assert study.trials[0].intermediate_values == {0: 0.5}
    with unchanged(study), pytest.raises(hpopt.TrialFinishedError):
        t.report(1.0, 5)


class _Custom(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "catch", "reraised"),
    [(_Custom, (), True), (_Custom, (_Custom,), False), (KeyboardInterrupt, (), True), (SystemExit, (), True),
     (KeyboardInterrupt, (Exception,), True)],
)
def test_objective_raises(storage: Any, exc: type[BaseException], catch: tuple, reraised: bool) -> None:
    """Objective raises: FAIL + re-raise; in catch: FAIL + continue; KeyboardInterrupt/SystemExit:
    FAIL + re-raise. No trial is left RUNNING and the study stays usable."""
    study = hpopt.create_study(storage=storage, seed=0)

    def objective(t: hpopt.Trial) -> float:
        t.suggest_float("x", 0, 1)
        raise exc("stop")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hpopt.FailedTrialWarning)
        if reraised:
            with pytest.raises(exc):
                study.optimize(objective, n_trials=3, catch=catch)
        else:
            study.optimize(objective, n_trials=3, catch=catch)
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL] * (1 if reraised else 3)
    assert all(exc.__name__ in t.system_attrs["fail_reason"] for t in study.trials)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert study.trials[-1].state is TrialState.COMPLETE


def test_load_if_exists_other_directions(tmp_path: Any) -> None:
    """create_study(load_if_exists=True) with other directions: ValueError naming both."""
    url = f"sqlite:///{tmp_path}/d.db"
    hpopt.create_study(study_name="d", storage=url, directions=["minimize"])
    with pytest.raises(ValueError, match=r"\['minimize'\].*\['maximize', 'minimize'\]"):
        hpopt.create_study(study_name="d", storage=url, directions=["maximize", "minimize"],
                           load_if_exists=True)
    assert hpopt.load_study("d", url).directions == ["minimize"]


def test_load_if_exists_other_directions_shared_memory() -> None:
    """The same rule with a shared in-memory Storage object."""
    storage = hpopt.Storage(hpopt.storage.MemoryBackend())
    hpopt.create_study(study_name="d", storage=storage)
    with pytest.raises(ValueError, match=r"\['minimize'\].*\['maximize'\]"):
        hpopt.create_study(study_name="d", storage=storage, direction="maximize", load_if_exists=True)


def test_enqueue_value_outside_distribution(study: hpopt.Study) -> None:
    """An enqueued value outside its distribution: ValueError when it meets it (define-by-run: the
    trial stays RUNNING; static ask: the trial is failed with the reason, the queue moves on)."""
    study.enqueue_trial({"x": 5.0})
    t = study.ask()
    with pytest.raises(ValueError, match=r"5\.0.*'x'"):
        t.suggest_float("x", 0, 1)
    study.tell(t, state="fail")
    study.enqueue_trial({"x": 7.0})
    with pytest.raises(ValueError, match=r"7\.0.*'x'"):
        study.ask({"x": Float(0, 1)})
    assert study.trials[-1].state is TrialState.FAIL
    t = study.ask({"x": Float(0, 1)})
    assert 0 <= t.params["x"] <= 1


@pytest.mark.parametrize("params", [{"x": math.nan}, {"x": math.inf}, {"x": [1]}, {"x": 1j}, {1: 2.0}, [1.0]])
def test_enqueue_refuses_unusable_values(study: hpopt.Study, params: Any) -> None:
    """enqueue_trial refuses values that no distribution can hold, before writing."""
    with unchanged(study), pytest.raises((TypeError, ValueError)):
        study.enqueue_trial(params)


def test_optimize_bad_arguments(study: hpopt.Study) -> None:
    """Bad optimize arguments are refused before any trial starts."""
    with unchanged(study):
        for kwargs in ({"n_trials": -1}, {"n_trials": 1.5}, {"timeout": 0}, {"n_jobs": 0},
                       {"catch": (int,)}, {"callbacks": [3]}):
            with pytest.raises((TypeError, ValueError)):
                study.optimize(lambda t: 0.0, **kwargs)
        with pytest.raises(TypeError):
            study.optimize(3, n_trials=1)


def test_storage_spec_type() -> None:
    """A storage that is neither None, a URL nor a Storage is a TypeError."""
    with pytest.raises(TypeError, match="storage"):
        hpopt.create_study(storage=3)




def test_bool_step_refused_even_after_an_equal_valid_one(study: hpopt.Study) -> None:
    """step=True is refused although it equals step=1 of an earlier, cached suggestion."""
    t = _running(study)
    t.suggest_int("q", 0, 4, step=1)
    t.suggest_float("r", 0, 1, step=1)
    with pytest.raises(TypeError, match="parameter 'p'"):
        t.suggest_int("p", 0, 4, step=True)
    with pytest.raises(TypeError, match="parameter 'p'"):
        t.suggest_float("p", 0, 1, step=True)
