"""Hyperband's ``max_resource="auto"`` (the default): inferred from the trials the same way on every
worker, no pruning before it is known, the decisions of the inferred int afterwards; an explicit
int decides exactly as before and warns once when the finished trials contradict it."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import textwrap
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt.pruners import HyperbandPruner
from hpopt.testing_pruners import _N_STEPS, _curve, _decisions, _fill, _history_curves, _sign


def _study(pruner: Any = None, directions: tuple[str, ...] = ("minimize",)) -> Any:
    return hpopt.create_study(directions=list(directions), pruner=pruner or HyperbandPruner(),
                              sampler="random", seed=0)


def _finish(study: Any, steps: range | list[int], value: float = 1.0, state: str = "complete") -> Any:
    t = study.ask()
    for s in steps:
        t.report(value + 1.0 / (s + 1), s)
    if state == "complete":
        study.tell(t, value)
    else:
        study.tell(t, state=state)
    return t


def _ask_prune(pruner: HyperbandPruner, study: Any, trial: Any) -> bool:
    """``pruner``'s answer for ``trial`` on ``study``'s stored trials (a worker's view)."""
    study._storage.sync()
    return pruner.prune(study._history, trial.snapshot())


# -- the setting ------------------------------------------------------------------------------------
def test_auto_is_the_default_everywhere() -> None:
    assert HyperbandPruner().max_resource == "auto"
    assert "max_resource='auto'" in repr(HyperbandPruner())
    assert "max_resource=27," in repr(HyperbandPruner(max_resource=27))
    p = hpopt.make_pruner("hyperband", max_resource="auto")
    assert isinstance(p, HyperbandPruner) and p.max_resource == "auto"
    assert hpopt.create_study(pruner="hyperband").pruner.max_resource == "auto"
    assert HyperbandPruner(max_resource=np.int64(27)).n_brackets == 4  # numpy ints are ints


@pytest.mark.parametrize(
    "bad, error",
    [("Auto", ValueError), ("", ValueError), ("100", ValueError), (2.5, TypeError), (100.0, TypeError),
     (True, TypeError), (None, TypeError), (np.float64(27.0), TypeError), ([27], TypeError)],
)
def test_bad_max_resource_names_the_parameter_and_the_rule(bad: Any, error: type) -> None:
    with pytest.raises(error, match=r"`max_resource` must be 'auto' or an int >= min_resource"):
        HyperbandPruner(max_resource=bad)
    with pytest.raises(error, match="max_resource"):
        hpopt.make_pruner("hyperband", max_resource=bad)


def test_bad_int_max_resource_is_refused_as_before() -> None:
    with pytest.raises(ValueError, match="max_resource >= 1"):
        HyperbandPruner(max_resource=0)
    with pytest.raises(ValueError, match="min_resource <= max_resource"):
        HyperbandPruner(min_resource=10, max_resource=3)
    with pytest.raises(ValueError, match="min_resource >= 1"):  # the other settings still checked
        HyperbandPruner(min_resource=0)


# -- inference --------------------------------------------------------------------------------------
def test_auto_takes_the_last_step_of_the_first_trial_to_complete_with_reports() -> None:
    study = _study()
    _finish(study, range(1, 4), state="fail")      # 0: failed
    _finish(study, [])                             # 1: complete, no reports
    _finish(study, range(1, 6), state="pruned")    # 2: pruned (told so)
    _finish(study, range(0, 20))                   # 3: complete, steps 0..19  <- decides
    _finish(study, range(1, 41))                   # 4: complete, longer
    p = study.pruner
    t = study.ask()
    t.report(1.0, 1)
    t.should_prune()
    assert p.max_resource_for(study._history) == 19
    assert p.max_resource == "auto"  # the setting itself stays
    ref = HyperbandPruner(max_resource=19)
    assert (p.n_brackets, p.bracket_shares) == (ref.n_brackets, ref.bracket_shares) == (3, [9, 5, 3])
    assert [p.bracket_of(n) for n in range(40)] == [ref.bracket_of(n) for n in range(40)]
    assert p.rung_steps(100, bracket=1) == ref.rung_steps(100, bracket=1) == [3, 9]
    assert p.bracket_of(5, history=study._history) == ref.bracket_of(5)


def test_auto_is_at_least_min_resource() -> None:
    study = _study(HyperbandPruner(min_resource=5))
    _finish(study, range(0, 3))  # last step 2 < min_resource
    assert study.pruner.max_resource_for(study._history) == 5
    assert study.pruner.n_brackets == 1 and study.pruner.rung_steps(100) == []  # never prunes


def test_nothing_is_pruned_before_it_is_known_and_a_late_low_trial_decides() -> None:
    """Trial 0 still runs while later trials complete: the value waits for trial 0 (whose last step
    differs from theirs) instead of taking theirs and changing it afterwards."""
    study = _study()
    first = study.ask()  # trial 0, running
    for s in range(1, 28):
        first.report(0.5 + 1.0 / s, s)
    for _ in range(12):
        _finish(study, range(1, 10), value=0.1)
    p = study.pruner
    assert p.max_resource_for(study._history) is None
    assert p.n_brackets is None and p.bracket_shares is None
    with pytest.raises(RuntimeError, match="not known yet"):
        p.bracket_of(3)
    with pytest.raises(RuntimeError, match="not known yet"):
        p.rung_steps(10)
    bad = study.ask()
    assert [bad.report(1e6, s) or bad.should_prune() for s in range(1, 28)] == [False] * 27
    study.tell(bad, state="fail")
    study.tell(first, 0.5)  # trial 0 completes last, reporting up to step 27
    assert p.max_resource_for(study._history) == 27
    # From now on the pruner decides as HyperbandPruner(max_resource=27) does, on every trial.
    ref = HyperbandPruner(max_resource=27)
    for value in (1e6, 0.3, 0.05):
        t = study.ask()
        got, want = [], []
        for s in range(1, 28):
            t.report(value + 1.0 / s, s)
            got.append(_ask_prune(p, study, t))
            want.append(_ask_prune(ref, study, t))
        study.tell(t, state="fail")
        assert got == want
        if value == 1e6 and ref.bracket_of(t.number) < ref.n_brackets - 1:
            assert any(got)


def test_workers_seeing_the_trials_at_different_times_agree() -> None:
    """Three pruners (three workers) consulted at different moments of one study, and a pickled
    copy (a fresh process): each value, once known, is the same and never changes."""
    study = _study(HyperbandPruner(reduction_factor=2))
    workers = [HyperbandPruner(reduction_factor=2) for _ in range(3)]
    rng = np.random.default_rng(0)
    running = [study.ask() for _ in range(4)]  # trials 0..3
    lengths = {t.number: int(rng.integers(5, 40)) for t in running}
    seen: list[int | None] = []
    order = [2, 1, 3, 0]  # trial 0 ends last
    for k, idx in enumerate(order):
        t = running[idx]
        for s in range(1, lengths[t.number] + 1):
            t.report(float(rng.uniform()), s)
            for w in workers[: 1 + (s + k) % 3]:
                _ask_prune(w, study, t)
                seen.append(w.max_resource_for(study._history))
        study.tell(t, 1.0)
    values = {w.max_resource_for(study._history) for w in workers}
    assert values == {lengths[0]}
    assert set(seen) == {None}  # nothing known (so nothing decided) while trial 0 ran
    fresh = pickle.loads(pickle.dumps(workers[0]))
    assert fresh.max_resource_for(study._history) == lengths[0]
    _finish(study, range(1, 60))  # a longer trial later changes nothing
    assert {w.max_resource_for(study._history) for w in [*workers, fresh]} == {lengths[0]}


def test_worker_threads_each_with_its_own_pruner_agree(tmp_path: Any) -> None:
    """Three threads, each with its own study handle and pruner on one SQLite study: every
    pruner infers trial 0's last step (odd trials are shorter and finish first), and every pruned
    trial stopped at a rung of its bracket under that value."""
    url = f"sqlite:///{tmp_path / 'hb.db'}"
    hpopt.create_study(study_name="s", storage=url)
    handles = [hpopt.create_study(study_name="s", storage=url, load_if_exists=True, sampler="random",
                                  seed=i, pruner=HyperbandPruner()) for i in range(3)]

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        n = 28 if trial.number % 2 == 0 else 8
        for s in range(1, n + 1):
            trial.report(x + 1.0 / s, s)
            if trial.should_prune():
                raise hpopt.TrialPruned()
        return x

    threads = [threading.Thread(target=h.optimize, args=(objective,), kwargs={"n_trials": 12})
               for h in handles]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    trials = hpopt.load_study("s", url).trials
    assert len(trials) == 36
    assert trials[0].state is hpopt.TrialState.COMPLETE and max(trials[0].intermediate_values) == 28
    for h in handles:
        h._storage.sync()  # a handle's view is as of its last sync
    assert [h.pruner.max_resource_for(h._history) for h in handles] == [28, 28, 28]
    ref = HyperbandPruner(max_resource=28)
    pruned = [t for t in trials if t.state is hpopt.TrialState.PRUNED]
    assert pruned  # bracket 0 prunes on these curves
    for t in pruned:
        assert max(t.intermediate_values) in ref.rung_steps(28, bracket=ref.bracket_of(t.number))


# -- an explicit int decides as before --------------------------------------------------------------
def _run(pruner: Any, n_trials: int, directions: tuple[str, ...] = ("minimize",)) -> list:
    """Every should_prune answer of a seeded study whose trials run 20, 25 or 30 steps."""
    study = _study(pruner, directions)
    log = []

    def obj(trial: Any) -> Any:
        x = trial.suggest_float("x", 0, 1)
        y = trial.suggest_float("y", 0, 1)
        n = 20 + (trial.number % 3) * 5
        for s in range(1, n + 1):
            v = x + (1 + y) / s + 0.01 * math.sin(7 * s * (x + y))
            trial.report(v if len(directions) == 1 else [v, -(y + 1.0 / s)], s)
            p = trial.should_prune()
            log.append((trial.number, s, p))
            if p:
                raise hpopt.TrialPruned()
        return v if len(directions) == 1 else (v, -y)

    study.optimize(obj, n_trials=n_trials)
    return log


def _battery(make: Callable[[], Any]) -> list:
    """Decisions on probes over the conformance battery's histories."""
    out = []
    for direction in ("minimize", "maximize"):
        for seed in (3, 4, 8):
            study = hpopt.create_study(directions=[direction], pruner=make(), sampler="random", seed=0)
            sign = _sign([direction])
            _fill(study, _history_curves(seed), sign)
            rng = np.random.default_rng(seed)
            for a in (0.1, 0.6, 1.2, 3.0):
                probe = _curve(a, 1.0, rng.normal(0, 0.01, _N_STEPS))
                out.append(_decisions(study, probe, sign, range(_N_STEPS)))
    return out


# Digests recorded with the code before "auto" existed (max_resource=100 the default).
_BEFORE = {
    "hb20": (lambda: HyperbandPruner(max_resource=20), 300, ("minimize",), "9b071939a7615955"),
    "hb100": (lambda: HyperbandPruner(max_resource=100), 300, ("minimize",), "676cf4a45c4528e6"),
    "hb81e2": (lambda: HyperbandPruner(min_resource=2, max_resource=81, reduction_factor=2,
                                       bootstrap_count=2), 300, ("maximize",), "50fb29c8753452a5"),
    "hb30mo": (lambda: HyperbandPruner(max_resource=30), 200, ("minimize", "maximize"), "9bfe3f58d3de0035"),
    "hb27fc": (lambda: HyperbandPruner(max_resource=27, rank_by="forecast", forecast_min_trials=5), 120,
               ("minimize",), "74029af06955f3db"),
}


@pytest.mark.parametrize("name", sorted(_BEFORE))
def test_explicit_int_decisions_are_bit_identical_to_before(name: str, quiet_hpopt: None) -> None:
    make, n, directions, digest = _BEFORE[name]
    log = _run(make(), n, directions)
    assert any(p for _, _, p in log)
    got = hashlib.sha256(json.dumps([log, _battery(make)]).encode()).hexdigest()[:16]
    assert got == digest


def test_auto_decides_as_the_int_it_infers(quiet_hpopt: None) -> None:
    """Trial 0 runs 20 steps and completes first, so 'auto' is 20 from trial 1 on: every answer of a
    seeded run equals that of max_resource=20 (which never prunes trial 0: alone in its rungs)."""
    auto = _run(HyperbandPruner(), 300)
    assert auto == _run(HyperbandPruner(max_resource=20), 300)
    assert sum(p for _, _, p in auto) > 100


# -- the warning ------------------------------------------------------------------------------------
def _warnings(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hpopt" and r.levelno == logging.WARNING]


def test_an_int_the_trials_contradict_is_reported_once(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="hpopt"):
        _run(HyperbandPruner(max_resource=100), 60)  # trials end at steps 20, 25, 30 < rung 81
    msgs = _warnings(caplog)
    assert len(msgs) == 1, msgs
    assert "max_resource=100" in msgs[0] and "trial 0" in msgs[0] and "step 20" in msgs[0]
    assert "max_resource=20" in msgs[0]  # what to pass instead


@pytest.mark.parametrize(
    "make",
    [HyperbandPruner, lambda: HyperbandPruner(max_resource=20),
     lambda: HyperbandPruner(max_resource=26),  # every trial reaches the top rung (9)
     lambda: HyperbandPruner(max_resource=27)],  # idem (27 itself is no rung)
)
def test_no_warning_when_the_trials_reach_the_rungs_or_on_auto(make: Any, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="hpopt"):
        _run(make(), 60)
    assert _warnings(caplog) == []


def test_warning_counts_complete_trials_only(caplog: Any) -> None:
    """Pruned and failed trials stop early by nature; only a COMPLETE one contradicts the int."""
    with caplog.at_level(logging.WARNING, logger="hpopt"):
        study = _study(HyperbandPruner(max_resource=27))
        _finish(study, range(1, 5), state="pruned")
        _finish(study, range(1, 5), state="fail")
        _finish(study, range(1, 28))
        t = study.ask()
        t.report(1.0, 1)
        t.should_prune()
        assert _warnings(caplog) == []
        _finish(study, range(1, 6))
        t.report(1.0, 2)
        t.should_prune()
    msgs = _warnings(caplog)
    assert len(msgs) == 1 and "trial 4" in msgs[0] and "step 5" in msgs[0], msgs


# -- the CLI ----------------------------------------------------------------------------------------
def test_cli_worker_pruner_hyperband_infers_the_epochs(tmp_path: Any, monkeypatch: Any) -> None:
    import sys

    from hpopt.cli import main

    (tmp_path / "hbobj.py").write_text(textwrap.dedent("""
        import hpopt

        def loop(trial):
            x = trial.suggest_float("x", 0, 1)
            for s in range(1, 11):
                trial.report(x + 1.0 / s, s)
                if trial.should_prune():
                    raise hpopt.TrialPruned()
            return x
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "hbobj", raising=False)
    url = f"sqlite:///{tmp_path}/w.db"
    argv = ["worker", "--storage", url, "--study", "h", "--n-trials", "15", "--sampler", "random",
            "--objective", "hbobj:loop", "--pruner", "hyperband"]
    assert main([*argv, "--seed", "0"]) == 0
    assert main([*argv, "--seed", "1"]) == 0  # a second worker, a fresh pruner
    study = hpopt.load_study("h", url)
    assert HyperbandPruner().max_resource_for(study._history) == 10
    states = [t.state for t in study.trials]
    assert states[0] is hpopt.TrialState.COMPLETE and hpopt.TrialState.PRUNED in states
