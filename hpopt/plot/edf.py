"""Empirical distribution function of the objective values, for one study or several side by side.

Comparing the EDFs of studies run with different samplers (or search spaces) shows which one puts
more of its trials at good values: for minimization, the curve further up and to the left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hpopt.plot._common import (
    Target,
    check_target_name,
    complete_trials,
    needs_matplotlib,
    new_figure,
    objective_values,
    study_label,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from hpopt.study import Study

__all__ = ["plot_edf"]


@needs_matplotlib
def plot_edf(
    study: Study | Sequence[Study],
    *,
    target: Target | None = None,
    target_name: str = "Objective value",
    log_x: bool = False,
) -> Figure:
    """The fraction of COMPLETE trials whose value is at most x, one step curve per study.

    Args:
        study: A study, or a list of studies (each gets its own curve, named by study name).
        target: ``FrozenTrial -> float`` to plot instead of the objective (required with several
            objectives).
        target_name: The x-axis label.
        log_x: A log x-axis (values must be positive).

    Raises:
        ValueError: An empty list, a study without COMPLETE trials, a multi-objective study
            without ``target``, or ``log_x`` with values that are not all positive.
    """
    what = "plot_edf"
    target_name = check_target_name(target_name)
    studies = list(study) if isinstance(study, Sequence) else [study]
    if not studies:
        raise ValueError("`study` must be a study or a non-empty list of studies.")
    curves = []
    for s in studies:
        vals = objective_values(s, complete_trials(s, what), target, what)
        vals = np.sort(vals[np.isfinite(vals)])
        if log_x and np.any(vals <= 0):
            raise ValueError(
                f"`log_x=True` needs positive values, but study {study_label(s)!r} has some <= 0."
            )
        curves.append((study_label(s), vals))

    fig = new_figure()
    ax = fig.add_subplot()
    for name, vals in curves:
        if not len(vals):
            continue
        frac = np.arange(1, len(vals) + 1) / len(vals)
        ax.step(np.concatenate([[vals[0]], vals]), np.concatenate([[0.0], frac]), where="post",
                linewidth=1.6, label=f"{name} ({len(vals)} trials)")
    if log_x:
        ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(target_name)
    ax.set_ylabel("Cumulative probability")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    title = "Empirical distribution of values"
    ax.set_title(title if len(curves) > 1 else f"{title} of {curves[0][0]!r}")
    return fig
