"""Behaviour of the built-in pruners: median/percentile, successive halving, Hyperband, threshold,
patient, and the pruning paths of the study (TrialPruned, tell(state="pruned"), bad reports)."""

from __future__ import annotations

import math
import pickle
import warnings
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt.pruners import (
    HyperbandPruner,
    MedianPruner,
    PatientPruner,
    PercentilePruner,
    SuccessiveHalvingPruner,
    ThresholdPruner,
)
from hpopt.pruners._util import WORST, crossed_interval, front_ranks, n_ahead


def finished(study: Any, curve: dict[int, Any], value: Any = None, state: str = "complete") -> None:
    """Add one finished trial that reported ``curve`` (step -> value)."""
    t = study.ask()
    for s, v in sorted(curve.items()):
        t.report(v, s)
    if state == "complete":
        study.tell(t, value if value is not None else curve[max(curve)])
    else:
        study.tell(t, state=state)


def probe(study: Any, curve: dict[int, Any]) -> list[bool]:
    """Decisions of a new running trial after each report of ``curve``."""
    t = study.ask()
    out = []
    for s, v in sorted(curve.items()):
        t.report(v, s)
        out.append(t.should_prune())
    return out


def flat(v: float, steps: Any = range(5)) -> dict[int, float]:
    return {s: v for s in steps}


