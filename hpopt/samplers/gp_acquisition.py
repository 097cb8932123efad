"""Acquisition for the ``gp`` sampler: log expected improvement, log feasibility, and its optimizer.

**Log expected improvement** (Ament, Daulton, Eriksson, Balandat & Bakshy 2023, "Unexpected
improvements to expected improvement for Bayesian optimization"). For a minimised objective with
posterior ``N(mu, sigma^2)`` and incumbent ``best``, ``EI = sigma h(z)`` with
``z = (best - mu) / sigma`` and ``h(z) = phi(z) + z Phi(z)``. ``h`` underflows to 0 for
``z < -38`` or so, and a flat zero gives the optimizer nothing to climb. :func:`log_h` computes
``log h(z)`` without forming ``h``:

* ``z > -1``: directly;
* ``-1/sqrt(eps) < z <= -1``: ``log phi(z) + log(1 - sqrt(pi/2) |z| erfcx(-z/sqrt 2))`` with the
  scaled complementary error function (no cancellation of two tiny numbers);
* below: the asymptotic ``-z^2/2 - log(2 pi)/2 - 2 log|z|``.

Its derivative ``d log h / dz = Phi(z) / h(z)`` is formed as ``exp(log Phi(z) - log h(z))``.

**Constraints**: each constraint value gets its own GP; the log probability of feasibility
``sum_k log Phi(-mu_k / sigma_k)`` is added to log EI (Gardner et al. 2014). With no feasible
observation yet, only the feasibility term is maximised.

**Optimizer** (:func:`maximize`): quasi-random (scrambled Sobol) candidates plus Gaussian
perturbations of the best observed points at three scales, all snapped onto representable points
(discrete columns at their cell centres, one-hot categoricals at a vertex) with
:meth:`hpopt.SpaceTransform.snap`; the best few, plus the best observed point, are refined by
one L-BFGS-B run over their stacked continuous columns (the sum of independent terms), discrete
columns held at their snapped values; the refined points are snapped again and the best value
of all wins. So the kernel always sees inputs exactly as they will be decoded: integers, steps and
categoricals (one-hot columns in the Matérn kernel, not a dedicated kernel) are handled
consistently.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import scipy.optimize
import scipy.special

from hpopt.samplers.gp_model import GaussianProcess

__all__ = ["log_h", "log_h_grad", "log_ei", "Acquisition", "maximize"]

_C1 = 0.5 * math.log(2.0 * math.pi)
_C2 = 0.5 * math.log(math.pi / 2.0)
_EPS_BOUND = -1.0 / math.sqrt(np.finfo(float).eps)  # about -6.7e7


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """``log(1 - exp(x))`` for ``x < 0``, accurate on both sides of ``-log 2`` (Mächler 2012)."""
    x = np.minimum(x, -1e-300)
    return np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def log_h(z: np.ndarray) -> np.ndarray:
    """``log(phi(z) + z Phi(z))`` computed stably for every real ``z`` (finite where ``h`` underflows)."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    hi = z > -1.0
    zh = z[hi]
    out[hi] = np.log(np.exp(-0.5 * zh * zh - _C1) + zh * scipy.special.ndtr(zh))
    mid = ~hi & (z > _EPS_BOUND)
    zm = z[mid]
    with np.errstate(over="ignore", divide="ignore"):
        inner = np.log(scipy.special.erfcx(-zm / math.sqrt(2.0)) * np.abs(zm)) + _C2
    out[mid] = -0.5 * zm * zm - _C1 + _log1mexp(inner)
    lo = ~hi & ~mid
    zl = z[lo]
    out[lo] = -0.5 * zl * zl - _C1 - 2.0 * np.log(np.abs(zl))
    return out


def log_h_grad(z: np.ndarray) -> np.ndarray:
    """``d log h(z) / dz = Phi(z) / h(z)``, formed in log space."""
    z = np.asarray(z, dtype=float)
    return np.exp(scipy.special.log_ndtr(z) - log_h(z))


