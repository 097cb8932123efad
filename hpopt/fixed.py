"""Trials outside a study: :class:`FixedTrial` to unit-test an objective, :func:`create_trial` to
build a finished trial record for :meth:`hpopt.Study.add_trial`.

An objective is a plain function of a trial, so it can be tested without a study: hand it a
:class:`FixedTrial` holding the values to return, and it runs exactly as in a study (every
suggestion is checked against its distribution, reports are validated and recorded).

Results obtained elsewhere (earlier runs in a spreadsheet, a colleague's grid search) can be given to
a study so that its sampler learns from them: :func:`create_trial` validates one record and
``study.add_trial`` stores it as a finished trial.

Example:
    >>> import hpopt
    >>> def objective(trial):
    ...     x = trial.suggest_float("x", -10, 10)
    ...     kind = trial.suggest_categorical("kind", ["a", "b"])
    ...     return (x - 2) ** 2 + (kind == "b")
    >>> objective(hpopt.FixedTrial({"x": 2.0, "kind": "b"}))
    1.0
    >>> study = hpopt.create_study(seed=0)
    >>> ft = hpopt.create_trial(
    ...     params={"x": 2.5, "kind": "a"},
    ...     distributions={"x": hpopt.Float(-10, 10), "kind": hpopt.Categorical(["a", "b"])},
    ...     value=0.25)
    >>> study.add_trial(ft).number
    0
    >>> study.best_params
    {'x': 2.5, 'kind': 'a'}
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from hpopt._checks import CONSTRAINTS_KEY, stored_constraints
from hpopt._frozendict import EMPTY, FrozenDict, deep_freeze
from hpopt.distributions import Categorical, Distribution, Float, Int
from hpopt.errors import HpoptWarning
from hpopt.records import FrozenTrial, TrialState
from hpopt.trial import (
    _NEW,
    _as_list,
    _Suggestions,
    check_name,
    checked_gradient,
    checked_report,
    json_value,
    real_value,
)

__all__ = ["FixedTrial", "create_trial"]

_DIST_TYPES = (Float, Int, Categorical)
#: System attributes a finished trial keeps when it is added to a study (see ``Study.add_trial``);
#: the others are notes of the sampler that proposed it, meaningless to another study's sampler.
FAIL_REASON_KEY = "fail_reason"
GRADIENT_KEY = "gradient"


class FixedTrial(_Suggestions):
    """A stand-in for :class:`hpopt.Trial` that answers every suggestion from given values: run an
    objective on chosen parameters without a study (e.g. in a unit test), as Optuna's
    ``FixedTrial`` does.

    Each ``suggest_*`` returns the value given for its name, checked against the suggested
    distribution and returned as a study's trial would return it (``Categorical.canonical``: an int
    ``1`` matches a choice ``1.0`` and comes back as ``1.0``; a bool matches only a bool; a float
    ``3.0`` for an int parameter comes back as ``3``; a value on a ``step`` grid is snapped exactly
    onto it). ``report`` validates like ``Trial.report`` and records the values;
    ``should_prune`` is always False.

    Args:
        params: Parameter name -> value, for every parameter the objective may suggest (names
            never suggested are ignored).
        number: What ``trial.number`` returns (an int >= 0).
        user_attrs: What ``trial.user_attrs`` starts with (as for an enqueued trial; JSON values).

    Raises:
        TypeError: ``params`` is not a mapping, a name is not a str, ``number`` is not an int,
            or a user attribute is not JSON-serializable.
        ValueError: A bad name (empty, too long), or ``number < 0``.

    Example:
        >>> import hpopt
        >>> trial = hpopt.FixedTrial({"lr": 0.01, "layers": 3.0})
        >>> trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        0.01
        >>> trial.suggest_int("layers", 1, 4)
        3
        >>> trial.report(0.5, step=0)
        >>> trial.should_prune(), trial.intermediate_values
        (False, {0: 0.5})
        >>> trial.suggest_int("units", 8, 64)
        Traceback (most recent call last):
        ...
        ValueError: FixedTrial 0 has no value for parameter 'units' (it has ['layers', 'lr']).
    """

    __slots__ = ("number", "_values", "_params", "_dists", "_inter", "_n_objectives", "_user")

    def __init__(
        self, params: Mapping[str, Any], number: int = 0, *, user_attrs: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(params, Mapping):
            raise TypeError(f"`params` must be a mapping of name -> value, but got {params!r}.")
        for name in params:
            check_name("parameter", name)
        if isinstance(number, bool) or not isinstance(number, numbers.Integral):
            raise TypeError(f"`number` must be an int, but got {number!r} ({type(number).__name__}).")
        if number < 0:
            raise ValueError(f"`number >= 0` must hold, but got number={number!r}.")
        #: The trial's number (what ``trial.number`` of a study's trial is).
        self.number = int(number)
        self._values = dict(params)
        self._params: dict[str, Any] = {}
        self._dists: dict[str, Distribution] = {}
        self._inter: dict[int, Any] = {}
        self._n_objectives: int | None = None
        self._user = _checked_user_attrs(user_attrs)

    def __repr__(self) -> str:
        return f"<FixedTrial {self.number} params={self._params}>"

    # -- what a Trial exposes ---------------------------------------------------------------------
    @property
    def params(self) -> dict[str, Any]:
        """A copy of the parameters suggested so far (as returned to the objective)."""
        return dict(self._params)

    @property
    def distributions(self) -> dict[str, Distribution]:
        """A copy of the distributions of the parameters suggested so far."""
        return dict(self._dists)

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The user attributes given to the constructor and set with :meth:`set_user_attr`."""
        return dict(self._user)

    @property
    def intermediate_values(self) -> dict[int, Any]:
        """Step -> reported value (a tuple per step with several objectives)."""
        return dict(self._inter)

    @property
    def study(self) -> Any:
        """A FixedTrial belongs to no study.

        Raises:
            AttributeError: Always (so ``hasattr(trial, "study")`` is False).
        """
        raise AttributeError(
            "a FixedTrial belongs to no study; an objective that reads `trial.study` needs a real "
            "trial (study.ask())."
        )

    # -- suggestions --------------------------------------------------------------------------------
    def suggest(self, name: str, distribution: Distribution) -> Any:
        """The given value of ``name``, checked against ``distribution``. Suggesting a name again
        with the same distribution returns the same value.

        Raises:
            ValueError: The name has no given value, its value lies outside ``distribution``, or
                it was suggested before with another distribution.
            TypeError: ``distribution`` is not an hpopt Float, Int or Categorical.
        """
        again = self._suggested(name, distribution)
        if again is not _NEW:
            return again
        if name not in self._values:
            raise ValueError(
                f"FixedTrial {self.number} has no value for parameter {name!r} "
                f"(it has {sorted(self._values)})."
            )
        value = self._values[name]
        if not distribution.contains(value):
            raise ValueError(
                f"the value {value!r} of parameter {name!r} given to FixedTrial {self.number} lies "
                f"outside {distribution!r}."
            )
        value = distribution.canonical(value)
        self._params[name] = value
        self._dists[name] = distribution
        return value

    # -- progress ---------------------------------------------------------------------------------
    def report(self, value: float | Sequence[float], step: int) -> None:
        """Record an intermediate value at ``step``, validated as :meth:`hpopt.Trial.report` does.

        The number of objectives is taken from the first report (a number: one; a sequence of
        ``k >= 2`` numbers: ``k``) and every later report must match it. A step reported twice
        keeps the first value, with a warning.

        Raises:
            TypeError: A non-numeric value or non-integral step.
            ValueError: A negative step, one beyond ``2**63 - 1``, or another number of values
                than the first report.
        """
        n = self._n_objectives
        if n is None:
            items = _as_list(value)
            n = len(items) if items is not None and len(items) >= 2 else 1
        step, stored = checked_report(value, step, n)
        self._n_objectives = n
        if step in self._inter:
            warnings.warn(
                f"trial {self.number} already reported step {step}; the first value is kept.",
                HpoptWarning,
                stacklevel=2,
            )
            return
        self._inter[step] = tuple(stored) if n > 1 else stored

    def should_prune(self) -> bool:
        """Always False: there is no pruner (test pruning with a real study)."""
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable value to the trial (checked as :meth:`hpopt.Trial.set_user_attr`).

        Raises:
            TypeError: ``value`` is not JSON-serializable or ``key`` is not a str.
        """
        check_name("user attribute", key)
        self._user[key] = deep_freeze(json_value("user attribute", key, value))

    def beat(self) -> None:
        """Nothing to do (a study's trial tells its storage that its worker is alive)."""

    def snapshot(self) -> FrozenTrial:
        """The trial as a RUNNING :class:`~hpopt.FrozenTrial` (what a pruner would see)."""
        return FrozenTrial(
            number=self.number,
            state=TrialState.RUNNING,
            values=None,
            params=FrozenDict(self._params) if self._params else EMPTY,
            distributions=FrozenDict(self._dists) if self._dists else EMPTY,
            intermediate_values=FrozenDict(self._inter) if self._inter else EMPTY,
            user_attrs=FrozenDict(self._user) if self._user else EMPTY,
        )


# -- finished trial records ------------------------------------------------------------------------
def create_trial(
    *,
    params: Mapping[str, Any],
    distributions: Mapping[str, Distribution],
    value: float | None = None,
    values: Sequence[float] | None = None,
    state: TrialState | str = "complete",
    user_attrs: Mapping[str, Any] | None = None,
    intermediate_values: Mapping[int, Any] | None = None,
) -> FrozenTrial:
    """A validated finished trial record, to store with :meth:`hpopt.Study.add_trial`.

    Args:
        params: Parameter name -> value; every name needs a distribution and every value must lie
            inside it (stored as a study's trial would store it, e.g. ``1`` for the choice ``1.0``
            becomes ``1.0``).
        distributions: Parameter name -> :class:`~hpopt.Float`, :class:`~hpopt.Int` or
            :class:`~hpopt.Categorical`: the same names as ``params``.
        value: The objective value (one objective); give ``value`` or ``values``, not both.
        values: One value per objective.
        state: ``"complete"`` (needs a value, not NaN), ``"pruned"`` (a value is optional: without
            one it is the last intermediate value, as ``Study.tell`` does, unless that is NaN) or
            ``"fail"`` (no value).
        user_attrs: JSON-serializable attributes.
        intermediate_values: Step (an int >= 0) -> reported value (a sequence of one value per
            objective with several objectives); NaN is kept, as ``report`` keeps it.

    Returns:
        A :class:`~hpopt.FrozenTrial` with number ``-1`` (a study gives it its number when it is
        added) and start and finish times of now.

    Raises:
        TypeError: A non-mapping argument, a value that is not a real number, a distribution that
            is not an hpopt distribution, a non-JSON user attribute.
        ValueError: Names of ``params`` and ``distributions`` that differ, a value outside its
            distribution, ``value`` and ``values`` both given, a state other than complete,
            pruned or fail, a COMPLETE trial without a value or with NaN, a FAIL trial with one,
            or intermediate values whose count differs from the values'. Each names the
            parameter, step or field and the rule.

    Example:
        >>> import hpopt
        >>> ft = hpopt.create_trial(
        ...     params={"lr": 0.01, "opt": "adam"},
        ...     distributions={"lr": hpopt.Float(1e-4, 1.0, log=True),
        ...                    "opt": hpopt.Categorical(["sgd", "adam"])},
        ...     value=0.12, intermediate_values={0: 0.5, 1: 0.2})
        >>> ft.state.name, ft.value, ft.last_step
        ('COMPLETE', 0.12, 1)
        >>> hpopt.create_trial(params={"lr": 2.0}, distributions={"lr": hpopt.Float(1e-4, 1.0)}, value=0.1)
        Traceback (most recent call last):
        ...
        ValueError: the value 2.0 of parameter 'lr' lies outside Float(0.0001, 1.0).
    """
    if value is not None and values is not None:
        raise ValueError("give `value` (one objective) or `values` (one per objective), not both.")
    if value is not None:
        vals: tuple[float, ...] | None = (real_value("`value`", value),)
    elif values is not None:
        items = _as_list(values)
        if items is None or not items:
            raise TypeError(
                f"`values` must be a non-empty sequence of real numbers (use `value` for one), "
                f"but got {values!r}."
            )
        vals = tuple(real_value(f"`values[{i}]`", v) for i, v in enumerate(items))
    else:
        vals = None
    st = TrialState.parse(state)
    now = time.time()
    record = _Record.check(
        state=st, values=vals, params=params, distributions=distributions,
        intermediate=intermediate_values, user=user_attrs, system=None, n_objectives=None,
        started=now, finished=now, pruned_default=True,
    )
    return record.frozen(-1)


@attrs.frozen(kw_only=True)
class _Record:
    """A finished trial's fields, validated and in the form a study stores them.

    ``system`` holds only what a study keeps of another trial's system attributes: its fail
    reason, gradient and stored constraint values (see ``Study.add_trial``).
    """

    state: TrialState
    values: tuple[float, ...] | None
    params: dict[str, Any]
    distributions: dict[str, Distribution]
    intermediate: dict[int, Any]  # float, or a tuple per step with several objectives
    user: dict[str, Any]
    system: dict[str, Any]
    started: float
    finished: float

    @classmethod
    def check(
        cls,
        *,
        state: TrialState,
        values: tuple[float, ...] | None,
        params: Any,
        distributions: Any,
        intermediate: Any,
        user: Any,
        system: Mapping[str, Any] | None,
        n_objectives: int | None,
        started: Any,
        finished: Any,
        pruned_default: bool = False,
    ) -> _Record:
        """Validate every field (see :func:`create_trial` and ``Study.add_trial``); ``n_objectives``
        None takes the count from the values (else the first intermediate value)."""
        if not state.is_finished():
            raise ValueError(
                f"`state` must be complete, pruned or fail (a finished trial), but got {state.name}."
            )
        if values is not None:
            if n_objectives is not None and len(values) != n_objectives:
                raise ValueError(
                    f"the study has {n_objectives} objective(s), but the trial has {len(values)} "
                    f"value(s): {list(values)}."
                )
            n_objectives = len(values)
        if state is TrialState.COMPLETE:
            if values is None:
                raise ValueError("a COMPLETE trial needs its objective value(s) (`value` or `values`).")
            if any(math.isnan(v) for v in values):
                raise ValueError(
                    f"a COMPLETE trial's values must not be NaN, but got {list(values)} (a study marks "
                    "such a trial FAIL: create it with state='fail')."
                )
        elif state is TrialState.FAIL and values is not None:
            raise ValueError(f"a FAIL trial has no values, but got {list(values)}.")
        elif values is not None and any(math.isnan(v) for v in values):
            raise ValueError(
                f"a PRUNED trial's values must not be NaN, but got {list(values)} (leave them out)."
            )
        dists = _checked_distributions(distributions)
        stored = _checked_params(params, dists)
        inter = _checked_intermediate(intermediate, n_objectives)
        if pruned_default and state is TrialState.PRUNED and values is None and inter:
            last = inter[max(inter)]
            last_vals = tuple(last) if isinstance(last, tuple) else (last,)
            if not any(math.isnan(v) for v in last_vals):
                values = last_vals
        t0 = _timestamp("started", started)
        t1 = _timestamp("finished", finished)
        if t1 < t0:
            raise ValueError(f"a trial cannot finish ({t1!r}) before it started ({t0!r}).")
        return cls(
            state=state, values=values, params=stored, distributions=dists, intermediate=inter,
            user=_checked_user_attrs(user), system=_kept_system(system or {}, state, dists,
                                                               values),
            started=t0, finished=t1,
        )

    def frozen(self, number: int, system: Mapping[str, Any] | None = None) -> FrozenTrial:
        """The record as a FrozenTrial numbered ``number`` (with ``system`` as its system attributes,
        default the kept ones)."""
        sys = self.system if system is None else system
        return FrozenTrial(
            number=number,
            state=self.state,
            values=self.values,
            params=FrozenDict(self.params) if self.params else EMPTY,
            distributions=FrozenDict(self.distributions) if self.distributions else EMPTY,
            intermediate_values=FrozenDict(self.intermediate) if self.intermediate else EMPTY,
            user_attrs=FrozenDict(self.user) if self.user else EMPTY,
            system_attrs=FrozenDict(deep_freeze(dict(sys))) if sys else EMPTY,
            started=self.started,
            finished=self.finished,
        )


def _checked_distributions(distributions: Any) -> dict[str, Distribution]:
    if not isinstance(distributions, Mapping):
        raise TypeError(
            f"`distributions` must be a mapping of name -> distribution, but got {distributions!r}."
        )
    out: dict[str, Distribution] = {}
    for name, dist in distributions.items():
        check_name("parameter", name)
        if not isinstance(dist, _DIST_TYPES):
            raise TypeError(
                f"the distribution of {name!r} must be hpopt.Float, Int or Categorical, but got {dist!r}."
            )
        out[name] = dist
    return out


def _checked_params(params: Any, dists: Mapping[str, Distribution]) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise TypeError(f"`params` must be a mapping of name -> value, but got {params!r}.")
    missing = [n for n in dists if n not in params]
    extra = [n for n in params if n not in dists]
    if missing or extra:
        parts = []
        if extra:
            parts.append(f"params {extra} have no distribution")
        if missing:
            parts.append(f"distributions {missing} have no value in `params`")
        raise ValueError(f"`params` and `distributions` must name the same parameters: {'; '.join(parts)}.")
    out = {}
    for name, dist in dists.items():
        value = params[name]
        if not dist.contains(value):
            raise ValueError(f"the value {value!r} of parameter {name!r} lies outside {dist!r}.")
        out[name] = dist.canonical(value)
    return out


def _checked_intermediate(intermediate: Any, n_objectives: int | None) -> dict[int, Any]:
    if intermediate is None:
        return {}
    if not isinstance(intermediate, Mapping):
        raise TypeError(
            f"`intermediate_values` must be a mapping of step -> value, but got {intermediate!r}."
        )
    n = n_objectives
    out: dict[int, Any] = {}
    for step, value in intermediate.items():
        if n is None:  # no values to count: the first intermediate value sets the count
            items = _as_list(value)
            n = len(items) if items is not None and len(items) >= 2 else 1
        try:
            s, stored = checked_report(value, step, n)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"`intermediate_values[{step!r}]`: {exc}") from None
        if s in out:
            raise ValueError(f"`intermediate_values` has step {s} twice ({step!r}).")
        out[s] = tuple(stored) if n > 1 else stored
    return dict(sorted(out.items()))


