"""Regression tests from audit 7 (hpopt.benchmark): summary statistics, runner argument checks,
sampler-spec settings and the ZDT3 true hypervolume. Each fails before its fix."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from hpopt.benchmark import run, run_one
from hpopt.benchmark.suites import TRUE_HV
from hpopt.benchmark.summary import summarize


def _rec(sampler, problem, seed, regret, status="ok", kind="regret"):
    return {"sampler": sampler, "problem": problem, "seed": seed, "n_trials": len(regret),
            "status": status, "regret": regret, "regret_kind": kind,
            "sampler_seconds": [0.001] * len(regret), "objective_seconds": [0.002] * len(regret)}


class TestSummary:
    def test_no_finished_trial_is_worse_than_negative_values(self):
        """inf (no finished trial) must rank worse than every finite value, also negative ones.

        E: -5 on 5 seeds; F: -10 on 2 seeds and nothing on 3. With inf treated as worst the
        two-sided Mann-Whitney p is 0.65 (a tie); it used to replace inf by (-5 + 1) * 2 = -8,
        better than E, and declare E the winner (p = 0.0065).
        """
        e = [_rec("E", "q", i, [-5.0] * 4, kind="value") for i in range(5)]
        f = [_rec("F", "q", i, [-10.0] * 4 if i < 2 else [None] * 4, kind="value")
             for i in range(5)]
        s = summarize(e + f)
        assert s.outcome["q"] == {"E": "tie", "F": "tie"}

    def test_a_run_recorded_twice_counts_once(self):
        """The same file given twice must not double the seeds (3 vs 3 seeds is a tie, p = 0.1)."""
        a = [_rec("A", "p", i, [3.0, 0.1 * i]) for i in range(3)]
        b = [_rec("B", "p", i, [3.0, 1.0 + 0.1 * i]) for i in range(3)]
        once, twice = summarize(a + b), summarize(a + b + a + b)
        assert once.outcome == twice.outcome == {"p": {"A": "tie", "B": "tie"}}
        assert twice.counts == {"A": {"ok": 3}, "B": {"ok": 3}}
        assert len(twice.final[("p", "A")]) == 3

    def test_a_failed_run_retried_counts_with_its_last_record(self):
        """retry_failed appends an ok line after the failed one: only the last counts."""
        recs = [_rec("A", "p", 0, [], status="failed") | {"n_trials": 2}, _rec("A", "p", 0, [1.0, 0.5])]
        s = summarize(recs)
        assert s.counts == {"A": {"ok": 1}}
        assert list(s.final[("p", "A")]) == [0.5]


class TestRunArguments:
    def test_out_in_a_missing_folder_is_refused_before_running(self, tmp_path):
        """It used to run the first runs, then fail with FileNotFoundError at the first write."""
        calls = []
        with pytest.raises(ValueError, match="`out`"):
            run(["random"], ["branin"], n_trials=2, seeds=1, out=tmp_path / "no" / "r.jsonl",
                progress=lambda *a: calls.append(a))
        assert calls == [] and not (tmp_path / "no").exists()

    def test_out_that_is_a_folder_is_refused(self, tmp_path):
        with pytest.raises(ValueError, match="`out`"):
            run(["random"], ["branin"], n_trials=2, seeds=1, out=tmp_path)

    def test_peer_seeds_beyond_32_bits_are_refused(self):
        """optuna and nevergrad refuse seeds >= 2**32: every run used to fail, one by one."""
        pytest.importorskip("optuna")
        with pytest.raises(ValueError, match="2\\*\\*32"):
            run(["optuna:random"], ["branin"], n_trials=2, seeds=[2**32])

    def test_hpopt_samplers_take_huge_seeds(self):
        """hpopt's own samplers are not limited: the check is only for those libraries."""
        recs = run(["random"], ["branin"], n_trials=2, seeds=[2**70])
        assert recs[0]["status"] == "ok"

    def test_run_one_refuses_a_negative_seed_naming_it(self):
        with pytest.raises(ValueError, match="`seed`"):
            run_one("random", "branin", -1, 2)

    @pytest.mark.parametrize("spec, word", [
        ("cmaes[nosuch=1]", "nosuch"),
        ("random[seed=3]", "seed"),
        ("grid", "search_space"),
        ("random+median[foo=1]", "foo"),
    ])
    def test_settings_a_sampler_cannot_take_are_refused_before_running(self, spec, word):
        """They used to fail every (problem, seed) run, each recorded as failed in the file."""
        with pytest.raises(ValueError, match=word):
            run([spec], ["branin"], n_trials=2, seeds=2)

    @pytest.mark.parametrize("spec, word", [
        ("cmaes[popsize=1]", "popsize"),
        ("tpe[n_startup_trials=-1]", "n_startup_trials"),
        ("random+successive_halving[reduction_factor=1]", "reduction_factor"),
    ])
    def test_setting_values_a_sampler_refuses_stop_the_benchmark_before_any_run(self, spec, word, tmp_path):
        """A value the factory refuses failed every run with the same error; now nothing runs."""
        out = tmp_path / "r.jsonl"
        with pytest.raises(ValueError, match=f"{re.escape(spec)}.*refused.*{word}"):
            run([spec], ["branin"], n_trials=2, seeds=2, out=str(out))
        assert not out.exists()

    def test_valid_settings_still_run(self):
        recs = run(["tpe[n_startup_trials=1]", "random+median[n_warmup_steps=1]"],
                   ["branin"], n_trials=3, seeds=1)
        assert [r["status"] for r in recs] == ["ok", "ok"]


