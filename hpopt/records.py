"""Finished and running trials as immutable records: :class:`TrialState` and :class:`FrozenTrial`."""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs

from hpopt._frozendict import EMPTY, FrozenDict
from hpopt.distributions import Distribution

__all__ = ["TrialState", "FrozenTrial", "MAX_NAME_LENGTH"]

#: Longest accepted parameter, attribute or study name (characters).
MAX_NAME_LENGTH = 512


class TrialState(enum.Enum):
    """Life cycle of a trial: WAITING (enqueued) -> RUNNING -> COMPLETE | PRUNED | FAIL."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"

    def is_finished(self) -> bool:
        """True for COMPLETE, PRUNED and FAIL: such a trial never changes again."""
        return self in _FINISHED

    @classmethod
    def parse(cls, value: Any) -> TrialState:
        """Accept a :class:`TrialState` or its name in any case ("pruned").

        Raises:
            ValueError: naming the accepted states.
        """
        if isinstance(value, TrialState):
            return value
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                pass
        raise ValueError(
            f"`state` must be one of {[s.name.lower() for s in cls]} or a TrialState, but got {value!r}."
        )


_FINISHED = frozenset({TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL})


def _ts(t: float | None) -> _dt.datetime | None:
    return None if t is None else _dt.datetime.fromtimestamp(t)


@attrs.frozen(slots=True, eq=True)
class FrozenTrial:
    """An immutable snapshot of one trial.

    Attributes:
        number: Unique, gap-free index of the trial within its study (0, 1, 2, ...).
        state: The trial's :class:`TrialState`.
        values: One float per objective once COMPLETE (or PRUNED with a last report); else None.
        params: Parameter name -> value (as the objective saw it).
        distributions: Parameter name -> the distribution it was drawn from.
        intermediate_values: Step -> reported value (a tuple per step in multi-objective studies).
        user_attrs: Attributes set with ``trial.set_user_attr``.
        system_attrs: Attributes hpopt and samplers record (``fail_reason``, ``hpopt.plan``, ...).
        started: Start time as a POSIX timestamp, or None while WAITING.
        finished: Finish time as a POSIX timestamp, or None while not finished.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study()
        >>> t = study.ask({"x": hpopt.Float(0, 1)})
        >>> ft = study.tell(t, 0.5)
        >>> ft.state, ft.value
        (<TrialState.COMPLETE: 'COMPLETE'>, 0.5)
    """

    number: int
    state: TrialState
    values: tuple[float, ...] | None
    params: Mapping[str, Any] = EMPTY
    distributions: Mapping[str, Distribution] = EMPTY
    intermediate_values: Mapping[int, Any] = EMPTY
    user_attrs: Mapping[str, Any] = EMPTY
    system_attrs: Mapping[str, Any] = EMPTY
    started: float | None = None
    finished: float | None = None

    @property
    def value(self) -> float | None:
        """The single objective value (None when there is none).

        Raises:
            RuntimeError: The study has several objectives; use ``values``.
        """
        if self.values is None:
            return None
        if len(self.values) != 1:
            raise RuntimeError("this trial has several objective values; use `values`.")
        return self.values[0]

    @property
    def datetime_start(self) -> _dt.datetime | None:
        """Start time as a local :class:`datetime.datetime`."""
        return _ts(self.started)

    @property
    def datetime_complete(self) -> _dt.datetime | None:
        """Finish time as a local :class:`datetime.datetime`."""
        return _ts(self.finished)

    @property
    def duration(self) -> _dt.timedelta | None:
        """Wall time from start to finish, when both are known."""
        if self.started is None or self.finished is None:
            return None
        return _dt.timedelta(seconds=self.finished - self.started)

    @property
    def last_step(self) -> int | None:
        """The largest step reported, or None when nothing was reported."""
        return max(self.intermediate_values) if self.intermediate_values else None


def freeze(mapping: Mapping[str, Any] | None) -> FrozenDict:
    """A :class:`FrozenDict` copy of ``mapping`` (shared empty one when empty)."""
    return FrozenDict(mapping) if mapping else EMPTY
