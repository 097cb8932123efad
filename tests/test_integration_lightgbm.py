"""hpopt.integrations.lightgbm.PruningCallback: reports LightGBM's validation metric each round and
prunes (lgb.train, lgb.cv, the scikit-learn API, executor workers); bad input refused clearly."""

from __future__ import annotations

import importlib
import inspect
import sys
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")

from _helpers import PickleInline  # noqa: E402

import hpopt  # noqa: E402
from hpopt import TrialState  # noqa: E402
from hpopt import remote as rm  # noqa: E402
from hpopt.integrations.lightgbm import PruningCallback  # noqa: E402
from hpopt.pruners import ThresholdPruner  # noqa: E402

ROUNDS = 8
PARAMS = {"objective": "regression", "metric": "l2", "verbose": -1, "num_threads": 1, "seed": 0,
          "deterministic": True, "force_col_wise": True, "min_data_in_leaf": 5}


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.1 * rng.normal(size=n)
    return X, y


def _sets():
    X, y = _data()
    dtrain = lgb.Dataset(X[:90], y[:90], free_raw_data=False)
    dvalid = lgb.Dataset(X[90:], y[90:], reference=dtrain, free_raw_data=False)
    return dtrain, dvalid


def _train(trial, *, cb_kw=None, params=None, valid=True, with_train=False, extra=(), rounds=ROUNDS):
    """Train on the small problem with a PruningCallback for ``trial``; returns (booster, recorded)."""
    dtrain, dvalid = _sets()
    recorded: dict = {}
    sets, names = [], []
    if with_train:
        sets.append(dtrain)
        names.append("training")
    if valid:
        sets.append(dvalid)
        names.append("valid_0")
    cb = PruningCallback(trial, **(cb_kw or {"metric": "l2"}))
    names += [f"extra_{i}" for i in range(len(extra))]
    booster = lgb.train(dict(PARAMS, **(params or {})), dtrain, num_boost_round=rounds,
                        valid_sets=sets + list(extra), valid_names=names,
                        callbacks=[lgb.record_evaluation(recorded), cb])
    return booster, recorded


@pytest.fixture(autouse=True)
def fresh_worker_cache():
    """Tasks run inline open their storages in this process: forget them after each test."""
    rm._reset_worker_cache()
    yield
    rm._reset_worker_cache()


def test_reports_match_lightgbms_recorded_results():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    _, recorded = _train(trial, with_train=True)
    study.tell(trial, 0.0)
    got = study.trials[0].intermediate_values
    assert sorted(got) == list(range(ROUNDS))  # step = 0-based iteration, every round
    assert [got[s] for s in range(ROUNDS)] == recorded["valid_0"]["l2"]  # the validation set, not training
    assert recorded["valid_0"]["l2"] != recorded["training"]["l2"]


def test_report_interval_reports_every_kth_round():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    _, recorded = _train(trial, cb_kw={"metric": "l2", "report_interval": 3})
    study.tell(trial, 0.0)
    got = study.trials[0].intermediate_values
    assert sorted(got) == [2, 5]  # rounds 3 and 6 of 8
    assert [got[2], got[5]] == [recorded["valid_0"]["l2"][2], recorded["valid_0"]["l2"][5]]


def _objective(trial):
    """Trains with the callback; returns the final validation l2 (module level: pickles)."""
    trial.suggest_float("learning_rate", 0.05, 0.3)
    booster, recorded = _train(trial)
    return recorded["valid_0"]["l2"][-1]


def test_threshold_pruner_prunes_and_optimize_records_pruned():
    # l2 starts near the target's variance (> 0.3) and falls below it within a few rounds for any
    # rate: a threshold at 1e-6 prunes every trial at its first report.
    study = hpopt.create_study(seed=0, sampler="random", pruner=ThresholdPruner(upper=1e-6))
    study.optimize(_objective, n_trials=2)
    for t in study.trials:
        assert t.state == TrialState.PRUNED
        assert list(t.intermediate_values) == [0]  # training stopped at the first round
        assert t.values == (t.intermediate_values[0],)


