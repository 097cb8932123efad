"""hpopt.integrations.xgboost.PruningCallback: reports XGBoost's evaluation result each round and
prunes (xgb.train, xgb.cv, the scikit-learn API, optimize with threads, ask/tell, executor workers);
bad input refused clearly."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

from _helpers import PickleInline  # noqa: E402

import hpopt  # noqa: E402
from hpopt import TrialState  # noqa: E402
from hpopt import remote as rm  # noqa: E402
from hpopt.integrations.xgboost import PruningCallback, _builtin_direction  # noqa: E402
from hpopt.pruners import ThresholdPruner  # noqa: E402

ROUNDS = 8
PARAMS = {"objective": "reg:squarederror", "eval_metric": "rmse", "nthread": 1, "seed": 0, "max_depth": 3}


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.1 * rng.normal(size=n)
    return X, y


def _sets():
    X, y = _data()
    return xgb.DMatrix(X[:90], y[:90]), xgb.DMatrix(X[90:], y[90:])


def _train(trial, key="validation-rmse", *, cb_kw=None, params=None, valid=True, with_train=False,
           rounds=ROUNDS, custom_metric=None):
    """Train on the small problem with a PruningCallback for ``trial``; returns XGBoost's evals_result."""
    dtrain, dvalid = _sets()
    evals = ([(dtrain, "train")] if with_train else []) + ([(dvalid, "validation")] if valid else [])
    recorded: dict = {}
    xgb.train(dict(PARAMS, **(params or {})), dtrain, num_boost_round=rounds, evals=evals,
              evals_result=recorded, verbose_eval=False, custom_metric=custom_metric,
              callbacks=[PruningCallback(trial, key, **(cb_kw or {}))])
    return recorded


def _objective(trial):
    """Trains with the callback; returns the final validation rmse (module level: pickles)."""
    recorded = _train(trial, params={"eta": trial.suggest_float("eta", 0.05, 0.3)})
    return recorded["validation"]["rmse"][-1]


@pytest.fixture(autouse=True)
def fresh_worker_cache():
    """Tasks run inline open their storages in this process: forget them after each test."""
    rm._reset_worker_cache()
    yield
    rm._reset_worker_cache()


def test_is_an_xgboost_training_callback():
    trial = hpopt.create_study(seed=0).ask()
    cb = PruningCallback(trial, "validation-logloss")
    assert isinstance(cb, xgb.callback.TrainingCallback)
    assert (cb.data_name, cb.metric) == ("validation", "logloss")
    # XGBoost splits at the first "-": data-set names cannot hold one, metrics can
    cb = PruningCallback(trial, "valid-cox-nloglik")
    assert (cb.data_name, cb.metric) == ("valid", "cox-nloglik")


def test_reports_match_xgboosts_recorded_results():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    recorded = _train(trial, with_train=True)
    study.tell(trial, 0.0)
    got = study.trials[0].intermediate_values
    assert sorted(got) == list(range(ROUNDS))  # step = 0-based epoch, every round
    assert [got[s] for s in range(ROUNDS)] == recorded["validation"]["rmse"]  # the named set, not train
    assert recorded["validation"]["rmse"] != recorded["train"]["rmse"]


def test_report_interval_reports_every_kth_round():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    recorded = _train(trial, cb_kw={"report_interval": 3})
    study.tell(trial, 0.0)
    got = study.trials[0].intermediate_values
    assert sorted(got) == [2, 5]  # rounds 3 and 6 of 8
    assert [got[2], got[5]] == [recorded["validation"]["rmse"][2], recorded["validation"]["rmse"][5]]


def test_threshold_pruner_prunes_and_optimize_records_pruned():
    # rmse starts near the target's spread (> 0.5) and stays far above 1e-6 for any rate: a threshold
    # at 1e-6 prunes every trial at its first report.
    study = hpopt.create_study(seed=0, sampler="random", pruner=ThresholdPruner(upper=1e-6))
    study.optimize(_objective, n_trials=2)
    for t in study.trials:
        assert t.state == TrialState.PRUNED
        assert list(t.intermediate_values) == [0]  # training stopped at the first round
        assert t.values == (t.intermediate_values[0],)