# -- median / percentile ------
class TestPercentile:
    def test_median_prunes_above_median(self) -> None:
        """A best-so-far above the median of finished trials at that step is pruned, below kept."""
        study = hpopt.create_study(pruner=MedianPruner(n_startup_trials=5))
        for v in (1.0, 2.0, 3.0, 4.0, 5.0):
            finished(study, flat(v))
        assert probe(study, {0: 3.5}) == [True]
        assert probe(study, {0: 2.5}) == [False]
        assert probe(study, {0: 3.0}) == [False]  # equal to the median: kept

    def test_percentile_value(self) -> None:
        """percentile=25 compares with numpy's 25th percentile (linear) of the reference."""
        study = hpopt.create_study(pruner=PercentilePruner(25.0, n_startup_trials=0))
        for v in (1.0, 2.0, 3.0, 4.0, 5.0):
            finished(study, flat(v))
        assert probe(study, {1: 2.01}) == [True]
        assert probe(study, {1: 2.0}) == [False]

    def test_maximize_mirrors(self) -> None:
        """In a maximized study, values below the median are pruned."""
        study = hpopt.create_study(direction="maximize", pruner=MedianPruner(n_startup_trials=0))
        for v in (1.0, 2.0, 3.0, 4.0, 5.0):
            finished(study, flat(v))
        assert probe(study, {0: 2.5}) == [True]
        assert probe(study, {0: 3.5}) == [False]

    def test_startup_trials(self) -> None:
        """Nothing is pruned before n_startup_trials trials completed (pruned ones do not count)."""
        study = hpopt.create_study(pruner=MedianPruner(n_startup_trials=5))
        for v in (1.0, 2.0, 3.0, 4.0):
            finished(study, flat(v))
        finished(study, flat(0.5, range(2)), state="pruned")
        assert probe(study, {0: 100.0}) == [False]
        finished(study, flat(1.0))
        assert probe(study, {0: 100.0}) == [True]

    def test_warmup_and_interval(self) -> None:
        """No check before n_warmup_steps; then only when a report crosses an interval boundary."""
        pruner = MedianPruner(n_startup_trials=0, n_warmup_steps=2, interval_steps=5)
        study = hpopt.create_study(pruner=pruner)
        finished(study, flat(0.0, range(30)))
        # boundaries at 2, 7, 12, ...; reports at 0, 1 (warm-up), 2 (check), 4, 8 (crossed 7), 9
        assert probe(study, dict.fromkeys([0, 1, 2, 4, 8, 9], 9.0)) == [
            False, False, True, False, True, False,
        ]

    def test_crossed_interval_rule(self) -> None:
        """The interval rule fires once per boundary, also for jumps over several boundaries."""
        assert crossed_interval(0, None, 0, 3)
        assert not crossed_interval(2, 0, 0, 3)
        assert crossed_interval(3, 2, 0, 3)
        assert crossed_interval(100, 3, 0, 3)
        assert not crossed_interval(1, None, 2, 1)

    def test_uses_best_so_far(self) -> None:
        """The trial's score is its best report so far, not the latest one."""
        study = hpopt.create_study(pruner=MedianPruner(n_startup_trials=0))
        for v in (1.0, 2.0, 3.0):
            finished(study, flat(v))
        assert probe(study, {0: 0.5, 1: 10.0}) == [False, False]

    def test_reference_is_best_so_far_at_the_step(self) -> None:
        """Finished trials give their best value up to the step, and only if they reached it."""
        study = hpopt.create_study(pruner=MedianPruner(n_startup_trials=0))
        finished(study, {0: 5.0, 10: 1.0})  # best up to step 5: 5.0 (reached step 10)
        finished(study, {0: 6.0, 10: 1.0})
        finished(study, {0: 0.0, 2: 0.0})  # ended at step 2: not a reference at step 5
        assert probe(study, {5: 5.4}) == [False]  # median(5, 6) = 5.5
        assert probe(study, {5: 5.6}) == [True]

    def test_pruned_trials_are_reference_where_they_reached(self) -> None:
        """PRUNED trials count at the steps they reached."""
        study = hpopt.create_study(pruner=MedianPruner(n_startup_trials=0))
        finished(study, flat(1.0, range(3)), state="pruned")
        finished(study, flat(1.0, range(3)), state="pruned")
        finished(study, flat(9.0, range(10)))
        assert probe(study, {1: 2.0}) == [True]  # median(1, 1, 9) = 1
        assert probe(study, {8: 2.0}) == [False]  # only the 9.0 trial reached step 8

    def test_nan_report_is_worst(self) -> None:
        """A NaN report scores worst: pruned once a finite reference exists."""
        study = hpopt.create_study(pruner=MedianPruner(n_startup_trials=0))
        finished(study, flat(1.0))
        assert probe(study, {0: math.nan}) == [True]

    def test_multi_objective_refused_at_prune_time(self) -> None:
        """On a two-objective study prune() raises a ValueError naming the objectives."""
        study = hpopt.create_study(directions=["minimize", "minimize"], pruner="median")
        t = study.ask()
        t.report([1.0, 2.0], 0)
        with pytest.raises(ValueError, match="handles one objective, but the study has 2"):
            t.should_prune()

    def test_cache_sees_late_finishers(self) -> None:
        """Trials finishing between checks (also out of number order) join the reference."""
        pruner = MedianPruner(n_startup_trials=0)
        study = hpopt.create_study(pruner=pruner)
        a, b = study.ask(), study.ask()
        finished(study, flat(1.0))
        assert probe(study, {0: 1.5}) == [True]
        for t in (b, a):
            t.report(5.0, 0)
            study.tell(t, 5.0)
        assert probe(study, {0: 1.5}) == [False]  # median(1, 5, 5, 1.5-probe pruned at 1.5)


