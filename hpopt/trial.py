"""The live :class:`Trial` handle an objective receives: suggest, report, prune, attributes.

Define-by-run suggestions are buffered in the handle and written with the trial's next report or
its ``tell`` (one storage commit instead of one per parameter). Parameters of a static ``ask(space)``
are written at ask time.
"""

from __future__ import annotations

import json
import math
import numbers
import reprlib
import threading
import warnings
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from hpopt._frozendict import FrozenDict, deep_freeze
from hpopt.distributions import Categorical, Distribution, Float, Int, check_compatible
from hpopt.errors import HpoptWarning, SamplerError, TrialFinishedError, TrialPruned
from hpopt.records import MAX_NAME_LENGTH, FrozenTrial, TrialState
from hpopt.samplers.base import TrialInfo

if TYPE_CHECKING:
    from hpopt.study import Study

__all__ = ["Trial", "check_name", "json_value", "real_value"]

_DIST_TYPES = (Float, Int, Categorical)
#: The largest step ``report`` accepts: steps are 64-bit integers in pruners (numpy) and storages.
MAX_STEP = 2**63 - 1


def check_name(kind: str, name: Any) -> str:
    """Validate a parameter/attribute name.

    Raises:
        TypeError: Not a str.
        ValueError: Empty or longer than :data:`~hpopt.records.MAX_NAME_LENGTH`.
    """
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a str, but got {name!r} ({type(name).__name__}).")
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"{kind} name must have 1 to {MAX_NAME_LENGTH} characters, but {name[:40]!r}... has {len(name)}."
        )
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: samplers hash names as UTF-8, the CLI prints them
            raise ValueError(
                f"{kind} name must be valid Unicode text (no lone surrogates), but got {name[:40]!r}."
            ) from None
    return name