@pytest.mark.parametrize("pruner", ["nop", ThresholdPruner(upper=1e6)])
def test_no_pruning_completes_every_round(pruner):
    study = hpopt.create_study(seed=0, sampler="random", pruner=pruner)
    study.optimize(_objective, n_trials=2)
    for t in study.trials:
        assert t.state == TrialState.COMPLETE
        assert sorted(t.intermediate_values) == list(range(ROUNDS))
        assert t.values == (t.intermediate_values[ROUNDS - 1],)


def test_pruned_exception_leaves_xgb_train_unwrapped_and_ask_tell_records_it():
    study = hpopt.create_study(seed=0, pruner=ThresholdPruner(upper=1e-6))
    trial = study.ask()
    with pytest.raises(hpopt.TrialPruned, match=r"pruned at epoch 0: validation-rmse = ") as info:
        _train(trial)
    assert type(info.value) is hpopt.TrialPruned  # XGBoost does not wrap it
    assert info.value.__cause__ is None and info.value.__context__ is None
    study.tell(trial, state="pruned")
    t = study.trials[0]
    assert t.state == TrialState.PRUNED
    assert t.values == (t.intermediate_values[0],)


@pytest.mark.parametrize("pruner, state, n_reports", [
    (ThresholdPruner(upper=1e-6), TrialState.PRUNED, 1), ("nop", TrialState.COMPLETE, ROUNDS),
])
def test_optimize_with_two_threads(pruner, state, n_reports):
    study = hpopt.create_study(seed=0, sampler="random", pruner=pruner)
    study.optimize(_objective, n_trials=4, n_jobs=2)
    assert [t.state for t in study.trials] == [state] * 4
    for t in study.trials:
        assert sorted(t.intermediate_values) == list(range(n_reports))


def _cv_column(out, name):
    """A column of xgb.cv's result: a DataFrame with pandas, a dict of lists without."""
    return [float(v) for v in out[name]]


