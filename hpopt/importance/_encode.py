"""Trials -> one numeric matrix that both importance methods read.

Every parameter becomes one column of ``X``:

* numeric (``Float``, ``Int``): the unit-box coordinate of :class:`hpopt.SpaceTransform`, i.e. the
  internal value (log scale for ``log=True``) mapped from the distribution's internal bounds onto
  ``[0, 1]``;
* categorical: the index of the choice (a float holding an integer);
* absent from a trial (a conditional parameter that was not suggested): ``NaN``. Each method
  turns absence into a value of its own ("inactive"), so whether a parameter was active counts
  towards its importance.

A parameter whose distribution changed during the study is encoded with the distribution of the
*last* trial that has it (the study's current space); the bounds are widened to cover older values,
and categorical values that are no longer choices get codes after the current choices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from hpopt.distributions import Categorical, Distribution, Float, Int
from hpopt.records import FrozenTrial

__all__ = ["Encoded", "encode_trials", "NUM", "CAT"]

NUM, CAT = 0, 1


@attrs.define(slots=True)
class Encoded:
    """Encoded parameters of a set of trials.

    Attributes:
        names: Parameter names, in column order.
        X: ``(n, d)`` unit coordinates (numeric) or choice codes (categorical); NaN where absent.
        kind: ``NUM`` or ``CAT`` per column.
        n_choices: Number of codes of a categorical column (0 for numeric ones).
        grid: For a discrete numeric column (``Int``, stepped ``Float``), the unit coordinates of
            its possible values (sorted); None for continuous and categorical columns or when the
            values are too many or do not all lie on the grid.
    """

    names: list[str]
    X: np.ndarray
    kind: np.ndarray
    n_choices: np.ndarray
    grid: list[np.ndarray | None]


def _discrete_grid(dist: Distribution, lo: float, span: float, max_values: int) -> np.ndarray | None:
    """Unit coordinates of every value of a discrete numeric distribution (None when too many)."""
    if isinstance(dist, Int):
        n = (dist.high - dist.low) // dist.step + 1
        if n > max_values:
            return None
        vals = dist.low + dist.step * np.arange(n, dtype=float)
    elif isinstance(dist, Float) and dist.step is not None:
        n = int(round((dist.high - dist.low) / dist.step)) + 1
        if n > max_values:
            return None
        vals = dist.low + dist.step * np.arange(n, dtype=float)
    else:
        return None
    internal = np.log(vals) if dist.log else vals
    return (internal - lo) / span


def encode_trials(
    trials: Sequence[FrozenTrial], names: Sequence[str], *, max_grid: int = 1024
) -> Encoded:
    """Encode the parameters ``names`` of ``trials`` (see the module docstring).

    Args:
        trials: The trials (typically COMPLETE ones); one row each.
        names: Parameters to encode (one absent from every trial is all NaN).
        max_grid: Discrete numeric parameters with more values than this are treated as
            continuous.
    """
    n, d = len(trials), len(names)
    X = np.full((n, d), np.nan)
    kind = np.zeros(d, dtype=np.int8)
    n_choices = np.zeros(d, dtype=np.int64)
    grid: list[np.ndarray | None] = [None] * d
    for j, name in enumerate(names):
        ref: Distribution | None = None
        rows: list[int] = []
        values: list[Any] = []
        for i, t in enumerate(trials):
            if name in t.params:
                rows.append(i)
                values.append(t.params[name])
                ref = t.distributions[name]
        if ref is None:
            continue  # in none of these trials: absent everywhere, importance 0
        idx = np.asarray(rows, dtype=np.int64)
        if isinstance(ref, Categorical):
            kind[j] = CAT
            codes, n_codes = _categorical_codes(ref, values)
            X[idx, j] = codes
            n_choices[j] = n_codes
            continue
        raw = np.asarray(values, dtype=float)
        use_log = bool(ref.log) and bool(np.all(raw > 0))
        internal = np.log(raw) if use_log else raw
        lo, hi = ref.internal_bounds if use_log == bool(ref.log) else (ref.low, ref.high)
        inside = bool(np.all((internal >= lo) & (internal <= hi)))
        lo, hi = min(lo, float(internal.min())), max(hi, float(internal.max()))
        span = hi - lo
        if not span > 0 or not math.isfinite(span):
            X[idx, j] = 0.5
            continue
        X[idx, j] = (internal - lo) / span
        if inside and use_log == bool(ref.log):
            grid[j] = _discrete_grid(ref, lo, span, max_grid)
    return Encoded(list(names), X, kind, n_choices, grid)


def _categorical_codes(ref: Categorical, values: list[Any]) -> tuple[np.ndarray, int]:
    """Codes of categorical values: the index in ``ref``'s choices, then codes for old choices."""
    extra: dict[tuple[str, Any], int] = {}
    k = len(ref.choices)
    out = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            out[i] = ref.index(v)
        except ValueError:
            key = (type(v).__name__, v)
            if key not in extra:
                extra[key] = k + len(extra)
            out[i] = extra[key]
    return out, k + len(extra)
