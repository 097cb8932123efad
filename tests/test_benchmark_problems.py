"""Tests of the benchmark problems: stated optima, shift/rotation, spaces, selection."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hpopt
from hpopt.benchmark import (
    FixedTrial,
    Problem,
    continuous_problem,
    get_problem,
    hypervolume,
    select_problems,
)
from hpopt.benchmark.curves import synthetic_curve
from hpopt.benchmark.functions import FUNCTIONS, random_rotation
from hpopt.benchmark.suites import TRUE_HV

PROBLEMS = {name: p.factory for name, p in hpopt.available_problems().items()}
SINGLE = sorted(n for n, p in PROBLEMS.items() if not p.multi_objective and p.optimizer is not None)
MULTI = sorted(n for n, p in PROBLEMS.items() if p.multi_objective)


def _random_params(problem: Problem, rng: np.random.Generator) -> dict:
    """A uniformly drawn point of the problem's space (through the define-by-run function)."""
    flat = {n: d.from_internal(rng.uniform(*d.internal_bounds))
            for n, d in problem.search_space.items()}
    return problem.params_from_flat(flat)


def test_every_suite_is_registered_through_the_plugin_hook():
    """The built-in problems reach hpopt.available_problems() with every promised tag."""
    tags = set().union(*(p.tags for p in PROBLEMS.values()))
    assert {"continuous", "mixed", "conditional", "noisy", "high-dim", "multi-objective",
            "curves"} <= tags
    assert hpopt.available_problems()["branin"].distribution == "hpopt"


def test_continuous_suite_has_every_function_at_its_dimensions():
    """Each classic function is registered at each dimension it is defined at."""
    for family, spec in FUNCTIONS.items():
        for d in spec.dims:
            name = f"{family}-{d}d" if len(spec.dims) > 1 else family
            assert name in PROBLEMS and "continuous" in PROBLEMS[name].tags
            assert len(PROBLEMS[name].space) == d


@pytest.mark.parametrize("name", SINGLE)
def test_objective_at_the_stated_minimizer_equals_the_stated_optimum(name):
    """function(optimizer) == optimum for every single-objective problem that states both."""
    p = PROBLEMS[name]
    value = p.function(p.optimizer)
    assert value == pytest.approx(p.optimum, rel=1e-9, abs=1e-9), (name, value, p.optimum)
    for n, v in p.optimizer.items():  # the minimizer is a valid point of the space
        assert p.search_space[n].contains(v), (name, n, v)


@pytest.mark.parametrize("name", SINGLE)
def test_no_random_point_beats_the_stated_optimum(name):
    """300 random points never score below the stated optimum (it is a minimum)."""
    p = PROBLEMS[name]
    rng = np.random.default_rng(0)
    values = [p.function(_random_params(p, rng)) for _ in range(300)]
    assert min(values) >= p.optimum - 1e-9


def test_hartmann_minimizers_are_stationary_points():
    """The polished Hartmann minimizers have a vanishing gradient (a finite-difference check)."""
    for name in ("hartmann3", "hartmann6"):
        p = PROBLEMS[name]
        x = np.array(list(p.optimizer.values()))
        f = FUNCTIONS[name].function
        h = 1e-6
        grad = [(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))]
        assert np.max(np.abs(grad)) < 1e-5, (name, grad)


@pytest.mark.parametrize("name", MULTI)
def test_multi_objective_optimizer_lies_on_the_true_front(name):
    """The stated Pareto-optimal point maps onto the analytic front (ZDT: g = 1; DTLZ2: |f| = 1)."""
    p = PROBLEMS[name]
    f = np.array(p.function(p.optimizer))
    if name == "dtlz2":
        assert np.linalg.norm(f) == pytest.approx(1.0)
    else:
        f1 = f[0]
        h = {"zdt1": 1 - math.sqrt(f1), "zdt2": 1 - f1**2,
             "zdt3": 1 - math.sqrt(f1) - f1 * math.sin(10 * math.pi * f1)}[name]
        assert f[1] == pytest.approx(h)
    assert np.all(f < np.array(p.reference_point))


