"""T18-T20: hypothesis fuzzing of distributions, tell values and categorical choices.

Only the outcomes of RELIABILITY.md's table may happen: a valid value, or TypeError/ValueError
raised before anything is written. Never an error from inside a sampler.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hpopt
from hpopt import Categorical, Float, Int, TrialState

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_names = itertools.count()

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6),
    st.integers(-10**6, 10**6),
    st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e300]),
)
junk = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.just(1j), st.just([1.0]))
bound = st.one_of(numbers, numbers, numbers, junk)
# Every registered sampler that needs no settings (the grid needs its grid), from the registry.
samplers = st.sampled_from(sorted(n for n in hpopt.available_samplers() if n != "grid"))


@pytest.fixture(scope="module")
def sqlite_storage(tmp_path_factory: Any) -> Any:
    from hpopt.storage import open_storage

    return open_storage(f"sqlite:///{tmp_path_factory.mktemp('hyp')}/fuzz.db")


def _history(study: hpopt.Study, n: int = 3) -> None:
    for i in range(n):
        t = study.ask()
        study.tell(t, float(i))


def _build(kind: str, low: Any, high: Any, log: Any, step: Any) -> Any:
    if kind == "float":
        return Float(low, high, log=log, step=step)
    return Int(low, high, log=log, step=1 if step is None else step)


@SETTINGS
@given(kind=st.sampled_from(["float", "int"]), low=bound, high=bound, log=st.booleans(),
       step=st.one_of(st.none(), numbers, junk), sampler=samplers)
def test_t18_distributions(kind: str, low: Any, high: Any, log: bool, step: Any, sampler: str) -> None:
    """Any arguments give a working distribution or a TypeError/ValueError naming the parameter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hpopt.HpoptWarning)
        try:
            dist = _build(kind, low, high, log, step)
        except (TypeError, ValueError):
            dist = None
        study = hpopt.create_study(sampler=sampler, seed=0)
        _history(study)
        t = study.ask()
        try:
            if kind == "float":
                value = t.suggest_float("p", low, high, log=log, step=step)
            else:
                value = t.suggest_int("p", low, high, log=log, step=1 if step is None else step)
        except (TypeError, ValueError) as exc:
            assert dist is None, f"{dist!r} built, but suggest refused it: {exc}"
            assert "parameter 'p'" in str(exc)
            assert t.params == {}
            return
    assert dist is not None and dist.contains(value)
    assert type(value) is (float if kind == "float" else int)
    assert hpopt.distribution_from_json(dist.to_json()) == dist
    ft = study.tell(t, 1.0)
    assert ft.params == {"p": value}


tell_values = st.one_of(
    numbers, junk, st.just(np.float32(1.5)), st.just(np.array(2.0)), st.just(np.int8(3)),
    st.lists(numbers, min_size=0, max_size=3), st.just(np.array([1.0, 2.0])), st.just("nan"),
)


@SETTINGS
@given(value=tell_values, n_obj=st.sampled_from([1, 2]), backend=st.sampled_from(["memory", "sqlite"]))
def test_t19_tell_values(value: Any, n_obj: int, backend: str, sqlite_storage: Any) -> None:
    """Any tell value: COMPLETE (finite or ±inf), FAIL (NaN, with a warning), or TypeError/ValueError
    with the trial untouched."""
    storage = sqlite_storage if backend == "sqlite" else None
    study = hpopt.create_study(study_name=f"t19-{next(_names)}", storage=storage,
                               directions=["minimize"] * n_obj, seed=0)
    t = study.ask()
    t.suggest_float("x", 0, 1)
    t.report([0.5] * n_obj if n_obj > 1 else 0.5, 0)
    before = study.trials
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ft = study.tell(t, value)
        except (TypeError, ValueError):
            assert study.trials == before
            assert study.tell(t, [0.0] * n_obj).state is TrialState.COMPLETE  # still usable
            return
    items = list(np.ravel(value)) if not np.isscalar(value) else [value]
    assert len(items) == n_obj
    floats = [float(v) for v in items]
    if any(math.isnan(v) for v in floats):
        assert ft.state is TrialState.FAIL and ft.values is None
        assert any(issubclass(w.category, hpopt.FailedTrialWarning) for w in caught)
    else:
        assert ft.state is TrialState.COMPLETE and ft.values == tuple(floats)
        assert all(type(v) is float for v in ft.values)
    assert hpopt.load_study(study.study_name, study.storage).trials[0] == ft


choice = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=2), st.sampled_from([1.0, 0.0, -0.0, 2.5, "1", ""]),
)
bad_choice = st.sampled_from([1j, b"x", (1,), [1], {"a": 1}, object()])


@SETTINGS
@given(choices=st.lists(st.one_of(choice, choice, choice, bad_choice), max_size=6),
       sampler=samplers, backend=st.sampled_from(["memory", "sqlite"]))
def test_t20_categorical_choices(choices: list, sampler: str, backend: str, sqlite_storage: Any) -> None:
    """Any choice list: a Categorical whose samples are exactly one of the choices (type included)
    and persist, or ValueError/TypeError at construction — never an error from a sampler."""
    try:
        dist = Categorical(choices)
    except (TypeError, ValueError):
        bad_type = any(not (c is None or isinstance(c, (bool, int, float, str))) for c in choices)
        nan = any(isinstance(c, float) and math.isnan(c) for c in choices)
        dup = len({(c if not isinstance(c, float) or not math.isnan(c) else id(c)) for c in choices
                   if not bad_type}) != len(choices)
        assert bad_type or nan or dup or not choices
        return
    assert len(dist.choices) == len(choices)
    storage = sqlite_storage if backend == "sqlite" else None
    study = hpopt.create_study(study_name=f"t20-{next(_names)}", storage=storage, sampler=sampler, seed=1)
    for i in range(4):
        t = study.ask()
        v = t.suggest_categorical("c", choices)
        assert any(type(v) is type(c) and (v == c or repr(v) == repr(c)) for c in dist.choices)
        study.tell(t, float(i % 3))
    for ft in hpopt.load_study(study.study_name, study.storage).trials:
        v = ft.params["c"]
        assert any(type(v) is type(c) and repr(v) == repr(c) for c in dist.choices)
        assert ft.distributions["c"] == dist
