"""hpopt.copy_study: a study and every trial, verbatim, into another storage (or name).

Memory -> SQLite and SQLite -> SQLite always; PostgreSQL pairs with ``source .ci/postgres.sh start``
(exports HPOPT_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import uuid

import pytest
from _helpers import postgres_url

import hpopt
from hpopt.create import copy_study
from hpopt.errors import DuplicatedStudyError, StudyNotFoundError
from hpopt.export import to_records
from hpopt.records import TrialState
from hpopt.samplers import NSGAIISampler


@pytest.fixture(autouse=True)
def _quiet(hpopt_at_warning: None) -> None:
    """Every test with hpopt's logger at WARNING (tests/conftest.py)."""


def _storage(kind: str, tmp_path, tag: str):
    """A storage spec of ``kind``: a Storage object for memory (the only way to reach one), else a URL."""
    if kind == "memory":
        return hpopt.create_study(study_name=f"anchor-{tag}").storage
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'{tag}.db'}"
    return postgres_url()


def _objective(trial: hpopt.Trial) -> float:
    x = trial.suggest_float("x", -3.0, 3.0)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    trial.set_user_attr("tag", {"kind": kind, "xs": [x, 2 * x]})
    for step in range(3):
        trial.report(x * x + step, step)
    if trial.number % 5 == 3:
        raise hpopt.TrialPruned()
    if trial.number % 5 == 4:
        raise ArithmeticError("boom")
    return x * x + (kind == "b")


def _rich_source(storage, name: str) -> hpopt.Study:
    """A single-objective study with trials in every state, a gradient, study attributes and the
    heartbeat settings."""
    study = hpopt.create_study(study_name=name, storage=storage, sampler="tpe", seed=5, grace_period=60.0,
                               max_retry=1)
    study.optimize(_objective, n_trials=10, catch=ArithmeticError)
    t = study.ask()
    x = t.suggest_float("x", -3.0, 3.0)
    t.suggest_categorical("kind", ["a", "b"])
    study.tell(t, x * x, gradient={"x": 2 * x})
    study.set_user_attr("owner", ["me", {"team": 1}])
    running = study.ask()
    running.suggest_float("x", -3.0, 3.0)
    running.report(0.25, 0)
    running.beat()  # writes its parameters and report
    study.enqueue_trial({"x": 0.5, "kind": "a"}, user_attrs={"why": "a guess"})
    return study


def _copy(storage, name: str) -> hpopt.Study:
    return hpopt.load_study(name, storage, sampler="random")


PAIRS = [("memory", "sqlite"), ("sqlite", "sqlite"), ("sqlite", "postgres"), ("postgres", "memory")]


@pytest.mark.filterwarnings("ignore::hpopt.errors.FailedTrialWarning")
@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS)
def test_copy_keeps_every_trial_and_attribute(tmp_path, src_kind, dst_kind):
    src_store, dst_store = _storage(src_kind, tmp_path, "src"), _storage(dst_kind, tmp_path, "dst")
    name, to_name = f"src-{uuid.uuid4().hex[:8]}", f"dst-{uuid.uuid4().hex[:8]}"
    src = _rich_source(src_store, name)
    copy_study(from_study_name=name, from_storage=src_store, to_storage=dst_store, to_study_name=to_name)
    dst = _copy(dst_store, to_name)
    states = [t.state for t in dst.trials]
    assert {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING,
            TrialState.WAITING} == set(states)
    assert dst.trials == src.trials  # numbers, states, values, params, distributions, reports, attrs, times
    assert dst.best_trial == src.best_trial
    assert to_records(dst, intermediate=True) == to_records(src, intermediate=True)
    assert dst.directions == src.directions
    assert dst.user_attrs == src.user_attrs == {"owner": ["me", {"team": 1}]}
    assert dst.system_attrs == src.system_attrs and dst.system_attrs[hpopt.storage.journal.GRACE_KEY] == 60.0
    assert dst.trials[10].system_attrs["gradient"] == src.trials[10].system_attrs["gradient"]
    # the enqueued trial is the copy's next ask, with its fixed values and attributes
    waiting = dst.ask()
    assert (waiting.number, waiting.suggest_float("x", -3.0, 3.0), waiting.user_attrs) == (
        12, 0.5, {"why": "a guess"})
    dst.tell(waiting, 0.25)
    # the copied RUNNING trial belongs to no worker of the copy: finishable by number
    assert dst.tell(11, state="fail").state is TrialState.FAIL
    assert src.trials[11].state is TrialState.RUNNING and len(src.trials) == 13  # the source is untouched
    assert dst.best_value == 0.25