@pytest.mark.parametrize("name", ["zdt1", "zdt2", "zdt3"])
def test_stated_zdt_hypervolume_is_the_dense_front_limit(name):
    """A dense sample of the true ZDT front has (almost exactly) the stated hypervolume."""
    f1 = np.linspace(0.0, 1.0, 400_001)
    f2 = {"zdt1": 1 - np.sqrt(f1), "zdt2": 1 - f1**2,
          "zdt3": 1 - np.sqrt(f1) - f1 * np.sin(10 * np.pi * f1)}[name]
    hv = hypervolume(np.c_[f1, f2], PROBLEMS[name].reference_point)
    assert PROBLEMS[name].optimum == TRUE_HV[name]
    assert 0.0 <= TRUE_HV[name] - hv < 1e-5


def test_stated_dtlz2_hypervolume_bounds_grids_of_the_front():
    """Grids on the unit-sphere front approach 8 - pi/6 from below as they get finer."""
    gaps = []
    for k in (10, 25):
        a, b = np.meshgrid(np.linspace(0, np.pi / 2, k), np.linspace(0, np.pi / 2, k))
        pts = np.c_[
            (np.cos(a) * np.cos(b)).ravel(), (np.cos(a) * np.sin(b)).ravel(), np.sin(a).ravel()
        ]
        gaps.append(TRUE_HV["dtlz2"] - hypervolume(pts, (2.0, 2.0, 2.0)))
    assert 0.0 < gaps[1] < gaps[0] < 0.2


class TestShiftRotation:
    def test_shift_moves_the_minimizer_off_the_centre(self):
        """A shifted sphere has its minimizer away from the box centre, with the same optimum."""
        p = continuous_problem("sphere", 5, shift_seed=3)
        x = np.array(list(p.optimizer.values()))
        assert np.linalg.norm(x) > 0.5
        assert p.function(p.optimizer) == pytest.approx(0.0, abs=1e-12)
        assert p.function(dict.fromkeys(p.optimizer, 0.0)) > 1.0

    def test_rotation_keeps_the_optimum_and_breaks_separability(self):
        """A rotated Rastrigin keeps its optimum at the shifted point and differs elsewhere."""
        rot = continuous_problem("rastrigin", 5, shift_seed=1, rotate=True)
        plain = continuous_problem("rastrigin", 5, shift_seed=1)
        assert rot.function(rot.optimizer) == pytest.approx(0.0, abs=1e-9)
        probe = {k: v + 0.3 for k, v in rot.optimizer.items()}
        assert rot.function(probe) != pytest.approx(plain.function(probe))

    def test_random_rotation_is_orthogonal(self):
        """random_rotation returns an orthogonal matrix."""
        r = random_rotation(6, np.random.default_rng(0))
        assert np.allclose(r @ r.T, np.eye(6))

    def test_same_seed_same_problem(self):
        """The shift is reproducible from its seed."""
        a = continuous_problem("ackley", 10, shift_seed=7)
        b = continuous_problem("ackley", 10, shift_seed=7)
        assert a.optimizer == b.optimizer

    def test_bad_arguments_are_refused_with_the_rule(self):
        """Unknown families, wrong dimensions and unshiftable functions get clear errors."""
        with pytest.raises(ValueError, match="family"):
            continuous_problem("nope", 2)
        with pytest.raises(ValueError, match="dim"):
            continuous_problem("branin", 3)
        with pytest.raises(ValueError, match="shift"):
            continuous_problem("branin", shift_seed=0)

    def test_registered_centred_functions_are_shifted(self):
        """The registered suite moves every centred function's minimizer away from the centre."""
        for family in ("sphere", "ackley", "rastrigin", "griewank", "levy"):
            p = PROBLEMS[f"{family}-5d"]
            lo, hi = FUNCTIONS[family].bounds
            x = np.array(list(p.optimizer.values()))
            assert np.max(np.abs(x - 0.5 * (lo + hi))) > 0.05 * (hi - lo), family


class TestConditional:
    def test_fixed_trial_follows_the_branch(self):
        """A conditional problem reads only the parameters of the chosen branch."""
        p = PROBLEMS["conditional-models"]
        flat = {n: d.from_internal(d.internal_bounds[0]) for n, d in p.flat_space.items()}
        flat["kind"] = "tree"
        params = p.params_from_flat(flat)
        assert set(params) == {"kind", "tree_depth", "tree_min_leaf"}

    def test_fixed_trial_refuses_values_outside_the_distribution(self):
        """FixedTrial names the parameter when its value lies outside the suggested bounds."""
        with pytest.raises(ValueError, match="'x'"):
            FixedTrial({"x": 5.0}).suggest_float("x", 0.0, 1.0)

    def test_define_by_run_works_with_an_hpopt_trial(self):
        """An hpopt study can drive the conditional problem directly."""
        p = PROBLEMS["conditional-layers"]
        study = hpopt.create_study(seed=0)
        study.optimize(lambda t: p.function(p.suggest(t)), n_trials=10)
        assert len(study.trials) == 10


