"""Tree-structured Parzen Estimator (Bergstra et al. 2011; Watanabe 2023).

The finished trials are split by a ``gamma`` rule into a *good* group (the best ``gamma(n)``) and a
*bad* group (the rest). A Parzen estimator is fitted to each (``l`` to the good, ``g`` to the bad,
see :mod:`hpopt.samplers.parzen`); ``n_candidates`` points are drawn from ``l`` and the one with
the largest ``log l(x) - log g(x)`` (the density ratio, equivalent to expected improvement) wins.

Choices made here (the papers leave them open):

* **Ranking.** COMPLETE trials come first, by value. PRUNED trials follow, ranked by how far they
  got (their last reported step, further is better) and then by their last reported value. FAIL
  trials (NaN objectives included) are never good: they join the bad group of every group whose
  parameters they have, so regions that crash are avoided. They do not count toward the start-up
  or the good group's size. Several objectives: COMPLETE trials are ranked by
  non-domination rank and, within a front, by crowding distance (larger first, on objectives
  rescaled to ``[0, 1]``), so the last front admitted to the good group is cut by crowding. Beyond
  1,000 COMPLETE trials the fronts are sorted among the 1,000 best by rank sum (see
  ``_front_ranks``), to bound time and memory.
* **The two models differ** (Bergstra et al. 2011, 2013): the good model ``l`` has one
  normal-reference bandwidth per column from the good trials' spread; the bad model ``g`` has,
  on continuous columns, one bandwidth per trial from its neighbour distances
  (``bad_bandwidth="neighbour"``), and its trials are weighted by age ("linear forgetting",
  ``forget=True``: the 25 newest weigh 1, older ones down to ``1 / n``). A smooth ``g`` would
  penalize whole regions covered by many mediocre points and keep the search in the first basin
  it finds; the narrow ``g`` only penalizes the neighbourhood of points already tried.
* **Good trials weighted by improvement** (one objective, ``good_weights="improvement"``): good
  trial ``i`` weighs ``y* - y_i``, ``y*`` the best value outside the good group (the split
  threshold), scaled to average 1 (the prior keeps its share). Song et al. (2022, "A general
  recipe for likelihood-free Bayesian optimization") show that the ratio ``l / g`` with equal
  weights ranks points by the probability of improving on ``y*``, and with improvement weights by
  the expected improvement, which TPE is meant to maximize (Bergstra et al. 2011): the candidates
  come more often from the best trials' kernels, not from the group's average. Equal weights are
  used where improvement is undefined: several objectives, a PRUNED trial in the good group, or
  all good values tied.
* **Groups (conditional spaces).** Parameters are grouped by the set of trials that contain them
  (two parameters share a group when every COMPLETE/PRUNED trial has both or neither). Each group
  is modelled from the trials that have it, with its own good/bad split (``multivariate=True``,
  the default: mixtures of product kernels; ``False``: products of one-dimensional mixtures, the
  original univariate TPE); groups are sampled independently. A plain static space is one group; a
  conditional one (``classifier`` then ``svm_c`` or ``rf_depth``) gives the root group and one
  group per branch. In define-by-run every parameter seen so far is planned at the start of the
  trial; the objective uses the ones its branch asks for. The ranking of a multi-objective study is
  computed once over all trials and restricted to each group.
* **Running trials** (other workers') are added to the bad model of every group they have values
  for (their parameters or their ``hpopt.plan``): pessimistic "constant liars", so concurrent asks
  avoid each other's points. Each liar's kernel has the *good* model's bandwidth (a bad-group-wide
  kernel would barely dent ``l / g`` where the good model concentrates).
* **No duplicates.** In a group whose parameters are all discrete, the best-ranked candidate whose
  configuration no finished or running trial has is chosen; if all candidates are taken, more are
  drawn, then (small spaces) every untaken configuration is scored, or (large ones) uniform draws
  are. A duplicate is proposed only when the group's space is exhausted.
* **Start-up.** Until ``n_startup_trials`` COMPLETE/PRUNED trials exist, parameters are random,
  exactly as :class:`~hpopt.RandomSampler` with the same seed draws them (plus the no-duplicate
  rule above).
* **Speed.** Each finished trial is encoded once (internal values per parameter in columns, keyed
  by trial number) and kept for the study; the ask itself is numpy over candidates and
  observations. The cache holds at most two studies and only what the trials hold.

Example:
    >>> import hpopt
    >>> study = hpopt.create_study(sampler=TPESampler(seed=0))
    >>> def objective(trial):
    ...     x = trial.suggest_float("x", -10, 10)
    ...     k = trial.suggest_categorical("k", ["a", "b"])
    ...     return (x - 2) ** 2 + (k == "b")
    >>> study.optimize(objective, n_trials=40)
    >>> study.best_value < 1.0
    True
"""

