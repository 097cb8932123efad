"""Regression tests from the adversarial audit of samplers and pruners (public API only)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hpopt
from hpopt import Float
from hpopt.study import pareto_front_mask


def test_auto_hand_over_survives_a_distribution_change_after_it() -> None:
    """The warm-started CMA-ES of ``auto`` must not refuse a space the GP's trials did not have."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("auto", seed=0))

    def objective(trial: hpopt.Trial) -> float:
        high = 1.0 if trial.number < 15 else 2.0  # x's range widens after the hand-over (9 trials)
        return trial.suggest_float("x", -1, high) ** 2 + trial.suggest_float("y", 0, 1)

    study.optimize(objective, n_trials=25)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 25


def test_auto_hand_over_survives_a_parameter_added_after_it() -> None:
    study = hpopt.create_study(sampler=hpopt.make_sampler("auto", seed=0))
    small = {"x": Float(-1, 1), "y": Float(0, 1)}
    for i in range(25):
        t = study.ask(small if i < 15 else {**small, "z": Float(0, 1)})
        study.tell(t, sum(v * v for v in t.params.values()))
    assert {t.state.name for t in study.trials} == {"COMPLETE"}
    assert "z" in study.trials[-1].params


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("huge", [1e308, -1e308, 1.5e200])
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_gp_accepts_finite_values_near_the_float_limit(huge: float, direction: str) -> None:
    """A finite objective value is legitimate input: the GP must not fail inside its fit."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("gp", seed=0), direction=direction)
    values = [1.0, 2.0, huge, 0.5, 3.0]
    for i in range(14):
        t = study.ask({"x": Float(0, 1), "y": Float(0, 1)})
        study.tell(t, values[i % len(values)])
    assert len(study.trials) == 14 and {t.state.name for t in study.trials} == {"COMPLETE"}


@pytest.mark.parametrize(
    ("costs", "expected"),
    [
        ([[0.0, math.inf]], [True]),
        ([[0.0, math.inf], [1.0, math.inf]], [True, False]),
        ([[-math.inf, math.inf], [0.0, 5.0]], [True, True]),
        ([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]], [True, True, False]),
    ],
)
def test_pareto_front_keeps_the_first_row_when_its_second_cost_is_inf(costs, expected) -> None:
    assert pareto_front_mask(np.array(costs)).tolist() == expected


def test_best_trials_with_infinite_objectives() -> None:
    study = hpopt.create_study(directions=["maximize", "minimize"], sampler="random", seed=0)
    for _ in range(3):
        study.tell(study.ask({"x": Float(0, 1)}), [math.inf, math.inf])
    assert len(study.best_trials) == 3  # identical rows: all on the front


def test_lq_cmaes_running_define_by_run_trials_claim_their_planned_candidates() -> None:
    """A RUNNING define-by-run trial holds its planned values in the plan, not yet in ``params``:
    the surrogate generation must count them as claimed, or parallel workers evaluate duplicates
    (study.optimize(n_jobs=4) evaluated ~10% duplicates). Sequential asks reproduce it exactly."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("cmaes", seed=0))

    def suggest(trial: hpopt.Trial) -> tuple[float, float]:
        return trial.suggest_float("x", -1, 2), trial.suggest_float("y", -1, 2)

    for _ in range(10):
        t = study.ask()
        x, y = suggest(t)
        study.tell(t, (x - 0.3) ** 2 + (y - 0.3) ** 2)
    pending = [study.ask() for _ in range(3)]  # three workers have asked, none suggested yet
    points = [suggest(t) for t in pending]
    assert len(set(points)) == 3, points


@pytest.mark.parametrize(
    ("x0", "error"), [({"x": math.nan}, ValueError), ({"x": math.inf}, ValueError), ([0.5], TypeError)]
)
def test_cmaes_refuses_a_bad_x0_at_construction(x0, error) -> None:
    with pytest.raises(error, match="x0"):
        hpopt.make_sampler("cmaes", seed=0, x0=x0)


@pytest.mark.parametrize(
    "x0", [{"x": 100.0, "n": 5}, {"x": 0.5, "n": 0}, {"x": "abc", "n": 5}, {"x": True, "n": 5}]
)
def test_cmaes_refuses_an_x0_outside_the_space_before_writing(x0) -> None:
    study = hpopt.create_study(sampler=hpopt.make_sampler("cmaes", seed=0, x0=x0))
    with pytest.raises(ValueError, match="x0"):
        study.ask({"x": Float(0, 1), "n": hpopt.Int(1, 100, log=True)})
    assert study.trials == []


def test_a_refused_replay_is_not_half_kept() -> None:
    """When replaying a trial raises (here ``constraints_func`` returns NaN for trial 3, stored
    without constraint values because an unconstrained handle told it), the live sampler must not
    silently skip that trial afterwards: it behaves like a fresh process."""
    from hpopt.samplers.base import TrialInfo

    def constraints(ft: hpopt.FrozenTrial) -> list[float]:
        return [math.nan] if ft.number == 3 else [ft.params["x"] - 0.5]

    def make() -> hpopt.Sampler:
        return hpopt.make_sampler("nsga2", seed=0, constraints_func=constraints, popsize=4)

    live = make()
    study = hpopt.create_study(sampler=live, directions=["minimize", "minimize"])
    plain = hpopt.load_study(study_name=study.study_name, storage=study.storage,
                             sampler=hpopt.make_sampler("random", seed=0))
    space = {"x": Float(0, 1)}
    for i in range(4):
        handle = study if i < 3 else plain  # trial 3 is stored without constraint values
        t = handle.ask(space)
        handle.tell(t, [t.params["x"], 1 - t.params["x"]])
    for _ in range(2):  # refused every time, not just the first
        with pytest.raises(ValueError, match="constraints_func"):
            study.ask(space)
    info = TrialInfo(len(study.trials), {}, {}, {})
    with pytest.raises(ValueError, match="constraints_func"):
        make().sample_joint(study._history, info, space)
    assert len(study.trials) == 4


def test_cmaes_x0_may_carry_categorical_entries() -> None:
    """``x0=study.best_params`` of a mixed space: the categorical entry is not a numeric start."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("cmaes", seed=0, x0={"x": 0.2, "c": "b"}))
    t = study.ask({"x": Float(0, 1), "c": hpopt.Categorical(["a", "b"])})
    study.tell(t, 1.0)
    assert len(study.trials) == 1
