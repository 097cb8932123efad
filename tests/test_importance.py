"""Hyperparameter importance (hpopt.importance): known truths, exactness of the fANOVA sums, the
forest, bad input and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hpopt
from hpopt import Categorical, Float, Int
from hpopt.importance import METHODS, get_param_importances
from hpopt.importance._encode import encode_trials
from hpopt.importance.fanova import _tree_fractions, fanova_importances
from hpopt.importance.forest import RandomForest
from hpopt.importance.ped_anova import ped_anova_importances, top_masks

BOTH = list(METHODS)


def _study(space, objective, n, *, seed=0, direction="minimize"):
    """A study of ``n`` random trials of ``objective(params)`` over ``space``."""
    study = hpopt.create_study(sampler="random", seed=seed, direction=direction)
    for _ in range(n):
        t = study.ask(space)
        study.tell(t, objective(t.params))
    return study


def _three(n=300, seed=0):
    space = {"x1": Float(0, 1), "x2": Float(0, 1), "x3": Float(0, 1)}
    return _study(space, lambda p: 10 * (p["x1"] - 0.5) ** 2 + (p["x2"] - 0.5) ** 2, n, seed=seed)


# -- known truths -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", BOTH)
def test_strong_weak_none(method):
    imp = get_param_importances(_three(), method=method)
    assert list(imp) == ["x1", "x2", "x3"]
    assert imp["x1"] > 0.5
    assert imp["x3"] < 0.05
    assert math.isclose(sum(imp.values()), 1.0)


@pytest.mark.parametrize("method", BOTH)
def test_categorical_that_matters(method):
    space = {"opt": Categorical(["adam", "sgd", "rmsprop"]), "x": Float(0, 1), "noise": Float(0, 1)}
    cost = {"adam": 0.0, "sgd": 1.0, "rmsprop": 2.0}
    study = _study(space, lambda p: cost[p["opt"]] + 0.1 * p["x"], 300)
    # PED-ANOVA is local: with gamma=0.1 the top set is the best third of the "adam" trials, in
    # which x decides as much as opt does; gamma=0.3 asks what it takes to be in the best third.
    opts = {"gamma": 0.3} if method == "ped-anova" else {}
    imp = get_param_importances(study, method=method, **opts)
    assert list(imp) == ["opt", "x", "noise"]
    assert imp["opt"] > 0.6


@pytest.mark.parametrize("method", BOTH)
def test_conditional_parameter(method):
    """``C`` exists only for kind "a" and decides the best trials; ``noise`` never matters."""
    study = hpopt.create_study(sampler="random", seed=1)
    for _ in range(400):
        t = study.ask()
        kind = t.suggest_categorical("kind", ["a", "b"])
        noise = t.suggest_float("noise", 0, 1)
        if kind == "a":
            y = 4 * (t.suggest_float("C", 0, 1) - 0.3) ** 2
        else:
            t.suggest_int("depth", 1, 8)
            y = 0.5
        study.tell(t, y + 0 * noise)
    imp = get_param_importances(study, method=method)
    assert set(imp) == {"kind", "noise", "C", "depth"}
    assert list(imp)[0] == "C"
    # (fANOVA may give "kind" and "depth" ~0 too: both branches have mean ~0.5, and the forest
    # can split on C's "inactive" value instead of on kind, which carries the same information)
    assert imp["noise"] <= min(imp["kind"], imp["depth"]) + 1e-3
    assert imp["noise"] < 0.05


@pytest.mark.parametrize("method", BOTH)
def test_log_parameter(method):
    """A log parameter matters on its log scale; an Int and a stepped Float are handled too."""
    space = {
        "lr": Float(1e-6, 1.0, log=True),
        "units": Int(1, 1024, log=True),
        "drop": Float(0.0, 0.5, step=0.1),
    }
    study = _study(space, lambda p: (math.log10(p["lr"]) + 3) ** 2 + 0.01 * p["drop"], 300)
    imp = get_param_importances(study, method=method)
    assert list(imp)[0] == "lr"
    assert imp["lr"] > 0.8


def test_log_encoding_is_on_log_scale():
    study = _study({"lr": Float(1e-4, 1.0, log=True)}, lambda p: 0.0, 3)
    enc = encode_trials(study.trials, ["lr"])
    expected = [(math.log10(t.params["lr"]) + 4) / 4 for t in study.trials]
    np.testing.assert_allclose(enc.X[:, 0], expected, rtol=1e-12)


@pytest.mark.parametrize("method", BOTH)
def test_maximize_is_the_mirror_of_minimize(method):
    space = {"x1": Float(0, 1), "x2": Float(0, 1), "x3": Float(0, 1)}

    def f(p):
        return 10 * (p["x1"] - 0.5) ** 2 + (p["x2"] - 0.5) ** 2

    lo = get_param_importances(_study(space, f, 200), method=method)
    hi = get_param_importances(_study(space, lambda p: -f(p), 200, direction="maximize"), method=method)
    assert list(lo) == list(hi)
    for k in lo:
        assert hi[k] == pytest.approx(lo[k], rel=1e-6, abs=1e-9)


# -- degenerate studies -------------------------------------------------------------------------------
@pytest.mark.parametrize("method", BOTH)
def test_one_trial_gives_zeros(method):
    study = _study({"a": Float(0, 1), "b": Categorical([1, 2])}, lambda p: 1.0, 1)
    imp = get_param_importances(study, method=method)
    assert imp == {"a": 0.0, "b": 0.0}


@pytest.mark.parametrize("method", BOTH)
def test_constant_objective_gives_zeros(method):
    study = _study({"a": Float(0, 1), "b": Int(0, 3)}, lambda p: 2.5, 50)
    assert set(get_param_importances(study, method=method).values()) == {0.0}


@pytest.mark.parametrize("method", BOTH)
def test_single_valued_parameter_is_zero(method):
    space = {"x": Float(0, 1), "fixed": Float(3.0, 3.0), "one": Categorical(["only"]), "same": Int(0, 9)}
    study = hpopt.create_study(sampler="random", seed=0)
    for _ in range(60):
        t = study.ask(space)
        study.tell(t, t.params["x"] ** 2)
    imp = get_param_importances(study, method=method)
    assert imp["fixed"] == 0.0 and imp["one"] == 0.0
    assert imp["x"] > 0.9


@pytest.mark.parametrize("method", BOTH)
def test_non_finite_targets_are_left_out(method):
    study = _three(120)
    base = get_param_importances(study, method=method, target=lambda t: t.value)
    imp = get_param_importances(
        study,
        method=method,
        target=lambda t: math.inf if t.number == 3 else (math.nan if t.number == 5 else t.value),
    )
    assert list(imp) == list(base)


@pytest.mark.parametrize("method", BOTH)
def test_changed_ranges_and_choices(method):
    """A numeric range that changes during the study is encoded with the latest one, widened to
    cover the older values (choice lists cannot change: the study refuses that)."""
    study = hpopt.create_study(sampler="random", seed=0)
    for i in range(80):
        t = study.ask()
        x = t.suggest_float("x", 0, 1) if i < 40 else t.suggest_float("x", 0.5, 2.0)
        c = t.suggest_categorical("c", ["p", "q"])
        study.tell(t, x + (c == "q"))
    imp = get_param_importances(study, method=method)
    assert set(imp) == {"x", "c"} and math.isclose(sum(imp.values()), 1.0)


# -- params, target, determinism ----------------------------------------------------------------------
@pytest.mark.parametrize("method", BOTH)
def test_params_restricts_and_renormalizes(method):
    imp = get_param_importances(_three(), method=method, params=["x3", "x2"])
    assert list(imp) == ["x2", "x3"]
    assert math.isclose(sum(imp.values()), 1.0)
    assert get_param_importances(_three(), method=method, params=[]) == {}


@pytest.mark.parametrize("method", BOTH)
def test_multi_objective_with_target(method):
    study = hpopt.create_study(sampler="random", directions=["minimize", "maximize"], seed=0)
    for _ in range(200):
        t = study.ask({"a": Float(0, 1), "b": Float(0, 1), "c": Float(0, 1)})
        study.tell(t, [(t.params["a"] - 0.5) ** 2, (t.params["b"] - 0.5) ** 2])
    first = get_param_importances(study, method=method, target=lambda t: t.values[0])
    second = get_param_importances(study, method=method, target=lambda t: t.values[1])
    assert list(first)[0] == "a" and list(second)[0] == "b"


def test_deterministic_with_seed():
    study = _three(200)
    for method in BOTH:
        a = get_param_importances(study, method=method, seed=7)
        b = get_param_importances(study, method=method, seed=7)
        assert a == b
    c = get_param_importances(study, method="fanova", seed=8)
    assert list(c)[0] == "x1"


def test_settings_change_the_result():
    study = _three(300)
    a = get_param_importances(study, gamma=0.1)
    b = get_param_importances(study, gamma=0.3, region=0.6, n_bins=16)
    assert a != b and list(b)[0] == "x1"
    c = get_param_importances(study, method="fanova", n_trees=4, max_depth=3, min_samples_leaf=5)
    assert list(c)[0] == "x1"


# -- bad input ----------------------------------------------------------------------------------------
def test_bad_input_messages():
    study = _three(20)
    with pytest.raises(ValueError, match=r"'ped-anova', 'fanova'"):
        get_param_importances(study, method="shap")
    with pytest.raises(ValueError, match=r"unknown parameter.*\['nope'\].*\['x1', 'x2', 'x3'\]"):
        get_param_importances(study, params=["x1", "nope"])
    with pytest.raises(TypeError, match="not a string"):
        get_param_importances(study, params="x1")
    with pytest.raises(ValueError, match="more than once"):
        get_param_importances(study, params=["x1", "x1"])
    with pytest.raises(TypeError, match="callable"):
        get_param_importances(study, target=3)
    with pytest.raises(TypeError, match="real number"):
        get_param_importances(study, target=lambda t: "bad")
    with pytest.raises(ValueError, match=r"unknown setting.*'n_trees'.*\['direction', 'gamma'"):
        get_param_importances(study, n_trees=3)
    with pytest.raises(ValueError, match="gamma <= region"):
        get_param_importances(study, gamma=0.5, region=0.2)
    with pytest.raises(ValueError, match="gamma"):
        get_param_importances(study, gamma=0.0)
    with pytest.raises(TypeError, match="n_trees"):
        get_param_importances(study, method="fanova", n_trees=2.5)
    with pytest.raises(ValueError, match="max_features"):
        get_param_importances(study, method="fanova", max_features=1.5)
    with pytest.raises(ValueError, match="direction"):
        get_param_importances(study, direction="up")
    with pytest.raises(TypeError, match="Study"):
        get_param_importances(study.trials)
    with pytest.raises(ValueError, match="seed"):
        get_param_importances(study, seed=-1)


def test_no_complete_trial():
    study = hpopt.create_study()
    with pytest.raises(ValueError, match="no COMPLETE trial"):
        get_param_importances(study)
    t = study.ask({"x": Float(0, 1)})
    study.tell(t, state="fail")
    with pytest.raises(ValueError, match="no COMPLETE trial"):
        get_param_importances(study)
    t = study.ask({"x": Float(0, 1)})
    study.tell(t, 1.0)
    with pytest.raises(ValueError, match="finite target"):
        get_param_importances(study, target=lambda t: math.nan)


def test_multi_objective_needs_target():
    study = hpopt.create_study(directions=["minimize", "minimize"])
    t = study.ask({"x": Float(0, 1)})
    study.tell(t, [1.0, 2.0])
    with pytest.raises(ValueError, match="target="):
        get_param_importances(study)


# -- PED-ANOVA pieces ---------------------------------------------------------------------------------
def test_top_set_includes_ties():
    y = np.array([3.0, 1.0, 1.0, 2.0, 1.0, 5.0])
    region, top = top_masks(y, gamma=0.2, region=1.0)
    assert region.all()
    assert top.tolist() == [False, True, True, False, True, False]
    region, top = top_masks(y, gamma=0.2, region=0.5)
    assert region.tolist() == [False, True, True, False, True, False]


def test_pearson_divergence_of_a_histogram():
    """A categorical column: the divergence is the chi-square of the top set against all trials."""
    study = hpopt.create_study(sampler="random", seed=0)
    for i, (c, y) in enumerate([("a", 0.0), ("a", 1.0), ("b", 2.0), ("b", 3.0)]):
        study.enqueue_trial({"c": c})
        t = study.ask({"c": Categorical(["a", "b"])})
        study.tell(t, y + i * 0)
    enc = encode_trials(study.trials, ["c"])
    y = np.array([t.value for t in study.trials])
    # top half = both "a": q_top = (1, 0), q_all = (.5, .5) -> (2 - 1)**2 * .5 + (0 - 1)**2 * .5
    assert ped_anova_importances(enc, y, gamma=0.5)[0] == pytest.approx(1.0)


# -- forest and exact fANOVA ------------------------------------------------------------------------------
def test_forest_fits_and_predicts():
    rng = np.random.default_rng(0)
    X = rng.random((400, 3))
    X[:, 2] = rng.integers(0, 4, 400)
    y = np.sin(6 * X[:, 0]) + np.array([0.0, 1.0, 0.0, 2.0])[X[:, 2].astype(int)]
    forest = RandomForest(n_trees=8, seed=0).fit(X, y, np.array([0, 0, 4]))
    Xt = rng.random((300, 3))
    Xt[:, 2] = rng.integers(0, 4, 300)
    yt = np.sin(6 * Xt[:, 0]) + np.array([0.0, 1.0, 0.0, 2.0])[Xt[:, 2].astype(int)]
    rmse = float(np.sqrt(np.mean((forest.predict(Xt) - yt) ** 2)))
    assert rmse < 0.25 * float(np.std(yt))


def test_categorical_subset_split_in_one_step():
    """Codes {0, 2} vs {1, 3}: one subset split separates them; an ordinal split could not."""
    X = np.repeat(np.arange(4.0), 5)[:, None]
    y = np.array([0.0, 1.0, 0.0, 1.0])[X[:, 0].astype(int)]
    forest = RandomForest(n_trees=1, max_depth=1, min_samples_leaf=1, bootstrap=False)
    forest.fit(X, y, np.array([4]))
    np.testing.assert_allclose(forest.predict(np.arange(4.0)[:, None]), [0, 1, 0, 1])


def test_forest_settings_are_checked():
    with pytest.raises(ValueError, match="n_trees"):
        RandomForest(n_trees=0)
    with pytest.raises(TypeError, match="min_samples_leaf"):
        RandomForest(min_samples_leaf=1.5)
    with pytest.raises(ValueError, match="finite"):
        RandomForest().fit(np.array([[np.nan]]), np.array([1.0]), np.array([0]))


def test_fanova_matches_brute_force_on_a_grid():
    """The exact per-tree sums equal a brute-force decomposition of the tree on a fine grid.

    Columns: a numeric one that is absent in 30% of the rows (inactive atom at -1) and a
    categorical one with 3 choices (+ the inactive code, which has no mass here).
    """
    rng = np.random.default_rng(3)
    n = 300
    a = rng.random(n)
    a[rng.random(n) < 0.3] = -1.0
    c = rng.integers(0, 3, n).astype(float)
    y = np.where(a < 0, 1.0, np.sin(5 * a)) + np.array([0.0, 0.7, -0.4])[c.astype(int)] * (a > 0.4)
    X = np.column_stack([a, c])
    card = np.array([0, 4])
    forest = RandomForest(n_trees=3, max_depth=6, min_samples_leaf=3, seed=0).fit(X, y, card)
    pi = 0.3
    # grid: the atom plus 4000 equal cells of [0, 1] for `a`; codes 0..2 for `c`
    g = (np.arange(4000) + 0.5) / 4000
    av = np.concatenate([[-1.0], g])
    aw = np.concatenate([[pi], np.full(g.size, (1 - pi) / g.size)])
    cv = np.arange(3.0)
    cw = np.full(3, 1 / 3)
    cell_mass = np.array([[1 / 3, 1 / 3, 1 / 3, 0.0]]) * (1 - 0.0)
    A, C = np.meshgrid(av, cv, indexing="ij")
    W = aw[:, None] * cw[None, :]
    for tree in forest.trees:
        one = RandomForest(n_trees=1, max_depth=6)
        one.trees, one.cardinality = [tree], card
        F = one.predict(np.column_stack([A.ravel(), C.ravel()])).reshape(A.shape)
        m = float((W * F).sum())
        var = float((W * (F - m) ** 2).sum())
        fa = (F * cw[None, :]).sum(axis=1)
        fc = (F * aw[:, None]).sum(axis=0)
        brute = np.array([(aw * (fa - m) ** 2).sum(), (cw * (fc - m) ** 2).sum()]) / var
        exact = _tree_fractions(tree, np.array([False, True]), np.array([pi, 0.0]), cell_mass)
        np.testing.assert_allclose(exact, brute, atol=2e-3)


def test_fanova_additive_function_fractions():
    """For f = a + 2 b on the uniform box the main effects explain 1/5 and 4/5 of the variance."""
    study = _study({"a": Float(0, 1), "b": Float(0, 1)}, lambda p: p["a"] + 2 * p["b"], 400)
    enc = encode_trials(study.trials, ["a", "b"])
    y = np.array([t.value for t in study.trials])
    frac = fanova_importances(enc, y, n_trees=16, max_depth=12)
    np.testing.assert_allclose(frac, [0.2, 0.8], atol=0.05)


# -- invariants ---------------------------------------------------------------------------------------
_SPACE = {
    "f": Float(-2, 2),
    "lg": Float(1e-3, 10, log=True),
    "i": Int(0, 4),
    "c": Categorical(["u", "v", "w"]),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 25),
    values=st.lists(st.sampled_from([0.0, 1.0, -3.5, 1e6, 2.0, 0.25]), min_size=25, max_size=25),
    cond=st.lists(st.booleans(), min_size=25, max_size=25),
    method=st.sampled_from(BOTH),
    gamma=st.sampled_from([0.05, 0.1, 0.5, 1.0]),
    seed=st.integers(0, 3),
)
def test_invariants(n, values, cond, method, gamma, seed):
    study = hpopt.create_study(sampler="random", seed=seed)
    for k in range(n):
        t = study.ask()
        for name, dist in _SPACE.items():
            if name != "c" or cond[k]:
                t.suggest(name, dist)
        study.tell(t, values[k])
    names = list({p: None for t in study.trials for p in t.params})
    opts = {"gamma": gamma} if method == "ped-anova" else {"n_trees": 3}
    imp = get_param_importances(study, method=method, seed=seed, **opts)
    assert sorted(imp) == sorted(names)
    vals = list(imp.values())
    assert all(v >= 0.0 and math.isfinite(v) for v in vals)
    assert vals == sorted(vals, reverse=True)
    total = sum(vals)
    assert total == 0.0 or math.isclose(total, 1.0, rel_tol=1e-9)


@pytest.mark.parametrize("method", BOTH)
def test_parameter_only_in_left_out_trials(method):
    """A parameter seen only in trials whose target is left out (NaN) gets importance 0."""
    study = _three(60)
    t = study.ask({"x1": Float(0, 1), "extra": Float(0, 1)})
    study.tell(t, 1.0)
    imp = get_param_importances(
        study, method=method, target=lambda t: math.nan if "extra" in t.params else t.value
    )
    assert imp["extra"] == 0.0 and list(imp)[0] == "x1"
