"""Differential evolution: SHADE-style adaptive current-to-pbest/1 with an archive, mixed spaces.

Follows JADE (Zhang & Sanderson 2009) and SHADE (Tanabe & Fukunaga 2013), run *steady-state* so
that it fits ask/tell with several workers:

* the first ``popsize`` finished trials (uniform draws) form the population;
* afterwards trial ``N`` targets population member ``i = N mod popsize``: the mutant is
  ``v = x_i + F (x_pbest - x_i) + F (x_r1 - x_r2)`` (``x_pbest`` one of the best ``p * popsize``,
  ``x_r2`` from the population or the archive of replaced members), out-of-box coordinates are
  repaired half-way to the bound (JADE), and binomial crossover with rate ``CR`` mixes ``v`` with
  ``x_i``; when it finishes no worse than ``x_i`` it replaces it (the old one goes to the archive);
* ``F`` (Cauchy) and ``CR`` (normal) are drawn around a memory of ``H`` means, refreshed after every
  ``popsize`` replayed trials from the successful values (weighted Lehmer / arithmetic means).

Numeric parameters live in the unit box of :class:`hpopt.SpaceTransform` (integers and steps are
rounded when decoded). A categorical gene has no difference vector, so its mutant follows the
same recipe discretely: it takes the pbest's choice with probability ``F``, and where ``x_r1`` and
``x_r2`` disagree, ``x_r1``'s choice with probability ``F``; crossover then treats it like any gene.

**State from the history.** As for :mod:`hpopt.samplers.cmaes`: COMPLETE trials of the space are
replayed in finish order; a trial whose redrawn candidate (from ``trial_rng(seed, number)`` and the
current state) decodes to its parameters was drawn by the current state, so its ``F``/``CR`` are
known and count for the memory; any other trial (late finisher, enqueued, fallback) still competes
with its target but teaches the memory nothing. FAIL and PRUNED trials are skipped. Parameters
outside the intersection of the COMPLETE trials' parameters go to ``fallback_sampler`` (default:
:class:`~hpopt.samplers.tpe.TPESampler` with the same seed, which samples each conditional group
jointly; see :class:`~hpopt.samplers.replay.GroupedFallback`).

Example:
    >>> import hpopt
    >>> study = hpopt.create_study(sampler="de", seed=0)
    >>> space = {"x": hpopt.Float(-5, 5), "n": hpopt.Int(0, 9), "c": hpopt.Categorical(["a", "b"])}
    >>> for _ in range(150):
    ...     t = study.ask(space)
    ...     p = t.params
    ...     _ = study.tell(t, (p["x"] - 1) ** 2 + (p["n"] - 3) ** 2 + (p["c"] == "b"))
    >>> study.best_value < 1.0
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from hpopt.distributions import Distribution
from hpopt.records import FrozenTrial, TrialState
from hpopt.rng import resolve_seed, trial_rng
from hpopt.samplers.base import History, Sampler
from hpopt.samplers.replay import (
    GroupedFallback,
    MixedSpace,
    ReplaySampler,
    order_key,
    positive,
)

__all__ = ["DESampler"]

_MIN_POPSIZE = 4  # current-to-pbest/1 needs the target, pbest, r1 and r2 to differ
_MATCH_TOL = 1e-9
_F_SCALE, _CR_SCALE = 0.1, 0.1  # spreads of the Cauchy F and normal CR draws (SHADE)
_MAX_F_DRAWS = 32  # Cauchy redraws of a non-positive F before using the memory mean
_ARCHIVE_STREAM = 2


class _Run(MixedSpace):
    """The replayed population for one search space."""

    def __init__(self, s: DESampler, space: Mapping[str, Distribution]) -> None:
        super().__init__(space)
        self.s = s
        n, m, np_ = len(self.num_names), len(self.cat_names), s.popsize or _default_popsize(len(space))
        self.np = np_
        self.x = np.zeros((np_, n))
        self.c = np.zeros((np_, m), dtype=int)
        self.f = np.full(np_, np.inf)
        self.filled = 0
        self.arch_x = np.zeros((0, n))
        self.arch_c = np.zeros((0, m), dtype=int)
        h = s.memory_size or np_
        self.mem_f, self.mem_cr, self.k = np.full(h, s.init_f), np.full(h, s.init_cr), 0
        self.succ: list[tuple[float, float, float]] = []
        self.count = 0
        self.seen: set[int] = set()
        self.last_key: tuple[float, int] = (-math.inf, -1)
        self.version = -1

    # -- proposing ----------------------------------------------------------------------------------
    def propose(self, number: int) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Trial ``number``'s candidate from the current state: ``(x, c, F, CR)``."""
        rng = trial_rng(self.s.seed, number)
        n, m = self.x.shape[1], self.c.shape[1]
        if self.filled < self.np:  # initial population: uniform
            cats = np.floor(rng.random(m) * self.cat_sizes).astype(int)
            return rng.random(n), np.minimum(cats, self.cat_sizes - 1), math.nan, math.nan
        r = int(rng.integers(len(self.mem_f)))
        f = 0.0
        for _ in range(_MAX_F_DRAWS):
            f = self.mem_f[r] + _F_SCALE * float(rng.standard_cauchy())
            if f > 0:
                break
        f = min(f, 1.0) if f > 0 else float(self.mem_f[r])
        cr = float(np.clip(rng.normal(self.mem_cr[r], _CR_SCALE), 0.0, 1.0))
        i = number % self.np
        n_best = max(2, round(self.s.p_best * self.np))
        best = np.argsort(self.f, kind="stable")[:n_best]
        pb = int(best[rng.integers(n_best)])
        r1 = int(rng.choice([j for j in range(self.np) if j != i]))
        pool_x = np.vstack([self.x, self.arch_x])
        pool_c = np.vstack([self.c, self.arch_c])
        r2 = int(rng.choice([j for j in range(len(pool_x)) if j not in (i, r1)]))
        xi = self.x[i]
        v = xi + f * (self.x[pb] - xi) + f * (self.x[r1] - pool_x[r2])  # current-to-pbest/1
        v = np.where(v < 0, xi / 2, np.where(v > 1, (1 + xi) / 2, v))  # JADE repair
        vc = np.where(rng.random(m) < f, self.c[pb], self.c[i])
        vc = np.where((self.c[r1] != pool_c[r2]) & (rng.random(m) < f), self.c[r1], vc)
        take = rng.random(n + m) < cr
        take[int(rng.integers(n + m))] = True  # at least one gene from the mutant
        return np.where(take[:n], v, xi), np.where(take[n:], vc, self.c[i]), f, cr

    # -- replay -------------------------------------------------------------------------------------
    def relevant(self, t: FrozenTrial) -> bool:
        if t.state is not TrialState.COMPLETE or t.values is None:
            return False
        return all(t.distributions.get(k) == d for k, d in self.space.items())

    def feed(self, trials: Sequence[FrozenTrial]) -> None:
        sign = -1.0 if self.s._maximize else 1.0
        for t in trials:
            self.seen.add(t.number)
            self.last_key = order_key(t)
            value = sign * float(t.values[0])  # type: ignore[index]
            u = self.tf.encode(t.params)
            cats = np.array([self.space[k].index(t.params[k]) for k in self.cat_names], dtype=int)  # type: ignore[union-attr]
            x, c, f, cr = self.propose(t.number)
            native = np.array_equal(c, cats) and (
                not u.size or np.allclose(self.tf.snap(x)[0], u, rtol=0, atol=_MATCH_TOL)
            )
            if not native:
                x, f, cr = u, math.nan, math.nan
            if self.filled < self.np:
                self.x[self.filled], self.c[self.filled], self.f[self.filled] = x, cats, value
                self.filled += 1
                continue
            self._select(t.number % self.np, x, cats, value, f, cr, t.number)

    def _select(self, i: int, x: np.ndarray, c: np.ndarray, value: float, f: float, cr: float,
                number: int) -> None:
        old = self.f[i]
        if value <= old:
            if value < old:
                self.arch_x = np.vstack([self.arch_x, self.x[i]])
                self.arch_c = np.vstack([self.arch_c, self.c[i]])
                cap = round(self.s.archive_rate * self.np)
                if len(self.arch_x) > cap:
                    rng = trial_rng(self.s.seed, number, _ARCHIVE_STREAM)
                    keep = np.sort(rng.permutation(len(self.arch_x))[:cap])
                    self.arch_x, self.arch_c = self.arch_x[keep], self.arch_c[keep]
                if not math.isnan(f):
                    gain = float(old) - value  # Python floats: an overflow (1e308 - -1e308) is inf, silently
                    self.succ.append((f, cr, gain if math.isfinite(gain) else 1.0))
            self.x[i], self.c[i], self.f[i] = x, c, value
        self.count += 1
        if self.count % self.np == 0 and self.succ:  # SHADE memory update
            fs, crs, w = (np.array(a) for a in zip(*self.succ))
            with np.errstate(over="ignore"):
                total = w.sum()
            if not math.isfinite(total):  # gains near 1e308: their sum overflows (weights would be 0)
                w = w / w.max()
                total = w.sum()
            w = w / total if total > 0 else np.full(len(w), 1 / len(w))
            self.mem_f[self.k] = (w * fs**2).sum() / max((w * fs).sum(), 1e-300)  # Lehmer mean
            self.mem_cr[self.k] = (w * crs).sum()
            self.k = (self.k + 1) % len(self.mem_f)
            self.succ = []


