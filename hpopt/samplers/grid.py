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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hpopt.distributions import Categorical, Distribution
from hpopt.errors import SearchSpaceExhausted
from hpopt.records import FrozenTrial
from hpopt.rng import resolve_seed, trial_rng
from hpopt.samplers.base import PLAN_KEY, History, Sampler, TrialInfo

__all__ = ["GridSampler"]

#: Largest shuffled grid whose whole visiting order is drawn up front (a seeded permutation);
#: a larger one starts each trial's walk at a point drawn from ``(seed, trial number)``.
_EAGER_MAX = 2**20


def _loose(v: Any) -> tuple[str, Any]:
    """Match key: 1 and 1.0 are the same grid value; True, None and strings only themselves."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return (type(v).__name__, v)
    return ("num", float(v))


class GridSampler(Sampler):
    """Every combination of the listed values, each once.

    Args:
        search_space: Parameter name -> list of values (None, bool, int, float or str).
        shuffle: Visit points in a seeded random order instead of the product order.
        seed: Seed for ``shuffle``.

    Raises:
        ValueError: Empty grid, empty or duplicated value lists.
        TypeError: ``search_space`` not a mapping of names to lists.
    """

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

    def _first_free(self, taken: set[int], number: int) -> int | None:
        """The next point to visit: the first one not taken in the visiting order.

        A shuffled grid beyond ``_EAGER_MAX`` points starts from a point drawn by ``(seed, number)``
        and walks on from there (cyclically); the walk ends within ``len(taken) + 1`` steps.
        """
        if self._order is not None:
            return next((i for i in self._order if i not in taken), None)
        if len(taken) >= self.n_points:
            return None
        start = 0
        if self.shuffle:  # a uniform index, digit by digit (n_points may exceed 2**64)
            rng = trial_rng(self.seed, number)
            for size in self._sizes:
                start = start * size + int(rng.integers(size))
        while start in taken:
            start = (start + 1) % self.n_points
        return start

    def _taken(self, history: History) -> set[int]:
        taken = set()
        for t in (*history.finished(), *history.running()):
            i = self._index_of(t)
            if i is not None:
                taken.add(i)
        return taken

    def is_exhausted(self, history: History) -> bool:
        return len(self._taken(history)) >= self.n_points

    def joint_space(self, history: History) -> dict[str, Distribution]:
        return dict(self._dists)

    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        unknown = [n for n in space if n not in self._dists]
        if unknown:
            raise ValueError(f"parameters {unknown} are not in the grid {self._names}.")
        taken = self._taken(history)
        index = self._first_free(taken, trial.number)
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
