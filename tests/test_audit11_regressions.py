"""Regression tests from an audit of the pruners (part 11): Hyperband's bracket cycle, the forecast
pruner's infinite finals and best-so-far trials, overflow warnings of the curve model."""

from __future__ import annotations

import math
import tracemalloc
import warnings

import numpy as np
import pytest

import hpopt
from hpopt.pruners import ForecastPruner, HyperbandPruner, SuccessiveHalvingPruner


def _study(pruner, direction="minimize"):
    return hpopt.create_study(pruner=pruner, sampler="random", seed=0, direction=direction)


def _add(study, reports, value=None):
    t = study.ask()
    t.suggest_float("x", 0.0, 1.0)
    for step, v in reports:
        t.report(v, step)
    study.tell(t, reports[-1][1] if value is None else value)


def _reference_cycle(shares):
    """Hyperband's bracket cycle as first written (smooth weighted round-robin, built whole)."""
    total = sum(shares)
    credit = [0] * len(shares)
    out = []
    for _ in range(total):
        for b, w in enumerate(shares):
            credit[b] += w
        pick = max(range(len(shares)), key=lambda b: (credit[b], -b))
        credit[pick] -= total
        out.append(pick)
    return out


def test_hyperband_large_max_resource_does_not_build_its_whole_cycle():
    # max_resource=10**6 built an 834,008-entry list at construction (2.9 s); 10**7 took 40 s and
    # 10**9 (598 million positions) would take about an hour and gigabytes.
    tracemalloc.start()
    try:
        pruner = HyperbandPruner(max_resource=10**6)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert 0 <= pruner.bracket_of(123_456) < pruner.n_brackets
    huge = HyperbandPruner(max_resource=10**9)
    counts = np.bincount([huge.bracket_of(n) for n in range(2000)], minlength=huge.n_brackets)
    assert counts[0] > counts[1] > counts[2] > 0
    # The assignment itself is unchanged: the same cycle, position by position, asked in any order.
    for kw in ({"max_resource": 100}, {"max_resource": 27}, {"max_resource": 100, "reduction_factor": 1.5}):
        p = HyperbandPruner(**kw)
        ref = _reference_cycle(p.bracket_shares)
        got = [p.bracket_of(n) for n in reversed(range(2 * len(ref)))][::-1]
        assert got == ref * 2


def _forecast_with_final(final0: float) -> tuple[float | None, bool]:
    study = _study(ForecastPruner(n_startup_trials=4, confidence=0.5))
    for a in range(8):
        _add(study, [(s, a + 1.0 / s) for s in range(1, 30)], value=final0 if a == 0 else float(a))
    t = study.ask()
    t.suggest_float("x", 0.0, 1.0)
    t.report(1.5, 1)
    p = study.pruner.forecast(study._history, t.snapshot())
    return p, t.should_prune()


def test_forecast_infinite_final_value_is_the_worst_not_the_last_report():
    # Trial 0 reported the best curve but ended at +inf: it was read as its last report (the best
    # final), so the curves looked perfectly rank-correlated and a 1.5 at step 1 was pruned; with
    # a final of 1e300 the same trial was (rightly) the worst and nothing was pruned.
    p_inf, pruned_inf = _forecast_with_final(math.inf)
    p_big, pruned_big = _forecast_with_final(1e300)
    assert p_inf == pytest.approx(p_big)
    assert pruned_inf is pruned_big is False


def test_forecast_never_prunes_a_trial_first_at_its_step():
    # Below the sample's resolution (top < 0.5 / (n + 1)) the best trial so far was pruned: here a
    # report below every value any trial ever reported, or reached as a final.
    study = _study(ForecastPruner(top=0.05))
    for a in range(5):
        _add(study, [(s, a + 1.0 / s) for s in range(1, 28)])
    t = study.ask()
    t.suggest_float("x", 0.0, 1.0)
    t.report(-1.0, 1)
    assert not t.should_prune()
    # Tied with the best finished trial (constant curves), default settings, five finished trials.
    study = _study(ForecastPruner())
    for a in range(5):
        _add(study, [(s, float(a)) for s in range(1, 28)])
    t = study.ask()
    t.suggest_float("x", 0.0, 1.0)
    t.report(0.0, 1)
    assert not t.should_prune()
    # A trial behind the best is still pruned as before.
    t = study.ask()
    t.suggest_float("x", 0.0, 1.0)
    t.report(3.5, 1)
    assert t.should_prune()


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_forecast_ranking_prints_no_overflow_warning_on_huge_losses(direction):
    # Losses beyond ~1e154 overflowed the curve model's std ("overflow encountered in square");
    # the model was dropped (observed rule) but numpy warnings reached the user.
    sign = 1.0 if direction == "minimize" else -1.0
    study = _study(SuccessiveHalvingPruner(forecast_min_trials=5), direction)
    for a in range(10):
        _add(study, [(s, sign * 1e200 * (a + 1.0 / s)) for s in range(1, 30)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = study.ask()
        t.suggest_float("x", 0.0, 1.0)
        t.report(sign * 1e200 * 50.0, 1)
        assert t.should_prune()  # the observed rule: worst of 11 at the rung
        t2 = study.ask()
        t2.suggest_float("x", 0.0, 1.0)
        t2.report(sign * 5.0, 1)
        assert not t2.should_prune()


def test_forecast_ranking_prints_no_overflow_warning_after_one_minus_inf_report():
    # Ordinary losses, but one finished trial reported -inf once, at a rung step (a loss of
    # -WORST): the same warning.
    study = _study(SuccessiveHalvingPruner(forecast_min_trials=5))
    for a in range(10):
        _add(study, [(s, -math.inf if (a, s) == (3, 3) else a + 1.0 / s) for s in range(1, 30)],
             value=float(a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = study.ask()
        t.suggest_float("x", 0.0, 1.0)
        t.report(50.0, 1)
        assert t.should_prune()


@pytest.mark.parametrize(
    "pruner",
    [
        lambda: SuccessiveHalvingPruner(reduction_factor=1.1, rank_by="observed"),
        lambda: ForecastPruner(reduction_factor=1.1, n_startup_trials=4, confidence=0.5),
    ],
    ids=["successive_halving", "forecast"],
)
def test_reduction_factor_near_one_still_decides_after_the_64th_rung(pruner):
    # 64 rungs (checkpoints) at most: with reduction_factor 1.1 the 64th is step 406, and a trial
    # that collapsed after it was never pruned, whatever it reported.
    study = _study(pruner())
    for a in range(5):
        _add(study, [(s, a + 1.0 / s) for s in range(1, 601)])
    t = study.ask()
    t.suggest_float("x", 0.0, 1.0)
    decisions = []
    for s in range(300, 601):
        t.report(-1.0 if s <= 410 else 100.0, s)
        decisions.append(t.should_prune())
    assert not any(decisions[: 410 - 300 + 1])
    assert any(decisions)


def test_forecast_ranking_with_many_rungs_keeps_its_model_grid():
    # A guard for the raised rung cap (passes before it too): with reduction_factor 1.01 the rungs
    # are nearly every step; the curve model keeps a grid of the first 64, else no trial fitted
    # under its point budget and the fit raised "need at least one array to concatenate".
    study = _study(SuccessiveHalvingPruner(reduction_factor=1.01, forecast_min_trials=4))
    for a in range(5):
        _add(study, [(s, a + 1.0 / s) for s in range(1, 301)])
    t = study.ask()
    t.suggest_float("x", 0.0, 1.0)
    for s in range(1, 301, 7):
        t.report(2.5 + 1.0 / s, s)
        assert t.should_prune() in (True, False)