def log_ei(mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
    """Log expected improvement below ``best`` of ``N(mean, var)`` (minimisation)."""
    sigma = np.sqrt(np.maximum(var, 1e-300))
    return np.log(sigma) + log_h((best - mean) / sigma)


class Acquisition:
    """Log EI of an objective GP (or none) plus log feasibility of constraint GPs, with gradient.

    Args:
        objective: GP of the (minimised) objective, or None for feasibility alone.
        best: Incumbent value (minimised, the GP's units); ignored without ``objective``.
        constraints: GPs of constraint values (``<= 0`` feasible).
    """

    def __init__(
        self, objective: GaussianProcess | None, best: float, constraints: Sequence[GaussianProcess] = ()
    ) -> None:
        self.objective = objective
        self.best = float(best)
        self.constraints = list(constraints)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Acquisition values of the rows of ``X`` (higher is better)."""
        X = np.atleast_2d(X)
        out = np.zeros(len(X))
        if self.objective is not None:
            mean, var = self.objective.predict(X)
            out += log_ei(mean, var, self.best)
        for gp in self.constraints:
            mean, var = gp.predict(X)
            out += scipy.special.log_ndtr(-mean / np.sqrt(np.maximum(var, 1e-300)))
        return out

    def value_and_grad(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Acquisition values and their gradients ``(m, d)`` with respect to the rows of ``X``."""
        X = np.atleast_2d(X)
        out, grad = np.zeros(len(X)), np.zeros(X.shape)
        if self.objective is not None:
            mean, var, dm, dv = self.objective.predict_grad(X)
            sigma = np.sqrt(np.maximum(var, 1e-300))
            z = (self.best - mean) / sigma
            dsigma = dv / (2.0 * sigma[:, None])
            dz = -dm / sigma[:, None] - z[:, None] * dsigma / sigma[:, None]
            out += np.log(sigma) + log_h(z)
            grad += dsigma / sigma[:, None] + log_h_grad(z)[:, None] * dz
        for gp in self.constraints:
            mean, var, dm, dv = gp.predict_grad(X)
            sigma = np.sqrt(np.maximum(var, 1e-300))
            w = -mean / sigma
            dw = -dm / sigma[:, None] - w[:, None] * (dv / (2.0 * sigma[:, None])) / sigma[:, None]
            lp = scipy.special.log_ndtr(w)
            out += lp
            ratio = np.exp(-0.5 * w * w - _C1 - lp)  # phi(w) / Phi(w)
            grad += ratio[:, None] * dw
        return out, grad


def maximize(
    acq: Callable[[np.ndarray], np.ndarray],
    acq_grad: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None,
    dim: int,
    snap: Callable[[np.ndarray], np.ndarray],
    continuous: np.ndarray,
    rng: np.random.Generator,
    *,
    best_points: np.ndarray | None = None,
    n_candidates: int = 1024,
    n_local: int = 256,
    n_refine: int = 5,
    maxiter: int = 200,
) -> np.ndarray:
    """The point of the unit box maximising ``acq`` (one row of length ``dim``).

    Args:
        acq: Vectorized acquisition ``(m, dim) -> (m,)``.
        acq_grad: Values and gradients ``(m, dim) -> ((m,), (m, dim))``, or None to skip refinement.
        dim: Number of columns.
        snap: Moves rows onto representable points (:meth:`SpaceTransform.snap`).
        continuous: Boolean mask of the continuous columns (refined by L-BFGS-B).
        rng: Randomness (Sobol scrambling, perturbations).
        best_points: Good observed points (rows) to perturb locally.
        n_candidates: Quasi-random candidates.
        n_local: Perturbations around ``best_points``.
        n_refine: Candidates refined by L-BFGS-B (plus the first of ``best_points``).
        maxiter: L-BFGS-B iterations.
    """
    from scipy.stats import qmc  # here: scipy.stats takes 0.4 s to import

    sobol = qmc.Sobol(dim, scramble=True, seed=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balance warning when n is not a power of two
        cands = [sobol.random(n_candidates)]
    if best_points is not None and len(best_points) and n_local > 0:
        bp = np.atleast_2d(best_points)
        idx = rng.integers(len(bp), size=n_local)
        scales = np.array([0.01, 0.05, 0.2])[rng.integers(3, size=n_local)]
        local = bp[idx] + scales[:, None] * rng.standard_normal((n_local, dim))
        # perturb only a random subset of columns (at least one): moves along few axes matter most
        mask = rng.random((n_local, dim)) < max(0.2, 1.0 / dim)
        mask[np.arange(n_local), rng.integers(dim, size=n_local)] = True
        cands.append(np.clip(np.where(mask, local, bp[idx]), 0.0, 1.0))
    X = snap(np.vstack(cands))
    vals = acq(X)
    vals = np.where(np.isfinite(vals), vals, -np.inf)
    order = np.argsort(-vals, kind="stable")
    best_x, best_v = X[order[0]].copy(), float(vals[order[0]])
    cont = np.flatnonzero(continuous)
    if acq_grad is None or not len(cont) or not math.isfinite(best_v):
        return best_x
    # refine the top distinct candidates and the best observed point (the incumbent: the
    # acquisition's maximum is often a short step from it) jointly
    pool = X[order[: 4 * n_refine]]
    if best_points is not None and len(best_points):
        pool = np.vstack([snap(np.atleast_2d(best_points)[:1]), pool])
    _, first = np.unique(np.round(pool, 12), axis=0, return_index=True)
    starts = pool[np.sort(first)[: n_refine + 1]]
    k, c = len(starts), len(cont)

    def f(z: np.ndarray) -> tuple[float, np.ndarray]:
        Z = starts.copy()
        Z[:, cont] = z.reshape(k, c)
        v, g = acq_grad(Z)
        v = np.where(np.isfinite(v), v, -1e10)
        g = np.where(np.isfinite(g), g, 0.0)
        return -float(v.sum()), -g[:, cont].ravel()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = scipy.optimize.minimize(
            f, starts[:, cont].ravel(), jac=True, method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * (k * c), options={"maxiter": maxiter},
        )
    Z = starts.copy()
    Z[:, cont] = np.clip(res.x.reshape(k, c), 0.0, 1.0)
    Z = snap(Z)
    zv = acq(Z)
    zv = np.where(np.isfinite(zv), zv, -np.inf)
    j = int(np.argmax(zv))
    if zv[j] > best_v:
        best_x = Z[j]
    return best_x
