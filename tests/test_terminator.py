"""The terminator: stops on noise-level improvements, not on unexplored ones; settings; odd studies."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

import hpopt
from hpopt import Float
from hpopt.terminator import Terminator, cv_standard_error, regret_bound, ucb_beta


def _noisy(seed: int):
    rng = np.random.default_rng(seed)

    def objective(trial: hpopt.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        y = trial.suggest_float("y", -1, 1)
        return (x - 0.3) ** 2 + (y + 0.2) ** 2 + rng.normal(0.0, 0.3)

    return objective


def test_noisy_function_stops_before_the_budget(caplog) -> None:
    # noise sd 0.3 on a bowl of depth ~2: the bound settles near 0.4-0.7 (the GP's uncertainty
    # about the noisy incumbent) and crosses an error of 1.0 well before the budget
    stop = Terminator(error=1.0, min_n_trials=15, n_candidates=256, seed=0)
    study = hpopt.create_study(sampler="random", seed=0)
    with caplog.at_level(logging.INFO, logger="hpopt"):
        study.optimize(_noisy(0), n_trials=60, callbacks=[stop])
    assert stop.stopped and len(study.trials) < 45
    assert stop.last_bound is not None and stop.last_bound < stop.last_threshold == 1.0
    assert "regret bound" in stop.reason and "< error 1 " in stop.reason
    assert any("terminator: stopping" in r.getMessage() for r in caplog.records)


def test_unexplored_improvement_does_not_stop() -> None:
    """Trials only in the right half of a steep slope: the GP cannot rule out the left half."""
    study = hpopt.create_study(sampler="random", seed=0)
    for x in np.linspace(0.5, 1.0, 12):
        study.enqueue_trial({"x": float(x)})
    stop = Terminator(error=0.1, min_n_trials=5, n_candidates=256, seed=0)
    study.optimize(lambda t: 10.0 * t.suggest_float("x", 0, 1), n_trials=12, callbacks=[stop])
    assert len(study.trials) == 12 and not stop.stopped
    assert stop.last_bound > 1.0


def test_does_not_stop_before_min_n_trials() -> None:
    stop = Terminator(error=1e6, min_n_trials=8)
    study = hpopt.create_study(sampler="random", seed=1)
    study.optimize(_noisy(1), n_trials=20, callbacks=[stop])
    assert len(study.trials) == 8 and stop.stopped and stop.last_n_trials == 8


def test_maximize_uses_the_right_direction() -> None:
    """Maximizing -f must give the bound minimizing f gives (the values are negated)."""
    def run(direction: str, sign: float) -> float:
        study = hpopt.create_study(sampler="random", seed=3, direction=direction)
        for x in np.linspace(0.5, 1.0, 8):
            study.enqueue_trial({"x": float(x)})
        study.optimize(lambda t: sign * 10.0 * t.suggest_float("x", 0, 1), n_trials=8)
        stop = Terminator(error=0.1, min_n_trials=5)
        assert not stop.check(study)
        return stop.last_bound

    assert run("minimize", 1.0) == pytest.approx(run("maximize", -1.0), rel=1e-6)


def test_fail_and_pruned_trials_are_ignored() -> None:
    study = hpopt.create_study(sampler="random", seed=2)
    obj = _noisy(2)
    for i in range(30):
        t = study.ask()
        v = obj(t)
        if i % 5 == 1:
            study.tell(t, state="fail")
        elif i % 5 == 2:
            t.report(v, 1)
            study.tell(t, state="pruned")
        else:
            study.tell(t, v)
    stop = Terminator(error=0.3, min_n_trials=10)
    stop.check(study)
    assert stop.last_n_trials == 18 and math.isfinite(stop.last_bound)


def test_conditional_space_uses_the_shared_parameters() -> None:
    def objective(trial: hpopt.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        x = trial.suggest_float("x", -1, 1)
        extra = trial.suggest_float("xa", 0, 1) if kind == "a" else trial.suggest_int("nb", 0, 3)
        return x**2 + 0.1 * extra

    study = hpopt.create_study(sampler="random", seed=4)
    study.optimize(objective, n_trials=20)
    bound, n_params = regret_bound(study.get_trials(states=["complete"]))
    assert n_params == 2 and math.isfinite(bound) and bound >= 0  # kind and x


def test_infinite_values_and_constant_objective() -> None:
    study = hpopt.create_study(sampler="random", seed=5)
    study.optimize(lambda t: 1.0 if t.suggest_float("x", 0, 1) < 0.9 else math.inf, n_trials=15)
    stop = Terminator(error=0.01, min_n_trials=5)
    stop.check(study)
    assert math.isfinite(stop.last_bound)
    # no parameter varies: nothing left to find
    study = hpopt.create_study()
    study.optimize(lambda t: t.suggest_float("c", 2.0, 2.0), n_trials=3)
    assert Terminator(error=0.1, min_n_trials=2).check(study)


def test_error_from_fold_scores() -> None:
    scores = [0.8, 0.82, 0.79, 0.85, 0.81]
    expected = math.sqrt((1 / 5 + 1 / 4) * np.var(scores, ddof=1))
    assert cv_standard_error(scores) == pytest.approx(expected)

    def objective(trial: hpopt.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        trial.set_user_attr("cv", [x, x + 0.5, x - 0.5])
        return x

    study = hpopt.create_study(sampler="random", seed=6)
    stop = Terminator(error_attr="cv", min_n_trials=5)
    study.optimize(objective, n_trials=10, callbacks=[stop])
    assert stop.last_threshold == pytest.approx(cv_standard_error([0, 0.5, -0.5]))


def test_error_attr_missing_or_bad_is_a_clear_error() -> None:
    study = hpopt.create_study(sampler="random", seed=7)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    with pytest.raises(ValueError, match="no user attribute 'cv'"):
        Terminator(error_attr="cv", min_n_trials=2).check(study)
    study = hpopt.create_study(sampler="random", seed=7)

    def objective(trial: hpopt.Trial) -> float:
        trial.set_user_attr("cv", ["a", "b"])
        return trial.suggest_float("x", 0, 1)

    study.optimize(objective, n_trials=3)
    with pytest.raises(ValueError, match="real numbers"):
        Terminator(error_attr="cv", min_n_trials=2).check(study)
    for bad in ([1.0], [1.0, math.nan], "12", 3.0):
        with pytest.raises(ValueError):
            cv_standard_error(bad)  # type: ignore[arg-type]


def test_multi_objective_refused() -> None:
    study = hpopt.create_study(directions=["minimize", "maximize"])
    with pytest.raises(ValueError, match="one objective"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1,
                       callbacks=[Terminator(error=0.1)])


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({}, ValueError, "exactly one"),
        ({"error": 0.1, "error_attr": "cv"}, ValueError, "exactly one"),
        ({"error": 0.0}, ValueError, "error > 0"),
        ({"error": -1.0}, ValueError, "error > 0"),
        ({"error": math.inf}, ValueError, "error > 0"),
        ({"error": math.nan}, ValueError, "error > 0"),
        ({"error": "0.1"}, TypeError, "error"),
        ({"error": True}, TypeError, "error"),
        ({"error_attr": ""}, TypeError, "error_attr"),
        ({"error_attr": 3}, TypeError, "error_attr"),
        ({"error": 0.1, "min_n_trials": 1}, ValueError, "min_n_trials >= 2"),
        ({"error": 0.1, "min_n_trials": 2.5}, TypeError, "min_n_trials"),
        ({"error": 0.1, "n_candidates": 3}, ValueError, "n_candidates >= 16"),
        ({"error": 0.1, "seed": -1}, ValueError, "seed >= 0"),
        ({"error": 0.1, "top_fraction": 0.0}, ValueError, "top_fraction"),
        ({"error": 0.1, "top_fraction": 1.5}, ValueError, "top_fraction"),
        ({"error": 0.1, "top_fraction": "half"}, ValueError, "top_fraction"),
    ],
)
def test_bad_settings_refused(kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        Terminator(**kwargs)


def test_beta_schedule() -> None:
    assert ucb_beta(2, 10) == pytest.approx(2 * math.log(2 * 100 * math.pi**2 / 0.6) / 5)
    assert ucb_beta(2, 20) > ucb_beta(2, 10) and ucb_beta(5, 10) > ucb_beta(2, 10)


def test_regret_bound_shrinks_with_dense_data() -> None:
    """Noise-free quadratic densely sampled: a small bound; sparse: a larger one."""
    def bound(n: int) -> float:
        study = hpopt.create_study(sampler="random", seed=8)
        for x in np.linspace(0, 1, n):
            study.enqueue_trial({"x": float(x)})
        study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.37) ** 2, n_trials=n)
        return regret_bound(study.get_trials(states=["complete"]))[0]

    assert bound(25) < bound(4)
    assert bound(25) < 0.05


def test_changed_range_is_modelled_over_the_union() -> None:
    space = {"x": Float(0, 1)}
    study = hpopt.create_study(sampler="random", seed=9)
    for _ in range(6):
        t = study.ask(space)
        study.tell(t, t.params["x"])
    t = study.ask({"x": Float(0, 2)})  # a widened range: x still varies, modelled on [0, 2]
    study.tell(t, 0.5)
    bound, n_params = regret_bound(study.get_trials(states=["complete"]))
    assert n_params == 1 and bound > 0