def test_no_pruning_completes_every_round():
    study = hpopt.create_study(seed=0, sampler="random", pruner=ThresholdPruner(upper=1e6))
    study.optimize(_objective, n_trials=2)
    for t in study.trials:
        assert t.state == TrialState.COMPLETE
        assert sorted(t.intermediate_values) == list(range(ROUNDS))
        assert t.values == (t.intermediate_values[ROUNDS - 1],)


def test_pruned_exception_leaves_lgb_train():
    study = hpopt.create_study(seed=0, pruner=ThresholdPruner(upper=1e-6))
    trial = study.ask()
    with pytest.raises(hpopt.TrialPruned, match="pruned at iteration 0: valid_0's l2 = "):
        _train(trial)


def test_cv_reports_the_mean_over_folds():
    X, y = _data()
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    out = lgb.cv(PARAMS, lgb.Dataset(X, y), num_boost_round=5, nfold=3, stratified=False, seed=0,
                 eval_train_metric=True, callbacks=[PruningCallback(trial, "l2")])
    study.tell(trial, 0.0)
    got = study.trials[0].intermediate_values
    assert [got[s] for s in range(5)] == pytest.approx(out["valid l2-mean"], rel=1e-12, abs=0)
    assert out["valid l2-mean"] != out["train l2-mean"]  # the folds' validation parts, not "train"


def test_cv_prunes():
    X, y = _data()
    study = hpopt.create_study(seed=0, pruner=ThresholdPruner(upper=1e-6))
    trial = study.ask()
    with pytest.raises(hpopt.TrialPruned):
        lgb.cv(PARAMS, lgb.Dataset(X, y), num_boost_round=5, nfold=3, stratified=False, seed=0,
               callbacks=[PruningCallback(trial, "l2", valid_name="valid")])
    assert list(trial.snapshot().intermediate_values) == [0]


def _eval_kw(pairs):
    """The fit arguments for these eval sets: eval_X/eval_y from lightgbm 4.7 (eval_set is deprecated)."""
    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:
        return {"eval_X": tuple(x for x, _ in pairs), "eval_y": tuple(y for _, y in pairs)}
    return {"eval_set": pairs}


def test_sklearn_api_classifier():
    X, y = _data()
    labels = (y > np.median(y)).astype(int)
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    model = lgb.LGBMClassifier(n_estimators=6, verbose=-1, n_jobs=1, min_child_samples=5, random_state=0)
    Xt, yt = X[:90], labels[:90]
    model.fit(Xt, yt, **_eval_kw([(Xt, yt), (X[90:], labels[90:])]),
              callbacks=[PruningCallback(trial, "binary_logloss", valid_name="valid_1")])
    study.tell(trial, 0.0)
    got = study.trials[0].intermediate_values
    result = model.evals_result_
    assert [got[s] for s in range(6)] == result["valid_1"]["binary_logloss"]
    # the training data is "training" (eval_set) or "valid_0" (eval_X, lightgbm 4.7): not reported
    train_name = "training" if "training" in result else "valid_0"
    assert [got[s] for s in range(6)] != result[train_name]["binary_logloss"]


def test_sklearn_api_maximized_metric_prunes():
    X, y = _data()
    labels = (y > np.median(y)).astype(int)
    study = hpopt.create_study(seed=0, direction="maximize", pruner=ThresholdPruner(lower=1.01))
    trial = study.ask()
    model = lgb.LGBMClassifier(n_estimators=6, verbose=-1, n_jobs=1, min_child_samples=5, random_state=0)
    with pytest.raises(hpopt.TrialPruned):
        model.fit(X[:90], labels[:90], **_eval_kw([(X[90:], labels[90:])]), eval_metric="auc",
                  callbacks=[PruningCallback(trial, "auc")])
    assert list(trial.snapshot().intermediate_values) == [0]


def test_unknown_metric_names_the_available_ones_and_reports_nothing():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(ValueError, match=r"`metric` 'rmse' is not among .*valid_0's l2"):
        _train(trial, cb_kw={"metric": "rmse"})
    assert trial.snapshot().intermediate_values == {}


