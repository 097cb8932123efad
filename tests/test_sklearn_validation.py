"""Tests for hpopt.sklearn.validation: choose_cv, RepeatedSplits and nested_cross_validate."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier  # noqa: E402
from sklearn.metrics import get_scorer  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GroupKFold,
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedGroupKFold,
    StratifiedKFold,
)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

import hpopt  # noqa: E402
from hpopt.sklearn.validation import (  # noqa: E402
    CVChoice,
    NestedCVResult,
    RepeatedSplits,
    choose_cv,
    nested_cross_validate,
)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _splits(cv, X, y=None, groups=None):
    return [(tr.tolist(), te.tolist()) for tr, te in cv.split(X, y, groups)]


# -- choose_cv --------------------------------------------------------------------------------------
def test_classifier_gets_shuffled_stratified_folds_reproducibly():
    X, y = load_iris(return_X_y=True)
    c = choose_cv(LogisticRegression(), X, y, n_repeats=1, seed=3)
    assert isinstance(c, CVChoice) and isinstance(c.cv, StratifiedKFold)
    assert c.cv.shuffle and c.cv.random_state == 3 and c.cv.n_splits == 5
    assert _splits(c.cv, X, y) == _splits(c.cv, X, y)  # same folds at every call
    for _, te in c.cv.split(X, y):
        assert np.bincount(y[te]).tolist() == [10, 10, 10]
    assert "StratifiedKFold" in str(c) and c.pilot_scores is None
    # seed=None: a seed is drawn once, so the folds stay fixed
    c2 = choose_cv(LogisticRegression(), X, y, n_repeats=1)
    assert isinstance(c2.cv.random_state, int) and _splits(c2.cv, X, y) == _splits(c2.cv, X, y)


def test_regressor_kfold_and_fixed_repeats():
    X, y = load_diabetes(return_X_y=True)
    c = choose_cv(Ridge(), X, y, n_repeats=1, seed=0)
    assert type(c.cv) is KFold and c.cv.shuffle
    r = choose_cv(Ridge(), X, y, n_repeats=3, n_splits=4, seed=0)
    assert isinstance(r.cv, RepeatedKFold) and r.cv.get_n_splits() == 12
    rc = choose_cv(LogisticRegression(), *load_iris(return_X_y=True), n_repeats=2, seed=0)
    assert isinstance(rc.cv, RepeatedStratifiedKFold) and rc.cv.get_n_splits() == 10


def test_auto_repeats_follow_the_pilot_noise():
    X, y = load_diabetes(return_X_y=True)
    noisy = choose_cv(Ridge(), X, y, seed=0, target_se=0.01)
    assert isinstance(noisy.cv, RepeatedKFold) and noisy.cv.n_repeats > 1
    assert noisy.pilot_scores.shape == (10,) and noisy.standard_error <= 0.0100001
    sd = np.std(noisy.pilot_scores, ddof=1)
    assert noisy.cv.n_repeats == int(np.ceil((sd / 0.01) ** 2 / 5))
    quiet = choose_cv(Ridge(), X, y, seed=0, target_se=0.5)
    assert type(quiet.cv) is KFold and "no repeats needed" in str(quiet)
    capped = choose_cv(Ridge(), X, y, seed=0, target_se=1e-4, max_repeats=3)
    assert capped.cv.n_repeats == 3 and "capped" in str(capped)


def test_groups_never_straddle_and_lower_n_splits():
    X, y = load_iris(return_X_y=True)
    groups = np.arange(150) % 4
    c = choose_cv(LogisticRegression(), X, y, groups=groups, n_repeats=1, seed=0)
    assert isinstance(c.cv, StratifiedGroupKFold) and c.cv.shuffle
    assert c.cv.get_n_splits(X, y, groups) == 4 and "lowered from 5 to 4" in str(c)
    for tr, te in c.cv.split(X, y, groups):
        assert not set(groups[tr]) & set(groups[te])
    Xr, yr = load_diabetes(return_X_y=True)
    g = np.arange(len(yr)) % 9
    r = choose_cv(Ridge(), Xr, yr, groups=g, n_repeats=3, seed=1)
    assert isinstance(r.cv.splitter, GroupKFold) and r.cv.get_n_splits(Xr, yr, g) == 15
    splits = _splits(r.cv, Xr, yr, g)
    assert len(splits) == 15
    for tr, te in splits:
        assert not set(g[tr]) & set(g[te])
    assert splits[:5] != splits[5:10]  # the repeats differ
    assert splits == _splits(r.cv, Xr, yr, g)


def test_small_classes_lower_n_splits():
    X = np.arange(30.0).reshape(-1, 1)
    y = np.array([0] * 27 + [1] * 3)
    c = choose_cv(LogisticRegression(), X, y, n_repeats=1, seed=0)
    assert c.cv.n_splits == 3 and "smallest class has 3" in str(c)
    y1 = np.array([0] * 29 + [1])
    assert type(choose_cv(LogisticRegression(), X, y1, n_repeats=1, seed=0).cv) is KFold


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n_splits": 1}, ValueError, "n_splits"),
        ({"n_splits": 2.0}, TypeError, "n_splits"),
        ({"n_repeats": 0}, ValueError, "n_repeats"),
        ({"n_repeats": "many"}, ValueError, "n_repeats"),
        ({"target_se": 0}, ValueError, "target_se"),
        ({"target_se": "x"}, TypeError, "target_se"),
        ({"max_repeats": 0}, ValueError, "max_repeats"),
        ({"groups": [0] * 150}, ValueError, "groups"),
        ({"groups": [0, 1]}, ValueError, "groups"),
        ({"seed": -1}, ValueError, "seed"),
        ({"n_splits": 151}, ValueError, "n_splits <= n_samples"),
    ],
)
def test_choose_cv_bad_input(kwargs, exc, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(exc, match=match):
        choose_cv(LogisticRegression(), X, y, **kwargs)


def test_repeated_splits_refuses_unshuffled():
    with pytest.raises(ValueError, match="shuffle"):
        RepeatedSplits(GroupKFold(3), 2)
    with pytest.raises(TypeError, match="splitter"):
        RepeatedSplits(object(), 2)
    with pytest.raises(ValueError, match="n_repeats"):
        RepeatedSplits(KFold(3, shuffle=True, random_state=0), 0)


# -- nested cross-validation -------------------------------------------------------------------------
SPACE_TREE = {
    "max_depth": hpopt.Int(1, 10),
    "min_samples_leaf": hpopt.Int(1, 30),
    "max_features": hpopt.Float(0.2, 1.0),
}


def _noise(seed=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(120, 5)), rng.permutation(np.repeat([0, 1], 60))


def test_nested_cv_on_pure_noise_shows_the_optimism_of_tuning():
    X, y = _noise()
    r = nested_cross_validate(
        DecisionTreeClassifier(random_state=0), SPACE_TREE, X, y,
        outer_cv=4, inner_cv=3, n_trials=20, sampler="random", seed=0, return_searches=True,
    )
    assert isinstance(r, NestedCVResult) and len(r.folds) == 4 and len(r.searches) == 4
    # labels are noise: the best of 20 configurations looks better than chance on the inner folds,
    # the tuned model does not on the outer test folds
    assert r.mean_inner_best_score > 0.58 and abs(r.mean_outer_score - 0.5) < 0.08
    assert r.gap > 2 * r.gap_se > 0
    assert "overstates performance" in str(r)
    for f, s in zip(r.folds, r.searches):
        assert f.inner_best_score == s.best_score_ and f.best_params == s.best_params_
        assert f.n_train + f.n_test == 120 and f.gap == f.inner_best_score - f.outer_score
    d = r.to_dict()
    assert d["gap"] == r.gap and len(d["outer_score"]) == 4


def test_nested_cv_outer_score_is_the_scorer_on_the_held_out_fold_and_is_deterministic():
    X, y = load_diabetes(return_X_y=True)
    space = {"ridge__alpha": hpopt.Float(1e-4, 1e3, log=True)}
    outer = KFold(3, shuffle=True, random_state=0)
    kw = dict(outer_cv=outer, inner_cv=3, n_trials=6, sampler="tpe", scoring="neg_mean_absolute_error",
              seed=5)
    pipe = make_pipeline(StandardScaler(), Ridge())
    r = nested_cross_validate(pipe, space, X, y, return_searches=True, **kw)
    scorer = get_scorer("neg_mean_absolute_error")
    for f, s, (_, te) in zip(r.folds, r.searches, outer.split(X)):
        assert f.outer_score == pytest.approx(scorer(s.best_estimator_, X[te], y[te]))
        assert f.n_test == len(te)
    again = nested_cross_validate(make_pipeline(StandardScaler(), Ridge()), space, X, y, **kw)
    assert again.to_dict() == r.to_dict() and str(again) == str(r)
    assert "neg_mean_absolute_error" in str(r)


def test_nested_cv_groups_and_fit_params():
    X, y = load_iris(return_X_y=True)
    groups = np.arange(150) % 6
    weights = np.ones(150)
    r = nested_cross_validate(
        RidgeClassifier(), {"alpha": hpopt.Float(1e-2, 1e2, log=True)}, X, y,
        outer_cv=3, inner_cv=2, n_trials=3, sampler="random", groups=groups, seed=0,
        fit_params={"sample_weight": weights}, return_searches=True,
    )
    assert len(r.folds) == 3 and all(f.n_test == 50 for f in r.folds)
    assert all(s.n_splits_ == 2 for s in r.searches)
    assert r.mean_outer_score > 0.8


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n_trials": 0}, ValueError, "n_trials"),
        ({"scoring": ["accuracy", "f1_macro"]}, ValueError, "one metric"),
        ({"param_space": {}}, ValueError, "param_space"),
        ({"fit_params": [1]}, TypeError, "fit_params"),
        ({"param_space": {"nope": [1, 2]}}, ValueError, "nope"),
    ],
)
def test_nested_cv_bad_input(kwargs, exc, match):
    X, y = load_iris(return_X_y=True)
    args = {"param_space": {"C": hpopt.Float(0.1, 10.0)}, **kwargs}
    space = args.pop("param_space")
    with pytest.raises(exc, match=match):
        nested_cross_validate(LogisticRegression(), space, X, y, n_trials=args.pop("n_trials", 2),
                              sampler="random", **args)


def test_the_chosen_splitter_drives_a_search():
    from hpopt.sklearn.search import SearchCV

    X, y = load_diabetes(return_X_y=True)
    g = np.arange(len(y)) % 5
    cv = choose_cv(Ridge(), X, y, groups=g, n_splits=3, n_repeats=2, seed=0).cv
    search = SearchCV(Ridge(), {"alpha": hpopt.Float(1e-3, 1e2, log=True)}, sampler="random",
                      n_trials=3, cv=cv, seed=0).fit(X, y, groups=g)
    assert search.n_splits_ == 6 and "split5_test_score" in search.cv_results_
