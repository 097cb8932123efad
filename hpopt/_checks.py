"""Checks of settings shared by samplers, pruners and the importance methods: an int at least some
minimum, a finite real in a range. Errors name the setting and the rule."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


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
