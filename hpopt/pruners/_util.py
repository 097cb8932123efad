"""Helpers shared by the pruners: losses, setting checks, a per-study cache of finished trials,
non-dominated ranks and the interval rule.

Every pruner works on *losses*: reported values multiplied by +1 (minimize) or -1 (maximize), so
lower is always better, with NaN (and +inf) mapped to :data:`WORST` — a finite stand-in that keeps
sorting and percentile interpolation well defined.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from hpopt._checks import check_int, check_real  # noqa: F401  (re-exported for the pruners)
from hpopt.pruners.base import Pruner
from hpopt.records import FrozenTrial
from hpopt.samplers.base import History

#: Loss given to NaN reports (and the cap of infinite ones): finite, so that differences and
#: interpolations never produce NaN, yet worse than any real value a training loop reports.
WORST = float(np.finfo(np.float64).max) / 4.0

_NO_STEPS = np.empty(0, dtype=np.int64)


def signs(directions: Sequence[str]) -> np.ndarray:
    """+1 for each minimized objective, -1 for each maximized one."""
    return np.array([1.0 if d == "minimize" else -1.0 for d in directions])


def to_loss(values: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Values (n, m) -> losses (lower is better); NaN -> :data:`WORST`, infinities capped."""
    loss = np.asarray(values, dtype=float) * sign
    loss = np.where(np.isnan(loss), WORST, loss)
    return np.clip(loss, -WORST, WORST)