@pytest.mark.filterwarnings("ignore::hpopt.errors.FailedTrialWarning")
@pytest.mark.parametrize(("src_kind", "dst_kind"), [("memory", "sqlite"), ("sqlite", "memory")])
def test_copied_running_trial_is_reaped_after_the_grace_period(tmp_path, monkeypatch, src_kind, dst_kind):
    src_store, dst_store = _storage(src_kind, tmp_path, "src"), _storage(dst_kind, tmp_path, "dst")
    name = f"src-{uuid.uuid4().hex[:8]}"
    src = _rich_source(src_store, name)  # trial 11 RUNNING, beaten once; grace 60 s, max_retry 1
    unwatched = src.ask().number  # the enqueued trial, asked without a heartbeat: never beaten
    copy_study(from_study_name=name, from_storage=src_store, to_storage=dst_store, to_study_name="copy")
    dst = _copy(dst_store, "copy")
    backend = dst.storage._backend
    assert sorted(backend.beats_of(dst._sid, [11, unwatched])) == [11]  # one beat, at copy time
    assert dst.storage.reap(dst._sid) == []  # within the grace period: left alone
    later = backend.now() + 61.0
    monkeypatch.setattr(backend, "now", lambda: later)  # the grace period has passed, no beat since
    assert dst.storage.reap(dst._sid) == [11]
    reaped = dst.trials[11]
    assert reaped.state is TrialState.FAIL and reaped.system_attrs["fail_reason"] == "stale"
    retry = dst.trials[-1]  # re-enqueued with its parameters (max_retry=1)
    assert retry.state is TrialState.WAITING and retry.system_attrs["hpopt.retry_of"] == 11
    assert dst.trials[unwatched].state is TrialState.RUNNING  # had no heartbeat in the source: as there
    assert src.trials[11].state is TrialState.RUNNING  # the source is untouched


def test_constraints_and_several_objectives_are_kept(tmp_path):
    sampler = NSGAIISampler(seed=0, constraints_func=lambda t: [t.params["x"] - 0.5])
    src = hpopt.create_study(study_name="mo", sampler=sampler, directions=["minimize", "maximize"])
    src.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=12)
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    copy_study(from_study_name="mo", from_storage=src.storage, to_storage=url)  # to_study_name: same name
    dst = _copy(url, "mo")  # a sampler without constraints_func: feasibility from the stored values
    assert all("constraints" in t.system_attrs for t in dst.trials)
    assert dst.trials == src.trials
    assert dst.best_trials == src.best_trials
    assert any(not r["feasible"] for r in to_records(dst))
    assert to_records(dst) == to_records(src)


def test_same_storage_under_another_name(tmp_path):
    url = f"sqlite:///{tmp_path / 'one.db'}"
    src = hpopt.create_study(study_name="a", storage=url, sampler="random", seed=0)
    src.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    copy_study(from_study_name="a", from_storage=url, to_storage=url, to_study_name="b")
    assert hpopt.study_names(url) == ["a", "b"]
    assert _copy(url, "b").trials == src.trials
    with pytest.raises(DuplicatedStudyError, match="'a' already exists"):
        copy_study(from_study_name="a", from_storage=url, to_storage=url)


def test_existing_target_is_refused_before_writing(tmp_path):
    src = hpopt.create_study(study_name="s", sampler="random", seed=0)
    src.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    url = f"sqlite:///{tmp_path / 't.db'}"
    target = hpopt.create_study(study_name="taken", storage=url)
    target.set_user_attr("keep", 1)
    with pytest.raises(DuplicatedStudyError, match="'taken' already exists.*nothing was copied"):
        copy_study(from_study_name="s", from_storage=src.storage, to_storage=url, to_study_name="taken")
    again = hpopt.load_study("taken", url)
    assert again.trials == [] and again.user_attrs == {"keep": 1} and hpopt.study_names(url) == ["taken"]


def test_missing_source_is_refused_and_nothing_is_created(tmp_path):
    missing = tmp_path / "nowhere.db"
    target = tmp_path / "target.db"
    with pytest.raises(StudyNotFoundError, match="no SQLite storage"):
        copy_study(from_study_name="x", from_storage=f"sqlite:///{missing}", to_storage=f"sqlite:///{target}")
    assert not missing.exists() and not target.exists()
    store = hpopt.create_study(study_name="other").storage
    with pytest.raises(StudyNotFoundError, match="no study named 'x'"):
        copy_study(from_study_name="x", from_storage=store, to_storage=f"sqlite:///{target}")
    assert not target.exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"from_study_name": 3}, TypeError, "study"),
        ({"to_study_name": ""}, ValueError, "study"),
        ({"from_storage": None}, ValueError, "from_storage"),
        ({"to_storage": None}, ValueError, "to_storage"),
        ({"to_storage": 3.5}, TypeError, "storage"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    src = hpopt.create_study(study_name="s", sampler="random", seed=0)
    args = {"from_study_name": "s", "from_storage": src.storage, "to_storage": src.storage,
            "to_study_name": "t", **kwargs}
    with pytest.raises(error, match=match):
        copy_study(**args)
    assert src.storage.study_names() == ["s"]


def test_empty_study(tmp_path):
    src = hpopt.create_study(study_name="empty", direction="maximize")
    url = f"sqlite:///{tmp_path / 'e.db'}"
    copy_study(from_study_name="empty", from_storage=src.storage, to_storage=url)
    dst = hpopt.load_study("empty", url)
    assert dst.trials == [] and dst.directions == ["maximize"]
    with pytest.raises(ValueError):
        dst.best_trial  # noqa: B018
