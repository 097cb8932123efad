"""CMA-ES sampler: restarts (IPOP/BIPOP), integer margins, joint categoricals, warm start, surrogate.

The numerics live in :mod:`hpopt.samplers.cma_core`; this module turns a study's history into a
CMA-ES state and draws each trial's parameters from it.

**State rebuilt from the history, nothing else.** The sampler keeps no state a fresh process
could not rebuild. The state is a pure function of the stored trials:

1. The trials that count are the COMPLETE ones holding every parameter of the space with the same
   distribution. FAIL and PRUNED trials are skipped, so their slots are simply resampled; RUNNING
   ones are never waited for. A history where whole generations failed just has fewer generations.
2. They are replayed in the order they finished (finish timestamp, then number). Each run of
   ``popsize`` consecutive trials in that order forms a generation and triggers one update; so a
   generation is formed from whichever trials finish first, whatever worker ran them.
3. For each replayed trial the sampler redraws, from ``trial_rng(seed, number)`` and the current
   distribution, the candidate it would have proposed. If that candidate decodes to the stored
   parameters, the trial was drawn from the current distribution and its exact continuous
   candidate enters the update (CMA-ES with margin needs the pre-rounding value). Otherwise (a
   late finisher drawn from an earlier generation, an enqueued or a fallback trial) it is
   *injected* (Hansen 2011): its encoded parameters enter with the Mahalanobis length of their
   step clipped, which keeps the update sound whatever produced the point.
4. Restarts (IPOP: doubled population; BIPOP: alternating large and small populations by budget)
   happen in the replay when a stopping criterion fires; the random choices of a restart come
   from ``trial_rng(seed, number_of_the_last_trial, stream)``, so they are replayed identically.

A fresh process replaying the same trials reaches the same state and continues the same search.
The replay is cached per search space and advanced incrementally as trials finish, so an ask
costs the new trials only (a trial finishing "in the past" of the replayed order triggers a full,
still deterministic, replay).

**Surrogate (lq-CMA-ES, the default on all-continuous spaces).** With ``surrogate="lq"``
(Hansen 2019, "A Global Surrogate Assisted CMA-ES"; model in
:mod:`~hpopt.samplers.cma_surrogate`) a generation is ``popsize`` candidates drawn at once from
``trial_rng(seed, number + 1, 2)``, where ``number`` is the trial that closed the previous
generation (-1 for the first): the replay draws the same ones. A global linear / diagonal / full
quadratic regression, fitted on the recent COMPLETE trials of the run, orders them; each ask
proposes the model-best candidate that no finished trial of the generation has and no RUNNING
trial holds (so several workers take distinct ones; when none is left, a draw keyed by the trial
number, as without the surrogate). A candidate whose trial FAILed or was PRUNED is not proposed
again: such trials do not enter the update, and the same candidate would fail again and again.
The replay matches each finished trial to a candidate; once
``k`` of them are evaluated (5 with an empty archive, 1 from 4 points on) it refits the model and
measures Kendall's tau between model and true values on the recent points: at ``tau >= 0.85``
the generation is closed and the update ranks *all* candidates by the model (shifted so that the
best equals the best true value); otherwise ``ceil(k / 2)`` more are evaluated, up to the whole
population (a model that cannot rank — noise, a rugged function — so costs nothing but the fits).
Every decision uses only the trials replayed before it, so the state stays a pure function of
the stored trials. Trials that match no candidate (late finishers, enqueued or fallback trials)
join the generation as extra members, injected as above, in the places of the candidates the
model ranks last. The model is reset at each restart. On a space with integers, steps or
categoricals the objective is not a smooth function of the continuous candidate, so there the
surrogate is off and the sampler behaves exactly as with ``surrogate=None``.

**Search space.** ``ask(space)`` optimizes ``space``. In define-by-run CMA-ES models the
intersection of the parameters of all COMPLETE trials (with equal distributions), or the warm
start's space before any trial completed. Parameters outside it (the branches of a conditional
space) belong to ``fallback_sampler``: by default a
:class:`~hpopt.samplers.branch.BranchSampler`, which models each conditional group from the trials
that have it with :class:`~hpopt.samplers.tpe.TPESampler` for its first few trials and then with a
CMA-ES of its own, warm-started from them, so those parameters are optimized too (and keep
converging) rather than drawn at random. A branch's parameters are sampled together, when the
trial suggests the first of them (see :class:`~hpopt.samplers.replay.GroupedFallback`); pass
``fallback_sampler=TPESampler(...)`` (the previous default), ``RandomSampler(...)`` or any sampler
to choose otherwise.

**Encodings.** Numeric parameters live in the unit box of :class:`hpopt.SpaceTransform` (log scale
for ``log=True``, equal cells for integers and steps, handled with a margin). Categorical
parameters have their own probability vectors updated jointly with the Gaussian (CatCMA's
model; see :mod:`~hpopt.samplers.cma_core`), rather than a one-hot relaxation: the categorical
family is the exact model for unordered choices, and its margin keeps every choice reachable.

**Separable variant.** ``separable="auto"`` uses a diagonal covariance when the space has at least
``SEPARABLE_THRESHOLD`` (40) numeric parameters: there the ``O(n^2)`` full model learns too slowly
for hyperparameter budgets.

Example:
    >>> import hpopt
    >>> study = hpopt.create_study(sampler="cmaes", seed=0)
    >>> space = {"x": hpopt.Float(-5, 5), "n": hpopt.Int(0, 10), "c": hpopt.Categorical(["a", "b"])}
    >>> for _ in range(60):
    ...     t = study.ask(space)
    ...     p = t.params
    ...     _ = study.tell(t, (p["x"] - 1) ** 2 + (p["n"] - 3) ** 2 + (p["c"] == "b"))
    >>> study.best_value < 1.0
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hpopt.distributions import Distribution, Float, Int
from hpopt.records import FrozenTrial, TrialState
from hpopt.rng import resolve_seed, trial_rng
from hpopt.samplers.base import History, Sampler, TrialInfo, running_params
from hpopt.samplers.branch import BranchSampler
from hpopt.samplers.cma_core import CMA, SEPARABLE_THRESHOLD, default_popsize
from hpopt.samplers.cma_surrogate import TAU_THRESHOLD, LQModel, first_batch, n_for_tau
from hpopt.samplers.replay import (
    GroupedFallback,
    MixedSpace,
    ReplaySampler,
    order_key,
    positive,
    space_key,
)

__all__ = ["CmaEsSampler"]

_MIN_POPSIZE = 2  # mu = popsize // 2 must be >= 1
_MATCH_TOL = 1e-9  # unit-box tolerance when recognising a redrawn candidate
_MAX_DRAWN = 1024  # candidates kept for trials still running (many workers)
_RESTART_STREAM = 1  # trial_rng stream for a restart's random choices
_GENERATION_STREAM = 2  # trial_rng stream for a surrogate generation's candidates
_WS_ALPHA = 0.1  # WS-CMA-ES prior width in the unit box (Nomura et al. 2021)
_WS_GAMMA = 0.1  # WS-CMA-ES fraction of the source trials taken as promising
#: Initial step size in the unit box: the optimum within mean +- 3 sigma0 (Hansen 2016, tutorial).
DEFAULT_SIGMA0 = 1.0 / 6.0


class _Run(MixedSpace):
    """The replayed state for one search space: the current CMA plus restart bookkeeping."""

    def __init__(self, sampler: CmaEsSampler, space: Mapping[str, Distribution]) -> None:
        super().__init__(space)
        self.thresholds = [_thresholds(space[k]) for k in self.num_names]
        self.s = sampler
        n_all = len(self.num_names) + len(self.cat_names)
        self.base_popsize = sampler.popsize or default_popsize(n_all)
        self.separable = (
            len(self.num_names) >= SEPARABLE_THRESHOLD
            if sampler.separable == "auto"
            else bool(sampler.separable)
        )
        self.seen: set[int] = set()
        self.last_key: tuple[float, int] = (-math.inf, -1)
        self.version = -1
        self.restarts = 0
        self.restart_reasons: list[str] = []
        self.budget = {"large": 0, "small": 0}
        self.regime = "large"
        self.large_popsize = self.base_popsize
        self.pending: list[tuple[np.ndarray, np.ndarray, float, bool]] = []
        # Candidates drawn for trial numbers (see ``draw``): number -> (cma, generation, x, cats).
        self.drawn: dict[int, tuple[CMA, int, np.ndarray, np.ndarray]] = {}
        self.continuous = not self.tf.discrete.any()  # no integer, step or categorical column
        self.cma = self._first_cma()
        # The surrogate models continuous coordinates only: on a space with integers, steps or
        # categoricals the objective is not a smooth function of the candidate, so it is off there.
        self.lq = (
            sampler.surrogate == "lq"
            and bool(self.num_names)
            and not self.cat_names
            and all(t is None for t in self.thresholds)
        )
        self.model: LQModel | None = None
        self.gen: _Generation | None = None
        self.gen_evals: list[int] = []  # true evaluations of each surrogate generation
        self.n_extras = 0  # trials that matched no candidate of their generation
        if self.lq:
            self._new_generation(-1, reset=True)

    def _first_cma(self) -> CMA:
        s, n = self.s, len(self.num_names)
        mean, cov, sigma, q0 = np.full(n, 0.5), None, s.sigma0, None
        if s.x0 is not None:
            missing = [k for k in self.num_names if k not in s.x0]
            if missing:
                raise ValueError(f"`x0` lacks parameters {missing} of the search space.")
            errors = [e for k in self.num_names if (e := _x0_error(k, s.x0[k], self.space[k])) is not None]
            if errors:
                raise ValueError(
                    f"`x0` must hold real numbers inside the search space, but {'; '.join(errors)}."
                )
            mean = self.tf.encode(s.x0)
        if s.warm_start_trials is not None:
            mean, sigma, cov, q0 = self._warm_start(s.warm_start_trials)
        return self._cma(self.base_popsize, mean, sigma, cov, q0)

    def _cma(self, popsize: int, mean: np.ndarray, sigma: float, cov: Any = None, q0: Any = None) -> CMA:
        return CMA(
            self.thresholds, self.cat_sizes, mean=mean, sigma=sigma, popsize=popsize, cov=cov,
            separable=self.separable, margin=self.s.margin, q0=q0,
        )

    def _warm_start(self, trials: Sequence[FrozenTrial]) -> tuple[Any, float, Any, Any]:
        """WS-CMA-ES (Nomura et al. 2021): fit the initial Gaussian to the best source trials."""
        s = self.s
        spaces = {space_key(t.distributions) for t in trials}
        if spaces != {space_key(self.space)}:
            other = dict(trials[0].distributions)
            raise ValueError(
                "`warm_start_trials` must share the study's search space, but the warm start has "
                f"{other} and the study samples {self.space}."
            )
        sign = -1.0 if s._maximize else 1.0
        ranked = sorted(trials, key=lambda t: sign * t.values[0])  # type: ignore[index]
        top = ranked[: max(1, math.ceil(_WS_GAMMA * len(ranked)))]
        u = self.tf.encode_many([t.params for t in top])
        n = u.shape[1]
        mean = u.mean(axis=0)
        cov = _WS_ALPHA**2 * np.eye(n) + (u - mean).T @ (u - mean) / len(top)
        sigma = float(np.exp(np.linalg.slogdet(cov)[1] / (2 * n))) if n else s.sigma0
        cov = cov / sigma**2
        q0 = []
        for k, name in zip(self.cat_sizes, self.cat_names):
            counts = np.ones(k)  # one pseudo-count each: no choice starts at zero
            for t in top:
                counts[self.space[name].index(t.params[name])] += 1  # type: ignore[union-attr]
            q0.append(counts / counts.sum())
        return mean, sigma, cov, q0

    # -- replay -------------------------------------------------------------------------------------
    def relevant(self, t: FrozenTrial) -> bool:
        if t.state is not TrialState.COMPLETE or t.values is None:
            return False
        dists = t.distributions
        return all(dists.get(k) == d for k, d in self.space.items())

    def feed(self, trials: Sequence[FrozenTrial]) -> None:
        """Replay ``trials`` (already in finish order) into the state."""
        sign = -1.0 if self.s._maximize else 1.0
        for t in trials:
            self.seen.add(t.number)
            self.last_key = order_key(t)
            if self.lq:
                self.budget[self.regime] += 1  # true evaluations, as in BIPOP
                self._feed_lq(t, sign * float(t.values[0]))  # type: ignore[index]
                continue
            x, cats, native = self._locate(t)
            self.pending.append((x, cats, sign * float(t.values[0]), not native))  # type: ignore[index]
            self.budget[self.regime] += 1
            if len(self.pending) == self.cma.popsize:
                self._update(t.number)

    def draw(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        """Trial ``number``'s candidate from the current distribution: a pure function of the
        distribution and the number, so a proposal and its replay agree. The draw is kept until
        the distribution changes (the trial's replay usually follows its proposal unchanged)."""
        cma = self.cma
        kept = self.drawn.get(number)
        if kept is not None and kept[0] is cma and kept[1] == cma.generation:
            return kept[2], kept[3]
        x, c = cma.sample(trial_rng(self.s.seed, number))
        if len(self.drawn) >= _MAX_DRAWN:
            self.drawn.pop(next(iter(self.drawn)))
        self.drawn[number] = (cma, cma.generation, x, c)
        return x, c

    def snap(self, X: np.ndarray) -> np.ndarray:
        """Candidate rows -> the unit points their trials evaluate (``tf.snap``; on a space of
        continuous parameters only, the box is all there is to it, up to the rounding of the
        parameter's round trip, far below ``_MATCH_TOL``)."""
        if self.continuous:
            return np.minimum(np.maximum(np.atleast_2d(X), 0.0), 1.0)
        return self.tf.snap(X)

    def _native(self, x: np.ndarray, u: np.ndarray) -> bool:
        """Whether the candidate ``x`` is the point ``u`` a trial evaluated (after snapping)."""
        return not u.size or bool((np.abs(self.snap(x)[0] - u) <= _MATCH_TOL).all())

    def _locate(self, t: FrozenTrial) -> tuple[np.ndarray, np.ndarray, bool]:
        """The trial's candidate: redrawn exactly when it came from the current distribution."""
        params = t.params
        u = self.tf.encode(params)
        cats = np.array(
            [self.space[k].index(params[k]) for k in self.cat_names], dtype=int  # type: ignore[union-attr]
        )
        x, c = self.draw(t.number)
        self.drawn.pop(t.number, None)  # finished: never drawn again
        same = np.array_equal(c, cats) and self._native(x, u)
        return (x, cats, True) if same else (u, cats, False)

    def _update(self, number: int) -> None:
        xs = np.array([p[0] for p in self.pending]).reshape(len(self.pending), -1)
        cats = np.array([p[1] for p in self.pending], dtype=int).reshape(len(self.pending), -1)
        fs = np.array([p[2] for p in self.pending])
        inj = np.array([p[3] for p in self.pending])
        self.pending = []
        self.cma.tell(xs, cats, fs, inj)
        self.drawn.clear()  # drawn from the old distribution
        reason = self.cma.stop_reason(tolfun=self.s.tolfun, tolx=self.s.tolx)
        if reason is not None and self.s.restart is not None:
            self._restart(number, reason)

    def _restart(self, number: int, reason: str) -> None:
        rng = trial_rng(self.s.seed, number, _RESTART_STREAM)
        mean = rng.random(len(self.num_names))
        sigma = self.s.sigma0
        if self.s.restart == "ipop":
            popsize = self.cma.popsize * self.s.inc_popsize
        elif self.budget["small"] < self.budget["large"]:  # BIPOP, small regime (Hansen 2009)
            self.regime = "small"
            v = float(rng.random())
            ratio = 0.5 * self.large_popsize / self.base_popsize
            popsize = max(_MIN_POPSIZE, int(self.base_popsize * ratio ** (v * v)))
            sigma = self.s.sigma0 * 10 ** (-2 * v)
        else:  # BIPOP, large regime: the population doubles each time
            self.regime = "large"
            self.large_popsize *= self.s.inc_popsize
            popsize = self.large_popsize
        self.restarts += 1
        self.restart_reasons.append(reason)
        self.cma = self._cma(popsize, mean, sigma)

    # -- surrogate (lq-CMA-ES) ----------------------------------------------------------------------
    def _new_generation(self, number: int, reset: bool) -> None:
        """Draw the next generation's candidates (keyed by the trial that closed the previous
        one, so a replay draws the same) and order them by the refitted model."""
        lam = self.cma.popsize
        if reset or self.model is None:
            self.model = LQModel(len(self.num_names), lam)
        X = self.cma.sample_many(trial_rng(self.s.seed, number + 1, _GENERATION_STREAM), lam)
        self.model.fit()
        self.gen = _Generation(X, self.snap(X), first_batch(lam, self.model.size), number)
        self.gen.order = np.argsort(self.model.predict(X), kind="stable")

    def _feed_lq(self, t: FrozenTrial, f: float) -> None:
        """One finished trial into the current surrogate generation; update when it is decided."""
        gen, model = self.gen, self.model
        assert gen is not None and model is not None
        u = self.tf.encode(t.params)
        hit = np.flatnonzero(~gen.done & np.all(np.abs(gen.snapped - u) <= _MATCH_TOL, axis=1))
        if hit.size:
            i = int(hit[0])
            gen.done[i], gen.f[i] = True, f
            model.add(gen.X[i], f)
        else:  # a fallback draw, a late finisher or an enqueued trial: an extra member
            x, _ = self.draw(t.number)
            self.drawn.pop(t.number, None)
            native = self._native(x, u)
            gen.extras.append((x if native else u, f, not native))
            self.n_extras += 1
            model.add(x if native else u, f)
        lam = self.cma.popsize
        count = int(gen.done.sum()) + len(gen.extras)
        if count >= lam:
            self._update_lq(t.number, None)
        elif count >= gen.target:
            model.fit()
            tau = model.kendall(n_for_tau(lam, count))
            if tau >= TAU_THRESHOLD:
                self._update_lq(t.number, model)
            else:  # poor agreement: evaluate ceil(k / 2) more candidates (Hansen 2019)
                gen.target += math.ceil(gen.target / 2)
                gen.order = np.argsort(model.predict(gen.X), kind="stable")

    def _update_lq(self, number: int, model: LQModel | None) -> None:
        """Update from the generation: true values, or (``model`` given) the model's values for
        every member, shifted so that the best equals the best true value (Hansen 2019)."""
        gen = self.gen
        assert gen is not None
        lam = self.cma.popsize
        done = np.flatnonzero(gen.done)
        ex_x = np.array([e[0] for e in gen.extras]).reshape(len(gen.extras), len(self.num_names))
        ex_f = np.array([e[1] for e in gen.extras])
        ex_inj = np.array([e[2] for e in gen.extras], dtype=bool)
        true = np.concatenate([gen.f[done], ex_f])
        if model is None:
            rows = np.vstack([gen.X[done], ex_x])
            fs = true
            inj = np.concatenate([np.zeros(done.size, bool), ex_inj])
        else:
            # The extras take the places of the unevaluated candidates the model ranks last.
            rest = gen.order[~gen.done[gen.order]][: lam - done.size - len(gen.extras)]
            rows = np.vstack([gen.X[done], ex_x, gen.X[rest]])
            inj = np.concatenate([np.zeros(done.size, bool), ex_inj, np.zeros(rest.size, bool)])
            fs = model.predict(rows)
            finite = np.isfinite(true)
            if finite.any():
                fs = fs - fs.min() + true[finite].min()
            bad = np.flatnonzero(~finite)  # a non-finite true value keeps its place (last)
            fs[bad] = np.where(np.isnan(true[bad]), np.inf, true[bad])
        self.gen_evals.append(int(done.size + len(gen.extras)))
        self.cma.tell(rows, np.empty((lam, 0), dtype=int), fs, inj)
        self.drawn.clear()  # drawn from the old distribution
        reason = self.cma.stop_reason(tolfun=self.s.tolfun, tolx=self.s.tolx)
        restarted = reason is not None and self.s.restart is not None
        if restarted:
            self._restart(number, reason)  # type: ignore[arg-type]
        self._new_generation(number, reset=restarted)

    def claimed(self, running: Sequence[FrozenTrial]) -> np.ndarray:
        """Which candidates of the current generation running trials are evaluating."""
        gen = self.gen
        assert gen is not None
        rows = []
        for t in running:
            params = running_params(t)  # a define-by-run trial's plan too
            if all(
                k in params and t.distributions.get(k, d) == d and d.contains(params[k])
                for k, d in self.space.items()
            ):
                rows.append(params)
        if not rows:
            return np.zeros(len(gen.X), dtype=bool)
        u = self.tf.encode_many(rows)
        close = np.all(np.abs(gen.snapped[:, None, :] - u[None]) <= _MATCH_TOL, axis=2)
        return close.any(axis=1)

    def propose_lq(self, number: int, claimed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model-best candidate nobody has evaluated or is evaluating; once there is none
        (many workers), a draw from the distribution keyed by the trial number."""
        gen = self.gen
        assert gen is not None
        free = gen.order[~(gen.done | claimed)[gen.order]]
        if free.size:
            return gen.X[free[0]].copy(), np.zeros(0, dtype=int)
        return self.draw(number)


class _Generation:
    """One surrogate generation: its ``popsize`` candidates, which were evaluated (true values),
    the extra members (``(x, f, injected)``) and the evaluation count of the next check."""

    def __init__(self, X: np.ndarray, snapped: np.ndarray, target: int, opened: int = -1) -> None:
        self.X = X
        # the trial whose replay drew the generation: its candidates went to later trial numbers
        self.opened = opened
        self.snapped = snapped
        self.done = np.zeros(len(X), dtype=bool)
        self.f = np.full(len(X), np.nan)
        self.extras: list[tuple[np.ndarray, float, bool]] = []
        self.target = target
        self.order = np.arange(len(X))


def _check_x0(x0: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``x0`` as a dict; a non-finite number is refused now (naming the entry). Entries of
    categorical parameters (e.g. ``x0=study.best_params``) are ignored, as before; the numeric
    parameters' entries are checked against the space when it is known (:meth:`_Run._first_cma`)."""
    if x0 is None:
        return None
    if not isinstance(x0, Mapping):
        raise TypeError(f"`x0` must be a mapping of parameter names to values or None, but got {x0!r}.")
    for k, v in x0.items():
        if isinstance(v, (float, np.floating)) and not math.isfinite(v):
            raise ValueError(f"`x0[{k!r}]` must be finite, but got {v!r}.")
    return dict(x0)


def _x0_error(name: str, value: Any, dist: Distribution) -> str | None:
    """Why ``value`` cannot start the numeric parameter ``name`` of ``dist`` (None when it can)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return f"x0[{name!r}]={value!r} is not a real number"
    if not dist.low <= value <= dist.high:  # type: ignore[attr-defined]
        return f"x0[{name!r}]={value!r} is outside {dist}"
    return None


#: A discrete parameter with more values than this is treated as continuous by the CMA (its proposals
#: are still snapped onto the grid): the integer margin matters only for the few cells around the
#: mean, and one boundary per value would not fit in memory (an Int from 0 to 10**9 has 10**9).
_MAX_CELLS = 2**16


def _thresholds(dist: Distribution) -> np.ndarray | None:
    """None for a continuous parameter (or one with more than ``_MAX_CELLS`` values), else the
    unit-box boundaries between its values."""
    if isinstance(dist, Float) and dist.step is None:
        return None
    lo, hi = dist.internal_bounds
    if hi <= lo:
        return np.empty(0)
    span = dist.high - dist.low  # type: ignore[union-attr]
    cells = span if isinstance(dist, Int) and dist.log else span / dist.step  # type: ignore[union-attr]
    if cells > _MAX_CELLS:
        return None
    if isinstance(dist, Int) and dist.log:
        inner = np.log(np.arange(dist.low, dist.high) + 0.5)
    else:
        step = dist.step  # type: ignore[union-attr]
        inner = dist.low + step * (np.arange(round((dist.high - dist.low) / step)) + 0.5)  # type: ignore[union-attr]
    return (inner - lo) / (hi - lo)


class CmaEsSampler(GroupedFallback, ReplaySampler):
    """CMA-ES with IPOP/BIPOP restarts, integer margins, joint categoricals and warm start.

    Args:
        seed: An int, a numpy Generator or None (fresh entropy).
        sigma0: Initial step size in the unit box (``> 0``); default ``1 / 6``, Hansen's rule
            (tutorial, 2016) that the optimum should lie within ``mean +- 3 sigma0``: from the
            box centre, ``3 sigma0`` spans half the box. Restarts start from it too.
        popsize: Population size (``>= 2``); default ``4 + floor(3 ln n)``.
        x0: Initial mean as a parameter dict (numeric parameters); default: the box centre.
        restart: ``"bipop"`` (default), ``"ipop"`` or None (no restarts).
        inc_popsize: Population growth factor at each large restart (``>= 2``).
        separable: ``"auto"`` (diagonal covariance from 40 numeric parameters), True or False.
        margin: Margin probability for discrete coordinates (``0 < margin < 0.5``); default
            ``1 / (n * popsize)`` (Hamano et al. 2022).
        tolfun: Stagnation when best values vary less than this over the recent generations.
        tolx: Stagnation when every continuous coordinate's step is below ``tolx`` (unit box).
        warm_start_trials: COMPLETE trials of an earlier study on the same space (WS-CMA-ES).
        fallback_sampler: Samples parameters outside the intersection (define-by-run); default
            :class:`~hpopt.samplers.branch.BranchSampler` with the same seed (TPE for a branch's
            first trials, then a CMA-ES of the branch's own).
        surrogate: ``"lq"`` (default): lq-CMA-ES (Hansen 2019) on all-continuous spaces, a global
            linear-quadratic model decides which candidates of a generation are evaluated
            (see the module docstring); None: every candidate is evaluated.

    Raises:
        TypeError, ValueError: An invalid setting, naming it.

    Example:
        >>> import hpopt
        >>> sampler = hpopt.make_sampler("cmaes", seed=3, popsize=8)
        >>> study = hpopt.create_study(sampler=sampler)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=40)
        >>> study.best_value < 0.1
        True
    """

    supports_multi_objective = False

    def __init__(
        self,
        *,
        seed: int | np.random.Generator | None = None,
        sigma0: float = DEFAULT_SIGMA0,
        popsize: int | None = None,
        x0: Mapping[str, Any] | None = None,
        restart: str | None = "bipop",
        inc_popsize: int = 2,
        separable: bool | str = "auto",
        margin: float | None = None,
        tolfun: float = 1e-12,
        tolx: float = 1e-10,
        warm_start_trials: Sequence[FrozenTrial] | None = None,
        fallback_sampler: Sampler | None = None,
        surrogate: str | None = "lq",
    ) -> None:
        if surrogate not in ("lq", None):
            raise ValueError(f"`surrogate` must be 'lq' or None, but got {surrogate!r}.")
        self.surrogate = surrogate
        self.seed = resolve_seed(seed)
        self.sigma0 = positive("sigma0", sigma0)
        if popsize is not None:
            if isinstance(popsize, bool) or not isinstance(popsize, int):
                raise TypeError(f"`popsize` must be an int or None, but got {popsize!r}.")
            if popsize < _MIN_POPSIZE:
                raise ValueError(
                    f"`popsize >= {_MIN_POPSIZE}` must hold for CMA-ES, but got popsize={popsize}."
                )
        self.popsize = popsize
        if restart not in ("bipop", "ipop", None):
            raise ValueError(f"`restart` must be 'bipop', 'ipop' or None, but got {restart!r}.")
        self.restart = restart
        if isinstance(inc_popsize, bool) or not isinstance(inc_popsize, int) or inc_popsize < 2:
            raise ValueError(f"`inc_popsize` must be an int >= 2, but got {inc_popsize!r}.")
        self.inc_popsize = inc_popsize
        if separable not in ("auto", True, False):
            raise ValueError(f"`separable` must be 'auto', True or False, but got {separable!r}.")
        self.separable = separable
        if margin is not None:
            margin = positive("margin", margin)
            if margin >= 0.5:
                raise ValueError(f"`margin < 0.5` must hold, but got margin={margin!r}.")
        self.margin = margin
        self.tolfun = positive("tolfun", tolfun)
        self.tolx = positive("tolx", tolx)
        self.x0 = _check_x0(x0)
        self.warm_start_trials = self._check_warm(warm_start_trials)
        self._maximize = False
        self._init_replay()
        self._init_groups(fallback_sampler, self.seed, default=lambda seed: BranchSampler(seed=seed))

    @staticmethod
    def _check_warm(trials: Sequence[FrozenTrial] | None) -> list[FrozenTrial] | None:
        if trials is None:
            return None
        if isinstance(trials, (str, bytes, Mapping)) or not isinstance(trials, Iterable):
            raise TypeError(
                f"`warm_start_trials` must be a non-empty list of FrozenTrial, but got {trials!r}."
            )
        trials = list(trials)
        if not trials or not all(isinstance(t, FrozenTrial) for t in trials):
            raise TypeError("`warm_start_trials` must be a non-empty list of FrozenTrial.")
        done = [t for t in trials if t.state is TrialState.COMPLETE and t.values is not None]
        if not done:
            raise ValueError("`warm_start_trials` must hold at least one COMPLETE trial, but has none.")
        if any(len(t.values) != 1 for t in done):  # type: ignore[arg-type]
            raise ValueError("`warm_start_trials` must come from a single-objective study.")
        keys = {space_key(t.distributions) for t in done}
        if len(keys) > 1:
            raise ValueError(
                f"`warm_start_trials` must all share one search space, but {len(keys)} differ."
            )
        return done

    def __repr__(self) -> str:
        return (
            f"CmaEsSampler(seed={self.seed}, sigma0={self.sigma0}, popsize={self.popsize}, "
            f"restart={self.restart!r}, separable={self.separable!r}, surrogate={self.surrogate!r})"
        )

    # -- history ------------------------------------------------------------------------------------
    def _propose(self, run: _Run, number: int) -> tuple[np.ndarray, np.ndarray]:
        return run.draw(number)

    def _new_run(self, space: Mapping[str, Distribution]) -> _Run:
        return _Run(self, space)

    def state(self, history: History, space: Mapping[str, Distribution]) -> _Run:
        """The replayed run for ``space``, brought up to date with the history."""
        self._maximize = history.directions[0] == "maximize"
        return self._replayed(history, space, lambda run, new: run.feed(new))

    # -- protocol -----------------------------------------------------------------------------------
    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        """Trial ``trial.number``'s values of the joint ``space``."""
        if not space:
            return {}
        run = self.state(history, space)
        running = list(history.running()) if run.lq else []
        finished = history.finished() if run.lq else ()
        with self._lock:  # the generation may move on in another thread: read it once, here
            if run.lq:
                # FAIL/PRUNED trials of this generation count as taken: they never enter the
                # update, so their candidate would otherwise be proposed again and again
                assert run.gen is not None
                for t in reversed(finished):  # sorted by number; the generation's come last
                    if t.number <= run.gen.opened:
                        break
                    if t.state is TrialState.FAIL or t.state is TrialState.PRUNED:
                        running.append(t)
                x, cats = run.propose_lq(trial.number, run.claimed(running))
            else:
                x, cats = self._propose(run, trial.number)
        return self._decode(run, space, x, cats)

    def joint_space(self, history: History) -> dict[str, Distribution]:
        """Parameters of every COMPLETE trial with equal distributions (or the warm start's)."""
        inter = self._inter.space(history, self._lock)
        if inter is None:
            warm = self.warm_start_trials
            return dict(warm[0].distributions) if warm else {}
        return inter
