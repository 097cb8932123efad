"""Parallel coordinates: one polyline per COMPLETE trial through the objective and every parameter.

All trials are drawn by a single :class:`~matplotlib.collections.LineCollection` (not one ``plot``
call per trial), so 10,000 trials render in well under a second. Each vertical axis is rescaled
to ``[0, 1]`` over the observed range (in log space for log parameters, by choice index for
categorical ones) and carries its own tick labels in the parameter's units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hpopt.plot._common import (
    ParamAxis,
    Target,
    check_target_name,
    complete_trials,
    label_of,
    needs_matplotlib,
    new_figure,
    objective_values,
    param_axis,
    param_column,
    select_params,
    study_label,
    target_direction,
    value_cmap,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from hpopt.study import Study

__all__ = ["plot_parallel_coordinate"]

#: Above this many trials the lines are rasterized with numpy (see :func:`_raster`).
MAX_VECTOR_LINES = 2000
_ROWS = 300  # raster rows over [0, 1]
_COLS = 100  # raster columns between two neighbouring axes


def _raster(ys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rasterize the polylines ``ys`` (one row per trial, one column per axis, values in [0, 1],
    NaN = gap) into a ``(_ROWS, (k - 1) * _COLS + 1)`` grid (smoothed by the image
    interpolation when drawn).

    Returns ``(mean, count)``: per pixel, the mean of ``values`` over the line samples through it
    (NaN where none passes) and how many samples passed (a density). Each segment is sampled
    once per row it can cross (``_ROWS + 1`` samples, more than the ``_COLS`` columns), so even a
    segment from bottom to top has no gaps. Vectorized over trials; the only loop is over the
    ``k - 1`` gaps between axes.
    """
    n, k = ys.shape
    width = (k - 1) * _COLS + 1
    total = np.zeros(_ROWS * width)
    count = np.zeros(_ROWS * width)
    t = np.linspace(0.0, 1.0, _ROWS + 1, dtype=np.float32)
    cols = np.rint(t * _COLS).astype(np.int32)
    for j in range(k - 1):
        a, b = ys[:, j], ys[:, j + 1]
        ok = np.isfinite(a) & np.isfinite(b)
        a0 = np.clip(a[ok], 0.0, 1.0).astype(np.float32) * (_ROWS - 1)
        b0 = np.clip(b[ok], 0.0, 1.0).astype(np.float32) * (_ROWS - 1)
        # float32/int32 in place: this loop's arrays are the hot path (n * _ROWS samples)
        rows = np.multiply.outer(b0 - a0, t)
        rows += a0[:, None]
        np.rint(rows, out=rows)
        flat = rows.astype(np.int32)
        flat *= width
        flat += j * _COLS + cols
        flat = flat.ravel()
        count += np.bincount(flat, minlength=_ROWS * width)
        total += np.bincount(flat, weights=np.repeat(values[ok], len(t)), minlength=_ROWS * width)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    return mean.reshape(_ROWS, width), count.reshape(_ROWS, width)


def _ticks(axis: ParamAxis | None, lo: float, hi: float) -> tuple[np.ndarray, list[str]]:
    """Tick positions (in the column's plot units) and labels for one vertical axis."""
    from matplotlib.ticker import LogLocator, MaxNLocator

    if axis is not None and axis.kind == "categorical":
        return np.arange(len(axis.choices), dtype=float), [label_of(c) for c in axis.choices]
    if lo == hi:
        return np.array([lo]), [f"{(10.0 ** lo) if axis and axis.kind == 'log' else lo:.3g}"]
    if axis is not None and axis.kind == "log":
        vals = LogLocator(numticks=6).tick_values(10.0 ** lo, 10.0 ** hi)
        vals = vals[(vals >= 10.0 ** lo * (1 - 1e-9)) & (vals <= 10.0 ** hi * (1 + 1e-9))]
        if len(vals) < 2:  # less than a decade: plain ticks on the value
            vals = MaxNLocator(4).tick_values(10.0 ** lo, 10.0 ** hi)
            vals = vals[(vals >= 10.0 ** lo * (1 - 1e-9)) & (vals <= 10.0 ** hi * (1 + 1e-9))]
        return np.log10(vals), [f"{v:.4g}" for v in vals]
    integer = axis is not None and axis.integer
    vals = MaxNLocator(5, integer=integer).tick_values(lo, hi)
    span = hi - lo
    vals = vals[(vals >= lo - 1e-9 * span) & (vals <= hi + 1e-9 * span)]
    return vals, [f"{v:.4g}" for v in vals]


@needs_matplotlib
def _draw_raster(ax: Any, ys: np.ndarray, values: np.ndarray, cmap: str) -> Any:
    """Draw the lines ``ys`` as one image coloured by the mean value of the lines through each
    pixel, fading where few pass; return the mappable for the colorbar."""
    import matplotlib as mpl

    k = ys.shape[1]
    mean, count = _raster(ys, values)
    norm = mpl.colors.Normalize(float(values.min()), float(values.max()))
    colormap = mpl.colormaps[cmap]
    rgba = colormap(norm(np.nan_to_num(mean, nan=float(values.min()))))
    density = np.log1p(count) / np.log1p(max(float(count.max()), 1.0))
    rgba[..., 3] = np.where(count > 0, 0.2 + 0.8 * density, 0.0)
    ax.imshow(rgba, origin="lower", extent=(0.0, k - 1.0, 0.0, 1.0), aspect="auto",
              interpolation="antialiased", zorder=1)
    return mpl.cm.ScalarMappable(norm=norm, cmap=colormap)