def json_value(kind: str, key: str, value: Any) -> Any:
    """``value`` as it reads back from storage (tuples become lists), or TypeError if not JSON."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError, RecursionError) as exc:
        # too deeply nested for json (and for repr): show it abbreviated
        shown = reprlib.repr(value) if isinstance(exc, RecursionError) else repr(value)
        raise TypeError(
            f"{kind} {key!r} must be JSON-serializable (it is persisted), but got "
            f"{shown} ({type(value).__name__}): {exc}"
        ) from None


def real_value(what: str, value: Any) -> float:
    """A real number (int, float, numpy real scalar, 0-d array) as a Python float.

    A real scalar of another library is taken too: an object with ``__float__`` and no dimensions
    (a 0-d PyTorch/JAX tensor, ``decimal.Decimal``), as ``float(value)`` would; an objective that
    returns its loss tensor is common, and refusing it failed every trial.

    Whatever converting the value raises (a lazy tensor whose computation fails, a ``shape`` that
    raises, a numpy ``timedelta64``) becomes a TypeError naming ``what``: callers treat TypeError
    and ValueError as "not a usable number" (``optimize`` fails the trial, ``tell`` writes nothing),
    and any other exception escaped them with the trial left RUNNING.

    Raises:
        TypeError: bool, str, None, complex, an array or tensor with dimensions, a value whose
            conversion to float raises, or any other type.
        ValueError: An int (or fraction) too large for a float (beyond about 1.8e308).
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        if not _real_scalar(value):
            raise TypeError(
                f"{what} must be a real number, but got {_shown(value)} ({type(value).__name__})."
            )
        try:
            return float(value)
        except Exception as exc:  # noqa: BLE001  (a foreign __float__ may raise anything)
            raise TypeError(
                f"{what} must be a real number, but got {_shown(value)} ({type(value).__name__}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    try:
        return float(value)
    except OverflowError:
        size = (f"an integer of {len(str(abs(int(value))))} digits" if isinstance(value, numbers.Integral)
                else f"a {type(value).__name__} beyond it")
        raise ValueError(f"{what} must fit in a float (|value| < 1.8e308), but got {size}.") from None
    except Exception as exc:  # noqa: BLE001  (e.g. numpy timedelta64 is Integral but has no float)
        raise TypeError(
            f"{what} must be a real number, but got {_shown(value)} ({type(value).__name__}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _shown(value: Any) -> str:
    """``repr(value)`` for a message, or a placeholder when the repr itself raises."""
    try:
        return repr(value)
    except Exception:  # noqa: BLE001
        return f"<{type(value).__name__} object>"


def _real_scalar(value: Any) -> bool:
    """Whether ``value`` is a real scalar of another library (see :func:`real_value`): it has
    ``__float__``, no dimensions (``shape == ()`` when it has a shape) and is not a bool, complex
    or text value (a bool or complex tensor has ``__float__`` too). An object whose ``shape`` or
    ``dtype`` raises is not one."""
    if isinstance(value, (str, bytes, numbers.Complex)) or not hasattr(type(value), "__float__"):
        return False  # numbers.Complex: complex and numpy complex (float() drops the imaginary part)
    try:
        if tuple(getattr(value, "shape", ())) != ():
            return False
        kind = str(getattr(value, "dtype", "")).rsplit(".", 1)[-1]
    except Exception:  # noqa: BLE001  (a foreign attribute may raise anything)
        return False
    return not (kind == "bool" or kind.startswith("complex"))


def checked_gradient(
    gradient: Mapping[str, Any], dists: Mapping[str, Distribution], *, what: str, owner: str
) -> dict[str, float]:
    """``gradient`` ({parameter name: d value / d parameter}) as finite floats, checked against
    the trial's distributions ``dists``: each name must be one of its float parameters.

    ``what`` names the gradient in messages (e.g. ```gradient```), ``owner`` the trial.

    Raises:
        ValueError: A name the trial has not, one that is not a float parameter, or a non-finite
            entry.
        TypeError: An entry that is not a real number.
    """
    out: dict[str, float] = {}
    for name, g in gradient.items():
        if name not in dists:
            raise ValueError(
                f"{what} names {name!r}, which {owner} has not suggested; its parameters are "
                f"{sorted(dists)}."
            )
        if not isinstance(dists[name], Float):
            raise ValueError(
                f"{what} names {name!r}, but only float parameters have a gradient "
                f"({name!r} is {dists[name]!r})."
            )
        v = real_value(f"`gradient[{name!r}]`", g)
        if not math.isfinite(v):
            raise ValueError(f"`gradient[{name!r}]` must be finite, but got {v!r}.")
        out[name] = v
    return out


def checked_report(value: Any, step: Any, n_objectives: int) -> tuple[int, Any]:
    """``(step, value as stored)`` for ``report(value, step)`` in a study of ``n_objectives``
    objectives (a list of floats for several), checked before anything is written.

    Raises:
        TypeError: A non-numeric value or non-integral step.
        ValueError: A negative step, one beyond ``MAX_STEP`` or the wrong number of values.
    """
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral):
        raise TypeError(f"`step` must be an int, but got {step!r} ({type(step).__name__}).")
    step = int(step)
    if not 0 <= step <= MAX_STEP:
        raise ValueError(f"`0 <= step <= {MAX_STEP}` (a 64-bit integer) must hold, but got step={step}.")
    if n_objectives == 1:
        return step, real_value("reported value", value)
    items = _as_list(value)
    if items is None or len(items) != n_objectives:
        raise ValueError(f"report() needs {n_objectives} values (one per objective), but got {value!r}.")
    return step, [real_value("reported value", v) for v in items]


_NEW = object()  # _Suggestions._suggested: a name not suggested before


class _Suggestions:
    """``suggest_float``, ``suggest_int`` and ``suggest_categorical`` over a class's own
    ``suggest(name, distribution)``: one place for the distributions they build, shared by
    :class:`Trial`, executor workers' :class:`~hpopt.remote.RemoteTrial` and
    :class:`~hpopt.FixedTrial`."""

    __slots__ = ()

    def suggest(self, name: str, distribution: Distribution) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _suggested(self, name: str, distribution: Distribution) -> Any:
        """The value of ``name`` when it was suggested before with ``distribution`` (asked again,
        the same value), else ``_NEW`` once ``name`` and ``distribution`` are checked (for classes
        that keep ``number``, ``_dists`` and ``_params``).

        Raises:
            ValueError: ``name`` was suggested before with another distribution, or is not a name.
            TypeError: ``distribution`` is not an hpopt Float, Int or Categorical.
        """
        old = self._dists.get(name)  # type: ignore[attr-defined]
        if old is not None:
            if old == distribution:
                return self._params[name]  # type: ignore[attr-defined]
            raise ValueError(
                f"parameter {name!r} was already suggested in trial {self.number} as {old!r}; it "  # type: ignore[attr-defined]
                f"cannot be suggested again as {distribution!r}."
            )
        check_name("parameter", name)
        if not isinstance(distribution, _DIST_TYPES):
            raise TypeError(
                f"`distribution` of {name!r} must be hpopt.Float, Int or Categorical, but got "
                f"{distribution!r}."
            )
        return _NEW

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        """A float in ``[low, high]`` (log-uniform with ``log``; on a grid with ``step``).

        Raises:
            ValueError, TypeError: Invalid bounds, naming the parameter (nothing is written).
        """
        return self.suggest(name, _build(name, Float, low, high, log=log, step=step))

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False, step: int = 1) -> int:
        """An int in ``[low, high]`` (log-uniform with ``log``; every ``step``-th with ``step``).

        Raises:
            TypeError: Non-integral bounds or step.
            ValueError: Invalid bounds, naming the parameter.
        """
        return self.suggest(name, _build(name, Int, low, high, log=log, step=step))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """One of ``choices`` (None, bool, int, float or str values).

        Raises:
            TypeError, ValueError: Invalid choices, naming the parameter.
        """
        key = tuple(choices) if isinstance(choices, (list, tuple)) else choices
        return self.suggest(name, _build(name, Categorical, key))