# -- successive halving ------
class TestSuccessiveHalving:
    def test_rung_steps(self) -> None:
        """Rungs sit at min_resource * eta**(s + k), below max_resource."""
        assert SuccessiveHalvingPruner(rank_by="observed").rung_steps(100) == [1, 3, 9, 27, 81]
        assert SuccessiveHalvingPruner(rank_by="observed", max_resource=27).rung_steps(100) == [1, 3, 9]
        p = SuccessiveHalvingPruner(
            rank_by="observed", min_resource=2, reduction_factor=2, min_early_stopping_rate=1
        )
        assert p.rung_steps(40) == [4, 8, 16, 32]
        assert SuccessiveHalvingPruner(rank_by="observed", reduction_factor=1.5).rung_steps(6) == [
            1, 2, 3, 4, 6
        ]

    def test_first_trial_promoted(self) -> None:
        """Alone in its rung, a trial is always promoted."""
        study = hpopt.create_study(pruner=SuccessiveHalvingPruner(rank_by="observed"))
        assert not any(probe(study, flat(1e9, range(100))))

    def test_promotes_top_fraction(self) -> None:
        """With n values in a rung, the best max(1, n // eta) are promoted (ties promoted)."""
        study = hpopt.create_study(pruner=SuccessiveHalvingPruner(rank_by="observed", reduction_factor=2))
        for v in (1.0, 2.0, 3.0, 4.0):
            finished(study, {1: v})
        # n = 5 with the probe: the best 2 go on
        assert probe(study, {1: 1.5}) == [False]
        assert probe(study, {1: 2.5}) == [True]
        assert probe(study, {1: 2.0}) == [False]  # tie with the 2nd value

    def test_decides_only_when_a_rung_is_crossed(self) -> None:
        """Between rungs no decision is made; the rung value is the first report at or past it."""
        study = hpopt.create_study(pruner=SuccessiveHalvingPruner(rank_by="observed"))
        for v in (1.0, 1.0, 1.0, 1.0, 1.0, 1.0):
            finished(study, {1: v, 3: v})
        # rungs 1, 3: value at step 1 good, worse at 2 (no rung), crossing rung 3 at step 4
        assert probe(study, {1: 0.5, 2: 50.0, 4: 50.0}) == [False, False, True]

    def test_jump_over_several_rungs(self) -> None:
        """A report that jumps past several rungs is checked at each of them."""
        study = hpopt.create_study(pruner=SuccessiveHalvingPruner(rank_by="observed"))
        for _ in range(6):
            finished(study, {1: 9.0, 3: 1.0, 9: 1.0})
        # rung 1: 5.0 beats every 9.0; rung 3: 5.0 is worse than all 1.0 -> pruned
        assert probe(study, {0: 5.0, 10: 5.0}) == [False, True]

    def test_running_trials_compete(self) -> None:
        """Values of running trials (other workers) count in a rung."""
        study = hpopt.create_study(pruner=SuccessiveHalvingPruner(rank_by="observed"))
        others = [study.ask() for _ in range(5)]
        for t in others:
            t.report(1.0, 1)
        assert probe(study, {1: 2.0}) == [True]

    def test_bootstrap_count(self) -> None:
        """A rung holding fewer values than bootstrap_count never prunes."""
        study = hpopt.create_study(pruner=SuccessiveHalvingPruner(rank_by="observed", bootstrap_count=5))
        for v in (1.0, 2.0, 3.0):
            finished(study, {1: v})
        assert probe(study, {1: 10.0}) == [False]  # 4 values < 5
        assert probe(study, {1: 10.0}) == [True]  # 5 values

    def test_maximize(self) -> None:
        """Maximized studies promote the largest values."""
        study = hpopt.create_study(direction="maximize", pruner=SuccessiveHalvingPruner(rank_by="observed"))
        for v in (1.0, 2.0, 3.0, 4.0, 5.0):
            finished(study, {1: v})
        assert probe(study, {1: 4.5}) == [False]
        assert probe(study, {1: 3.5}) == [True]

    def test_multi_objective_by_front(self) -> None:
        """Several objectives: promotion by non-dominated front."""
        study = hpopt.create_study(
            directions=["minimize", "maximize"],
            pruner=SuccessiveHalvingPruner(rank_by="observed", reduction_factor=2),
        )
        for v in ([1.0, 5.0], [2.0, 6.0], [5.0, 1.0], [6.0, 0.0]):
            finished(study, {1: v})
        assert probe(study, {1: [0.5, 7.0]}) == [False]  # dominates every other
        assert probe(study, {1: [7.0, -1.0]}) == [True]  # dominated by all

    def test_multi_objective_tie_break_by_rank_sum(self) -> None:
        """Inside one front, a lower sum of per-objective ranks goes first."""
        loss = np.array([[0.0, 10.0], [10.0, 0.0], [4.0, 5.0], [5.0, 5.1]])
        assert list(front_ranks(loss)) == [0, 0, 0, 1]
        # ranks: row 2 -> 2 + 2 = 4; rows 0, 1 -> 1 + 4 = 5 and 4 + 1 = 5
        assert n_ahead(loss, 2) == 0
        assert n_ahead(loss, 0) == 1 and n_ahead(loss, 1) == 1
        assert n_ahead(loss, 3) == 3

    def test_front_ranks_match_brute_force(self) -> None:
        """Vectorized fronts equal a direct peeling of non-dominated sets."""
        rng = np.random.default_rng(0)
        loss = rng.integers(0, 6, size=(60, 3)).astype(float)
        got = front_ranks(loss)
        remaining, rank, want = set(range(60)), 0, np.empty(60, dtype=int)
        while remaining:
            front = {
                i for i in remaining
                if not any(
                    np.all(loss[j] <= loss[i]) and np.any(loss[j] < loss[i]) for j in remaining
                )
            }
            for i in front:
                want[i] = rank
            remaining -= front
            rank += 1
        assert list(got) == list(want)

    def test_nan_counts_as_worst_in_rung(self) -> None:
        """A NaN in a rung ranks below every finite value."""
        study = hpopt.create_study(pruner=SuccessiveHalvingPruner(rank_by="observed", reduction_factor=2))
        for v in (math.nan, math.nan, 100.0):
            finished(study, {1: v}, value=1.0)
        assert probe(study, {1: 50.0}) == [False]
        assert probe(study, {1: math.nan}) == [True]
        assert WORST < math.inf


