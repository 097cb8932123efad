"""Audit 19 (Study pickling and hpopt.copy_study): regression tests.

A SQLite study opened through a relative URL in a folder whose path holds '#' or '?' (``run#3``,
``what?``) pickled as ``"sqlite:///" + absolute path``; on unpickling ``urlsplit`` cut the path at
the '#' (a fragment) or '?' (a query), so every worker was refused with "there is no SQLite
storage at '.../run'" although the file is there.
"""

from __future__ import annotations

import pickle
import warnings

import pytest
from _helpers import PickleInline

import hpopt
from hpopt.errors import HpoptWarning


def _objective(trial: hpopt.Trial) -> float:
    return trial.suggest_float("x", 0.0, 1.0)


@pytest.mark.parametrize("folder", ["run#3", "what?x=1", "a#b?c", "100%", "a%23b"])
def test_sqlite_study_in_a_folder_with_url_delimiters_unpickles(folder, tmp_path, monkeypatch, quiet_hpopt):
    where = tmp_path / folder
    where.mkdir()
    monkeypatch.chdir(where)
    study = hpopt.create_study(study_name="s", storage="sqlite:///s.db", sampler="random", seed=0)
    study.optimize(_objective, n_trials=3)
    copy = pickle.loads(pickle.dumps(study))
    assert copy.trials == study.trials
    copy.optimize(_objective, n_trials=1)  # the copy writes to the same file
    assert len(study.trials) == 4


def test_sqlite_synchronous_setting_survives_pickling(tmp_path, monkeypatch, quiet_hpopt):
    where = tmp_path / "x#y"
    where.mkdir()
    monkeypatch.chdir(where)
    study = hpopt.create_study(study_name="s", storage="sqlite:///s.db?synchronous=normal", sampler="random")
    copy = pickle.loads(pickle.dumps(study))
    assert copy.storage._backend.synchronous == "normal"
    assert copy.storage._backend.path == study.storage._backend.path


def test_missing_sqlite_file_is_still_refused_and_not_created(tmp_path, monkeypatch, quiet_hpopt):
    where = tmp_path / "gone#1"
    where.mkdir()
    monkeypatch.chdir(where)
    study = hpopt.create_study(study_name="s", storage="sqlite:///s.db", sampler="random")
    blob = pickle.dumps(study)
    study.storage.close()
    for name in ("s.db", "s.db-wal", "s.db-shm"):
        (where / name).unlink(missing_ok=True)
    with pytest.raises(hpopt.StudyNotFoundError, match="no SQLite storage"):
        pickle.loads(blob)
    assert not (where / "s.db").exists()


_Inline = PickleInline


def _curve(trial: hpopt.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(4):
        trial.report(x * (step + 1), step)
        if trial.should_prune():
            raise hpopt.TrialPruned()
    return x


@pytest.mark.parametrize("folder", ["run#3", "what?", "a%23b"])
def test_executor_workers_reach_a_sqlite_file_in_a_folder_with_a_hash(
    folder, tmp_path, monkeypatch, quiet_hpopt
):
    """The same cut in the URL executor workers open (hpopt.remote._worker_url): the workers could
    not reach the file, warned with a wrong path and never pruned."""
    from hpopt.pruners import ThresholdPruner

    where = tmp_path / folder
    where.mkdir()
    monkeypatch.chdir(where)
    study = hpopt.create_study(study_name="s", storage="sqlite:///s.db", sampler="random", seed=7,
                               pruner=ThresholdPruner(upper=1.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", HpoptWarning)  # "cannot reach the storage" before the fix
        study.optimize(_curve, n_trials=12, executor=_Inline())
    states = [t.state for t in study.trials]
    assert hpopt.TrialState.PRUNED in states  # should_prune() ran against the store in the worker
    for t in study.trials:
        if t.state is hpopt.TrialState.PRUNED:
            assert max(t.intermediate_values.values()) > 1.5


@pytest.mark.parametrize("which", ["from_storage", "to_storage"])
def test_copy_study_names_the_storage_argument_of_a_wrong_kind(which, tmp_path, quiet_hpopt):
    url = f"sqlite:///{tmp_path / 'src.db'}"
    hpopt.create_study(study_name="s", storage=url)
    args = {"from_storage": url, "to_storage": f"sqlite:///{tmp_path / 'dst.db'}", which: 5}
    with pytest.raises(TypeError, match=f"`{which}` must be a storage URL"):
        hpopt.copy_study(from_study_name="s", **args)
    assert not (tmp_path / "dst.db").exists()
