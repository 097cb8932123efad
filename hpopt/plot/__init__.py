"""Plots of a study (needs the ``plot`` extra: ``pip install "hpopt[plot]"``, i.e. matplotlib).

Every function takes a study and returns a :class:`matplotlib.figure.Figure` built without pyplot
(no display, no global state); write it with :func:`save` (PNG or SVG by suffix) or
``fig.savefig``. matplotlib is imported only when a plot is made, so ``import hpopt.plot`` works
without it and the first plot raises an ImportError naming the extra to install.

=========================================  =================================================
``plot_optimization_history``              values per trial and the best so far
``plot_parallel_coordinate``               one line per trial through objective and params
``plot_slice``                             objective against each parameter
``plot_contour``                           interpolated objective over a pair of parameters
``plot_param_importances``                 importance bars (:mod:`hpopt.importance`)
``plot_pareto_front``                      2 or 3 objectives, the front highlighted
``plot_intermediate_values``               learning curves, pruned trials marked
``plot_edf``                               empirical distribution of values (several studies)
=========================================  =================================================

:data:`PLOTS` maps the kind names of ``hpopt plot KIND`` to these functions.

Example:
    >>> import hpopt, tempfile, os
    >>> from hpopt.plot import plot_slice, save
    >>> study = hpopt.create_study(seed=0)
    >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=10)
    >>> path = save(plot_slice(study), os.path.join(tempfile.mkdtemp(), "slice.png"))
    >>> path.stat().st_size > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpopt.plot._common import save
from hpopt.plot.contour import plot_contour
from hpopt.plot.edf import plot_edf
from hpopt.plot.history import plot_optimization_history
from hpopt.plot.importance import plot_param_importances
from hpopt.plot.intermediate import plot_intermediate_values
from hpopt.plot.parallel import plot_parallel_coordinate
from hpopt.plot.pareto import plot_pareto_front
from hpopt.plot.slice import plot_slice

__all__ = [
    "PLOTS", "save", "plot_optimization_history", "plot_parallel_coordinate", "plot_slice",
    "plot_contour", "plot_param_importances", "plot_pareto_front", "plot_intermediate_values",
    "plot_edf",
]

#: Kind name (as in ``hpopt plot KIND``) -> plot function ``f(study, **options) -> Figure``.
PLOTS: dict[str, Callable[..., Any]] = {
    "history": plot_optimization_history,
    "parallel": plot_parallel_coordinate,
    "slice": plot_slice,
    "contour": plot_contour,
    "importance": plot_param_importances,
    "pareto": plot_pareto_front,
    "intermediate": plot_intermediate_values,
    "edf": plot_edf,
}