# -- hyperband ------
class TestHyperband:
    def test_brackets_and_shares(self) -> None:
        """s_max + 1 brackets with Hyperband's shares n_b, in a fixed cycle."""
        p = HyperbandPruner(min_resource=1, max_resource=81, reduction_factor=3)
        assert p.n_brackets == 5
        assert p.bracket_shares == [81, 34, 15, 8, 5]
        cycle = [p.bracket_of(n) for n in range(sum(p.bracket_shares))]
        assert [cycle.count(b) for b in range(5)] == p.bracket_shares
        assert [p.bracket_of(n + 143) for n in range(143)] == cycle

    def test_assignment_same_on_every_instance(self) -> None:
        """Two pruner instances (two workers) assign every trial number to the same bracket."""
        a = HyperbandPruner(max_resource=50)
        b = pickle.loads(pickle.dumps(HyperbandPruner(max_resource=50)))
        assert [a.bracket_of(n) for n in range(500)] == [b.bracket_of(n) for n in range(500)]

    def test_bracket_of_refuses_bad_numbers(self) -> None:
        """bracket_of needs a non-negative int."""
        with pytest.raises(ValueError, match="trial_number >= 0"):
            HyperbandPruner().bracket_of(-1)
        with pytest.raises(TypeError, match="trial_number"):
            HyperbandPruner().bracket_of(1.0)

    def test_rungs_per_bracket(self) -> None:
        """Bracket b starts at min_resource * eta**b; the last may make no decision at all."""
        p = HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
        assert [p.rung_steps(100, bracket=b) for b in range(4)] == [[1, 3, 9], [3, 9], [9], []]

    def test_only_same_bracket_competes(self) -> None:
        """Trials of other brackets do not count in a trial's rungs (plain ASHA would prune)."""
        cases = ((HyperbandPruner(max_resource=27), False),
                 (SuccessiveHalvingPruner(rank_by="observed"), True))
        for pruner, want in cases:
            hb = HyperbandPruner(max_resource=27)
            study = hpopt.create_study(pruner=pruner)
            for _ in range(12):
                t = study.ask()
                if hb.bracket_of(t.number) == 0:
                    study.tell(t, state="fail")  # bracket 0 keeps no values
                else:
                    t.report(0.0, 3)
                    study.tell(t, 0.0)
            t = study.ask()
            while hb.bracket_of(t.number) != 0:
                study.tell(t, state="fail")
                t = study.ask()
            t.report(5.0, 3)
            assert t.should_prune() is want


