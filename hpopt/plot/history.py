"""Optimization history: every COMPLETE trial's value against its number, with the best so far."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hpopt.plot._common import (
    Target,
    check_target_name,
    complete_trials,
    feasible_mask,
    needs_matplotlib,
    new_figure,
    objective_values,
    point_size,
    study_label,
    target_direction,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from hpopt.study import Study

__all__ = ["plot_optimization_history"]


@needs_matplotlib
def plot_optimization_history(
    study: Study,
    *,
    target: Target | None = None,
    target_name: str = "Objective value",
    direction: str | None = None,
    log_y: bool = False,
) -> Figure:
    """Objective value of each COMPLETE trial against the trial number, plus the best-so-far line.

    Trials whose stored constraint values are violated (told with a sampler that has a
    ``constraints_func``) are drawn as grey crosses, labelled infeasible, and never set the
    best-so-far line.

    Args:
        study: The study to plot.
        target: ``FrozenTrial -> float``, what to plot instead of the single objective value;
            required for a multi-objective study (e.g. ``lambda t: t.values[0]``).
        target_name: The y-axis label.
        direction: ``"minimize"`` or ``"maximize"``, in which sense ``target`` improves; decides
            the best-so-far line. Defaults to the study's direction when no ``target`` is given;
            with a ``target`` and no ``direction`` the line is left out (its sense is unknown).
        log_y: A log y-axis (values must be positive).

    Raises:
        ValueError: No COMPLETE trial, a multi-objective study without ``target``, a bad
            ``direction``, or ``log_y`` with values that are not all positive.

    Example:
        >>> import hpopt
        >>> from hpopt.plot import plot_optimization_history
        >>> study = hpopt.create_study(seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=10)
        >>> fig = plot_optimization_history(study)
        >>> fig.axes[0].get_xlabel()
        'Trial'
    """
    what = "plot_optimization_history"
    target_name = check_target_name(target_name)
    if direction is not None and direction not in ("minimize", "maximize"):
        raise ValueError(f"`direction` must be 'minimize' or 'maximize', but got {direction!r}.")
    trials = complete_trials(study, what)
    values = objective_values(study, trials, target, what)
    numbers = np.fromiter((t.number for t in trials), dtype=float, count=len(trials))
    direction = direction or target_direction(study, target)
    ok = np.isfinite(values)
    if log_y and np.any(values[ok] <= 0):
        raise ValueError("`log_y=True` needs positive values, but some plotted values are <= 0.")
    feasible = feasible_mask(study, trials)
    bad = np.zeros(len(trials), dtype=bool) if feasible is None else ok & ~feasible
    good = ok & ~bad

    fig = new_figure()
    ax = fig.add_subplot()
    size = point_size(len(trials))
    ax.scatter(numbers[good], values[good], s=size, color="tab:blue", alpha=0.7,
               linewidths=0, label=target_name, zorder=2)
    if bad.any():
        ax.scatter(numbers[bad], values[bad], s=size, color="0.6", marker="x", alpha=0.8,
                   linewidths=0.8, label=f"Infeasible ({int(bad.sum())})", zorder=2)
    if direction is not None and good.any():
        acc = np.minimum.accumulate if direction == "minimize" else np.maximum.accumulate
        best = acc(values[good])
        ax.step(numbers[good], best, where="post", color="tab:red", linewidth=1.8,
                label="Best so far" if feasible is None else "Best feasible so far", zorder=3)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("Trial")
    ax.set_ylabel(target_name)
    ax.set_title(f"Optimization history of {study_label(study)!r}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")  # "best" costs a scan of every point
    return fig
