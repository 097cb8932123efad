"""Slice plot: the objective value against each parameter, one panel per parameter."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hpopt.plot._common import (
    Target,
    apply_axis,
    check_target_name,
    complete_trials,
    needs_matplotlib,
    new_figure,
    objective_values,
    param_axis,
    param_column,
    point_size,
    select_params,
    study_label,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from hpopt.study import Study

__all__ = ["plot_slice"]

_MAX_COLUMNS = 4
_JITTER = 0.12  # half-width of the horizontal spread of points on a categorical axis


@needs_matplotlib
def plot_slice(
    study: Study,
    *,
    params: Sequence[str] | None = None,
    target: Target | None = None,
    target_name: str = "Objective value",
    seed: int = 0,
) -> Figure:
    """Objective value against each parameter, one panel per parameter, coloured by trial number.

    Log parameters get a log x-axis; categorical ones one tick per choice, with the points spread
    a little sideways (a seeded jitter) so that overlapping trials stay visible. A trial that
    does not have a parameter (conditional spaces) is left out of that panel only.

    Args:
        study: The study to plot.
        params: Parameter names (default: all, in order of first appearance).
        target: ``FrozenTrial -> float`` to plot instead of the objective (required with several
            objectives).
        target_name: The y-axis label.
        seed: Seed of the jitter on categorical axes.

    Raises:
        ValueError: No COMPLETE trial, an unknown parameter name, or a multi-objective study
            without ``target``.
    """
    what = "plot_slice"
    target_name = check_target_name(target_name)
    trials = complete_trials(study, what)
    names = select_params(trials, params, what)
    values = objective_values(study, trials, target, what)
    numbers = np.fromiter((t.number for t in trials), dtype=float, count=len(trials))
    rng = np.random.default_rng(seed)

    n_cols = min(len(names), _MAX_COLUMNS)
    n_rows = math.ceil(len(names) / n_cols)
    fig = new_figure(3.2 * n_cols + 1.2, 3.0 * n_rows + 0.6)
    axes = fig.subplots(n_rows, n_cols, sharey=True, squeeze=False)
    size = point_size(len(trials))
    sc = None
    for i, name in enumerate(names):
        ax = axes[i // n_cols][i % n_cols]
        axis = param_axis(trials, name)
        x = param_column(trials, axis)
        ok = np.isfinite(x) & np.isfinite(values)
        xs = x[ok]
        if axis.kind == "categorical":
            xs = xs + rng.uniform(-_JITTER, _JITTER, size=xs.shape)
        sc = ax.scatter(xs, values[ok], c=numbers[ok], cmap="Blues", vmin=numbers.min(),
                        vmax=max(numbers.max(), numbers.min() + 1), s=size, edgecolors="grey",
                        linewidths=0.3 if len(trials) <= 1000 else 0.0)
        apply_axis(ax, axis, "x")
        ax.grid(True, alpha=0.3)
        if i % n_cols == 0:
            ax.set_ylabel(target_name)
    used = [axes[i // n_cols][i % n_cols] for i in range(len(names))]
    for j in range(len(names), n_rows * n_cols):
        axes[j // n_cols][j % n_cols].remove()  # empty cells of the last row
    if sc is not None:
        fig.colorbar(sc, ax=used, label="Trial")
    fig.suptitle(f"Slice plot of {study_label(study)!r}")
    return fig
