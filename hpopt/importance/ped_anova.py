"""PED-ANOVA: hyperparameter importance from Pearson divergences (Watanabe, Bansal and Hutter 2023,
"PED-ANOVA: Efficiently Quantifying Hyperparameter Importance in Arbitrary Subspaces", IJCAI).

Take the trials whose target lies in the best ``gamma`` quantile (the *top* set) within a region
(the best ``region`` quantile; all trials by default). For each parameter, compare the
distribution of its values in the top set, ``p_top``, with that in the region, ``p_all``. The paper
shows that the variance the parameter explains of the indicator "the trial is in the top set",
locally in the region, is proportional to the Pearson divergence

    D(p_top || p_all) = integral (p_top(x) / p_all(x) - 1)**2 p_all(x) dx,

so a parameter whose good values are spread like all its values is unimportant, one whose good
values bunch up is important. No surrogate is fitted; the cost is one pass over the trials and a
tiny kernel matrix per parameter.

Estimating the two densities (one parameter at a time, in the unit coordinates of
:class:`hpopt.SpaceTransform`, so log parameters are compared on a log scale):

* numeric parameters are counted into bins (``n_bins`` equal cells, or one bin per value for an
  ``Int``/stepped ``Float`` with at most ``n_bins`` values) and smoothed with a Gaussian kernel,
  normalized over the bins (truncated to the box). The bandwidth is Scott's rule
  ``1.059 * min(std, IQR / 1.34) * n ** (-1/5)`` on the *top* set's values, at least half a bin,
  and the **same** kernel smooths both sets. Smoothing the two with the same kernel makes the
  divergence of a parameter that does not matter zero in expectation (apart from sampling noise)
  instead of growing with the difference of two bandwidths, and keeps ``p_top / p_all`` at most
  ``1 / gamma``;
* categorical parameters use the counts themselves (a histogram over the choices: nothing to
  smooth, and ``p_all > 0`` wherever ``p_top > 0``);
* a conditional parameter's absence is an atom of its own: ``p(inactive)`` is the fraction of the
  set without the parameter and the densities above carry the rest of the mass. Being active or
  not thus counts towards the parameter's importance.

Trials tied with the ``gamma`` cut-off are all in the top set, so a constant target gives a top
set equal to the region and importance zero everywhere.
"""

from __future__ import annotations

import math

import numpy as np

from hpopt.importance._encode import CAT, Encoded

__all__ = ["ped_anova_importances"]


def top_masks(y: np.ndarray, gamma: float, region: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the region (best ``region`` quantile) and the top set within it.

    ``y`` is to be minimized. The top set is every trial of the region no worse than the
    ``ceil(gamma * n_region)``-th best one (ties included), and likewise for the region.
    """
    n = y.size
    srt = np.sort(y)
    in_region = y <= srt[max(1, math.ceil(region * n)) - 1]
    yr = np.sort(y[in_region])
    k = max(1, math.ceil(gamma * yr.size))
    top = in_region & (y <= yr[k - 1])
    return in_region, top


def ped_anova_importances(
    enc: Encoded,
    y: np.ndarray,
    *,
    minimize: bool = True,
    gamma: float = 0.1,
    region: float = 1.0,
    n_bins: int = 64,
) -> np.ndarray:
    """Pearson divergence between the top-``gamma`` and region distributions of each column.

    Args:
        enc: Encoded parameters (``n`` rows).
        y: ``(n,)`` target values (NaN-free).
        minimize: Smaller targets are better (else larger ones).
        gamma: Quantile of the region that forms the top set, in ``(0, 1]``.
        region: Quantile of all trials that forms the region, in ``(0, 1]``, at least ``gamma``.
        n_bins: Number of bins of a continuous parameter.

    Returns:
        ``(d,)`` non-negative divergences (not normalized); zero for every column when the top
        set is the whole region (one trial, constant target).
    """
    y = np.asarray(y, dtype=float)
    d = enc.X.shape[1]
    out = np.zeros(d)
    if y.size == 0:
        return out
    in_region, top = top_masks(y if minimize else -y, gamma, region)
    n_reg, n_top = int(in_region.sum()), int(top.sum())
    if n_top == n_reg:
        return out
    Xr, Tr = enc.X[in_region], top[in_region]
    for j in range(d):
        x = Xr[:, j]
        absent = np.isnan(x)
        if absent.all() or (not absent.any() and np.ptp(x) == 0.0):
            continue  # one value everywhere: nothing to explain
        if enc.kind[j] == CAT:
            k = int(enc.n_choices[j]) + 1
            codes = np.where(absent, k - 1, np.nan_to_num(x)).astype(np.int64)
            q_all = np.bincount(codes, minlength=k) / n_reg
            q_top = np.bincount(codes[Tr], minlength=k) / n_top
        else:
            q_all, q_top = _numeric_masses(x, absent, Tr, enc.grid[j], n_bins, n_reg, n_top)
        seen = q_all > 0
        ratio = q_top[seen] / q_all[seen]
        out[j] = float(np.sum((ratio - 1.0) ** 2 * q_all[seen]))
    return out


def _numeric_masses(
    x: np.ndarray,
    absent: np.ndarray,
    top: np.ndarray,
    grid: np.ndarray | None,
    n_bins: int,
    n_reg: int,
    n_top: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed bin masses of the region and the top set, plus the "inactive" atom (last entry)."""
    if grid is not None and grid.size <= n_bins:
        centres = grid
        mids = 0.5 * (grid[1:] + grid[:-1])
        min_h = 0.5 * float(np.min(np.diff(grid))) if grid.size > 1 else 1.0
    else:
        centres = (np.arange(n_bins) + 0.5) / n_bins
        mids = centres[1:] - 0.5 / n_bins
        min_h = 0.5 / n_bins
    active = ~absent
    xa = x[active]
    bins = np.searchsorted(mids, xa)
    top_a = top[active]
    b = centres.size
    c_all = np.bincount(bins, minlength=b).astype(float)
    c_top = np.bincount(bins[top_a], minlength=b).astype(float)
    h = max(_scott(xa[top_a]), min_h)
    kern = np.exp(-0.5 * ((centres[:, None] - centres[None, :]) / h) ** 2)
    kern /= kern.sum(axis=0, keepdims=True)  # each source bin spreads a unit mass over the box
    q_all = np.append(kern @ c_all, np.count_nonzero(absent)) / n_reg
    q_top = np.append(kern @ c_top, np.count_nonzero(absent & top)) / n_top
    return q_all, q_top


def _scott(v: np.ndarray) -> float:
    """Scott's rule of thumb, ``1.059 * min(std, IQR / 1.34) * n ** (-1/5)`` (0 for < 2 values)."""
    if v.size < 2:
        return 0.0
    std = float(np.std(v, ddof=1))
    q75, q25 = np.percentile(v, [75, 25])
    iqr = float(q75 - q25) / 1.34
    spread = min(std, iqr) if iqr > 0 else std
    return 1.059 * spread * v.size ** -0.2
