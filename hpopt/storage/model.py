"""The in-memory state of a storage, rebuilt by replaying a journal of operations.

Every backend (memory, SQLite, PostgreSQL, ...) stores the same JSON-ready operations in order; each
process replays the ones it has not seen yet into a :class:`Model`. Trial numbers are therefore the
position of a trial's creation among its study's creations: unique and gap-free by construction.

``apply`` is deterministic and tolerant: an operation that is no longer valid when replayed (a
second ``fin`` for one trial written by a racing process, a ``start`` of a trial already started)
changes nothing, so every replica reaches the same state. Validation that the *user* must hear about
happens before the write, in :mod:`hpopt.storage.journal`, against a freshly synced model.

Operations (``op`` key):
    study  {name, dirs, t}                      create a study
    del    {s}                                  delete study ``s``
    sattr  {s, kind, k, v}                      study user/system attribute
    trial  {s, state, params, dists, fixed, user, sys, t}   new trial (RUNNING or WAITING)
    start  {s, n, t, sys}                       WAITING -> RUNNING
    upd    {s, n, params, dists, user, sys, rep}           update a RUNNING trial
    fin    {s, n, state, values, params, dists, user, sys, rep, t}  finish a RUNNING trial
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import Any

from hpopt._frozendict import EMPTY, FrozenDict, deep_freeze
from hpopt.distributions import Distribution
from hpopt.records import FrozenTrial, TrialState

_RUNNING = TrialState.RUNNING
_WAITING = TrialState.WAITING
_COMPLETE = TrialState.COMPLETE


class TrialRec:
    """Mutable record of one trial inside the model (never handed to users)."""

    __slots__ = (
        "number", "state", "params", "dists", "inter", "user", "sys",
        "started", "finished", "values", "fixed", "frozen",
    )

    def __init__(self, number: int, state: TrialState, t: float | None) -> None:
        self.number = number
        self.state = state
        self.params: dict[str, Any] = {}
        self.dists: dict[str, Distribution] = {}
        self.inter: dict[int, Any] = {}
        self.user: dict[str, Any] = {}
        self.sys: dict[str, Any] = {}
        self.started = t
        self.finished: float | None = None
        self.values: tuple[float, ...] | None = None
        self.fixed: dict[str, Any] = {}
        self.frozen: FrozenTrial | None = None

    def freeze(self) -> FrozenTrial:
        """The immutable view; cached once the trial is finished (it never changes again)."""
        if self.frozen is not None:
            return self.frozen
        ft = FrozenTrial(
            number=self.number,
            state=self.state,
            values=self.values,
            params=FrozenDict(self.params) if self.params else EMPTY,
            distributions=FrozenDict(self.dists) if self.dists else EMPTY,
            intermediate_values=FrozenDict(self.inter) if self.inter else EMPTY,
            user_attrs=FrozenDict(self.user) if self.user else EMPTY,
            system_attrs=FrozenDict(self.sys) if self.sys else EMPTY,
            started=self.started,
            finished=self.finished,
        )
        if self.state.is_finished():
            self.frozen = ft
        return ft


class StudyRec:
    """Mutable record of one study inside the model."""

    __slots__ = (
        "id", "name", "directions", "user", "sys", "trials", "waiting", "running",
        "dists", "fin", "fin_tuple", "best", "created", "version",
    )

    def __init__(self, sid: int, name: str, directions: tuple[str, ...], t: float) -> None:
        self.id = sid
        self.name = name
        self.directions = directions
        self.user: dict[str, Any] = {}
        self.sys: dict[str, Any] = {}
        self.trials: list[TrialRec] = []
        self.waiting: deque[int] = deque()
        self.running: dict[int, TrialRec] = {}
        self.dists: dict[str, Distribution] = {}  # latest distribution seen per parameter name
        self.fin: list[FrozenTrial] = []  # finished trials, kept sorted by number
        self.fin_tuple: tuple[FrozenTrial, ...] | None = ()
        self.best: FrozenTrial | None = None
        self.created = t
        self.version = 0  # bumped by every applied change: lets samplers cache derived models

    def finished(self) -> tuple[FrozenTrial, ...]:
        """Finished trials sorted by number (a cached tuple, rebuilt only after a change)."""
        if self.fin_tuple is None:
            self.fin_tuple = tuple(self.fin)
        return self.fin_tuple


class Model:
    """All studies of one storage, as replayed from its journal."""

    def __init__(self) -> None:
        self.studies: dict[int, StudyRec] = {}
        self.by_name: dict[str, int] = {}
        self._next_sid = 0

    # -- replay -------------------------------------------------------------------------------
    def apply(self, op: dict[str, Any]) -> Any:
        """Apply one operation; returns the new study id or trial number where one is created."""
        return getattr(self, "_op_" + op["op"])(op)

    def _op_study(self, op: dict[str, Any]) -> int | None:
        if op["name"] in self.by_name:
            return None  # a racing creator lost; the first one stands
        sid = self._next_sid
        self._next_sid += 1
        self.studies[sid] = StudyRec(sid, op["name"], tuple(op["dirs"]), op["t"])
        self.by_name[op["name"]] = sid
        return sid

    def _op_del(self, op: dict[str, Any]) -> None:
        st = self.studies.pop(op["s"], None)
        if st is not None and self.by_name.get(st.name) == st.id:
            del self.by_name[st.name]

    def _op_sattr(self, op: dict[str, Any]) -> None:
        st = self.studies.get(op["s"])
        if st is not None:
            (st.user if op["kind"] == "user" else st.sys)[op["k"]] = deep_freeze(op["v"])

    def _op_trial(self, op: dict[str, Any]) -> int | None:
        st = self.studies.get(op["s"])
        if st is None:
            return None
        state = TrialState(op["state"])
        rec = TrialRec(len(st.trials), state, op["t"] if state is _RUNNING else None)
        _merge(st, rec, op)
        if op.get("fixed"):
            rec.fixed = dict(op["fixed"])
        st.trials.append(rec)
        if state is _WAITING:
            st.waiting.append(rec.number)
        else:
            st.running[rec.number] = rec
        st.version += 1
        return rec.number

    def _op_start(self, op: dict[str, Any]) -> bool:
        rec = self._trial(op)
        if rec is None or rec.state is not _WAITING:
            return False
        st = self.studies[op["s"]]
        rec.state = _RUNNING
        rec.started = op["t"]
        if op.get("sys"):
            _update_frozen(rec.sys, op["sys"])
        st.waiting.remove(rec.number)
        st.running[rec.number] = rec
        st.version += 1
        return True

    def _op_upd(self, op: dict[str, Any]) -> bool:
        rec = self._trial(op)
        if rec is None or rec.state is not _RUNNING:
            return False
        st = self.studies[op["s"]]
        _merge(st, rec, op)
        st.version += 1
        return True

    def _op_fin(self, op: dict[str, Any]) -> bool:
        rec = self._trial(op)
        if rec is None or rec.state is not _RUNNING:
            return False
        st = self.studies[op["s"]]
        _merge(st, rec, op)
        rec.state = TrialState(op["state"])
        values = op.get("values")
        rec.values = None if values is None else tuple(values)
        rec.finished = op["t"]
        del st.running[rec.number]
        ft = rec.freeze()
        if st.fin and st.fin[-1].number > ft.number:
            bisect.insort(st.fin, ft, key=_number)
        else:
            st.fin.append(ft)
        st.fin_tuple = None
        if rec.state is _COMPLETE and len(st.directions) == 1:
            if st.best is None or _better(ft.values[0], st.best.values[0], st.directions[0]):
                st.best = ft
        st.version += 1
        return True

    def _trial(self, op: dict[str, Any]) -> TrialRec | None:
        st = self.studies.get(op["s"])
        if st is None or not (0 <= op["n"] < len(st.trials)):
            return None
        return st.trials[op["n"]]


def _number(ft: FrozenTrial) -> int:
    return ft.number


def _better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "minimize" else a > b


def _update_frozen(target: dict[str, Any], values: dict[str, Any]) -> None:
    """``target.update(values)`` with read-only copies of nested values (see ``deep_freeze``): the
    records hand these out, and in memory the op's own objects would otherwise be shared with the
    caller that wrote them."""
    for k, v in values.items():
        target[k] = deep_freeze(v)


def _merge(st: StudyRec, rec: TrialRec, op: dict[str, Any]) -> None:
    """Fold the optional payload fields of a trial operation into its record."""
    params = op.get("params")
    if params:
        rec.params.update(params)
        dists = op["dists"]
        rec.dists.update(dists)
        st.dists.update(dists)
    if op.get("user"):
        _update_frozen(rec.user, op["user"])
    if op.get("sys"):
        _update_frozen(rec.sys, op["sys"])
    for step, value in op.get("rep") or ():
        if step not in rec.inter:  # the first report of a step is kept
            rec.inter[step] = tuple(value) if isinstance(value, list) else value
