"""Functional ANOVA on a random forest (Hutter, Hoos and Leyton-Brown 2014, "An Efficient Approach
for Assessing Hyperparameter Importance").

A regression tree is a piecewise-constant function ``f(x) = sum_l v_l * [x in R_l]`` whose leaf
regions ``R_l`` are products of one set per parameter. Under a product measure ``mu`` on the
space, every quantity of the variance decomposition is then a finite sum, computed exactly:

* the leaf's volume ``w_l = prod_d mu_d(R_ld)``, the mean ``m = sum_l w_l v_l`` and the variance
  ``V = sum_l w_l (v_l - m)**2``;
* the main effect of parameter ``d``, ``f_d(x_d) = E[f | x_d] - m``, is constant on the cells cut
  by the tree's thresholds on ``d`` (or on each category): on a cell it is
  ``sum_l (v_l - m) * prod_{d' != d} mu_d'(R_ld')`` over the leaves whose set for ``d`` contains
  the cell;
* the importance of ``d`` in that tree is the fraction of variance its main effect explains,
  ``V_d / V = sum_cells mu_d(cell) f_d(cell)**2 / V``.

The importances are these fractions averaged over the trees of the forest (trees that are
constant are left out). Interactions are not reported, so the fractions of a tree sum to at most
one; :func:`hpopt.importance.get_param_importances` normalizes them.

The measure ``mu`` is uniform over each parameter's domain (the unit box of
:class:`hpopt.SpaceTransform`: log scale for ``log=True``; each category equally likely), as in
Hutter et al. Conditional parameters: absence is its own value (``-1`` for a numeric column, an
extra code for a categorical one) and the "inactive" value gets the probability observed in the
data, the active domain the rest. A parameter's importance thus includes whether it is set at all;
for a child of a categorical parameter this overlaps with the parent's importance.

Categorical parameters are split by subsets of their codes (see :mod:`hpopt.importance.forest`),
not one-hot encoded, so a category's effect is never spread over several columns.
"""

from __future__ import annotations

import math

import numpy as np

from hpopt.importance._encode import CAT, Encoded
from hpopt.importance.forest import RandomForest, Tree

__all__ = ["fanova_importances"]

_INACTIVE = -1.0


def fanova_importances(
    enc: Encoded,
    y: np.ndarray,
    *,
    seed: int = 0,
    n_trees: int = 16,
    max_depth: int = 16,
    min_samples_leaf: int = 2,
    max_features: float = 1.0,
) -> np.ndarray:
    """Fraction of the variance of ``y`` explained by each column of ``enc`` alone (not normalized).

    Args:
        enc: Encoded parameters (``n`` rows).
        y: ``(n,)`` finite target values.
        seed: Seed of the forest.
        n_trees, max_depth, min_samples_leaf, max_features: The forest's settings
            (:class:`~hpopt.importance.forest.RandomForest`).

    Returns:
        ``(d,)`` non-negative fractions, zero for a constant target or a single trial.
    """
    forest = RandomForest(
        n_trees=n_trees,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        max_features=max_features,
        seed=seed,
    )
    y = _unit_scaled(np.asarray(y, dtype=float))
    d = enc.X.shape[1]
    if y.size < 2 or d == 0 or np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
        return np.zeros(d)
    absent = np.isnan(enc.X)
    is_cat = enc.kind == CAT
    X = enc.X.copy()
    X[:, ~is_cat] = np.where(absent[:, ~is_cat], _INACTIVE, X[:, ~is_cat])
    X[:, is_cat] = np.where(absent[:, is_cat], enc.n_choices[is_cat], X[:, is_cat])
    card = np.where(is_cat, enc.n_choices + 1, 0)
    scale = float(np.std(y)) or 1.0
    forest.fit(X, (y - y.mean()) / scale, card)
    inactive = absent.mean(axis=0)
    cell_mass = _category_masses(enc, card, inactive)
    total = np.zeros(d)
    used = 0
    for tree in forest.trees:
        frac = _tree_fractions(tree, is_cat, inactive, cell_mass)
        if frac is not None:
            total += frac
            used += 1
    return total / used if used else total


