"""A global linear-quadratic surrogate for CMA-ES (lq-CMA-ES, Hansen 2019).

N. Hansen, "A Global Surrogate Assisted CMA-ES", GECCO 2019. The model is a weighted least-squares
regression of ``f`` on the most recent evaluated points, with a complexity chosen by how many
points there are:

* **linear**: ``1 + n`` coefficients, always available;
* **diagonal quadratic**: ``1 + 2n``, once ``0.75 * size >= 1.1 * (2n + 1)``;
* **full quadratic**: ``1 + n (n + 3) / 2``, once ``0.75 * size >= 1.1 * (1 + n (n + 3) / 2)``
  (only up to ``FULL_MAX_DIM`` coordinates, to keep the fit cheap; above it the model stays
  diagonal).

The archive keeps the ``max(2 * df_full, popsize)`` most recent points. A fit uses only the best
``max(df + 2, 0.75 * (size + 1))`` of them (the worst are the least quadratic), weighted linearly
from 20 (best) down to 1. Coordinates are centred and scaled per coordinate before the fit, so the
regression stays well conditioned when the step size is tiny.

The agreement between model and truth is Kendall's tau between the model's and the true values
of the most recent ``max(15, min(1.2 * evaluated, 0.75 * popsize))`` archive points. The sampler
(:mod:`hpopt.samplers.cmaes`) evaluates a generation's candidates in the model's order and stops
as soon as tau reaches ``TAU_THRESHOLD``; otherwise it evaluates ``ceil(k / 2)`` more.

The constants are the paper's (its reference implementation, pycma's ``cma.fitness_models``, was
read to check them; no code is taken from it). Two choices are ours: the fit solves the weighted
least squares by rank-revealing QR (minimum-norm while the data are too few) on standardized
coordinates, and the full model stops at ``FULL_MAX_DIM`` coordinates.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = LQModel(3, popsize=7)
    >>> for x in rng.random((40, 3)):
    ...     m.add(x, float(((x - 0.3) ** 2 * [1, 10, 100]).sum()))
    >>> m.fit()
    >>> m.kind, round(m.kendall(15), 6)
    ('full', 1.0)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import get_lapack_funcs

__all__ = [
    "LQModel", "kendall_tau", "first_batch", "n_for_tau", "points_for_full_model", "TAU_THRESHOLD",
    "FULL_MAX_DIM",
]

#: Kendall tau from which the model values stand in for the unevaluated candidates.
TAU_THRESHOLD = 0.85
#: Above this many coordinates the model stops at the diagonal quadratic (the full fit is O(n^6)).
FULL_MAX_DIM = 12
_TRUNCATION = 0.75  # fraction of the archive (the best) used by a fit
_MIN_RELATIVE_SIZE = 1.1  # data per coefficient (after truncation) before a richer model
_MAX_RELATIVE_SIZE = 2.0  # archive size in units of the full model's coefficients
_MAX_WEIGHT = 20.0  # regression weight of the best point (the worst used has 1)
_MIN_EVALS_FRACTION = 0.02  # of the population, evaluated every generation


def points_for_full_model(n: int) -> int:
    """Evaluated points from which a full quadratic in ``n`` coordinates is fitted (the model's
    rule: ``0.75 * size >= 1.1 * (n + 1)(n + 2) / 2``), whatever ``FULL_MAX_DIM`` says."""
    return math.ceil(_MIN_RELATIVE_SIZE * ((n + 1) * (n + 2) // 2) / _TRUNCATION)


def n_for_tau(popsize: int, evaluated: int) -> int:
    """How many recent archive points the rank agreement is measured on."""
    return int(max(15, min(1.2 * evaluated, 0.75 * popsize)))


def first_batch(popsize: int, archive_size: int) -> int:
    """True evaluations of a generation before the first agreement check: 5 with an empty
    archive, one less per archived point down to 1 (or 2 % of a large population)."""
    return int(1 + max(popsize * _MIN_EVALS_FRACTION, 3 / _TRUNCATION - archive_size))


_GELSY, _GELSY_LWORK = get_lapack_funcs(("gelsy", "gelsy_lwork"), (np.empty((1, 1)),))
_RCOND = float(np.finfo(float).eps)  # the rank cut of scipy.linalg.lstsq's default


def _lstsq(A: np.ndarray, b: np.ndarray, lwork: dict[tuple[int, int], int]) -> np.ndarray:
    """The minimum-norm least-squares solution of ``A x = b`` by LAPACK's rank-revealing QR
    (``gelsy``), as ``scipy.linalg.lstsq(A, b, lapack_driver="gelsy")`` computes it, without that
    wrapper's checks (a fit runs once per evaluation). ``lwork`` caches the workspace per shape."""
    m, n = A.shape
    if m < n:  # LAPACK writes the n-long solution into b
        b = np.concatenate([b, np.zeros(n - m)])
    size = lwork.get((m, n))
    if size is None:
        work, info = _GELSY_LWORK(m, n, 1, _RCOND)
        if info != 0:
            raise ValueError(f"LAPACK gelsy workspace query failed (info={info}).")
        size = lwork[m, n] = int(work.real)
    x, info = _GELSY(A, b, np.zeros(n, dtype=np.int32), _RCOND, size, False, False)[1::3]
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of LAPACK gelsy")
    return x[:n]


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b between two value vectors (0 when either is constant or too short)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 3:
        return 0.0
    # Over all ordered pairs: each pair twice, which cancels (exactly: a power of two).
    sa = np.sign(a[:, None] - a[None, :])
    sb = np.sign(b[:, None] - b[None, :])
    denom = math.sqrt(float(np.count_nonzero(sa)) * float(np.count_nonzero(sb)))
    return float((sa * sb).sum() / denom) if denom > 0 else 0.0


