"""A random-forest regressor in numpy, grown level by level, for functional ANOVA.

Each tree is fitted on a bootstrap sample and grown breadth first: at every depth, the best
split of *all* open nodes over all (or ``max_features`` of the) columns is found with one sort of
a ``(columns, samples)`` key matrix, cumulative sums of the targets and a segmented arg-max, so
the Python loop runs over depths, never over nodes or samples. A split maximizes the decrease of
the squared error (Breiman 2001, CART) subject to ``min_samples_leaf`` on both sides.

Columns are of two kinds:

* numeric: a float; the split is ``x <= threshold`` with the threshold halfway between two
  neighbouring observed values;
* categorical: an integer code in ``[0, cardinality)``; the split sends a *subset* of the codes
  left. The best subset is found exactly for squared error by ordering the node's codes by their
  mean target and splitting that order (Fisher 1958; Breiman et al. 1984, sec. 9.4). Codes not
  seen in the node go to the child with more samples.

Besides the usual arrays (feature, threshold, children, value) each node keeps its *region*:
per numeric column an interval ``(lower, upper]`` and per categorical column the set of codes it
admits. :mod:`hpopt.importance.fanova` reads the leaves' regions to decompose the variance exactly.

Example:
    >>> import numpy as np
    >>> from hpopt.importance.forest import RandomForest
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 2))
    >>> forest = RandomForest(n_trees=8, seed=0).fit(X, 3 * X[:, 0], np.array([0, 0]))
    >>> float(np.abs(forest.predict(X) - 3 * X[:, 0]).mean()) < 0.2
    True
"""

from __future__ import annotations

import math

import attrs
import numpy as np

__all__ = ["RandomForest", "Tree"]


