"""Learning curves: the intermediate values every trial reported, pruned trials marked.

All curves of one state are a single :class:`~matplotlib.collections.LineCollection`, so thousands
of trials draw quickly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from hpopt.plot._common import check_target_name, needs_matplotlib, new_figure, study_label
from hpopt.records import TrialState

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from hpopt.study import Study

__all__ = ["plot_intermediate_values"]

_STYLE = {  # state -> (colour, legend label)
    TrialState.COMPLETE: ("tab:blue", "Complete"),
    TrialState.PRUNED: ("tab:red", "Pruned"),
    TrialState.RUNNING: ("tab:green", "Running"),
    TrialState.FAIL: ("tab:gray", "Failed"),
}


@needs_matplotlib
def plot_intermediate_values(
    study: Study,
    *,
    objective: int | None = None,
    target_name: str = "Intermediate value",
    log_y: bool = False,
) -> Figure:
    """One curve per trial that reported intermediate values (step on x, value on y).

    Complete trials are blue, pruned ones red with an ``x`` at the step where they stopped,
    running ones green, failed ones grey.

    Args:
        study: The study to plot.
        objective: Which objective's reports to plot; required for a multi-objective study
            (each report there holds one value per objective).
        target_name: The y-axis label.
        log_y: A log y-axis (non-positive reports are left out).

    Raises:
        ValueError: No trial reported any intermediate value, a multi-objective study without
            ``objective``, or ``objective`` out of range.
    """
    target_name = check_target_name(target_name)
    n_obj = len(study.directions)
    if n_obj > 1 and objective is None:
        raise ValueError(
            f"plot_intermediate_values: the study has {n_obj} objectives; pass objective=i "
            f"(0 to {n_obj - 1}) to choose whose reports to plot."
        )
    if objective is not None and (isinstance(objective, bool) or not isinstance(objective, int)
                                  or not 0 <= objective < n_obj):
        raise ValueError(f"`objective` must be an int from 0 to {n_obj - 1}, but got {objective!r}.")
    idx = 0 if objective is None else objective
    trials = [t for t in study.trials if t.intermediate_values and t.state in _STYLE]
    if not trials:
        raise ValueError(
            f"plot_intermediate_values: no trial of study {study_label(study)!r} reported "
            "intermediate values (call trial.report(value, step) in the objective)."
        )
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    fig = new_figure()
    ax = fig.add_subplot()
    handles: list = []  # legend entries: solid lines (the curves themselves may be faint)
    n_curves = len(trials)
    alpha = float(np.clip(8.0 / math.sqrt(n_curves), 0.1, 0.9))
    for state, (colour, label) in _STYLE.items():
        group = [t for t in trials if t.state is state]
        if not group:
            continue
        # all reports of the group in flat arrays, sorted by (trial, step), then split per trial
        lens = np.fromiter((len(t.intermediate_values) for t in group), dtype=np.int64,
                           count=len(group))
        total = int(lens.sum())
        steps = np.fromiter((s for t in group for s in t.intermediate_values), dtype=float,
                            count=total)
        vals = np.fromiter(((v[idx] if n_obj > 1 else v) for t in group
                            for v in t.intermediate_values.values()), dtype=float, count=total)
        owner = np.repeat(np.arange(len(group)), lens)
        order = np.lexsort((steps, owner))
        steps, vals, owner = steps[order], vals[order], owner[order]
        keep = np.isfinite(vals) & (vals > 0 if log_y else True)
        xy = np.column_stack([steps[keep], vals[keep]])
        counts = np.bincount(owner[keep], minlength=len(group))
        bounds = np.cumsum(counts)
        curves = [c for c in np.split(xy, bounds[:-1]) if len(c)]
        ends = xy[bounds[counts > 0] - 1]
        if not curves:
            continue
        ax.add_collection(LineCollection(curves, colors=colour, linewidths=1.0, alpha=alpha))
        handles.append(Line2D([], [], color=colour, linewidth=1.5, label=f"{label} ({len(group)})"))
        singles = np.array([c[0] for c in curves if len(c) == 1])  # a one-step curve is a dot
        if len(singles):
            ax.scatter(singles[:, 0], singles[:, 1], s=10, c=colour, alpha=alpha, linewidths=0)
        if state is TrialState.PRUNED:
            e = ends
            many = len(e) > 200
            handles.append(ax.scatter(e[:, 0], e[:, 1], marker="x", s=12 if many else 28, c="darkred",
                                      linewidths=0.8 if many else 1.2, alpha=0.5 if many else 1.0,
                                      zorder=3, label="Pruned here"))
    ax.autoscale_view()
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("Step")
    ax.set_ylabel(target_name)
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    ax.set_title(f"Intermediate values of {study_label(study)!r}")
    return fig
