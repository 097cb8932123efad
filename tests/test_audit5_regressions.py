"""Regression tests from audit 5 (scikit-learn search, importance, terminator, refine, plots).

Each test failed on the tree before its fix; all are seeded and independent of timing.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import hpopt
from hpopt.importance import get_param_importances
from hpopt.refine import refined_space, warm_start
from hpopt.terminator import Terminator, regret_bound


def _linear_study(scale: float, n: int = 40) -> hpopt.Study:
    """x matters, y barely: value = scale * (x + 0.01 y)."""
    study = hpopt.create_study(sampler="random", seed=0)
    space = {"x": hpopt.Float(0, 1), "y": hpopt.Float(0, 1)}
    for _ in range(n):
        t = study.ask(space)
        study.tell(t, scale * (t.params["x"] + 0.01 * t.params["y"]))
    return study


# -- hpopt.sklearn.SearchCV ---------------------------------------------------------------------
class TestSearchCV:
    @pytest.fixture(autouse=True)
    def _data(self):
        pytest.importorskip("sklearn")
        from sklearn.datasets import make_regression

        self.X, self.y = make_regression(n_samples=40, n_features=3, noise=1.0, random_state=0)

    def test_complex_error_score_is_refused_before_any_fit(self):
        # numbers.Number let 1j through; the first failing fit then died in float(1j) (TypeError)
        # after fits had run and a trial was written.
        from sklearn.base import BaseEstimator, RegressorMixin

        from hpopt.sklearn import SearchCV

        class Failing(BaseEstimator, RegressorMixin):
            fits = 0

            def __init__(self, alpha=1.0):
                self.alpha = alpha

            def fit(self, X, y):
                type(self).fits += 1
                raise RuntimeError("always fails")

        study = hpopt.create_study(direction="maximize", sampler="random", seed=0)
        search = SearchCV(Failing(), {"alpha": hpopt.Float(0.1, 1.0)}, study=study, n_trials=2, cv=3,
                          error_score=1j)
        with pytest.raises(ValueError, match="error_score must be 'raise' or a number"):
            search.fit(self.X, self.y)
        assert Failing.fits == 0 and study.trials == []

    def test_complex_score_is_a_clear_error(self):
        # The scorer's result was checked with numbers.Number, so 1j reached float() (TypeError).
        from sklearn.linear_model import Ridge

        from hpopt.sklearn import SearchCV

        search = SearchCV(Ridge(), {"alpha": hpopt.Float(0.1, 1.0)}, sampler="random", seed=0, n_trials=1,
                          cv=3, scoring=lambda est, X, y: 1j)
        with pytest.raises(ValueError, match="scoring must return a number"):
            search.fit(self.X, self.y)

    def test_every_candidate_pruned_is_an_error_not_a_pruned_best(self):
        # The docstring promises a pruned candidate is never best_; when all were pruned, best_index_
        # silently pointed at a pruned one (best_score_ nan) and it was refit.
        from sklearn.linear_model import Ridge

        from hpopt.sklearn import SearchCV

        search = SearchCV(Ridge(), {"alpha": hpopt.Float(1e-3, 1e3, log=True)}, sampler="random", seed=0,
                          n_trials=3, cv=3, pruner=hpopt.ThresholdPruner(lower=10.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ValueError, match="every one of the 3 candidate"):
                search.fit(self.X, self.y)
        assert not hasattr(search, "best_estimator_")
        assert [t.state for t in search.study_.trials] == [hpopt.TrialState.PRUNED] * 3


# -- hpopt.sklearn.choose_cv / nested_cross_validate ---------------------------------------------
def test_choose_cv_does_not_stratify_a_multilabel_target():
    # Any classifier got StratifiedKFold, which refuses multi-output/multilabel targets: choose_cv's
    # splitter could not split the data, and nested_cross_validate (int cv) failed outright, where
    # scikit-learn's check_cv falls back to KFold.
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.neighbors import KNeighborsClassifier

    from hpopt.sklearn import choose_cv, nested_cross_validate

    X, y = load_iris(return_X_y=True)
    Y = np.c_[y == 0, y == 1].astype(int)  # multilabel indicator, which KNN fits and scores
    choice = choose_cv(KNeighborsClassifier(), X, Y, seed=0, n_repeats=1)
    assert type(choice.cv).__name__ == "KFold"
    assert len(list(choice.cv.split(X, Y))) == 5
    result = nested_cross_validate(KNeighborsClassifier(), {"n_neighbors": hpopt.Int(1, 10)}, X, Y,
                                   n_trials=1, outer_cv=3, inner_cv=3, sampler="random", seed=0)
    assert np.isfinite(result.outer_scores).all()
    # binary and multiclass targets are still stratified
    assert type(choose_cv(KNeighborsClassifier(), X, y, seed=0, n_repeats=1).cv).__name__ == "StratifiedKFold"


# -- refine.warm_start ----------------------------------------------------------------------------
def test_warm_start_conflicting_distribution_writes_nothing():
    # The copy enqueued a trial, then ask() refused the refined categorical: a WAITING trial was left
    # behind (run by the next optimize, and blocking the next warm_start).
    space = {"x": hpopt.Float(-10, 10), "kind": hpopt.Categorical(["a", "b", "c"])}
    old = hpopt.create_study(sampler="random", seed=0)
    for _ in range(30):
        t = old.ask(space)
        old.tell(t, (t.params["x"] - 2) ** 2 + (t.params["kind"] != "a"))
    refined = refined_space(old, top=0.1)
    assert refined["kind"] != space["kind"]  # a choice was dropped
    new = hpopt.create_study(sampler="random", seed=1)
    t = new.ask(space)  # the new study already uses the full categorical
    new.tell(t, 1.0)
    with pytest.raises(ValueError, match="kind"):
        warm_start(new, old, space=refined)
    assert [t.state for t in new.trials] == [hpopt.TrialState.COMPLETE]


# -- refine.refined_space -------------------------------------------------------------------------
def test_refined_stepped_float_with_margin_zero_is_narrowed_not_kept_whole():
    # margin=0 and equal selected values on a step grid returned the original range with the note
    # "with the margin they span the whole range" (an Int or unstepped Float is narrowed there).
    study = hpopt.create_study(sampler="random", seed=0)
    for _ in range(20):
        t = study.ask({"st": hpopt.Float(0, 10, step=0.5)})
        study.tell(t, abs(t.params["st"] - 3))
    refined = refined_space(study, top=1, margin=0.0)
    best = study.best_trial.params["st"]
    assert refined["st"].contains(best)
    assert refined["st"].high - refined["st"].low <= 1.0 + 1e-12
    assert "span the whole range" not in refined.notes["st"]


# -- terminator -----------------------------------------------------------------------------------
def test_terminator_does_not_stop_because_a_range_was_widened():
    # A changed numeric range (allowed in a study) dropped the parameter from the GP's space; with
    # no parameter left the bound was 0 and the study stopped, however much x still mattered.
    study = hpopt.create_study(sampler="random", seed=0)
    for i in range(20):
        t = study.ask({"x": hpopt.Float(0, 1 if i < 10 else 10)})
        study.tell(t, t.params["x"])
    stop = Terminator(error=0.01, min_n_trials=2)
    assert stop.check(study) is False
    assert stop.last_bound > 0.01
    _, n_params = regret_bound(study.get_trials(states=["complete"]))
    assert n_params == 1


def test_terminator_bound_is_finite_for_huge_values():
    # Values beyond ~1e154 overflowed the GP's variance: bound NaN, so the terminator never stopped.
    small = Terminator(error=0.1, min_n_trials=10)
    huge = Terminator(error=0.1 * 1e200, min_n_trials=10)
    assert small.check(_linear_study(1.0)) is True
    assert huge.check(_linear_study(1e200)) is True
    assert math.isfinite(huge.last_bound) and huge.last_bound > 0


# -- importance -----------------------------------------------------------------------------------
def test_fanova_with_huge_values_still_explains():
    # np.std of values beyond ~1e154 overflowed to inf; the scaled target was all 0 and every
    # importance 0 ("nothing to explain") for a perfectly explainable objective.
    imp = get_param_importances(_linear_study(1e200), method="fanova")
    assert list(imp)[0] == "x" and imp["x"] > 0.9


def test_importance_module_examples_hold():
    # The module example (10 x**2 + y**2, importance x first) was written for uniform sampling; with
    # the default sampler now "auto", PED-ANOVA ranks y first and the example printed ['y', 'x'].
    import doctest

    import hpopt.importance as module

    assert doctest.testmod(module, verbose=False).failed == 0


def test_ped_anova_n_bins_is_bounded():
    # The smoothing kernel is an n_bins x n_bins matrix: n_bins=100_000 asked for 80 GB (the
    # process was OOM-killed). 1025 is cheap to run, so this test is safe before the fix too.
    study = _linear_study(1.0, n=10)
    with pytest.raises(ValueError, match="n_bins <= 1024"):
        get_param_importances(study, n_bins=1025)
    assert list(get_param_importances(study, n_bins=1024)) == ["x", "y"]


# -- plots ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["1.5", True])
def test_plot_target_must_return_a_real_number(bad):
    # float() took "1.5" and True; the documented rule (and get_param_importances) refuse them.
    # numpy scalars and 0-d arrays stay accepted.
    pytest.importorskip("matplotlib")
    from hpopt.plot import plot_optimization_history

    study = _linear_study(1.0, n=5)
    with pytest.raises(ValueError, match="must return a real number"):
        plot_optimization_history(study, target=lambda t: bad)
    plot_optimization_history(study, target=lambda t: np.float32(t.values[0]))
    plot_optimization_history(study, target=lambda t: np.array(t.values[0]))
