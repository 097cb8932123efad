"""Gaussian-process Bayesian optimization: Matérn 5/2 GP, log expected improvement, constraints.

The model lives in :mod:`hpopt.samplers.gp_model` (:class:`~hpopt.samplers.gp_model.GaussianProcess`)
and the acquisition and its optimizer in :mod:`hpopt.samplers.gp_acquisition`; this module turns a
study's history into arrays and the maximiser back into parameters.

**Per trial.** The joint space is encoded in the unit box of :class:`hpopt.SpaceTransform`
(log scale for ``log=True``, equal cells for integers and steps, categoricals one-hot so the
kernel sees unordered choices at equal distance). While fewer than ``n_startup_trials`` COMPLETE
trials hold the space, the trial takes point ``number`` of a scrambled Sobol sequence (seeded by the
sampler's seed): space filling, unlike independent uniform draws. Afterwards:

1. a GP is fitted to the COMPLETE trials (objective values negated for ``maximize``; ``±inf``
   replaced by the worst finite value, so a crash-like result reads as "bad", not as a number
   that wrecks the standardisation). Its hyperparameters are warm-started from the previous fit on
   the same space and the fit is reused while the data are unchanged;
2. RUNNING trials of other workers that hold the space are added as observations equal to the
   posterior mean there (kriging believer, Ginsbourger et al. 2010): the mean is unchanged but the
   variance collapses around them, so parallel asks spread out instead of proposing the same point.
   FAIL and PRUNED trials that hold the space (an exception, a NaN, a pruned run) are added the
   same way but equal to the worst COMPLETE value, without refitting: such a point reads as "bad"
   instead of staying unexplored, so the acquisition does not propose it again and again (the
   COMPLETE trials, hence the acquisition, would be unchanged);
3. the next point maximises log EI (Ament et al. 2023), plus the log probability of feasibility
   of each constraint (one GP per constraint) when ``constraints_func`` is given; candidates and
   refinement as in :func:`hpopt.samplers.gp_acquisition.maximize`. The improvement is measured
   from ``min_i max(mean_i, y_i)`` over the feasible observed points: under noise the lowest
   observation is a lucky draw, which the posterior mean there raises (otherwise improvement
   looks possible only far from the data and the search never settles); never below the lowest
   observation (a smoothed mean can undershoot the data at the best points).

**Several objectives: ParEGO** (Knowles 2006). Each trial draws a weight vector uniformly from
the simplex (from the seed and trial number), normalises each objective to ``[0, 1]`` over the
COMPLETE trials and scalarises with the augmented Chebyshev function
``max_i w_i f_i + 0.05 sum_i w_i f_i``; the GP and log EI work on that scalar. Chebyshev weights
reach non-convex parts of the front, and the per-trial weights spread the trials along it; unlike
EHVI it costs no more than one objective, whatever the number of objectives.

**Randomness.** Everything random (Sobol scrambling, candidates, ParEGO weights, restarts) comes
from the seed and the trial number. One thing depends on the process: a fit is warm-started from
the previous fit this sampler object made on the same space (that is what keeps an ask cheap), so
the same sequence of asks reproduces exactly, while a fresh process resuming a long study may fit
slightly different hyperparameters (it starts from the prior) and so propose a different point.
Parameters outside the joint space (define-by-run) are drawn by ``fallback_sampler``.

**Cost.** The fit is ``O(n^3)`` in the number of trials (a few hundred trials are fine; this is a
method for expensive objectives and small budgets).

Example:
    >>> import hpopt
    >>> from hpopt.samplers.gp import GPSampler
    >>> study = hpopt.create_study(sampler=GPSampler(seed=0, n_startup_trials=5))
    >>> space = {"x": hpopt.Float(-3, 3), "n": hpopt.Int(0, 8)}
    >>> for _ in range(20):
    ...     t = study.ask(space)
    ...     _ = study.tell(t, (t.params["x"] - 1.2) ** 2 + (t.params["n"] - 5) ** 2)
    >>> study.best_value < 0.05
    True
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hpopt._blas import single_blas_thread
from hpopt._checks import check_int, constraint_values, stored_constraints
from hpopt.distributions import Distribution
from hpopt.records import FrozenTrial, TrialState
from hpopt.rng import resolve_seed, trial_rng
from hpopt.samplers.base import DerivedCaches, History, Sampler, TrialInfo, running_params
from hpopt.samplers.gp_acquisition import Acquisition, maximize
from hpopt.samplers.gp_model import GaussianProcess
from hpopt.samplers.replay import Intersection, IntersectionSpace, check_fallback, space_key
from hpopt.transform import SpaceTransform

__all__ = ["GPSampler"]

_MAX_SPACES = 8  # cached models, one per search space
_PAREGO_RHO = 0.05
_N_BEST = 5  # best observed points perturbed by the acquisition optimizer
_MAX_ABS = 1e100  # targets are scaled into this magnitude before the fit (squares stay finite)
_FIT_STREAM = 7  # trial_rng stream of the seed of a fit's random restarts


class _Model:
    """Cached state for one search space: the transform and the last fit of each GP."""

    def __init__(self, space: Mapping[str, Distribution]) -> None:
        self.tf = SpaceTransform(space, one_hot=True)
        self.encoded: dict[int, np.ndarray] = {}
        self.fits: dict[str, tuple[np.ndarray, np.ndarray, GaussianProcess]] = {}


class GPSampler(IntersectionSpace, DerivedCaches, Sampler):
    """Bayesian optimization with a Gaussian process and log expected improvement.

    Args:
        seed: An int, a numpy Generator or None (fresh entropy).
        n_startup_trials: COMPLETE trials (``>= 1``) drawn from a scrambled Sobol sequence before the
            GP takes over. Default 10: on the up-to-ten-dimensional spaces a GP suits, ten
            space-filling points are enough to estimate lengthscales under the priors, while
            leaving most of a 50-100 trial budget to the model.
        deterministic_objective: The objective returns the same value for the same parameters:
            the noise variance is fixed at a tiny value instead of being fitted (the GP then
            interpolates).
        constraints_func: ``f(FrozenTrial) -> sequence of floats``, ``<= 0`` when satisfied (same
            convention as NSGA-II); each constraint gets its own GP and the acquisition is
            weighted by the probability of feasibility. None for an unconstrained study. The
            study calls it once per COMPLETE trial, at tell, and stores the values with the trial
            (system attribute ``"constraints"``), which this sampler then reads.
        n_candidates: Quasi-random candidates per acquisition optimisation (``>= 16``).
        n_restarts: L-BFGS-B starts of a hyperparameter fit that has no warm start (``>= 1``);
            later fits start from the previous one.
        fallback_sampler: Samples parameters outside the joint space (define-by-run); default
            :class:`~hpopt.samplers.random.RandomSampler` with the same seed.

    Raises:
        TypeError, ValueError: An invalid setting, naming it.

    Example:
        >>> from hpopt.samplers.gp import GPSampler
        >>> GPSampler(seed=1, n_startup_trials=4)
        GPSampler(seed=1, n_startup_trials=4, deterministic_objective=False)
    """

    _derived = ("_inter", "_models")

    supports_multi_objective = True

    def __init__(
        self,
        *,
        seed: int | np.random.Generator | None = None,
        n_startup_trials: int = 10,
        deterministic_objective: bool = False,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        n_candidates: int = 1024,
        n_restarts: int = 2,
        fallback_sampler: Sampler | None = None,
    ) -> None:
        self.seed = resolve_seed(seed)
        self.n_startup_trials = check_int("n_startup_trials", n_startup_trials, 1)
        if not isinstance(deterministic_objective, bool):
            raise TypeError(
                f"`deterministic_objective` must be a bool, but got {deterministic_objective!r}."
            )
        self.deterministic_objective = deterministic_objective
        if constraints_func is not None and not callable(constraints_func):
            raise TypeError(f"`constraints_func` must be callable or None, but got {constraints_func!r}.")
        self.constraints_func = constraints_func
        self.n_candidates = check_int("n_candidates", n_candidates, 16)
        self.n_restarts = check_int("n_restarts", n_restarts, 1)
        self.fallback_sampler = check_fallback(fallback_sampler, self.seed)
        self._lock = threading.Lock()
        self._inter = Intersection()
        self._models: dict[Any, _Model] = {}

    def __repr__(self) -> str:
        return (
            f"GPSampler(seed={self.seed}, n_startup_trials={self.n_startup_trials}, "
            f"deterministic_objective={self.deterministic_objective})"
        )

    # -- protocol -----------------------------------------------------------------------------------
    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        """Values for the whole ``space``: a Sobol point during startup, else the log-EI maximiser."""
        if not space:
            return {}
        # The history is read before taking the lock: this may run outside the storage's
        # transaction (a fallback of CMA-ES or DE), where reading it under the lock could deadlock.
        fin = history.finished()
        done = [t for t in fin if _holds(t, space)]
        modelled = len(done) >= self.n_startup_trials
        running = history.running() if modelled else []
        failed = [t for t in fin if _stopped_in(t, space)] if modelled else []
        with self._lock:
            model = self._model(space)
            if len(done) < self.n_startup_trials:
                return model.tf.decode(self._sobol_point(model.tf.dim, trial.number))
            with single_blas_thread():
                x = self._propose(history, trial, model, space, done, running, failed)
            return model.tf.decode(x)

    # -- internals ----------------------------------------------------------------------------------
    def _model(self, space: Mapping[str, Distribution]) -> _Model:
        key = space_key(space)
        model = self._models.get(key)
        if model is None:
            if len(self._models) >= _MAX_SPACES:
                self._models.pop(next(iter(self._models)))
            model = self._models[key] = _Model(space)
        return model

    def _sobol_point(self, dim: int, number: int) -> np.ndarray:
        """Point ``number`` of the sampler's scrambled Sobol sequence in ``dim`` dimensions."""
        from scipy.stats import qmc  # here: scipy.stats takes 0.4 s to import

        sobol = qmc.Sobol(dim, scramble=True, seed=np.random.default_rng([self.seed, dim]))
        if number:
            sobol.fast_forward(number)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sobol.random(1)[0]

    def _encode(self, model: _Model, trials: Sequence[FrozenTrial]) -> np.ndarray:
        rows = []
        for t in trials:
            u = model.encoded.get(t.number)
            if u is None:
                u = model.encoded[t.number] = model.tf.encode(t.params)
            rows.append(u)
        return np.array(rows).reshape(len(trials), model.tf.dim)

    def _objective(self, history: History, trials: Sequence[FrozenTrial], number: int) -> np.ndarray:
        """Minimised targets: the objective, or the ParEGO scalarisation for several objectives."""
        signs = np.array([-1.0 if d == "maximize" else 1.0 for d in history.directions])
        F = signs * np.array([t.values for t in trials], dtype=float).reshape(len(trials), len(signs))
        F = _finite(F)
        if F.shape[1] == 1:
            return F[:, 0]
        lo, hi = F.min(axis=0), F.max(axis=0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        G = (F - lo) / span
        w = trial_rng(self.seed, number).dirichlet(np.ones(F.shape[1]))
        return (w * G).max(axis=1) + _PAREGO_RHO * (w * G).sum(axis=1)

    def _constraints(self, trials: Sequence[FrozenTrial]) -> np.ndarray:
        """``(n, k)`` constraint values (``<= 0`` feasible) of ``trials``: those stored with each
        trial when it was told (computed once by the study with this ``constraints_func``), the
        function's only for a trial stored without them."""
        assert self.constraints_func is not None
        func = self.constraints_func
        rows = []
        for t in trials:
            stored = stored_constraints(t)
            rows.append(stored if stored is not None else constraint_values(func, t))
        if len({len(r) for r in rows}) > 1:
            raise ValueError("`constraints_func` must return the same number of values for every trial.")
        return _finite(_bounded_constraints(np.array(rows, dtype=float).reshape(len(trials), -1)))

    def _fit(self, model: _Model, role: str, X: np.ndarray, y: np.ndarray, number: int) -> GaussianProcess:
        """The GP of ``role`` fitted to ``(X, y)``: the cached fit if the data are unchanged."""
        cached = model.fits.get(role)
        if cached is not None and cached[0].shape == X.shape and np.array_equal(cached[0], X) \
                and np.array_equal(cached[1], y):
            return cached[2]
        gp = GaussianProcess(
            deterministic=self.deterministic_objective and role == "objective",
            n_restarts=self.n_restarts,
            seed=int(trial_rng(self.seed, number, _FIT_STREAM).integers(2**31)),
        )
        warm = cached[2].theta if cached is not None else None
        gp.fit(X, y, warm_start=warm)
        model.fits[role] = (X, y, gp)
        return gp

    def _pending(self, running: Sequence[FrozenTrial], trial: TrialInfo, model: _Model,
                 space: Mapping[str, Distribution]) -> np.ndarray:
        rows = []
        for t in running:
            if t.number == trial.number:
                continue
            params = running_params(t)
            try:
                if all(space[k].contains(params[k]) for k in space):  # type: ignore[attr-defined]
                    rows.append(model.tf.encode(params))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        return np.array(rows).reshape(len(rows), model.tf.dim)

    def _propose(
        self,
        history: History,
        trial: TrialInfo,
        model: _Model,
        space: Mapping[str, Distribution],
        done: list[FrozenTrial],
        running: Sequence[FrozenTrial],
        failed: Sequence[FrozenTrial] = (),
    ) -> np.ndarray:
        X = self._encode(model, done)
        y = self._objective(history, done, trial.number)
        # several objectives: the ParEGO target changes every trial; the fit is warm-started
        gp = self._fit(model, "objective" if history.n_objectives == 1 else "parego", X, y, trial.number)
        if failed:
            # FAIL/PRUNED points read as the worst value seen (without refitting): otherwise the
            # COMPLETE trials, hence the acquisition, stay the same and it proposes them again
            Xf = np.unique(self._encode(model, failed), axis=0)
            Xf = Xf[~(Xf[:, None, :] == X[None, :, :]).all(axis=2).any(axis=1)]
            if len(Xf):
                gp = gp.condition(Xf, np.full(len(Xf), float(y.max())))
        cgps: list[GaussianProcess] = []
        feasible = np.ones(len(done), dtype=bool)
        if self.constraints_func is not None:
            C = self._constraints(done)
            feasible = (C <= 0).all(axis=1)
            cgps = [self._fit(model, f"constraint{j}", X, C[:, j], trial.number) for j in range(C.shape[1])]
        P = self._pending(running, trial, model, space)
        if len(P):
            gp = gp.condition(P, gp.predict(P)[0])
            cgps = [c.condition(P, c.predict(P)[0]) for c in cgps]
        rng = trial_rng(self.seed, trial.number)
        if feasible.any():
            yf = np.where(feasible, y, np.inf)
            # The incumbent: at each feasible observed point the larger of its observation and the
            # posterior mean there, the lowest of those. With noise the lowest observation is a
            # lucky draw, and an improvement over it looks possible only far from the data (the
            # search never settles): the model's mean raises it. Never below the lowest
            # observation (a smoothed mean can undershoot the data at the best points).
            mean = gp.predict(X[feasible])[0]
            acq = Acquisition(gp, float(np.maximum(mean, y[feasible]).min()), cgps)
            best_rows = np.argsort(yf, kind="stable")[: min(_N_BEST, int(feasible.sum()))]
        else:
            acq = Acquisition(None, 0.0, cgps)
            violation = np.maximum(self._constraints(done), 0).sum(axis=1)
            best_rows = np.argsort(violation, kind="stable")[:_N_BEST]
        return maximize(
            acq, acq.value_and_grad, model.tf.dim, model.tf.snap, ~model.tf.discrete, rng,
            best_points=X[best_rows], n_candidates=self.n_candidates,
        )


def _holds(t: FrozenTrial, space: Mapping[str, Distribution]) -> bool:
    """A COMPLETE trial with every parameter of ``space`` under the same distribution."""
    if t.state is not TrialState.COMPLETE or t.values is None:
        return False
    dists = t.distributions
    return all(dists.get(k) == d for k, d in space.items())


def _stopped_in(t: FrozenTrial, space: Mapping[str, Distribution]) -> bool:
    """A FAIL or PRUNED trial with every parameter of ``space`` under the same distribution."""
    if t.state is not TrialState.FAIL and t.state is not TrialState.PRUNED:
        return False
    dists = t.distributions
    return all(k in t.params and dists.get(k) == d for k, d in space.items())


def _bounded_constraints(C: np.ndarray) -> np.ndarray:
    """Constraint values with ``+inf`` (infinitely violated) replaced by a violation beyond the
    largest finite value and ``-inf`` (satisfied) by a value below the smallest, keeping each on
    its side of 0: :func:`_finite` alone replaces ``+inf`` by the largest *finite* value, which
    reads as satisfied when every finite value is ``<= 0`` (or there is none)."""
    ok = np.isfinite(C)
    if ok.all():
        return C
    C = np.array(C, dtype=float)
    for j in range(C.shape[1]):  # loop over constraints, not trials
        col, good = C[:, j], ok[:, j]
        lo = min(float(col[good].min()), 0.0) if good.any() else 0.0
        hi = max(float(col[good].max()), 0.0) if good.any() else 0.0
        span = hi - lo if hi > lo else 1.0
        C[:, j] = np.where(col == np.inf, hi + span, np.where(col == -np.inf, lo - span, col))
    return C


def _finite(F: np.ndarray) -> np.ndarray:
    """Columns with ``±inf``/NaN replaced by the column's worst (largest) finite value, or 0, and
    columns beyond ``_MAX_ABS`` in magnitude scaled down into it: the GP standardises its targets
    (sums and squares), which overflow near the float limit (``tell(t, 1e308)`` is legitimate).
    A positive scale changes neither the ranking nor the expected-improvement argmax."""
    F = _replace_non_finite(np.array(F, dtype=float))
    big = np.abs(F).max(axis=0) if len(F) else np.zeros(F.shape[1])
    over = big > _MAX_ABS
    if over.any():
        F[:, over] *= _MAX_ABS / big[over]
    return F


def _replace_non_finite(F: np.ndarray) -> np.ndarray:
    ok = np.isfinite(F)
    if ok.all():
        return F
    for j in range(F.shape[1]):  # loop over objectives/constraints, not trials
        col, good = F[:, j], ok[:, j]
        if not good.any():
            F[:, j] = 0.0
            continue
        lo, hi = col[good].min(), col[good].max()
        F[:, j] = np.where(good, col, np.where(col == -np.inf, lo, hi))
    return F