def curve(trial: FrozenTrial, sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A trial's reports as (sorted steps (n,), losses (n, m))."""
    inter = trial.intermediate_values
    if not inter:
        return _NO_STEPS, np.empty((0, len(sign)))
    n = len(inter)
    steps = np.fromiter(inter.keys(), dtype=np.int64, count=n)
    try:  # one objective: plain floats, read without a Python list (pruners call this per report)
        values = np.fromiter(inter.values(), dtype=float, count=n).reshape(n, 1)
    except (TypeError, ValueError):  # one value per objective
        values = np.array(
            [v if isinstance(v, (tuple, list)) else (v,) for v in inter.values()], dtype=float
        ).reshape(n, -1)
    order = np.argsort(steps, kind="stable")
    return steps[order], to_loss(values[order], sign)


def previous_step(trial: FrozenTrial) -> tuple[int | None, int | None]:
    """(last reported step, the step reported before it) — None where missing."""
    inter = trial.intermediate_values
    if not inter:
        return None, None
    if len(inter) == 1:
        return next(iter(inter)), None
    top = sorted(inter)[-2:]
    return top[1], top[0]


def crossed_interval(step: int, prev: int | None, n_warmup_steps: int, interval_steps: int) -> bool:
    """Whether a check is due at ``step``: past the warm-up, and an interval boundary
    (``n_warmup_steps + j * interval_steps``) lies in ``(prev, step]`` (any boundary when the
    trial had no earlier report past the warm-up). Works for steps that are not contiguous."""
    if step < n_warmup_steps:
        return False
    if interval_steps == 1 or prev is None or prev < n_warmup_steps:
        return True
    return (step - n_warmup_steps) // interval_steps > (prev - n_warmup_steps) // interval_steps


# -- non-dominated ranks ----------------------------------------------------------------------
def front_ranks(loss: np.ndarray) -> np.ndarray:
    """Non-dominated front index of each row of ``loss`` (n, m): 0 for the Pareto front, 1 for
    the front once it is removed, and so on. Identical rows share a front. Vectorized: O(n^2 m)
    time over a few (n, n) boolean matrices, a Python loop over fronts only."""
    n = len(loss)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if loss.shape[1] == 1:  # one objective: fronts are the distinct values in order
        return np.unique(loss[:, 0], return_inverse=True)[1].astype(np.int64)
    le = np.ones((n, n), dtype=bool)
    lt = np.zeros((n, n), dtype=bool)
    for j in range(loss.shape[1]):  # loop over objectives only
        col = loss[:, j]
        le &= col[:, None] <= col[None, :]
        lt |= col[:, None] < col[None, :]
    dom = le & lt  # dom[i, k]: i dominates k
    count = dom.sum(axis=0)
    ranks = np.full(n, -1, dtype=np.int64)
    remaining = np.ones(n, dtype=bool)
    r = 0
    while remaining.any():
        front = remaining & (count == 0)
        ranks[front] = r
        remaining &= ~front
        count = count - dom[front].sum(axis=0)
        r += 1
    return ranks


def n_ahead(loss: np.ndarray, i: int, limit: int | None = None) -> int:
    """How many rows of ``loss`` rank strictly ahead of row ``i``.

    Order: non-dominated front first; inside a front, the sum over objectives of each row's rank
    within the group (average ranks for ties) — a scale-free tie-break. Rows equal on both keys
    are not ahead of each other, so ties are promoted together. With one objective this is the
    plain count of strictly smaller losses.

    With ``limit``, the count may stop early at any value ``>= limit`` (when the rows that
    dominate row ``i`` already reach it).
    """
    if loss.shape[1] == 1:
        return int(np.count_nonzero(loss[:, 0] < loss[i, 0]))
    x = loss[i]
    dominators = int(np.count_nonzero(np.all(loss <= x, axis=1) & np.any(loss < x, axis=1)))
    if limit is not None and dominators >= limit:
        return dominators  # every dominator sits in an earlier front
    # Rows that row i dominates are in later fronts and never ahead; dropping them leaves the
    # fronts of the other rows unchanged (whatever they dominated, row i dominates too).
    keep = ~(np.all(x <= loss, axis=1) & np.any(x < loss, axis=1))
    sub = loss[keep]
    at = int(np.count_nonzero(keep[:i]))
    fronts = front_ranks(sub)
    ahead = fronts < fronts[at]
    same = fronts == fronts[at]
    if np.count_nonzero(same) > 1:
        from scipy.stats import rankdata

        key = rankdata(loss, axis=0).sum(axis=1)[keep]  # ranks within the whole group
        ahead |= same & (key < key[at])
    return int(np.count_nonzero(ahead))


# -- a cache of finished trials per study -----------------------------------------------------
class StudyCache:
    """What a pruner derived from one study's finished trials (they never change, so each is
    read once). Subclass-specific content lives in ``data``."""

    __slots__ = ("history", "seen", "n_finished", "sign", "data")

    def __init__(self, history: History) -> None:
        self.history = history
        self.seen: set[int] = set()
        self.n_finished = 0
        self.sign = signs(history.directions)
        self.data: dict[Any, Any] = {}


class CachingPruner(Pruner):
    """Base of the pruners that fold finished trials into a cache once (thread-safe).

    Subclasses implement :meth:`_ingest` (called once per finished trial, under the lock).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._caches: dict[int, StudyCache] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock", None)
        state["_caches"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def _ingest(self, cache: StudyCache, trial: FrozenTrial) -> None:
        raise NotImplementedError

    def _cache(self, history: History) -> StudyCache:
        """The cache of ``history``'s study, caught up with its finished trials."""
        with self._lock:
            cache = self._caches.get(id(history))
            if cache is None or cache.history is not history:
                cache = StudyCache(history)
                self._caches[id(history)] = cache
            finished = history.finished()
            # Finished trials only ever get added, sorted by number; the new ones are the latest
            # numbers (give or take the trials still running), so scan back from the end until
            # all of them are found: O(new + running) per call, not O(all trials).
            need = len(finished) - cache.n_finished
            seen, i = cache.seen, len(finished) - 1
            while need > 0 and i >= 0:
                t = finished[i]
                if t.number not in seen:
                    seen.add(t.number)
                    self._ingest(cache, t)
                    need -= 1
                i -= 1
            cache.n_finished = len(finished)
            return cache
