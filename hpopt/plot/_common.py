"""Shared plumbing of :mod:`hpopt.plot`: figures, trial selection, objective values, parameter axes.

Figures are built with :class:`matplotlib.figure.Figure` directly (never ``pyplot``): nothing depends
on a display, a GUI backend or pyplot's global figure list, so plotting is safe in threads, servers
and headless CI, and a figure nobody references is simply garbage-collected.

Parameter axes follow the distribution of the parameter: ``log=True`` parameters get a log axis,
categorical ones an axis with one tick per choice (plotted at the choice's index), integers a linear
axis with integer ticks.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import numpy as np

from hpopt.distributions import Categorical, Float, Int, _choice_key
from hpopt.records import FrozenTrial, TrialState

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from hpopt.study import Study

__all__ = ["save", "new_figure", "needs_matplotlib", "complete_trials", "feasible_mask", "objective_values",
           "select_params", "ParamAxis", "param_axis", "param_column", "apply_axis", "value_cmap"]

Target = Callable[[FrozenTrial], float]
_FORMATS = {".png": "png", ".svg": "svg"}


def matplotlib_module() -> Any:
    """Import matplotlib, or raise an ImportError that names the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            'hpopt.plot needs matplotlib, which is not installed: pip install "hpopt[plot]"'
        ) from None
    return matplotlib


F = TypeVar("F", bound=Callable[..., Any])


def needs_matplotlib(func: F) -> F:
    """Decorator: raise the ImportError of :func:`matplotlib_module` before ``func`` runs."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        matplotlib_module()
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(width: float = 7.0, height: float = 4.5) -> Figure:
    """A fresh Agg-backed :class:`~matplotlib.figure.Figure` with a constrained layout."""
    matplotlib_module()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` as PNG or SVG (chosen by the suffix) and return the path.

    Raises:
        ValueError: The suffix is neither ``.png`` nor ``.svg`` (checked before anything is written).
    """
    p = Path(path)
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ValueError(f"`path` must end in .png or .svg, but got {str(path)!r}.")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or dpi <= 0:
        raise ValueError(f"`dpi` must be a positive int, but got {dpi!r}.")
    # zlib level 3: a third of the encoding time of the default 6 for ~10 % larger files (dense
    # 10,000-trial PNGs spend a sizeable share of their time in the encoder otherwise)
    extra = {"pil_kwargs": {"compress_level": 3}} if fmt == "png" else {}
    fig.savefig(p, format=fmt, dpi=dpi, **extra)
    return p


def study_label(study: Study) -> str:
    """The study's name, for titles and legends."""
    return str(study.study_name)


def complete_trials(study: Study, what: str) -> list[FrozenTrial]:
    """The COMPLETE trials of ``study``.

    Raises:
        ValueError: There is none (``what`` names the plot in the message).
    """
    trials = study.get_trials([TrialState.COMPLETE])
    if not trials:
        raise ValueError(
            f"{what} needs at least one COMPLETE trial, but study {study_label(study)!r} has none "
            f"({len(study.trials)} trial(s) in other states)."
        )
    return trials


def feasible_mask(study: Study, trials: Sequence[FrozenTrial]) -> np.ndarray | None:
    """Boolean mask of the ``trials`` not known to violate a constraint, or None when no trial's
    feasibility is known (an unconstrained study: the plot is drawn as without constraints).

    Feasibility comes from the constraint values stored with each trial when it was told with a
    sampler that has a ``constraints_func`` (``nsga2``, ``gp``); see :func:`hpopt.study.feasibility`.
    """
    from hpopt.study import Study, feasibility

    verdicts = feasibility(trials, study if isinstance(study, Study) else None)
    if verdicts is None:
        return None
    return np.fromiter((v is not False for v in verdicts), dtype=bool, count=len(trials))


def check_target_name(target_name: Any) -> str:
    """``target_name`` if it is a non-empty str (it labels an axis), else a ValueError."""
    if not isinstance(target_name, str) or not target_name:
        raise ValueError(f"`target_name` must be a non-empty str, but got {target_name!r}.")
    return target_name


def objective_values(study: Study, trials: Sequence[FrozenTrial], target: Target | None,
                     what: str) -> np.ndarray:
    """One float per trial: ``target(trial)`` when given, else the single objective value.

    Raises:
        ValueError: The study has several objectives and no ``target`` was given, or ``target``
            returned something that is not a real number.
        TypeError: ``target`` is not callable.
    """
    if target is None:
        if len(study.directions) != 1:
            raise ValueError(
                f"{what}: the study has {len(study.directions)} objectives ({study.directions}); "
                "pass target=lambda t: t.values[i] to choose what to plot."
            )
        return np.fromiter((t.values[0] for t in trials), dtype=float, count=len(trials))
    if not callable(target):
        raise TypeError(f"`target` must be a callable FrozenTrial -> float, but got {target!r}.")
    out = np.empty(len(trials))
    for i, t in enumerate(trials):
        v = target(t)
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v.item()
        # float() alone would also take "1.5", True and 1-element lists: not real numbers
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise ValueError(
                f"`target` must return a real number, but returned {v!r} for trial {t.number}."
            )
        out[i] = float(v)
    return out


