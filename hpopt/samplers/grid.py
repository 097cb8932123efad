"""Grid search over an explicit grid, as scikit-learn's ``GridSearchCV`` takes it.

Each point is evaluated once, even with several workers: a point is chosen inside the storage's
write lock, where every running and finished trial (of every process) is visible, and points already
taken are skipped. ``optimize`` stops when every point has been taken; a manual ``ask`` after that
raises :class:`~hpopt.SearchSpaceExhausted`. Enqueued trials whose parameters equal a grid point
count as that point.

Example:
    >>> import hpopt
    >>> grid = {"alpha": [0.1, 1, 10], "solver": ["svd", "lsqr"]}
    >>> study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space=grid))
    >>> study.optimize(lambda t: t.suggest_categorical("alpha", [0.1, 1, 10]) * (
    ...     1 if t.suggest_categorical("solver", ["svd", "lsqr"]) == "svd" else 2))
    >>> len(study.trials), study.best_params
    (6, {'alpha': 0.1, 'solver': 'svd'})
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hpopt.distributions import Categorical, Distribution
from hpopt.errors import SearchSpaceExhausted
from hpopt.records import FrozenTrial
from hpopt.rng import resolve_seed, trial_rng
from hpopt.samplers.base import PLAN_KEY, DerivedCaches, History, Sampler, TrialInfo, unseen_trials

__all__ = ["GridSampler"]

#: Largest shuffled grid whose whole visiting order is drawn up front (a seeded permutation);
#: a larger one starts each trial's walk at a point drawn from ``(seed, trial number)``.
_EAGER_MAX = 2**20

#: Studies whose taken points one sampler keeps (the oldest is dropped beyond this).
_MAX_CACHES = 8


def _loose(v: Any) -> tuple[str, Any]:
    """Match key: 1 and 1.0 are the same grid value; True, None and strings only themselves."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return (type(v).__name__, v)
    return ("num", float(v))


class _Taken:
    """The grid points one study's finished trials took, folded in once per trial.

    Finished trials never change or go away, so ``done`` only grows: each ask reads only the
    trials finished since the last one, and ``cursor`` (a position in the visiting order before
    which every point is in ``done``) only moves forward. Without it a 5,000-trial grid study
    spent 1.5 ms per ask re-reading every trial and re-walking the taken prefix (O(n^2) in all).
    """

    __slots__ = ("history", "seen", "done", "cursor")

    def __init__(self, history: History) -> None:
        self.history = history
        self.seen: set[int] = set()
        self.done: set[int] = set()
        self.cursor = 0