@needs_matplotlib
def plot_parallel_coordinate(
    study: Study,
    *,
    params: Sequence[str] | None = None,
    target: Target | None = None,
    target_name: str = "Objective value",
    max_lines: int = MAX_VECTOR_LINES,
) -> Figure:
    """Parallel coordinates of the COMPLETE trials, coloured by objective value.

    The first vertical axis is the objective, then one per parameter; better values are at the
    bright end of the colormap and (as vector lines) drawn last, on top. A trial without some
    parameter (conditional spaces) has a gap in its line at that axis.

    Args:
        study: The study to plot.
        params: Parameter names (default: all, in order of first appearance).
        target: ``FrozenTrial -> float`` to plot instead of the objective (required with several
            objectives).
        target_name: Label of the objective axis and the colorbar.
        max_lines: Up to this many trials every line is a vector line (one LineCollection);
            beyond it the lines are rasterized with numpy into one image (each pixel shows the
            mean value of the trials whose lines pass through it, fading where few pass), which
            keeps 10,000 trials to a fraction of a second and the SVG small.

    Raises:
        ValueError: No COMPLETE trial (with a finite value), an unknown parameter name, a
            multi-objective study without ``target``, or ``max_lines`` not a non-negative int.
    """
    from matplotlib.collections import LineCollection

    what = "plot_parallel_coordinate"
    target_name = check_target_name(target_name)
    if isinstance(max_lines, bool) or not isinstance(max_lines, int) or max_lines < 0:
        raise ValueError(f"`max_lines` must be a non-negative int, but got {max_lines!r}.")
    trials = complete_trials(study, what)
    names = select_params(trials, params, what)
    values = objective_values(study, trials, target, what)
    keep = np.isfinite(values)
    if not keep.any():
        raise ValueError(f"{what}: no COMPLETE trial has a finite value to plot.")
    trials = [t for t, k in zip(trials, keep) if k]
    values = values[keep]
    direction = target_direction(study, target)
    # better last so it is drawn on top; ties keep the trial order
    order = np.argsort(-values if direction == "minimize" else values, kind="stable")

    axes_info: list[ParamAxis | None] = [None]
    raw = [values]
    for name in names:
        axis = param_axis(trials, name)
        col = param_column(trials, axis)
        if axis.kind == "log":
            col = np.log10(col)
        axes_info.append(axis)
        raw.append(col)

    k = len(raw)
    ys = np.empty((len(values), k))
    tick_sets: list[tuple[np.ndarray, list[str]]] = []
    for j, (axis, col) in enumerate(zip(axes_info, raw)):
        finite = col[np.isfinite(col)]
        if axis is not None and axis.kind == "categorical":
            lo, hi = 0.0, float(max(len(axis.choices) - 1, 0))
        else:
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        scale = hi - lo
        ys[:, j] = (col - lo) / scale if scale > 0 else np.where(np.isfinite(col), 0.5, np.nan)
        pos, labels = _ticks(axis, lo, hi)
        tick_sets.append(((pos - lo) / scale if scale > 0 else np.full(len(pos), 0.5), labels))

    fig = new_figure(max(6.0, 1.6 * k + 2.0), 4.8)
    ax = fig.add_subplot()
    cmap = value_cmap(direction)
    if len(values) <= max_lines or k < 2:
        xs = np.broadcast_to(np.arange(k, dtype=float), ys.shape)
        segments = np.stack([xs, ys], axis=2)[order]
        alpha = float(np.clip(12.0 / math.sqrt(len(values)), 0.08, 0.8))
        mappable: Any = LineCollection(list(segments), array=values[order], cmap=cmap,
                                       linewidths=1.0, alpha=alpha)
        ax.add_collection(mappable)
    else:
        mappable = _draw_raster(ax, ys, values, cmap)
    ax.vlines(np.arange(k), 0.0, 1.0, color="black", linewidth=1.0, zorder=3)
    text_kw: dict[str, Any] = {"fontsize": 7, "ha": "right", "va": "center", "zorder": 4}
    for j, (pos, labels) in enumerate(tick_sets):
        ax.hlines(pos, j - 0.03, j, color="black", linewidth=0.8, zorder=3)
        for p, lab in zip(pos, labels):
            ax.text(j - 0.05, p, lab, **text_kw,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
    ax.set_xlim(-0.6, k - 0.6)
    ax.set_ylim(-0.04, 1.04)
    ax.set_xticks(np.arange(k), [target_name] + names, rotation=20 if k > 5 else 0,
                  ha="right" if k > 5 else "center")
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    cb = fig.colorbar(mappable, ax=ax, label=target_name)
    cb.solids.set_alpha(1.0)
    ax.set_title(f"Parallel coordinates of {study_label(study)!r}")
    return fig