from __future__ import annotations

import math
import numbers
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hpopt._checks import check_bool
from hpopt.distributions import Categorical, Distribution
from hpopt.records import FrozenTrial, TrialState
from hpopt.rng import resolve_seed, trial_rng, unit_hash
from hpopt.samplers.base import DerivedCaches, History, Sampler, TrialInfo, running_params
from hpopt.samplers.parzen import Box, LiarMixture, ParzenEstimator

__all__ = ["TPESampler"]

_COMPLETE, _PRUNED, _FAIL = 0, 1, 2
_STATE_CODE = {TrialState.COMPLETE: _COMPLETE, TrialState.PRUNED: _PRUNED, TrialState.FAIL: _FAIL}
_ENUMERATE_LIMIT = 1 << 16  # discrete spaces up to this size are enumerated when candidates are taken
_SCORE_LIMIT = 4096  # at most this many untaken configurations are scored in that fallback
_MAX_CACHES = 2  # studies whose encodings are kept
_MAX_SORTED = 1000  # multi-objective: rows sorted into exact non-domination fronts


def _positive(name: str, value: Any, *, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, but got {value!r} ({type(value).__name__}).")
    v = float(value)
    if not (v > 0 and math.isfinite(v)) or (upper is not None and v > upper):
        rule = f"0 < {name} <= {upper}" if upper is not None else f"{name} > 0"
        raise ValueError(f"`{rule}` must hold, but got {name}={value!r}.")
    return v


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, but got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"`{name} >= {minimum}` must hold, but got {name}={value!r}.")
    return int(value)


def _finish_key(t: FrozenTrial) -> tuple[float, int]:
    """Finish order (ties by number): the order of the cache's rows."""
    return (t.finished if t.finished is not None else math.inf, t.number)


