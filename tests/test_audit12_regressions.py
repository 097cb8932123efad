"""Regression tests for the scaling audit (part 12): per-ask work that grew with the number of trials.

None of these tests measures time: they count operations (calls made per ask, items sorted per ask,
heartbeat rows read per ask) on a study of a few hundred trials, and check that the proposals are
the same as before the fix (digests of seeded runs with out-of-order finishes, failures and enqueued
trials, recorded with the code before the fix).
"""

from __future__ import annotations

import builtins
import hashlib
import math
from typing import Any

import pytest
from _helpers import proposal_digest

import hpopt
from hpopt.samplers import gradient as gradient_module


def _digest(study: hpopt.Study) -> str:
    rows = [(t.number, dict(t.params), t.state.name) for t in study.trials]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


# -- grid ------------------------------------------------------------------------------------------
_GRID = {"a": list(range(12)), "b": ["u", "v", "w"], "c": [0.5, 1.5, 2.5, 3.5, 4.5]}


def _grid_run(shuffle: bool, n: int = 150) -> hpopt.Study:
    """Three workers' worth of trials per round, told newest first; every 13th trial fails."""
    sampler = hpopt.make_sampler("grid", search_space=_GRID, shuffle=shuffle, seed=5)
    study = hpopt.create_study(sampler=sampler)
    study.enqueue_trial({"a": 3, "b": "v", "c": 2.5})
    i = 0
    while i < n:
        batch = [study.ask() for _ in range(3)]
        for tr in reversed(batch):
            a = tr.suggest_categorical("a", _GRID["a"])
            tr.suggest_categorical("b", _GRID["b"])
            tr.suggest_categorical("c", _GRID["c"])
            if i % 13 == 2:
                study.tell(tr, state="fail")
            else:
                study.tell(tr, float(a))
            i += 1
    return study


@pytest.mark.parametrize(("shuffle", "expected"), [(False, "dd8d23054bcfc604"), (True, "3808ea7f080b957b")])
def test_grid_proposals_unchanged(shuffle: bool, expected: str) -> None:
    # digests recorded before the fix (grid re-read every trial at each ask)
    assert _digest(_grid_run(shuffle)) == expected


def test_grid_points_are_distinct_and_in_order() -> None:
    study = _grid_run(False, n=120)
    points = [(t.params["a"], t.params["b"], t.params["c"]) for t in study.trials]
    assert len(set(points)) == len(points)
    # product order, last parameter fastest, after the enqueued point (3, "v", 2.5)
    expected = [(a, b, c) for a in _GRID["a"] for b in _GRID["b"] for c in _GRID["c"]]
    expected.remove((3, "v", 2.5))
    assert points[1:] == expected[: len(points) - 1]


@pytest.mark.parametrize("shuffle", [False, True])
def test_grid_ask_reads_only_new_trials(shuffle: bool) -> None:
    """An ask indexes the trials finished since the last ask and the running ones, not every
    trial of the study again (before: 2 x n ``_index_of`` calls per ask, O(n^2) in all)."""
    grid = {"x": list(range(40)), "y": list(range(40))}
    sampler = hpopt.make_sampler("grid", search_space=grid, shuffle=shuffle, seed=1)
    study = hpopt.create_study(sampler=sampler)

    def objective(t: hpopt.Trial) -> float:
        return float(t.suggest_categorical("x", grid["x"]) + t.suggest_categorical("y", grid["y"]))

    study.optimize(objective, n_trials=400)
    calls = {"n": 0}
    original = sampler._index_of

    def counting(trial: Any) -> Any:
        calls["n"] += 1
        return original(trial)

    sampler._index_of = counting  # type: ignore[method-assign]
    study.optimize(objective, n_trials=50)
    # per trial: is_exhausted + sample_joint, each sees <= 1 new finished trial and <= 1 running
    assert calls["n"] <= 50 * 6, calls["n"]
    assert len(study.trials) == 450
    pts = {(t.params["x"], t.params["y"]) for t in study.trials}
    assert len(pts) == 450


