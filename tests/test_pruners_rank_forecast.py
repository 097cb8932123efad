"""Successive halving and Hyperband with ``rank_by="forecast"``: rungs ranked by a forecast of the
final loss (hpopt.pruners.curvegp) instead of the loss at the rung."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt.pruners import HyperbandPruner, SuccessiveHalvingPruner
from hpopt.pruners.curvegp import fit_curve_gp
from hpopt.testing_pruners import check_pruner

STEPS = 27


def crossing(x: float, number: int = 0) -> np.ndarray:
    """Slow learners end best: plateau 0.1 + x, time-scale 1 + 6 (1 - x)^2. At steps 1 and 3 the
    best configurations (x near 0) rank among the worst; from step 9 on they lead."""
    t = np.arange(1, STEPS + 1, dtype=float)
    f = 0.1 + x
    y = f + (1.5 - f) * np.exp(-t / (1.0 + 6.0 * (1.0 - x) ** 2))
    return y + np.random.default_rng(number).normal(0.0, 0.002, STEPS)


def _finished(study: hpopt.Study, xs: Any, curve=crossing, upto: int = STEPS) -> None:
    for x in xs:
        study.enqueue_trial({"x": float(x)})
        t = study.ask()
        t.suggest_float("x", 0.0, 1.0)
        c = curve(float(x), t.number)
        for s in range(1, upto + 1):
            t.report(float(c[s - 1]), s)
        if upto == STEPS:
            study.tell(t, float(c[-1]))
        else:
            study.tell(t, state="pruned")


def _candidate(study: hpopt.Study, x: float, upto: int) -> hpopt.Trial:
    study.enqueue_trial({"x": x})
    t = study.ask()
    t.suggest_float("x", 0.0, 1.0)
    c = crossing(x, 999)
    for s in range(1, upto + 1):
        t.report(float(c[s - 1]), s)
    return t


def _decision(pruner: Any, study: hpopt.Study, trial: hpopt.Trial) -> bool:
    study._storage.sync()
    return bool(pruner.prune(study._history, trial.snapshot()))


@pytest.mark.parametrize("upto", [1, 3])
def test_forecast_keeps_the_slow_learner_that_observed_ranking_prunes(upto: int) -> None:
    study = hpopt.create_study(seed=0)
    _finished(study, np.linspace(0.05, 1.0, 24))
    cand = _candidate(study, 0.02, upto)
    observed = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, rank_by="observed")
    forecast = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, rank_by="forecast")
    assert _decision(observed, study, cand) is True  # worst-ranked at the rung
    assert _decision(forecast, study, cand) is False  # forecast to end best
    # ... and a fast learner with a bad plateau that looks good early is pruned by the forecast.
    fast = _candidate(study, 0.7 if upto == 1 else 0.55, upto)  # the best values at the rung
    assert _decision(observed, study, fast) is False
    assert _decision(forecast, study, fast) is True


def test_forecast_is_the_final_loss_where_the_data_are() -> None:
    study = hpopt.create_study(seed=0)
    _finished(study, np.linspace(0.0, 1.0, 30))
    trials = study._history.finished()
    sign = np.ones(1)
    model = fit_curve_gp(list(trials), sign, [1, 3, 9], None)
    assert model is not None
    x = np.array([[0.1], [0.5], [0.9]])
    empty = (np.empty(0, dtype=np.int64), np.empty(0))
    mu, sd = model.forecast(x, [empty] * 3, [-1, -2, -3])
    truth = np.array([crossing(v)[-1] for v in x[:, 0]])
    assert np.all(np.abs(mu - truth) < 0.05), (mu, truth)
    assert np.all(sd > 0) and np.all(sd < 0.1)


def test_unexplored_configurations_get_a_wider_forecast() -> None:
    # Only x >= 0.5 ran to the end; x near 0 was seen at step 1 only (pruned there).
    study = hpopt.create_study(seed=0)
    _finished(study, np.linspace(0.5, 1.0, 16))
    _finished(study, np.linspace(0.0, 0.45, 10), upto=1)
    model = fit_curve_gp(list(study._history.finished()), np.ones(1), [1, 3, 9], None)
    assert model is not None
    empty = (np.empty(0, dtype=np.int64), np.empty(0))
    _, sd = model.forecast(np.array([[0.05], [0.8]]), [empty, empty], [-1, -2])
    assert sd[0] > 2 * sd[1]


def test_too_few_finished_trials_make_no_decision() -> None:
    """The warm-up: before ``forecast_min_trials`` trials have finished a rung does not prune
    (the observed rule would), so the first trials run on and the model starts from whole curves."""
    study = hpopt.create_study(seed=0)
    _finished(study, np.linspace(0.05, 1.0, 9))  # 9 < forecast_min_trials = 10
    cand = _candidate(study, 0.02, 1)  # the worst at step 1 (a slow learner)
    forecast = SuccessiveHalvingPruner(rank_by="forecast", forecast_min_trials=10)
    observed = SuccessiveHalvingPruner(rank_by="observed")
    assert _decision(observed, study, cand) is True
    assert _decision(forecast, study, cand) is False
    # With the 10th finished trial the model takes over: the slow learner is kept, and a fast
    # learner with a bad plateau (among the best at step 1) is pruned.
    _finished(study, [0.5])
    cand2 = _candidate(study, 0.02, 1)
    assert _decision(SuccessiveHalvingPruner(rank_by="forecast"), study, cand2) is False
    fast = _candidate(study, 0.7, 1)
    assert _decision(SuccessiveHalvingPruner(rank_by="forecast"), study, fast) is True


def test_no_evidence_past_the_rung_makes_no_decision() -> None:
    # Every finished trial stopped at step 3: nothing is known past rung 3, so rung 3 waits
    # (the observed rule would prune the candidate, the worst there).
    study = hpopt.create_study(seed=0)
    _finished(study, np.linspace(0.05, 1.0, 20), upto=3)
    cand = _candidate(study, 0.02, 3)
    assert _decision(SuccessiveHalvingPruner(rank_by="observed"), study, cand) is True
    assert _decision(SuccessiveHalvingPruner(rank_by="forecast"), study, cand) is False


def test_two_pruners_on_the_same_history_decide_alike() -> None:
    rng = np.random.default_rng(1)
    study = hpopt.create_study(seed=0)
    warm = SuccessiveHalvingPruner(rank_by="forecast", forecast_min_trials=6)
    for x in rng.uniform(0, 1, 30):  # `warm` sees the history grow, decision by decision
        _finished(study, [x])
        probe = _candidate(study, float(rng.uniform()), 1)
        _decision(warm, study, probe)
        study.tell(probe, state="pruned")
    cold = SuccessiveHalvingPruner(rank_by="forecast", forecast_min_trials=6)
    decisions = []
    for x in np.linspace(0.0, 1.0, 12):
        cand = _candidate(study, float(x), 3)
        a, b = _decision(warm, study, cand), _decision(cold, study, cand)
        assert a == b
        decisions.append(a)
        study.tell(cand, state="pruned")
    assert any(decisions) and not all(decisions)  # the test is not vacuous


def test_multi_objective_keeps_the_observed_rule() -> None:
    def run(rank_by: str) -> list[str]:
        study = hpopt.create_study(directions=["minimize", "minimize"], seed=0,
                                   pruner=SuccessiveHalvingPruner(rank_by=rank_by))
        rng = np.random.default_rng(0)
        for n in range(30):
            t = study.ask()
            x = t.suggest_float("x", 0.0, 1.0)
            c = crossing(x, n)
            for s in range(1, STEPS + 1):
                t.report([float(c[s - 1]), float(rng.uniform())], s)
                if t.should_prune():
                    study.tell(t, state="pruned")
                    break
            else:
                study.tell(t, [float(c[-1]), 0.5])
        return [t.state.name for t in study.trials]

    assert run("forecast") == run("observed")


def test_study_with_forecast_ranking_finds_the_slow_learner() -> None:
    def best_final(pruner: Any) -> tuple[float, int]:
        study = hpopt.create_study(pruner=pruner, sampler="random", seed=3)

        def objective(trial: hpopt.Trial) -> float:
            c = crossing(trial.suggest_float("x", 0.0, 1.0), trial.number)
            for s in range(1, STEPS + 1):
                trial.report(float(c[s - 1]), s)
                if trial.should_prune():
                    raise hpopt.TrialPruned()
            return float(c[-1])

        study.optimize(objective, n_trials=60)
        steps = sum(t.last_step or 0 for t in study.trials)
        return min(t.value for t in study.get_trials(["complete"])), steps

    observed, s_obs = best_final(SuccessiveHalvingPruner(max_resource=STEPS, rank_by="observed"))
    forecast, s_fc = best_final(SuccessiveHalvingPruner(max_resource=STEPS, rank_by="forecast"))
    hb, s_hb = best_final(HyperbandPruner(max_resource=STEPS, rank_by="forecast"))
    assert forecast < observed - 0.2, (forecast, observed)
    assert hb < observed - 0.2, (hb, observed)
    assert s_fc < 0.5 * 60 * STEPS and s_hb < 0.5 * 60 * STEPS  # still prunes most steps


@pytest.mark.parametrize("cls", [SuccessiveHalvingPruner, HyperbandPruner])
@pytest.mark.parametrize(
    "bad, match",
    [
        ({"rank_by": "median"}, "rank_by"),
        ({"rank_by": 1}, "rank_by"),
        ({"rank_by": None}, "rank_by"),
        ({"forecast_min_trials": 2}, "forecast_min_trials"),
        ({"forecast_min_trials": 5.5}, "forecast_min_trials"),
        ({"forecast_min_trials": True}, "forecast_min_trials"),
        ({"forecast_optimism": -0.1}, "forecast_optimism"),
        ({"forecast_optimism": math.nan}, "forecast_optimism"),
        ({"forecast_optimism": math.inf}, "forecast_optimism"),
        ({"forecast_optimism": "1"}, "forecast_optimism"),
    ],
)
def test_bad_settings_raise(cls: Any, bad: dict[str, Any], match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        cls(**bad)


def test_repr_names_the_ranking() -> None:
    assert "rank_by='forecast'" in repr(SuccessiveHalvingPruner())  # the default there
    assert "rank_by='observed'" in repr(HyperbandPruner())  # and here
    assert "rank_by='forecast'" in repr(HyperbandPruner(rank_by="forecast"))


@pytest.mark.parametrize("cls", [SuccessiveHalvingPruner, HyperbandPruner])
def test_conformance_battery(cls: Any) -> None:
    check_pruner(lambda **kw: cls(**{"rank_by": "forecast", "forecast_min_trials": 3, **kw}),
                 invalid_settings=[{"rank_by": "x"}, {"forecast_optimism": -1.0}])


@pytest.mark.filterwarnings("ignore::hpopt.FailedTrialWarning")
def test_nan_and_constant_histories_do_not_break_the_model() -> None:
    study = hpopt.create_study(seed=0)
    _finished(study, np.linspace(0, 1, 12), curve=lambda x, n: np.full(STEPS, 0.5))
    cand = _candidate(study, 0.3, 3)
    assert isinstance(_decision(SuccessiveHalvingPruner(rank_by="forecast"), study, cand), bool)
    study2 = hpopt.create_study(seed=0)
    _finished(study2, np.linspace(0, 1, 12),
              curve=lambda x, n: np.where(np.arange(STEPS) % 2 == (n % 2), math.nan, crossing(x, n)))
    cand2 = _candidate(study2, 0.3, 3)
    assert isinstance(_decision(SuccessiveHalvingPruner(rank_by="forecast"), study2, cand2), bool)
