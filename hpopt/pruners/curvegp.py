"""A learning-curve model for forecast-ranked successive halving: a Gaussian process over
(hyperparameters, log-step), conditioned on each trial's own partial curve.

Why this model. Successive halving ranks the trials at a rung by their loss *there*; on curves
that cross (slow learners end best) that prunes the eventual winners. What promotion should rank
is the *final* loss, and the study's own trials are the evidence for it: the ones that ran past
the rung show how curves continue, as a function of the hyperparameters and of the early values.
The model is a multi-fidelity Gaussian process in the spirit of Swersky et al. 2014
("Freeze-Thaw Bayesian Optimization": a shared GP over configurations plus a per-trial curve
term) and Klein et al. 2017 (FABOLAS: one GP over configuration x budget): the loss at step ``t``
of a trial with hyperparameters ``x`` (unit box, numeric parameters) is

    ``m(s) + f(x, s) + g_trial(s) + noise``,  ``s = log(t) / log(T)`` (``T``: the final step),

with ``m`` a quadratic in ``s`` fitted by least squares (the average curve), ``f`` a GP shared by
all trials (squared-exponential in ``x``, one length-scale per parameter, times
squared-exponential in ``s``) and ``g_trial`` the trial's own deviation, independent between
trials: half a constant offset that lasts to the end (a better or worse asymptote), half a
deviation that fades along the curve (a faster or slower start). A trial's forecast is the
posterior of ``m + f + g`` at ``s = 1`` given every fitted point *and its own reports*, so it
combines what similar configurations reached late (through ``f``) with the trial's own partial
curve (through ``g`` and ``f``); how much an early value says about the end is learned.

Hyperparameters: length-scales, the own-deviation variance and the noise are chosen on a small
fixed grid, then one coordinate pass rescales each parameter's length-scale (a cheap automatic
relevance determination), by the leave-one-out predictive log density of each trial's *last*
point given everything else (its own earlier points included: a forecast ahead along a curve),
closed form from ``K^-1`` (Sundararajan & Keerthi 2001); the amplitude is profiled out. When
no trial reached ``T`` yet, the forecast is made at the deepest step the data reach.

Selection bias. The trials that ran further were promoted because their reports looked good.
Promotion depends only on what was observed (hyperparameters and reports), so the missing late
values are *missing at random* given the model's inputs and the likelihood-based posterior
needs no correction where the data reach; what the selection does cause is that the late
behaviour of configurations that looked bad early is barely observed. The GP's posterior
variance is large exactly there, and the pruner ranks by an optimistic forecast (mean minus
``optimism`` standard deviations), so an unexplored region is given the benefit of the doubt
instead of being judged by its early loss.

Numbers: at most :data:`MAX_POINTS` points in the fit (each trial contributes its values at the
rung grid and at its last step; the deepest trials are kept first), an O(M^3) fit per grid
setting, redone only when the set of finished trials it is built on changes (a geometric
schedule), and O(M^2) work per forecast, vectorized over the trials being ranked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.lapack import dpotri

from hpopt.distributions import Float, Int
from hpopt.pruners._util import WORST, curve
from hpopt.records import FrozenTrial

__all__ = ["CurveGP", "MAX_POINTS", "fit_curve_gp", "trial_points"]

#: Points (trial x step) the GP is fitted on at most.
MAX_POINTS = 240
#: Length-scale grid in x (multiplied by sqrt(dimension)), in s, and relative noise variances.
_LX = (0.15, 0.3, 0.6)
_LS = (0.25, 0.6, 1.5)
_NOISE = (0.01, 0.1)
#: Variance of each trial's own deviation (relative to the shared part): grid.
_OWN = (0.1, 0.5, 2.0)
#: Share of a trial's own deviation that is a constant offset (the rest fades along s).
_OWN_MIX = 0.5
#: Relevance pass: factors tried on each column's length-scale, for spaces up to this size.
_ARD_STEPS = (0.4, 2.5, 10.0)
_MAX_ARD = 16
_JITTER = 1e-9


def numeric_names(trials: Sequence[FrozenTrial]) -> list[str]:
    """Sorted names of the numeric (Float/Int) parameters of ``trials`` (categoricals are left
    out: their effect shows up in the curves the model conditions on)."""
    names: set[str] = set()
    for t in trials:
        names.update(n for n, d in t.distributions.items() if isinstance(d, (Float, Int)))
    return sorted(names)


def encode(trial: FrozenTrial, names: Sequence[str]) -> np.ndarray:
    """The trial's numeric parameters in the unit box over their internal (log) bounds; a
    parameter the trial lacks (conditional spaces) sits at the centre, 0.5."""
    u = np.full(len(names), 0.5)
    dists: Mapping[str, Any] = trial.distributions
    for j, name in enumerate(names):
        d = dists.get(name)
        if d is None or not isinstance(d, (Float, Int)) or name not in trial.params:
            continue
        lo, hi = d.internal_bounds
        if hi > lo:
            u[j] = min(max((d.to_internal(trial.params[name]) - lo) / (hi - lo), 0.0), 1.0)
    return u


def trial_points(
    trial: FrozenTrial, sign: np.ndarray, grid: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """(steps, losses) of one trial at the grid steps it reached (value at its first report at
    or past each) and at its last report — at most ``len(grid) + 1`` points, first objective."""
    steps, loss = curve(trial, sign)
    if len(steps) == 0:
        return steps, np.empty(0)
    g = np.asarray([r for r in grid if r <= steps[-1]], dtype=np.int64)
    idx = np.unique(np.append(np.searchsorted(steps, g, side="left"), len(steps) - 1))
    return steps[idx], loss[idx, 0]


def _kernel(xa: np.ndarray, sa: np.ndarray, xb: np.ndarray, sb: np.ndarray, lx: np.ndarray,
            ls: float) -> np.ndarray:
    """Product of squared-exponential kernels in x (one length-scale per column) and s (unit
    amplitude)."""
    d2 = np.zeros((len(xa), len(xb)))
    if xa.shape[1]:
        xa, xb = xa / lx, xb / lx
        d2 = (
            np.sum(xa * xa, axis=1)[:, None] + np.sum(xb * xb, axis=1)[None, :] - 2.0 * xa @ xb.T
        )
        d2 = np.maximum(d2, 0.0)
    ds = (sa[:, None] - sb[None, :]) / ls
    return np.exp(-0.5 * (d2 + ds * ds))


def _s_kernel(sa: np.ndarray, sb: np.ndarray, ls: float) -> np.ndarray:
    ds = (sa[:, None] - sb[None, :]) / ls
    return np.exp(-0.5 * ds * ds)


def _own_kernel(k_s: np.ndarray) -> np.ndarray:
    """A trial's own deviation from the shared curve, as a function of the s kernel: half a
    constant offset that persists to the end (a better or worse asymptote), half a deviation
    that fades along the curve (a faster or slower start)."""
    return _OWN_MIX + (1.0 - _OWN_MIX) * k_s


def _basis(s: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(s), s, s * s], axis=-1)


class CurveGP:
    """A fitted model: forecasts of the loss at the final step ``T``, mean and standard deviation.

    Build it with :func:`fit_curve_gp`.
    """

    def __init__(self, *, names: list[str], log_t: float, cap: float, beta: np.ndarray,
                 scale: float, x: np.ndarray, s: np.ndarray, chol: Any, alpha: np.ndarray,
                 sigma2: float, lx: np.ndarray, ls: float, noise: float, own: float,
                 tid: np.ndarray, deep: np.ndarray,
                 members: frozenset[int], grid: list[int]) -> None:
        self.names = names
        #: Numbers of the trials whose points are in the fit (their forecasts need no own points).
        self.members = members
        #: The steps at which trials contribute points (plus their last step).
        self.grid = grid
        self.log_t = log_t
        #: Where the forecast is made: s = 1 (step T), or the deepest point of the fit when no
        #: trial got that far (a forecast at the furthest step the data reach, not beyond).
        self.s_target = min(1.0, float(s.max()))
        self.cap = cap
        self.beta = beta
        self.scale = scale
        self.x, self.s = x, s
        self.chol = chol
        self.alpha = alpha
        self.sigma2 = sigma2
        self.lx, self.ls, self.noise, self.own = lx, ls, noise, own
        #: Trial number of each point of the fit.
        self.tid = tid
        #: Last step of each trial of the fit (to count the evidence past a rung).
        self.deep = deep

    def __repr__(self) -> str:
        return (f"CurveGP(points={len(self.s)}, T={math.exp(self.log_t):.0f}, "
                f"lx={np.round(self.lx, 3).tolist()}, ls={self.ls:.3g}, noise={self.noise:g}, "
                f"own={self.own:g})")

    def n_past(self, step: int) -> int:
        """How many trials of the fit reported a step later than ``step``."""
        return int(np.count_nonzero(self.deep > step))

    def _residual(self, s: np.ndarray, loss: np.ndarray) -> np.ndarray:
        y = np.minimum(loss, self.cap)
        return (y - _basis(s) @ self.beta) / self.scale

    def s_of(self, steps: np.ndarray) -> np.ndarray:
        """Position along the curve, ``log(step) / log(T)`` (steps below 1 count as 1)."""
        return np.log(np.maximum(np.asarray(steps, dtype=float), 1.0)) / self.log_t

    def forecast(self, x: np.ndarray, own: Sequence[tuple[np.ndarray, np.ndarray]],
                 numbers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Forecast final losses (mean, sd), one per row of ``x`` (q, d).

        ``own[i]`` holds trial i's (steps, losses) not already in the fit (empty for the trials
        the model was fitted on); the forecast is conditioned on them. ``numbers[i]`` is trial
        i's number (its own deviation is shared with its points in the fit, if any).
        Vectorized over trials: the own points are padded to a common length and masked.
        """
        q = len(x)
        if q == 0:
            return np.empty(0), np.empty(0)
        m = max((len(o[0]) for o in own), default=0)
        # Per trial: m own points then the target (x, s_target).
        sp = np.full((q, m + 1), self.s_target)
        lp = np.zeros((q, m))
        mask = np.zeros((q, m), dtype=bool)
        for i, (st, lo) in enumerate(own):  # builds the padded arrays (no model work)
            k = len(st)
            if k:
                sp[i, :k] = self.s_of(st)
                lp[i, :k] = lo
                mask[i, :k] = True
        xs = np.repeat(x, m + 1, axis=0)
        sflat = sp.reshape(-1)
        kzd = _kernel(xs, sflat, self.x, self.s, self.lx, self.ls)  # (q(m+1), M)
        same = np.repeat(np.asarray(numbers, dtype=np.int64), m + 1)[:, None] == self.tid[None, :]
        if same.any():
            kzd = kzd + self.own * same * _own_kernel(_s_kernel(sflat, self.s, self.ls))
        mu = (kzd @ self.alpha).reshape(q, m + 1)
        w = cho_solve(self.chol, kzd.T).T.reshape(q, m + 1, -1)  # K^-1 k_z
        kz = kzd.reshape(q, m + 1, -1)
        # Prior covariance within each trial's block: same x, so only the s kernel remains.
        ds = (sp[:, :, None] - sp[:, None, :]) / self.ls
        k_s = np.exp(-0.5 * ds * ds)
        prior = k_s + self.own * _own_kernel(k_s)  # shared part (same x) + the trial's own
        cov = prior - np.einsum("qim,qjm->qij", kz, w)
        mean_t, var_t = mu[:, m], cov[:, m, m]
        if m:
            r = np.where(mask, self._residual(sp[:, :m], lp), 0.0)
            c_pp = cov[:, :m, :m] + self.noise * np.eye(m)
            c_tp = cov[:, m, :m]
            # Masked (padding / absent) points: decoupled unit rows with zero residual.
            c_pp = np.where(mask[:, :, None] & mask[:, None, :], c_pp, 0.0)
            c_pp = c_pp + np.where(mask, 0.0, 1.0)[:, :, None] * np.eye(m)
            c_tp = np.where(mask, c_tp, 0.0)
            diff = np.where(mask, r - mu[:, :m], 0.0)
            sol = np.linalg.solve(c_pp, np.stack([diff, c_tp], axis=-1))
            mean_t = mean_t + np.einsum("qi,qi->q", c_tp, sol[:, :, 0])
            var_t = var_t - np.einsum("qi,qi->q", c_tp, sol[:, :, 1])
        var_t = np.maximum(var_t, 1e-12)
        base = float(_basis(np.array([self.s_target]))[0] @ self.beta)
        return base + self.scale * mean_t, self.scale * np.sqrt(self.sigma2 * var_t)


