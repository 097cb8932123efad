"""Regression tests from audit 8: samplers at numerical extremes and odd spaces (each failed before
its fix): a huge grid, objective values near the float range, numpy string/bool choices."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt import Categorical, Float, Int


@contextmanager
def numpy_warnings_are_errors() -> Iterator[None]:
    """Any RuntimeWarning (numpy's overflow/invalid ones) raises: a user must not see them."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def run(sampler: Any, space: dict[str, Any], objective: Callable[[dict[str, Any], int], Any], n: int,
        directions: list[str] | None = None) -> tuple[hpopt.Study, list[dict[str, Any]]]:
    """Ask ``space`` jointly ``n`` times, checking every value lies in its distribution."""
    study = hpopt.create_study(sampler=sampler, directions=directions)
    rows = []
    for i in range(n):
        trial = study.ask(space)
        for name, dist in space.items():
            assert dist.contains(trial.params[name]), (i, name, trial.params[name])
        rows.append(dict(trial.params))
        study.tell(trial, objective(trial.params, i))
    return study, rows


# -- grid: nothing grows with the number of points --------------------------------------------------


def test_huge_grid_is_built_and_asked_lazily():
    """A grid of 20 parameters with 10 values (1e20 points) is accepted and proposes at once; it
    used to build a list of every point (ValueError: Maximum allowed size exceeded; 1e6 points took
    7 s and 900 MB)."""
    grid = {f"p{i}": list(range(10)) for i in range(20)}
    for shuffle in (False, True):
        start = time.perf_counter()
        sampler = hpopt.make_sampler("grid", search_space=grid, shuffle=shuffle, seed=3)
        study = hpopt.create_study(sampler=sampler)
        seen = set()
        for _ in range(5):
            trial = study.ask()
            point = tuple(trial.suggest_categorical(n, v) for n, v in grid.items())
            study.tell(trial, 0.0)
            seen.add(point)
        assert time.perf_counter() - start < 5.0
        assert len(seen) == 5
        if not shuffle:  # product order: the last parameter runs fastest
            assert sorted(seen) == [(0,) * 19 + (k,) for k in range(5)]


def test_huge_grid_counts_an_enqueued_point_as_taken():
    """An enqueued trial equal to a grid point is that point (found digit by digit)."""
    grid = {f"p{i}": [0, 1.5, "a", None, True] for i in range(30)}
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space=grid))
    study.enqueue_trial({n: 0 for n in grid})
    for _ in range(2):
        trial = study.ask()
        for n, v in grid.items():
            trial.suggest_categorical(n, v)
        study.tell(trial, 0.0)
    second = study.trials[1].params
    assert [second[n] for n in grid] == [0] * 29 + [1.5]


def test_lazily_shuffled_grid_visits_each_point_once_then_is_exhausted(monkeypatch):
    """The lazy walk of a shuffled grid (beyond ``_EAGER_MAX`` points) takes each point once."""
    from hpopt.samplers import grid as grid_module

    monkeypatch.setattr(grid_module, "_EAGER_MAX", 0)
    space = {"a": [1, 2, 3], "b": ["x", "y", None, False]}
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space=space, shuffle=True, seed=5))
    study.optimize(lambda t: float(t.suggest_categorical("a", [1, 2, 3])
                                   + (t.suggest_categorical("b", ["x", "y", None, False]) is None)))
    points = [(t.params["a"], t.params["b"]) for t in study.trials]
    assert len(points) == 12 and len(set(points)) == 12
    assert points != [(a, b) for a in space["a"] for b in space["b"]]  # shuffled
    with pytest.raises(hpopt.SearchSpaceExhausted):
        study.ask()


# -- gradient: Adam at objective values near the float range ------------------------------------------


@pytest.mark.parametrize("estimator", ["spsa", "fd"])
def test_gradient_survives_a_difference_beyond_the_float_range(estimator):
    """Values of +-1.7e308 (finite, but their difference overflows) made the gradient inf and
    every later proposal NaN: ``SamplerError: GradientSampler returned nan`` at the 5th ask, and
    at every ask after it."""
    sampler = hpopt.make_sampler("gradient", seed=1, estimator=estimator)
    with numpy_warnings_are_errors():
        run(sampler, {"x": Float(-5, 5)}, lambda p, i: 1.7e308 if i % 2 else -1.7e308, 30)