class Trial(_Suggestions):
    """A running trial: ask it for parameters, report progress, then ``tell`` the study its result.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study(seed=1)
        >>> trial = study.ask()
        >>> lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        >>> layers = trial.suggest_int("layers", 1, 4)
        >>> trial.report(0.9, step=0)
        >>> study.tell(trial, 0.5).state.name
        'COMPLETE'
    """

    __slots__ = (
        "_study", "number", "_params", "_dists", "_fixed", "_plan", "_pending", "_user",
        "_inter", "_finished", "_info", "_lock", "__weakref__",
    )

    def __init__(
        self,
        study: Study,
        number: int,
        params: dict[str, Any],
        dists: dict[str, Distribution],
        fixed: dict[str, Any],
        plan: dict[str, Any],
        user: dict[str, Any] | None = None,
    ) -> None:
        self._study = study
        #: The trial's number within its study (0, 1, 2, ...).
        self.number = number
        self._params = dict(params)
        self._dists = dict(dists)
        self._fixed = fixed
        self._plan = plan
        self._pending: dict[str, Any] = {}
        self._user: dict[str, Any] = dict(user) if user else {}  # stored already (enqueue_trial)
        self._inter: dict[int, Any] = {}
        self._finished = False
        self._lock = threading.Lock()  # guards _pending against the heartbeat thread
        self._info = TrialInfo(
            number, MappingProxyType(self._params), MappingProxyType(self._dists), fixed
        )

    def __repr__(self) -> str:
        return f"<Trial {self.number} of {self._study.study_name!r} params={self._params}>"

    @property
    def study(self) -> Study:
        """The study this trial belongs to."""
        return self._study

    @property
    def params(self) -> dict[str, Any]:
        """A copy of the parameters suggested so far."""
        return dict(self._params)

    @property
    def distributions(self) -> dict[str, Distribution]:
        """A copy of the distributions of the parameters suggested so far."""
        return dict(self._dists)

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The trial's user attributes: those it was enqueued with (``enqueue_trial(...,
        user_attrs=...)``) and those set through this handle (not yet written ones included)."""
        return dict(self._user)

    def _check_open(self) -> None:
        if self._finished:
            raise TrialFinishedError(
                f"trial {self.number} is finished; a finished trial never changes (ask a new one)."
            )

    # -- suggestions ----------------------------------------------------------------------------
    def suggest(self, name: str, distribution: Distribution) -> Any:
        """A value for ``name`` from ``distribution`` (any :class:`Float`, :class:`Int` or
        :class:`Categorical`). Suggesting the same name again with the same distribution returns
        the same value.

        Raises:
            ValueError: The name was used with an incompatible distribution (another type, log
                flag or choice list) in this study, or an enqueued value lies outside it.
            TrialFinishedError: The trial is finished.
        """
        self._check_open()
        again = self._suggested(name, distribution)
        if again is not _NEW:
            return again
        study = self._study
        known = study._storage.known_distribution(study._sid, name)
        if known is not None:
            check_compatible(name, known, distribution)
        if name in self._fixed:
            value = self._fixed[name]
            if not distribution.contains(value):
                raise ValueError(
                    f"the enqueued value {value!r} of parameter {name!r} lies outside {distribution!r}."
                )
        elif name in self._plan and distribution.contains(self._plan[name]):
            value = self._plan[name]
        else:
            value = study.sampler.sample(study._history, self._info, name, distribution)
            if not distribution.contains(value):
                raise SamplerError(
                    f"{type(study.sampler).__name__}.sample returned {value!r} for {name!r}, "
                    f"which lies outside {distribution!r}."
                )
        value = distribution.canonical(value)
        self._params[name] = value
        self._dists[name] = distribution
        with self._lock:
            self._pending[name] = value
        return value

    # -- progress -------------------------------------------------------------------------------
    def report(self, value: float | Sequence[float], step: int) -> None:
        """Record an intermediate value (one per objective) at ``step`` (a non-negative int).

        NaN is stored (pruners treat it as the worst value). A step reported twice keeps the
        first value, with a warning.

        Raises:
            TypeError: A non-numeric value or non-integral step.
            ValueError: A negative step, one beyond ``MAX_STEP`` (2**63 - 1: pruners and storages
                hold steps as 64-bit integers) or the wrong number of values.
            TrialFinishedError: The trial is finished.
        """
        self._check_open()
        n = len(self._study.directions)
        step, stored = checked_report(value, step, n)
        if step in self._inter:
            warnings.warn(
                f"trial {self.number} already reported step {step}; the first value is kept.",
                HpoptWarning,
                stacklevel=2,
            )
            return
        self._flush(reports=[[step, stored]])
        self._inter[step] = tuple(stored) if n > 1 else stored

    def should_prune(self) -> bool:
        """Ask the study's pruner whether to stop this trial now (after a ``report``)."""
        self._check_open()
        study = self._study
        study._storage.sync()
        return bool(study.pruner.prune(study._history, self.snapshot()))

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable value to the trial (written with the next report or tell).

        Raises:
            TypeError: ``value`` is not JSON-serializable or ``key`` is not a str.
        """
        self._check_open()
        check_name("user attribute", key)
        # Nested dicts and lists read-only: what ``user_attrs`` hands out cannot change what the
        # next report or tell writes (a non-JSON value slipped in that way made every tell fail).
        self._user[key] = deep_freeze(json_value("user attribute", key, value))

    def snapshot(self) -> FrozenTrial:
        """The running trial as a :class:`FrozenTrial` (what pruners see)."""
        return FrozenTrial(
            number=self.number,
            state=TrialState.RUNNING,
            values=None,
            params=FrozenDict(self._params),
            distributions=FrozenDict(self._dists),
            intermediate_values=FrozenDict(self._inter),
            user_attrs=FrozenDict(self._user),
        )

    # -- context manager and heartbeat ------------------------------------------------------------
    def __enter__(self) -> Trial:
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
        """Leaving the block without a ``tell`` fails the trial (with the exception, if any)."""
        if not self._finished:
            if et is not None and issubclass(et, TrialPruned):
                self._study.tell(self, state=TrialState.PRUNED, skip_if_finished=True)
                return True
            reason = f"{et.__name__}: {ev}" if et is not None else "the trial was not told a result"
            self._study._finish(self.number, self, TrialState.FAIL, None, reason, True)
        return False

    def beat(self) -> None:
        """Tell the storage this trial's worker is alive (and write pending suggestions).

        With ``create_study(heartbeat_interval=...)`` a background thread does this for every
        open trial; call it yourself only to beat from a loop of your own.
        """
        if self._finished:
            return
        try:
            if self._pending:
                self._flush()
            study = self._study
            study._storage.beat(study._sid, self.number)
        except TrialFinishedError:
            # Told through another handle or reaped meanwhile: close this handle, so that the
            # heartbeat thread stops beating (and writing) for it.
            self._finished = True
            self._study._live.pop(self.number, None)

    # -- writing --------------------------------------------------------------------------------
    def _take_payload(self) -> dict[str, Any]:
        """The unwritten suggestions and attributes, handed over (and cleared) atomically."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return {
            "params": pending or None,
            "dists": {n: self._dists[n] for n in pending} if pending else None,
            "user": dict(self._user) or None,
        }

    def _flush(self, reports: list[list[Any]] | None = None) -> None:
        study = self._study
        payload = self._take_payload()
        try:
            study._storage.update(study._sid, self.number, reports=reports, **payload)
        except BaseException:
            if payload["params"]:
                with self._lock:
                    self._pending = {**payload["params"], **self._pending}
            raise


