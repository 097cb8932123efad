"""hpopt.sklearn.SearchCV: the scikit-learn drop-in (cv_results_, best_*, refit, pruning, resume...)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import BaseEstimator, RegressorMixin, clone  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import FitFailedWarning  # noqa: E402
from sklearn.linear_model import Lasso, Ridge, RidgeClassifier  # noqa: E402
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import hpopt  # noqa: E402
from hpopt.sklearn import SearchCV  # noqa: E402
from hpopt.sklearn.results import param_arrays, rank_descending  # noqa: E402
from hpopt.sklearn.search import RECORD_KEY  # noqa: E402


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Tiny fits: BLAS threads only add contention on a shared machine."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def reg():
    return make_regression(n_samples=60, n_features=5, noise=5.0, random_state=0)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


ALPHA = {"alpha": hpopt.Float(1e-3, 1e3, log=True)}


def _search(**kw):
    kw.setdefault("sampler", "tpe")
    kw.setdefault("seed", 0)
    kw.setdefault("n_trials", 4)
    kw.setdefault("cv", 3)
    return SearchCV(kw.pop("estimator", Ridge()), kw.pop("param_space", ALPHA), **kw)


class Counting(BaseEstimator, RegressorMixin):
    """A regressor that counts fits, fails on request and records what fit received."""

    fits = 0

    def __init__(self, alpha=1.0, fail_above=None):
        self.alpha = alpha
        self.fail_above = fail_above

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        if self.fail_above is not None and self.alpha > self.fail_above:
            raise RuntimeError(f"alpha {self.alpha} too large")
        self.n_weights_ = None if sample_weight is None else len(sample_weight)
        self.n_train_ = len(X)
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def predict(self, X):
        return X @ self.coef_ / (1.0 + 0.01 * self.alpha)


# -- cv_results_ -----------------------------------------------------------------------------------
def test_cv_results_keys_and_dtypes_match_gridsearchcv(reg):
    X, y = reg
    grid = {"alpha": [0.1, 1.0, 10.0], "solver": ["svd", "cholesky"]}
    ref = GridSearchCV(Ridge(), grid, cv=3, return_train_score=True).fit(X, y)
    ours = SearchCV(Ridge(), grid, sampler=hpopt.GridSampler(grid), n_trials=6, cv=3,
                    return_train_score=True).fit(X, y)
    assert list(ours.cv_results_) == list(ref.cv_results_)
    for key, value in ref.cv_results_.items():
        mine = ours.cv_results_[key]
        assert type(mine) is type(value), key
        if key != "params":
            assert mine.dtype == value.dtype, key
    # the same candidates get the same scores (trial order differs from grid order)
    want = {(p["alpha"], p["solver"]): s for p, s in zip(ref.cv_results_["params"],
                                                           ref.cv_results_["mean_test_score"])}
    for p, s in zip(ours.cv_results_["params"], ours.cv_results_["mean_test_score"]):
        assert s == pytest.approx(want[(p["alpha"], p["solver"])], rel=1e-9)
    assert ours.best_score_ == pytest.approx(ref.best_score_, rel=1e-9)
    assert ours.best_params_ == ref.best_params_


def test_multimetric_keys_refit_by_name(iris):
    X, y = iris
    scoring = ["accuracy", "f1_macro"]
    ref = GridSearchCV(RidgeClassifier(), {"alpha": [0.1, 10.0]}, scoring=scoring, refit="f1_macro",
                       cv=3).fit(X, y)
    ours = _search(estimator=RidgeClassifier(), scoring=scoring, refit="f1_macro", n_trials=2).fit(X, y)
    assert list(ours.cv_results_) == list(ref.cv_results_)
    assert ours.multimetric_ and set(ours.scorer_) == set(scoring)
    res = ours.cv_results_
    assert ours.best_score_ == res["mean_test_f1_macro"][ours.best_index_]
    assert res["rank_test_f1_macro"][ours.best_index_] == 1
    assert ours.score(X, y) == pytest.approx(ours.scorer_["f1_macro"](ours.best_estimator_, X, y))
    # the study maximized the refit metric
    values = [t.value for t in ours.study_.trials]
    assert np.allclose(values, res["mean_test_f1_macro"])


def test_multimetric_needs_refit_name_or_false(iris):
    X, y = iris
    with pytest.raises(ValueError, match="refit must be set to a scorer key"):
        _search(estimator=RidgeClassifier(), scoring=["accuracy", "f1_macro"]).fit(X, y)
    s = _search(estimator=RidgeClassifier(), scoring={"acc": "accuracy"}, refit=False, n_trials=2).fit(X, y)
    assert not hasattr(s, "best_index_") and not hasattr(s, "best_estimator_")
    assert "rank_test_acc" in s.cv_results_


def test_rank_min_method_and_nan_last():
    r = rank_descending(np.array([0.5, 0.9, 0.9, np.nan, 0.1]))
    assert r.dtype == np.int32
    assert r.tolist() == [3, 1, 1, 5, 4]
    assert rank_descending(np.array([np.nan, np.nan])).tolist() == [1, 1]
    assert rank_descending(np.array([-np.inf, np.nan, 0.0])).tolist() == [2, 2, 1]


def test_param_arrays_dtypes_like_scikit_learn():
    cols = param_arrays([{"a": 1, "b": "x", "c": (1, 2)}, {"a": 2.5, "c": (3,)}, {"b": "y", "c": (4, 5)}])
    assert cols["param_a"].dtype == float and cols["param_a"].mask.tolist() == [False, False, True]
    assert cols["param_b"].dtype == object and cols["param_b"].mask.tolist() == [False, True, False]
    assert cols["param_c"].dtype == object and cols["param_c"][1] == (3,)  # ragged tuples stay whole
    same = param_arrays([{"c": (1, 2)}, {"c": (3, 4)}])["param_c"]
    assert same.dtype == object and same.shape == (2,) and same[0] == (1, 2)


def test_std_is_population_std_and_best_is_argmax(reg):
    X, y = reg
    s = _search(n_trials=5).fit(X, y)
    res = s.cv_results_
    splits = np.column_stack([res[f"split{k}_test_score"] for k in range(3)])
    assert np.allclose(res["std_test_score"], splits.std(axis=1))
    assert np.allclose(res["mean_test_score"], splits.mean(axis=1))
    assert s.best_index_ == int(np.argmax(res["mean_test_score"]))
    assert s.best_params_ == res["params"][s.best_index_]
    assert s.n_splits_ == 3 and s.refit_time_ >= 0
    manual = Ridge(**s.best_params_).fit(X, y)
    assert np.allclose(s.predict(X), manual.predict(X))
    assert s.n_features_in_ == 5


def test_seeded_searches_repeat(reg):
    X, y = reg
    a = _search(n_trials=5).fit(X, y).cv_results_
    b = _search(n_trials=5).fit(X, y).cv_results_
    assert a["params"] == b["params"]
    assert np.array_equal(a["mean_test_score"], b["mean_test_score"])


# -- spaces ----------------------------------------------------------------------------------------
def test_pipeline_step_params_and_lists(reg):
    X, y = reg
    pipe = Pipeline([("scale", StandardScaler()), ("model", Ridge())])
    space = {"model__alpha": hpopt.Float(1e-2, 1e2, log=True), "scale__with_mean": [True, False]}
    s = _search(estimator=pipe, param_space=space, n_trials=4).fit(X, y)
    assert set(s.best_params_) == set(space)
    assert s.best_estimator_.named_steps["model"].alpha == s.best_params_["model__alpha"]
    assert s.cv_results_["param_scale__with_mean"].dtype == bool


def test_list_of_estimators_is_a_categorical(reg):
    X, y = reg
    pipe = Pipeline([("scale", StandardScaler()), ("model", Ridge())])
    space = {"model": [Ridge(alpha=1.0), Lasso(alpha=0.1)]}
    s = SearchCV(pipe, space, sampler=hpopt.GridSampler({"model": ["Ridge()", "Lasso(alpha=0.1)"]}),
                 n_trials=2, cv=3).fit(X, y)
    models = s.cv_results_["param_model"]
    assert models.dtype == object
    assert sorted(type(m).__name__ for m in models) == ["Lasso", "Ridge"]
    assert isinstance(s.best_estimator_.named_steps["model"], (Ridge, Lasso))
    assert {t.params["model"] for t in s.study_.trials} == {"Ridge()", "Lasso(alpha=0.1)"}  # labels


def conditional_space(trial):
    """Define-by-run: the model family is a categorical and its parameters follow."""
    family = trial.suggest_categorical("family", ["ridge", "lasso"])
    if family == "ridge":
        return {"model": Ridge(), "model__alpha": trial.suggest_float("ridge_alpha", 1e-2, 1e2, log=True)}
    return {"model": Lasso(max_iter=5000), "model__alpha": trial.suggest_float("lasso_alpha", 1e-3, 1.0,
                                                                               log=True)}


def test_callable_space_conditional_params_and_pickle(reg):
    X, y = reg
    pipe = Pipeline([("scale", StandardScaler()), ("model", Ridge())])
    s = _search(estimator=pipe, param_space=conditional_space, n_trials=6).fit(X, y)
    res = s.cv_results_
    assert set(res) >= {"param_model", "param_model__alpha"}
    families = {type(m).__name__ for m in res["param_model"]}
    assert families <= {"Ridge", "Lasso"}
    for p, ft in zip(res["params"], s.study_.trials):
        name = "ridge_alpha" if ft.params["family"] == "ridge" else "lasso_alpha"
        assert p["model__alpha"] == ft.params[name]
    back = pickle.loads(pickle.dumps(s))
    assert np.allclose(back.predict(X), s.predict(X))


def test_masked_params_for_conditional_names(reg):
    X, y = reg

    def space(trial):
        if trial.suggest_categorical("fit_intercept", [True, False]):
            return {"fit_intercept": True, "alpha": trial.suggest_float("alpha", 0.1, 10.0)}
        return {"fit_intercept": False}

    s = SearchCV(Ridge(), space, sampler="random", seed=0, n_trials=6, cv=3).fit(X, y)
    alpha = s.cv_results_["param_alpha"]
    rows = [p["fit_intercept"] for p in s.cv_results_["params"]]
    assert True in rows and False in rows  # both branches (seeded)
    assert alpha.mask.tolist() == [not r for r in rows]
    assert alpha.dtype == float


# -- fit: groups, fit params, refit ----------------------------------------------------------------
def test_fit_params_are_split_like_X_and_passed_to_refit(reg):
    X, y = reg
    w = np.ones(len(y))
    s = _search(estimator=Counting(), param_space={"alpha": hpopt.Float(0.1, 1.0)}, n_trials=2,
                cv=KFold(3)).fit(X, y, sample_weight=w)
    assert s.best_estimator_.n_weights_ == len(y)
    for t in s.study_.trials:
        assert len(t.user_attrs[RECORD_KEY]["test"]["score"]) == 3


def test_groups_reach_the_splitter(reg):
    X, y = reg
    groups = np.repeat(np.arange(6), 10)
    s = _search(cv=GroupKFold(n_splits=3), n_trials=2).fit(X, y, groups=groups)
    assert s.n_splits_ == 3
    with pytest.raises(ValueError, match="groups"):
        _search(cv=GroupKFold(n_splits=3), n_trials=2).fit(X, y)


def test_refit_callable_and_refit_false(reg):
    X, y = reg
    s = _search(refit=lambda res: int(np.argmin(res["mean_test_score"])), n_trials=4).fit(X, y)
    assert s.best_index_ == int(np.argmin(s.cv_results_["mean_test_score"]))
    assert not hasattr(s, "best_score_")
    s = _search(refit=False, n_trials=2).fit(X, y)
    assert hasattr(s, "best_params_") and not hasattr(s, "best_estimator_")
    with pytest.raises(AttributeError, match="has no attribute 'predict'") as info:
        s.predict(X)
    assert "refit=False" in str(info.value.__cause__)  # as scikit-learn's searches explain it
    with pytest.raises(IndexError):
        _search(refit=lambda res: 99, n_trials=2).fit(X, y)


def test_delegation_follows_the_estimator(iris):
    X, y = iris
    s = _search(estimator=RidgeClassifier(), n_trials=2)
    assert hasattr(s, "decision_function") and not hasattr(s, "predict_proba")
    s.fit(X, y)
    assert np.array_equal(s.classes_, [0, 1, 2])
    assert s.decision_function(X).shape == (150, 3)
    t = SearchCV(PCA(), {"n_components": hpopt.Int(1, 3)}, sampler="tpe", seed=0, n_trials=2, cv=3).fit(X)
    assert t.transform(X).shape[1] == t.best_params_["n_components"]
    assert t.inverse_transform(t.transform(X)).shape == X.shape
    assert t.score_samples(X).shape == (150,)


def test_feature_names_in_delegated():
    pd = pytest.importorskip("pandas")
    X, y = make_regression(n_samples=40, n_features=3, random_state=1)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    s = _search(n_trials=2).fit(df, y)
    assert list(s.feature_names_in_) == ["a", "b", "c"]


# -- clone / params / pickle -----------------------------------------------------------------------
def test_clone_get_set_params_do_not_validate(reg):
    s = SearchCV(Ridge(), {"nope": [1]}, n_trials=0, sampler="no-such")  # validated in fit, not here
    c = clone(s)
    assert c.get_params()["n_trials"] == 0 and c.param_space == {"nope": [1]}
    c.set_params(n_trials=3, estimator__alpha=2.0)
    assert c.estimator.alpha == 2.0 and s.estimator.alpha == 1.0
    study = hpopt.create_study(direction="maximize", sampler="tpe", seed=0)
    shared = clone(SearchCV(Ridge(), ALPHA, study=study))
    assert shared.study is study  # a study is a handle, shared by clones


def test_pickle_keeps_the_study(reg):
    X, y = reg
    s = _search(n_trials=3).fit(X, y)
    back = pickle.loads(pickle.dumps(s))
    assert len(back.study_.trials) == 3
    assert back.study_.best_value == s.study_.best_value
    assert np.allclose(back.predict(X), s.predict(X))
    for key in s.cv_results_:
        assert np.array_equal(np.asarray(back.cv_results_[key], dtype=object),
                              np.asarray(s.cv_results_[key], dtype=object)), key


def test_pickled_search_with_a_given_study_keeps_one_study(reg, tmp_path):
    X, y = reg
    study = hpopt.create_study(direction="maximize", sampler="tpe", seed=0)
    s = SearchCV(Ridge(), ALPHA, study=study, n_trials=2, cv=3).fit(X, y)
    back = pickle.loads(pickle.dumps(s))
    assert back.study is back.study_
    back.fit(X, y)  # continues the copied study
    assert len(back.cv_results_["params"]) == 4 and len(study.trials) == 2


# -- resume ----------------------------------------------------------------------------------------
def test_resume_from_a_stored_study(reg, tmp_path):
    X, y = reg
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = hpopt.create_study(study_name="ridge", storage=url, direction="maximize", sampler="tpe", seed=0)
    first = SearchCV(Ridge(), ALPHA, study=study, n_trials=3, cv=3).fit(X, y)
    assert len(first.cv_results_["params"]) == 3
    again = hpopt.load_study("ridge", url, sampler="tpe", seed=1)
    second = SearchCV(Ridge(), ALPHA, study=again, n_trials=2, cv=3).fit(X, y)
    res = second.cv_results_
    assert len(res["params"]) == 5
    assert np.allclose(res["mean_test_score"][:3], first.cv_results_["mean_test_score"])
    assert second.best_score_ >= first.best_score_
    back = pickle.loads(pickle.dumps(second))  # reopened from the database
    assert len(back.study_.trials) == 5
    with pytest.warns(UserWarning, match="another number of splits"):
        third = SearchCV(Ridge(), ALPHA, study=again, n_trials=1, cv=4).fit(X, y)
    assert len(third.cv_results_["params"]) == 1


def test_resume_with_another_scorer_is_refused_before_any_fit(reg, tmp_path):
    """A study's values are one metric: continuing it with another scorer (under the same metric
    name, or another refit metric) is refused before anything is fitted or written; the same
    scorer given another way (a name, then the same scorer object) continues."""
    from sklearn.metrics import get_scorer, make_scorer, mean_absolute_error

    X, y = reg
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = hpopt.create_study(study_name="r", storage=url, direction="maximize", sampler="tpe", seed=0)
    SearchCV(Ridge(), ALPHA, study=study, n_trials=2, cv=3, scoring="r2").fit(X, y)
    before = Counting.fits
    for scoring, refit in [
        ("neg_mean_squared_error", True),
        (None, True),  # Ridge.score is R^2 too, but named as the estimator's own score
        (make_scorer(mean_absolute_error, greater_is_better=False), True),
        ({"r2": "r2", "mse": "neg_mean_squared_error"}, "mse"),
    ]:
        with pytest.raises(ValueError, match="mix two metrics"):
            SearchCV(Counting(), ALPHA, study=study, n_trials=1, cv=3, scoring=scoring,
                     refit=refit).fit(X, y)
    assert Counting.fits == before and len(study.trials) == 2
    # The same value scorer (r2) as the refit metric of a multi-metric search: continued.
    with pytest.warns(UserWarning, match="other scorers"):
        both = SearchCV(Ridge(), ALPHA, study=study, n_trials=1, cv=3,
                        scoring={"r2": "r2", "mse": "neg_mean_squared_error"}, refit="r2").fit(X, y)
    assert len(study.trials) == 3
    assert len(both.cv_results_["params"]) == 1  # the older ones have no "r2" and "mse" columns
    with pytest.warns(UserWarning, match="other scorers"):
        again = SearchCV(Ridge(), ALPHA, study=study, n_trials=1, cv=3, scoring=get_scorer("r2")).fit(X, y)
    assert len(study.trials) == 4
    assert len(again.cv_results_["params"]) == 3  # single metric "score": the multi-metric one is out


# -- pruning ---------------------------------------------------------------------------------------
def test_pruned_candidates_rank_last_with_their_folds(reg):
    X, y = reg
    space = {"alpha": [0.01, 1e5, 0.1, 1e6]}
    s = SearchCV(Ridge(), space, sampler=hpopt.GridSampler(space), n_trials=4, cv=5,
                 pruner=hpopt.ThresholdPruner(lower=0.5)).fit(X, y)
    res = s.cv_results_
    states = [t.state for t in s.study_.trials]
    alphas = [p["alpha"] for p in res["params"]]
    for a, st, k in zip(alphas, states, range(4)):
        if a >= 1e5:
            assert st is hpopt.TrialState.PRUNED
            assert np.isnan(res["mean_test_score"][k])
            assert np.isfinite(res["split0_test_score"][k]) and np.isnan(res["split4_test_score"][k])
            assert res["rank_test_score"][k] == 3
        else:
            assert st is hpopt.TrialState.COMPLETE
    assert s.best_params_["alpha"] in (0.01, 0.1)
    pruned = [t for t in s.study_.trials if t.state is hpopt.TrialState.PRUNED]
    assert all(t.last_step == 0 for t in pruned)  # stopped after the first fold


def test_without_pruner_every_fold_is_reported(reg):
    X, y = reg
    s = _search(n_trials=2, cv=4).fit(X, y)
    for t, row in zip(s.study_.trials, range(2)):
        assert sorted(t.intermediate_values) == [0, 1, 2, 3]
        assert t.intermediate_values[3] == pytest.approx(s.cv_results_["mean_test_score"][row])


# -- error_score -----------------------------------------------------------------------------------
def test_error_score_nan_warns_and_ranks_failures_last(reg):
    X, y = reg
    space = {"alpha": [0.5, 5.0, 0.7]}
    s = SearchCV(Counting(fail_above=1.0), space, sampler=hpopt.GridSampler(space), n_trials=3, cv=3)
    with pytest.warns(FitFailedWarning, match="3 fits failed out of a total of 9"), \
            pytest.warns(UserWarning, match="test scores are non-finite"):
        s.fit(X, y)
    res = s.cv_results_
    bad = [i for i, p in enumerate(res["params"]) if p["alpha"] == 5.0][0]
    assert np.isnan(res["mean_test_score"][bad]) and res["rank_test_score"][bad] == 3
    assert s.study_.trials[bad].state is hpopt.TrialState.FAIL
    assert s.best_params_["alpha"] != 5.0


def test_error_score_number_completes_the_trial(reg):
    X, y = reg
    space = {"alpha": [5.0, 0.5]}
    s = SearchCV(Counting(fail_above=1.0), space, sampler=hpopt.GridSampler(space), n_trials=2, cv=3,
                 error_score=-7.0)
    with pytest.warns(FitFailedWarning):
        s.fit(X, y)
    assert s.study_.trials[0].state is hpopt.TrialState.COMPLETE
    assert s.study_.trials[0].value == -7.0
    assert s.cv_results_["mean_test_score"][0] == -7.0


def test_error_score_raise_reraises_and_fails_the_trial(reg):
    X, y = reg
    study = hpopt.create_study(direction="maximize", sampler="random", seed=0)
    s = SearchCV(Counting(fail_above=0.0), {"alpha": hpopt.Float(0.5, 1.0)}, study=study, n_trials=2,
                 cv=3, error_score="raise")
    with pytest.raises(RuntimeError, match="too large"):
        s.fit(X, y)
    assert [t.state for t in study.trials] == [hpopt.TrialState.FAIL]


def test_all_fits_failing_is_an_error(reg):
    X, y = reg
    with pytest.raises(ValueError, match="All the 6 fits failed"):
        _search(estimator=Counting(fail_above=0.0), param_space={"alpha": hpopt.Float(0.5, 1.0)},
                n_trials=2).fit(X, y)


def test_failing_scorer_gets_error_score(reg):
    X, y = reg

    def broken(est, X, y):
        raise ZeroDivisionError("scorer broke")

    with pytest.warns(UserWarning, match="Scoring failed"):
        s = _search(scoring=broken, error_score=-1.0, n_trials=2).fit(X, y)
    assert np.all(s.cv_results_["mean_test_score"] == -1.0)
    with pytest.raises(ZeroDivisionError):
        _search(scoring=broken, error_score="raise", n_trials=1).fit(X, y)
    with pytest.raises(ValueError, match="scoring must return a number"):
        _search(scoring=lambda est, X, y: "high", n_trials=1).fit(X, y)


# -- bad input: clear errors before any fit --------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"param_space": {"alhpa": hpopt.Float(0.1, 1.0)}}, ValueError,
         r"unknown parameter name.*'alhpa'.*valid names are \['alpha', 'fail_above'\]"),
        ({"param_space": {}}, ValueError, "param_space is empty"),
        ({"param_space": {"alpha": []}}, ValueError, "empty list"),
        ({"param_space": {"alpha": 3.0}}, TypeError, r"param_space\['alpha'\] must be an hpopt distribution"),
        ({"param_space": [("alpha", [1])]}, TypeError, "param_space must be a dict"),
        ({"n_trials": 0}, ValueError, "n_trials must be an int >= 1"),
        ({"n_trials": 2.5}, ValueError, "n_trials must be an int >= 1"),
        ({"timeout": -1}, ValueError, "timeout must be None or a number > 0"),
        ({"error_score": "ignore"}, ValueError, "error_score must be 'raise' or a number"),
        ({"sampler": "no-such"}, hpopt.PluginError, r"no sampler named 'no-such'; available: \[.*'tpe'"),
        ({"sampler": hpopt.RandomSampler(), "seed": 1}, ValueError, "seed the sampler instance"),
        ({"sampler": 3}, TypeError, "sampler must be a registered name"),
        ({"pruner": "no-such"}, hpopt.PluginError, "no pruner named"),
        ({"scoring": ["r2", "r2"]}, ValueError, "distinct scorer names"),
        ({"scoring": "no-such-metric"}, ValueError, "no-such-metric"),
        ({"study": "sqlite:///x.db"}, TypeError, "study must be None or an hpopt.Study"),
    ],
)
def test_bad_input_fails_before_any_fit(reg, kwargs, exc, match):
    X, y = reg
    kw = {"param_space": {"alpha": hpopt.Float(0.1, 1.0)}, "sampler": "tpe", "n_trials": 2, "cv": 3}
    kw.update(kwargs)
    Counting.fits = 0
    with pytest.raises(exc, match=match):
        SearchCV(Counting(), **kw).fit(X, y)
    assert Counting.fits == 0


def test_study_conflicts_and_direction(reg):
    X, y = reg
    minimize = hpopt.create_study(sampler="tpe", seed=0)
    with pytest.raises(ValueError, match="direction 'maximize'"):
        SearchCV(Ridge(), ALPHA, study=minimize).fit(X, y)
    study = hpopt.create_study(direction="maximize", sampler="tpe", seed=0)
    with pytest.raises(ValueError, match="leave sampler, pruner and seed"):
        SearchCV(Ridge(), ALPHA, study=study, sampler="random").fit(X, y)
    assert study.trials == []


def test_supervised_estimator_without_y(reg):
    X, _ = reg
    with pytest.raises(ValueError, match="requires y to be passed"):
        _search().fit(X)


def test_callable_space_with_unknown_names_fails_the_trial_before_fitting(reg):
    X, y = reg
    Counting.fits = 0
    study = hpopt.create_study(direction="maximize", sampler="tpe", seed=0)
    s = SearchCV(Counting(), lambda t: {"alhpa": t.suggest_float("a", 0.1, 1.0)}, study=study, n_trials=2)
    with pytest.raises(ValueError, match="unknown parameter name"):
        s.fit(X, y)
    assert Counting.fits == 0
    assert [t.state for t in study.trials] == [hpopt.TrialState.FAIL]


# -- default sampler, timeout, parallel folds ------------------------------------------------------
def test_default_sampler_is_auto(reg):
    assert SearchCV(Ridge(), ALPHA).sampler == "auto"
    if "auto" not in hpopt.available_samplers():
        pytest.skip("the 'auto' sampler is not registered yet (hpopt/samplers/auto.py is in progress)")
    X, y = reg
    s = SearchCV(Ridge(), ALPHA, n_trials=3, cv=3, seed=0).fit(X, y)
    assert len(s.cv_results_["params"]) == 3


def test_timeout_stops_starting_candidates(reg):
    X, y = reg
    s = _search(n_trials=1000, timeout=1e-9).fit(X, y)  # the first candidate starts before the check
    assert 1 <= len(s.cv_results_["params"]) < 1000


@pytest.mark.slow
def test_parallel_folds_give_the_same_results(reg):
    X, y = reg
    a = _search(n_trials=3, n_jobs=1).fit(X, y).cv_results_
    b = _search(n_trials=3, n_jobs=2).fit(X, y).cv_results_
    assert a["params"] == b["params"]
    assert np.allclose(a["mean_test_score"], b["mean_test_score"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = _search(n_trials=3, n_jobs=2, pruner=hpopt.ThresholdPruner(lower=-1e9)).fit(X, y)
    assert np.allclose(c.cv_results_["mean_test_score"], a["mean_test_score"])
