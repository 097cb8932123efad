"""Search-space distributions: :class:`Float`, :class:`Int` and :class:`Categorical`.

Each distribution is a frozen attrs value. It validates itself at construction, maps a user value
to an *internal* float and back, and round-trips through JSON. The internal representation is the
one every model-based sampler works in:

* ``Float``: the value itself, or its natural log when ``log=True``;
* ``Int``: the value itself, or its natural log when ``log=True``;
* ``Categorical``: the index of the choice.

``internal_bounds`` is the interval over which a uniform draw gives every representable value its
fair share (an ``Int`` from 1 to 3 spans ``[0.5, 3.5]``), and ``from_internal`` snaps any float in
that interval back to a valid user value.

Example:
    >>> from hpopt import Float, Int, Categorical
    >>> lr = Float(1e-5, 1e-1, log=True)
    >>> lr.contains(0.01)
    True
    >>> Int(1, 10, step=3).from_internal(5.4)
    4
    >>> Categorical(["adam", "sgd"]).from_internal(1.2)
    'sgd'
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from hpopt._checks import check_bool
from hpopt.errors import HpoptWarning

__all__ = ["Float", "Int", "Categorical", "Distribution", "distribution_from_json", "ChoiceType"]

ChoiceType = None | bool | int | float | str

# Relative tolerance when deciding whether a float lies on a step grid.
_GRID_RTOL = 1e-8


def _real(name: str, value: Any) -> float:
    """Return ``value`` as a finite Python float, or raise naming ``name``."""
    cls = value.__class__
    if cls is float and -math.inf < value < math.inf:
        return value
    if cls is int and -MAX_FLOAT_INT <= value <= MAX_FLOAT_INT:
        return float(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, but got {value!r} ({type(value).__name__}).")
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range: as infinite as it gets
        v = math.inf
    if not math.isfinite(v):
        raise ValueError(f"`{name}` must be finite, but got {name}={v!r}.")
    return v


def _integral(name: str, value: Any) -> int:
    """Return ``value`` as a Python int; integral floats (2.0) are accepted."""
    if value.__class__ is int:
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an integer, but got {value!r} ({type(value).__name__}).")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        return int(value)
    raise TypeError(f"`{name}` must be an integer, but got {value!r} ({type(value).__name__}).")


#: Largest int that converts to a finite float (``float(MAX_FLOAT_INT + 2**970)`` overflows).
MAX_FLOAT_INT = int(np.finfo(np.float64).max)

#: Largest number of grid points (and largest integer magnitude) a distribution may have: beyond
#: 2**53, float64 no longer tells neighbouring values apart.
MAX_EXACT = 2**53


def tidy(v: float) -> float:
    """``v`` rounded to 15 significant digits: grid values read 0.3, not 0.30000000000000004."""
    return float(f"{v:.15g}")


def tidy_array(v: np.ndarray) -> np.ndarray:
    """:func:`tidy`, vectorized."""
    mag = np.abs(v)
    ok = np.isfinite(v) & (mag > 1e-290)  # tiny and subnormal values are left as they are
    exp = np.floor(np.log10(np.where(ok, mag, 1.0)))
    scale = 10.0 ** np.clip(14.0 - exp, -300, 300)
    return np.where(ok, np.round(v * scale) / scale, v)


def _grid_tol(low: float, high: float, step: float) -> float:
    """How far (in value units) a float may lie from a point of a step grid and still be on it:
    1e-6 steps, or a few ulps of the bounds where that is more (far from 0, ``low + k * step`` is
    itself only that exact: a grid of 5e5-steps near 5e16)."""
    return max(1e-6 * step, 4.0 * math.ulp(max(abs(low), abs(high))))


def _refuse_wide_grid(low: float, high: float, step: float) -> None:
    """A step grid's cells (``internal_bounds``) must span a finite float: samplers draw in them."""
    raise ValueError(
        f"`(high + step / 2) - (low - step / 2)` must be below 1.8e308 (the float range) with a "
        f"`step`, but got (low={low!r}, high={high!r}, step={step!r})."
    )


def _check_order(low: float, high: float) -> None:
    if low > high:
        raise ValueError(f"`low <= high` must hold, but got (low={low!r}, high={high!r}).")