def test_cv_reports_the_mean_over_folds():
    X, y = _data()
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    seen: list = []

    class Spy(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            seen.append(evals_log["test"]["rmse"][-1])
            return False

    out = xgb.cv(PARAMS, xgb.DMatrix(X, y), num_boost_round=5, nfold=3, seed=0,
                 callbacks=[Spy(), PruningCallback(trial, "test-rmse")])
    study.tell(trial, 0.0)
    got = study.trials[0].intermediate_values
    assert all(isinstance(s, tuple) and len(s) == 2 for s in seen)  # what xgb.cv passes: (mean, std)
    assert [got[s] for s in range(5)] == _cv_column(out, "test-rmse-mean")
    assert _cv_column(out, "test-rmse-mean") == [float(m) for m, _ in seen]
    assert _cv_column(out, "test-rmse-mean") != _cv_column(out, "train-rmse-mean")


def test_cv_prunes():
    X, y = _data()
    study = hpopt.create_study(seed=0, pruner=ThresholdPruner(upper=1e-6))
    trial = study.ask()
    with pytest.raises(hpopt.TrialPruned, match="pruned at epoch 0: test-rmse = "):
        xgb.cv(PARAMS, xgb.DMatrix(X, y), num_boost_round=5, nfold=3, seed=0,
               callbacks=[PruningCallback(trial, "test-rmse")])
    assert list(trial.snapshot().intermediate_values) == [0]


def test_sklearn_api_regressor():
    X, y = _data()
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    model = xgb.XGBRegressor(n_estimators=6, n_jobs=1, max_depth=3, random_state=0, eval_metric="mae",
                             callbacks=[PruningCallback(trial, "validation_1-mae")])
    model.fit(X[:90], y[:90], eval_set=[(X[:90], y[:90]), (X[90:], y[90:])], verbose=False)
    study.tell(trial, 0.0)
    got = study.trials[0].intermediate_values
    result = model.evals_result()
    assert [got[s] for s in range(6)] == result["validation_1"]["mae"]
    assert [got[s] for s in range(6)] != result["validation_0"]["mae"]  # the training data: not reported


def test_sklearn_api_maximized_metric_prunes():
    X, y = _data()
    labels = (y > np.median(y)).astype(int)
    study = hpopt.create_study(seed=0, direction="maximize", pruner=ThresholdPruner(lower=1.01))
    trial = study.ask()
    model = xgb.XGBClassifier(n_estimators=6, n_jobs=1, max_depth=3, random_state=0, eval_metric="auc",
                              callbacks=[PruningCallback(trial, "validation_0-auc")])
    with pytest.raises(hpopt.TrialPruned):
        model.fit(X[:90], labels[:90], eval_set=[(X[90:], labels[90:])], verbose=False)
    assert list(trial.snapshot().intermediate_values) == [0]


def test_unknown_key_lists_what_xgboost_evaluates_and_reports_nothing():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(ValueError, match=r"`observation_key` 'validation-mae' is not among the evaluation "
                                         r"results; XGBoost evaluates train-rmse, validation-rmse"):
        _train(trial, "validation-mae", with_train=True)
    with pytest.raises(ValueError, match=r"'valid-rmse' is not among .* XGBoost evaluates validation-rmse"):
        _train(trial, "valid-rmse")
    assert trial.snapshot().intermediate_values == {}


def test_training_data_is_reported_when_named():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    recorded = _train(trial, "train-rmse", valid=False, with_train=True)
    assert trial.snapshot().intermediate_values[3] == recorded["train"]["rmse"][3]


def test_no_evaluation_data():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(ValueError, match="found no evaluation results"):
        _train(trial, valid=False)


@pytest.mark.parametrize("direction, metric, higher", [
    ("maximize", "rmse", False), ("minimize", "auc", True), ("minimize", "ndcg@3-", True),
])
def test_direction_mismatch_is_refused_before_any_report(direction, metric, higher):
    study = hpopt.create_study(seed=0, direction=direction)
    trial = study.ask()
    better, wanted = ("higher", "maximize") if higher else ("lower", "minimize")
    with pytest.raises(ValueError, match=rf"'validation-{metric}': '{metric}' is {better}-is-better, but the "
                                         rf"study's direction is '{direction}'.*direction='{wanted}'"):
        _train_binary(trial, f"validation-{metric}", [metric])
    assert trial.snapshot().intermediate_values == {}


def _train_binary(trial, key, metrics, rounds=2):
    X, y = _data()
    labels = (y > np.median(y)).astype(float)
    dtrain, dvalid = xgb.DMatrix(X[:90], labels[:90]), xgb.DMatrix(X[90:], labels[90:])
    recorded: dict = {}
    callbacks = [PruningCallback(trial, key)] if trial is not None else []
    xgb.train({"objective": "binary:logistic", "eval_metric": metrics, "nthread": 1, "seed": 0}, dtrain,
              rounds, evals=[(dvalid, "validation")], evals_result=recorded, verbose_eval=False,
              callbacks=callbacks)
    return recorded


def test_builtin_metrics_names_as_xgboost_logs_them_have_a_direction():
    """The names XGBoost really evaluates (with @k, a trailing "-", a threshold) map to a direction."""
    higher = ["auc", "aucpr", "pre@2", "map@3-", "ndcg", "ndcg@2-"]
    lower = ["logloss", "error", "error@0.7", "rmse", "mae", "mape"]
    recorded = _train_binary(None, None, higher + lower)
    assert list(recorded["validation"]) == higher + lower
    assert [_builtin_direction(m) for m in higher] == [True] * len(higher)
    assert [_builtin_direction(m) for m in lower] == [False] * len(lower)
    for name, expected in [("tweedie-nloglik@1.5", False), ("cox-nloglik", False), ("mlogloss", False),
                           ("interval-regression-accuracy", True), ("map-", True), ("r2", None),
                           ("mapk", None)]:
        assert _builtin_direction(name) is expected, name


def test_builtin_metric_in_a_maximizing_study_reports():
    study = hpopt.create_study(seed=0, direction="maximize")
    trial = study.ask()
    recorded = _train_binary(trial, "validation-auc", ["logloss", "auc"])
    assert [trial.snapshot().intermediate_values[s] for s in range(2)] == recorded["validation"]["auc"]


def _r2(preds, dmatrix):
    y = dmatrix.get_label()
    return "r2", 1.0 - float(np.mean((y - preds) ** 2) / np.var(y))


def test_custom_metric_needs_maximize():
    dtrain, dvalid = _sets()
    study = hpopt.create_study(seed=0, direction="maximize")
    trial = study.ask()
    with pytest.raises(ValueError, match=r"'r2' is not one of XGBoost's metrics .* pass maximize=True"):
        _train(trial, "validation-r2", custom_metric=_r2, rounds=2)
    with pytest.raises(ValueError, match=r"'validation-r2': 'r2' is lower-is-better, but the study's "
                                         r"direction is 'maximize'"):
        _train(trial, "validation-r2", custom_metric=_r2, cb_kw={"maximize": False}, rounds=2)
    assert trial.snapshot().intermediate_values == {}
    recorded = _train(trial, "validation-r2", custom_metric=_r2, cb_kw={"maximize": True}, rounds=3)
    iv = trial.snapshot().intermediate_values
    assert [iv[s] for s in range(3)] == recorded["validation"]["r2"]


def test_maximize_contradicting_a_builtin_metric_is_refused():
    study = hpopt.create_study(seed=0, direction="maximize")
    trial = study.ask()
    with pytest.raises(ValueError, match=r"XGBoost's 'rmse' is lower-is-better, but `maximize` is True"):
        _train(trial, cb_kw={"maximize": True}, rounds=2)
    assert trial.snapshot().intermediate_values == {}


def test_bad_arguments_are_refused_at_construction():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(TypeError, match="`trial` must be an hpopt trial"):
        PruningCallback(study, "validation-rmse")
    with pytest.raises(TypeError, match="`observation_key` must be a str"):
        PruningCallback(trial, None)
    for key in ["rmse", "", "-rmse", "validation-"]:
        with pytest.raises(ValueError, match=r"`observation_key` must be '<data set>-<metric>'"):
            PruningCallback(trial, key)
    with pytest.raises(TypeError, match="`maximize` must be True, False or None"):
        PruningCallback(trial, "validation-r2", maximize=1)
    with pytest.raises(TypeError, match="`report_interval` must be an int"):
        PruningCallback(trial, "validation-rmse", report_interval=True)
    with pytest.raises(TypeError, match="`report_interval` must be an int"):
        PruningCallback(trial, "validation-rmse", report_interval=2.0)
    with pytest.raises(ValueError, match="`report_interval >= 1` must hold"):
        PruningCallback(trial, "validation-rmse", report_interval=0)
    multi = hpopt.create_study(seed=0, directions=["minimize", "minimize"])
    with pytest.raises(ValueError, match="needs a single-objective study.*has 2 objectives"):
        PruningCallback(multi.ask(), "validation-rmse")


def test_import_without_xgboost_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)  # `import xgboost` raises ImportError
    monkeypatch.delitem(sys.modules, "hpopt.integrations.xgboost")
    with pytest.raises(ImportError, match=r'pip install "hpopt\[xgboost\]"'):
        importlib.import_module("hpopt.integrations.xgboost")
    import hpopt.integrations  # noqa: F401  (the package itself imports no integration)


def _sqlite_study(tmp_path, name, upper, direction="minimize"):
    return hpopt.create_study(study_name=name, storage=f"sqlite:///{tmp_path}/{name}.db", sampler="random",
                              seed=3, pruner=ThresholdPruner(upper=upper), direction=direction)


def test_executor_workers_prune(tmp_path):
    study = _sqlite_study(tmp_path, "pickled", upper=1e-6)
    study.optimize(_objective, n_trials=2, executor=PickleInline())
    for t in study.trials:
        assert t.state == TrialState.PRUNED, t
        assert list(t.intermediate_values) == [0]


def test_executor_worker_refuses_a_direction_mismatch(tmp_path):
    study = _sqlite_study(tmp_path, "mismatch", upper=1e6, direction="maximize")
    with pytest.raises(ValueError, match="lower-is-better, but the study's direction is 'maximize'"):
        study.optimize(_objective, n_trials=1, executor=PickleInline())
    assert study.trials[0].intermediate_values == {}
