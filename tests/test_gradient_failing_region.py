"""The ``gradient`` sampler where the objective fails near its optimum: it must not retry one point forever.

Two loops used to hold the sampler on one failing point for every later trial:

* a failing step spent *every* failed trial at its point, including the ones made later for a later
  step at the same point (the iterate clipped to the same face, or back at a point that failed), so
  that later step never saw its own failure, proposed the point again, and so on;
* moving a failed iterate halfway back to the previous one stalls when the two are neighbouring
  floats (the midpoint rounds to the failed one), so the same failing point was retried forever.

These tests fail with either loop. They also check the invariant the replay rests on: the state
built incrementally (checkpoint and snapshots, resumed at every ask) equals a replay from the
start, on failure-heavy histories with out-of-order finishes, duplicates and late trials, and a
fresh process resuming from SQLite proposes what the running one would.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpopt
from hpopt.samplers import gradient as gradient_module
from hpopt.samplers.base import TrialInfo
from hpopt.samplers.gradient import GradientSampler

SPACE1 = {"x": hpopt.Float(-5.0, 5.0)}
SPACE = {"x": hpopt.Float(-5.0, 5.0), "y": hpopt.Float(1e-3, 10.0, log=True)}
INFO = TrialInfo(10_000, {}, {}, {})


def _longest_repeat(keys: list[Any]) -> int:
    """The longest run of consecutive trials at one point."""
    best = run = 1
    for a, b in zip(keys, keys[1:]):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


def _face(study: hpopt.Study, n: int) -> list[float]:
    """Minimise ``-x``: the minimiser is the upper face x = 5, but the objective fails for x > 4.5."""
    xs = []
    for _ in range(n):
        t = study.ask(SPACE1)
        x = t.params["x"]
        xs.append(x)
        if x > 4.5:
            study.tell(t, state="fail")
        else:
            study.tell(t, -x, gradient={"x": -1.0})
    return xs


def _region(p: dict[str, Any]) -> tuple[float, dict[str, float]] | None:
    """``(x - 1)^2 + log(y)^2`` with its gradient, or None (a failure) within 1e-2 of the optimum."""
    x, y = p["x"], p["y"]
    v = (x - 1.0) ** 2 + math.log(y) ** 2
    return None if v < 1e-4 else (v, {"x": 2.0 * (x - 1.0), "y": 2.0 * math.log(y) / y})


# -- the loops are gone -----------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", ["user", "spsa", "fd"])
def test_a_failing_face_is_left_and_its_feasible_edge_reached(estimator: str) -> None:
    """The iterate is clipped to a face where the objective fails: each later step there evaluates the
    face again and moves back on its own failure (before: 175-191 of 200 trials on the face point)."""
    study = hpopt.create_study(sampler=GradientSampler(seed=0, estimator=estimator))
    xs = _face(study, 200)
    assert _longest_repeat(xs) <= 2
    assert Counter(xs).most_common(1)[0][1] <= 20  # the face, once per iteration that reaches it
    assert len(set(xs[-50:])) >= 40
    assert study.best_value < -4.49  # the feasible optimum is -4.5 (before: -4.46 to -4.49)


def test_a_failing_optimum_region_is_not_retried_forever() -> None:
    """The iterate halves back towards the boundary of a failing region until it is one float from
    the previous iterate; then it goes back to that iterate (before: 227 trials in a row at one
    failing point by trial 600)."""
    study = hpopt.create_study(sampler=GradientSampler(seed=1, estimator="user"))
    keys = []
    for _ in range(600):
        t = study.ask(SPACE)
        keys.append((t.params["x"], t.params["y"]))
        out = _region(t.params)
        if out is None:
            study.tell(t, state="fail")
        else:
            study.tell(t, out[0], gradient=out[1])
    assert _longest_repeat(keys) <= 3
    assert len(set(keys[-100:])) >= 50
    assert study.best_value < 1.001e-4  # the feasible edge of the region (value 1e-4)
    attempt = next(iter(study.sampler._layouts.values())).checkpoint.attempt
    assert attempt <= 60  # the current iteration is not stuck retrying


def test_a_step_back_at_a_failed_point_fails_on_its_own_trial() -> None:
    """White-box: after the iterate fails at a point, a later trial failing there belongs to the
    step that proposed it (that step retries), not to the first failing step there."""
    sampler = GradientSampler(seed=0, estimator="user")
    study = hpopt.create_study(sampler=sampler)
    _face(study, 60)
    layout = next(iter(sampler._layouts.values()))
    face = (5.0,)
    bad = layout.bad_by_key[face]
    assert len(bad) >= 3  # the face was evaluated by several iterations
    ck = layout.checkpoint
    assert ck.spent[face][1] == len(bad)  # every failure at the face was spent, one per failing step
    assert ck.nfail >= len(bad)


# -- incremental replay == replay from the start -----------------------------------------------------
def _fields(s: Any) -> tuple[Any, ...]:
    return (s.k, s.attempt, s.x.tobytes(), s.x_prev.tobytes(), s.m.tobytes(), s.v.tobytes(), s.last,
            tuple(sorted(s.spent.items())), frozenset(s.resolved), s.nfail,
            tuple(sorted(s.failed_at.items())), tuple(sorted(s.open_at.items())))


def _checked(sampler: GradientSampler, mismatches: list[int], paths: Counter[str]) -> None:
    """Make every replay compare its plan, checkpoint and kept snapshots with a replay from the start;
    count how each ask resumed ("full", "checkpoint" or "snapshot")."""
    replay = GradientSampler._replay_locked
    resume = GradientSampler._resume

    def counted(layout: Any, ck: Any) -> Any:
        out = resume(layout, ck)
        paths["full" if out is None else "checkpoint" if out.nfail == ck.nfail else "snapshot"] += 1
        return out

    def checked(self: GradientSampler, layout: Any, running: Any) -> Any:
        sampler._resume = counted  # type: ignore[method-assign]
        plan = replay(self, layout, running)
        del sampler._resume
        got, snaps = layout.checkpoint, dict(layout.snaps)
        layout.checkpoint = None
        full = replay(self, layout, running)
        same = _fields(got) == _fields(layout.checkpoint) and plan.role == full.role
        same = same and np.array_equal(plan.point, full.point)
        same = same and all(
            i in layout.snaps and _fields(s) == _fields(layout.snaps[i]) for i, s in snaps.items()
        )
        if not same:
            mismatches.append(len(layout.trials))
        layout.checkpoint, layout.snaps = got, snaps
        return plan

    sampler._replay_locked = checked.__get__(sampler)  # type: ignore[method-assign]


def _drive(sampler: GradientSampler, actions: list[tuple[int, int, float]], objective: str) -> hpopt.Study:
    """Run ``actions`` (kind, pick, coin): 0 asks, 1 finishes a random running trial (a coin below 0.25
    fails it whatever the objective says), 2 enqueues the point of a failed trial again (a duplicate
    of a failing point, finished later like any trial)."""
    study = hpopt.create_study(sampler=sampler)
    space = SPACE1 if objective == "face" else SPACE
    pending: list[Any] = []
    for kind, pick, coin in actions:
        if kind == 0 or (kind == 1 and not pending):
            pending.append(study.ask(space))
        elif kind == 1:
            t = pending.pop(pick % len(pending))
            if objective == "face":
                out = None if t.params["x"] > 4.5 else (-t.params["x"], {"x": -1.0})
            else:
                out = _region(t.params)
            if out is None or coin < 0.25:
                study.tell(t, state="fail")
            else:
                study.tell(t, out[0], gradient=out[1])
        else:
            failed = [t for t in study.trials if t.state is hpopt.TrialState.FAIL]
            if failed:
                study.enqueue_trial(dict(failed[pick % len(failed)].params))
                pending.append(study.ask(space))
    return study


@pytest.mark.parametrize(
    ("estimator", "objective", "seed"),
    [("user", "face", 0), ("spsa", "face", 1), ("fd", "region", 2), ("auto", "region", 3),
     ("user", "region", 4), ("spsa", "region", 5)],
)
def test_every_incremental_state_equals_a_replay_from_the_start(
    estimator: str, objective: str, seed: int
) -> None:
    """Up to four workers finishing in random order, random extra failures, duplicates of failed points
    enqueued late: after every ask, the resumed state equals a replay from the start."""
    r = random.Random(seed)
    actions = [(r.choices([0, 1, 2], [4, 5, 1])[0], r.randrange(1000), r.random()) for _ in range(320)]
    sampler = GradientSampler(seed=seed, estimator=estimator)
    mismatches: list[int] = []
    paths: Counter[str] = Counter()
    _checked(sampler, mismatches, paths)
    study = _drive(sampler, actions, objective)
    assert mismatches == []
    # the resumed paths were exercised (late finishers below the newest trial replay from the start)
    assert paths["checkpoint"] > paths["full"]
    if estimator in ("spsa", "fd"):  # a late trial at a point of a failing step: resumed from its snapshot
        assert paths["snapshot"] > 0
    states = Counter(t.state.name for t in study.trials)
    assert states["FAIL"] > 20 and states["COMPLETE"] > 20
    # duplicates of failing points were matched (indexed), not skipped as foreign trials
    layout = next(iter(sampler._layouts.values()))
    assert any(len(v) > 1 for v in layout.bad_by_key.values())


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    estimator=st.sampled_from(["user", "spsa", "fd", "auto"]),
    actions=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 999), st.floats(0.0, 1.0)), min_size=10, max_size=120
    ),
)
def test_incremental_equals_full_replay_property(
    estimator: str, actions: list[tuple[int, int, float]]
) -> None:
    sampler = GradientSampler(seed=7, estimator=estimator)
    mismatches: list[int] = []
    _checked(sampler, mismatches, Counter())
    _drive(sampler, actions, "face")
    assert mismatches == []


@pytest.mark.parametrize("estimator", ["user", "spsa"])
def test_the_failing_face_never_replays_from_the_start(
    monkeypatch: pytest.MonkeyPatch, estimator: str
) -> None:
    """The failing face, sequential: every ask resumes. With SPSA near the face the pair's points recur
    (their perturbation halves at each failure); a new trial there made an old failing step, where the
    point failed after another point had decided it or had no trial, take it: that step's snapshot was
    long gone (11 replays from the start in 900 trials), and the step swallowed the new evaluation."""
    calls = [0]
    init = gradient_module._State.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        init(self, *args, **kwargs)

    monkeypatch.setattr(gradient_module._State, "__init__", counting)
    study = hpopt.create_study(sampler=GradientSampler(seed=0, estimator=estimator))
    xs = _face(study, 900)
    assert calls[0] == 2  # the first ask, and the first one after a user gradient appeared
    assert Counter(xs).most_common(1)[0][1] <= 30
    assert study.best_value < -4.4999


# -- a fresh process resuming from SQLite ---------------------------------------------------------------
@pytest.mark.parametrize("estimator", ["user", "spsa"])
def test_fresh_handles_on_sqlite_propose_what_the_running_process_would(
    tmp_path: Any, estimator: str
) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    a = hpopt.create_study(study_name="g", storage=url, sampler=GradientSampler(seed=2, estimator=estimator))
    xs: list[float] = []
    for i in range(150):
        if i % 10 == 9:  # a new process: a fresh handle and sampler, no cache
            expected = a.sampler.sample_joint(a._history, INFO, SPACE1)
            fresh = hpopt.load_study("g", url, sampler=GradientSampler(seed=2, estimator=estimator))
            t = fresh.ask(SPACE1)
            assert t.params == expected
            s = fresh
        else:
            s, t = a, a.ask(SPACE1)
        x = t.params["x"]
        xs.append(x)
        if x > 4.5:
            s.tell(t, state="fail")
        else:
            s.tell(t, -x, gradient={"x": -1.0})
    assert sum(x > 4.5 for x in xs) > 10  # the run did go through the failing face
    assert _longest_repeat(xs) <= 2
