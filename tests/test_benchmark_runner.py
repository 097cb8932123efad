"""Tests of the benchmark runner: records, process isolation, failures, time caps and resume."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

import hpopt
from hpopt.benchmark import get_problem, load_results, run, run_one
from hpopt.benchmark import runner as runner_mod
from hpopt.benchmark.runner import ResultsWarning


class _Boom(hpopt.Sampler):
    """Raises on trial 3."""

    def __init__(self, *, seed=None):
        self.inner = hpopt.RandomSampler(seed=seed)

    def sample(self, history, trial, name, distribution):
        if trial.number == 3:
            raise RuntimeError("boom at trial 3")
        return self.inner.sample(history, trial, name, distribution)


class _Hang(hpopt.Sampler):
    """Never returns (to exercise the hard time cap)."""

    def __init__(self, *, seed=None):
        pass

    def sample(self, history, trial, name, distribution):
        time.sleep(3600)


class _Pid(hpopt.Sampler):
    """Random search that records the worker's pid in the sampled value's process."""

    def __init__(self, *, seed=None):
        self.inner = hpopt.RandomSampler(seed=seed)
        _PIDS.append(os.getpid())

    def sample(self, history, trial, name, distribution):
        return self.inner.sample(history, trial, name, distribution)


_PIDS: list[int] = []


class _TestPlugin:
    @staticmethod
    @hpopt.hookimpl
    def hpopt_samplers():
        return {"test-boom": _Boom, "test-hang": _Hang, "test-pid": _Pid}


@pytest.fixture
def test_samplers():
    """Register the misbehaving samplers for one test (forked workers inherit them)."""
    from hpopt import plugins

    plugins.register(_TestPlugin, name="benchmark-test-samplers")
    yield
    plugins.unregister(_TestPlugin)


class TestRecord:
    def test_record_has_every_trial_and_monotone_regret(self):
        """A run records each trial's value, a non-increasing regret and the timing split."""
        rec = run_one("random", "branin", seed=0, n_trials=15)
        assert rec["status"] == "ok" and len(rec["values"]) == 15
        reg = rec["regret"]
        assert all(a >= b for a, b in zip(reg, reg[1:])) and reg[-1] >= 0
        best = min(rec["values"]) - get_problem("branin").optimum
        assert reg[-1] == pytest.approx(best)
        assert len(rec["sampler_seconds"]) == len(rec["objective_seconds"]) == 15
        assert all(s >= 0 for s in rec["sampler_seconds"] + rec["objective_seconds"])
        json.dumps(rec)  # JSON-ready

    def test_same_seed_same_run(self):
        """Two runs with the same seed give the same values."""
        a = run_one("random", "mixed-quadratic", seed=4, n_trials=8)
        b = run_one("random", "mixed-quadratic", seed=4, n_trials=8)
        assert a["values"] == b["values"]

    def test_noisy_regret_uses_the_noise_free_value_of_the_incumbent(self):
        """On a noisy problem the incumbent is the best observation; its true value gives regret."""
        p = get_problem("noisy-hartmann6")
        rec = run_one("random", p, seed=1, n_trials=30)
        obs, true = np.array(rec["values"]), np.array(rec["true_values"])
        assert not np.allclose(obs, true)
        for i in range(30):
            inc = int(np.argmin(obs[: i + 1]))
            assert rec["regret"][i] == pytest.approx(true[inc] - p.optimum)

    def test_multi_objective_records_hypervolume(self):
        """ZDT1 records a non-decreasing hypervolume and regret = true HV - HV."""
        rec = run_one("random", "zdt1", seed=0, n_trials=20)
        hv = rec["hypervolume"]
        assert all(a <= b for a, b in zip(hv, hv[1:])) and hv[-1] > 0
        pts = np.array(rec["values"])
        assert hv[-1] == pytest.approx(hpopt.benchmark.hypervolume(pts, (11.0, 11.0)))
        assert rec["regret"][-1] == pytest.approx(get_problem("zdt1").optimum - hv[-1])

    def test_curve_problem_records_steps_and_pruning(self):
        """Curves record steps per trial; with a pruner some trials stop early."""
        full = run_one("random", "curves-synthetic", seed=0, n_trials=12)
        assert full["steps"] == [50] * 12
        pruned = run_one("random+median", "curves-synthetic", seed=0, n_trials=12)
        assert "pruned" in pruned["states"]
        assert sum(pruned["steps"]) < sum(full["steps"])
        for state, steps in zip(pruned["states"], pruned["steps"]):
            assert (steps < 50) == (state == "pruned")

    def test_unknown_optimum_reports_the_value(self):
        """Without a known optimum the incumbent's value is recorded as regret."""
        rec = run_one("random", "curves-mlp", seed=0, n_trials=2)
        assert rec["regret_kind"] == "value"
        assert rec["regret"][-1] == pytest.approx(min(rec["values"]))


