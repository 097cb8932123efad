"""The numerical CMA-ES behind :class:`hpopt.samplers.cmaes.CmaEsSampler`, in the unit box.

One class, :class:`CMA`, holds one run's distribution and updates it from one generation at a
time. Equation numbers refer to N. Hansen, "The CMA Evolution Strategy: A Tutorial" (2016,
arXiv:1604.00772), active CMA with negative weights included. Extensions:

* **Separable variant** (Ros & Hansen 2008): ``C`` diagonal, ``c1`` and ``cmu`` multiplied by
  ``(n + 2) / 3``; ``O(n)`` per sample instead of ``O(n^2)``.
* **Margin for discrete coordinates** (Hamano et al. 2022, "CMA-ES with margin"): a coordinate whose
  values own the cells between given thresholds keeps, after every update, a marginal probability of at least
  ``margin`` of leaving the cell of the mean towards each neighbouring cell — first by moving the
  mean inside its cell, and when that cannot suffice, by widening a diagonal factor ``A``
  (samples are ``x = m + sigma * A * y`` with ``y ~ N(0, C)``). So no integer becomes unreachable.
* **Categorical coordinates** (the joint model of CatCMA, Hamano et al. 2024): each categorical
  parameter has a probability vector ``q`` sampled jointly with the Gaussian and updated with the
  same rank weights by the IGO natural gradient of the categorical family,
  ``q <- q + c_q * sum_i w_i (onehot(c_i) - q)``, then projected onto the margin
  ``q >= (1 - 0.73 ** (1 / n_cat)) / (K - 1)`` of the CatCMA paper. We use a fixed rate
  ``c_q = 1 / sum(K - 1)`` (the SNG default) instead of CatCMA's adaptive one.
* **Injection** (Hansen 2011, "Injecting external solutions into CMA-ES"): a solution not drawn
  from the current distribution (a late finisher of an earlier generation, an enqueued trial)
  enters the update with its Mahalanobis step length clipped to ``sqrt(n) + 2n / (n + 2)``.

Example:
    >>> import numpy as np
    >>> cma = CMA([None] * 3, [], mean=np.full(3, 0.6), sigma=0.2, popsize=8)
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(60):
    ...     xs = np.array([cma.sample(rng)[0] for _ in range(cma.popsize)])
    ...     cma.tell(xs, np.empty((len(xs), 0), int), ((xs - 0.3) ** 2).sum(axis=1))
    >>> bool(np.abs(cma.mean - 0.3).max() < 1e-3)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import ndtri

__all__ = ["CMA", "default_popsize", "SEPARABLE_THRESHOLD"]

#: Dimension from which ``separable="auto"`` chooses the diagonal variant.
SEPARABLE_THRESHOLD = 40
_EPS = 1e-14  # floor of C's eigenvalues relative to the largest (keeps C positive definite)
_SIGMA_MAX = 1e32  # cap of the step size
_COND_MAX = 1e14  # condition number of C that ends a run ("conditioncov")
_TOLXUP = 1e4  # sigma * max(D) / sigma0 above this ends a run (divergence)
_BATCH = 8  # candidates drawn at once when a sample falls outside the box
_MAX_RESAMPLE = 64  # candidates tried before clipping to the box
_WEIGHT_EPS = 1e-12  # guards divisions by squared norms
_Q_MARGIN_BASE = 0.73  # CatCMA margin: (1 - 0.73 ** (1 / n_cat)) / (K - 1)


def default_popsize(n_dims: int) -> int:
    """``4 + floor(3 ln n)`` (eq.48), at least 4."""
    return 4 + int(3 * math.log(max(n_dims, 1)))


class CMA:
    """One CMA-ES run on the unit box ``[0, 1]^n``, with discrete and categorical coordinates.

    Args:
        thresholds: Per numeric coordinate, None for a continuous one, or the sorted cell
            boundaries (unit coordinates) between the values of a discrete one (integers, steps).
        cat_sizes: Number of choices of each categorical parameter (``K >= 1``).
        mean: Initial mean (length ``n``).
        sigma: Initial step size (``> 0``).
        popsize: Population size ``lambda >= 2``.
        cov: Initial covariance (``n x n``, or its diagonal when separable); identity if None.
        separable: Diagonal covariance (sep-CMA).
        margin: Margin probability for discrete coordinates; default ``1 / (n * lambda)``.
        q0: Initial categorical probabilities, one vector per categorical; uniform if None.

    Example:
        >>> cma = CMA([None, np.arange(1, 5) / 5], [3], mean=np.full(2, 0.5), sigma=0.2, popsize=6)
        >>> x, c = cma.sample(np.random.default_rng(1))
        >>> x.shape, c.shape
        ((2,), (1,))
    """

    def __init__(
        self,
        thresholds: Sequence[np.ndarray | None],
        cat_sizes: Sequence[int],
        *,
        mean: np.ndarray,
        sigma: float,
        popsize: int,
        cov: np.ndarray | None = None,
        separable: bool = False,
        margin: float | None = None,
        q0: Sequence[np.ndarray] | None = None,
    ) -> None:
        n = self.n = len(thresholds)
        disc = [i for i, t in enumerate(thresholds) if t is not None]
        width = max([len(thresholds[i]) for i in disc], default=0)  # type: ignore[arg-type]
        self._thr = np.full((len(disc), width), np.inf)  # padded with +inf
        for row, i in enumerate(disc):
            self._thr[row, : len(thresholds[i])] = thresholds[i]  # type: ignore[index]
        self.cat_sizes = np.asarray(list(cat_sizes), dtype=int)
        self.separable = bool(separable)
        self.popsize = lam = int(popsize)
        self.sigma0 = self.sigma = float(sigma)
        self.mean = np.clip(np.asarray(mean, dtype=float).copy(), 0.0, 1.0)
        self._strategy(n, lam)
        if cov is None:
            cov = np.ones(n) if self.separable else np.eye(n)
        cov = np.asarray(cov, dtype=float)
        if self.separable and cov.ndim == 2:
            cov = np.diag(cov).copy()
        self.C = cov.copy()
        self.pc = np.zeros(n)
        self.ps = np.zeros(n)
        self.A = np.ones(n)
        self.generation = 0
        self._eig: tuple[np.ndarray, np.ndarray] | None = None
        self.best_history: list[float] = []
        self.median_history: list[float] = []
        self.last_range = math.inf
        self._disc = np.array(disc, dtype=int)
        self._cont = np.array([i for i, t in enumerate(thresholds) if t is None], dtype=int)
        self.margin = float(margin) if margin is not None else 1.0 / (max(n, 1) * lam)
        self._z_margin = float(ndtri(1.0 - self.margin))  # standard normal quantile
        self._init_categorical(q0)
        if self._disc.size:
            self._margin_correction()

    # -- strategy parameters ------------------------------------------------------------------------
    def _strategy(self, n: int, lam: int) -> None:
        mu = lam // 2
        wp = math.log((lam + 1) / 2) - np.log(np.arange(1, lam + 1))  # (eq.49)
        pos, neg = wp[:mu], wp[mu:]
        self.mu = mu
        self.mueff = pos.sum() ** 2 / (pos**2).sum()  # (eq.50)
        mueff_neg = neg.sum() ** 2 / (neg**2).sum() if neg.size and neg.sum() != 0 else 0.0
        nn = max(n, 1)
        alpha_cov = 2.0
        self.c1 = alpha_cov / ((nn + 1.3) ** 2 + self.mueff)  # (eq.57)
        self.cmu = min(
            1 - self.c1,
            alpha_cov * (self.mueff - 2 + 1 / self.mueff) / ((nn + 2) ** 2 + alpha_cov * self.mueff / 2),
        )  # (eq.58)
        if self.separable:  # Ros & Hansen (2008): faster learning of the n free parameters
            scale = (nn + 2) / 3
            self.c1, self.cmu = self.c1 * scale, self.cmu * scale
            total = self.c1 + self.cmu
            if total > 0.9:
                self.c1, self.cmu = self.c1 * 0.9 / total, self.cmu * 0.9 / total
        # (eq.53): positive weights sum to 1, negative ones are scaled by the smallest bound.
        a_mu = 1 + self.c1 / self.cmu if self.cmu > 0 else 1.0
        a_mueff = 1 + 2 * mueff_neg / (self.mueff + 2)
        a_posdef = (1 - self.c1 - self.cmu) / (nn * self.cmu) if self.cmu > 0 else 1.0
        neg_sum = -neg[neg < 0].sum()
        w = np.where(wp >= 0, wp / pos.sum(), 0.0)
        if neg_sum > 0:
            w = np.where(wp < 0, wp * min(a_mu, a_mueff, a_posdef) / neg_sum, w)
        self.weights = w
        self.cm = 1.0
        self.cs = (self.mueff + 2) / (nn + self.mueff + 5)  # (eq.55)
        self.ds = 1 + 2 * max(0.0, math.sqrt((self.mueff - 1) / (nn + 1)) - 1) + self.cs
        self.cc = (4 + self.mueff / nn) / (nn + 4 + 2 * self.mueff / nn)  # (eq.56)
        self.chi_n = math.sqrt(nn) * (1 - 1 / (4 * nn) + 1 / (21 * nn * nn))  # E||N(0, I)||
        self.c_inject = math.sqrt(nn) + 2 * nn / (nn + 2)  # Hansen (2011), clip of injected steps

    def _init_categorical(self, q0: Sequence[np.ndarray] | None) -> None:
        k = self.cat_sizes
        self.n_cat = len(k)
        kmax = int(k.max()) if self.n_cat else 0
        self._qmask = np.arange(kmax)[None, :] < k[:, None]
        many = np.maximum(k - 1, 1)
        self.q_min = np.where(k > 1, (1 - _Q_MARGIN_BASE ** (1 / max(self.n_cat, 1))) / many, 0.0)
        self.c_q = min(1.0, 1.0 / max(int((k - 1).sum()), 1))
        q = np.where(self._qmask, 1.0 / np.maximum(k, 1)[:, None], 0.0)
        if q0 is not None:
            for i, qi in enumerate(q0):
                q[i, : k[i]] = qi
        self.q = self._project_q(q)

    def _project_q(self, q: np.ndarray) -> np.ndarray:
        """Raise every probability to the margin and take the excess from those above it."""
        if not self.n_cat:
            return q
        qmin = self.q_min[:, None]
        q = np.where(self._qmask, np.maximum(q, qmin), 0.0)
        total = q.sum(axis=1, keepdims=True)
        free = total - qmin * self.cat_sizes[:, None]
        share = np.where(free > 0, (q - qmin) / np.where(free > 0, free, 1.0), 0.0)
        q = np.where(self._qmask, q - (total - 1.0) * share, 0.0)
        return q / q.sum(axis=1, keepdims=True)

    # -- eigen decomposition, cached until the next update -----------------------------------------
    def eigen(self) -> tuple[np.ndarray, np.ndarray]:
        """``(B, D)`` with ``C = B diag(D^2) B^T``; for the separable variant ``B`` is None-like."""
        if self._eig is None:
            if self.separable or self.n == 0:
                self.C = np.maximum(self.C, _EPS * max(float(self.C.max(initial=1.0)), 1e-300))
                self._eig = (np.empty((0, 0)), np.sqrt(self.C))
            else:
                self.C = (self.C + self.C.T) / 2  # symmetrize before eigh
                if self.n == 1:  # what eigh gives for a 1 x 1 matrix, without its overhead
                    vals, vecs = self.C[0].copy(), np.ones((1, 1))
                else:
                    vals, vecs = np.linalg.eigh(self.C)
                vals = np.maximum(vals, _EPS * max(float(vals.max()), 1e-300))
                self.C = (vecs * vals) @ vecs.T
                self._eig = (vecs, np.sqrt(vals))
        return self._eig

    def _to_y(self, z: np.ndarray) -> np.ndarray:
        """Standard normal rows -> rows of ``N(0, C)`` (eq.39)."""
        B, D = self.eigen()
        return z * D if self.separable else (z * D) @ B.T

    def _inv_sqrt(self, y: np.ndarray) -> np.ndarray:
        """Rows ``y`` -> ``C^{-1/2} y`` (for separable: ``y / D``)."""
        B, D = self.eigen()
        return y / D if self.separable else ((y @ B) / D) @ B.T

    # -- sampling -----------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One candidate: numeric coordinates in the box and categorical indices.

        Candidates falling outside the box are redrawn (up to ``_MAX_RESAMPLE``), then clipped.
        """
        x = self.mean.copy()
        if self.n:
            scale = self.sigma * self.A
            first = None
            for _ in range(_MAX_RESAMPLE // _BATCH):
                xs = self.mean + scale * self._to_y(rng.standard_normal((_BATCH, self.n)))
                inside = np.flatnonzero(((xs >= 0) & (xs <= 1)).all(axis=1))
                if first is None:
                    first = xs[0]
                if inside.size:
                    x = xs[inside[0]]
                    break
            else:
                x = np.clip(first, 0.0, 1.0)
        cats = np.zeros(self.n_cat, dtype=int)
        if self.n_cat:
            u = rng.random(self.n_cat)
            cum = np.cumsum(self.q, axis=1)
            cats = np.minimum((cum < u[:, None]).sum(axis=1), self.cat_sizes - 1)
        return x, cats

    def sample_many(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` numeric candidates at once (rows), redrawn row-wise while outside the box.

        A row still outside after ``_MAX_RESAMPLE`` rounds is its first draw clipped to the box.
        """
        if not self.n:
            return np.tile(self.mean, (count, 1))
        scale = self.sigma * self.A
        first = self.mean + scale * self._to_y(rng.standard_normal((count, self.n)))
        out = first.copy()
        todo = np.flatnonzero(~((first >= 0) & (first <= 1)).all(axis=1))
        for _ in range(_MAX_RESAMPLE - 1):
            if not todo.size:
                break
            xs = self.mean + scale * self._to_y(rng.standard_normal((todo.size, self.n)))
            ok = ((xs >= 0) & (xs <= 1)).all(axis=1)
            out[todo[ok]] = xs[ok]
            todo = todo[~ok]
        out[todo] = np.clip(first[todo], 0.0, 1.0)
        return out

    # -- update -------------------------------------------------------------------------------------
    def tell(
        self,
        xs: np.ndarray,
        cats: np.ndarray,
        fs: np.ndarray,
        injected: np.ndarray | None = None,
    ) -> None:
        """Update from one generation of ``popsize`` evaluated candidates (lower ``fs`` is better).

        Args:
            xs: ``(popsize, n)`` numeric coordinates.
            cats: ``(popsize, n_cat)`` categorical indices.
            fs: ``(popsize,)`` objective values.
            injected: Rows not drawn from the current distribution (their steps are clipped).
        """
        fs = np.asarray(fs, dtype=float)
        order = np.argsort(fs, kind="stable")
        xs, cats, fs = np.asarray(xs, float)[order], np.asarray(cats, int)[order], fs[order]
        w, mu, n = self.weights, self.mu, self.n
        if n:
            y = (xs - self.mean) / (self.sigma * self.A)
            if injected is not None and np.any(injected):
                inj = np.asarray(injected, bool)[order]
                norms = np.linalg.norm(self._inv_sqrt(y[inj]), axis=1)
                y[inj] *= np.minimum(1.0, self.c_inject / np.maximum(norms, _WEIGHT_EPS))[:, None]
            yw = w[:mu] @ y[:mu]  # (eq.41)
            self.mean = np.clip(self.mean + self.cm * self.sigma * self.A * yw, 0.0, 1.0)  # (eq.42)
            g = self.generation + 1
            self.ps = (1 - self.cs) * self.ps + math.sqrt(
                self.cs * (2 - self.cs) * self.mueff
            ) * self._inv_sqrt(yw[None])[0]  # (eq.43)
            ps_norm = math.sqrt(float(self.ps @ self.ps))
            self.sigma = min(
                self.sigma * math.exp(self.cs / self.ds * (ps_norm / self.chi_n - 1)), _SIGMA_MAX
            )  # (eq.44)
            h_sigma = ps_norm / math.sqrt(1 - (1 - self.cs) ** (2 * g)) < (
                1.4 + 2 / (n + 1)
            ) * self.chi_n
            self.pc = (1 - self.cc) * self.pc + h_sigma * math.sqrt(
                self.cc * (2 - self.cc) * self.mueff
            ) * yw  # (eq.45)
            # (eq.46): negative weights rescaled by n / ||C^{-1/2} y||^2
            sq = (self._inv_sqrt(y) ** 2).sum(axis=1)
            wo = np.where(w >= 0, w, w * n / np.maximum(sq, _WEIGHT_EPS))
            delta_h = (1 - h_sigma) * self.cc * (2 - self.cc)
            decay = 1 + self.c1 * delta_h - self.c1 - self.cmu * w.sum()
            if self.separable:
                rank_mu = (wo[:, None] * y * y).sum(axis=0)
                self.C = decay * self.C + self.c1 * self.pc**2 + self.cmu * rank_mu  # (eq.47)
            else:
                rank_mu = (y.T * wo) @ y  # loop form: sum_i wo[i] * outer(y[i], y[i])
                outer = self.pc[:, None] * self.pc[None, :]
                self.C = decay * self.C + self.c1 * outer + self.cmu * rank_mu
            self._eig = None
            if self._disc.size:
                self._margin_correction()
        if self.n_cat:
            onehot = np.zeros((mu, *self.q.shape))
            onehot[np.arange(mu)[:, None], np.arange(self.n_cat)[None, :], cats[:mu]] = 1.0
            grad = np.einsum("i,ijk->jk", w[:mu], onehot - self.q[None])  # IGO natural gradient
            self.q = self._project_q(self.q + self.c_q * grad)
        self.generation += 1
        finite = fs[np.isfinite(fs)]
        self.best_history.append(float(finite[0]) if finite.size else math.inf)
        self.median_history.append(_median(fs.tolist()) if finite.size == fs.size else math.inf)
        # Python floats: a range beyond 1.8e308 is inf without numpy's overflow warning
        self.last_range = float(finite[-1]) - float(finite[0]) if finite.size == fs.size else math.inf

    def _margin_correction(self) -> None:
        """Keep a probability >= margin of leaving the mean's cell on each side (Hamano 2022)."""
        d = self._disc
        m = self.mean[d]
        diag = self.C[d] if self.separable else np.diag(self.C)[d]
        ci = self._z_margin * self.sigma * self.A[d] * np.sqrt(diag)
        thr = self._thr
        cell = (thr <= m[:, None]).sum(axis=1)
        padded = np.concatenate([np.full((len(d), 1), -np.inf), thr, np.full((len(d), 1), np.inf)], 1)
        lo = padded[np.arange(len(d)), cell]
        hi = padded[np.arange(len(d)), cell + 1]
        has_lo, has_hi = np.isfinite(lo), np.isfinite(hi)
        new_m = m.copy()
        only_hi = ~has_lo & has_hi
        only_lo = has_lo & ~has_hi
        new_m[only_hi] = np.maximum(m[only_hi], hi[only_hi] - ci[only_hi])
        new_m[only_lo] = np.minimum(m[only_lo], lo[only_lo] + ci[only_lo])
        both = has_lo & has_hi
        wide = both & (hi - lo > 2 * ci)
        fits = both & ~wide
        new_m[fits] = np.clip(m[fits], hi[fits] - ci[fits], lo[fits] + ci[fits])
        new_m[wide] = (lo[wide] + hi[wide]) / 2
        # The mean cannot help in the wide case: widen A so each neighbour gets `margin`.
        grow = np.ones_like(m)
        grow[wide] = (hi[wide] - lo[wide]) / 2 / np.maximum(ci[wide], 1e-300)
        self.mean[d] = new_m
        self.A[d] *= grow

    # -- termination --------------------------------------------------------------------------------
    def stop_reason(self, *, tolfun: float, tolx: float) -> str | None:
        """Why this run has stagnated (a restart criterion of Hansen 2009), or None."""
        hist = 10 + math.ceil(30 * max(self.n, 1) / self.popsize)
        best = self.best_history[-hist:]
        if (
            len(self.best_history) >= hist
            and all(map(math.isfinite, best))
            and max(best) - min(best) < tolfun
            # The margins keep sampling neighbouring integers and choices on purpose, so on a
            # mixed space the current generation's spread cannot vanish: the best values decide.
            and (self.last_range < tolfun or self._disc.size > 0 or self.n_cat > 0)
        ):
            return "tolfun"
        # Stagnation (Hansen 2009, BIPOP): over the last 20% of the generations (at least
        # 120 + 30 n / lambda), neither the best nor the median values improved from the first 30%
        # to the last 30%. It also ends runs on mixed spaces, whose margins keep f varying.
        window = max(120 + 30 * self.n // self.popsize, self.generation // 5)
        if len(self.best_history) >= window:
            k = max(1, int(0.3 * window))
            if all(
                _median(h[-k:]) >= _median(h[-window : -window + k])
                for h in (self.best_history, self.median_history)
            ):
                return "tolstagnation"
        if not self.n:
            return None
        _, D = self.eigen()
        diag = self.C if self.separable else np.diag(self.C)
        c = self._cont
        if c.size:
            if np.all(self.sigma * np.maximum(np.abs(self.pc[c]), np.sqrt(diag[c])) < tolx):
                return "tolx"
            if np.any(self.mean[c] == self.mean[c] + 0.2 * self.sigma * np.sqrt(diag[c])):
                return "noeffectcoord"
        if not self.separable and (D.max() / D.min()) ** 2 > _COND_MAX:
            return "conditioncov"
        if self.sigma * D.max() > _TOLXUP * self.sigma0:
            return "tolxup"
        return None


def _median(values: Sequence[float]) -> float:
    """The median of a list of floats (none NaN), as ``np.median`` computes it, without its
    overhead (the stagnation test takes four medians per generation)."""
    v = sorted(values)
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2
