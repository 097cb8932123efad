"""NSGA-II (Deb et al. 2002) for several objectives, with constraints and mixed spaces.

* **Selection:** elitist — parents and offspring are merged, sorted into non-dominated fronts and
  cut to ``popsize`` by front, then by crowding distance (larger first). **Steady state** (the
  default; Durillo et al. 2009, "On the effect of the steady-state selection scheme in
  multi-objective genetic algorithms"): once the first population exists, every finished trial is
  merged at once (``popsize + 1`` members, the worst by front and crowding leaves), so the next
  ask already breeds from it; with ``steady_state=False`` offspring wait for a full generation of
  ``popsize`` (Deb et al.'s generational scheme). Steady state needs no generation barrier, which
  suits workers that finish at different times, and converged further on held-out problems
  (ZDT1-3 and ZDT6 with 10 variables, 2-objective DTLZ2: 5 of 5 at 500 trials, 10 seeds; see
  benchmarks/RESULTS.md).
* **Constraints** (Deb 2000): with ``constraints_func(trial) -> sequence of floats`` (``<= 0``
  means satisfied), a feasible trial beats an infeasible one, two infeasible ones compare by
  their total violation, and two feasible ones by Pareto dominance.
* **Variation for mixed spaces:** two distinct parents are picked by binary tournaments (front,
  then crowding) among four distinct members, as in Deb's reference code;
  numeric genes (unit box of :class:`hpopt.SpaceTransform`, integers rounded when decoded) get
  simulated binary crossover and polynomial mutation (Deb & Agrawal 1995); categorical genes get
  uniform crossover and, with the mutation probability, a uniformly drawn choice.

**State from the history.** COMPLETE trials holding the whole space are replayed in finish
order; the first ``popsize`` form the first population (they are uniform draws), and each later
one is merged with it by the selection above (generational: each run of ``popsize`` of them, as
one generation's offspring). Randomness comes from
``trial_rng(seed, number)``, so a fresh process replaying the same trials proposes the same
offspring. FAIL and PRUNED trials are skipped (their slots are resampled), RUNNING ones are not
waited for. Parameters outside the joint space go to ``fallback_sampler`` (default:
RandomSampler with the same seed).

Example:
    >>> import hpopt
    >>> study = hpopt.create_study(directions=["minimize", "minimize"],
    ...                            sampler=hpopt.make_sampler("nsga2", seed=0, popsize=10))
    >>> for _ in range(40):
    ...     t = study.ask({"x": hpopt.Float(0, 1)})
    ...     _ = study.tell(t, (t.params["x"], (1 - t.params["x"]) ** 2))
    >>> len(study.best_trials) > 5
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from hpopt._checks import constraint_values, stored_constraints
from hpopt.distributions import Distribution
from hpopt.records import FrozenTrial, TrialState
from hpopt.rng import resolve_seed, trial_rng
from hpopt.samplers.base import History, Sampler
from hpopt.samplers.replay import MixedSpace, ReplaySampler, check_fallback, order_key, positive

__all__ = ["NSGAIISampler", "nondominated_ranks", "crowding_distance"]

_MIN_POPSIZE = 2


def _dominates(f: np.ndarray, cv: np.ndarray) -> np.ndarray:
    """``d[i, j]``: row ``i`` constraint-dominates row ``j`` (Deb 2000)."""
    le = (f[:, None, :] <= f[None, :, :]).all(axis=2)
    lt = (f[:, None, :] < f[None, :, :]).any(axis=2)
    feas = cv <= 0
    pareto = le & lt & feas[:, None] & feas[None, :]
    beats_infeasible = feas[:, None] & ~feas[None, :]
    less_violation = ~feas[:, None] & ~feas[None, :] & (cv[:, None] < cv[None, :])
    return pareto | beats_infeasible | less_violation


def nondominated_ranks(f: np.ndarray, cv: np.ndarray | None = None) -> np.ndarray:
    """Front index of each row of ``f`` (0 = non-dominated), constraint violations ``cv`` >= 0."""
    f = np.asarray(f, dtype=float)
    cv = np.zeros(len(f)) if cv is None else np.asarray(cv, dtype=float)
    f = np.where(np.isnan(f), np.inf, f)
    dom = _dominates(f, cv)
    count = dom.sum(axis=0)  # how many rows dominate each row
    ranks = np.full(len(f), -1)
    front, r = np.flatnonzero(count == 0), 0
    while front.size:
        ranks[front] = r
        count = count - dom[front].sum(axis=0)
        count[ranks >= 0] = -1
        front, r = np.flatnonzero(count == 0), r + 1
    return ranks


def crowding_distance(f: np.ndarray) -> np.ndarray:
    """Crowding distance of each row within one front (boundary rows get infinity)."""
    n, m = f.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(f[:, j], kind="stable")
        col = f[order, j]
        span = col[-1] - col[0]
        dist[order[[0, -1]]] = np.inf
        if span > 0 and np.isfinite(span):
            dist[order[1:-1]] += (col[2:] - col[:-2]) / span
    return dist


class _Run(MixedSpace):
    """The replayed parent population for one search space."""

    def __init__(self, s: NSGAIISampler, space: Mapping[str, Distribution]) -> None:
        super().__init__(space)
        self.s = s
        self.parents: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.rank = np.zeros(0, dtype=int)
        self.crowd = np.zeros(0)
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []
        self.seen: set[int] = set()
        self.last_key: tuple[float, int] = (-math.inf, -1)
        self.version = -1
        self.generation = 0

    def relevant(self, t: FrozenTrial) -> bool:
        if t.state is not TrialState.COMPLETE or t.values is None:
            return False
        return all(t.distributions.get(k) == d for k, d in self.space.items())

    def feed(self, trials: Sequence[FrozenTrial], signs: np.ndarray) -> None:
        for t in trials:
            self.seen.add(t.number)
            self.last_key = order_key(t)
            u = self.tf.encode(t.params)
            c = np.array([self.space[k].index(t.params[k]) for k in self.cat_names], dtype=int)  # type: ignore[union-attr]
            f = signs * np.asarray(t.values, dtype=float)
            self.pending.append((u, c, f, self.s.violation(t)))
            if len(self.pending) == self.s.popsize or (self.s.steady_state and self.parents is not None):
                self._select()

    def _select(self) -> None:
        xs = np.array([p[0] for p in self.pending]).reshape(len(self.pending), -1)
        cs = np.array([p[1] for p in self.pending], dtype=int).reshape(len(self.pending), -1)
        fs = np.array([p[2] for p in self.pending])
        cvs = np.array([p[3] for p in self.pending])
        self.pending = []
        if self.parents is not None:
            px, pc, pf, pcv = self.parents
            xs, cs, fs, cvs = np.vstack([px, xs]), np.vstack([pc, cs]), np.vstack([pf, fs]), np.r_[pcv, cvs]
        ranks = nondominated_ranks(fs, cvs)
        crowd = np.zeros(len(fs))
        for r in np.unique(ranks):
            idx = np.flatnonzero(ranks == r)
            crowd[idx] = crowding_distance(np.where(np.isfinite(fs[idx]), fs[idx], 1e300))
        order = np.lexsort((-crowd, ranks))[: self.s.popsize]
        self.parents = (xs[order], cs[order], fs[order], cvs[order])
        self.rank, self.crowd = ranks[order], crowd[order]
        self.generation += 1

    def propose(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        rng = trial_rng(self.s.seed, number)
        n, m = len(self.num_names), len(self.cat_names)
        if self.parents is None:
            cats = np.minimum(np.floor(rng.random(m) * self.cat_sizes).astype(int), self.cat_sizes - 1)
            return rng.random(n), cats
        px, pc, _, _ = self.parents
        a, b = self._parents(rng)
        x, c = px[a].copy(), pc[a].copy()
        s = self.s
        if rng.random() < s.crossover_prob:
            x = _sbx(px[a], px[b], s.eta_c, rng)
            c = np.where(rng.random(m) < 0.5, pc[a], pc[b])
        pm = s.mutation_prob if s.mutation_prob is not None else 1.0 / max(n + m, 1)
        x = _polynomial_mutation(x, pm, s.eta_m, rng)
        flip = rng.random(m) < pm
        fresh = np.minimum(np.floor(rng.random(m) * self.cat_sizes).astype(int), self.cat_sizes - 1)
        return x, np.where(flip, fresh, c)

    def _parents(self, rng: np.random.Generator) -> tuple[int, int]:
        """Two distinct parents by binary crowded tournaments among four distinct members.

        As in Deb's reference NSGA-II, the two tournaments are held between four different
        members, so the parents always differ: a child is never a copy of a parent crossed with
        itself (with tournaments drawn independently, the few non-dominated members of early
        generations often won both). With fewer than four members the second parent is the
        remaining member (popsize 2) or the third one (popsize 3).
        """
        n = len(self.rank)
        idx = rng.permutation(n)[:4]
        a = self._better(int(idx[0]), int(idx[1]))
        if n >= 4:
            return a, self._better(int(idx[2]), int(idx[3]))
        return a, int(idx[2]) if n == 3 else int(idx[0] if a == idx[1] else idx[1])

    def _better(self, i: int, j: int) -> int:
        """The winner of a crowded tournament: lower front, then larger crowding distance."""
        if self.rank[i] != self.rank[j]:
            return i if self.rank[i] < self.rank[j] else j
        return i if self.crowd[i] >= self.crowd[j] else j


def _sbx(p1: np.ndarray, p2: np.ndarray, eta: float, rng: np.random.Generator) -> np.ndarray:
    """Simulated binary crossover in the unit box (Deb & Agrawal 1995), one child."""
    n = len(p1)
    u, swap, active = rng.random(n), rng.random(n) < 0.5, rng.random(n) < 0.5
    beta = np.where(u <= 0.5, (2 * u) ** (1 / (eta + 1)), (1 / (2 * (1 - u))) ** (1 / (eta + 1)))
    child = 0.5 * ((1 + beta) * p1 + (1 - beta) * p2)
    child = np.where(swap, 0.5 * ((1 - beta) * p1 + (1 + beta) * p2), child)
    return np.clip(np.where(active & (p1 != p2), child, p1), 0.0, 1.0)


def _polynomial_mutation(x: np.ndarray, pm: float, eta: float, rng: np.random.Generator) -> np.ndarray:
    """Polynomial mutation in the unit box (Deb's bounded form)."""
    n = len(x)
    u, hit = rng.random(n), rng.random(n) < pm
    d1, d2 = x, 1 - x
    lo = (2 * u + (1 - 2 * u) * (1 - d1) ** (eta + 1)) ** (1 / (eta + 1)) - 1
    hi = 1 - (2 * (1 - u) + 2 * (u - 0.5) * (1 - d2) ** (eta + 1)) ** (1 / (eta + 1))
    return np.clip(np.where(hit, x + np.where(u < 0.5, lo, hi), x), 0.0, 1.0)


class NSGAIISampler(ReplaySampler):
    """NSGA-II with constrained domination, SBX/polynomial mutation and categorical operators.

    Args:
        seed: An int, a numpy Generator or None (fresh entropy).
        popsize: Population size (``>= 2``).
        crossover_prob: Probability of crossover for each offspring (``0 <= p <= 1``).
        mutation_prob: Per-gene mutation probability; default ``1 / n_params``.
        eta_c: SBX distribution index (``> 0``; larger keeps children nearer their parents).
        eta_m: Polynomial-mutation distribution index (``> 0``).
        constraints_func: ``f(FrozenTrial) -> sequence of floats``, ``<= 0`` when satisfied (e.g.
            reading a user attribute the objective set); None for an unconstrained study. The
            study calls it once per COMPLETE trial, at tell, and stores the values with the trial
            (system attribute ``"constraints"``), which this sampler then reads.
        fallback_sampler: Samples parameters outside the joint space (define-by-run); default
            :class:`~hpopt.samplers.random.RandomSampler` with the same seed.
        steady_state: Merge each finished trial into the population at once (default) rather
            than a generation of ``popsize`` at a time.

    Raises:
        TypeError, ValueError: An invalid setting, naming it.

    Example:
        >>> import hpopt
        >>> sampler = hpopt.make_sampler("nsga2", seed=1, popsize=8)
        >>> study = hpopt.create_study(directions=["minimize", "maximize"], sampler=sampler)
        >>> study.optimize(lambda t: (t.suggest_float("x", 0, 1),) * 2, n_trials=20)
        >>> len(study.trials)
        20
    """

    supports_multi_objective = True

    def __init__(
        self,
        *,
        seed: int | np.random.Generator | None = None,
        popsize: int = 50,
        crossover_prob: float = 0.9,
        mutation_prob: float | None = None,
        eta_c: float = 20.0,
        eta_m: float = 20.0,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        fallback_sampler: Sampler | None = None,
        steady_state: bool = True,
    ) -> None:
        self.seed = resolve_seed(seed)
        if not isinstance(steady_state, bool):
            raise TypeError(f"`steady_state` must be a bool, but got {steady_state!r}.")
        self.steady_state = steady_state
        if isinstance(popsize, bool) or not isinstance(popsize, int):
            raise TypeError(f"`popsize` must be an int, but got {popsize!r}.")
        if popsize < _MIN_POPSIZE:
            raise ValueError(f"`popsize >= {_MIN_POPSIZE}` must hold, but got popsize={popsize}.")
        self.popsize = popsize
        for name, value in (("crossover_prob", crossover_prob), ("mutation_prob", mutation_prob)):
            if value is None and name == "mutation_prob":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"`0 <= {name} <= 1` must hold, but got {name}={value!r}.")
        self.crossover_prob = float(crossover_prob)
        self.mutation_prob = None if mutation_prob is None else float(mutation_prob)
        self.eta_c = positive("eta_c", eta_c)
        self.eta_m = positive("eta_m", eta_m)
        if constraints_func is not None and not callable(constraints_func):
            raise TypeError(f"`constraints_func` must be callable or None, but got {constraints_func!r}.")
        self.constraints_func = constraints_func
        self.fallback_sampler = check_fallback(fallback_sampler, self.seed)
        self._init_replay()

    def __repr__(self) -> str:
        return f"NSGAIISampler(seed={self.seed}, popsize={self.popsize}, steady_state={self.steady_state})"

    def violation(self, trial: FrozenTrial) -> float:
        """Total constraint violation of ``trial`` (0 when feasible or unconstrained).

        The values stored with the trial when it was told are used when present (the study
        computed them once with this ``constraints_func``); the function is called only for a
        trial stored without them.
        """
        if self.constraints_func is None:
            return 0.0
        values = stored_constraints(trial)
        if values is None:
            values = constraint_values(self.constraints_func, trial)
        with np.errstate(over="ignore"):  # violations of 1e308 each: inf in total, without a warning
            return float(np.maximum(values, 0.0).sum())

    def _propose(self, run: _Run, number: int) -> tuple[np.ndarray, np.ndarray]:
        return run.propose(number)

    def _new_run(self, space: Mapping[str, Distribution]) -> _Run:
        return _Run(self, space)

    def state(self, history: History, space: Mapping[str, Distribution]) -> _Run:
        """The replayed population for ``space``, brought up to date with the history."""
        signs = np.array([-1.0 if d == "maximize" else 1.0 for d in history.directions])
        return self._replayed(history, space, lambda run, new: run.feed(new, signs))
