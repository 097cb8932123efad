"""Tests of sampler specs and the peer adapters (optuna, hyperopt, nevergrad) on tiny budgets."""

from __future__ import annotations

import pytest

from hpopt.benchmark import PEERS, available_peers, get_problem, parse_spec, run_one
from hpopt.benchmark.peers import _snap, check_spec, split_specs
from hpopt.distributions import Categorical, Float, Int

INSTALLED = [name for name, ok in available_peers().items() if ok]


class TestSpecs:
    def test_name_settings_and_pruner(self):
        """Settings in brackets are parsed as JSON (else strings); a pruner follows '+'."""
        text = "optuna:tpe[n_startup_trials=5,multivariate=true,x=abc]"
        spec = parse_spec(text + "+optuna:hyperband[min_resource=2]")
        assert spec.name == "optuna:tpe" and spec.library == "optuna"
        assert dict(spec.settings) == {"n_startup_trials": 5, "multivariate": True, "x": "abc"}
        assert spec.pruner == "optuna:hyperband"
        assert dict(spec.pruner_settings) == {"min_resource": 2}

    def test_split_keeps_commas_inside_brackets(self):
        """A comma-separated list splits only outside brackets."""
        parts = split_specs("random, optuna:tpe[a=1,b=2],qmc")
        assert parts == ["random", "optuna:tpe[a=1,b=2]", "qmc"]

    @pytest.mark.parametrize("bad", ["", "tpe[a=1", "tpe[a]", "a+b+c", "random+"])
    def test_malformed_specs_are_refused(self, bad):
        """Malformed specs are ValueErrors that show the spec."""
        with pytest.raises(ValueError):
            parse_spec(bad)

    def test_pruner_must_come_from_the_samplers_library(self):
        """An Optuna pruner cannot drive an hpopt sampler, nor the reverse; choices are listed."""
        with pytest.raises(ValueError, match="unknown hpopt pruner 'optuna:median'"):
            check_spec(parse_spec("random+optuna:median"))
        if "optuna:tpe" in INSTALLED:
            with pytest.raises(ValueError, match="pruners for optuna: .*optuna:median"):
                check_spec(parse_spec("optuna:tpe+median"))

    def test_every_promised_peer_is_known(self):
        """The issue's peers all have adapters."""
        assert {"optuna:tpe", "optuna:cmaes", "optuna:gp", "optuna:random", "hyperopt:tpe",
                "nevergrad:ngopt", "nevergrad:cma"} <= set(PEERS)


class TestSnap:
    def test_grid_values_come_back_on_the_grid(self):
        """Index-coded grids, log ints and floats map back inside their distribution."""
        assert _snap(Float(0.0, 1.0, step=0.1), 6.7) == 0.7
        assert _snap(Int(2, 20, step=3), 2.2) == 8
        assert _snap(Int(1, 1024, log=True), 1100.0) == 1024
        assert _snap(Float(-1.0, 1.0), 1.5) == 1.0
        assert _snap(Categorical(("a", "b")), "b") == "b"


@pytest.mark.slow
@pytest.mark.parametrize("peer", INSTALLED)
@pytest.mark.parametrize("problem", ["branin", "mixed-quadratic", "conditional-models"])
def test_peer_runs_on_each_kind_of_space(peer, problem):
    """Each installed peer completes a tiny run on continuous, mixed and conditional spaces."""
    rec = run_one(peer, problem, seed=0, n_trials=6)
    assert rec["status"] == "ok", rec["traceback"]
    assert len(rec["values"]) == 6 and rec["regret"][-1] >= 0


@pytest.mark.slow
@pytest.mark.parametrize("peer", [p for p in INSTALLED if p in ("optuna:tpe", "optuna:random")])
def test_optuna_handles_multi_objective_and_pruning(peer):
    """Optuna peers run DTLZ2 (3-D hypervolume) and curves with an Optuna pruner."""
    rec = run_one(peer, "dtlz2", seed=0, n_trials=8)
    assert rec["status"] == "ok" and len(rec["hypervolume"]) == 8
    rec = run_one(f"{peer}+optuna:median", "curves-synthetic", seed=0, n_trials=12)
    assert rec["status"] == "ok" and "pruned" in rec["states"]


def test_optuna_reproduces_with_its_seed():
    """A seeded peer run gives the same values twice."""
    pytest.importorskip("optuna")
    a = run_one("optuna:random", get_problem("branin"), seed=3, n_trials=5)
    b = run_one("optuna:random", get_problem("branin"), seed=3, n_trials=5)
    assert a["values"] == b["values"]