class LQModel:
    """Archive of recent evaluations and the linear-quadratic regression fitted to them.

    Args:
        n: Number of (continuous, unit-box) coordinates.
        popsize: The CMA-ES population size (the archive keeps at least that many points).
    """

    def __init__(self, n: int, popsize: int) -> None:
        self.n = n
        self.df = {
            "linear": n + 1,
            "diagonal": 2 * n + 1,
            "full": n * (n + 3) // 2 + 1 if n <= FULL_MAX_DIM else 2 * n + 1,
        }
        self.max_size = max(int(_MAX_RELATIVE_SIZE * self.df["full"]), int(popsize))
        # The archive is rows start..end of buffers twice its size, shifted down when full.
        self._bx = np.empty((2 * self.max_size, n))
        self._bf = np.empty(2 * self.max_size)
        self._start = self._end = 0
        self._weights: dict[int, np.ndarray] = {}  # regression weights per fit size
        self._lwork: dict[tuple[int, int], int] = {}  # LAPACK workspace per fit shape
        self.kind = "linear"
        self._coef: np.ndarray | None = None
        self._centre = np.zeros(n)
        self._scale = np.ones(n)
        self._f0 = 0.0
        self._iu = np.triu_indices(n)
        self.count = 0  # points ever added (a fit is redone only when it changed)
        self._fitted = -1

    @property
    def size(self) -> int:
        """Number of points in the archive."""
        return self._end - self._start

    @property
    def X(self) -> np.ndarray:
        """The archive's points (rows, oldest first); a view valid until the next :meth:`add`."""
        return self._bx[self._start : self._end]

    @property
    def F(self) -> np.ndarray:
        """The archive's values, in the order of :attr:`X`."""
        return self._bf[self._start : self._end]

    def add(self, x: np.ndarray, f: float) -> None:
        """Append one evaluated point (non-finite values are not modelled); drop the oldest."""
        if not math.isfinite(f):
            return
        if self._end == len(self._bf):  # buffers full: move the archive to their start
            size = self.size
            self._bx[:size] = self._bx[self._start : self._end]
            self._bf[:size] = self._bf[self._start : self._end]
            self._start, self._end = 0, size
        self._bx[self._end] = x
        self._bf[self._end] = f
        self._end += 1
        if self._end - self._start > self.max_size:
            self._start += 1
        self.count += 1

    def _kind(self) -> str:
        for kind in ("full", "diagonal"):
            if self.size * _TRUNCATION >= self.df[kind] * _MIN_RELATIVE_SIZE:
                if kind == "full" and self.n > FULL_MAX_DIM:
                    continue
                return kind
        return "linear"

    def _features(self, X: np.ndarray) -> np.ndarray:
        z = (np.asarray(X, float) - self._centre) / self._scale
        n = self.n
        out = np.empty((len(z), self.df[self.kind]))
        out[:, 0] = 1.0
        out[:, 1 : n + 1] = z
        if self.kind == "diagonal":
            np.multiply(z, z, out=out[:, n + 1 :])
        elif self.kind == "full":
            np.multiply(z[:, self._iu[0]], z[:, self._iu[1]], out=out[:, n + 1 :])
        return out

    def fit(self) -> None:
        """Refit the regression on the archive (no-op while it is empty or unchanged)."""
        if self._fitted == self.count:
            return
        self._fitted = self.count
        if not self.size:
            self._coef = None
            return
        self.kind = self._kind()
        df = self.df[self.kind]
        m = min(self.size, int(max(df + 2, _TRUNCATION * (self.size + 1))))
        best = np.argsort(self.F, kind="stable")[:m]
        X, F = self.X[best], self.F[best]
        self._centre = X.mean(axis=0)
        spread = X.std(axis=0)
        self._scale = np.where(spread > 0, spread, 1.0)
        self._f0 = float(F[0])
        w = self._weights.get(m)
        if w is None:
            w = self._weights[m] = np.linspace(_MAX_WEIGHT, 1.0, m)
        A, b = self._features(X) * w[:, None], (F - self._f0) * w
        coef = np.zeros(A.shape[1])
        if np.isfinite(A).all() and np.isfinite(b).all():
            # Rank-revealing QR: the minimum-norm solution while the data are too few.
            coef = _lstsq(A, b, self._lwork)
        self._coef = coef if np.isfinite(coef).all() else np.zeros_like(coef)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Model values of the rows of ``X`` (zeros before the first fit)."""
        X = np.atleast_2d(np.asarray(X, float))
        if self._coef is None:
            return np.zeros(len(X))
        return self._features(X) @ self._coef + self._f0

    def kendall(self, count: int) -> float:
        """Rank agreement of model and truth on the ``count`` most recent archive points."""
        k = min(count, self.size)
        if k < 3 or self._coef is None:
            return 0.0
        return kendall_tau(self.F[-k:], self.predict(self.X[-k:]))
