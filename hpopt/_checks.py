"""Checks of settings shared by samplers, pruners and the importance methods: a bool, an int at least
some minimum, a finite real in a range. Errors name the setting and the rule."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

#: System attribute of a COMPLETE trial told while the study's sampler had a ``constraints_func``:
#: the trial's constraint values (a list of floats, each ``<= 0`` when satisfied), computed once,
#: in the write that completes the trial. Readers without that sampler (the CLI, plots, report,
#: refine, a study loaded in another process) know feasibility from it.
CONSTRAINTS_KEY = "constraints"


def check_bool(name: str, value: Any) -> bool:
    """``True`` or ``False`` (numpy's too) as a bool; anything else is refused, since ``bool("no")``
    is True and reading it so would silently do the opposite of what was meant.

    Raises:
        TypeError: Not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, but got {value!r} ({type(value).__name__}).")
    return bool(value)


def check_int(name: str, value: Any, minimum: int) -> int:
    """An int ``>= minimum`` (bool refused).

    Raises:
        TypeError: Not an int.
        ValueError: Below ``minimum``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, but got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"`{name} >= {minimum}` must hold, but got {name}={value!r}.")
    return int(value)


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """A finite real number within ``[low, high]`` (``(low, high]`` with ``low_open``).

    Raises:
        TypeError: Not a real number.
        ValueError: Not finite or out of range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a real number, but got {value!r} ({type(value).__name__})."
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite, but got {name}={value!r}.")
    if low is not None and (value <= low if low_open else value < low):
        rule = f"{name} > {low:g}" if low_open else f"{name} >= {low:g}"
        raise ValueError(f"`{rule}` must hold, but got {name}={value!r}.")
    if high is not None and value > high:
        raise ValueError(f"`{name} <= {high:g}` must hold, but got {name}={value!r}.")
    return value


def constraint_values(constraints_func: Callable[[Any], Any], trial: Any) -> np.ndarray:
    """``constraints_func(trial)`` as a 1-d float array (``<= 0`` satisfied), checked.

    Shared by the samplers that take constraints (nsga2, gp): a str such as ``"1"`` or a bool would
    otherwise be converted silently by numpy, and a scalar fail with an unclear error. ``±inf`` is
    allowed (infinitely violated, or satisfied).

    Raises:
        TypeError: Not a sequence, or an element that is not a real number (bool and str refused).
        ValueError: A NaN.
    """
    raw = constraints_func(trial)
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
        raise TypeError(
            f"`constraints_func` must return a sequence of real numbers, but returned {raw!r} "
            f"({type(raw).__name__}) for trial {trial.number}."
        )
    values = list(raw)
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(
                f"`constraints_func` must return a sequence of real numbers, but returned {values!r} "
                f"for trial {trial.number} ({v!r} is a {type(v).__name__})."
            )
    out = np.asarray(values, dtype=float).reshape(-1)
    if np.isnan(out).any():
        raise ValueError(
            f"`constraints_func` must return a sequence of real numbers, but returned {out.tolist()!r} "
            f"for trial {trial.number}."
        )
    return out


def stored_constraints(trial: Any) -> np.ndarray | None:
    """The constraint values stored with ``trial`` (a FrozenTrial) when it was told COMPLETE (a 1-d
    float array, ``<= 0`` satisfied), or None when it has none (or what is stored is not a list of
    numbers)."""
    raw = trial.system_attrs.get(CONSTRAINTS_KEY)
    if raw is None or isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        return None
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in raw):
        return None
    out = np.asarray(raw, dtype=float).reshape(-1)
    return None if np.isnan(out).any() else out