def test_zdt3_true_hypervolume_to_1e_9():
    """The area above ZDT3's front envelope; the stated 128.778116 was 1.3e-7 low."""
    f1 = np.linspace(0.0, 1.0, 4_000_001)
    env = np.minimum.accumulate(1 - np.sqrt(f1) - f1 * np.sin(10 * np.pi * f1))
    hv = 11.0 * 11.0 - np.trapezoid(env, f1) - 10.0 * env[-1]
    assert math.isclose(TRUE_HV["zdt3"], hv, rel_tol=0, abs_tol=1e-9), (TRUE_HV["zdt3"], hv)


def test_report_lists_no_failure_a_retry_fixed(tmp_path, capsys):
    """`hpopt bench report` listed a failed run under 'Failed runs' although its retry succeeded."""
    import json

    from hpopt.cli import main

    ok = run_one("random", "branin", 0, 2)
    failed = dict(ok, status="failed", error="RuntimeError: boom", regret=[], values=[])
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(failed) + "\n" + json.dumps(ok) + "\n")
    assert main(["bench", "report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Failed runs" not in out and "boom" not in out


class TestSpawnNeedsRegisteredProblems:
    """With spawn/forkserver the worker looks a problem up by name: an unregistered Problem used to
    fail every run as 'worker process died (exit code 1)', and a Problem reusing a registered name
    (e.g. branin with noise added) silently ran the registered one instead."""

    def test_unregistered_problem_is_refused(self):
        import hpopt
        from hpopt.benchmark import Problem

        bowl = Problem(name="audit7-bowl", space={"x": hpopt.Float(-1.0, 1.0)},
                       function=lambda p: p["x"] ** 2, optimum=0.0, optimizer={"x": 0.0})
        with pytest.raises(ValueError, match="audit7-bowl"):
            run(["random"], [bowl], n_trials=1, seeds=1, start_method="spawn")

    def test_problem_shadowing_a_registered_name_is_refused(self):
        import attrs

        from hpopt.benchmark import get_problem

        noisy = attrs.evolve(get_problem("branin"), noise_sd=5.0)
        with pytest.raises(ValueError, match="branin"):
            run(["random"], [noisy], n_trials=1, seeds=1, start_method="spawn")