def test_grid_exhaustion_with_running_trials() -> None:
    grid = {"a": [1, 2, 3], "b": ["u", "v"]}
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space=grid))
    space = {"a": hpopt.Categorical([1, 2, 3]), "b": hpopt.Categorical(["u", "v"])}
    first = [study.ask(space) for _ in range(3)]
    study.tell(first[1], 1.0)
    more = [study.ask(space) for _ in range(3)]
    points = [(t.params["a"], t.params["b"]) for t in first + more]
    assert points == [(1, "u"), (1, "v"), (2, "u"), (2, "v"), (3, "u"), (3, "v")]
    with pytest.raises(hpopt.SearchSpaceExhausted):
        study.ask(space)
    assert study.sampler.is_exhausted(study._history)


def test_grid_sampler_pickles_without_its_cache() -> None:
    import pickle

    study = _grid_run(False, n=30)
    clone = pickle.loads(pickle.dumps(study.sampler))
    assert clone._caches == {}
    other = hpopt.create_study(sampler=clone)
    tr = other.ask()
    assert tr.suggest_categorical("a", _GRID["a"]) == 0


# -- gradient --------------------------------------------------------------------------------------
def _gradient_run(estimator: str, n: int = 120) -> hpopt.Study:
    sampler = hpopt.make_sampler("gradient", seed=7, estimator=estimator)
    study = hpopt.create_study(sampler=sampler)
    i = 0
    while i < n:
        batch = [study.ask() for _ in range(3)]  # three workers, told newest first
        for tr in reversed(batch):
            x = tr.suggest_float("x", -5, 5)
            y = tr.suggest_float("y", 1e-3, 10, log=True)
            tr.suggest_categorical("c", ["a", "b"])
            v = (x - 1) ** 2 + math.log(y) ** 2
            if i % 11 == 4:
                study.tell(tr, state="fail")
            elif estimator == "user":
                study.tell(tr, v, gradient={"x": 2 * (x - 1)})
            else:
                study.tell(tr, v)
            i += 1
    return study


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [("auto", "5894821c35c32706"), ("spsa", "5894821c35c32706"), ("fd", "1205ff22311f4e6f"),
     ("user", "d188f6ccfe5d479f")],
)
def test_gradient_proposals_unchanged(estimator: str, expected: str) -> None:
    # digests (floats to 6 digits: see proposal_digest) of the code before the fix (index rebuilt
    # from every trial at each ask), commit 1329092^; the same at HEAD
    assert proposal_digest(_gradient_run(estimator)) == expected


def test_gradient_incremental_index_matches_a_rebuild() -> None:
    study = _gradient_run("user", n=90)
    sampler = study.sampler
    study.ask()  # bring the layout up to date with every finished trial
    (layout,) = sampler._layouts.values()
    rebuilt: dict[tuple[float, ...], list[int]] = {}
    for number in sorted(layout.trials):
        rebuilt.setdefault(layout.trials[number][0], []).append(number)
    assert layout.by_key == rebuilt
    assert layout.user_seen == any(e[3] for e in layout.trials.values())
    assert layout.seen == set(layout.trials) | layout.skipped
    assert layout.seen == {t.number for t in study.trials if t.state.is_finished()}


