"""The `hpopt worker` command: independent workers joining one study through a shared storage."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import hpopt


def test_two_workers_fill_one_study(tmp_path):
    """Two `hpopt worker` processes started at once add their trials to one SQLite study."""
    (tmp_path / "objmod.py").write_text(textwrap.dedent("""
        def objective(trial):
            return (trial.suggest_float("x", -2, 2) - 1) ** 2
    """))
    url = f"sqlite:///{tmp_path}/w.db"
    cmd = [sys.executable, "-m", "hpopt.cli", "worker", "--storage", url, "--study", "s",
           "--objective", "objmod:objective", "--n-trials", "15", "--heartbeat-interval", "1"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all("ran 15 trials" in out and "best value" in out for out, _ in outs)
    trials = hpopt.load_study("s", url).trials
    assert [t.number for t in trials] == list(range(30))
    assert all(t.state is hpopt.TrialState.COMPLETE for t in trials)


def test_bad_objective_is_a_clear_error(tmp_path):
    """A malformed --objective exits with code 2 and one line of explanation, no traceback."""
    url = f"sqlite:///{tmp_path}/w.db"
    out = subprocess.run(
        [sys.executable, "-m", "hpopt.cli", "worker", "--storage", url, "--study", "s",
         "--objective", "no_colon_here", "--n-trials", "1"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert out.returncode == 2
    assert "module:function" in out.stderr and "Traceback" not in out.stderr


def test_worker_takes_a_pruner_and_several_objectives(tmp_path, monkeypatch):
    """--pruner prunes (an epoch loop whose bad trials the threshold pruner stops) and
    --directions makes a multi-objective study; both with --direction is refused."""
    from hpopt.cli import main

    (tmp_path / "objmod2.py").write_text(textwrap.dedent("""
        import hpopt

        def loop(trial):
            x = trial.suggest_float("x", 0, 1)
            for step in range(5):
                trial.report(x, step)
                if trial.should_prune():
                    raise hpopt.TrialPruned()
            return x

        def two(trial):
            x = trial.suggest_float("x", 0, 1)
            return x, 1 - x
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the worker puts the cwd on it
    monkeypatch.delitem(sys.modules, "objmod2", raising=False)
    url = f"sqlite:///{tmp_path}/w.db"
    base = ["worker", "--storage", url, "--n-trials", "12", "--sampler", "random", "--seed", "0"]
    assert main([*base, "--study", "p", "--objective", "objmod2:loop", "--pruner", "median"]) == 0
    states = {t.state for t in hpopt.load_study("p", url).trials}
    assert hpopt.TrialState.PRUNED in states
    two = [*base, "--objective", "objmod2:two"]
    assert main([*two, "--study", "m", "--directions", "minimize,maximize"]) == 0
    assert hpopt.load_study("m", url).directions == ["minimize", "maximize"]
    assert main([*two, "--study", "z", "--direction", "minimize", "--directions", "minimize,maximize"]) == 2
