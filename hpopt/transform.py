"""The one search-space transform every model-based sampler shares: parameters <-> unit box.

Each numeric parameter becomes one column in ``[0, 1]`` over its distribution's internal bounds
(log scale for ``log=True``, a cell per integer or step so every value has equal width).
A categorical parameter becomes one column holding its index cell, or ``k`` one-hot columns with
``one_hot=True``. Decoding is vectorized over rows (candidates); the loop runs over parameters only.

Example:
    >>> import numpy as np
    >>> from hpopt import Float, Int, Categorical, SpaceTransform
    >>> tf = SpaceTransform({"lr": Float(1e-4, 1, log=True), "n": Int(1, 3), "act": Categorical(["a", "b"])})
    >>> tf.dim
    3
    >>> p = tf.decode(np.array([0.5, 0.99, 0.2]))  # the middle of log [1e-4, 1] is 1e-2
    >>> round(p["lr"], 12), p["n"], p["act"]
    (0.01, 3, 'a')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hpopt.distributions import Categorical, Distribution, Float, Int, tidy_array

__all__ = ["SpaceTransform"]


class SpaceTransform:
    """Encode parameter dicts of a fixed space as unit-box vectors, and decode them back.

    Args:
        space: name -> distribution, in the column order wanted.
        one_hot: Encode categoricals one-hot (``k`` columns) instead of by index cell.

    Attributes:
        names: Parameter names in column order.
        dim: Number of columns.
        slices: name -> slice of its columns.
        discrete: Boolean mask of columns whose values are discrete (int, step, categorical).
    """

    def __init__(self, space: Mapping[str, Distribution], *, one_hot: bool = False) -> None:
        self.space = dict(space)
        self.names = list(self.space)
        self.one_hot = one_hot
        self.slices: dict[str, slice] = {}
        lows, highs, discrete = [], [], []
        col = 0
        for name, dist in self.space.items():
            width = len(dist.choices) if one_hot and isinstance(dist, Categorical) else 1
            self.slices[name] = slice(col, col + width)
            lo, hi = dist.internal_bounds if width == 1 else (0.0, 1.0)
            lows += [lo] * width
            highs += [hi] * width
            discrete += [not (isinstance(dist, Float) and dist.step is None)] * width
            col += width
        self.dim = col
        self._lo, self._span, self._sc = scaled_bounds(
            np.array(lows, dtype=float), np.array(highs, dtype=float)
        )
        self.discrete = np.array(discrete, dtype=bool)

    @property
    def span(self) -> np.ndarray:
        """Width of each column's internal range (``inf`` where it exceeds the largest float)."""
        with np.errstate(over="ignore"):
            return self._span / self._sc

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """One parameter dict -> a vector in the unit box (cell centres for discrete values)."""
        u = np.empty(self.dim)
        for name, dist in self.space.items():
            sl = self.slices[name]
            if sl.stop - sl.start > 1:
                u[sl] = 0.0
                u[sl.start + dist.index(params[name])] = 1.0  # type: ignore[union-attr]
                continue
            x = dist.to_internal(params[name]) * self._sc[sl.start]
            span = self._span[sl.start]
            u[sl.start] = (x - self._lo[sl.start]) / span if span > 0 else 0.5
        return u

    def encode_many(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Several parameter dicts -> an ``(n, dim)`` array."""
        out = np.empty((len(rows), self.dim))
        for i, row in enumerate(rows):
            out[i] = self.encode(row)
        return out

    def to_values(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """``(n, dim)`` unit rows -> per parameter, an array of snapped values.

        Numeric parameters give their values (ints as integral floats); categoricals give indices.
        """
        u = np.atleast_2d(np.asarray(u, dtype=float))
        x = (self._lo + _clip(u, 0.0, 1.0) * self._span) / self._sc
        out = {}
        for name, dist in self.space.items():
            sl = self.slices[name]
            if sl.stop - sl.start > 1:
                out[name] = np.argmax(u[:, sl], axis=1)
            else:
                out[name] = _snap(dist, x[:, sl.start])
        return out

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Move unit rows onto representable points (cell centres of discrete values)."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        vals = self.to_values(u)
        out = np.empty_like(u)
        for name, dist in self.space.items():
            sl, v = self.slices[name], vals[name]
            if sl.stop - sl.start > 1:
                out[:, sl] = np.eye(sl.stop - sl.start)[v]
                continue
            x = (np.log(v) if getattr(dist, "log", False) else v.astype(float)) * self._sc[sl.start]
            span = self._span[sl.start]
            out[:, sl.start] = (x - self._lo[sl.start]) / span if span > 0 else 0.5
        return out

    def decode(self, u: np.ndarray) -> dict[str, Any]:
        """One unit vector -> a parameter dict of Python values inside their distributions."""
        return self.decode_many(np.atleast_2d(u))[0]

    def decode_many(self, u: np.ndarray) -> list[dict[str, Any]]:
        """``(n, dim)`` unit rows -> ``n`` parameter dicts."""
        vals = self.to_values(u)
        columns = []
        for name in self.names:
            dist, v = self.space[name], vals[name]
            if isinstance(dist, Categorical):
                columns.append([dist.choices[i] for i in v.tolist()])
            elif isinstance(dist, Int):
                columns.append([int(a) for a in v.tolist()])
            else:
                columns.append(v.tolist())
        return [dict(zip(self.names, row)) for row in zip(*columns)]


def _clip(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``np.clip(a, lo, hi)`` for ``lo <= hi`` (NaN stays NaN), at a third of its call overhead."""
    return np.minimum(np.maximum(a, lo), hi)


def _snap(dist: Distribution, x: np.ndarray) -> np.ndarray:
    """Internal floats -> snapped user values (categoricals: indices), vectorized."""
    if isinstance(dist, Categorical):
        return _clip(np.rint(x), 0, len(dist.choices) - 1).astype(int)
    if dist.log:
        v = np.exp(x)
        if isinstance(dist, Int):
            v = np.rint(v)
    elif isinstance(dist, Int):
        v = dist.low + np.rint((x - dist.low) / dist.step) * dist.step
    elif dist.step is not None:  # rounded like Float.canonical: 0.3, not 0.30000000000000004
        v = dist.low + np.rint((x - dist.low) / dist.step) * dist.step
        t = tidy_array(v)  # 0.3, not 0.30000000000000004, where that stays exactly on the grid
        v = np.where(np.abs(t - v) <= 1e-9 * dist.step, t, v)
    else:
        v = x
    return _clip(v, dist.low, dist.high)


def scaled_bounds(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column ``(lo * sc, hi * sc - lo * sc, sc)``: the unit-box origin and width, scaled.

    ``sc`` is 1 unless ``hi - lo`` overflows (e.g. ``Float(-1e308, 1e308)``), then 0.5, which keeps
    the width finite. Halving is exact in binary floating point, so ``u = (x sc - lo sc) / width``
    and ``x = (lo sc + u width) / sc`` give the unscaled results wherever no overflow happens.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        width = hi - lo
    sc = np.where(np.isfinite(width), 1.0, 0.5)
    lo_s = lo * sc
    return lo_s, hi * sc - lo_s, sc