class _Cache:
    """Column store of one study's finished trials, appended once per trial (keyed by number)."""

    def __init__(self, history: History) -> None:
        self.history = history  # held so that its id cannot be reused by another study
        self.n_obj = history.n_objectives
        self.signs = np.array([-1.0 if d == "maximize" else 1.0 for d in history.directions])
        self._reset()

    def _reset(self) -> None:
        """No rows (new arrays: snapshots taken before keep theirs)."""
        self.fin: Sequence[FrozenTrial] = ()
        self.last_key: tuple[float, int] = (-math.inf, -1)  # finish-order key of the newest row
        self.row_of: dict[int, int] = {}
        self.n = 0
        self.state = np.empty(0, dtype=np.int8)
        self.step = np.empty(0)
        self.loss = np.empty((0, self.n_obj))
        self.cols: dict[str, np.ndarray] = {}
        self.sets: dict[frozenset[str], int] = {}  # parameter sets of COMPLETE/PRUNED trials
        self.rank: np.ndarray | None = None  # position of each row in the ranking
        self.n_model = 0  # COMPLETE and PRUNED rows

    def _grow(self, need: int) -> None:
        cap = self.state.size
        if need <= cap:
            return
        new = max(need, 2 * cap, 64)
        self.state = np.resize(self.state, new)
        self.step = np.resize(self.step, new)
        self.loss = np.resize(self.loss, (new, self.n_obj))
        for name, col in self.cols.items():
            grown = np.full(new, np.nan)
            grown[:cap] = col
            self.cols[name] = grown

    def sync(self, fin: Sequence[FrozenTrial]) -> None:
        if fin is self.fin or len(fin) == self.n:
            self.fin = fin
            return
        missing = len(fin) - self.n
        new: list[FrozenTrial] = []
        for t in reversed(fin):  # new trials are usually the last ones
            if t.number in self.row_of:
                break
            new.append(t)
        if len(new) != missing:
            new = [t for t in fin if t.number not in self.row_of]
        # Rows in the order the trials finished (ties by number), as the forgetting of the bad
        # model and ties in the ranking assume: the scan above collects them newest first, and a
        # fresh process resuming a study must build the same rows as the process that saw them.
        new.sort(key=_finish_key)
        if new and _finish_key(new[0]) < self.last_key:
            # A trial that finished before rows already here (``Study.add_trial`` keeps a trial's
            # own, earlier times; clocks of workers differ): appended last, its row would sit
            # elsewhere than in a fresh process. Rebuild every row in finish order instead.
            self._reset()
            new = sorted(fin, key=_finish_key)
        self.fin = fin
        self._grow(self.n + len(new))
        for t in new:
            self._add(t)
        if new:
            self.last_key = _finish_key(new[-1])
        self.rank = None

    def _add(self, t: FrozenTrial) -> None:
        i = self.n
        self.n += 1
        self.row_of[t.number] = i
        code = _STATE_CODE.get(t.state, _FAIL)
        loss = np.full(self.n_obj, np.nan)
        step = np.nan
        if code == _COMPLETE and t.values is not None:
            loss[:] = np.asarray(t.values, dtype=float) * self.signs
            step = np.inf
        elif code == _PRUNED:
            step = -1.0
            last = t.last_step
            value: Any = t.intermediate_values[last] if last is not None else t.values
            if last is not None:
                step = float(last)
            if value is not None:
                vals = np.atleast_1d(np.asarray(value, dtype=float))
                if vals.size == self.n_obj:
                    loss[:] = vals * self.signs
            loss[np.isnan(loss)] = np.inf
        else:
            code = _FAIL
        self.state[i], self.step[i], self.loss[i] = code, step, loss
        for name, value in t.params.items():
            col = self.cols.get(name)
            if col is None:
                col = self.cols[name] = np.full(self.state.size, np.nan)
            dist = t.distributions.get(name)
            try:
                col[i] = dist.to_internal(value) if dist is not None else np.nan
            except (TypeError, ValueError):
                col[i] = np.nan
        if code != _FAIL and t.params:
            key = frozenset(t.params)
            self.sets[key] = self.sets.get(key, 0) + 1

    def ranks(self) -> np.ndarray:
        """Rank position of every row, 0 = best: COMPLETE, then PRUNED, then FAIL rows (last)."""
        if self.rank is not None:
            return self.rank
        n = self.n
        st, step, loss = self.state[:n], self.step[:n], self.loss[:n]
        rank = np.empty(n, dtype=np.int64)
        model = np.flatnonzero(st != _FAIL)
        fail = np.flatnonzero(st == _FAIL)
        if model.size:
            if self.n_obj == 1:
                order = np.lexsort((loss[model, 0], -step[model]))
            else:
                comp = st[model] == _COMPLETE
                key = np.full(model.size, np.inf)
                sub = np.zeros(model.size)
                fr, crowd = _front_ranks(loss[model[comp]])
                key[comp], sub[comp] = fr, -crowd
                sub[~comp] = -step[model[~comp]]
                order = np.lexsort((sub, key))
            rank[model[order]] = np.arange(model.size)
        rank[fail] = model.size + np.arange(fail.size)
        self.rank = rank
        self.n_model = int(model.size)
        return rank

    def snapshot(self) -> _Snapshot:
        """An immutable view for one ask (rows appended later are not part of it)."""
        ranks = self.ranks()  # sets n_model
        # single objective: the rows' losses (minimized), for improvement weights (rows below
        # ``n`` are never rewritten, so views are safe)
        loss = self.loss[: self.n, 0] if self.n_obj == 1 else None
        state = self.state[: self.n]
        return _Snapshot(self.n, self.n_model, ranks, dict(self.cols), list(self.sets), loss, state)


