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
