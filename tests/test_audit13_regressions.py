"""Regressions found by audit 13 (do the docs tell the truth: README, docstrings, --help, errors).

Each test failed before its fix and runs in well under a second (the nested-CV ones need
scikit-learn and are skipped without it).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt.cli import main

pytestmark = pytest.mark.usefixtures("quiet_hpopt")  # tests/conftest.py


# --- `hpopt worker --help` said "default: random"; the worker uses create_study's default, auto ---


def test_worker_help_names_the_default_sampler_it_uses(tmp_path, monkeypatch, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "(default: auto)" in help_text and "default: random" not in help_text
    monkeypatch.chdir(tmp_path)
    (tmp_path / "audit13_objective.py").write_text(
        "def objective(trial):\n    return trial.suggest_float('x', 0, 1)\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    url = "sqlite:///w.db"
    try:
        assert main(["worker", "--storage", url, "--study", "w", "--objective",
                     "audit13_objective:objective", "--n-trials", "1", "--seed", "0"]) == 0
    finally:
        sys.modules.pop("audit13_objective", None)
    trial = hpopt.load_study("w", url).trials[0]
    assert "auto:sampler" in trial.system_attrs  # the auto sampler chose it, as the help now says


# --- log="no" was read as log=True (bool("no")); distribution flags now take only bools ---------


@pytest.mark.parametrize("make", [lambda log: hpopt.Float(1.0, 2.0, log=log),
                                  lambda log: hpopt.Int(1, 4, log=log)])
@pytest.mark.parametrize("bad", ["no", "False", 1, None, [True]])
def test_distribution_log_must_be_a_bool(make: Any, bad: Any) -> None:
    with pytest.raises(TypeError, match=r"`log` must be True or False"):
        make(bad)


def test_distribution_log_accepts_numpy_bools() -> None:
    assert hpopt.Float(1.0, 2.0, log=np.bool_(True)).log is True
    assert hpopt.Int(1, 4, log=np.bool_(False)).log is False


def test_suggest_with_a_string_log_is_refused_naming_the_parameter() -> None:
    study = hpopt.create_study(sampler="random", seed=0)
    trial = study.ask()
    with pytest.raises(TypeError, match=r"parameter 'lr': `log` must be True or False"):
        trial.suggest_float("lr", 1e-4, 1.0, log="false")
    assert trial.params == {}  # nothing suggested, nothing written


# --- distribution_from_json documented ValueError, raised KeyError on a record missing a field ---


@pytest.mark.parametrize("record", [{"type": "float", "low": 0.0, "high": 1.0},
                                    {"type": "int", "low": 0, "high": 3, "log": False},
                                    {"type": "categorical"}])
def test_distribution_from_json_incomplete_record_is_a_value_error(record: dict) -> None:
    with pytest.raises(ValueError, match="not a distribution record"):
        hpopt.distribution_from_json(record)


def test_distribution_from_json_round_trips() -> None:
    dists = (hpopt.Float(0.0, 1.0, step=0.25), hpopt.Int(1, 8, log=True), hpopt.Categorical([None, "a", 2]))
    for dist in dists:
        assert hpopt.distribution_from_json(dist.to_json()) == dist


# --- TPESampler read multivariate/constant_liar/forget with bool(): "no" meant True ---------------


@pytest.mark.parametrize("name", ["multivariate", "constant_liar", "forget"])
def test_tpe_flags_must_be_bools(name: str) -> None:
    with pytest.raises(TypeError, match=rf"`{name}` must be True or False"):
        hpopt.TPESampler(**{name: "no"})
    assert getattr(hpopt.TPESampler(**{name: False}), name) is False


# --- CmaEsSampler(warm_start_trials=3): "'int' object is not iterable" named nothing -------------


@pytest.mark.parametrize("bad", [3, 1.5, "trials"])
def test_cmaes_warm_start_trials_not_a_list_is_named(bad: Any) -> None:
    with pytest.raises(TypeError, match="`warm_start_trials` must be a non-empty list of FrozenTrial"):
        hpopt.CmaEsSampler(warm_start_trials=bad)


# --- delete_study / study_names created a whole SQLite store where none was ----------------------


def test_delete_study_on_a_missing_sqlite_store_creates_nothing(tmp_path) -> None:
    path = tmp_path / "none.db"
    with pytest.raises(hpopt.StudyNotFoundError, match="no SQLite storage"):
        hpopt.delete_study("s", f"sqlite:///{path}")
    assert not path.exists()


def test_study_names_on_a_missing_sqlite_store_creates_nothing(tmp_path) -> None:
    path = tmp_path / "none.db"
    assert hpopt.study_names(f"sqlite:///{path}") == []
    assert not path.exists()
    hpopt.create_study(study_name="a", storage=f"sqlite:///{path}")
    assert hpopt.study_names(f"sqlite:///{path}") == ["a"]
    hpopt.delete_study("a", f"sqlite:///{path}")
    assert hpopt.study_names(f"sqlite:///{path}") == []
    assert os.path.exists(path)


# --- best_value / best_params on a multi-objective study named `best_trial` ----------------------


@pytest.mark.parametrize("attr", ["best_value", "best_params"])
def test_best_value_and_params_name_themselves_on_multi_objective(attr: str) -> None:
    study = hpopt.create_study(directions=["minimize", "maximize"], sampler="random", seed=0)
    with pytest.raises(RuntimeError, match=rf"`{attr}` is for single-objective studies"):
        getattr(study, attr)


# --- nested_cross_validate(outer_cv=1) said "`n_splits >= 2`", a name the caller never used ------


@pytest.mark.parametrize("name", ["outer_cv", "inner_cv"])
def test_nested_cv_integer_folds_are_named(name: str) -> None:
    pytest.importorskip("sklearn")
    from sklearn.linear_model import Ridge

    from hpopt.sklearn import nested_cross_validate

    X = np.arange(40.0).reshape(20, 2)
    y = X[:, 0] * 2.0
    with pytest.raises(ValueError, match=rf"`{name} >= 2` must hold"):
        nested_cross_validate(Ridge(), {"alpha": hpopt.Float(0.1, 1.0)}, X, y, n_trials=1, **{name: 1})
