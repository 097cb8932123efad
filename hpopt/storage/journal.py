"""The storage every backend shares: validated writes of journal operations, replayed reads.

A backend only has to keep an ordered log: read the operations after a given id, and append
operations inside an exclusive write transaction (see :class:`JournalBackend`). Everything else —
numbering, state rules, "first finisher wins", incremental reads — lives here once, so every backend
behaves identically (the conformance battery in :mod:`hpopt.testing` checks it).

Each write runs as: lock -> read what others appended -> validate against that fresh state ->
append -> commit -> apply locally. An invalid request raises before anything is appended.
"""

from __future__ import annotations

import gc
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hpopt.distributions import distribution_from_json
from hpopt.errors import (
    DuplicatedStudyError,
    SearchSpaceExhausted,
    StorageError,
    StudyNotFoundError,
    TrialFinishedError,
)
from hpopt.records import FrozenTrial, TrialState
from hpopt.storage.model import Model, StudyRec, TrialRec

__all__ = [
    "JournalBackend", "Storage", "Plan", "RetryableStorageError", "encode_op", "decode_op", "redact_url",
]

#: Study system attributes that every worker reads: the heartbeat grace period (seconds) and how
#: many times a stale trial is retried.
GRACE_KEY = "hpopt.grace_period"
#: System attribute of an enqueued trial: the values it was enqueued with.
ENQUEUED_KEY = "hpopt.enqueued_params"
RETRY_KEY = "hpopt.max_retry"
#: How many times a write is retried after its connection dropped.
_RETRIES = 8
#: ``finalize(results of the applied ops) -> the write's return value``.
Finalize = Callable[[list[Any]], Any]
#: ``plan(number, fixed_params) -> (params, distributions, system_attrs)``, run inside the write
#: lock of :meth:`Storage.ask` so that it sees every trial, running ones included.
Plan = Callable[[int, Mapping[str, Any]], tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]


def encode_op(op: dict[str, Any]) -> str:
    """An operation as compact JSON text (distributions as their JSON records)."""
    dists = op.get("dists")
    if dists:
        op = dict(op, dists={k: d.to_json() for k, d in dists.items()})
    return json.dumps(op, separators=(",", ":"))


def decode_op(text: str) -> dict[str, Any]:
    """Inverse of :func:`encode_op`."""
    op = json.loads(text)
    if not isinstance(op, dict) or not isinstance(op.get("op"), str):
        raise ValueError(f"not a journal operation: {text[:80]!r}")
    dists = op.get("dists")
    if dists:
        op["dists"] = {k: distribution_from_json(d) for k, d in dists.items()}
    return op


class JournalBackend:
    """Where operations are kept. Subclasses: memory (nothing to keep), SQLite, PostgreSQL.

    ``shared`` is False when no other process or object can append (reads are then skipped).
    """

    shared = True
    #: True when the connection can drop mid-write (a network database): writes are then tagged
    #: and retried; see :meth:`Storage._transact`.
    retryable = False
    url = "memory"

    def read(self, after: int) -> list[tuple[int, dict[str, Any]]]:
        """Operations with id > ``after``, in order, as ``(id, op)`` pairs."""
        return []

    @contextmanager
    def write(self) -> Iterator[JournalBackend]:
        """An exclusive write transaction; ``append`` inside it, commit on a clean exit."""
        yield self

    def append(self, ops: list[dict[str, Any]]) -> int:
        """Append ``ops`` inside :meth:`write`; returns the id of the last one."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections and files."""

    # Heartbeats live beside the journal (one row per running trial, overwritten): beating every
    # second must not grow the journal that every process replays.
    def now(self) -> float:
        """The backend's clock (a database server's, where there is one), POSIX seconds."""
        return time.time()

    def beat(self, sid: int, number: int) -> None:
        """Record that trial ``number`` of study ``sid`` is alive now."""
        raise NotImplementedError

    def beats(self, sid: int) -> dict[int, float]:
        """Last heartbeat time per trial number of study ``sid``."""
        raise NotImplementedError

    def beats_of(self, sid: int, numbers: Collection[int]) -> dict[int, float]:
        """Last heartbeat time of the trials ``numbers`` of study ``sid`` (those that have one).

        What ``reap`` reads at every ask while trials run. Rows of finished trials are never
        deleted, so reading :meth:`beats` there cost O(all trials ever beaten) per ask; the
        built-in backends override this with a lookup of just ``numbers``. This default (for
        other backends) filters :meth:`beats`.
        """
        every = self.beats(sid)
        return {n: every[n] for n in numbers if n in every}

    def reset(self) -> None:
        """Drop a broken connection so that the next call opens a fresh one."""