@attrs.define(slots=True)
class Tree:
    """One fitted tree, as flat node arrays (node 0 is the root; leaves have ``feature == -1``).

    Attributes:
        feature: Column split on, or -1 for a leaf.
        threshold: Numeric split point (``x <= threshold`` goes left); NaN for categorical splits.
        left, right: Child node ids (-1 for leaves).
        value: Mean target of the node's training samples.
        lower, upper: ``(n_nodes, n_columns)`` interval of each numeric column admitted by the node
            (``-inf``/``inf`` when unbounded; unused for categorical columns).
        admits: ``(n_nodes, n_cat_columns, max_cardinality)`` codes of each categorical column
            admitted by the node (categorical splits send ``admits`` of the left child left).
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    admits: np.ndarray

    def leaves(self) -> np.ndarray:
        """Ids of the leaves."""
        return np.flatnonzero(self.feature < 0)


class RandomForest:
    """Bagged regression trees (Breiman 2001), fully vectorized within each depth.

    Args:
        n_trees: Number of trees.
        max_depth: Largest depth of a leaf (the root has depth 0).
        min_samples_leaf: Fewest (bootstrap) samples in a leaf.
        max_features: Fraction of the columns considered at each split, in ``(0, 1]``.
        bootstrap: Fit each tree on a bootstrap sample (else on the data itself).
        seed: Seed of the bootstraps and column draws.

    Raises:
        ValueError, TypeError: A setting out of range, naming it.
    """

    def __init__(
        self,
        n_trees: int = 32,
        max_depth: int = 16,
        min_samples_leaf: int = 2,
        max_features: float = 1.0,
        bootstrap: bool = True,
        seed: int = 0,
    ) -> None:
        self.n_trees = _count("n_trees", n_trees, 1)
        self.max_depth = _count("max_depth", max_depth, 0)
        self.min_samples_leaf = _count("min_samples_leaf", min_samples_leaf, 1)
        if isinstance(max_features, bool) or not isinstance(max_features, (int, float)):
            raise TypeError(f"`max_features` must be a float in (0, 1], but got {max_features!r}.")
        if not 0.0 < float(max_features) <= 1.0:
            raise ValueError(f"`0 < max_features <= 1` must hold, but got max_features={max_features!r}.")
        self.max_features = float(max_features)
        self.bootstrap = bool(bootstrap)
        self.seed = seed
        self.trees: list[Tree] = []
        self.cardinality = np.zeros(0, dtype=np.int64)

    def fit(self, X: np.ndarray, y: np.ndarray, cardinality: np.ndarray) -> RandomForest:
        """Fit the forest.

        Args:
            X: ``(n, d)`` finite values; categorical columns hold integer codes.
            y: ``(n,)`` finite targets.
            cardinality: Per column, 0 for numeric or the number of codes of a categorical one.
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        card = np.asarray(cardinality, dtype=np.int64)
        if X.ndim != 2 or y.shape != (X.shape[0],) or card.shape != (X.shape[1],):
            raise ValueError(f"shapes do not match: X {X.shape}, y {y.shape}, cardinality {card.shape}.")
        if X.shape[0] == 0:
            raise ValueError("cannot fit a forest on zero samples.")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise ValueError("X and y must be finite.")
        self.cardinality = card
        rng = np.random.default_rng(self.seed)
        n = X.shape[0]
        self.trees = []
        for _ in range(self.n_trees):
            rows = rng.integers(0, n, n) if self.bootstrap else np.arange(n)
            self.trees.append(self._grow(X[rows], y[rows], card, rng))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Mean prediction of the trees for ``(m, d)`` rows."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if not self.trees:
            raise RuntimeError("the forest is not fitted; call fit first.")
        cat_pos = np.cumsum(self.cardinality > 0) - 1
        out = np.zeros(X.shape[0])
        rows = np.arange(X.shape[0])
        for tree in self.trees:
            node = np.zeros(X.shape[0], dtype=np.int64)
            for _ in range(self.max_depth + 1):
                f = tree.feature[node]
                inner = f >= 0
                if not inner.any():
                    break
                fc = np.where(inner, f, 0)
                x = X[rows, fc]
                go_num = x <= tree.threshold[node]
                code = np.clip(x, 0, tree.admits.shape[2] - 1).astype(np.int64) if tree.admits.size else 0
                left = tree.left[node]
                go_cat = tree.admits[left, cat_pos[fc], code] if tree.admits.size else go_num
                go = np.where(self.cardinality[fc] > 0, go_cat, go_num)
                node = np.where(inner, np.where(go, left, tree.right[node]), node)
            out += tree.value[node]
        return out / len(self.trees)

    # -- growing --------------------------------------------------------------------------------------
    def _grow(self, X: np.ndarray, y: np.ndarray, card: np.ndarray, rng: np.random.Generator) -> Tree:
        """Grow one tree on ``(X, y)`` depth by depth (see the module docstring)."""
        m, d = X.shape
        is_cat = card > 0
        num_cols, cat_cols = np.flatnonzero(~is_cat), np.flatnonzero(is_cat)
        cat_pos = np.cumsum(is_cat) - 1  # column -> index among the categorical columns
        kmax = int(card.max()) if cat_cols.size else 0
        codes = X[:, cat_cols].astype(np.int64)
        # dense rank of each row's value in each numeric column (ties share a rank), and the rows
        # of open nodes sorted by (node, value): kept sorted from depth to depth by a stable
        # partition, so numeric columns are sorted once per tree
        rank = np.zeros((d, m), dtype=np.int64)
        for j in num_cols:
            rank[j] = np.unique(X[:, j], return_inverse=True)[1]
        order_num = np.argsort(rank[num_cols], axis=1, kind="stable")
        n_try = max(1, int(math.ceil(self.max_features * d)))
        min_leaf = self.min_samples_leaf

        # node records, appended depth by depth
        feat: list[np.ndarray] = []
        thr: list[np.ndarray] = []
        val: list[np.ndarray] = []
        lower = [np.full((1, d), -np.inf)]
        upper = [np.full((1, d), np.inf)]
        admits = [np.ones((1, cat_cols.size, kmax), dtype=bool)]
        if cat_cols.size:
            admits[0] &= np.arange(kmax) < card[cat_cols][:, None]
        parent_of: list[np.ndarray] = [np.array([-1])]
        side_of: list[np.ndarray] = [np.array([0])]

        node = np.zeros(m, dtype=np.int64)  # open node (index within the depth) of each row, or -1
        first_id = 0  # global id of the current depth's first node
        for depth in range(self.max_depth + 1):
            rows = np.flatnonzero(node >= 0)
            g = node[rows]
            G = int(g.max()) + 1
            cnt = np.bincount(g, minlength=G).astype(float)
            S = np.bincount(g, y[rows], minlength=G)
            SS = np.bincount(g, y[rows] ** 2, minlength=G)
            mean = S / np.maximum(cnt, 1)
            sse = np.maximum(SS - S * mean, 0.0)
            val.append(mean)
            f_level = np.full(G, -1, dtype=np.int64)
            t_level = np.full(G, np.nan)
            splittable = (cnt >= 2 * min_leaf) & (sse > 1e-12 * (SS + 1e-300)) & (depth < self.max_depth)
            if not splittable.any():
                feat.append(f_level)
                thr.append(t_level)
                break
            # renumber the splittable nodes 0..H-1 (in order, so the sorted orders stay sorted)
            sidx = np.flatnonzero(splittable)
            H = sidx.size
            local = np.where(splittable, np.cumsum(splittable) - 1, -1)
            h_row = np.full(m, -1, dtype=np.int64)
            h_row[rows] = local[g]
            rows = rows[h_row[rows] >= 0]
            h = h_row[rows]
            mp = rows.size
            order_num = order_num[h_row[order_num] >= 0].reshape(num_cols.size, mp)
            cnt_h = cnt[sidx]
            # rows sorted per column, and a key that differs between rows a split can separate
            srt = np.empty((d, mp), dtype=np.int64)
            ks = np.empty((d, mp), dtype=np.int64)
            srt[num_cols] = order_num
            ks[num_cols] = np.take_along_axis(rank[num_cols], order_num, axis=1)
            if cat_cols.size:
                # per (node, code): mean target; the codes are ordered by it within each node
                ys = y[rows]
                pair = h[:, None] * kmax + codes[rows]  # (m', c)
                pc = np.zeros((cat_cols.size, H * kmax))
                ps = np.zeros((cat_cols.size, H * kmax))
                for q in range(cat_cols.size):
                    pc[q] = np.bincount(pair[:, q], minlength=H * kmax)
                    ps[q] = np.bincount(pair[:, q], ys, minlength=H * kmax)
                pmean = np.where(pc > 0, ps / np.maximum(pc, 1), np.inf)
                prank = np.argsort(np.argsort(pmean, axis=1, kind="stable"), axis=1)
                mult = H * kmax
                ckeys = h[None, :] * mult + np.take_along_axis(prank, pair.T, axis=1)
                corder = np.argsort(ckeys, axis=1)  # equal keys cannot be split apart: order moot
                srt[cat_cols] = rows[corder]
                ks[cat_cols] = np.take_along_axis(ckeys, corder, axis=1) - h[corder] * mult
            # targets centred on their node's mean: the right sum is minus the left sum, and the
            # decrease of squared error of a split is Sl**2 * n / (nl * nr)
            yc = np.zeros(m)
            yc[rows] = y[rows] - mean[sidx][h]
            csum = np.cumsum(yc[srt], axis=1)
            hs = h_row[srt[0]]
            starts = np.concatenate(([0], np.cumsum(cnt_h)[:-1])).astype(np.int64)
            pos = np.arange(mp)
            nl = (pos - starts[hs] + 1).astype(float)
            nr = cnt_h[hs] - nl
            valid = (nl >= min_leaf) & (nr >= min_leaf)
            weight = np.where(valid, cnt_h[hs] / np.maximum(nl * nr, 1.0), 0.0)
            before = np.where(starts > 0, csum[:, np.maximum(starts - 1, 0)], 0.0)  # (d, H) rounding
            Sl = csum - before[:, hs]
            gain = Sl * Sl * weight
            ok = np.ones((d, mp), dtype=bool)
            ok[:, :-1] = ks[:, 1:] != ks[:, :-1]
            ok &= valid
            if n_try < d:  # random subset of columns per node
                draw = rng.random((H, d))
                allowed = draw <= np.sort(draw, axis=1)[:, n_try - 1 : n_try]
                ok &= allowed[hs].T
            gain = np.where(ok, gain, -np.inf)
            seg_best = np.maximum.reduceat(gain, starts, axis=1)  # (d, H)
            best_col = np.argmax(seg_best, axis=0)
            best_gain = seg_best[best_col, np.arange(H)]
            will = np.isfinite(best_gain) & (best_gain > 1e-12 * (sse[sidx] + 1e-300))
            g_at = gain[best_col[hs], pos]
            hits = np.flatnonzero((g_at == best_gain[hs]) & will[hs])
            hnode, first = np.unique(hs[hits], return_index=True)
            bpos = np.zeros(H, dtype=np.int64)
            bpos[hnode] = hits[first]
            # the split of each splitting node
            col = best_col
            num_split = will & ~is_cat[col]
            cat_split = will & is_cat[col]
            xs = X[srt[col, bpos], col]
            xn = X[srt[col, np.minimum(bpos + 1, mp - 1)], col]
            threshold = np.where(num_split, 0.5 * (xs + xn), np.nan)
            go_left_cat = np.zeros((H, kmax), dtype=bool)
            if cat_split.any():
                q = cat_pos[col]
                key_at = ks[col, bpos]  # rank of the last (node, code) pair sent left
                pr = prank.reshape(cat_cols.size, H, kmax)[q, np.arange(H)]  # (H, kmax)
                seen = pc.reshape(cat_cols.size, H, kmax)[q, np.arange(H)] > 0
                left_bigger = nl[bpos] >= nr[bpos]
                go_left_cat = np.where(seen, pr <= key_at[:, None], left_bigger[:, None])
                go_left_cat &= cat_split[:, None]
            # record the split on the parent
            f_level[sidx[will]] = col[will]
            t_level[sidx] = threshold
            feat.append(f_level)
            thr.append(t_level)
            split_nodes = np.flatnonzero(will)
            if split_nodes.size == 0:
                break
            # children: for each splitting node, left then right
            child_rank = np.full(H, -1)
            child_rank[split_nodes] = np.arange(split_nodes.size)
            parents = sidx[split_nodes]
            parent_of.append(np.repeat(first_id + parents, 2))
            side_of.append(np.tile([0, 1], split_nodes.size))
            lo_c = np.repeat(lower[-1][parents], 2, axis=0)
            up_c = np.repeat(upper[-1][parents], 2, axis=0)
            ad_c = np.repeat(admits[-1][parents], 2, axis=0)
            sc = col[split_nodes]
            nums = ~is_cat[sc]
            li = 2 * np.flatnonzero(nums)
            up_c[li, sc[nums]] = np.minimum(up_c[li, sc[nums]], threshold[split_nodes][nums])
            lo_c[li + 1, sc[nums]] = np.maximum(lo_c[li + 1, sc[nums]], threshold[split_nodes][nums])
            if (~nums).any():
                ci = np.flatnonzero(~nums)
                qq = cat_pos[sc[ci]]
                glc = go_left_cat[split_nodes[ci]]
                ad_c[2 * ci, qq] &= glc
                ad_c[2 * ci + 1, qq] &= ~glc
            lower.append(lo_c)
            upper.append(up_c)
            admits.append(ad_c)
            # move the rows of splitting nodes to their children; the others leave the open set
            moving = will[h]
            rows, h = rows[moving], h[moving]
            c = col[h]
            x = X[rows, c]
            go = x <= threshold[h]
            if cat_cols.size:
                go_cat = go_left_cat[h, np.clip(x, 0, max(kmax - 1, 0)).astype(np.int64)]
                go = np.where(is_cat[c], go_cat, go)
            node = np.full(m, -1, dtype=np.int64)
            node[rows] = 2 * child_rank[h] + (~go).astype(np.int64)
            # stable partition of the sorted numeric orders by child (radix sort on small ints)
            order_num = order_num[node[order_num] >= 0].reshape(num_cols.size, rows.size)
            dtype = np.int16 if 2 * split_nodes.size < 2**15 else np.int32
            by_child = np.argsort(node[order_num].astype(dtype), axis=1, kind="stable")
            order_num = np.take_along_axis(order_num, by_child, axis=1)
            first_id += G
        return _assemble(feat, thr, val, lower, upper, admits, parent_of, side_of)


def _assemble(feat, thr, val, lower, upper, admits, parent_of, side_of) -> Tree:
    """Concatenate the per-depth records into flat node arrays with child links."""
    levels = len(val)
    feature = np.concatenate(feat[:levels])
    threshold = np.concatenate(thr[:levels])
    value = np.concatenate(val)
    lo = np.concatenate(lower[:levels])
    up = np.concatenate(upper[:levels])
    ad = np.concatenate(admits[:levels])
    parent = np.concatenate(parent_of[:levels])
    side = np.concatenate(side_of[:levels])
    n = value.size
    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    ids = np.arange(n)
    has = parent >= 0
    left[parent[has & (side == 0)]] = ids[has & (side == 0)]
    right[parent[has & (side == 1)]] = ids[has & (side == 1)]
    return Tree(feature, threshold, left, right, value, lo, up, ad)


def _count(name: str, value: object, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer, but got {value!r}.")
    if value < least:
        raise ValueError(f"`{name} >= {least}` must hold, but got {name}={value!r}.")
    return int(value)
