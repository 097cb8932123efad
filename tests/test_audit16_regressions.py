"""Regressions from audit 16: porting an Optuna codebase to hpopt (silent differences).

1. ``enqueue_trial(..., user_attrs=...)``: the objective's ``trial.user_attrs`` did not show the
   attributes the trial was enqueued with (Optuna shows them), in ask/tell, ``optimize`` and the
   executor path alike.
2. An objective returning a real scalar of another library (a 0-d PyTorch tensor, a ``Decimal``),
   accepted by Optuna, failed every trial; ``report`` of one raised.
3. ``enqueue_trial(skip_if_exists=True)`` compares only the given parameters (documented now;
   Optuna requires the same parameter names): pinned so that a change is deliberate.
"""

from __future__ import annotations

import decimal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt.trial import real_value


# -- 1. enqueued user attributes are visible to the objective ---------------------------------------
@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_enqueued_user_attrs_visible_in_ask_tell(tmp_path: Any, storage: str, quiet_hpopt: None) -> None:
    url = None if storage == "memory" else f"sqlite:///{tmp_path / 's.db'}"
    study = hpopt.create_study(storage=url, sampler="random", seed=0)
    study.enqueue_trial({"x": 0.5}, user_attrs={"src": "manual", "nested": {"k": [1, 2]}})
    trial = study.ask()
    assert trial.user_attrs == {"src": "manual", "nested": {"k": [1, 2]}}
    trial.suggest_float("x", 0, 1)
    trial.set_user_attr("src", "overridden")
    trial.set_user_attr("extra", 1)
    assert trial.user_attrs["src"] == "overridden"
    ft = study.tell(trial, 1.0)
    assert dict(ft.user_attrs) == {"src": "overridden", "nested": {"k": [1, 2]}, "extra": 1}
    fresh = study.ask()  # not enqueued: nothing inherited
    assert fresh.user_attrs == {}
    study.tell(fresh, 2.0)


def test_enqueued_user_attrs_visible_in_optimize(quiet_hpopt: None) -> None:
    seen: list[dict[str, Any]] = []

    def objective(trial: hpopt.Trial) -> float:
        seen.append(dict(trial.user_attrs))
        return trial.suggest_float("x", 0, 1)

    study = hpopt.create_study(sampler="random", seed=0)
    study.enqueue_trial({"x": 0.25}, user_attrs={"src": "manual"})
    study.optimize(objective, n_trials=2)
    assert seen == [{"src": "manual"}, {}]
    assert [dict(t.user_attrs) for t in study.trials] == [{"src": "manual"}, {}]


def test_enqueued_user_attrs_visible_in_executor_workers(quiet_hpopt: None) -> None:
    def objective(trial: Any) -> float:
        trial.set_user_attr("seen", dict(trial.user_attrs))
        return trial.suggest_float("x", 0, 1)

    study = hpopt.create_study(sampler="random", seed=0)
    study.enqueue_trial({"x": 0.25}, user_attrs={"src": {"a": [1]}})
    with ThreadPoolExecutor(max_workers=1) as pool:
        study.optimize(objective, n_trials=2, executor=pool)
    first, second = study.trials
    assert dict(first.user_attrs) == {"src": {"a": [1]}, "seen": {"src": {"a": [1]}}}
    assert dict(second.user_attrs) == {"seen": {}}


# -- 2. real scalars of other libraries -------------------------------------------------------------
class _Scalar:
    """A 0-d tensor stand-in: ``__float__`` and an empty shape (as torch.tensor(0.25))."""

    def __init__(self, value: float, shape: tuple[int, ...] = (), dtype: str = "torch.float32") -> None:
        self.value, self.shape, self.dtype = value, shape, dtype

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        return f"_Scalar({self.value}, shape={self.shape}, dtype={self.dtype})"


def test_real_value_takes_dimensionless_scalars() -> None:
    assert real_value("v", _Scalar(0.25)) == 0.25
    assert real_value("v", decimal.Decimal("0.5")) == 0.5
    for bad in (_Scalar(0.25, shape=(1,)), _Scalar(1.0, dtype="torch.bool"),
                _Scalar(1.0, dtype="torch.complex64"), np.complex128(1.0), 1j, "1.5", None, True,
                np.array([1.0]), decimal.Decimal("sNaN")):
        with pytest.raises(TypeError, match="must be a real number"):
            real_value("v", bad)


def test_objective_returning_a_tensor_like_scalar_completes(quiet_hpopt: None) -> None:
    study = hpopt.create_study(sampler="random", seed=0)

    def objective(trial: hpopt.Trial) -> Any:
        x = trial.suggest_float("x", 0, 1)
        trial.report(_Scalar(x + 1.0), 0)
        return _Scalar(x) if trial.number % 2 else decimal.Decimal(str(x))

    study.optimize(objective, n_trials=4)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert all(t.value == pytest.approx(t.params["x"]) for t in study.trials)
    assert all(t.intermediate_values[0] == pytest.approx(t.params["x"] + 1) for t in study.trials)
    mo = hpopt.create_study(directions=["minimize", "maximize"], sampler="random", seed=0)
    mo.optimize(lambda t: (_Scalar(t.suggest_float("x", 0, 1)), _Scalar(2.0)), n_trials=1)
    assert mo.trials[0].state.name == "COMPLETE" and mo.trials[0].values[1] == 2.0


def test_torch_scalar_tensor_accepted(quiet_hpopt: None) -> None:
    torch = pytest.importorskip("torch")
    study = hpopt.create_study(sampler="random", seed=0)
    study.optimize(lambda t: torch.tensor(t.suggest_float("x", 0, 1), requires_grad=True) ** 2, n_trials=2)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    trial = study.ask()
    with pytest.raises(TypeError, match="must be a real number"):
        study.tell(trial, torch.tensor([0.5, 0.5]))  # a tensor with dimensions is not a scalar
    study.tell(trial, torch.tensor(0.5))
    assert study.trials[-1].value == 0.5


# -- 3. skip_if_exists compares only the given parameters (documented) -----------------------------
def test_skip_if_exists_compares_only_the_given_parameters(quiet_hpopt: None) -> None:
    study = hpopt.create_study(sampler="random", seed=0)
    for opt in ("adam", "sgd"):
        study.enqueue_trial({"optimizer": opt, "lr": 0.01})
    study.optimize(lambda t: t.suggest_float("lr", 1e-4, 1.0, log=True)
                   + len(t.suggest_categorical("optimizer", ["adam", "sgd"])), n_trials=2)
    assert study.enqueue_trial({"optimizer": "adam"}, skip_if_exists=True) is None
    assert study.enqueue_trial({"optimizer": "adam", "lr": 0.02}, skip_if_exists=True) is not None


# -- 4. recorded dicts and lists dump to YAML as plain ones -------------------------------------------