def _checked_user_attrs(user: Any) -> dict[str, Any]:
    if user is None:
        return {}
    if not isinstance(user, Mapping):
        raise TypeError(f"`user_attrs` must be None or a mapping of name -> value, but got {user!r}.")
    out = {}
    for key, value in user.items():
        check_name("user attribute", key)
        out[key] = deep_freeze(json_value("user attribute", key, value))
    return out


#: The POSIX times a trial may carry: 0002-01-01 to 9998-12-31 UTC. ``datetime`` (and so
#: ``FrozenTrial.datetime_start``, ``to_records``, the CLI's listings) shows these in every time
#: zone; a time outside it (e.g. milliseconds given as seconds) would make each of them raise for
#: the study, for good, once stored.
_MIN_TIME = -62104060800.0
_MAX_TIME = 253370678400.0


def _timestamp(what: str, t: Any) -> float:
    """A POSIX time in seconds (None: now), within the years 2 to 9998."""
    if t is None:
        return time.time()
    v = real_value(f"`{what}`", t)
    if not math.isfinite(v):
        raise ValueError(f"`{what}` must be a finite POSIX time, but got {t!r}.")
    if not _MIN_TIME <= v <= _MAX_TIME:
        raise ValueError(
            f"`{what}` must be a POSIX time in seconds between years 2 and 9998 "
            f"({_MIN_TIME:.0f} <= t <= {_MAX_TIME:.0f}), but got {t!r} (milliseconds given as seconds?)."
        )
    return v


