"""Hyperparameter importances as horizontal bars (computed by :mod:`hpopt.importance`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hpopt.plot._common import (
    Target,
    check_target_name,
    complete_trials,
    needs_matplotlib,
    new_figure,
    objective_values,
    select_params,
    study_label,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from hpopt.study import Study

__all__ = ["plot_param_importances"]


@needs_matplotlib
def plot_param_importances(
    study: Study,
    *,
    params: Sequence[str] | None = None,
    target: Target | None = None,
    target_name: str = "Objective value",
    method: Any = None,
    seed: int | None = 0,
    **settings: Any,
) -> Figure:
    """Bars of the importance of each parameter, largest on top, each labelled with its value.

    The importances come from
    ``hpopt.importance.get_param_importances(study, method=method, params=params, target=target,
    seed=seed, **settings)``; ``method=None`` leaves the choice to that function.

    Args:
        study: The study to plot.
        params: Parameter names (default: all).
        target: ``FrozenTrial -> float`` whose importance is computed instead of the objective's
            (required with several objectives).
        target_name: Named in the title ("importance for ...").
        method: Passed on to ``get_param_importances`` (a method name or evaluator).
        seed: Seed of the importance method.
        **settings: Settings of the method (checked by ``get_param_importances``).

    Raises:
        ValueError: No COMPLETE trial, an unknown parameter name, or a multi-objective study
            without ``target`` (checked before the importances are computed).
    """
    what = "plot_param_importances"
    target_name = check_target_name(target_name)
    trials = complete_trials(study, what)
    select_params(trials, params, what)
    objective_values(study, trials[:1], target, what)  # the multi-objective check, early
    from hpopt.importance import get_param_importances

    kwargs: dict[str, Any] = {"params": None if params is None else list(params), "target": target,
                              "seed": seed, **settings}
    if method is not None:
        kwargs["method"] = method
    imp = get_param_importances(study, **kwargs)
    names = list(imp)
    vals = np.array([float(imp[n]) for n in names], dtype=float)
    order = np.argsort(vals, kind="stable")  # barh draws bottom-up: largest ends on top
    names = [names[i] for i in order]
    vals = vals[order]

    fig = new_figure(6.5, max(2.5, 0.45 * len(names) + 1.5))
    ax = fig.add_subplot()
    bars = ax.barh(np.arange(len(names)), vals, color="tab:blue", height=0.65)
    ax.set_yticks(np.arange(len(names)), names)
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in vals], padding=3, fontsize=8)
    top = float(np.nanmax(vals)) if vals.size and np.isfinite(vals).any() else 1.0
    ax.set_xlim(0.0, max(top, 1e-12) * 1.18)
    ax.set_xlabel("Importance")
    ax.set_ylabel("Hyperparameter")
    ax.grid(True, axis="x", alpha=0.3)
    label = method if isinstance(method, str) else (type(method).__name__ if method is not None else "")
    suffix = f" ({label})" if label else ""
    ax.set_title(f"Hyperparameter importances for {target_name}{suffix}\nstudy {study_label(study)!r}")
    return fig