def target_direction(study: Study, target: Target | None) -> str | None:
    """The direction in which ``target`` improves: the study's for its own single objective."""
    if target is None and len(study.directions) == 1:
        return study.directions[0]
    return None


def value_cmap(direction: str | None) -> str:
    """Colormap for objective values: the *better* end is always the bright (yellow) one."""
    return "viridis_r" if direction == "minimize" else "viridis"


def known_params(trials: Sequence[FrozenTrial]) -> list[str]:
    """Parameter names of ``trials`` in order of first appearance."""
    seen: dict[str, None] = {}
    for t in trials:
        for name in t.params:
            if name not in seen:
                seen[name] = None
    return list(seen)


def select_params(trials: Sequence[FrozenTrial], params: Sequence[str] | str | None,
                  what: str) -> list[str]:
    """Validate ``params`` against the parameters of ``trials`` (all of them when None).

    Raises:
        ValueError: An unknown name (the known ones are listed), a duplicate, an empty list, or no
            parameter at all in the trials.
    """
    known = known_params(trials)
    if params is None:
        if not known:
            raise ValueError(f"{what} needs parameters, but the trials have none.")
        return known
    if isinstance(params, str) or not isinstance(params, Sequence):
        raise ValueError(f"`params` must be a list of parameter names, but got {params!r}.")
    if not params:
        raise ValueError("`params` must not be empty (None means all parameters).")
    out: list[str] = []
    for p in params:
        if p not in known:
            raise ValueError(f"unknown parameter {p!r} in `params`; the trials have {known}.")
        if p in out:
            raise ValueError(f"parameter {p!r} appears twice in `params`.")
        out.append(p)
    return out


@attrs.frozen
class ParamAxis:
    """How one parameter is drawn: ``kind`` is "linear", "log" or "categorical".

    ``choices`` (categorical) are the labels of positions 0, 1, ...; ``integer`` asks for
    integer tick positions.
    """

    name: str
    kind: str
    choices: tuple[Any, ...] = ()
    integer: bool = False


def param_axis(trials: Sequence[FrozenTrial], name: str) -> ParamAxis:
    """The axis of parameter ``name`` from the distributions the trials used.

    A parameter drawn from different distributions in different trials (a dynamic space) is
    categorical if any of them is (numeric values from the other trials become choices too), log
    if all of them are log, else linear.
    """
    dists = {d for d in (t.distributions.get(name) for t in trials) if d is not None}
    if any(isinstance(d, Categorical) for d in dists):
        choices: dict[tuple[str, Any], Any] = {}
        for d in sorted((d for d in dists if isinstance(d, Categorical)), key=repr):
            for c in d.choices:
                choices.setdefault(_choice_key(c), c)
        if not all(isinstance(d, Categorical) for d in dists):
            for t in trials:
                if name in t.params:
                    choices.setdefault(_choice_key(t.params[name]), t.params[name])
        return ParamAxis(name, "categorical", tuple(choices.values()))
    log = bool(dists) and all(isinstance(d, (Float, Int)) and d.log for d in dists)
    integer = bool(dists) and all(isinstance(d, Int) for d in dists)
    return ParamAxis(name, "log" if log else "linear", (), integer)


def param_column(trials: Sequence[FrozenTrial], axis: ParamAxis) -> np.ndarray:
    """The parameter's plot coordinate per trial: the value (the choice's index if categorical),
    NaN where the trial does not have the parameter."""
    name = axis.name
    if axis.kind == "categorical":
        index = {_choice_key(c): float(i) for i, c in enumerate(axis.choices)}
        return np.fromiter(
            (index.get(_choice_key(t.params[name]), math.nan) if name in t.params else math.nan
             for t in trials),
            dtype=float, count=len(trials),
        )
    return np.fromiter((float(t.params.get(name, math.nan)) for t in trials), dtype=float,
                       count=len(trials))


def label_of(choice: Any, width: int = 14) -> str:
    """A short text label for a categorical choice."""
    s = str(choice)
    return s if len(s) <= width else s[: width - 1] + "\u2026"


def apply_axis(ax: Axes, axis: ParamAxis, which: str = "x") -> None:
    """Scale and label one axis of ``ax`` for parameter ``axis`` (log, categorical or linear)."""
    from matplotlib.ticker import MaxNLocator

    set_label = ax.set_xlabel if which == "x" else ax.set_ylabel
    set_label(axis.name)
    if axis.kind == "log":
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    elif axis.kind == "categorical":
        n = len(axis.choices)
        ticks = list(range(n))
        labels = [label_of(c) for c in axis.choices]
        if which == "x":
            ax.set_xticks(ticks, labels, rotation=30 if n > 4 else 0,
                          ha="right" if n > 4 else "center")
            ax.set_xlim(-0.5, n - 0.5)
        else:
            ax.set_yticks(ticks, labels)
            ax.set_ylim(-0.5, n - 0.5)
    elif axis.integer:
        (ax.xaxis if which == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))


def point_size(n: int) -> float:
    """Marker area that stays readable for 10 points and does not blot out 10,000."""
    return float(np.clip(400.0 / math.sqrt(max(n, 1)), 3.0, 40.0))
