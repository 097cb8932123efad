"""Regressions from audit 3 (parallel execution, heartbeats, the worker CLI).

Each test failed before its fix; none depends on timing (thread tests bound counts far from what a
scheduler could produce, and events only hold threads back, never decide the outcome).
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor, Future

import pytest

import hpopt
from hpopt.cli import main as cli_main


def _states(study: hpopt.Study) -> dict[int, str]:
    return {t.number: t.state.name for t in study.trials}


# -- executor path: a future that raises a BaseException left its trial RUNNING ----------------------
def _interrupting_objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    if trial.number == 1:
        raise KeyboardInterrupt("stop")
    return x


def test_executor_objective_raising_keyboardinterrupt_leaves_no_trial_running() -> None:
    from concurrent.futures import ThreadPoolExecutor

    study = hpopt.create_study(seed=0, sampler="random")
    with ThreadPoolExecutor(1) as pool, pytest.raises(KeyboardInterrupt):
        study.optimize(_interrupting_objective, n_trials=5, executor=pool)
    states = _states(study)
    assert "RUNNING" not in states.values(), states
    assert states[1] == "FAIL"
    assert "KeyboardInterrupt" in study.trials[1].system_attrs["fail_reason"]


class _DeadPool(Executor):
    """Every future fails as a dead process pool's do (BrokenProcessPool), synchronously."""

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        fut: Future = Future()
        fut.set_exception(RuntimeError("A child process terminated abruptly"))
        return fut


def test_executor_whose_worker_died_leaves_no_trial_running() -> None:
    study = hpopt.create_study(seed=0, sampler="random")
    with pytest.raises(RuntimeError, match="terminated abruptly"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4, n_jobs=2, executor=_DeadPool())
    states = _states(study)
    assert states and "RUNNING" not in states.values(), states
    assert any("terminated abruptly" in t.system_attrs["fail_reason"] for t in study.trials)


# -- threads: an exception in one worker thread did not stop the others ---------------------------------
def test_threads_stop_after_a_callback_raises() -> None:
    """The thread that takes trial 0 is held back (after trial 0) until a callback in the other thread
    has raised. Before the fix only the exception of the *first* submitted worker stopped the others,
    so the held thread then ran the whole budget (forever without n_trials)."""
    raised = threading.Event()
    first: list[int] = []
    lock = threading.Lock()

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        me = threading.get_ident()
        with lock:
            if not first:
                first.append(me)
                return x
        if me == first[0]:
            raised.wait(30)  # only holds this thread back; a safety cap, not a condition
        return x

    def callback(study, ft):
        with lock:
            if threading.get_ident() == first[0] or raised.is_set():
                return
            raised.set()
        raise RuntimeError("callback failed")

    study = hpopt.create_study(seed=0, sampler="random")
    with pytest.raises(RuntimeError, match="callback failed"):
        study.optimize(objective, n_trials=1000, n_jobs=2, callbacks=[callback])
    assert len(study.trials) < 100
    assert "RUNNING" not in _states(study).values()


# -- heartbeats -----------------------------------------------------------------------------------------
def test_heartbeat_interval_beyond_the_platform_wait_limit_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="heartbeat_interval"):
        hpopt.create_study(heartbeat_interval=threading.TIMEOUT_MAX * 2)
    hpopt.create_study(heartbeat_interval=threading.TIMEOUT_MAX / 2)  # still taken


def test_late_tell_of_a_stale_trial_closes_the_handle(monkeypatch) -> None:
    study = hpopt.create_study(seed=0, heartbeat_interval=60, grace_period=120)
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    backend = study.storage._backend
    real_now = backend.now
    monkeypatch.setattr(backend, "now", lambda: real_now() + 1000.0)  # another worker's view: stale
    assert study.fail_stale_trials() == [trial.number]
    monkeypatch.setattr(backend, "now", real_now)
    with pytest.raises(hpopt.TrialFinishedError, match="stale"):
        study.tell(trial, 1.0)
    # before the fix the handle stayed open: the heartbeat thread beat (and wrote) for it forever
    assert trial.number not in study._live
    with pytest.raises(hpopt.TrialFinishedError):
        trial.suggest_float("y", 0, 1)


# -- the worker CLI: bad --n-trials / --timeout created the store and the study first ---------------------
@pytest.mark.parametrize("extra", [["--n-trials", "-1"], ["--timeout", "0"], ["--timeout", "nan"]])
def test_cli_worker_refuses_bad_budget_before_writing(tmp_path, capsys, monkeypatch, extra) -> None:
    (tmp_path / "audit3_obj.py").write_text("def f(t):\n    return t.suggest_float('x', 0, 1)\n")
    db = tmp_path / "w.db"
    monkeypatch.chdir(tmp_path)
    code = cli_main(["worker", "--storage", f"sqlite:///{db}", "--study", "s",
                     "--objective", "audit3_obj:f", *extra])
    assert code == 2
    assert extra[0] in capsys.readouterr().err
    assert not db.exists() or hpopt.study_names(f"sqlite:///{db}") == []


def test_process_executor_refuses_an_unpicklable_objective_before_asking() -> None:
    study = hpopt.create_study(seed=0, sampler="random")
    with pytest.raises(TypeError, match="picklable"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4, n_jobs=2, executor="process")
    assert study.trials == []  # before the fix: trial 0 RUNNING, trial 1 FAIL


def test_trial_told_through_another_handle_stops_beating(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'hb.db'}"
    asker = hpopt.create_study(study_name="s", storage=url, heartbeat_interval=60, grace_period=120)
    teller = hpopt.load_study("s", url)  # another process in real life (a web service's tell)
    trial = asker.ask({"x": hpopt.Float(0, 1)})
    teller.tell(trial.number, trial.params["x"])
    asker.storage.sync()  # what the heartbeat thread does before each round
    trial.beat()  # before the fix: a beat row written every interval, forever, for a finished trial
    assert trial.number not in asker._live
    with pytest.raises(hpopt.TrialFinishedError):
        trial.suggest_float("y", 0, 1)
    assert asker.trials[0].state is hpopt.TrialState.COMPLETE