def test_unknown_valid_name_names_the_data_sets():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(ValueError, match=r"`valid_name` 'valid_9' .*data sets with it: training, valid_0"):
        _train(trial, cb_kw={"metric": "l2", "valid_name": "valid_9"}, with_train=True)
    assert trial.snapshot().intermediate_values == {}


def test_several_validation_sets_need_a_valid_name():
    dtrain, dvalid = _sets()
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(ValueError, match=r"several data sets report 'l2' \(valid_0, extra_0\)"):
        _train(trial, extra=[dvalid])
    trial2 = study.ask()
    _, recorded = _train(trial2, cb_kw={"metric": "l2", "valid_name": "extra_0"}, extra=[dvalid])
    assert trial2.snapshot().intermediate_values[0] == recorded["extra_0"]["l2"][0]


def test_training_data_only_when_named():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(ValueError, match=r"only the training data \('training'\) reports 'l2'"):
        _train(trial, valid=False, with_train=True)
    _, recorded = _train(trial, cb_kw={"metric": "l2", "valid_name": "training"}, valid=False,
                         with_train=True)
    assert trial.snapshot().intermediate_values[3] == recorded["training"]["l2"][3]


def test_no_validation_data():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(ValueError, match="found no evaluation results"):
        _train(trial, valid=False)


@pytest.mark.parametrize("direction, metric, ok", [
    ("minimize", "l2", True), ("maximize", "l2", False),
])
def test_direction_of_a_builtin_metric(direction, metric, ok):
    study = hpopt.create_study(seed=0, direction=direction)
    trial = study.ask()
    if ok:
        _train(trial, cb_kw={"metric": metric})
        return
    with pytest.raises(ValueError, match=r"valid_0's 'l2' is lower-is-better, but the study's direction is "
                                         r"'maximize'.*direction='minimize'"):
        _train(trial, cb_kw={"metric": metric})
    assert trial.snapshot().intermediate_values == {}


def _r2(preds, data):
    y = data.get_label()
    return "r2", 1.0 - float(np.mean((y - preds) ** 2) / np.var(y)), True


def test_direction_of_a_custom_metric():
    minimizing = hpopt.create_study(seed=0)
    trial = minimizing.ask()
    dtrain, dvalid = _sets()
    with pytest.raises(ValueError, match="'r2' is higher-is-better, but the study's direction is 'minimize'"):
        lgb.train(dict(PARAMS, metric="None"), dtrain, num_boost_round=3, valid_sets=[dvalid], feval=_r2,
                  callbacks=[PruningCallback(trial, "r2")])
    maximizing = hpopt.create_study(seed=0, direction="maximize")
    trial = maximizing.ask()
    recorded: dict = {}
    lgb.train(dict(PARAMS, metric="None"), dtrain, num_boost_round=3, valid_sets=[dvalid], feval=_r2,
              callbacks=[PruningCallback(trial, "r2"), lgb.record_evaluation(recorded)])
    iv = trial.snapshot().intermediate_values
    assert [iv[s] for s in range(3)] == recorded["valid_0"]["r2"]


def test_bad_arguments_are_refused_at_construction():
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(TypeError, match="`trial` must be an hpopt trial"):
        PruningCallback(study, "l2")
    with pytest.raises(TypeError, match="`metric` must be a str"):
        PruningCallback(trial, None)
    with pytest.raises(ValueError, match="`metric` must not be empty"):
        PruningCallback(trial, "")
    with pytest.raises(TypeError, match="`valid_name` must be a str"):
        PruningCallback(trial, "l2", valid_name=0)
    with pytest.raises(TypeError, match="`report_interval` must be an int"):
        PruningCallback(trial, "l2", report_interval=True)
    with pytest.raises(TypeError, match="`report_interval` must be an int"):
        PruningCallback(trial, "l2", report_interval=2.0)
    with pytest.raises(ValueError, match="`report_interval >= 1` must hold"):
        PruningCallback(trial, "l2", report_interval=0)
    multi = hpopt.create_study(seed=0, directions=["minimize", "minimize"])
    with pytest.raises(ValueError, match="needs a single-objective study.*has 2 objectives"):
        PruningCallback(multi.ask(), "l2")