def _unit_scaled(y: np.ndarray) -> np.ndarray:
    """``y`` divided by a power of two when its magnitude is huge (exact; the fractions do not
    depend on the units): the variance of values beyond about 1e154 overflows to inf, which made
    every importance 0."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if not peak > 1e100 or not math.isfinite(peak):
        return y
    return np.ldexp(y, -math.frexp(peak)[1])


def _category_masses(enc: Encoded, card: np.ndarray, inactive: np.ndarray) -> np.ndarray:
    """``(n_cat, max_cardinality)`` measure of each code of each categorical column."""
    cats = np.flatnonzero(card > 0)
    kmax = int(card.max()) if cats.size else 0
    out = np.zeros((cats.size, kmax))
    for q, j in enumerate(cats):
        k = int(enc.n_choices[j])
        out[q, :k] = (1.0 - inactive[j]) / k
        out[q, k] = inactive[j]
    return out


def _interval_mass(a: np.ndarray, b: np.ndarray, inactive: float) -> np.ndarray:
    """Measure of ``(a, b]`` on a numeric axis: ``inactive`` at ``-1``, the rest uniform on [0, 1]."""
    atom = inactive * ((a < _INACTIVE) & (_INACTIVE <= b))
    return atom + (1.0 - inactive) * (np.clip(b, 0.0, 1.0) - np.clip(a, 0.0, 1.0))


def _tree_fractions(
    tree: Tree, is_cat: np.ndarray, inactive: np.ndarray, cell_mass: np.ndarray
) -> np.ndarray | None:
    """Per column, the fraction of this tree's variance explained by its main effect (None if flat)."""
    leaves = tree.leaves()
    v = tree.value[leaves]
    d = is_cat.size
    cat_pos = np.cumsum(is_cat) - 1
    lo, up = tree.lower[leaves], tree.upper[leaves]
    admits = tree.admits[leaves]
    P = np.empty((leaves.size, d))
    for j in range(d):
        if is_cat[j]:
            P[:, j] = admits[:, cat_pos[j]] @ cell_mass[cat_pos[j]]
        else:
            P[:, j] = _interval_mass(lo[:, j], up[:, j], inactive[j])
    w = np.prod(P, axis=1)
    mean = float(w @ v) / max(float(w.sum()), 1e-300)
    vc = v - mean
    var = float(w @ (vc * vc))
    if not var > 1e-12 * max(float(w @ (v * v)), 1e-300):
        return None
    # product of the other columns' masses, without dividing by a possibly zero mass
    ones = np.ones((leaves.size, 1))
    head = np.cumprod(np.hstack([ones, P[:, :-1]]), axis=1)  # prod of P[:, :j]
    tail = np.cumprod(np.hstack([ones, P[:, :0:-1]]), axis=1)[:, ::-1]  # prod of P[:, j + 1:]
    contrib = vc[:, None] * head * tail  # (L, d)
    out = np.zeros(d)
    for j in range(d):
        c = contrib[:, j]
        if not np.any(tree.feature == j):
            continue  # never split on: its main effect is exactly zero
        if is_cat[j]:
            q = cat_pos[j]
            f = admits[:, q].T @ c
            out[j] = cell_mass[q] @ (f * f)
            continue
        cuts = np.unique(tree.threshold[tree.feature == j])
        edges = np.concatenate(([-np.inf], cuts, [np.inf]))
        i_lo = np.searchsorted(edges, lo[:, j])
        i_hi = np.searchsorted(edges, up[:, j])
        diff = np.bincount(i_lo, c, edges.size) - np.bincount(i_hi, c, edges.size)
        f = np.cumsum(diff)[:-1]
        mass = _interval_mass(edges[:-1], edges[1:], inactive[j])
        out[j] = mass @ (f * f)
    return np.maximum(out, 0.0) / var
