"""Two small pruners: :class:`ThresholdPruner` (a value out of bounds) and :class:`PatientPruner`
(a wrapper that tolerates a number of non-improving reports).

Example:
    >>> import hpopt
    >>> from hpopt.pruners import PatientPruner, ThresholdPruner
    >>> study = hpopt.create_study(pruner=ThresholdPruner(upper=10.0))
    >>> trial = study.ask()
    >>> trial.report(12.0, step=0)
    >>> trial.should_prune()
    True
    >>> patient = PatientPruner("median", patience=3)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from hpopt.pruners._util import check_int, check_real, crossed_interval, curve, previous_step, signs
from hpopt.pruners.base import Pruner
from hpopt.records import FrozenTrial
from hpopt.samplers.base import History

__all__ = ["ThresholdPruner", "PatientPruner"]


def _bound(name: str, value: Any) -> np.ndarray | None:
    if value is None:
        return None
    items = value.tolist() if isinstance(value, np.ndarray) else value
    if isinstance(items, (list, tuple)):
        if not items:
            raise ValueError(
                f"`{name}` must be a number or one number per objective, but got {value!r}."
            )
        out = [_one(f"{name}[{i}]", v) for i, v in enumerate(items)]
        return np.array(out, dtype=float)
    return np.array(_one(name, items), dtype=float)


def _one(name: str, v: Any) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(
            f"`{name}` must be a real number or None, but got {v!r} ({type(v).__name__})."
        )
    if np.isnan(float(v)):
        raise ValueError(f"`{name}` must not be NaN, but got {name}={v!r}.")
    return float(v)


class ThresholdPruner(Pruner):
    """Prune when the latest reported value leaves ``[lower, upper]`` or is NaN.

    Bounds apply to the values as reported (not direction-adjusted). In a multi-objective study a
    scalar bound applies to every objective and a sequence gives one bound per objective; the trial
    is pruned when any objective is out of bounds.

    Args:
        lower: Smallest acceptable value (None: no lower bound).
        upper: Largest acceptable value (None: no upper bound). At least one bound is required.
        n_warmup_steps: Steps below this are never pruned (``>= 0``).
        interval_steps: Check every this many steps after the warm-up (``>= 1``).

    Raises:
        TypeError, ValueError: Both bounds None, ``lower > upper``, NaN bounds, bad step settings.

    Example:
        >>> import hpopt
        >>> from hpopt.pruners import ThresholdPruner
        >>> study = hpopt.create_study(direction="maximize", pruner=ThresholdPruner(lower=0.1))
    """

    supports_multi_objective = True

    def __init__(
        self,
        *,
        lower: float | Sequence[float] | None = None,
        upper: float | Sequence[float] | None = None,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
    ) -> None:
        lo, hi = _bound("lower", lower), _bound("upper", upper)
        if lo is None and hi is None:
            raise ValueError("`lower` or `upper` must be given, but both are None.")
        if lo is not None and hi is not None:
            try:
                bad = bool(np.any(lo > hi))
            except ValueError:
                raise ValueError(
                    f"`lower` and `upper` must have the same length, but got (lower={lower!r}, "
                    f"upper={upper!r})."
                ) from None
            if bad:
                raise ValueError(
                    f"`lower <= upper` must hold, but got (lower={lower!r}, upper={upper!r})."
                )
        self.lower, self.upper = lo, hi
        self.n_warmup_steps = check_int("n_warmup_steps", n_warmup_steps, 0)
        self.interval_steps = check_int("interval_steps", interval_steps, 1)

    def __repr__(self) -> str:
        lo = None if self.lower is None else self.lower.tolist()
        hi = None if self.upper is None else self.upper.tolist()
        return (
            f"ThresholdPruner(lower={lo}, upper={hi}, n_warmup_steps={self.n_warmup_steps}, "
            f"interval_steps={self.interval_steps})"
        )

    def prune(self, history: History, trial: FrozenTrial) -> bool:
        """Whether the latest report is NaN or out of bounds.

        Raises:
            ValueError: A per-objective bound whose length differs from the number of objectives.
        """
        step, prev = previous_step(trial)
        if step is None or not crossed_interval(
            step, prev, self.n_warmup_steps, self.interval_steps
        ):
            return False
        m = history.n_objectives
        for name, b in (("lower", self.lower), ("upper", self.upper)):
            if b is not None and b.ndim == 1 and len(b) != m:
                raise ValueError(
                    f"`{name}` has {len(b)} bounds, but the study has {m} objective(s) "
                    f"({list(history.directions)})."
                )
        last = trial.intermediate_values[step]
        v = np.array(last if isinstance(last, (tuple, list)) else (last,), dtype=float)
        out = np.isnan(v)
        if self.lower is not None:
            out |= v < self.lower
        if self.upper is not None:
            out |= v > self.upper
        return bool(out.any())


class PatientPruner(Pruner):
    """Wrap a pruner so that it may prune only after ``patience`` reports without improvement.

    The trial's reports are sorted by step; the last ``patience + 1`` of them form the window.
    The trial has *stalled* when the best loss in the window does not beat the best loss before it
    by more than ``min_delta`` (several objectives: on no objective). A stalled trial is pruned
    when the wrapped pruner says so (or at once when ``wrapped`` is None); a trial that is still
    improving, or has at most ``patience + 1`` reports, is never pruned. Patience counts reports,
    not step units, so non-contiguous steps are handled the same way. NaN is the worst value.

    Args:
        wrapped: A pruner, a registered pruner name, or None (prune as soon as the trial stalls).
        patience: Non-improving reports tolerated (``>= 0``).
        min_delta: The improvement that counts (``>= 0``).

    Raises:
        TypeError, ValueError: A setting of the wrong type or out of range, naming it.

    Example:
        >>> import hpopt
        >>> from hpopt.pruners import MedianPruner, PatientPruner
        >>> pruner = PatientPruner(MedianPruner(), patience=2)
        >>> study = hpopt.create_study(pruner=pruner)
    """

    def __init__(
        self, wrapped: Pruner | str | None, *, patience: int, min_delta: float = 0.0
    ) -> None:
        if isinstance(wrapped, str):
            from hpopt.plugins import make_pruner

            try:
                wrapped = make_pruner(wrapped)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"`wrapped`: {exc}") from None
        if wrapped is not None and not isinstance(wrapped, Pruner):
            raise TypeError(
                "`wrapped` must be an hpopt.Pruner, a registered pruner name or None, but got "
                f"{wrapped!r}."
            )
        self.wrapped = wrapped
        self.patience = check_int("patience", patience, 0)
        self.min_delta = check_real("min_delta", min_delta, low=0.0)

    def __repr__(self) -> str:
        return (
            f"PatientPruner({self.wrapped!r}, patience={self.patience}, "
            f"min_delta={self.min_delta:g})"
        )

    @property
    def supports_multi_objective(self) -> bool:  # type: ignore[override]
        """Whatever the wrapped pruner supports."""
        return getattr(self.wrapped, "supports_multi_objective", True)

    def prune(self, history: History, trial: FrozenTrial) -> bool:
        """Whether the trial has stalled and the wrapped pruner would prune it.

        Raises:
            ValueError: Several objectives while the wrapped pruner handles one.
        """
        if history.n_objectives > 1 and not self.supports_multi_objective:
            raise ValueError(
                f"PatientPruner wraps {type(self.wrapped).__name__}, which handles one objective, "
                f"but the study has {history.n_objectives} ({list(history.directions)})."
            )
        n = len(trial.intermediate_values)
        if n <= self.patience + 1:
            return False
        _, loss = curve(trial, signs(history.directions))
        before = loss[: n - self.patience - 1].min(axis=0)
        window = loss[n - self.patience - 1 :].min(axis=0)
        if np.any(before - window > self.min_delta):
            return False
        return True if self.wrapped is None else bool(self.wrapped.prune(history, trial))