def test_gradient_ask_does_not_sort_every_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: each ask rebuilt the key -> trials index with ``sorted`` over all n trials."""
    sampler = hpopt.make_sampler("gradient", seed=3, estimator="spsa")
    study = hpopt.create_study(sampler=sampler)

    def objective(t: hpopt.Trial) -> float:
        return (t.suggest_float("x", -5, 5) - 1) ** 2 + t.suggest_float("y", -5, 5) ** 2

    study.optimize(objective, n_trials=300)
    sorted_items = {"n": 0}

    def counting_sorted(iterable: Any, *args: Any, **kwargs: Any) -> list[Any]:
        out = builtins.sorted(iterable, *args, **kwargs)
        sorted_items["n"] += len(out)
        return out

    monkeypatch.setattr(gradient_module, "sorted", counting_sorted, raising=False)
    study.optimize(objective, n_trials=40)
    assert sorted_items["n"] <= 40 * 10, sorted_items["n"]


def test_gradient_threads_do_not_deadlock() -> None:
    sampler = hpopt.make_sampler("gradient", seed=2)
    study = hpopt.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2 + t.suggest_float("y", -1, 1) ** 2,
                   n_trials=60, n_jobs=3)
    assert len(study.trials) == 60
    assert all(t.state.is_finished() for t in study.trials)


# -- heartbeats: every ask read the beat row of every trial the study ever ran -------------------
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_reap_reads_only_the_running_trials_beats(backend: str, tmp_path: Any) -> None:
    """With a heartbeat and a trial running elsewhere, each ask's stale check read the beats of
    every trial ever beaten (rows are kept after a trial finishes): O(n) per ask."""
    storage = None if backend == "memory" else f"sqlite:///{tmp_path / 'hb.db'}?synchronous=normal"
    study = hpopt.create_study(storage=storage, sampler=hpopt.make_sampler("random", seed=0),
                               heartbeat_interval=60)
    held = study.ask()  # another worker's trial, still running
    be = study.storage._backend
    read = {"rows": 0, "calls": 0}
    for name in ("beats", "beats_of"):
        original = getattr(be, name)

        def counting(*args: Any, _original: Any = original) -> dict[int, float]:
            out = _original(*args)
            read["rows"] += len(out)
            read["calls"] += 1
            return out

        setattr(be, name, counting)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=150)
    assert read["calls"] >= 150  # the stale check ran at every ask
    assert read["rows"] <= 2 * read["calls"], read  # only the running trials' rows
    study.tell(held, 0.5)


def test_reap_still_fails_a_stale_trial(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'stale.db'}?synchronous=normal"
    study = hpopt.create_study(storage=url, sampler=hpopt.make_sampler("random", seed=0),
                               heartbeat_interval=60, grace_period=120)
    stale = study.ask()
    stale.suggest_float("x", 0, 1)
    stale.beat()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    be = study.storage._backend
    be._conn().execute("UPDATE hpopt_beats SET t = t - 1000 WHERE n = ?", (stale.number,))
    assert study.storage.reap(study._sid) == [stale.number]
    assert study.storage.trial(study._sid, stale.number).system_attrs["fail_reason"] == "stale"


def test_default_beats_of_filters_beats() -> None:
    from hpopt.storage.journal import JournalBackend

    class Minimal(JournalBackend):
        def beats(self, sid: int) -> dict[int, float]:
            return {1: 1.0, 2: 2.0, 5: 5.0}

    assert Minimal().beats_of(0, [2, 3, 5]) == {2: 2.0, 5: 5.0}
    assert Minimal().beats_of(0, []) == {}


def test_sqlite_beats_of_many_numbers(tmp_path: Any) -> None:
    from hpopt.storage.sqlite import SQLiteBackend

    be = SQLiteBackend(str(tmp_path / "many.db"))
    for n in range(1200):
        be.beat(3, n)
    got = be.beats_of(3, list(range(0, 2400, 2)))  # more numbers than one query binds
    assert sorted(got) == list(range(0, 1200, 2))
    assert be.beats_of(3, []) == {}
    assert be.beats_of(4, [1, 2]) == {}
    be.close()


# -- median / percentile: every check converted the step's reference list to an array ------------
def _median_run(name: str, settings: dict[str, Any], n: int = 300) -> hpopt.Study:
    study = hpopt.create_study(sampler=hpopt.make_sampler("random", seed=11),
                               pruner=hpopt.make_pruner(name, **settings))

    def objective(t: hpopt.Trial) -> float:
        x = t.suggest_float("x", 0, 1)
        y = t.suggest_float("y", 0, 1)
        for k in range(0, 20, 1 + (t.number % 3)):  # curves with different steps
            t.report(x + y / (k + 1), k)
            if t.should_prune():
                raise hpopt.TrialPruned()
        return x

    study.optimize(objective, n_trials=n)
    return study


@pytest.mark.parametrize(
    ("name", "settings", "expected"),
    [("median", {}, "878b2fa21a48cc4f"),
     ("percentile", {"percentile": 70.0, "n_min_trials": 4, "interval_steps": 2, "n_warmup_steps": 1},
      "4b17b68e3728d3a4")],
)
def test_percentile_decisions_unchanged(name: str, settings: dict[str, Any], expected: str) -> None:
    study = _median_run(name, settings)
    rows = [(t.state.name, len(t.intermediate_values)) for t in study.trials]
    assert hashlib.sha256(repr(rows).encode()).hexdigest()[:16] == expected  # recorded before the fix


def test_percentile_reference_is_not_copied_per_check() -> None:
    """The values at a step are kept as an array the check reads in place (no per-check
    conversion of an n-element list), and they are exactly the trials' best-so-far values."""
    import numpy as np

    study = _median_run("median", {}, n=120)
    pruner = study.pruner
    cache = pruner._cache(study._history)
    with pruner._lock:
        a = pruner._at_step(cache, 6)
        b = pruner._at_step(cache, 6)
    assert np.shares_memory(a, b)
    assert not a.flags.writeable
    want = []
    for t in study.trials:
        if t.state.name in ("COMPLETE", "PRUNED") and t.intermediate_values:
            steps = sorted(t.intermediate_values)
            if steps[0] <= 6 <= steps[-1]:
                want.append(min(v for s, v in t.intermediate_values.items() if s <= 6))
    assert sorted(a.tolist()) == sorted(want)