# Distributions built by suggest_* calls, by their arguments (and the arguments' types, so that a
# bad `True` bound is never served a cached good distribution). Bounded; cleared when full.
_DIST_CACHE: dict[tuple[Any, ...], Distribution] = {}
_DIST_CACHE_SIZE = 4096


def _build(name: str, cls: type, *args: Any, **kwargs: Any) -> Distribution:
    try:
        key: tuple[Any, ...] | None = (
            cls, *[(a.__class__, _typed(a)) for a in args], *[(k, v.__class__, v) for k, v in kwargs.items()]
        )
        dist = _DIST_CACHE.get(key)  # type: ignore[arg-type]
    except TypeError:  # unhashable arguments (a list of choices): no caching
        key, dist = None, None
    if dist is not None:
        return dist
    try:
        dist = cls(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"parameter {name!r}: {exc}") from None
    if key is not None:
        if len(_DIST_CACHE) >= _DIST_CACHE_SIZE:
            _DIST_CACHE.clear()
        _DIST_CACHE[key] = dist
    return dist


def _typed(a: Any) -> Any:
    """Cache-key form of a choice tuple: (1,), (1.0,), (True,) and (-0.0,) all compare equal as
    tuples, but are different choice lists."""
    if a.__class__ is not tuple:
        return a
    return tuple((c.__class__, repr(c) if c.__class__ is float else c) for c in a)


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, np.ndarray):
        return value.tolist() if value.ndim == 1 else None
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def is_nan(values: Sequence[float]) -> bool:
    """True when any value is NaN."""
    return any(math.isnan(v) for v in values)
