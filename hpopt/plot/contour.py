"""Contour plot of the objective over a pair of parameters, interpolated from the trials.

The surface is a linear interpolation on the Delaunay triangulation of the COMPLETE trials that
have both parameters (``matplotlib.tri``), evaluated on a regular grid. Interpolation happens in
the coordinates the axes show: log10 of a log parameter, the choice index of a categorical one,
each rescaled to ``[0, 1]`` so that the triangulation is not skewed by the parameters' units.
Outside the convex hull of the trials the surface is left blank (no extrapolation). When the
points do not span an area (fewer than 3 distinct points, or all on a line) the nearest trial's
value is used instead; a single distinct point, or a constant value, draws the points alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hpopt.plot._common import (
    Target,
    apply_axis,
    check_target_name,
    complete_trials,
    known_params,
    needs_matplotlib,
    new_figure,
    objective_values,
    param_axis,
    param_column,
    point_size,
    select_params,
    study_label,
    target_direction,
    value_cmap,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from hpopt.study import Study

__all__ = ["plot_contour"]


def _interpolate(px: np.ndarray, py: np.ndarray, v: np.ndarray, gx: np.ndarray, gy: np.ndarray
                 ) -> np.ndarray:
    """Values on the grid ``(gx, gy)`` (all coordinates in [0, 1]) from the points ``(px, py) -> v``.

    Linear on the Delaunay triangulation (``matplotlib.tri``: its triangle finder needs no LAPACK
    call per triangle, unlike ``scipy.interpolate.griddata``, whose barycentric transforms slow
    to seconds when BLAS threads compete for cores); NaN outside the hull. Duplicated points
    are merged with the mean of their values first. When the points span no area (fewer than 3
    distinct, or collinear) the nearest point's value is used.
    """
    import matplotlib.tri as mtri
    from scipy.spatial import cKDTree

    pts, inverse = np.unique(np.column_stack([px, py]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    mean = np.bincount(inverse, weights=v) / np.bincount(inverse)
    if len(pts) >= 3:
        try:
            tri = mtri.Triangulation(pts[:, 0], pts[:, 1])
            z = mtri.LinearTriInterpolator(tri, mean)(gx, gy)
            return np.ma.filled(z.astype(float), np.nan)
        except (ValueError, RuntimeError):  # collinear points: no triangle
            pass
    _, nearest = cKDTree(pts).query(np.column_stack([gx.ravel(), gy.ravel()]))
    return mean[nearest].reshape(gx.shape)


@needs_matplotlib
def plot_contour(
    study: Study,
    *,
    params: Sequence[str] | None = None,
    target: Target | None = None,
    target_name: str = "Objective value",
    resolution: int = 100,
    levels: int = 15,
) -> Figure:
    """Filled contours of the objective over two parameters, with the trials as points.

    Args:
        study: The study to plot.
        params: Exactly two parameter names ``(x, y)``; may be omitted when the study has exactly
            two parameters.
        target: ``FrozenTrial -> float`` to plot instead of the objective (required with several
            objectives).
        target_name: Label of the colorbar.
        resolution: Grid points per axis of the interpolated surface (2 to 1000).
        levels: About this many contour levels (2 to 100; rounded to readable values).

    Raises:
        ValueError: No COMPLETE trial with both parameters and a finite value, ``params`` not
            naming exactly two distinct known parameters, a multi-objective study without
            ``target``, or ``resolution``/``levels`` out of range.
    """
    what = "plot_contour"
    target_name = check_target_name(target_name)
    for label, val, lo, hi in (("resolution", resolution, 2, 1000), ("levels", levels, 2, 100)):
        if isinstance(val, bool) or not isinstance(val, int) or not lo <= val <= hi:
            raise ValueError(f"`{label}` must be an int from {lo} to {hi}, but got {val!r}.")
    trials = complete_trials(study, what)
    if params is None:
        known = known_params(trials)
        if len(known) != 2:
            raise ValueError(
                f"{what} needs params=(x, y): two of the study's parameters {known}."
            )
        params = known
    names = select_params(trials, params, what)
    if len(names) != 2:
        raise ValueError(f"`params` must name exactly two parameters (x, y), but got {list(params)!r}.")
    values = objective_values(study, trials, target, what)
    ax_x, ax_y = (param_axis(trials, n) for n in names)
    cx, cy = param_column(trials, ax_x), param_column(trials, ax_y)
    ok = np.isfinite(cx) & np.isfinite(cy) & np.isfinite(values)
    if not ok.any():
        raise ValueError(
            f"{what}: no COMPLETE trial has both {names[0]!r} and {names[1]!r} and a finite value."
        )
    cx, cy, v = cx[ok], cy[ok], values[ok]

    def to_plot(axis, c):  # plot coordinates: log10 for log axes
        return np.log10(c) if axis.kind == "log" else c

    def span(axis, c):  # the range the grid covers, in plot coordinates
        if axis.kind == "categorical":
            n = len(axis.choices)
            return (0.0, float(n - 1)) if n > 1 else (-0.5, 0.5)
        lo, hi = float(c.min()), float(c.max())
        if lo == hi:
            pad = 0.5 if axis.kind == "log" else max(abs(lo) * 0.1, 0.5)
            lo, hi = lo - pad, hi + pad
        return lo, hi

    px, py = to_plot(ax_x, cx), to_plot(ax_y, cy)
    (x0, x1), (y0, y1) = span(ax_x, px), span(ax_y, py)
    u = np.linspace(0.0, 1.0, resolution)
    gu, gv = np.meshgrid(u, u)
    n_sites = len(np.unique(np.column_stack([px, py]), axis=0))  # 1 site: no surface to show
    z = _interpolate((px - x0) / (x1 - x0), (py - y0) / (y1 - y0), v, gu, gv)
    gx, gy = x0 + gu * (x1 - x0), y0 + gv * (y1 - y0)
    if ax_x.kind == "log":
        gx = 10.0 ** gx
    if ax_y.kind == "log":
        gy = 10.0 ** gy

    direction = target_direction(study, target)
    cmap = value_cmap(direction)
    fig = new_figure(6.5, 5.0)
    ax = fig.add_subplot()
    vmin, vmax = float(v.min()), float(v.max())
    if np.isfinite(z).any() and vmax > vmin and n_sites >= 2:
        from matplotlib.ticker import MaxNLocator

        bounds = MaxNLocator(levels).tick_values(vmin, vmax)  # round levels over the values' range
        cs = ax.contourf(gx, gy, np.clip(z, bounds[0], bounds[-1]), levels=bounds, cmap=cmap,
                         alpha=0.85, zorder=1)
        fig.colorbar(cs, ax=ax, label=target_name)
    ax.scatter(cx, cy, s=point_size(len(v)) * 0.6, c="black",
               alpha=float(np.clip(20.0 / np.sqrt(len(v)), 0.2, 0.6)), linewidths=0,
               label="Trials", zorder=2)
    if direction is not None:
        b = int(np.argmin(v) if direction == "minimize" else np.argmax(v))
        ax.scatter([cx[b]], [cy[b]], marker="*", s=180, c="red", edgecolors="white",
                   linewidths=0.8, label="Best trial", zorder=3)
    apply_axis(ax, ax_x, "x")
    apply_axis(ax, ax_y, "y")
    if ax_x.kind != "categorical":
        ax.set_xlim(gx.min(), gx.max())
    if ax_y.kind != "categorical":
        ax.set_ylim(gy.min(), gy.max())
    ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    ax.set_title(f"Contour of {study_label(study)!r}")
    return fig