def _kept_system(
    system: Mapping[str, Any],
    state: TrialState,
    dists: Mapping[str, Distribution],
    values: tuple[float, ...] | None,
) -> dict[str, Any]:
    """The system attributes an added trial keeps, checked: a FAIL trial's reason (a str), and a
    COMPLETE trial's stored constraint values and gradient (single objective, float parameters)."""
    out: dict[str, Any] = {}
    reason = system.get(FAIL_REASON_KEY)
    if state is TrialState.FAIL and isinstance(reason, str):
        out[FAIL_REASON_KEY] = reason
    if state is not TrialState.COMPLETE:
        return out
    if CONSTRAINTS_KEY in system:
        cons = stored_constraints(FrozenTrial(0, state, values, system_attrs=system))
        if cons is None:
            raise ValueError(
                f"system attribute {CONSTRAINTS_KEY!r} must be a list of real numbers (not NaN), but "
                f"got {system[CONSTRAINTS_KEY]!r}."
            )
        out[CONSTRAINTS_KEY] = [float(c) for c in cons]
    grad = system.get(GRADIENT_KEY)
    if grad is not None and values is not None and len(values) == 1:
        if not isinstance(grad, Mapping):
            raise ValueError(f"system attribute {GRADIENT_KEY!r} must be a mapping, but got {grad!r}.")
        kept = checked_gradient(grad, dists, what=f"system attribute {GRADIENT_KEY!r}", owner="the trial")
        if kept:
            out[GRADIENT_KEY] = kept
    return out
