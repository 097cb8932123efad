"""Parzen estimators for TPE: mixtures of product kernels in the unit box, plus a uniform prior.

Coordinates are those of :class:`hpopt.SpaceTransform` (index encoding): each parameter's internal
interval (``distribution.internal_bounds``, log scale for ``log=True``, one cell per integer, step
or choice) is mapped onto ``[0, 1]``. One column per parameter, of one of four kinds:

* continuous (``Float`` without ``step``): a Gaussian kernel truncated to ``[0, 1]``;
* discrete numeric (``Int``, stepped ``Float``): the same truncated Gaussian *integrated over each
  value's cell*, so the kernel is a probability mass function over the values that sums to one;
* categorical: an Aitchison-Aitken-style kernel, ``(1 - b)`` on the observed choice plus ``b``
  spread uniformly over all ``K`` choices (``b`` is the categorical bandwidth / smoothing);
* fixed (a single possible value): ignored by the model.

The estimator is ``p(x) = sum_j w_j k_j(x) + w_0 p_0(x)`` with equal weights on the observations
(or the caller's, e.g. TPE's forgetting of old bad trials and improvement weights of good ones)
and ``p_0`` the uniform prior over the box (Watanabe 2023, "prior" component), which keeps the
density positive everywhere and sane with one or two observations.

Bandwidth (per column, shared by all kernels): the normal-reference rule in ``d`` dimensions
(Scott 1992; Silverman 1986), ``sigma = factor * (4 / (d + 2)) ** (1 / (d + 4)) * s *
n ** (-1 / (d + 4))``, where ``s`` is the observations' standard deviation shrunk toward the
prior's (``1 / sqrt(12)``) with one pseudo-observation: ``s**2 = (n * var + 1/12) / (n + 1)``.
It is never zero (identical values, one observation) and clipped to ``[min_bandwidth, 1]``. The
categorical ``b`` is ``cat_factor * n ** (-1 / (d + 4))``,
clipped to ``[0, 1]``.

With ``neighbour=True`` the continuous columns instead get one bandwidth per observation, Bergstra
et al.'s (2011) rule: the larger of its distances to the nearest observations on either side
along that column (the box edges count), clipped to ``[1 / min(100, n + 1), 1]``. TPE uses it
for the bad group: ``g`` then rises only close to points already tried, rather than over whole
regions that many mediocre points happen to cover.

With ``joint=False`` the estimator is a product of independent one-dimensional mixtures (the
"univariate" TPE of Bergstra et al. 2011) instead of a mixture of product kernels.

Example:
    >>> import numpy as np
    >>> from hpopt import Float, Int
    >>> from hpopt.samplers.parzen import Box, ParzenEstimator
    >>> box = Box({"x": Float(0, 1), "n": Int(1, 4)})
    >>> pe = ParzenEstimator(box, np.array([[0.2, 0.125], [0.3, 0.375]]))
    >>> x = pe.sample(np.random.default_rng(0), 5)
    >>> pe.log_pdf(x).shape
    (5,)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from hpopt.distributions import Categorical, Distribution, Float, Int
from hpopt.transform import scaled_bounds

__all__ = ["Box", "ParzenEstimator", "LiarMixture", "CONT", "DISC", "CAT", "FIXED"]

CONT, DISC, CAT, FIXED = 0, 1, 2, 3
_PRIOR_VAR = 1.0 / 12.0  # variance of the uniform prior on [0, 1]
_TINY = 1e-300  # floor of a kernel's cell mass before taking its log
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MAX_KEY_SPACE = 2**62  # mixed-radix keys of discrete configurations must fit in int64


class Box:
    """The unit box of a search space, with the per-column facts the estimators need.

    Args:
        space: name -> distribution, in column order.

    Attributes:
        names: Parameter names in column order.
        kind: Column kinds (``CONT``, ``DISC``, ``CAT``, ``FIXED``).
        n_values: Number of possible values per column (0 for continuous ones).
        size: Number of distinct configurations when every column is discrete, else None.
    """

    def __init__(self, space: Mapping[str, Distribution]) -> None:
        self.space = dict(space)
        self.names = list(self.space)
        d = len(self.names)
        self.kind = np.zeros(d, dtype=np.int8)
        self.lo = np.zeros(d)
        self.span = np.ones(d)
        self.n_values = np.zeros(d, dtype=np.int64)
        self.step = np.ones(d)  # grid step (linear discrete), in user units
        self.low = np.zeros(d)  # user-unit lower bound (discrete numeric)
        self.is_log = np.zeros(d, dtype=bool)
        hi_all = np.zeros(d)
        for i, dist in enumerate(self.space.values()):
            lo, hi = dist.internal_bounds
            self.lo[i], hi_all[i] = lo, hi
            if dist.single():
                self.kind[i], self.n_values[i] = FIXED, 1
            elif isinstance(dist, Categorical):
                self.kind[i], self.n_values[i] = CAT, len(dist.choices)
            elif isinstance(dist, Int) or (isinstance(dist, Float) and dist.step is not None):
                self.kind[i], self.low[i] = DISC, dist.low
                self.is_log[i] = bool(dist.log)
                if dist.log:
                    self.n_values[i] = int(dist.high - dist.low) + 1
                else:
                    self.step[i] = float(dist.step)  # type: ignore[arg-type]
                    self.n_values[i] = int(round((dist.high - dist.low) / dist.step)) + 1
        self.lo, self.span, self.sc = scaled_bounds(self.lo, hi_all)
        self.span[self.span <= 0] = 1.0
        self.cont = np.flatnonzero(self.kind == CONT)
        self.disc = np.flatnonzero(self.kind == DISC)
        self.cat = np.flatnonzero(self.kind == CAT)
        self.model_dims = int(np.count_nonzero(self.kind != FIXED))
        all_discrete = bool(np.all(self.kind != CONT))
        prod = math.prod(int(k) for k in self.n_values) if all_discrete else None
        self.size: int | None = prod if prod is not None and prod < _MAX_KEY_SPACE else None

    @property
    def dim(self) -> int:
        """Number of columns."""
        return len(self.names)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """``(n, d)`` internal values (categoricals: indices) -> unit coordinates, clipped to the box.

        Values outside the current range (the range changed since they were observed) are
        clipped onto its edge.
        """
        u = (np.asarray(x, dtype=float) * self.sc - self.lo) / self.span
        u[:, self.kind == FIXED] = 0.5
        return np.clip(u, 0.0, 1.0)

    def inside(self, x: np.ndarray) -> np.ndarray:
        """Which rows of ``(n, d)`` internal values lie inside the current box (a bool per row)."""
        u = (np.asarray(x, dtype=float) * self.sc - self.lo) / self.span
        u[:, self.kind == FIXED] = 0.5
        return np.all((u >= -1e-9) & (u <= 1.0 + 1e-9), axis=1)

    def _values(self, u: np.ndarray) -> np.ndarray:
        """Unit rows -> per column the index of the nearest representable value (discrete cols)."""
        idx = np.zeros(u.shape, dtype=np.int64)
        if self.cat.size:
            k = self.n_values[self.cat]
            idx[:, self.cat] = np.clip(np.floor(u[:, self.cat] * k), 0, k - 1)
        if self.disc.size:
            c = self.disc
            x = (self.lo[c] + np.clip(u[:, c], 0.0, 1.0) * self.span[c]) / self.sc[c]
            lin = np.rint((x - self.low[c]) / self.step[c])
            logv = np.rint(np.exp(np.where(self.is_log[c], x, 0.0))) - self.low[c]
            idx[:, c] = np.clip(np.where(self.is_log[c], logv, lin), 0, self.n_values[c] - 1)
        return idx

    def _from_index(self, idx: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Write the unit position of each discrete value ``idx`` into a copy of ``u``."""
        out = np.array(u, dtype=float)
        out[:, self.kind == FIXED] = 0.5
        if self.cat.size:
            out[:, self.cat] = (idx[:, self.cat] + 0.5) / self.n_values[self.cat]
        if self.disc.size:
            c = self.disc
            v = self.low[c] + idx[:, c] * np.where(self.is_log[c], 1.0, self.step[c])
            x = np.where(self.is_log[c], np.log(np.maximum(v, 0.5)), v)
            out[:, c] = (x * self.sc[c] - self.lo[c]) / self.span[c]
        return out

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Move unit rows onto representable values (discrete value positions, choice centres)."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        return self._from_index(self._values(u), np.clip(u, 0.0, 1.0))

    def cells(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell bounds ``(a, b)`` in unit coordinates of snapped discrete-numeric entries of ``u``.

        Returned arrays have shape ``(n, len(disc))``; the cells of one column tile ``[0, 1]``.
        """
        c = self.disc
        x = (self.lo[c] + u[:, c] * self.span[c]) / self.sc[c]
        half = 0.5 * self.step[c]
        v = np.rint(np.exp(np.where(self.is_log[c], x, 0.0)))
        a = np.where(self.is_log[c], np.log(np.maximum(v - 0.5, 1e-300)), x - half)
        b = np.where(self.is_log[c], np.log(v + 0.5), x + half)
        lo, sc, span = self.lo[c], self.sc[c], self.span[c]
        return (a * sc - lo) / span, (b * sc - lo) / span

    def keys(self, u: np.ndarray) -> np.ndarray | None:
        """One int64 per row identifying its discrete configuration (None if not all discrete)."""
        if self.size is None:
            return None
        idx = self._values(np.atleast_2d(u))
        key = np.zeros(idx.shape[0], dtype=np.int64)
        for j in range(self.dim):  # loop over columns only
            key = key * int(self.n_values[j]) + idx[:, j]
        return key

    def from_keys(self, keys: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`keys`: unit rows at the configurations' value positions."""
        keys = np.asarray(keys, dtype=np.int64).copy()
        idx = np.zeros((keys.size, self.dim), dtype=np.int64)
        for j in reversed(range(self.dim)):
            keys, idx[:, j] = np.divmod(keys, int(self.n_values[j]))
        return self._from_index(idx, np.full(idx.shape, 0.5))

    def decode(self, u: np.ndarray) -> dict[str, Any]:
        """One unit row -> a dict of parameter values inside their distributions."""
        u = self.snap(u)[0]
        idx = self._values(u[None, :])[0]
        out: dict[str, Any] = {}
        for j, (name, dist) in enumerate(self.space.items()):
            if self.kind[j] == CAT:
                out[name] = dist.choices[int(idx[j])]  # type: ignore[union-attr]
            elif self.kind[j] == FIXED:
                out[name] = dist.choices[0] if isinstance(dist, Categorical) else dist.low
            else:
                out[name] = dist.from_internal(float((self.lo[j] + u[j] * self.span[j]) / self.sc[j]))
        return out


class ParzenEstimator:
    """A Parzen estimator over a :class:`Box`: observations' kernels plus a uniform prior.

    Args:
        box: The unit box (column kinds and cells).
        obs: ``(n, d)`` observations in unit coordinates (``n`` may be 0: then only the prior).
        joint: Mixture of product kernels (multivariate) if True, else a product of
            one-dimensional mixtures (univariate).
        bandwidth_factor: Multiplies the Scott-rule bandwidth of numeric columns.
        min_bandwidth: Floor of numeric bandwidths (unit coordinates).
        categorical_bandwidth: ``b = categorical_bandwidth * n ** (-1 / (d + 4))`` (clipped to 1).
        prior_weight: Weight of the prior component relative to one observation (0: none; then
            ``obs`` must not be empty).
        bandwidth: ``(numeric sigmas, categorical b)`` to use instead of the rule's.
        neighbour: Per-observation bandwidths of continuous columns from neighbour distances
            (see the module docstring) instead of the shared normal-reference one.
        weights: ``(n,)`` relative weights of the observations (default: all 1); the prior
            keeps ``prior_weight``.

    Example:
        >>> import numpy as np
        >>> from hpopt import Categorical
        >>> box = Box({"c": Categorical(["a", "b", "c"])})
        >>> pe = ParzenEstimator(box, np.array([[1 / 6]]))
        >>> float(np.exp(pe.log_pdf(np.array([[1 / 6], [0.5], [5 / 6]]))).sum())
        1.0
    """

    def __init__(
        self,
        box: Box,
        obs: np.ndarray,
        *,
        joint: bool = True,
        bandwidth_factor: float = 1.0,
        min_bandwidth: float = 1e-3,
        categorical_bandwidth: float = 0.5,
        prior_weight: float = 1.0,
        bandwidth: tuple[np.ndarray, float] | None = None,
        neighbour: bool = False,
        weights: np.ndarray | None = None,
    ) -> None:
        self.box = box
        # observations clipped into the current box and moved onto its values
        self.obs = box.snap(np.asarray(obs, dtype=float).reshape(-1, box.dim))
        self.joint = joint
        n = self.obs.shape[0]
        self.n = n
        d_eff = max(box.model_dims, 1) if joint else 1
        shrink = max(n, 1) ** (-1.0 / (d_eff + 4))  # Scott's rule exponent
        num = np.concatenate([box.cont, box.disc]).astype(int)
        self.num = num
        var = self.obs[:, num].var(axis=0) if n else np.zeros(num.size)
        s = np.sqrt((n * var + _PRIOR_VAR) / (n + 1))  # shrunk toward the prior's spread
        # normal-reference constant of the multivariate rule: (4 / (d + 2)) ** (1 / (d + 4))
        ref = (4.0 / (d_eff + 2)) ** (1.0 / (d_eff + 4))
        self.sigma = np.clip(bandwidth_factor * ref * s * shrink, min_bandwidth, 1.0)
        self.cat_b = float(min(1.0, categorical_bandwidth * shrink))
        if bandwidth is not None:  # imposed (numeric sigmas, categorical b)
            self.sigma, self.cat_b = np.asarray(bandwidth[0], dtype=float), float(bandwidth[1])
        w = np.full(n + 1, 1.0)
        if weights is not None:
            w[:-1] = weights
        w[-1] = prior_weight
        with np.errstate(divide="ignore"):  # prior_weight 0: no prior component
            self.log_w = np.log(w / w.sum())
        ncont = box.cont.size
        # per observation and numeric column: the kernels' bandwidths
        self.sig_obs = np.broadcast_to(self.sigma, (n, num.size)).copy()
        if neighbour and n and ncont and bandwidth is None:
            self.sig_obs[:, :ncont] = _neighbour_bandwidths(self.obs[:, box.cont], bandwidth_factor)
        if n:
            mu = self.obs[:, num]
            # log of each kernel's mass inside [0, 1] (truncation normalizer), per observation
            self._log_z = np.log(
                np.maximum(ndtr((1.0 - mu) / self.sig_obs) - ndtr(-mu / self.sig_obs), _TINY)
            )
            k = box.n_values[box.cat]
            self._obs_cat = np.clip(np.floor(self.obs[:, box.cat] * k), 0, k - 1).astype(np.int64)
            # discrete columns: distinct observed values and each observation's one among them
            self._disc_uniq = _distinct_columns(self.obs, box)
            # continuous exponents, expanded so that all columns are one matrix product:
            # sum_j (u_j q_ij - m_ij)^2 = sum_j u_j^2 q_ij^2 - 2 u_j q_ij m_ij + m_ij^2, with
            # q = sqrt(1/2) / sigma and m = mu * q (the kernel's exponent is minus that sum)
            q = math.sqrt(0.5) / self.sig_obs[:, :ncont]
            m = self.obs[:, box.cont] * q
            self._quad = np.concatenate([q * q, -2.0 * q * m], axis=1)  # (n, 2 * ncont)
            self._joint_const = (
                -self._log_z.sum(axis=1)
                - np.log(self.sig_obs[:, :ncont]).sum(axis=1)
                - ncont * _LOG_SQRT_2PI
                - (m * m).sum(axis=1)
                + self.log_w[:-1]  # the mixture weights, folded in once
            )

    # -- density -----------------------------------------------------------------------------------
    def _disc_table(
        self, u: np.ndarray, j: int, a: np.ndarray, b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log masses of discrete column ``disc[j]``'s kernels on the candidates' cells.

        The mass depends only on (candidate value, observed value), so it is computed for the
        distinct pairs: returns the table (without the truncation normalizer) and the candidates'
        and observations' rows/columns in it.
        """
        ncont = self.box.cont.size
        sig = self.sigma[ncont + j]
        _, first, cinv = np.unique(u[:, self.box.disc[j]], return_index=True, return_inverse=True)
        ca, cb = a[first, j], b[first, j]  # the cell of each distinct candidate value
        ou, oinv = self._disc_uniq[j]
        za = (ca[:, None] - ou[None, :]) / sig
        zb = (cb[:, None] - ou[None, :]) / sig
        flip = np.where(za > 0, -1.0, 1.0)  # upper tails are accurate where both cdfs are near 1
        mass = flip * (ndtr(flip * zb) - ndtr(flip * za))
        return np.log(np.maximum(mass, _TINY)), cinv, oinv

    def _cat_table(self, u: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
        """``(K, K)`` log kernel table of categorical column ``cat[j]`` and the candidates' rows."""
        c = self.box.cat[j]
        k = int(self.box.n_values[c])
        idx = np.clip(np.floor(u[:, c] * k), 0, k - 1).astype(np.int64)
        table = np.full((k, k), math.log(max(self.cat_b / k, _TINY)))
        np.fill_diagonal(table, math.log(1.0 - self.cat_b + self.cat_b / k))
        return table, idx

    def _columns(self, u: np.ndarray) -> list[np.ndarray]:
        """Per model column, the ``(c, n)`` log kernel values (univariate estimators)."""
        box, out = self.box, []
        ncont = box.cont.size
        for j, c in enumerate(box.cont):
            sig = self.sig_obs[None, :, j]
            z = (u[:, c, None] - self.obs[None, :, c]) / sig
            out.append(-0.5 * z * z - np.log(sig) - _LOG_SQRT_2PI - self._log_z[None, :, j])
        if box.disc.size:
            a, b = box.cells(u)
            for j in range(box.disc.size):
                table, cinv, oinv = self._disc_table(u, j, a, b)
                out.append(_gather(table, cinv, oinv) - self._log_z[None, :, ncont + j])
        for j in range(box.cat.size):
            table, idx = self._cat_table(u, j)
            out.append(_gather(table, idx, self._obs_cat[:, j]))
        return out

    def _joint_log_kernels(self, u: np.ndarray) -> np.ndarray:
        """``(c, n)`` weighted log product-kernel values (multivariate estimator), built in place.

        Per observation constants (normalizers) are added once; the continuous columns' squared
        scaled distances are one matrix product (see ``__init__``); discrete and categorical
        columns gather from small tables of distinct values.
        """
        box = self.box
        total = np.empty((u.shape[0], self.n))
        if box.cont.size:
            uc = u[:, box.cont]
            np.matmul(np.concatenate([uc * uc, uc], axis=1), self._quad.T, out=total)
            np.subtract(self._joint_const, total, out=total)
        else:
            total[:] = self._joint_const
        if box.disc.size:
            a, b = box.cells(u)
            for j in range(box.disc.size):
                table, cinv, oinv = self._disc_table(u, j, a, b)
                total += _gather(table, cinv, oinv)
        for j in range(box.cat.size):
            table, idx = self._cat_table(u, j)
            total += _gather(table, idx, self._obs_cat[:, j])
        return total

    def _log_prior(self, u: np.ndarray) -> np.ndarray:
        """``(c, d_model)`` log density of the uniform prior per model column."""
        box = self.box
        parts = [np.zeros((u.shape[0], box.cont.size))]
        if box.disc.size:
            a, b = box.cells(u)
            parts.append(np.log(np.maximum(np.minimum(b, 1.0) - np.maximum(a, 0.0), _TINY)))
        if box.cat.size:
            parts.append(np.broadcast_to(-np.log(box.n_values[box.cat]), (u.shape[0], box.cat.size)))
        return np.concatenate(parts, axis=1)

    def log_pdf(self, u: np.ndarray) -> np.ndarray:
        """Log density (mass for discrete columns) of snapped unit rows ``u``, shape ``(c,)``."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        prior = self._log_prior(u)
        if self.n == 0:
            return prior.sum(axis=1)
        if self.joint:
            kern = self._joint_log_kernels(u)  # weights included
            return np.logaddexp(_logsumexp_rows(kern), prior.sum(axis=1) + self.log_w[-1])
        out = np.zeros(u.shape[0])
        for j, col in enumerate(self._columns(u)):
            col += self.log_w[None, :-1]
            out += np.logaddexp(_logsumexp_rows(col), prior[:, j] + self.log_w[-1])
        return out

    # -- sampling ----------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` snapped unit rows from the estimator."""
        box, n = self.box, self.n
        d = box.dim
        out = rng.random((size, d))  # the prior's draws, kept where the prior component is chosen
        if n == 0:
            return box.snap(out)
        p = np.exp(self.log_w)
        shape = (size,) if self.joint else (size, d)
        comp = rng.choice(n + 1, size=shape, p=p / p.sum())
        if self.joint:
            comp = np.repeat(comp[:, None], d, axis=1)
        from_kernel = comp < n
        rows = np.minimum(comp, n - 1)
        if self.num.size:
            c = self.num
            mu = self.obs[rows[:, c], c]
            sig = self.sig_obs[rows[:, c], np.arange(c.size)]
            lo, hi = ndtr(-mu / sig), ndtr((1.0 - mu) / sig)
            q = lo + rng.random(mu.shape) * (hi - lo)  # inverse-cdf draw of the truncated normal
            x = np.clip(mu + sig * ndtri(np.clip(q, 1e-300, 1.0 - 1e-16)), 0.0, 1.0)
            out[:, c] = np.where(from_kernel[:, c], x, out[:, c])
        if box.cat.size:
            c = box.cat
            k = box.n_values[c]
            own = (self._obs_cat[rows[:, c], np.arange(c.size)] + 0.5) / k
            keep = rng.random((size, c.size)) >= self.cat_b  # else a uniform choice (smoothing)
            out[:, c] = np.where(from_kernel[:, c] & keep, own, out[:, c])
        return box.snap(out)


class LiarMixture:
    """The bad model plus running trials, each a kernel as narrow as the good model's.

    A liar with the bad group's (wide) bandwidth would barely change ``g`` where the good model
    concentrates; with the good model's bandwidth it makes a hole in ``l / g`` of the size of the
    good model's own kernels around each point another worker is evaluating now.

    Args:
        bad: The bad group's estimator (its prior included).
        liars: ``(k, d)`` unit rows of the running trials.
        good: The good group's estimator, whose bandwidths the liars' kernels take.

    Example:
        >>> import numpy as np
        >>> from hpopt import Float
        >>> box = Box({"x": Float(0, 1)})
        >>> good = ParzenEstimator(box, np.array([[0.3], [0.32]]))
        >>> bad = ParzenEstimator(box, np.linspace(0, 1, 9)[:, None])
        >>> g = LiarMixture(bad, np.array([[0.3]]), good)
        >>> bool(g.log_pdf(np.array([[0.3]]))[0] > bad.log_pdf(np.array([[0.3]]))[0])
        True
    """

    def __init__(self, bad: ParzenEstimator, liars: np.ndarray, good: ParzenEstimator) -> None:
        self.bad = bad
        self.liars = ParzenEstimator(
            bad.box, liars, joint=bad.joint, prior_weight=0.0, bandwidth=(good.sigma, good.cat_b)
        )
        n_bad, n_liar = bad.n + 1, liars.shape[0]  # the bad model's prior counts as one
        self.log_w = np.log(np.array([n_bad, n_liar], dtype=float) / (n_bad + n_liar))

    def log_pdf(self, u: np.ndarray) -> np.ndarray:
        """Log density of the mixture at snapped unit rows ``u``."""
        a = self.bad.log_pdf(u) + self.log_w[0]
        b = self.liars.log_pdf(u) + self.log_w[1]
        return np.logaddexp(a, b)


def _neighbour_bandwidths(mu: np.ndarray, factor: float) -> np.ndarray:
    """Per-observation bandwidths from neighbour distances (Bergstra et al. 2011), ``(n, c)``.

    Along each column, an observation's bandwidth is the larger of its distances to the next
    observation on either side (the box edges 0 and 1 count as neighbours of the outermost
    ones), times ``factor``, clipped to ``[1 / min(100, n + 1), 1]`` ("magic clipping").
    """
    n = mu.shape[0]
    out = np.empty_like(mu)
    for j in range(mu.shape[1]):  # loop over columns only
        col = np.ascontiguousarray(mu[:, j])
        order = np.argsort(col)
        gap = np.diff(col[order], prepend=0.0, append=1.0)
        out[order, j] = np.maximum(gap[:-1], gap[1:])
    out *= factor
    return np.clip(out, 1.0 / min(100, n + 1), 1.0)


def _logsumexp_rows(x: np.ndarray) -> np.ndarray:
    """``log(sum(exp(x), axis=1))`` without overflow; overwrites ``x`` (a scratch array)."""
    m = x.max(axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    x -= m[:, None]
    np.exp(x, out=x)
    with np.errstate(divide="ignore"):
        return np.log(x.sum(axis=1)) + m


def _distinct_columns(obs: np.ndarray, box: Box) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per discrete column: its distinct observed positions and each observation's index among them.

    Values are grid indices, so a presence table of the column's size replaces sorting when the
    grid is not much larger than the number of observations.
    """
    out = []
    idx = box._values(obs)
    for c in box.disc:
        k = int(box.n_values[c])
        if k > 4 * obs.shape[0] + 64:
            out.append(np.unique(obs[:, c], return_inverse=True))
            continue
        present = np.zeros(k, dtype=bool)
        present[idx[:, c]] = True
        values = np.flatnonzero(present)
        where = np.cumsum(present) - 1
        first = np.zeros(k, dtype=np.int64)
        first[idx[:, c]] = np.arange(obs.shape[0])
        out.append((obs[first[values], c], where[idx[:, c]]))
    return out


def _gather(table: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``table[rows[:, None], cols[None, :]]``, without broadcast fancy indexing (slow).

    A table with few rows (fewer distinct candidate values than candidates, e.g. a categorical)
    is gathered along its columns first and its rows are then copied out; otherwise the
    candidates' rows are taken first (small) and gathered along the columns once.
    """
    if 10 * table.shape[0] < 7 * rows.size:
        return np.take(table, cols, axis=1)[rows]
    return np.take(table[rows], cols, axis=1)