def test_percentile_column_grows_past_its_buffer() -> None:
    from hpopt.pruners.percentile import _Column

    col = _Column([1.0, 2.0])
    for i in range(100):
        col.append(float(i))
    assert col.view().tolist() == [1.0, 2.0, *map(float, range(100))]
    assert _Column([]).view().size == 0


# -- successive halving (forecast ranking): a refit re-forecast every rung member in one batch ----
def test_forecast_batches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a refit every finished member of a rung is forecast again; they went in one batch
    whose temporaries grew with the study (20,000 trials: 824 MB peak RSS). Decisions unchanged:
    the same study with one batch per refit (block larger than the study) prunes the same trials."""
    from hpopt.pruners import asha
    from hpopt.pruners.curvegp import CurveGP

    sizes: list[int] = []
    original = CurveGP.forecast

    def recording(self: Any, x: Any, own: Any, numbers: Any) -> Any:
        sizes.append(len(numbers))
        return original(self, x, own, numbers)

    def run() -> list[tuple[str, int]]:
        study = hpopt.create_study(sampler=hpopt.make_sampler("random", seed=0),
                                   pruner=hpopt.make_pruner("successive_halving"))

        def objective(t: hpopt.Trial) -> float:
            v = t.suggest_float("x", -5, 5) ** 2 + abs(t.suggest_float("z", -5, 5))
            for step in range(10):
                t.report(v + 10.0 / (step + 1), step)
                if t.should_prune():
                    raise hpopt.TrialPruned()
            return v

        study.optimize(objective, n_trials=400)
        return [(t.state.name, len(t.intermediate_values)) for t in study.trials]

    monkeypatch.setattr(CurveGP, "forecast", recording)
    monkeypatch.setattr(asha, "_FORECAST_BLOCK", 16)
    small = run()
    assert sizes and max(sizes) <= 16 + 1 + 1, max(sizes)  # a block, or the trial and its peers
    assert any(s == 16 for s in sizes)  # a refit did re-forecast more than one block
    monkeypatch.setattr(asha, "_FORECAST_BLOCK", 10**9)
    sizes.clear()
    assert run() == small
    assert max(sizes) > 16