def _default_popsize(n_params: int) -> int:
    """``clip(5 n, 10, 40)``: a population hyperparameter budgets of hundreds of trials afford."""
    return int(min(max(5 * n_params, 10), 40))


class DESampler(GroupedFallback, ReplaySampler):
    """Adaptive differential evolution (SHADE current-to-pbest/1 with archive) for mixed spaces.

    Args:
        seed: An int, a numpy Generator or None (fresh entropy).
        popsize: Population size (``>= 4``); default ``clip(5 * n_params, 10, 40)``.
        p_best: Fraction of the population the pbest is drawn from (``0 < p_best <= 1``).
        archive_rate: Archive capacity as a multiple of ``popsize`` (``>= 0``).
        memory_size: Number of SHADE memory slots ``H`` (``>= 1``); default ``popsize``.
        init_f: Initial memory mean of the scale factor ``F`` (``0 < F <= 1``).
        init_cr: Initial memory mean of the crossover rate ``CR`` (``0 <= CR <= 1``).
        fallback_sampler: Samples parameters outside the intersection (define-by-run); default
            :class:`~hpopt.samplers.tpe.TPESampler` with the same seed.

    Raises:
        TypeError, ValueError: An invalid setting, naming it.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study(sampler=hpopt.make_sampler("de", seed=2, popsize=8))
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=60)
        >>> study.best_value < 0.1
        True
    """

    supports_multi_objective = False

    def __init__(
        self,
        *,
        seed: int | np.random.Generator | None = None,
        popsize: int | None = None,
        p_best: float = 0.1,
        archive_rate: float = 1.0,
        memory_size: int | None = None,
        init_f: float = 0.5,
        init_cr: float = 0.5,
        fallback_sampler: Sampler | None = None,
    ) -> None:
        self.seed = resolve_seed(seed)
        for name, value, low in (("popsize", popsize, _MIN_POPSIZE), ("memory_size", memory_size, 1)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"`{name}` must be an int or None, but got {value!r}.")
            if value < low:
                raise ValueError(f"`{name} >= {low}` must hold, but got {name}={value}.")
        self.popsize, self.memory_size = popsize, memory_size
        self.p_best = positive("p_best", p_best)
        if self.p_best > 1:
            raise ValueError(f"`0 < p_best <= 1` must hold, but got p_best={p_best!r}.")
        if isinstance(archive_rate, bool) or not isinstance(archive_rate, (int, float)) or not (
            archive_rate >= 0 and math.isfinite(archive_rate)
        ):
            raise ValueError(f"`archive_rate >= 0` must hold, but got archive_rate={archive_rate!r}.")
        self.archive_rate = float(archive_rate)
        self.init_f = positive("init_f", init_f)
        if self.init_f > 1:
            raise ValueError(f"`0 < init_f <= 1` must hold, but got init_f={init_f!r}.")
        if isinstance(init_cr, bool) or not isinstance(init_cr, (int, float)) or not 0 <= init_cr <= 1:
            raise ValueError(f"`0 <= init_cr <= 1` must hold, but got init_cr={init_cr!r}.")
        self.init_cr = float(init_cr)
        self._maximize = False
        self._init_replay()
        self._init_groups(fallback_sampler, self.seed)

    def __repr__(self) -> str:
        return f"DESampler(seed={self.seed}, popsize={self.popsize}, p_best={self.p_best})"

    def _propose(self, run: _Run, number: int) -> tuple[np.ndarray, np.ndarray]:
        x, cats, _, _ = run.propose(number)
        return x, cats

    def _new_run(self, space: Mapping[str, Distribution]) -> _Run:
        return _Run(self, space)

    def state(self, history: History, space: Mapping[str, Distribution]) -> _Run:
        """The replayed population for ``space``, brought up to date with the history."""
        self._maximize = history.directions[0] == "maximize"
        return self._replayed(history, space, lambda run, new: run.feed(new))