def test_gradient_steps_do_not_depend_on_the_objective_scale():
    """On a linear objective the gradient is constant and Adam's steps do not depend on its size:
    1e200 * x gives the proposals of 1e100 * x. A gradient above 1e154 made ``g * g`` inf, and every step
    0: the sampler stayed at the centre for good (best x -4.87 instead of -5 after 120 trials)."""
    space = {"x": Float(-5, 5)}

    def rows(scale: float) -> list[dict[str, Any]]:
        sampler = hpopt.make_sampler("gradient", seed=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the unfixed code also warns
            return run(sampler, space, lambda p, i: scale * p["x"], 60)[1]

    big, moderate = rows(1e200), rows(1e100)
    assert [r["x"] for r in big] == pytest.approx([r["x"] for r in moderate], rel=1e-9, abs=1e-12)
    assert min(r["x"] for r in big) == -5.0


# -- numpy overflow warnings leaking to the user ------------------------------------------------

SPACE4 = {
    "x": Float(-5, 5), "n": Int(0, 10), "c": Categorical(["a", "b", "c"]), "l": Float(1e-3, 1e3, log=True),
}


@pytest.mark.parametrize("name", ["cmaes", "de"])
def test_population_samplers_take_values_near_the_float_range_silently(name):
    """Objective values of +-1.7e308: CMA-ES's fitness range and DE's success gains overflowed with
    numpy RuntimeWarnings (one per generation)."""
    with numpy_warnings_are_errors():
        run(hpopt.make_sampler(name, seed=2), SPACE4, lambda p, i: 1.7e308 * (p["x"] / 5), 150)


def test_de_memory_survives_gains_whose_sum_overflows():
    """DE's SHADE memory: success gains of ~1e308 each summed to inf, which zeroed every weight and
    reset the remembered F and CR to 0."""
    sampler = hpopt.make_sampler("de", seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the unfixed code also warns
        run(sampler, SPACE4, lambda p, i: 1.7e308 * (p["x"] / 5), 150)
    (state, _), = sampler._runs.values()
    updated = state.mem_f[: state.k]
    assert state.k > 0 and np.all(updated > 0) and np.all(state.mem_cr[: state.k] > 0)


def test_tpe_multi_objective_with_values_spanning_the_float_range():
    """Objectives from -1e308 to 1e308: the crowding distance rescaled them by ``hi - lo`` = inf,
    giving NaN distances (and 2 RuntimeWarnings per ask)."""
    from hpopt.samplers.tpe import _front_ranks

    f = np.array([[1e308, 0.0], [0.0, 1.0], [-1e308, 2.0], [5e307, 0.5], [-5e307, 1.5]])
    with numpy_warnings_are_errors():
        rank, crowd = _front_ranks(f)
    assert rank.tolist() == [0] * 5
    assert crowd.tolist() == [math.inf, 1.0, math.inf, 1.0, 1.0]
    space = {"x": Float(-5, 5), "c": Categorical(["a", "b"])}
    with numpy_warnings_are_errors():
        run(hpopt.make_sampler("tpe", seed=7), space,
            lambda p, i: (1e308 * (i % 2), -1e308 if i % 3 else 1e308), 30, ["minimize", "maximize"])


def test_nsga2_constraint_violations_beyond_the_float_range_are_silent():
    """Two violations of 1e308 each sum to inf (most infeasible) without a numpy warning."""
    sampler = hpopt.make_sampler(
        "nsga2", seed=7, constraints_func=lambda t: (1e308, 1e308) if t.number % 2 else (-1.0, 0.0)
    )
    with numpy_warnings_are_errors():
        study, _ = run(sampler, {"x": Float(-5, 5)}, lambda p, i: (p["x"], -p["x"]), 30,
                       ["minimize", "minimize"])
        assert sampler.violation(study.trials[1]) == math.inf
        assert sampler.violation(study.trials[0]) == 0.0


# -- numpy scalar choices --------------------------------------------------------------------------


def test_numpy_string_and_bool_scalars_match_their_choices():
    """``np.str_("a")`` and ``np.bool_(True)`` are the choices "a" and True (as np.int64(2) is 2):
    an enqueued np.str_ failed its trial with "lies outside Categorical(['a', 2])"."""
    dist = Categorical(["a", 2, True])
    for value, expected in [(np.str_("a"), "a"), (np.bool_(True), True), (np.int64(2), 2)]:
        assert dist.contains(value)
        got = dist.canonical(value)
        assert got == expected and type(got) is type(expected)
    assert not dist.contains(np.str_("b")) and not dist.contains(np.bool_(False))
    study = hpopt.create_study(sampler=hpopt.make_sampler("tpe", seed=0))
    study.enqueue_trial({"c": np.str_("a")})
    study.optimize(lambda t: float(t.suggest_categorical("c", ["a", 2, True]) == "a"), n_trials=1)
    (trial,) = study.trials
    assert trial.state is hpopt.TrialState.COMPLETE
    assert trial.params == {"c": "a"} and type(trial.params["c"]) is str


# -- step grids whose cells leave the float range ------------------------------------------------


def test_step_grid_whose_cells_overflow_is_refused_naming_the_rule():
    """A step grid whose cells (``internal_bounds``) span more than the float range is refused
    naming the rule; the widest grids inside it still work with every sampler, warning-free."""
    for low, high, step in [
        (-1e308, 1e308, 1e307),  # high - low overflows: refused as "a finer grid is not representable"
        (0.0, 1.6e308, 8e307),  # 3 points, high + step / 2 overflows: every sampler crashed at suggest
        (-8e307, 8e307, 8e307),  # cells span 2.4e308: random's lo + u * (hi - lo) overflowed
    ]:
        with pytest.raises(ValueError, match=r"\(high \+ step / 2\) - \(low - step / 2\)` must be below"):
            Float(low, high, step=step)
    space = {"x": Float(-7e307, 7e307, step=2e307), "z": Float(0, 1.6e308, step=1e307)}
    for name in ["random", "tpe", "cmaes", "de", "nsga2", "gradient"]:
        with numpy_warnings_are_errors():
            run(hpopt.make_sampler(name, seed=3), space, lambda p, i: p["x"] * 1e-300 - p["z"] * 1e-300, 25)