@attrs.frozen(slots=True, repr=False)
class Float:
    """A real parameter in ``[low, high]``, optionally log-scaled or on a ``step`` grid.

    Args:
        low: Lower bound (inclusive).
        high: Upper bound (inclusive). With ``step``, a ``high`` that is not ``low + k * step`` is
            lowered to the last grid point, with an :class:`~hpopt.HpoptWarning`.
        log: Sample uniformly in log space; requires ``low > 0``.
        step: Grid spacing; cannot be combined with ``log``.

    Raises:
        TypeError: A bound or step is not a real number, or ``log`` is not a bool.
        ValueError: Non-finite bounds, ``low > high``, ``log`` with ``low <= 0``, ``step <= 0``, or
            ``step`` together with ``log``.

    Example:
        >>> Float(0.0, 1.0, step=0.25).from_internal(0.6)
        0.5
    """

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __attrs_post_init__(self) -> None:
        low, high = _real("low", self.low), _real("high", self.high)
        _check_order(low, high)
        log = check_bool("log", self.log)
        step = self.step
        if log and low <= 0.0:
            raise ValueError(f"`low > 0` must hold when log=True, but got low={low!r}.")
        if step is not None:
            step = _real("step", step)
            if step <= 0.0:
                raise ValueError(f"`step > 0` must hold, but got step={step!r}.")
            if log:
                raise ValueError("`step` and `log=True` cannot be combined; choose one.")
            if not math.isfinite(high - low):  # else the grid arithmetic (v - low) / step overflows
                _refuse_wide_grid(low, high, step)
            if not (high - low) / step <= MAX_EXACT:
                raise ValueError(
                    f"`(high - low) / step <= 2**53` must hold (a finer grid is not representable), "
                    f"but got (low={low!r}, high={high!r}, step={step!r})."
                )
            n_steps = (high - low) / step
            # off the grid by more than float noise (relative to the bounds), or by more than
            # `contains` tolerates (a `high` kept here must be contained)
            off = abs(high - (low + round(n_steps) * step))
            if off > min(1e-10 * max(abs(low), abs(high), high - low), _grid_tol(low, high, step)):
                new_high = low + math.floor(n_steps) * step
                tidied = tidy(new_high)  # 0.8999999999999999 -> 0.9, where it stays on the grid
                if tidied <= high and abs(tidied - new_high) <= 1e-9 * step:
                    new_high = tidied
                warnings.warn(
                    f"`high - low` is not a multiple of `step` (low={low!r}, high={high!r}, "
                    f"step={step!r}); high is lowered to {new_high!r}.",
                    HpoptWarning,
                    stacklevel=4,
                )
                high = max(new_high, low)
            if not math.isfinite((high + 0.5 * step) - (low - 0.5 * step)):
                _refuse_wide_grid(low, high, step)  # the internal bounds samplers draw in
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "log", log)
        object.__setattr__(self, "step", step)

    def __repr__(self) -> str:
        extra = ", log=True" if self.log else ""
        extra += f", step={self.step!r}" if self.step is not None else ""
        return f"Float({self.low!r}, {self.high!r}{extra})"

    @property
    def internal_bounds(self) -> tuple[float, float]:
        """The interval a uniform internal draw is taken from."""
        if self.log:
            return math.log(self.low), math.log(self.high)
        if self.step is not None:
            return self.low - 0.5 * self.step, self.high + 0.5 * self.step
        return self.low, self.high

    def single(self) -> bool:
        """True when only one value is possible."""
        return self.low == self.high

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a real number inside the range (and on the grid)."""
        if value.__class__ is float:
            v = value
        elif isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            return False
        else:
            try:
                v = float(value)
            except OverflowError:  # an int beyond the float range is outside every finite range
                return False
        if not (self.low <= v <= self.high):
            return False
        if self.step is None:
            return True
        k = round((v - self.low) / self.step)
        return abs(v - (self.low + k * self.step)) <= _grid_tol(self.low, self.high, self.step)

    def to_internal(self, value: Any) -> float:
        """Map a user value to the internal float."""
        v = float(value)
        return math.log(v) if self.log else v

    def _on_grid(self, k: int) -> float:
        """Grid point ``k``, tidied (0.3, not 0.30000000000000004) when tidying keeps it exact."""
        v = self.low + k * self.step  # type: ignore[operator]
        t = tidy(v)
        return t if abs(t - v) <= 1e-9 * self.step else v  # type: ignore[operator]

    def canonical(self, value: Any) -> float:
        """``value`` (already checked with :meth:`contains`) as a plain Python float.

        On a step grid the value is snapped exactly onto it (0.30000000000000004 becomes 0.3).
        """
        if self.step is None:
            return float(value)
        k = round((float(value) - self.low) / self.step)
        return min(max(self._on_grid(k), self.low), self.high)

    def from_internal(self, x: float) -> float:
        """Snap an internal float back to a valid value (clipped to the range)."""
        if self.log:
            v = math.exp(x)
        elif self.step is not None:
            k = round((x - self.low) / self.step)
            v = self._on_grid(k)
        else:
            v = float(x)
        return min(max(v, self.low), self.high)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :func:`distribution_from_json` inverts it."""
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log, "step": self.step}


