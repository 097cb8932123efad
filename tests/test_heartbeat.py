"""Heartbeats: dead workers' trials become FAIL ("stale") and can be retried (promise G4)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import pytest

import hpopt
from hpopt import TrialState

POLL_LIMIT = 60.0  # seconds: generous, the machine is shared


def _url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/hb.db"


def _poll_reap(study: hpopt.Study, until) -> None:
    deadline = time.monotonic() + POLL_LIMIT
    while time.monotonic() < deadline:
        study.fail_stale_trials()
        if until():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached within the poll limit")


def _die_mid_trial(url: str) -> None:
    study = hpopt.load_study("hb", url, heartbeat_interval=0.5)
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    trial.suggest_categorical("c", ["a", "b"])
    time.sleep(1.5)  # the beater writes the suggestions with its next beat
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_killed_worker_trial_fails_stale_and_is_retried_once(tmp_path):
    """SIGKILL mid-trial: FAIL (stale) after the grace period, retried with the same params, once."""
    url = _url(tmp_path)
    hpopt.create_study(study_name="hb", storage=url, heartbeat_interval=0.5, grace_period=2, max_retry=1)
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=_die_mid_trial, args=(url,))
    p.start()
    p.join(120)
    assert p.exitcode == -signal.SIGKILL
    watcher = hpopt.load_study("hb", url)
    _poll_reap(watcher, lambda: watcher.trials[0].state is TrialState.FAIL)
    first, retry = watcher.trials
    assert first.system_attrs["fail_reason"] == "stale"
    assert retry.state is TrialState.WAITING
    assert retry.system_attrs["hpopt.retry_of"] == 0 and retry.system_attrs["hpopt.retries"] == 1
    # The retry runs the same parameters; it is killed too, and is not retried again.
    p = ctx.Process(target=_die_mid_trial, args=(url,))
    p.start()
    p.join(120)
    _poll_reap(watcher, lambda: watcher.trials[1].state is TrialState.FAIL)
    trials = watcher.trials
    assert len(trials) == 2
    assert trials[1].params == first.params


def test_beating_trial_is_never_failed_and_late_tell_is_refused(tmp_path):
    """A trial that beats outlives many grace periods; a reaped trial's late tell gets a clear error."""
    url = _url(tmp_path)
    study = hpopt.create_study(study_name="hb", storage=url, heartbeat_interval=0.1, grace_period=2.0)
    other = hpopt.load_study("hb", url)
    alive = study.ask()
    alive.suggest_float("x", 0, 1)
    silent = other.ask()  # `other` has no heartbeat interval: this trial never beats after ask...
    other.storage.beat(other._sid, silent.number)  # ...except once, so it is known to the reaper
    deadline = time.monotonic() + 6.0
    reaped: list[int] = []
    while time.monotonic() < deadline:
        reaped += other.fail_stale_trials()
        time.sleep(0.1)
    assert reaped == [silent.number]
    assert study.tell(alive, 1.0).state is TrialState.COMPLETE
    with pytest.raises(hpopt.TrialFinishedError, match="stale"):
        other.tell(silent, 2.0)


def _reap_many(url: str, out) -> None:
    study = hpopt.load_study("hb", url)
    failed = []
    for _ in range(20):
        failed += study.fail_stale_trials()
        time.sleep(0.05)
    out.put(failed)


@pytest.mark.slow
def test_two_reapers_fail_each_stale_trial_once(tmp_path):
    """20 stale trials reaped by 2 processes at once: each failed once and re-enqueued once."""
    url = _url(tmp_path)
    study = hpopt.create_study(study_name="hb", storage=url, grace_period=0.5, max_retry=3)
    for _ in range(20):
        t = study.ask()
        study.storage.beat(study._sid, t.number)
    time.sleep(1.0)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_reap_many, args=(url, q)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert sorted(results[0] + results[1]) == list(range(20))
    trials = hpopt.load_study("hb", url).trials
    assert len(trials) == 40
    assert all(t.state is TrialState.FAIL for t in trials[:20])
    assert sorted(t.system_attrs["hpopt.retry_of"] for t in trials[20:]) == list(range(20))
    assert all(t.state is TrialState.WAITING for t in trials[20:])


def test_disagreeing_grace_period_is_refused(tmp_path):
    """Every worker must agree on the stored grace period; another value is an error naming both."""
    url = _url(tmp_path)
    hpopt.create_study(study_name="hb", storage=url, heartbeat_interval=1, grace_period=5)
    with pytest.raises(ValueError, match="grace_period=5.0"):
        hpopt.load_study("hb", url, grace_period=7)
    assert hpopt.load_study("hb", url, heartbeat_interval=2).system_attrs["hpopt.grace_period"] == 5.0


@pytest.mark.parametrize(
    "kwargs",
    [{"heartbeat_interval": 0}, {"heartbeat_interval": -1}, {"grace_period": float("inf")},
     {"heartbeat_interval": 2, "grace_period": 1}, {"max_retry": -1}],
)
def test_bad_heartbeat_settings_are_refused_before_writing(kwargs):
    """Out-of-range heartbeat settings raise ValueError and create nothing."""
    storage = hpopt.Storage(hpopt.storage.MemoryBackend())
    with pytest.raises(ValueError):
        hpopt.create_study(study_name="x", storage=storage, **kwargs)
    assert hpopt.study_names(storage) == []


def test_context_manager_fails_an_untold_trial():
    """Leaving `with study.ask() as trial:` without a tell, or by an exception, fails the trial."""
    study = hpopt.create_study()
    with study.ask() as trial:
        trial.suggest_float("x", 0, 1)
    with pytest.raises(RuntimeError):
        with study.ask() as trial:
            raise RuntimeError("boom")
    with study.ask() as trial:
        study.tell(trial, 1.0)
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert "boom" in study.trials[1].system_attrs["fail_reason"]
