"""ForecastPruner: prunes as hard as the finished curves show early ranks predict final ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hpopt
from hpopt.pruners import ForecastPruner

STEPS = 27


def _run(curve_of, *, n_trials: int = 40, direction: str = "minimize", **settings) -> hpopt.Study:
    study = hpopt.create_study(pruner=ForecastPruner(**settings), direction=direction, seed=0)

    def objective(trial: hpopt.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        c = curve_of(x, trial.number)
        for step in range(1, STEPS + 1):
            trial.report(float(c[step - 1]), step)
            if trial.should_prune():
                raise hpopt.TrialPruned()
        return float(c[-1])

    study.optimize(objective, n_trials=n_trials)
    return study


def _predictive(x: float, number: int) -> np.ndarray:
    """Curves that never cross: the final order is the order at every step."""
    t = np.arange(1, STEPS + 1)
    return x + 1.0 / t


def _uninformative(x: float, number: int) -> np.ndarray:
    """Early values are noise unrelated to the final value (which depends on x alone)."""
    rng = np.random.default_rng(number)
    t = np.arange(1, STEPS + 1)
    early = rng.uniform(0, 10, size=STEPS)
    w = (t == STEPS).astype(float)
    return w * x + (1 - w) * early


def test_predictive_curves_prune_most_trials_and_keep_the_best() -> None:
    study = _run(_predictive)
    pruned = study.get_trials(["pruned"])
    assert len(pruned) >= 15
    complete_x = [t.params["x"] for t in study.get_trials(["complete"])]
    all_x = [t.params["x"] for t in study.trials]
    assert min(complete_x) == min(all_x)  # the best configuration ran to the end


def test_uninformative_early_values_prune_nothing() -> None:
    study = _run(_uninformative)
    assert study.get_trials(["pruned"]) == []


def test_maximize_prunes_the_low_values() -> None:
    study = _run(lambda x, n: -_predictive(x, n), direction="maximize")
    pruned = study.get_trials(["pruned"])
    assert len(pruned) >= 15
    best_complete = max(t.value for t in study.get_trials(["complete"]))
    assert best_complete == pytest.approx(-min(t.params["x"] for t in study.trials) - 1.0 / STEPS)


def test_nothing_is_pruned_before_the_startup_trials() -> None:
    study = _run(_predictive, n_trials=8, n_startup_trials=8)
    assert study.get_trials(["pruned"]) == []


def test_forecast_is_none_without_basis_and_falls_with_a_worse_rank() -> None:
    pruner = ForecastPruner(n_startup_trials=4, confidence=0.5)
    study = _run(_predictive, n_trials=10, n_startup_trials=4, confidence=0.5)
    history = study._history
    good = study.ask()
    good.suggest_float("x", 0.0, 1.0)
    good.report(0.0, 3)
    bad = study.ask()
    bad.suggest_float("x", 0.0, 1.0)
    bad.report(5.0, 3)
    p_good = pruner.forecast(history, good.snapshot())
    p_bad = pruner.forecast(history, bad.snapshot())
    assert p_good is not None and p_bad is not None
    assert 0.0 <= p_bad < p_good <= 1.0
    late = study.ask()
    late.suggest_float("x", 0.0, 1.0)
    late.report(5.0, STEPS)  # at the end of the finished curves: no decision
    assert pruner.forecast(history, late.snapshot()) is None
    empty = hpopt.create_study()
    t = empty.ask()
    t.report(1.0, 1)
    assert pruner.forecast(empty._history, t.snapshot()) is None


def test_nan_reports_rank_worst() -> None:
    def curves(x: float, number: int) -> np.ndarray:
        c = _predictive(x, number)
        if number >= 10 and number % 2 == 0:
            c = c.copy()
            c[:3] = math.nan
        return c

    study = _run(curves)
    nan_trials = [t for t in study.trials if t.number >= 10 and t.number % 2 == 0]
    assert all(t.state is hpopt.TrialState.PRUNED for t in nan_trials)


def test_refuses_several_objectives() -> None:
    study = hpopt.create_study(directions=["minimize", "minimize"], pruner=ForecastPruner())
    t = study.ask()
    t.report([1.0, 2.0], 1)
    with pytest.raises(ValueError, match="one objective"):
        t.should_prune()


def test_checkpoints_are_geometric() -> None:
    assert ForecastPruner(min_resource=1, reduction_factor=3).checkpoints(100) == [1, 3, 9, 27, 81]
    assert ForecastPruner(min_resource=2, reduction_factor=2).checkpoints(20) == [2, 4, 8, 16]