class TestProblemValidation:
    def test_problem_needs_a_space(self):
        """A Problem without space or define is refused."""
        with pytest.raises(ValueError, match="space"):
            Problem(name="x", function=lambda p: 0.0)

    def test_multi_objective_needs_a_reference_point(self):
        """Several objectives without a matching reference point are refused."""
        with pytest.raises(ValueError, match="reference_point"):
            Problem(name="x", space={"a": hpopt.Float(0, 1)}, function=lambda p: (0, 0),
                    n_objectives=2)

    def test_noise_is_added_to_observations_only(self):
        """evaluate() adds noise; function() stays noise-free."""
        p = PROBLEMS["noisy-branin"]
        rng = np.random.default_rng(0)
        obs = [p.evaluate(p.optimizer, rng) for _ in range(50)]
        assert np.std(obs) > 0.5
        assert p.function(p.optimizer) == pytest.approx(p.optimum)


class TestCurves:
    def test_synthetic_curve_ends_at_the_final_loss(self):
        """Without noise the synthetic curve ends exactly at function(params)."""
        p = PROBLEMS["curves-synthetic"]
        params = {"lr": 0.05, "width": 64, "dropout": 0.5, "optimizer": "sgd"}
        curve = list(synthetic_curve(params, np.random.default_rng(0), noise=False))
        assert len(curve) == p.n_steps
        assert curve[-1] == pytest.approx(p.function(params))

    def test_synthetic_curves_cross(self):
        """A fast learner leads early and a slow but better one wins at the end."""
        fast = {"lr": 0.5, "width": 256, "dropout": 0.2, "optimizer": "adam"}
        slow = {"lr": 1e-3, "width": 256, "dropout": 0.2, "optimizer": "adam"}
        rng = np.random.default_rng(0)
        a = list(synthetic_curve(fast, rng, noise=False))
        b = list(synthetic_curve(slow, rng, noise=False))
        assert a[2] < b[2] and a[-1] > b[-1]

    def test_mlp_training_learns(self):
        """The numpy MLP trained by SGD lowers the validation loss below chance level."""
        p = PROBLEMS["curves-mlp"]
        params = {"hidden": 16, "lr": 0.05, "l2": 1e-4, "momentum": 0.9, "batch_size": 32}
        losses = list(p.steps(params, np.random.default_rng(0)))
        assert len(losses) == p.n_steps
        assert losses[-1] < math.log(2) - 0.05


class TestSelection:
    def test_by_name_tag_and_pattern(self):
        """Problems are selected by name, by tag and by glob pattern, each once."""
        names = [p.name for p in select_problems("branin,continuous,sphere-*")]
        assert names[0] == "branin" and len(names) == len(set(names))
        assert {"sphere-2d", "hartmann6"} <= set(names)
        assert [p.name for p in select_problems(["mixed"])] == ["mixed-quadratic", "mixed-24d"]

    def test_unknown_names_list_what_is_available(self):
        """An unknown problem or tag lists the tags and problems."""
        with pytest.raises(ValueError, match="tags: .*continuous.*problems: .*branin"):
            select_problems("nope")
        with pytest.raises(ValueError, match="available problems"):
            get_problem("nope")


class _BowlPlugin:
    @staticmethod
    @hpopt.hookimpl
    def hpopt_problems():
        return {"test-bowl": Problem(
            name="test-bowl", space={"x": hpopt.Float(-1.0, 1.0)},
            function=lambda p: (p["x"] - 0.25) ** 2, optimum=0.0, optimizer={"x": 0.25},
            tags={"test-tag"},
        )}


def test_a_plugin_adds_problems_through_the_hook():
    """A problem offered by a plugin's hpopt_problems hook is selectable by name and tag."""
    from hpopt import plugins
    from hpopt.benchmark import run_one

    plugins.register(_BowlPlugin, name="benchmark-test-problems")
    try:
        assert [p.name for p in select_problems("test-tag")] == ["test-bowl"]
        rec = run_one("random", "test-bowl", seed=0, n_trials=5)
        assert rec["status"] == "ok" and rec["regret"][-1] >= 0
    finally:
        plugins.unregister(_BowlPlugin)
    with pytest.raises(ValueError):
        get_problem("test-bowl")
