"""Audit 18 regressions: FixedTrial/create_trial/add_trial, 0-d scalars, exports (see the report)."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt import Float
from hpopt.records import FrozenTrial, TrialState
from hpopt.trial import real_value


class _LazyScalar:
    """A 0-d tensor-like value whose computation fails when it is read (a lost device, a traced
    JAX value): ``__float__`` raises something other than TypeError/ValueError."""

    shape = ()
    dtype = "float32"

    def __float__(self) -> float:
        raise RuntimeError("device lost")


class _BadShape:
    """A scalar-like object whose ``shape`` raises."""

    @property
    def shape(self) -> Any:
        raise RuntimeError("no shape")

    def __float__(self) -> float:
        return 1.0


# -- 1. a foreign scalar whose conversion raises ------------------------------------------------------
@pytest.mark.parametrize("value", [_LazyScalar(), _BadShape(), np.timedelta64(5, "s")])
def test_real_value_turns_any_conversion_error_into_a_named_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="an objective value must be a real number"):
        real_value("an objective value", value)


def test_optimize_fails_the_trial_instead_of_leaving_it_running(quiet_hpopt: None) -> None:
    study = hpopt.create_study(sampler="random", seed=0)
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), _LazyScalar())[1], n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    assert "RuntimeError: device lost" in study.trials[0].system_attrs["fail_reason"]


def test_tell_refuses_before_writing(quiet_hpopt: None) -> None:
    study = hpopt.create_study(sampler="random", seed=0)
    trial = study.ask()
    with pytest.raises(TypeError, match="device lost"):
        study.tell(trial, _LazyScalar())
    assert study.trials[0].state is TrialState.RUNNING
    study.tell(trial, 1.0)  # still open: a usable value completes it
    assert study.trials[0].state is TrialState.COMPLETE


def test_executor_workers_fail_the_trial_instead_of_leaving_it_running(quiet_hpopt: None) -> None:
    study = hpopt.create_study(sampler="random", seed=0)
    with ThreadPoolExecutor(2) as ex:
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), _LazyScalar())[1], n_trials=3, executor=ex)
    assert {t.state for t in study.trials} == {TrialState.FAIL}
    assert len(study.trials) == 3


# -- 2. add_trial of times that datetime cannot show ----------------------------------------------------
@pytest.mark.parametrize("t0", [1.7e12, -1e18, 253402300800.0])  # milliseconds as seconds, far past/future
def test_add_trial_refuses_times_datetime_cannot_show(t0: float, quiet_hpopt: None) -> None:
    study = hpopt.create_study(sampler="random", seed=0)
    ft = FrozenTrial(0, TrialState.COMPLETE, (1.0,), params={"x": 0.5}, distributions={"x": Float(0, 1)},
                     started=t0, finished=t0)
    with pytest.raises(ValueError, match="`started` must be a POSIX time in seconds"):
        study.add_trial(ft)
    assert study.trials == []  # nothing written: exports keep working
    assert study.to_records() == []


def test_add_trial_keeps_ordinary_past_times(quiet_hpopt: None) -> None:
    study = hpopt.create_study(sampler="random", seed=0)
    ft = FrozenTrial(0, TrialState.COMPLETE, (1.0,), params={"x": 0.5}, distributions={"x": Float(0, 1)},
                     started=1.0e9, finished=1.0e9 + 5)
    stored = study.add_trial(ft)
    assert (stored.started, stored.finished) == (1.0e9, 1.0e9 + 5)
    assert study.to_records()[0]["duration"] == 5.0


# -- 3. added trials that finished "in the past": a fresh process must decide as the live one ---------
def _obj(t: Any) -> float:
    x = t.suggest_float("x", -5, 5)
    y = t.suggest_float("y", -5, 5)
    return (x - 1) ** 2 + (y + 2) ** 2


def _old_trial(value: float, params: dict[str, float], t0: float) -> FrozenTrial:
    """A COMPLETE trial that finished long before this test ran (a trial of an older study)."""
    return FrozenTrial(0, TrialState.COMPLETE, (value,), params=params,
                       distributions={"x": Float(-5, 5), "y": Float(-5, 5)}, started=t0, finished=t0 + 0.5)


def test_auto_warm_start_is_the_same_in_a_fresh_process_after_adding_old_trials(
    tmp_path: Any, quiet_hpopt: None
) -> None:
    """The GP -> CMA-ES hand-over warm-starts from "the first trials in finish order"; trials added
    with earlier finish times change that set. The live process cached the set it saw before: it
    must rebuild as a resumed process does, or the two propose differently on the same history."""
    db1, db2 = tmp_path / "a.db", tmp_path / "b.db"
    live = hpopt.create_study(storage=f"sqlite:///{db1}", study_name="s",
                              sampler=hpopt.AutoSampler(seed=0, n_trials=40))
    live.optimize(_obj, n_trials=14)  # past the GP limit of 2 parameters: warm-started CMA-ES
    assert live.trials[-1].system_attrs.get("auto:warm_start")
    for i in range(6):
        live.add_trial(_old_trial(30.0 + i, {"x": -4.0 + 0.1 * i, "y": 4.0}, 1000.0 + i))
    src, dst = sqlite3.connect(db1), sqlite3.connect(db2)
    src.backup(dst)
    src.close()
    dst.close()
    fresh = hpopt.load_study(study_name="s", storage=f"sqlite:///{db2}",
                             sampler=hpopt.AutoSampler(seed=0, n_trials=40))
    a, b = live.ask(), fresh.ask()
    assert a.number == b.number
    assert (a.suggest_float("x", -5, 5), a.suggest_float("y", -5, 5)) == (
        b.suggest_float("x", -5, 5), b.suggest_float("y", -5, 5))


def test_tpe_rows_are_the_same_in_a_fresh_process_after_adding_old_trials(
    tmp_path: Any, quiet_hpopt: None
) -> None:
    """TPE keeps one row per finished trial in finish order (its bad group forgets the oldest
    beyond 25). Trials added with earlier finish times (bad values near the optimum, so their
    weights matter) were appended last in the live process but sorted first in a fresh one, so
    the two proposed differently on the same history."""
    db1, db2 = tmp_path / "a.db", tmp_path / "b.db"
    url1 = f"sqlite:///{db1}"
    filler = hpopt.create_study(storage=url1, study_name="s", sampler="random", seed=3)
    filler.optimize(_obj, n_trials=40)
    live = hpopt.load_study(study_name="s", storage=url1, sampler=hpopt.TPESampler(seed=0))
    live.optimize(_obj, n_trials=1)  # the live sampler's rows are built now
    for i in range(20):
        live.add_trial(_old_trial(30.0 + i, {"x": 0.5 + 0.05 * i, "y": -2.0}, 1000.0 + i))
    src, dst = sqlite3.connect(db1), sqlite3.connect(db2)
    src.backup(dst)
    src.close()
    dst.close()
    fresh = hpopt.load_study(study_name="s", storage=f"sqlite:///{db2}", sampler=hpopt.TPESampler(seed=0))
    for _ in range(5):
        a, b = live.ask(), fresh.ask()
        assert a.number == b.number
        pa = (a.suggest_float("x", -5, 5), a.suggest_float("y", -5, 5))
        assert pa == (b.suggest_float("x", -5, 5), b.suggest_float("y", -5, 5))
        live.tell(a, _obj(a))
        fresh.tell(b, _obj(b))


def _branch_obj(t: Any) -> float:
    x = t.suggest_float("x", -5, 5)
    b = t.suggest_categorical("b", ["u", "v"])
    y = t.suggest_float(f"y_{b}", -5, 5)
    return (x - 1) ** 2 + (y - (1 if b == "u" else -1)) ** 2 + (b == "v")


def test_cmaes_branch_warm_start_is_the_same_in_a_fresh_process_after_adding_old_trials(
    tmp_path: Any, quiet_hpopt: None
) -> None:
    """CMA-ES's conditional branches (BranchSampler) hand over from TPE to a CMA-ES warm-started
    from the branch's first h(d) trials in finish order, built once per process; trials of the
    branch added later with earlier finish times change that set in a fresh process."""
    db1, db2 = tmp_path / "a.db", tmp_path / "b.db"
    live = hpopt.create_study(storage=f"sqlite:///{db1}", study_name="s", sampler=hpopt.CmaEsSampler(seed=0))
    live.optimize(_branch_obj, n_trials=40)
    dists = {"x": Float(-5, 5), "b": hpopt.Categorical(["u", "v"]), "y_u": Float(-5, 5)}
    for i in range(6):
        live.add_trial(FrozenTrial(0, TrialState.COMPLETE, (30.0 + i,),
                                   params={"x": 1.0, "b": "u", "y_u": 4.0 - 0.1 * i}, distributions=dists,
                                   started=1000.0 + i, finished=1000.5 + i))
    src, dst = sqlite3.connect(db1), sqlite3.connect(db2)
    src.backup(dst)
    src.close()
    dst.close()
    fresh = hpopt.load_study(study_name="s", storage=f"sqlite:///{db2}", sampler=hpopt.CmaEsSampler(seed=0))
    for _ in range(3):
        a, b = live.ask(), fresh.ask()
        va, vb = _branch_obj(a), _branch_obj(b)
        assert (a.number, dict(a.params)) == (b.number, dict(b.params))
        live.tell(a, va)
        fresh.tell(b, vb)