class RetryableStorageError(StorageError):
    """A backend lost its connection; the operation may be retried on a new one."""


class Storage:
    """Studies and trials over one :class:`JournalBackend`. Thread-safe; one per process or shared.

    Users do not call this directly: pass a URL or an instance as ``create_study(storage=...)``.
    """

    def __init__(self, backend: JournalBackend) -> None:
        self._backend = backend
        self._model = Model()
        self._last = 0
        self._lock = threading.RLock()
        self._watch: dict[str, list[Any]] = {}  # write token -> results of its ops seen landing

    @property
    def url(self) -> str:
        """The URL this storage was opened from (``"memory"`` for an in-memory one)."""
        return self._backend.url

    def __repr__(self) -> str:
        return f"<hpopt storage {redact_url(self.url)}>"

    def close(self) -> None:
        """Close the backend's connections."""
        self._backend.close()

    # -- plumbing -----------------------------------------------------------------------------
    def sync(self) -> None:
        """Replay what other processes appended since this object last looked."""
        if self._backend.shared:
            with self._lock:
                self._catch_up(self._backend)

    def _catch_up(self, tx: JournalBackend) -> None:
        with _gc_paused():  # replaying a large journal allocates many objects that all survive
            self._catch_up_ops(tx)

    def _catch_up_ops(self, tx: JournalBackend) -> None:
        apply, watch = self._model.apply, self._watch
        for op_id, op in tx.read(self._last):
            try:
                result = apply(op)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                # A record that decodes but does not replay: corruption, reported, never skipped.
                where = getattr(tx, "path", None) or redact_url(tx.url)
                raise StorageError(
                    f"corrupt record in {where!r} at journal id {op_id}: "
                    f"{type(exc).__name__}: {exc} (record {str(op)[:120]})"
                ) from exc
            self._last = op_id
            token = op.get("w")
            if token is not None and token in watch:
                watch[token].append(result)

    def _transact(self, build: Callable[[], tuple[list[dict[str, Any]], Finalize]]) -> Any:
        """One validated write: lock, catch up, ``build()`` the ops (validating against the
        caught-up model; raising writes nothing), append, commit, apply, ``finalize(results)``.

        Backends whose connection can drop (``retryable``) raise :class:`RetryableStorageError`;
        the write is then retried on a fresh connection. Every op of a write carries one token,
        so a write whose commit went through before the connection dropped is recognised when
        catching up and not appended twice.
        """
        backend = self._backend
        if not backend.retryable:
            with self._lock:
                with backend.write() as tx:
                    if backend.shared:
                        self._catch_up(tx)
                    ops, finalize = build()
                    last = tx.append(ops) if ops else None
                apply = self._model.apply
                results = [apply(op) for op in ops]
                if last is not None and backend.shared:
                    self._last = last
                return finalize(results)
        token = uuid.uuid4().hex
        pending: Finalize | None = None
        delay = 0.05
        with self._lock:
            # Results of this write's ops seen while catching up, kept across attempts.
            landed = self._watch[token] = []
            try:
                for attempt in range(_RETRIES + 1):
                    try:
                        with backend.write() as tx:
                            self._catch_up(tx)
                            if pending is not None and landed:
                                return pending(landed)  # committed before the connection dropped
                            ops, finalize = build()
                            for op in ops:
                                op["w"] = token
                            pending = finalize
                            last = tx.append(ops) if ops else None
                        results = [self._model.apply(op) for op in ops]
                        if last is not None:
                            self._last = last
                        return finalize(results)
                    except RetryableStorageError:
                        if attempt == _RETRIES:
                            raise
                        backend.reset()
                        time.sleep(delay)
                        delay = min(delay * 2, 2.0)
            finally:
                del self._watch[token]
        raise AssertionError("unreachable")  # pragma: no cover

    def _study(self, sid: int) -> StudyRec:
        st = self._model.studies.get(sid)
        if st is None:
            raise StudyNotFoundError(f"study id {sid} no longer exists in {redact_url(self.url)}.")
        return st

    def _trial(self, sid: int, number: int) -> TrialRec:
        st = self._study(sid)
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < len(st.trials):
            raise ValueError(
                f"study {st.name!r} has no trial number {number!r} "
                f"(it has {len(st.trials)} trials, numbered from 0)."
            )
        return st.trials[number]

    # -- studies ------------------------------------------------------------------------------
    def create_study(
        self, name: str, directions: tuple[str, ...] | None, *, load_if_exists: bool
    ) -> int:
        """Create a study (or return the existing one's id when ``load_if_exists``).

        ``directions=None`` means "minimize" for a new study and "whatever it has" for an existing
        one.

        Raises:
            DuplicatedStudyError: The name exists and ``load_if_exists`` is False.
            ValueError: ``load_if_exists`` and the existing study has other directions.
        """
        def build() -> tuple[list[dict[str, Any]], Finalize]:
            sid = self._model.by_name.get(name)
            if sid is not None:
                existing = self._model.studies[sid].directions
                if not load_if_exists:
                    raise DuplicatedStudyError(
                        f"a study named {name!r} already exists in {redact_url(self.url)}; pass "
                        "load_if_exists=True to continue it, or choose another name."
                    )
                if directions is not None and existing != tuple(directions):
                    raise ValueError(
                        f"study {name!r} exists with directions {list(existing)}, but "
                        f"directions {list(directions)} were requested."
                    )
                return [], lambda _: sid
            dirs = list(directions) if directions is not None else ["minimize"]
            op = {"op": "study", "name": name, "dirs": dirs, "t": time.time()}
            return [op], lambda _: self._model.by_name[name]

        return self._transact(build)

    def study_id(self, name: str) -> int:
        """The id of the study called ``name``.

        Raises:
            StudyNotFoundError: naming the study and the storage.
        """
        self.sync()
        sid = self._model.by_name.get(name)
        if sid is None:
            known = sorted(self._model.by_name)
            raise StudyNotFoundError(
                f"no study named {name!r} in {redact_url(self.url)} (studies there: {known[:20]})."
            )
        return sid

    def study_names(self) -> list[str]:
        """Names of all studies, in creation order."""
        self.sync()
        return [st.name for st in self._model.studies.values()]

    def study_name(self, sid: int) -> str:
        """The name of study ``sid``."""
        return self._study(sid).name

    def directions(self, sid: int) -> tuple[str, ...]:
        """The optimization directions of study ``sid``."""
        return self._study(sid).directions

    def delete_study(self, name: str) -> None:
        """Delete a study and its trials from this storage's view (the journal keeps history)."""
        def build() -> tuple[list[dict[str, Any]], Finalize]:
            sid = self._model.by_name.get(name)
            if sid is None:
                raise StudyNotFoundError(f"no study named {name!r} in {redact_url(self.url)}.")
            return [{"op": "del", "s": sid}], _none

        self._transact(build)

    def set_study_attr(self, sid: int, kind: str, key: str, value: Any) -> None:
        """Set a study attribute (``kind`` is ``"user"`` or ``"sys"``)."""
        def build() -> tuple[list[dict[str, Any]], Finalize]:
            self._study(sid)
            return [{"op": "sattr", "s": sid, "kind": kind, "k": key, "v": value}], _none

        self._transact(build)

    def set_study_attr_once(self, sid: int, kind: str, key: str, value: Any) -> Any:
        """Set a study attribute unless it is set already; returns the value it has afterwards.

        The check and the write are one write transaction, so workers racing to set a value that
        all of them must agree on (the heartbeat grace period) all read back the winner's value.
        """
        def build() -> tuple[list[dict[str, Any]], Finalize]:
            st = self._study(sid)
            old = (st.user if kind == "user" else st.sys).get(key)
            if old is not None:
                return [], lambda _: old
            return [{"op": "sattr", "s": sid, "kind": kind, "k": key, "v": value}], lambda _: value

        return self._transact(build)

    def study_attrs(self, sid: int, kind: str) -> dict[str, Any]:
        """A copy of the study's user or system attributes."""
        self.sync()
        st = self._study(sid)
        return dict(st.user if kind == "user" else st.sys)

    # -- trials: writes -----------------------------------------------------------------------
    def ask(self, sid: int, plan: Plan) -> tuple[int, dict[str, Any], dict[str, Any]]:
        """Start a trial: the oldest WAITING one, else a new one. Returns number, params, fixed.

        ``plan`` runs inside the write lock with the model fully caught up. If it raises for an
        enqueued trial (a bad value, or a sampler with nothing left for its other parameters),
        that trial is started and failed with the reason (so it cannot block the queue) and the
        error is re-raised.
        """
        error: list[BaseException] = []

        def build() -> tuple[list[dict[str, Any]], Finalize]:
            error.clear()
            st = self._study(sid)
            now = time.time()
            if not st.waiting:
                number = len(st.trials)
                params, dists, sys = plan(number, {})
                op = {
                    "op": "trial", "s": sid, "state": "RUNNING", "t": now,
                    "params": params, "dists": dists, "sys": sys,
                }
                return [op], lambda res: (res[0], params, {})
            number = st.waiting[0]
            fixed = st.trials[number].fixed
            ops: list[dict[str, Any]] = [{"op": "start", "s": sid, "n": number, "t": now}]
            try:
                params, dists, sys = plan(number, fixed)
            except (ValueError, TypeError, SearchSpaceExhausted) as exc:
                error.append(exc)
                ops.append(_fin_op(sid, number, "FAIL", None, {"fail_reason": f"{exc}"}, now))
                return ops, _none
            if params or sys:
                ops.append(_payload_op("upd", sid, number, params, dists, None, sys, None))
            return ops, lambda res: (number, params, fixed)

        result = self._transact(build)
        if error:
            raise error[0]
        return result

    def enqueue(
        self, sid: int, fixed: dict[str, Any], user: dict[str, Any], *, skip_if_exists: bool = False
    ) -> int | None:
        """Add a WAITING trial whose parameters ``fixed`` are used when it meets them.

        With ``skip_if_exists``, nothing is written (and None returned) when some trial already
        has these values (enqueued or suggested); checked inside the write lock, so two workers
        enqueueing the same values at once add one trial.
        """
        def build() -> tuple[list[dict[str, Any]], Finalize]:
            st = self._study(sid)
            if skip_if_exists:
                for rec in st.trials:
                    seen = {**rec.fixed, **rec.params}
                    if all(k in seen and seen[k] == v for k, v in fixed.items()):
                        return [], _none
            op = {
                "op": "trial", "s": sid, "state": "WAITING", "t": None, "fixed": fixed, "user": user,
                # visible in FrozenTrial.system_attrs before the objective suggests them
                "sys": {ENQUEUED_KEY: dict(fixed)},
            }
            return [op], lambda res: res[0]

        return self._transact(build)

    def update(
        self,
        sid: int,
        number: int,
        params: dict[str, Any] | None = None,
        dists: dict[str, Any] | None = None,
        user: dict[str, Any] | None = None,
        sys: dict[str, Any] | None = None,
        reports: list[list[Any]] | None = None,
    ) -> None:
        """Record parameters, attributes and reports of a RUNNING trial.

        Raises:
            TrialFinishedError: The trial is finished.
            ValueError: Unknown trial, or a WAITING one.
        """
        def build() -> tuple[list[dict[str, Any]], Finalize]:
            _require_running(self._study(sid).name, self._trial(sid, number))
            return [_payload_op("upd", sid, number, params, dists, user, sys, reports)], _none

        self._transact(build)

    def finish(
        self,
        sid: int,
        number: int,
        state: TrialState,
        values: tuple[float, ...] | None,
        *,
        params: dict[str, Any] | None = None,
        dists: dict[str, Any] | None = None,
        user: dict[str, Any] | None = None,
        sys: dict[str, Any] | None = None,
        reports: list[list[Any]] | None = None,
        skip_if_finished: bool = False,
    ) -> FrozenTrial:
        """Finish a RUNNING trial; the first finisher wins.

        Telling a finished trial the identical outcome again is a no-op (safe to retry).

        Raises:
            TrialFinishedError: Finished with another outcome (unless ``skip_if_finished``).
            ValueError: Unknown trial, or a WAITING one.
        """
        def build() -> tuple[list[dict[str, Any]], Finalize]:
            rec = self._trial(sid, number)
            if rec.state.is_finished():
                if skip_if_finished or (rec.state is state and _same_values(rec.values, values)):
                    return [], lambda _: rec.freeze()
                if rec.sys.get("fail_reason") == "stale":
                    raise TrialFinishedError(
                        f"trial {number} of study {self._study(sid).name!r} was failed as stale: its "
                        f"worker sent no heartbeat for {rec.sys.get('hpopt.silent_for')} s, more than the "
                        f"grace period of {self._study(sid).sys.get(GRACE_KEY)} s. This late result "
                        "is not recorded (with max_retry the parameters were enqueued again)."
                    )
                raise TrialFinishedError(
                    f"trial {number} of study {self._study(sid).name!r} already finished as "
                    f"{rec.state.name} with values {rec.values}; it cannot become {state.name} "
                    f"with values {values} (pass skip_if_finished=True to ignore)."
                )
            _require_running(self._study(sid).name, rec)
            op = _payload_op("fin", sid, number, params, dists, user, sys, reports)
            op["state"] = state.name
            op["values"] = None if values is None else list(values)
            op["t"] = time.time()
            return [op], lambda _: rec.freeze()

        return self._transact(build)

    # -- heartbeats -----------------------------------------------------------------------------
    def beat(self, sid: int, number: int) -> None:
        """Record that a RUNNING trial's worker is alive (outside the journal).

        Raises:
            TrialFinishedError: The trial is finished as far as this object has read (told
                through another handle or process, or failed as stale): it needs no heartbeat.
        """
        if self._trial(sid, number).state.is_finished():
            raise TrialFinishedError(f"trial {number} is finished; it takes no heartbeat.")
        with self._lock:
            for attempt in range(3):
                try:
                    self._backend.beat(sid, number)
                    return
                except RetryableStorageError:
                    self._backend.reset()
                    if attempt == 2:
                        raise

    def reap(self, sid: int) -> list[int]:
        """Fail the study's RUNNING trials whose last heartbeat is older than its grace period.

        Each becomes FAIL with ``fail_reason == "stale"``; with ``max_retry`` left, its parameters
        are enqueued again (system attributes ``hpopt.retry_of`` — the original trial number —,
        ``hpopt.retries`` and ``hpopt.failed_trial``). Safe to call from many workers at once:
        every trial is failed and re-enqueued once. Returns the numbers failed by this call.
        """
        self.sync()
        st = self._study(sid)
        grace = st.sys.get(GRACE_KEY)
        if not grace or not st.running:
            return []
        running = list(st.running)
        with self._lock:
            beats, now = self._backend.beats_of(sid, running), self._backend.now()
        if not any(n in beats and now - beats[n] > grace for n in running):
            return []  # the common case: nothing to do, no write transaction

        def build() -> tuple[list[dict[str, Any]], Finalize]:
            st = self._study(sid)
            max_retry = int(st.sys.get(RETRY_KEY) or 0)
            beats, now = self._backend.beats_of(sid, list(st.running)), self._backend.now()
            stale = sorted(n for n in st.running if n in beats and now - beats[n] > grace)
            ops: list[dict[str, Any]] = []
            for n in stale:
                rec = st.trials[n]
                silent = round(now - beats[n], 3)
                reason = {"fail_reason": "stale", "hpopt.silent_for": silent}
                ops.append(_fin_op(sid, n, "FAIL", None, reason, now))
                retries = int(rec.sys.get("hpopt.retries", 0))
                if retries < max_retry:
                    fixed = {**(rec.sys.get("hpopt.plan") or {}), **rec.fixed, **rec.params}
                    ops.append({
                        "op": "trial", "s": sid, "state": "WAITING", "t": None, "fixed": fixed,
                        "user": dict(rec.user), "sys": {
                            "hpopt.retry_of": rec.sys.get("hpopt.retry_of", n),
                            "hpopt.retries": retries + 1, "hpopt.failed_trial": n,
                        },
                    })
            return ops, lambda _: stale

        return self._transact(build)

    # -- trials: reads ------------------------------------------------------------------------
    def trial(self, sid: int, number: int) -> FrozenTrial:
        """The trial's current snapshot."""
        self.sync()
        return self._trial(sid, number).freeze()

    def trials(self, sid: int, states: frozenset[TrialState] | None = None) -> list[FrozenTrial]:
        """All trials (or those in ``states``), ordered by number."""
        self.sync()
        with self._lock:
            recs = self._study(sid).trials
            if states is None:
                return [r.freeze() for r in recs]
            return [r.freeze() for r in recs if r.state in states]

    def n_trials(self, sid: int) -> int:
        """How many trials the study has (all states)."""
        self.sync()
        return len(self._study(sid).trials)

    def best(self, sid: int) -> FrozenTrial | None:
        """The best COMPLETE trial of a single-objective study (None when there is none)."""
        self.sync()
        return self._study(sid).best

    # Unsynced views for samplers (the model was caught up when their trial was asked).
    def finished_view(self, sid: int) -> tuple[FrozenTrial, ...]:
        """Finished trials sorted by number, as of the last sync (no I/O)."""
        with self._lock:
            return self._study(sid).finished()

    def running_view(self, sid: int) -> list[FrozenTrial]:
        """RUNNING trials as of the last sync (no I/O)."""
        with self._lock:
            return [r.freeze() for r in self._study(sid).running.values()]

    def known_distribution(self, sid: int, name: str) -> Any:
        """The latest distribution recorded for ``name`` in the study, or None."""
        return self._study(sid).dists.get(name)

    def version(self, sid: int) -> int:
        """A counter that grows with every change to the study (for caches)."""
        return self._study(sid).version


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Run the block with Python's cyclic garbage collector off (as it was before afterwards).

    Loading a study replays its journal: tens of thousands of records decoded and applied, every
    object kept. The collector, triggered by those allocations, rescanned the growing heap again
    and again: 0.5 s of the 1.35 s a 20,000-trial SQLite study took to load. Nothing replayed is
    garbage, so pausing it loses nothing; a collector the user turned off stays off.
    """
    was_on = gc.isenabled()
    if was_on:
        gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


#: Query options of a libpq URL that carry a secret.
_SECRET_OPTION = re.compile(r"(?i)([?&](?:password|sslpassword)=)[^&#]*")


def redact_url(url: str) -> str:
    """``url`` without its password, for messages and reprs.

    Both places a libpq URL can carry one are masked: the user-info part
    (``scheme://user:***@host/...``; up to the *last* ``@`` before the query, so a password holding
    an unescaped ``@`` or ``/`` is hidden whole) and ``password=``/``sslpassword=`` query options.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    head, q, query = rest.partition("?")
    userinfo, at, hostpath = head.rpartition("@")
    if at and ":" in userinfo:
        head = f"{userinfo.split(':', 1)[0]}:***@{hostpath}"
    if q:
        query = _SECRET_OPTION.sub(r"\1***", "?" + query)[1:]
    return f"{scheme}{sep}{head}{q}{query}"