@attrs.frozen(slots=True, repr=False)
class Int:
    """An integer parameter in ``[low, high]``, optionally log-scaled or on a ``step`` grid.

    Args:
        low: Lower bound (inclusive); an integer (integral floats like ``2.0`` are accepted).
        high: Upper bound (inclusive); lowered to the last grid point with a warning when
            ``high - low`` is not a multiple of ``step``.
        log: Sample uniformly in log space; requires ``low >= 1`` and ``step == 1``.
        step: Grid spacing, a positive integer.

    Raises:
        TypeError: Non-integral bounds or step, or ``log`` is not a bool.
        ValueError: ``low > high``, ``log`` with ``low < 1``, ``step <= 0``, ``step != 1`` with ``log``.

    Example:
        >>> Int(1, 1024, log=True).contains(64)
        True
    """

    low: int
    high: int
    log: bool = False
    step: int = 1

    def __attrs_post_init__(self) -> None:
        low, high, step = _integral("low", self.low), _integral("high", self.high), self.step
        step = _integral("step", step)
        _check_order(low, high)
        if max(abs(low), abs(high)) > MAX_EXACT:
            raise ValueError(
                f"`|low|, |high| <= 2**53` must hold (larger integers are not exact as floats), "
                f"but got (low={low}, high={high})."
            )
        log = check_bool("log", self.log)
        if step <= 0:
            raise ValueError(f"`step > 0` must hold, but got step={step!r}.")
        if log and low < 1:
            raise ValueError(f"`low >= 1` must hold when log=True, but got low={low!r}.")
        if log and step != 1:
            raise ValueError(f"`step` must be 1 when log=True, but got step={step!r}.")
        if (high - low) % step:
            new_high = low + (high - low) // step * step
            warnings.warn(
                f"`high - low` is not a multiple of `step` (low={low}, high={high}, step={step}); "
                f"high is lowered to {new_high}.",
                HpoptWarning,
                stacklevel=4,
            )
            high = new_high
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "log", log)
        object.__setattr__(self, "step", step)

    def __repr__(self) -> str:
        extra = ", log=True" if self.log else ""
        extra += f", step={self.step}" if self.step != 1 else ""
        return f"Int({self.low}, {self.high}{extra})"

    @property
    def internal_bounds(self) -> tuple[float, float]:
        """The interval a uniform internal draw is taken from (each integer gets a cell)."""
        if self.log:
            return math.log(self.low - 0.5), math.log(self.high + 0.5)
        return self.low - 0.5 * self.step, self.high + 0.5 * self.step

    def single(self) -> bool:
        """True when only one value is possible."""
        return self.low == self.high

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is an integer inside the range and on the grid."""
        if value.__class__ is int:
            return self.low <= value <= self.high and (value - self.low) % self.step == 0
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            return False
        v = float(value)
        if not v.is_integer() or not (self.low <= v <= self.high):
            return False
        return (int(v) - self.low) % self.step == 0

    def to_internal(self, value: Any) -> float:
        """Map a user value to the internal float."""
        v = float(value)
        return math.log(v) if self.log else v

    def canonical(self, value: Any) -> int:
        """``value`` (already checked with :meth:`contains`) as a plain Python int."""
        return int(value)

    def from_internal(self, x: float) -> int:
        """Snap an internal float back to a valid integer (clipped to the range)."""
        if self.log:
            v = round(math.exp(x))
        else:
            v = self.low + round((x - self.low) / self.step) * self.step
        return int(min(max(v, self.low), self.high))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :func:`distribution_from_json` inverts it."""
        return {"type": "int", "low": self.low, "high": self.high, "log": self.log, "step": self.step}


def _choice_key(c: Any) -> tuple[str, Any]:
    """Key that keeps 1, 1.0 and True apart when comparing choice lists."""
    return (type(c).__name__, c)


def _canonical_choice(c: Any) -> ChoiceType:
    if isinstance(c, np.generic) and not isinstance(c, (np.complexfloating, np.datetime64)):
        c = c.item()
    if c is None or isinstance(c, (bool, int, str)):
        return c
    if isinstance(c, float):
        if math.isnan(c):
            raise ValueError("categorical choices must not contain NaN.")
        return float(c)
    raise TypeError(
        "categorical choices must be None, bool, int, float or str (they are persisted), "
        f"but got {c!r} ({type(c).__name__})."
    )


def _convert_choices(choices: Any) -> tuple[ChoiceType, ...]:
    if isinstance(choices, (str, bytes, set, frozenset, dict)) or not isinstance(choices, Sequence):
        if not isinstance(choices, (np.ndarray, range)):
            raise TypeError(
                "`choices` must be an ordered sequence (list or tuple), "
                f"but got {type(choices).__name__}."
            )
    out = tuple(_canonical_choice(c) for c in choices)
    if not out:
        raise ValueError("`choices` must not be empty.")
    # 1, 1.0 and True are equal (and hash alike) in Python: a choice list holding two of them
    # could not be told apart once stored, so it is refused.
    if len(set(out)) != len(out):
        seen: list[Any] = []
        dup = next(c for c in out if c in seen or seen.append(c))  # type: ignore[func-returns-value]
        raise ValueError(f"`choices` must be distinct (1, 1.0 and True count as equal), got {dup!r} twice.")
    return out