# -- threshold / patient ------
class TestThreshold:
    def test_bounds(self) -> None:
        """Values outside [lower, upper], and NaN, are pruned; the latest report is checked."""
        study = hpopt.create_study(pruner=ThresholdPruner(lower=0.0, upper=1.0))
        assert probe(study, {0: 0.5, 1: 1.5, 2: 0.5}) == [False, True, False]
        assert probe(study, {0: -0.1}) == [True]
        assert probe(study, {0: math.nan}) == [True]

    def test_warmup(self) -> None:
        """No check before n_warmup_steps."""
        study = hpopt.create_study(pruner=ThresholdPruner(upper=1.0, n_warmup_steps=2))
        assert probe(study, {0: 5.0, 1: 5.0, 2: 5.0}) == [False, False, True]

    def test_per_objective_bounds(self) -> None:
        """A sequence gives one bound per objective; a length mismatch is a clear error."""
        study = hpopt.create_study(
            directions=["minimize", "maximize"], pruner=ThresholdPruner(upper=[1.0, 10.0])
        )
        assert probe(study, {0: [0.5, 5.0]}) == [False]
        assert probe(study, {0: [0.5, 11.0]}) == [True]
        study = hpopt.create_study(pruner=ThresholdPruner(upper=[1.0, 10.0]))
        with pytest.raises(ValueError, match="`upper` has 2 bounds, but the study has 1"):
            probe(study, {0: 0.5})

    def test_needs_a_bound(self) -> None:
        """Without any bound the pruner is refused."""
        with pytest.raises(ValueError, match="`lower` or `upper` must be given"):
            ThresholdPruner()


class TestPatient:
    def test_tolerates_patience_reports(self) -> None:
        """Pruning waits for patience + 1 reports without improvement (wrapped=None)."""
        study = hpopt.create_study(pruner=PatientPruner(None, patience=2))
        assert probe(study, {0: 1.0, 1: 0.9, 2: 0.95, 3: 0.95, 4: 0.95}) == [
            False, False, False, False, True,
        ]

    def test_min_delta(self) -> None:
        """An improvement of at most min_delta does not count."""
        study = hpopt.create_study(pruner=PatientPruner(None, patience=1, min_delta=0.1))
        assert probe(study, {0: 1.0, 1: 0.95, 2: 0.92}) == [False, False, True]

    def test_maximize(self) -> None:
        """In a maximized study improvement means larger values."""
        study = hpopt.create_study(direction="maximize", pruner=PatientPruner(None, patience=1))
        assert probe(study, {0: 1.0, 1: 2.0, 2: 3.0, 3: 2.0, 4: 2.5}) == [
            False, False, False, False, True,
        ]

    def test_defers_to_wrapped(self) -> None:
        """A stalled trial is pruned only if the wrapped pruner agrees."""
        study = hpopt.create_study(pruner=PatientPruner(ThresholdPruner(upper=5.0), patience=0))
        assert probe(study, {0: 1.0, 1: 1.0, 2: 6.0}) == [False, False, True]
        assert probe(study, {0: 1.0, 1: 1.0}) == [False, False]

    def test_multi_objective_with_single_objective_wrapped(self) -> None:
        """Wrapping a single-objective pruner, a 2-objective study is refused at prune time."""
        pruner = PatientPruner("median", patience=1)
        study = hpopt.create_study(directions=["minimize"] * 2, pruner=pruner)
        t = study.ask()
        t.report([1.0, 1.0], 0)
        with pytest.raises(ValueError, match="handles one objective"):
            t.should_prune()