class TestFailures:
    def test_sampler_that_raises_marks_the_run_failed(self, test_samplers):
        """A sampler exception fails that run with its traceback; the other runs go on."""
        recs = run(["test-boom", "random"], ["branin"], n_trials=6, seeds=1, n_jobs=2)
        by = {r["sampler"]: r for r in recs}
        assert by["test-boom"]["status"] == "failed"
        assert "boom at trial 3" in by["test-boom"]["traceback"]
        assert len(by["test-boom"]["values"]) == 3
        assert by["random"]["status"] == "ok"

    def test_time_cap_stops_the_run(self):
        """A run past its time cap stops asking and is recorded as a timeout."""
        rec = run_one("random", "branin", seed=0, n_trials=50, time_cap=1e-9)
        assert rec["status"] == "timeout" and "time cap" in rec["error"]

    @pytest.mark.slow
    def test_hung_worker_is_killed_at_the_hard_cap(self, test_samplers, monkeypatch):
        """A worker stuck inside the sampler is killed and the run recorded as failed."""
        monkeypatch.setattr(runner_mod, "_HARD_GRACE", 0.5)
        recs = run(["test-hang"], ["branin"], n_trials=3, seeds=1, time_cap=0.1)
        assert recs[0]["status"] == "failed" and "hard time cap" in recs[0]["error"]

    def test_unsupported_problem_is_skipped(self):
        """An optimizer that cannot handle a problem records a skipped run."""
        pytest.importorskip("hyperopt")
        rec = run_one("hyperopt:tpe", "zdt1", seed=0, n_trials=3)
        assert rec["status"] == "skipped"

    def test_unknown_names_list_what_is_available(self):
        """Unknown samplers and problems are refused before anything runs, listing the choices."""
        with pytest.raises(ValueError, match="hpopt samplers: .*random.*peers: .*optuna:tpe"):
            run(["nope"], ["branin"], n_trials=2, seeds=1)
        with pytest.raises(ValueError, match="problems: .*branin"):
            run(["random"], ["nope"], n_trials=2, seeds=1)

    @pytest.mark.parametrize("kwargs, match", [
        ({"n_trials": 0}, "n_trials"), ({"seeds": 0}, "seeds"), ({"n_jobs": 0}, "n_jobs"),
        ({"time_cap": -1.0}, "time_cap"),
    ])
    def test_bad_arguments_name_the_parameter(self, kwargs, match):
        """Invalid counts are ValueErrors naming the argument."""
        args = {"n_trials": 2, "seeds": 1, "n_jobs": 1, **kwargs}
        with pytest.raises(ValueError, match=match):
            run(["random"], ["branin"], args.pop("n_trials"), args.pop("seeds"), **args)


class TestProcessesAndResume:
    def test_each_run_gets_its_own_process(self, test_samplers):
        """Every (sampler, problem, seed) runs in a fresh worker process, not in the caller."""
        out = run(["test-pid"], ["branin", "sphere-2d"], n_trials=2, seeds=2, n_jobs=2)
        assert all(r["status"] == "ok" for r in out) and len(out) == 4
        assert _PIDS == []  # constructed only in the workers, never here

    @pytest.mark.slow
    def test_spawn_start_method_works(self, tmp_path):
        """With spawn the worker looks the problem up by name and returns the same record."""
        recs = run(["random"], ["branin"], n_trials=4, seeds=1, start_method="spawn")
        assert recs[0]["values"] == run_one("random", "branin", 0, 4)["values"]

    def test_resume_skips_finished_runs(self, tmp_path):
        """A second invocation with the same file runs only the missing (sampler, problem, seed)."""
        out = tmp_path / "r.jsonl"
        first = run(["random"], ["branin"], n_trials=5, seeds=2, out=out)
        assert len(out.read_text().splitlines()) == 2
        stamps = []

        def progress(done, total, rec):
            stamps.append((total, rec["seed"]))

        second = run(["random"], ["branin"], n_trials=5, seeds=3, out=out, progress=progress)
        assert stamps == [(1, 2)]
        assert len(second) == 3 and second[:2] == first
        assert len(out.read_text().splitlines()) == 3

    def test_interrupted_write_is_redone_and_reported(self, tmp_path):
        """A torn last line (killed writer) is reported by line number and that run is redone."""
        out = tmp_path / "r.jsonl"
        run(["random"], ["branin"], n_trials=5, seeds=2, out=out)
        text = out.read_text()
        out.write_text(text[: len(text) - 40])  # tear the second record
        with pytest.warns(ResultsWarning, match=r"r.jsonl:2: malformed"):
            recs = run(["random"], ["branin"], n_trials=5, seeds=2, out=out)
        assert sorted(r["seed"] for r in recs) == [0, 1]
        errors: list[str] = []
        with pytest.warns(ResultsWarning):
            good = load_results(out, errors=errors)
        assert len(good) == 2 and len(errors) == 1 and ":2:" in errors[0]

    def test_failed_runs_are_kept_unless_retried(self, tmp_path, test_samplers):
        """A failed run is not redone on resume, unless retry_failed is set."""
        out = tmp_path / "r.jsonl"
        run(["test-boom"], ["branin"], n_trials=5, seeds=1, out=out)
        assert len(run(["test-boom"], ["branin"], n_trials=5, seeds=1, out=out)) == 1
        assert len(out.read_text().splitlines()) == 1
        run(["test-boom"], ["branin"], n_trials=5, seeds=1, out=out, retry_failed=True)
        assert len(out.read_text().splitlines()) == 2

    def test_malformed_lines_are_reported_and_skipped(self, tmp_path):
        """Garbage, non-objects and records without keys are each reported with their line."""
        path = tmp_path / "bad.jsonl"
        good = run_one("random", "branin", 0, 2)
        path.write_text("\n".join([json.dumps(good), "{oops", "[1, 2]", json.dumps({"a": 1}),
                                   json.dumps(good)]) + "\n")
        errors: list[str] = []
        with pytest.warns(ResultsWarning):
            recs = load_results(path, errors=errors)
        assert len(recs) == 2
        assert [e.split(":")[1] for e in errors] == ["2", "3", "4"]