def fit_curve_gp(trials: Sequence[FrozenTrial], sign: np.ndarray, grid: Sequence[int],
                 final_step: int | None) -> CurveGP | None:
    """Fit the model on ``trials`` (finished, with reports). None when there is nothing to
    learn: no final step beyond 1, no finite losses, or no variation left after the mean."""
    pts = [trial_points(t, sign, grid) for t in trials]
    keep = [i for i, p in enumerate(pts) if len(p[0])]
    if len(keep) < 2:
        return None
    deep = np.array([int(pts[i][0][-1]) for i in keep])
    big_t = final_step if final_step is not None else int(deep.max())
    if big_t <= 1:
        return None
    # The deepest trials first (late points are the scarce ones), then by trial number.
    order = sorted(keep, key=lambda i: (-int(pts[i][0][-1]), trials[i].number))
    chosen, total = [], 0
    for i in order:
        if total + len(pts[i][0]) > MAX_POINTS:
            continue
        chosen.append(i)
        total += len(pts[i][0])
    if not chosen:  # every trial alone has more points than the fit takes
        return None
    names = numeric_names([trials[i] for i in chosen])
    xs = np.concatenate([np.repeat(encode(trials[i], names)[None, :], len(pts[i][0]), axis=0)
                         for i in chosen])
    steps = np.concatenate([pts[i][0] for i in chosen]).astype(float)
    tid = np.concatenate([np.full(len(pts[i][0]), trials[i].number, dtype=np.int64) for i in chosen])
    last = np.cumsum([len(pts[i][0]) for i in chosen]) - 1  # each trial's last point
    loss = np.concatenate([pts[i][1] for i in chosen])
    finite = loss[loss < WORST]
    if len(finite) < 2:
        return None
    q10, q90 = np.quantile(finite, [0.1, 0.9])
    cap = float(q90 + max(q90 - q10, 1e-12))
    log_t = math.log(big_t)
    s = np.log(np.maximum(steps, 1.0)) / log_t
    y = np.minimum(loss, cap)
    basis = _basis(s)
    # Losses beyond about 1e154 overflow the fit (the std squares them): no model, silently (the
    # observed rule decides), instead of numpy warnings from inside the pruner.
    with np.errstate(over="ignore", invalid="ignore"):
        beta = np.linalg.lstsq(basis, y, rcond=None)[0]
        r = y - basis @ beta
        scale = float(r.std())
    if not math.isfinite(scale) or scale < 1e-12 * max(1.0, float(np.abs(y).max())):
        return None
    r = r / scale
    n = len(r)
    d = max(xs.shape[1], 1)
    best: tuple[float, Any] | None = None
    eye = np.eye(n)
    same = tid[:, None] == tid[None, :]
    for lx0 in _LX:
        lx = np.full(xs.shape[1], lx0 * math.sqrt(d))
        for ls in _LS:
            k_shared = _kernel(xs, s, xs, s, lx, ls)
            k_own = same * _own_kernel(_s_kernel(s, s, ls))
            for w in _OWN:
                k = k_shared + w * k_own
                for g in _NOISE:
                    fit = _loo_last(k + (g + _JITTER) * eye, r, last)
                    if fit is not None and (best is None or fit[0] > best[0]):
                        best = (fit[0], (lx, ls, g, w, *fit[1:]))
    if best is None:
        return None
    # One coordinate pass over the columns (automatic relevance determination, cheaply): a
    # parameter that does not matter gets a long length-scale, one that matters a short one.
    if xs.shape[1] <= _MAX_ARD:
        lx, ls, g, w = best[1][:4]
        k_own = w * same * _own_kernel(_s_kernel(s, s, ls)) + (g + _JITTER) * eye
        for j in range(xs.shape[1]):
            for f in _ARD_STEPS:
                trial_lx = lx.copy()
                trial_lx[j] *= f
                fit = _loo_last(_kernel(xs, s, xs, s, trial_lx, ls) + k_own, r, last)
                if fit is not None and fit[0] > best[0]:
                    best = (fit[0], (trial_lx, ls, g, w, *fit[1:]))
            lx = best[1][0]
    lx, ls, g, w, chol, alpha, sigma2 = best[1]
    return CurveGP(names=names, log_t=log_t, cap=cap, beta=beta, scale=scale, x=xs, s=s,
                   chol=chol, alpha=alpha, sigma2=sigma2, lx=lx, ls=ls, noise=g, own=w, tid=tid,
                   deep=deep,
                   members=frozenset(trials[i].number for i in chosen), grid=list(grid))


def _loo_last(k: np.ndarray, r: np.ndarray, last: np.ndarray) -> tuple[float, Any, np.ndarray, float] | None:
    """Score of one kernel setting: the leave-one-out predictive log density of each trial's
    *last* point (given every other point, its own earlier ones included — a forecast ahead
    along its curve), in closed form from ``K^-1`` (Sundararajan & Keerthi 2001), with the
    amplitude at its profile-likelihood value. Returns (score, Cholesky factor, K^-1 r,
    amplitude), or None when ``k`` is not positive definite."""
    try:
        chol = cho_factor(k, lower=True)
    except np.linalg.LinAlgError:
        return None
    kinv, info = dpotri(chol[0], lower=1)
    if info != 0:
        return None
    kinv = np.tril(kinv) + np.tril(kinv, -1).T
    alpha = kinv @ r
    sigma2 = max(float(r @ alpha) / len(r), 1e-12)
    dg = np.maximum(np.diag(kinv)[last], 1e-300)
    var = sigma2 / dg
    res = alpha[last] / dg
    return float(-0.5 * np.sum(np.log(var) + res * res / var)), chol, alpha, sigma2