class GridSampler(DerivedCaches, Sampler):
    """Every combination of the listed values, each once.

    Args:
        search_space: Parameter name -> list of values (None, bool, int, float or str).
        shuffle: Visit points in a seeded random order instead of the product order.
        seed: Seed for ``shuffle``.

    Raises:
        ValueError: Empty grid, empty or duplicated value lists.
        TypeError: ``search_space`` not a mapping of names to lists.
    """

    _derived = ("_caches",)

    def __init__(
        self,
        search_space: Mapping[str, Sequence[Any]],
        *,
        shuffle: bool = False,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if not isinstance(search_space, Mapping):
            raise TypeError(
                f"`search_space` must be a dict of name -> list of values, but got "
                f"{type(search_space).__name__}."
            )
        if not search_space:
            raise ValueError("`search_space` must name at least one parameter.")
        self._dists: dict[str, Categorical] = {}
        for name, values in search_space.items():
            if not isinstance(name, str):
                raise TypeError(f"grid parameter names must be str, but got {name!r}.")
            try:
                self._dists[name] = Categorical(values)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"grid values of {name!r}: {exc}") from None
        self._names = list(self._dists)
        self._sizes = [len(d.choices) for d in self._dists.values()]
        self.n_points = math.prod(self._sizes)
        self.seed = resolve_seed(seed)
        self.shuffle = bool(shuffle)
        # Nothing here grows with the number of points (a grid of 10 parameters with 10 values each
        # has 10**10 of them): a point's index is found parameter by parameter (mixed radix, the
        # last parameter fastest), and only a shuffled grid up to _EAGER_MAX points keeps a list.
        self._lookup = [
            {_loose(c): r for r, c in enumerate(d.choices)} for d in self._dists.values()
        ]
        self._order: list[int] | None = None
        if self.shuffle and self.n_points <= _EAGER_MAX:
            self._order = np.random.default_rng(self.seed).permutation(self.n_points).tolist()
        self._caches: dict[int, _Taken] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GridSampler({ {n: list(d.choices) for n, d in self._dists.items()} })"

    @property
    def search_space(self) -> dict[str, list[Any]]:
        """The grid as given."""
        return {n: list(d.choices) for n, d in self._dists.items()}

    def _point(self, index: int) -> tuple[Any, ...]:
        out = []
        for size, dist in zip(reversed(self._sizes), reversed(list(self._dists.values()))):
            index, r = divmod(index, size)
            out.append(dist.choices[r])
        return tuple(reversed(out))

    def _index_of(self, trial: FrozenTrial) -> int | None:
        source: Mapping[str, Any] = trial.params
        if not all(n in source for n in self._names):
            source = trial.system_attrs.get(PLAN_KEY) or {}
            if not all(n in source for n in self._names):
                return None
        index = 0
        for name, size, lookup in zip(self._names, self._sizes, self._lookup):
            try:
                r = lookup.get(_loose(source[name]))
            except (TypeError, ValueError):
                return None
            if r is None:
                return None
            index = index * size + r
        return index

    def _first_free(self, cache: _Taken, extra: set[int], number: int) -> int | None:
        """The next point to visit: the first one not taken in the visiting order.

        Taken means in ``cache.done`` (finished trials) or ``extra`` (running trials, disjoint
        from ``done``). A shuffled grid beyond ``_EAGER_MAX`` points starts from a point drawn by
        ``(seed, number)`` and walks on from there (cyclically); the walk ends within
        ``len(taken) + 1`` steps. Called under ``self._lock``.
        """
        done = cache.done
        if len(done) + len(extra) >= self.n_points:
            return None
        order = self._order
        if order is not None:
            p = cache.cursor  # every point of order[:p] is done
            while p < len(order) and order[p] in done:
                p += 1
            cache.cursor = p
            for q in range(p, len(order)):
                if order[q] not in extra and order[q] not in done:
                    return order[q]
            return None
        if self.shuffle:  # a uniform index, digit by digit (n_points may exceed 2**64)
            rng = trial_rng(self.seed, number)
            start = 0
            for size in self._sizes:
                start = start * size + int(rng.integers(size))
        else:
            while cache.cursor in done:  # every index below the cursor is done
                cache.cursor += 1
            start = cache.cursor
        while start in done or start in extra:
            start = (start + 1) % self.n_points
        return start

    def _taken(
        self, history: History, finished: Sequence[FrozenTrial], running: Sequence[FrozenTrial]
    ) -> tuple[_Taken, set[int]]:
        """The study's cache, caught up with ``finished``, and the points of the ``running``
        trials that no finished trial took. Called under ``self._lock``; the history is read
        before taking it (the storage may call the sampler while holding its own lock)."""
        key = id(history)
        cache = self._caches.get(key)
        if cache is None or cache.history is not history:
            if len(self._caches) >= _MAX_CACHES:
                self._caches.pop(next(iter(self._caches)))
            cache = self._caches[key] = _Taken(history)
        for t in unseen_trials(finished, cache.seen):
            cache.seen.add(t.number)
            i = self._index_of(t)
            if i is not None:
                cache.done.add(i)
        extra = set()
        for t in running:
            i = self._index_of(t)
            if i is not None and i not in cache.done:
                extra.add(i)
        return cache, extra

    def is_exhausted(self, history: History) -> bool:
        finished, running = history.finished(), history.running()
        with self._lock:
            cache, extra = self._taken(history, finished, running)
            return len(cache.done) + len(extra) >= self.n_points

    def joint_space(self, history: History) -> dict[str, Distribution]:
        return dict(self._dists)

    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        unknown = [n for n in space if n not in self._dists]
        if unknown:
            raise ValueError(f"parameters {unknown} are not in the grid {self._names}.")
        finished, running = history.finished(), history.running()
        with self._lock:
            cache, extra = self._taken(history, finished, running)
            index = self._first_free(cache, extra, trial.number)
        if index is None:
            raise SearchSpaceExhausted(
                f"all {self.n_points} grid points have been taken; the grid is exhausted."
            )
        point = dict(zip(self._names, self._point(index)))
        return {n: point[n] for n in space}

    def sample(self, history: History, trial: TrialInfo, name: str, distribution: Distribution) -> Any:
        if name in self._dists:
            raise ValueError(
                f"the grid's value for parameter {name!r} (one of {list(self._dists[name].choices)}) "
                f"lies outside the suggested {distribution!r}."
            )
        raise ValueError(
            f"parameter {name!r} is not in the grid {self._names}; add it to the grid's search_space."
        )
