"""Export a study's trials as flat records: :func:`to_records` (list of dicts) and
:func:`to_dataframe` (pandas, extra ``dataframe``).

Every record has the same keys (a rectangular table, so CSV and DataFrames line up): a value a
trial does not have is ``None``. Column order: ``number``, ``state``, the objective value(s)
(``value`` for one objective, ``values_0``, ``values_1``, ... for several), ``feasible`` (only
when some trial's feasibility is known, see below), ``datetime_start``, ``datetime_complete``,
``duration`` (seconds), then ``params_<name>``, ``user_attrs_<key>`` and ``system_attrs_<key>``
(each sorted by name) and, when asked for, ``intermediate_<step>``.

``feasible`` is True/False for a COMPLETE trial told with a sampler that has a ``constraints_func``
(its constraint values are stored with it, under the system attribute ``"constraints"``), None for
the other trials; an unconstrained study has no such column.

Example:
    >>> import hpopt
    >>> from hpopt.export import to_records
    >>> study = hpopt.create_study(seed=0)
    >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    >>> rows = to_records(study)
    >>> [r["number"] for r in rows], sorted(k for k in rows[0] if k.startswith("params_"))
    ([0, 1, 2], ['params_x'])
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hpopt._checks import check_bool
from hpopt.records import FrozenTrial, TrialState

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from hpopt.study import Study

__all__ = ["to_records", "to_dataframe", "value_columns"]


def value_columns(n_objectives: int) -> list[str]:
    """Names of the objective-value columns: ``["value"]`` or ``["values_0", "values_1", ...]``."""
    return ["value"] if n_objectives == 1 else [f"values_{i}" for i in range(n_objectives)]


def _states(states: Iterable[TrialState | str] | None) -> frozenset[TrialState] | None:
    if states is None:
        return None
    if isinstance(states, (str, TrialState)):
        states = [states]
    try:
        items = list(states)
    except TypeError:
        raise TypeError(
            f"`states` must be a state name, a TrialState or an iterable of them, but got {states!r}."
        ) from None
    return frozenset(TrialState.parse(s) for s in items)


def to_records(
    study: Study,
    *,
    states: Iterable[TrialState | str] | None = None,
    intermediate: bool = False,
    system_attrs: bool = True,
) -> list[dict[str, Any]]:
    """One flat dict per trial, ordered by trial number.

    Args:
        study: The study to export.
        states: Keep only trials in these states (names such as ``"complete"`` or
            :class:`~hpopt.TrialState`); all trials when None.
        intermediate: Add one ``intermediate_<step>`` column per reported step (the union over
            trials, in step order). Off by default: learning curves can have thousands of steps.
        system_attrs: Include ``system_attrs_<key>`` columns (what hpopt and samplers recorded).

    Returns:
        A list of dicts with identical keys; ``state`` is the state's name (``"COMPLETE"``),
        ``datetime_start``/``datetime_complete`` are local :class:`datetime.datetime` (or None),
        ``duration`` is in seconds (float or None).

    Raises:
        ValueError: An unknown state name.
        TypeError: ``intermediate`` or ``system_attrs`` is not a bool.
    """
    wanted = _states(states)
    intermediate = check_bool("intermediate", intermediate)
    system_attrs = check_bool("system_attrs", system_attrs)
    trials = study.get_trials(states=wanted) if wanted is not None else study.trials
    from hpopt.study import feasibility

    return trials_to_records(trials, len(study.directions), intermediate=intermediate,
                             system_attrs=system_attrs, verdicts=feasibility(trials, study))


def trials_to_records(
    trials: list[FrozenTrial],
    n_objectives: int,
    *,
    intermediate: bool = False,
    system_attrs: bool = True,
    verdicts: list[bool | None] | None = None,
) -> list[dict[str, Any]]:
    """:func:`to_records` for an already-fetched list of trials of a study with ``n_objectives``.

    ``verdicts`` (one per trial, from :func:`hpopt.study.feasibility`) fills the ``feasible``
    column; by default the trials' stored constraint values decide it.
    """
    if verdicts is None:
        from hpopt.study import feasibility

        verdicts = feasibility(trials)
    params: set[str] = set()
    users: set[str] = set()
    syss: set[str] = set()
    steps: set[int] = set()
    for t in trials:
        params.update(t.params)
        users.update(t.user_attrs)
        if system_attrs:
            syss.update(t.system_attrs)
        if intermediate:
            steps.update(t.intermediate_values)
    vcols = value_columns(n_objectives)
    pcols = sorted(params)
    ucols = sorted(users)
    scols = sorted(syss)
    icols = sorted(steps)
    out = []
    for k, t in enumerate(trials):
        row: dict[str, Any] = {"number": t.number, "state": t.state.name}
        vals = t.values
        for i, c in enumerate(vcols):
            row[c] = None if vals is None or i >= len(vals) else float(vals[i])
        if verdicts is not None:
            row["feasible"] = verdicts[k]
        row["datetime_start"] = t.datetime_start
        row["datetime_complete"] = t.datetime_complete
        row["duration"] = (
            None if t.started is None or t.finished is None else float(t.finished - t.started)
        )
        p, u, s, iv = t.params, t.user_attrs, t.system_attrs, t.intermediate_values
        for name in pcols:
            row[f"params_{name}"] = p.get(name)
        for key in ucols:
            row[f"user_attrs_{key}"] = u.get(key)
        for key in scols:
            row[f"system_attrs_{key}"] = s.get(key)
        for step in icols:
            v = iv.get(step)
            if isinstance(v, (tuple, list)):
                v = list(v)
            row[f"intermediate_{step}"] = v
        out.append(row)
    return out


def to_dataframe(
    study: Study,
    *,
    states: Iterable[TrialState | str] | None = None,
    intermediate: bool = False,
    system_attrs: bool = True,
) -> pandas.DataFrame:
    """The records of :func:`to_records` as a :class:`pandas.DataFrame` (one row per trial).

    ``datetime_*`` columns are datetimes, ``duration`` is float seconds; an empty study gives an
    empty frame that still has the fixed columns.

    Raises:
        ImportError: pandas is not installed (``pip install 'hpopt[dataframe]'``).
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "to_dataframe needs pandas: pip install 'hpopt[dataframe]' (or use to_records())."
        ) from None
    rows = to_records(study, states=states, intermediate=intermediate, system_attrs=system_attrs)
    columns = list(rows[0]) if rows else [
        "number", "state", *value_columns(len(study.directions)), "datetime_start",
        "datetime_complete", "duration",
    ]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for col in ("datetime_start", "datetime_complete"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


def iso_datetime(value: _dt.datetime) -> str:
    """ISO 8601 with the UTC offset (a naive datetime is local time, as trials' datetimes are): the
    string names one instant wherever the file is read (a machine in another time zone writes the
    same instant with its own offset; compare parsed datetimes, not strings)."""
    return (value if value.tzinfo is not None else value.astimezone()).isoformat()


def json_safe(value: Any) -> Any:
    """``value`` with datetimes as ISO strings with their UTC offset and NaN/inf as strings, ready
    for ``json.dumps``."""
    if isinstance(value, _dt.datetime):
        return iso_datetime(value)
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