def _none(results: list[Any]) -> None:
    return None


def _require_running(study: str, rec: TrialRec) -> None:
    if rec.state is TrialState.RUNNING:
        return
    if rec.state is TrialState.WAITING:
        raise ValueError(
            f"trial {rec.number} of study {study!r} is WAITING (enqueued, not started); "
            "get it with study.ask() first."
        )
    raise TrialFinishedError(
        f"trial {rec.number} of study {study!r} is already finished ({rec.state.name}); "
        "a finished trial never changes."
    )


def _payload_op(
    kind: str,
    sid: int,
    number: int,
    params: dict[str, Any] | None,
    dists: dict[str, Any] | None,
    user: dict[str, Any] | None,
    sys: dict[str, Any] | None,
    reports: list[list[Any]] | None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"op": kind, "s": sid, "n": number}
    if params:
        op["params"] = params
        op["dists"] = dists
    if user:
        op["user"] = user
    if sys:
        op["sys"] = sys
    if reports:
        op["rep"] = reports
    return op


def _fin_op(
    sid: int, number: int, state: str, values: Any, sys: dict[str, Any], t: float
) -> dict[str, Any]:
    return {"op": "fin", "s": sid, "n": number, "state": state, "values": values, "sys": sys, "t": t}


def _same_values(a: tuple[float, ...] | None, b: tuple[float, ...] | None) -> bool:
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(x == y or (x != x and y != y) for x, y in zip(a, b))