# -- the study's pruning paths ------
class TestStudyPaths:
    def test_trial_pruned_in_optimize(self) -> None:
        """raise TrialPruned marks the trial PRUNED with its last report as its value."""
        study = hpopt.create_study()

        def objective(trial: Any) -> float:
            trial.report(3.0, 0)
            trial.report(2.0, 4)
            raise hpopt.TrialPruned()

        study.optimize(objective, n_trials=1)
        (t,) = study.trials
        assert t.state is hpopt.TrialState.PRUNED and t.values == (2.0,)

    def test_tell_pruned_records_last_report(self) -> None:
        """tell(state='pruned') stores the last reported value so samplers can learn from it."""
        study = hpopt.create_study(directions=["minimize", "maximize"])
        t = study.ask()
        t.report([1.0, 2.0], 7)
        t.report([0.5, 3.0], 9)
        ft = study.tell(t, state="pruned")
        assert ft.values == (0.5, 3.0)

    @pytest.mark.parametrize(("value", "step", "error"), [
        ("1.0", 0, TypeError), (None, 0, TypeError), (1.0, -1, ValueError), (1.0, 1.5, TypeError),
    ])
    def test_bad_report_leaves_trial_unchanged(self, value: Any, step: Any, error: type) -> None:
        """A non-numeric value or a bad step raises and records nothing."""
        study = hpopt.create_study()
        t = study.ask()
        with pytest.raises(error):
            t.report(value, step)
        assert dict(t.snapshot().intermediate_values) == {}
        assert t.should_prune() is False

    def test_pruner_by_name_with_settings(self) -> None:
        """make_pruner passes settings through and names the pruner in errors."""
        p = hpopt.make_pruner("hyperband", max_resource=9)
        assert isinstance(p, HyperbandPruner) and p.n_brackets == 3
        with pytest.raises(ValueError, match="reduction_factor > 1"):
            hpopt.make_pruner("successive_halving", reduction_factor=1)

    def test_pickle_drops_cache(self) -> None:
        """Pruners pickle (for process pools); the copy rebuilds its cache from the history."""
        study = hpopt.create_study(pruner=MedianPruner(n_startup_trials=0))
        finished(study, flat(1.0))
        assert probe(study, {0: 2.0}) == [True]
        study.pruner = pickle.loads(pickle.dumps(study.pruner))
        assert probe(study, {0: 2.0}) == [True]

    @pytest.mark.parametrize("rank_by", ["observed", "forecast"])
    def test_asha_with_threads_matches_states(self, rank_by: str) -> None:
        """With 4 threads ASHA prunes some trials and every trial ends COMPLETE or PRUNED (random
        sampler: with a converging one every trial may deserve to go on under the forecast)."""
        study = hpopt.create_study(pruner=SuccessiveHalvingPruner(rank_by=rank_by), sampler="random", seed=1)

        def objective(trial: Any) -> float:
            x = trial.suggest_float("x", 0, 1)
            for s in range(1, 28):
                trial.report(x + 1.0 / s, s)
                if trial.should_prune():
                    raise hpopt.TrialPruned()
            return x

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            study.optimize(objective, n_trials=60, n_jobs=4)
        states = [t.state.name for t in study.trials]
        assert len(states) == 60 and set(states) == {"COMPLETE", "PRUNED"}


def test_n_ahead_matches_full_ranking() -> None:
    """The pruned-down ranking (rows dominated by the probe dropped) equals a full ranking."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(1)
    for _ in range(20):
        loss = rng.integers(0, 5, size=(40, 3)).astype(float)
        fronts = front_ranks(loss)
        key = rankdata(loss, axis=0).sum(axis=1)
        for i in range(len(loss)):
            want = int(np.sum((fronts < fronts[i]) | ((fronts == fronts[i]) & (key < key[i]))))
            assert n_ahead(loss, i) == want
            assert (n_ahead(loss, i, limit=5) >= 5) == (want >= 5)