class _Snapshot:
    __slots__ = ("n", "n_model", "ranks", "cols", "sets", "loss", "state")

    def __init__(
        self,
        n: int,
        n_model: int,
        ranks: np.ndarray,
        cols: dict,
        sets: list,
        loss: np.ndarray | None,
        state: np.ndarray,
    ) -> None:
        self.n, self.n_model, self.ranks, self.cols, self.sets = n, n_model, ranks, cols, sets
        self.loss, self.state = loss, state


def _front_ranks(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-domination rank (0 = Pareto front) and crowding distance of each row of ``f``.

    Exact for up to ``_MAX_SORTED`` rows. Beyond, the fronts are computed among the
    ``_MAX_SORTED`` rows with the smallest sum of per-objective ranks (a Pareto-compliant proxy:
    a dominating point always has the smaller sum); the others rank behind them by that sum.
    This bounds time and memory (the domination matrix) for large multi-objective histories.
    """
    n = f.shape[0]
    if n == 0:
        return np.zeros(0), np.zeros(0)
    f = np.where(np.isnan(f), np.inf, f)
    if n > _MAX_SORTED:
        ranksum = np.argsort(np.argsort(f, axis=0), axis=0).sum(axis=1)
        keep = np.argsort(ranksum, kind="stable")[:_MAX_SORTED]
        fr, crowd = _front_ranks(f[keep])
        rank = np.empty(n)
        rank[:] = fr.max() + 1 + ranksum / (ranksum.max() + 1.0)
        rank[keep] = fr
        out_crowd = np.zeros(n)
        out_crowd[keep] = crowd
        return rank, out_crowd
    # dom[i, j]: i dominates j (chunked so that memory stays at ~chunk * n)
    count = np.zeros(n, dtype=np.int64)
    chunk = max(1, 4_000_000 // max(n * f.shape[1], 1))
    doms = []
    for s in range(0, n, chunk):
        a = f[s : s + chunk]
        le = np.ones((a.shape[0], n), dtype=bool)
        lt = np.zeros((a.shape[0], n), dtype=bool)
        for m in range(f.shape[1]):  # loop over objectives: 2-D comparisons stay vectorized
            le &= a[:, m, None] <= f[None, :, m]
            lt |= a[:, m, None] < f[None, :, m]
        d = le & lt
        doms.append(d)
        count += np.count_nonzero(d, axis=0)
    dom = np.concatenate(doms, axis=0)
    rank = np.full(n, -1, dtype=np.int64)
    r, front = 0, np.flatnonzero(count == 0)
    while front.size:
        rank[front] = r
        count = count - np.count_nonzero(dom[front], axis=0)
        count[rank >= 0] = -1
        front = np.flatnonzero(count == 0)
        r += 1
    rank[rank < 0] = r
    # crowding distance within each front, objectives rescaled by rank-robust min/max
    finite = np.where(np.isfinite(f), f, np.nan)
    lo, hi = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
    lo, hi = np.nan_to_num(lo), np.nan_to_num(hi)
    # an objective spanning more than 1.8e308 (-1e308 to 1e308) is halved first, exactly, so its
    # range stays finite (else every crowding distance on it is NaN); others are left as they are
    with np.errstate(over="ignore"):
        sc = np.where(np.isfinite(hi - lo), 1.0, 0.5)
    lo_s, span = lo * sc, hi * sc - lo * sc
    g = np.clip((np.nan_to_num(f, posinf=hi, neginf=lo) * sc - lo_s) / np.where(hi > lo, span, 1.0), 0, 1)
    crowd = np.zeros(n)
    for k in range(r + 1):
        idx = np.flatnonzero(rank == k)
        if idx.size <= 2:
            crowd[idx] = np.inf
            continue
        for m in range(g.shape[1]):
            o = idx[np.argsort(g[idx, m], kind="stable")]
            v = g[o, m]
            crowd[o[0]] = crowd[o[-1]] = np.inf
            crowd[o[1:-1]] += v[2:] - v[:-2]
    return rank, crowd


def _improvement_weights(
    loss: np.ndarray, good: np.ndarray, complete: np.ndarray
) -> np.ndarray | None:
    """Weights of the good rows proportional to their improvement over the split threshold.

    With ``y*`` the best loss outside the good group (the gamma quantile; the worst good loss if
    every row is good), the good row ``i`` weighs ``y* - y_i`` (Song et al. 2022: the density
    ratio of improvement-weighted good points is expected improvement, whereas equal weights give
    probability of improvement). They are scaled to average 1, so the group keeps the total
    weight of equal weights and the prior its share. None (equal weights) when undefined: a
    non-finite loss among them, a good row that is not COMPLETE (a PRUNED row's value is not
    comparable), or no positive improvement (all tied).

    Args:
        loss: Loss (minimized) of every row of the group.
        good: Bool mask of the good rows.
        complete: Bool mask of the COMPLETE rows.
    """
    y = loss[good]
    if y.size < 2 or not np.all(complete[good]) or not np.all(np.isfinite(y)):
        return None
    rest = loss[complete & ~good]
    rest = rest[np.isfinite(rest)]
    threshold = float(rest.min()) if rest.size else float(y.max())
    w = np.maximum(threshold - y, 0.0)
    total = w.sum()
    if not (total > 0 and np.isfinite(total)):
        return None
    return w * (w.size / total)


def _forget_weights(n: int, flat: int = 25) -> np.ndarray:
    """Linear forgetting (Bergstra et al. 2013): the ``flat`` newest rows weigh 1, older ones
    ramp down linearly to ``1 / n`` (rows in the order they finished)."""
    if n <= flat:
        return np.ones(n)
    return np.concatenate([np.linspace(1.0 / n, 1.0, n - flat), np.ones(flat)])


class TPESampler(DerivedCaches, Sampler):
    """Tree-structured Parzen Estimator, multivariate by default.

    Args:
        seed: An int, a numpy Generator or None (fresh entropy).
        n_startup_trials: Random trials before the model is used (COMPLETE/PRUNED ones count).
        n_candidates: Candidates drawn from the good model per group and ask.
        gamma: Fraction of the trials in the good group, ``n_good = min(ceil(gamma * n),
            max_good)`` (``0 < gamma <= 1``), or a callable ``n -> n_good``.
        max_good: Cap on the good group's size for a constant ``gamma``.
        multivariate: Joint kernels over each group (True) or independent ones per parameter.
        bandwidth_factor: Multiplies the numeric kernels' Scott-rule bandwidth (``> 0``).
        min_bandwidth: Smallest numeric bandwidth in unit coordinates (``> 0``).
        categorical_bandwidth: Smoothing of categorical kernels (``0 < b <= 1``).
        prior_weight: Weight of the uniform prior component, in observations (``> 0``).
        constant_liar: Put running trials into the bad group.
        bad_bandwidth: Bandwidth rule of the bad model's continuous columns: ``"neighbour"``
            (per trial, from neighbour distances) or ``"scott"`` (the good model's rule).
        forget: Weigh the bad group's trials by age (the 25 newest 1, older ones less).
        good_weights: Weights of the good group's trials: ``"improvement"`` (proportional to
            how much each improves on the split threshold; one objective, see the module
            docstring) or ``"uniform"``.

    Raises:
        TypeError, ValueError: An invalid setting, naming it.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study(sampler="tpe", seed=1)
        >>> for _ in range(15):
        ...     t = study.ask({"x": hpopt.Float(-5, 5), "n": hpopt.Int(1, 8)})
        ...     _ = study.tell(t, (t.params["x"] - 1) ** 2 + t.params["n"])
        >>> len(study.trials)
        15
    """

    _derived = ("_caches",)

    def __init__(
        self,
        *,
        seed: int | np.random.Generator | None = None,
        n_startup_trials: int = 10,
        n_candidates: int = 24,
        gamma: float | Callable[[int], int] = 0.1,
        max_good: int = 25,
        multivariate: bool = True,
        bandwidth_factor: float = 1.0,
        min_bandwidth: float = 1e-3,
        categorical_bandwidth: float = 0.5,
        prior_weight: float = 1.0,
        constant_liar: bool = True,
        bad_bandwidth: str = "neighbour",
        forget: bool = True,
        good_weights: str = "improvement",
    ) -> None:
        self.seed = resolve_seed(seed)
        self.n_startup_trials = _count("n_startup_trials", n_startup_trials, 0)
        self.n_candidates = _count("n_candidates", n_candidates, 1)
        if callable(gamma):
            self.gamma: float | Callable[[int], int] = gamma
        else:
            self.gamma = _positive("gamma", gamma, upper=1.0)
        self.max_good = _count("max_good", max_good, 1)
        self.multivariate = check_bool("multivariate", multivariate)
        self.bandwidth_factor = _positive("bandwidth_factor", bandwidth_factor)
        self.min_bandwidth = _positive("min_bandwidth", min_bandwidth, upper=1.0)
        self.categorical_bandwidth = _positive(
            "categorical_bandwidth", categorical_bandwidth, upper=1.0
        )
        self.prior_weight = _positive("prior_weight", prior_weight)
        self.constant_liar = check_bool("constant_liar", constant_liar)
        if bad_bandwidth not in ("scott", "neighbour"):
            raise ValueError(
                "`bad_bandwidth` must be 'scott' or 'neighbour', but got "
                f"bad_bandwidth={bad_bandwidth!r}."
            )
        self.bad_bandwidth = bad_bandwidth
        self.forget = check_bool("forget", forget)
        if good_weights not in ("uniform", "improvement"):
            raise ValueError(
                "`good_weights` must be 'uniform' or 'improvement', but got "
                f"good_weights={good_weights!r}."
            )
        self.good_weights = good_weights
        self._lock = threading.Lock()
        self._caches: dict[int, _Cache] = {}

    def __repr__(self) -> str:
        return (
            f"TPESampler(seed={self.seed}, n_startup_trials={self.n_startup_trials}, "
            f"n_candidates={self.n_candidates}, gamma={self.gamma!r}, "
            f"multivariate={self.multivariate})"
        )


    # -- history ------------------------------------------------------------------------------------
    def _cache(self, history: History) -> _Snapshot:
        """The study's encoded trials, brought up to date.

        The history is read before taking the sampler's lock: the storage may call the sampler
        while holding its own lock, so the two are never nested the other way round.
        """
        fin = history.finished()
        with self._lock:
            key = id(history)
            cache = self._caches.get(key)
            if cache is None or cache.history is not history:
                if len(self._caches) >= _MAX_CACHES:
                    self._caches.pop(next(iter(self._caches)))
                cache = self._caches[key] = _Cache(history)
            cache.sync(fin)
            return cache.snapshot()

    def n_good(self, n: int) -> int:
        """Size of the good group among ``n`` ranked trials (at least 1 when ``n >= 1``)."""
        if n <= 0:
            return 0
        if callable(self.gamma):
            k = int(self.gamma(n))
        else:
            k = min(math.ceil(self.gamma * n), self.max_good)
        return int(min(max(k, 1), n))

    # -- protocol -----------------------------------------------------------------------------------
    def joint_space(self, history: History) -> dict[str, Distribution]:
        """Every parameter seen in a finished trial, with its latest distribution."""
        names = list(self._cache(history).cols)
        out = {}
        for name in names:
            dist = history.known_distribution(name)
            if dist is not None:
                out[name] = dist
        return out

    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        snap = self._cache(history)
        running = self._running(history, trial.number)
        out: dict[str, Any] = {}
        for names in self._groups(snap, list(space)):
            sub = {n: space[n] for n in names}
            out.update(self._sample_group(snap, running, trial.number, sub, dedup=True))
        return out

    def sample(self, history: History, trial: TrialInfo, name: str, distribution: Distribution) -> Any:
        snap = self._cache(history)
        running = self._running(history, trial.number)
        values = self._sample_group(snap, running, trial.number, {name: distribution}, dedup=False)
        return values[name]

    # -- internals ----------------------------------------------------------------------------------
    def _groups(self, cache: _Snapshot, names: list[str]) -> list[list[str]]:
        """Partition ``names`` by which trial parameter sets contain them (see module docstring)."""
        sets = cache.sets
        by_sig: dict[tuple[bool, ...], list[str]] = {}
        for n in names:
            by_sig.setdefault(tuple(n in s for s in sets), []).append(n)
        return list(by_sig.values())

    @staticmethod
    def _running(history: History, number: int) -> list[dict[str, Any]]:
        out = []
        for t in history.running():
            if t.number == number:
                continue
            out.append(running_params(t))
        return out

    def _internal(
        self, cache: _Snapshot, names: list[str], space: Mapping[str, Distribution]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Internal values of the finished trials that have every name, and their row indices."""
        cols = [cache.cols.get(n) for n in names]
        if any(c is None for c in cols):
            return np.empty((0, len(names))), np.empty(0, dtype=np.int64)
        x = np.stack([c[: cache.n] for c in cols], axis=1)  # type: ignore[index]
        rows = np.flatnonzero(~np.isnan(x).any(axis=1))
        x = x[rows]
        for j, n in enumerate(names):  # a categorical's index must be one of its choices
            if isinstance(space[n], Categorical):
                k = len(space[n].choices)  # type: ignore[union-attr]
                ok = (x[:, j] >= 0) & (x[:, j] < k)
                x, rows = x[ok], rows[ok]
        return x, rows

    @staticmethod
    def _encode_running(
        running: list[dict[str, Any]], names: list[str], space: Mapping[str, Distribution]
    ) -> np.ndarray:
        rows = []
        for params in running:
            try:
                rows.append([space[n].to_internal(params[n]) for n in names])
            except (KeyError, TypeError, ValueError):
                continue
        return np.array(rows, dtype=float).reshape(-1, len(names))

    def _sample_group(
        self,
        cache: _Snapshot,
        running: list[dict[str, Any]],
        number: int,
        space: Mapping[str, Distribution],
        *,
        dedup: bool,
    ) -> dict[str, Any]:
        names = list(space)
        box = Box(space)
        stream = zlib.crc32("\x00".join(sorted(names)).encode("utf-8"))
        rng = trial_rng(self.seed, number, stream)
        x, rows = self._internal(cache, names, space)
        x_run = self._encode_running(running, names, space)
        u_obs, u_run = box.normalize(x), box.normalize(x_run)
        r = cache.ranks[rows]
        model = r < cache.n_model  # COMPLETE and PRUNED rows; FAIL rows only ever count as bad
        n_model = int(np.count_nonzero(model))
        n_total = cache.n_model
        seen = None
        if dedup and box.size is not None:
            # configurations outside the current range were clipped: they are not "taken"
            taken = [box.keys(u_obs[box.inside(x)]), box.keys(u_run[box.inside(x_run)])]
            seen = np.unique(np.concatenate(taken))
            seen = seen if seen.size else None
        if n_total < self.n_startup_trials or n_model == 0:
            # start-up: the random sampler's draw first, then more uniform draws
            first = [unit_hash(self.seed, number, n) for n in names]
            cand = box.snap(np.vstack([first, rng.random((self.n_candidates, box.dim))]))
            score = -np.arange(cand.shape[0], dtype=float)
            return box.decode(self._pick(box, cand, score, seen, None, rng))
        good_mask = np.zeros(rows.size, dtype=bool)
        idx = np.flatnonzero(model)
        k = self.n_good(n_model)
        if k < idx.size:  # ranks are distinct: the k smallest are the good group
            idx = idx[np.argpartition(r[idx], k - 1)[:k]]
        good_mask[idx] = True
        kw = dict(
            joint=self.multivariate,
            bandwidth_factor=self.bandwidth_factor,
            min_bandwidth=self.min_bandwidth,
            categorical_bandwidth=self.categorical_bandwidth,
            prior_weight=self.prior_weight,
        )
        wg = None
        if self.good_weights == "improvement" and cache.loss is not None:
            wg = _improvement_weights(cache.loss[rows], good_mask, cache.state[rows] == _COMPLETE)
        lpe = ParzenEstimator(box, u_obs[good_mask], weights=wg, **kw)  # type: ignore[arg-type]
        # bad model: rows in the order they finished (the cache's), older ones forgotten linearly
        wb = _forget_weights(int(np.count_nonzero(~good_mask))) if self.forget else None
        gpe: Any = ParzenEstimator(
            box,
            u_obs[~good_mask],
            weights=wb,
            neighbour=self.bad_bandwidth == "neighbour",
            **kw,  # type: ignore[arg-type]
        )
        if self.constant_liar and u_run.shape[0]:
            gpe = LiarMixture(gpe, u_run, lpe)
        cand = lpe.sample(rng, self.n_candidates)
        score = lpe.log_pdf(cand) - gpe.log_pdf(cand)
        return box.decode(self._pick(box, cand, score, seen, (lpe, gpe), rng))

    def _pick(
        self,
        box: Box,
        cand: np.ndarray,
        score: np.ndarray,
        seen: np.ndarray | None,
        models: tuple[ParzenEstimator, ParzenEstimator] | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The best-scored candidate whose discrete configuration is not taken (see module doc)."""
        best = int(np.argmax(score))
        if seen is None:
            return cand[best]

        def ratio(u: np.ndarray) -> np.ndarray:
            if models is None:
                return rng.random(u.shape[0])
            return models[0].log_pdf(u) - models[1].log_pdf(u)

        for attempt in range(2):
            free = ~np.isin(box.keys(cand), seen)
            if free.any():
                return cand[np.flatnonzero(free)[np.argmax(score[free])]]
            if attempt == 0:  # enlarge the candidate set
                extra = 8 * self.n_candidates
                more = models[0].sample(rng, extra) if models else box.snap(rng.random((extra, box.dim)))
                cand, score = np.vstack([cand, more]), np.concatenate([score, ratio(more)])
        size = int(box.size)  # type: ignore[arg-type]
        if size <= _ENUMERATE_LIMIT:
            untaken = np.setdiff1d(np.arange(size, dtype=np.int64), seen, assume_unique=True)
            if untaken.size == 0:
                return cand[best]  # exhausted: a duplicate cannot be avoided
            if untaken.size > _SCORE_LIMIT:
                untaken = rng.choice(untaken, _SCORE_LIMIT, replace=False)
            u = box.from_keys(untaken)
        else:
            u = box.snap(rng.random((_SCORE_LIMIT, box.dim)))
            u = u[~np.isin(box.keys(u), seen)]
            if u.shape[0] == 0:
                return cand[best]
        return u[int(np.argmax(ratio(u)))]