def test_import_without_lightgbm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # `import lightgbm` raises ImportError
    monkeypatch.delitem(sys.modules, "hpopt.integrations.lightgbm")
    with pytest.raises(ImportError, match=r'pip install "hpopt\[lightgbm\]"'):
        importlib.import_module("hpopt.integrations.lightgbm")
    import hpopt.integrations  # noqa: F401  (the package itself imports no integration)


Inline = PickleInline


def _sqlite_study(tmp_path, name, upper, direction="minimize"):
    return hpopt.create_study(study_name=name, storage=f"sqlite:///{tmp_path}/{name}.db", sampler="random",
                              seed=3, pruner=ThresholdPruner(upper=upper), direction=direction)


@pytest.mark.parametrize("kind", ["pickled", "threads"])
def test_executor_workers_prune(tmp_path, kind):
    study = _sqlite_study(tmp_path, kind, upper=1e-6)
    if kind == "pickled":
        study.optimize(_objective, n_trials=2, executor=Inline())
    else:
        with ThreadPoolExecutor(1) as ex:
            study.optimize(_objective, n_trials=2, executor=ex)
    for t in study.trials:
        assert t.state == TrialState.PRUNED, t
        assert list(t.intermediate_values) == [0]


def _seen_trial_type(trial):
    trial.set_user_attr("type", type(trial).__name__)
    return _objective(trial)


def test_executor_workers_complete_with_every_report(tmp_path):
    study = _sqlite_study(tmp_path, "complete", upper=1e6)
    study.optimize(_seen_trial_type, n_trials=2, executor=Inline())
    for t in study.trials:
        assert t.user_attrs["type"] == "RemoteTrial"
        assert t.state == TrialState.COMPLETE
        assert sorted(t.intermediate_values) == list(range(ROUNDS))


def test_executor_worker_refuses_a_direction_mismatch(tmp_path):
    study = _sqlite_study(tmp_path, "mismatch", upper=1e6, direction="maximize")
    with pytest.raises(ValueError, match="lower-is-better, but the study's direction is 'maximize'"):
        study.optimize(_objective, n_trials=1, executor=Inline())
    assert study.trials[0].intermediate_values == {}


@pytest.mark.slow
def test_process_pool_workers_prune(tmp_path):
    """A real process pool (after LightGBM has trained in this process, on one thread: see the
    module's note on fork and OpenMP): workers prune."""
    study = _sqlite_study(tmp_path, "process", upper=1e-6)
    study.optimize(_objective, n_trials=4, n_jobs=2, executor="process")
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 4
    assert all(list(t.intermediate_values) == [0] for t in study.trials)


def test_result_formats_of_older_lightgbm_versions():
    """Plain tuples (before 4.7) and lgb.cv's ("cv_agg", "valid l2", mean, higher, std) (before 4.6)
    read as the named results of 4.7: the mean of the "valid" folds is reported."""
    study = hpopt.create_study(seed=0)
    trial = study.ask()
    cb = PruningCallback(trial, "l2", valid_name="valid")
    for it, value in enumerate([0.5, 0.4]):
        cb(SimpleNamespace(model=lgb.CVBooster(), iteration=it, evaluation_result_list=[
            ("cv_agg", "train l2", value / 2, False, 0.01), ("cv_agg", "valid l2", value, False, 0.02)]))
    assert dict(trial.snapshot().intermediate_values) == {0: 0.5, 1: 0.4}
    trial = study.ask()
    cb = PruningCallback(trial, "auc")
    with pytest.raises(ValueError, match="valid_0's 'auc' is higher-is-better"):
        cb(SimpleNamespace(model=None, iteration=0, evaluation_result_list=[("valid_0", "auc", 0.7, True)]))


def test_executor_workers_of_an_in_memory_study_report_without_pruning():
    """No database: workers cannot prune (hpopt.remote), so every round is reported and recorded."""
    study = hpopt.create_study(seed=3, sampler="random", pruner=ThresholdPruner(upper=1e-6))
    study.optimize(_objective, n_trials=2, executor=Inline())
    for t in study.trials:
        assert t.state == TrialState.COMPLETE
        assert sorted(t.intermediate_values) == list(range(ROUNDS))
