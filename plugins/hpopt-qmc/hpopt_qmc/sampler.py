"""Quasi-Monte-Carlo sampling: Sobol' (scipy.stats.qmc) or Halton points mapped onto the space.

A QMC sequence fills the unit cube more evenly than independent uniform draws: the star
discrepancy of its first ``n`` points shrinks like ``(log n)^d / n`` instead of ``n^(-1/2)``. The
sampler maps point number ``N`` of the sequence to the parameters of trial ``N`` through
:class:`hpopt.SpaceTransform` (log scale, one cell per integer, step or categorical choice).

How the parameters of a trial are chosen:

* **Static space** (``study.ask(space)``): all parameters come from QMC point ``N = trial
  number`` in ``len(space)`` dimensions, columns in sorted name order. The point is computed from
  the index (Sobol: ``fast_forward``; Halton: the digits of ``N``), never from a counter, so it
  depends only on the seed, ``N`` and the space: parallel workers and a resumed study agree.
* **Define-by-run** (``study.ask()`` then ``trial.suggest_*``): :meth:`QMCSampler.joint_space`
  returns the parameters that every COMPLETE trial so far has, with the same distribution in all
  of them (an intersection, sorted by name). From the second trial on those are planned jointly
  from QMC point ``N``. Any other parameter — the first trial's, a conditional branch's, one whose
  range changed — gets an explicit **independent uniform draw** from ``hpopt.rng.unit_hash(seed,
  N, name)``, exactly what hpopt's ``RandomSampler`` does. The joint space depends on which trials
  had completed when trial ``N`` was asked, so with parallel workers only static spaces are
  reproducible point for point.

Example:
    >>> import hpopt
    >>> from hpopt_qmc import QMCSampler
    >>> study = hpopt.create_study(sampler=QMCSampler(qmc_type="halton", seed=0))
    >>> trial = study.ask({"x": hpopt.Float(0.0, 1.0), "n": hpopt.Int(1, 4)})
    >>> sorted(trial.params)
    ['n', 'x']
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import qmc

import hpopt
from hpopt.rng import resolve_seed, unit_hash

__all__ = ["QMCSampler", "QMC_TYPES"]

#: The sequences ``qmc_type`` accepts.
QMC_TYPES: tuple[str, ...] = ("sobol", "halton")

# scipy's Sobol' engine gives at most 2**bits points; later trial numbers wrap around (documented).
_SOBOL_BITS = 30
_SOBOL_MAX_DIM = int(getattr(qmc.Sobol, "MAXDIM", 21201))
# Halton indices wrap at 2**52: every digit of a smaller index is carried exactly by a double.
_HALTON_MAX_INDEX = 1 << 52
# Largest double below 1: points stay in [0, 1) whatever the rounding of a digit sum.
_BELOW_ONE = float(np.nextafter(1.0, 0.0))
# A Halton base's permutation table is kept as Python lists up to this many entries.
_LIST_ENTRIES = 4096
# Caches are bounded (one entry per dimension or per space seen); the oldest entry goes first.
_MAX_CACHED = 64


class QMCSampler(hpopt.Sampler):
    """Quasi-Monte-Carlo sampler: trial ``N`` takes point ``N`` of a Sobol' or Halton sequence.

    Args:
        qmc_type: ``"sobol"`` (scipy.stats.qmc.Sobol, the default) or ``"halton"``.
        scramble: Randomize the sequence from ``seed`` (Sobol': linear matrix scrambling with a
            digital shift; Halton: a random permutation of the digits at every position). Without
            scrambling the sequence is the textbook one and starts at the origin.
        seed: An int >= 0, a numpy Generator or None (fresh entropy). It seeds the scrambling and
            the independent draws of parameters outside the joint space.

    Raises:
        ValueError: An unknown ``qmc_type`` or a negative ``seed``.
        TypeError: ``qmc_type`` not a str, ``scramble`` not a bool, ``seed`` of another type.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study(sampler="qmc", seed=1)
        >>> space = {"lr": hpopt.Float(1e-4, 1e-1, log=True), "act": hpopt.Categorical(["a", "b"])}
        >>> for _ in range(4):
        ...     trial = study.ask(space)
        ...     _ = study.tell(trial, trial.params["lr"])
        >>> len(study.trials)
        4
    """

    def __init__(
        self,
        *,
        qmc_type: str = "sobol",
        scramble: bool = True,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if not isinstance(qmc_type, str):
            raise TypeError(
                f"`qmc_type` must be a str, one of {list(QMC_TYPES)}, but got {qmc_type!r}."
            )
        if qmc_type.lower() not in QMC_TYPES:
            raise ValueError(f"`qmc_type` must be one of {list(QMC_TYPES)}, but got {qmc_type!r}.")
        if not isinstance(scramble, (bool, np.bool_)):
            raise TypeError(f"`scramble` must be True or False, but got {scramble!r}.")
        self.qmc_type = qmc_type.lower()
        self.scramble = bool(scramble)
        self.seed = resolve_seed(seed)  # TypeError / ValueError naming `seed`
        self._lock = threading.Lock()
        self._engines: dict[int, Any] = {}
        self._transforms: dict[tuple[Any, ...], hpopt.SpaceTransform] = {}
        self._seen: dict[int, _Intersection] = {}

    def __repr__(self) -> str:
        return f"QMCSampler(qmc_type={self.qmc_type!r}, scramble={self.scramble}, seed={self.seed})"

    def __getstate__(self) -> dict[str, Any]:
        # Engines and caches are rebuilt on demand; the lock cannot be pickled.
        state = dict(self.__dict__)
        del state["_lock"]
        state["_engines"], state["_transforms"], state["_seen"] = {}, {}, {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- the sequence ------------------------------------------------------------------------------
    def unit_point(self, index: int, dim: int) -> np.ndarray:
        """Point ``index`` of the sequence in ``[0, 1)^dim``: set by seed, index and dim only.

        Args:
            index: A non-negative integer (the trial number); it wraps at the sequence's length
                (``2**30`` for Sobol', ``2**52`` for Halton).
            dim: The number of coordinates, >= 1.

        Raises:
            ValueError: A negative index, ``dim < 1``, or more than 21201 Sobol' dimensions.

        Example:
            >>> from hpopt_qmc import QMCSampler
            >>> QMCSampler(qmc_type="halton", scramble=False).unit_point(1, 2).tolist()
            [0.5, 0.3333333333333333]
        """
        if index < 0:
            raise ValueError(f"`index >= 0` must hold, but got index={index!r}.")
        if dim < 1:
            raise ValueError(f"`dim >= 1` must hold, but got dim={dim!r}.")
        if self.qmc_type == "sobol":
            if dim > _SOBOL_MAX_DIM:
                raise ValueError(
                    f"Sobol' points have at most {_SOBOL_MAX_DIM} dimensions, but the space has "
                    f"{dim}; use qmc_type='halton'."
                )
            return self._sobol_point(index % (1 << _SOBOL_BITS), dim)
        return self._halton_point(index % _HALTON_MAX_INDEX, dim)

    def _sobol_point(self, index: int, dim: int) -> np.ndarray:
        with self._lock:
            engine = self._engines.get(dim)
            if engine is None:
                engine = self._remember(self._engines, dim, self._new_sobol(dim))
            # The engine's position is only a cache: moving forward costs O(distance) in scipy's
            # fast_forward (about 12 ns per skipped point), moving back restarts from 0. Either
            # way point `index` is the same; increasing trial numbers cost O(1) amortised.
            if engine.num_generated > index:
                engine.reset()
            if index > engine.num_generated:
                engine.fast_forward(index - engine.num_generated)
            return engine.random(1)[0]

    def _new_sobol(self, dim: int) -> qmc.Sobol:
        rng = np.random.default_rng([self.seed, dim, 0])
        try:
            return qmc.Sobol(dim, scramble=self.scramble, bits=_SOBOL_BITS, rng=rng)
        except TypeError:  # scipy < 1.15 names the argument `seed`
            return qmc.Sobol(dim, scramble=self.scramble, bits=_SOBOL_BITS, seed=rng)

    def _halton_point(self, index: int, dim: int) -> np.ndarray:
        with self._lock:
            table = self._engines.get(dim)
            if table is None:
                table = _HaltonTable(dim, self.scramble, self.seed)
                self._remember(self._engines, dim, table)
        return table.point(index)

    @staticmethod
    def _remember(cache: dict, key: Any, value: Any) -> Any:
        if len(cache) >= _MAX_CACHED:
            cache.pop(next(iter(cache)))
        cache[key] = value
        return value

    # -- the sampler protocol ---------------------------------------------------------------------
    def joint_space(self, history: hpopt.History) -> dict[str, hpopt.Distribution]:
        """Parameters every COMPLETE trial has, with one same distribution (sorted by name)."""
        fin = history.finished()  # read before the lock: the storage may hold its own lock
        with self._lock:
            seen = self._seen.get(id(history))
            if seen is None or seen.history is not history:
                seen = self._remember(self._seen, id(history), _Intersection(history))
            seen.sync(fin)
            return dict(seen.space) if seen.space else {}

    def sample_joint(
        self,
        history: hpopt.History,
        trial: hpopt.TrialInfo,
        space: Mapping[str, hpopt.Distribution],
    ) -> dict[str, Any]:
        """All of ``space`` from QMC point ``trial.number`` (columns in sorted name order)."""
        if not space:
            return {}
        names = sorted(space)
        key = tuple((name, space[name]) for name in names)
        with self._lock:
            transform = self._transforms.get(key)
            if transform is None:
                transform = self._remember(
                    self._transforms, key, hpopt.SpaceTransform({n: space[n] for n in names})
                )
        values = transform.decode(self.unit_point(trial.number, len(names)))
        # canonical() puts step values exactly on their grid (0.3, not 0.30000000000000004).
        return {name: space[name].canonical(value) for name, value in values.items()}

    def sample(
        self,
        history: hpopt.History,
        trial: hpopt.TrialInfo,
        name: str,
        distribution: hpopt.Distribution,
    ) -> Any:
        """A parameter outside the joint space: an independent uniform draw (as RandomSampler)."""
        lo, hi = distribution.internal_bounds
        u = unit_hash(self.seed, trial.number, name)
        return distribution.from_internal(lo + u * (hi - lo))


class _Intersection:
    """The joint space of one study, folded in incrementally as COMPLETE trials appear.

    The intersection is order-free, so trials finishing out of order (other workers) are fine.
    """

    __slots__ = ("history", "numbers", "n", "space")

    def __init__(self, history: hpopt.History) -> None:
        self.history = history
        self.numbers: set[int] = set()  # finished trials already looked at
        self.n = 0
        self.space: dict[str, hpopt.Distribution] | None = None  # None: no COMPLETE trial yet

    def sync(self, fin: tuple[hpopt.FrozenTrial, ...] | list[hpopt.FrozenTrial]) -> None:
        missing = len(fin) - self.n
        if missing <= 0:
            return
        new = []
        for t in reversed(fin):  # new trials are usually the last ones
            if t.number in self.numbers:
                break
            new.append(t)
        if len(new) != missing:
            new = [t for t in fin if t.number not in self.numbers]
        for t in new:
            self.numbers.add(t.number)
            if t.state is not hpopt.TrialState.COMPLETE:
                continue
            dists = t.distributions
            if self.space is None:
                self.space = dict(sorted(dists.items()))
            else:
                self.space = {n: d for n, d in self.space.items() if dists.get(n) == d}
        self.n = len(fin)


class _HaltonTable:
    """Halton points computed from the digits of the index: O(log index) per point.

    scipy's scrambled ``Halton`` recomputes its sequence from the start at every call (a point far
    in the sequence costs O(index)), so the radical inverse is computed here directly. With
    ``scramble``, every digit position ``j`` of base ``b`` gets its own random permutation of
    ``0..b-1`` (Owen, "A randomized Halton algorithm in R", 2017); the trailing zero digits are
    permuted too, so their sum is precomputed per position (``tails``).
    """

    __slots__ = ("bases", "perms", "tails")

    def __init__(self, dim: int, scramble: bool, seed: int) -> None:
        self.bases = _first_primes(dim)
        rng = np.random.default_rng([seed, dim, 1])
        self.perms: list[Any] = []
        self.tails: list[list[float]] = []
        for b in self.bases:
            m = math.ceil(53 / math.log2(b))  # digits a double can resolve in base b
            if scramble:
                table = np.array([rng.permutation(b) for _ in range(m)], dtype=np.int32)
            else:
                table = np.tile(np.arange(b, dtype=np.int32), (m, 1))
            # Python lists index fastest; large bases (hundreds of dimensions) stay in numpy so
            # that memory stays at 4 bytes per entry.
            perm: Any = table.tolist() if table.size <= _LIST_ENTRIES else table
            tail = [0.0] * (m + 1)  # tail[j] = sum over positions k >= j of perm[k][0] * b^-(k+1)
            for k in range(m - 1, -1, -1):
                tail[k] = tail[k + 1] + int(perm[k][0]) * float(b) ** -(k + 1)
            self.perms.append(perm)
            self.tails.append(tail)

    def point(self, index: int) -> np.ndarray:
        out = np.empty(len(self.bases))
        for i, (b, perm, tail) in enumerate(zip(self.bases, self.perms, self.tails)):
            q, j, v, scale = index, 0, 0.0, 1.0 / b
            while q:
                q, r = divmod(q, b)
                v += int(perm[j][r]) * scale
                scale /= b
                j += 1
            out[i] = min(v + tail[j], _BELOW_ONE)
        return out


def _first_primes(n: int) -> list[int]:
    """The first ``n`` primes (a sieve sized by the prime number theorem's bound)."""
    limit = max(16, int(n * (math.log(n + 1) + math.log(math.log(n + 2)) + 3)))
    while True:
        sieve = np.ones(limit + 1, dtype=bool)
        sieve[:2] = False
        for p in range(2, math.isqrt(limit) + 1):
            if sieve[p]:
                sieve[p * p :: p] = False
        primes = np.flatnonzero(sieve)
        if primes.size >= n:
            return primes[:n].tolist()
        limit *= 2