@attrs.frozen(slots=True, repr=False)
class Categorical:
    """One of a fixed, ordered list of choices (None, bool, int, float or str).

    Args:
        choices: A non-empty list or tuple of distinct values. Sets are refused (no order).

    Raises:
        TypeError: A choice of another type, or an unordered container.
        ValueError: Empty, duplicated (``1``, ``1.0`` and ``True`` count as equal) or NaN choices.

    Example:
        >>> Categorical(["relu", "tanh", None]).to_internal("tanh")
        1.0
    """

    choices: tuple[ChoiceType, ...] = attrs.field(
        converter=_convert_choices, eq=lambda cs: tuple(map(_choice_key, cs))
    )
    _index: dict[Any, int] = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_index", {_choice_key(c): i for i, c in enumerate(self.choices)})

    def __repr__(self) -> str:
        return f"Categorical({list(self.choices)!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"choices": self.choices}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "choices", state["choices"])
        self.__attrs_post_init__()

    @property
    def internal_bounds(self) -> tuple[float, float]:
        """The interval a uniform internal draw is taken from (each index gets a cell)."""
        return -0.5, len(self.choices) - 0.5

    def single(self) -> bool:
        """True when only one value is possible."""
        return len(self.choices) == 1

    def index(self, value: Any) -> int:
        """Index of ``value`` among the choices; ints and floats match each other, bools only bools.

        Raises:
            ValueError: ``value`` is not one of the choices.
        """
        i = self._index.get(_choice_key(value))
        if i is not None:
            return i
        if isinstance(value, np.generic):  # np.str_("a"), np.bool_(True): as the choices were stored
            value = value.item()
            i = self._index.get(_choice_key(value))
            if i is not None:
                return i
        # 1 matches a choice 1.0 (and 2.0 a choice 2); bools, None and strings match only exactly.
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            for j, c in enumerate(self.choices):
                if isinstance(c, (int, float)) and not isinstance(c, bool) and c == value:
                    return j
        raise ValueError(f"{value!r} is not one of the choices {list(self.choices)!r}.")

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one of the choices."""
        try:
            self.index(value)
        except (ValueError, TypeError):
            return False
        return True

    def to_internal(self, value: Any) -> float:
        """The index of the choice, as a float."""
        return float(self.index(value))

    def canonical(self, value: Any) -> ChoiceType:
        """The stored choice equal to ``value`` (so 1 becomes 1.0 when the choice is 1.0)."""
        return self.choices[self.index(value)]

    def from_internal(self, x: float) -> ChoiceType:
        """The choice whose index is nearest to ``x`` (clipped)."""
        i = min(max(int(round(x)), 0), len(self.choices) - 1)
        return self.choices[i]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :func:`distribution_from_json` inverts it."""
        return {"type": "categorical", "choices": list(self.choices)}


Distribution = Float | Int | Categorical


def distribution_from_json(data: dict[str, Any]) -> Distribution:
    """Rebuild a distribution from :meth:`Float.to_json` (or ``Int``'s, ``Categorical``'s) output.

    Raises:
        ValueError: ``data`` is not a distribution record.
    """
    kind = data.get("type") if isinstance(data, dict) else None
    keys = {"float": ("low", "high", "log", "step"), "int": ("low", "high", "log", "step"),
            "categorical": ("choices",)}.get(kind)  # type: ignore[arg-type]
    if keys is None:
        raise ValueError(f"not a distribution record: {data!r}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"not a distribution record: a {kind!r} record needs {missing}, but got {data!r}")
    if kind == "categorical":
        return Categorical(data["choices"])
    cls = Float if kind == "float" else Int
    return cls(data["low"], data["high"], log=data["log"], step=data["step"])


def check_compatible(name: str, old: Distribution, new: Distribution) -> None:
    """Refuse reusing a parameter name with another kind, log flag or choice list.

    A changed numeric range (or step) is allowed: users widen ranges between runs.

    Raises:
        ValueError: naming the parameter and both distributions.
    """
    if old is new or old == new:
        return
    # Categorical equality already compares choices by type and value (1, 1.0 and True differ);
    # any other choice list is another distribution.
    same = type(old) is type(new) and not isinstance(old, Categorical) and old.log == new.log  # type: ignore[union-attr]
    if not same:
        raise ValueError(
            f"parameter {name!r} was already suggested as {old!r} in this study; it cannot become "
            f"{new!r} (another type, log flag or choice list). Use another name."
        )
