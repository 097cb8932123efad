"""``optimize(..., executor=...)``: objectives evaluated by any ``concurrent.futures.Executor``.

The caller keeps ``ask`` and ``tell`` (so the sampler sees every pending trial); workers — threads,
processes, a Dask cluster through ``Client.get_executor()`` — only run the objective. A worker gets
a :class:`RemoteTrial` carrying proposed values for every parameter the study knows (the sampler's
joint plan plus one independent draw per other known name). When the objective suggests a
parameter with no usable proposal, the worker stops and asks the caller for it; the caller samples
it with the full history and submits the trial again (only the first trials of a study, or a new
conditional branch, pay this round trip). Suggestions and user attributes made in the worker are
recorded when the result comes back.

Pruning in workers. When the study lives in a storage a worker can open by URL (SQLite, PostgreSQL)
and has a pruner other than ``nop``, each task also carries that URL, the study's name and id, and
the pickled pruner. ``report`` then writes the intermediate value to the store at once (validated as
:meth:`hpopt.Trial.report` does, before anything is written; the first report of a step is kept),
and ``should_prune`` asks the worker's copy of the pruner against the stored study, as
:meth:`hpopt.Trial.should_prune` does in the caller: the same stored history and the same trial
give the same answer. A worker process opens each storage once, at its first report or
``should_prune`` (one :class:`~hpopt.storage.Storage`, study view and pruner per URL, study and
pruner, reused by every later task there). The caller skips the reports a worker wrote when it
records the result (it keeps their values for a PRUNED trial's value), so each is stored once; a
trial the caller has finished meanwhile (failed as stale, or by an interrupted ``optimize``) makes
the worker's next ``report``/``should_prune`` raise :class:`~hpopt.TrialFinishedError`, as a live
trial's would. A pruner that does not pickle (one warning), a worker that cannot open the storage
(one warning in the caller, naming why) and the in-memory store keep the behaviour without pruning:
reports are recorded when the result comes back and ``should_prune`` answers False in the worker.
Heartbeats stay with the caller, which beats every trial in flight.
"""

from __future__ import annotations

import json
import os
import pickle
import threading
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from typing import TYPE_CHECKING, Any

from hpopt._frozendict import FrozenDict, deep_freeze
from hpopt.distributions import Distribution
from hpopt.errors import HpoptWarning, SearchSpaceExhausted, TrialFinishedError, TrialPruned
from hpopt.pruners.base import NopPruner, Pruner
from hpopt.records import FrozenTrial, TrialState
from hpopt.samplers.base import History, TrialInfo
from hpopt.storage.journal import redact_url
from hpopt.trial import _Suggestions, check_name, checked_report, json_value

if TYPE_CHECKING:
    from hpopt.storage import Storage
    from hpopt.study import Study, _Budget
    from hpopt.trial import Trial

__all__ = ["RemoteTrial", "RemoteError", "optimize_with_executor"]


class _NeedParam(Exception):  # noqa: N818  (internal control flow)
    def __init__(self, name: str, dist: Distribution) -> None:
        super().__init__(name)
        self.name, self.dist = name, dist


#: What a worker prunes with: the storage, the study's view over it and the pruner.
_Reached = tuple["Storage", History, Pruner]


class _Link:
    """What a worker needs to write reports and prune: where the study is, and its pruner.

    Sent with every task. ``local`` (the caller's own storage, study view and pruner) is used when
    the task runs in the caller's process without being pickled (threads); pickling drops it, and a
    worker process then opens ``url`` itself (see :func:`_reach`).
    """

    __slots__ = ("url", "study_name", "sid", "n_objectives", "pruner_blob", "local", "created")

    def __init__(
        self, url: str, study_name: str, sid: int, n_objectives: int, pruner_blob: bytes,
        local: _Reached | None, created: float | None = None,
    ) -> None:
        self.url, self.study_name, self.sid = url, study_name, sid
        self.n_objectives, self.pruner_blob, self.local = n_objectives, pruner_blob, local
        # When the study was created (its identity: a store deleted and made again at the same URL
        # holds a study of the same name and id, but not the same one); None: not checked.
        self.created = created

    def __getstate__(self) -> tuple[Any, ...]:
        return self.url, self.study_name, self.sid, self.n_objectives, self.pruner_blob, self.created

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.url, self.study_name, self.sid, self.n_objectives, self.pruner_blob, self.created = state
        self.local = None


class RemoteTrial(_Suggestions):
    """What an objective receives in an executor worker: the :class:`~hpopt.Trial` interface over
    values proposed by the caller.

    With a storage the worker can open by URL and a pruner (see the module docstring), ``report``
    writes to the store at once and ``should_prune`` asks the pruner; otherwise both are recorded
    or answered as without pruning.

    Attributes:
        number: The trial's number in the caller's study.
        unreachable: Why this worker could not open the study's storage (then it does not prune),
            or None.
    """

    def __init__(
        self,
        number: int,
        proposals: Mapping[str, Any],
        *,
        link: _Link | None = None,
        prior: Mapping[int, Any] | None = None,
        user: Mapping[str, Any] | None = None,
    ) -> None:
        self.number = number
        self._proposals = dict(proposals)
        self.params: dict[str, Any] = {}
        self.distributions: dict[str, Distribution] = {}
        #: The trial's user attributes: those it was enqueued with, then those set here.
        self.user_attrs: dict[str, Any] = dict(user or {})
        self._link = link
        self._reached: _Reached | bool | None = None  # opened lazily; False: unreachable
        self.unreachable: str | None = None
        # Reports this trial's earlier runs wrote (a run that stopped to ask the caller for a
        # parameter): in the store already, so reporting their steps again writes nothing.
        self._inter: dict[int, Any] = {s: _kept(v) for s, v in (prior or {}).items()}
        self._rerun = set(self._inter)
        self._written = set(self._inter)
        #: (step, value) of every report, in order; ``_written`` names the steps in the store.
        self.reports: list[tuple[int, Any]] = list((prior or {}).items())

    def __getstate__(self) -> dict[str, Any]:
        # The trip back to the caller: the storage handles stay in the worker.
        state = dict(self.__dict__)
        state["_link"] = state["_reached"] = None
        return state

    def suggest(self, name: str, distribution: Distribution) -> Any:
        """The proposed value of ``name`` (or a request to the caller for one)."""
        if name in self.distributions:
            if self.distributions[name] == distribution:
                return self.params[name]
            raise ValueError(
                f"parameter {name!r} was already suggested in trial {self.number} as "
                f"{self.distributions[name]!r}; it cannot be suggested again as {distribution!r}."
            )
        check_name("parameter", name)
        value = self._proposals.get(name, _MISSING)
        if value is _MISSING or not distribution.contains(value):
            raise _NeedParam(name, distribution)
        value = distribution.canonical(value)
        self.params[name] = value
        self.distributions[name] = distribution
        return value

    def report(self, value: Any, step: int) -> None:
        """As :meth:`hpopt.Trial.report` when this worker prunes (written to the store now);
        otherwise recorded with the trial when the result reaches the caller.

        Raises:
            TypeError, ValueError: As :meth:`hpopt.Trial.report` (when pruning; nothing is written).
            TrialFinishedError: The caller finished the trial meanwhile (e.g. failed as stale).
        """
        link = self._link
        if link is None:
            self.reports.append((step, value))
            return
        step, stored = checked_report(value, step, link.n_objectives)
        if step in self._inter:
            if step in self._rerun:  # written by an earlier run of this trial: not a repeat
                self._rerun.discard(step)
                return
            warnings.warn(
                f"trial {self.number} already reported step {step}; the first value is kept.",
                HpoptWarning,
                stacklevel=2,
            )
            return
        reached = self._reach()
        if reached is not None:
            storage = reached[0]
            try:
                storage.update(link.sid, self.number, reports=[[step, stored]])
            except TrialFinishedError:
                raise TrialFinishedError(_finished_message(storage, link, self.number)) from None
            self._written.add(step)
        self._inter[step] = _kept(stored)
        self.reports.append((step, stored))

    def should_prune(self) -> bool:
        """As :meth:`hpopt.Trial.should_prune` when this worker prunes (the pruner asked against
        the stored study); otherwise always False.

        Raises:
            TrialFinishedError: The caller finished the trial meanwhile (e.g. failed as stale).
        """
        reached = self._reach() if self._link is not None else None
        if reached is None:
            return False
        storage, history, pruner = reached
        sid = self._link.sid  # type: ignore[union-attr]
        storage.sync()
        if storage._trial(sid, self.number).state.is_finished():
            raise TrialFinishedError(_finished_message(storage, self._link, self.number))  # type: ignore[arg-type]
        return bool(pruner.prune(history, self.snapshot()))

    def set_user_attr(self, key: str, value: Any) -> None:
        """Recorded with the trial when the result reaches the caller."""
        check_name("user attribute", key)
        self.user_attrs[key] = json_value("user attribute", key, value)

    def snapshot(self) -> FrozenTrial:
        """The running trial as a :class:`FrozenTrial` (what pruners see), as
        :meth:`hpopt.Trial.snapshot`."""
        return FrozenTrial(
            number=self.number,
            state=TrialState.RUNNING,
            values=None,
            params=FrozenDict(self.params),
            distributions=FrozenDict(self.distributions),
            intermediate_values=FrozenDict(self._inter),
            user_attrs=FrozenDict({k: deep_freeze(v) for k, v in self.user_attrs.items()}),
        )

    def _reach(self) -> _Reached | None:
        """The storage, study view and pruner to prune with (looked up once per trial), or None
        when this worker cannot open them (``unreachable`` then says why)."""
        if self._reached is None:
            got = _reach(self._link)  # type: ignore[arg-type]
            if isinstance(got, str):
                self.unreachable, self._reached = got, False
            else:
                self._reached = got
        return self._reached or None  # type: ignore[return-value]


def _kept(stored: Any) -> Any:
    """A validated report as the trial keeps it (several objectives: a tuple)."""
    return tuple(stored) if isinstance(stored, (list, tuple)) else stored


def _finished_message(storage: Storage, link: _Link, number: int) -> str:
    """What a worker's report or should_prune says about a trial the caller has finished."""
    rec = storage._trial(link.sid, number)
    why = rec.sys.get("fail_reason")
    if why == "stale":
        why = (f"failed as stale: no heartbeat for {rec.sys.get('hpopt.silent_for')} s, more than the "
               "study's grace period")
    state = rec.state.name + (f", {why}" if why else "")
    return (
        f"trial {number} of study {link.study_name!r} is already finished ({state}); a finished "
        "trial never changes (this worker's report or should_prune is refused)."
    )


# -- the worker side's storages: opened once per process ------------------------------------------
_cache_lock = threading.Lock()
_stores: dict[str, Storage | str] = {}  # url -> the storage, or why it could not be opened
_histories: dict[tuple[str, int], History] = {}  # (url, study id) -> the study's view
_pruners: dict[bytes, Pruner | str] = {}  # pickled pruner -> the pruner, or why it did not unpickle


def _reset_worker_cache() -> None:
    """Forget the worker side's storages (in a forked child: the parent's are not ours to use;
    its lock may have been held by another thread at the fork)."""
    global _cache_lock
    _cache_lock = threading.Lock()
    _stores.clear()
    _histories.clear()
    _pruners.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_worker_cache)


def _reach(link: _Link) -> _Reached | str:
    """The storage, study view and pruner a worker prunes with for ``link``, or why it cannot.

    In the caller's process (an unpickled task) these are the caller's own. Elsewhere the storage
    is opened from ``link.url`` once per process and kept (with one study view per study and one
    pruner per pickled pruner, so their caches serve every later task); a failure to open it is
    kept too, so a worker retries nothing per report.
    """
    if link.local is not None:
        return link.local
    with _cache_lock:
        store = _stores.get(link.url)
        if store is not None and not isinstance(store, str) and _study_of(store, link) is not None:
            # The URL holds another study now than when this worker opened it (a SQLite file
            # deleted and made again: the kept handle still reads the old, unlinked file): open the
            # URL again, else reports go to the old store and pruning asks the old trials.
            _forget(link.url, store)
            store = None
        if store is None:
            store = _stores[link.url] = _open(link.url)
        if isinstance(store, str):
            return store
        key = (link.url, link.sid)
        history = _histories.get(key)
        if history is None:
            why = _study_of(store, link)
            if why is not None:
                return why
            history = _histories[key] = History(store, link.sid)
        pruner = _pruners.get(link.pruner_blob)
        if pruner is None:
            try:
                pruner = pickle.loads(link.pruner_blob)
            except Exception as exc:  # noqa: BLE001  (a class missing on this worker, ...)
                pruner = f"the pruner does not unpickle here: {type(exc).__name__}: {exc}"
            _pruners[link.pruner_blob] = pruner
        if isinstance(pruner, str):
            return pruner
    return store, history, pruner


def _study_of(store: Storage, link: _Link) -> str | None:
    """None when ``store`` holds ``link``'s study (its name and, when known, its creation time),
    else why not."""
    try:
        store.sync()
        rec = store._study(link.sid)
    except Exception as exc:  # noqa: BLE001  (StudyNotFoundError, StorageError, ...)
        return f"{type(exc).__name__}: {exc}"
    if rec.name != link.study_name:
        return f"study id {link.sid} in {redact_url(link.url)} is {rec.name!r}, not {link.study_name!r}"
    if link.created is not None and rec.created != link.created:
        return (f"study {link.study_name!r} in {redact_url(link.url)} is not the caller's (created at "
                f"{rec.created}, the caller's at {link.created}: the store was made again)")
    return None


def _forget(url: str, store: Storage) -> None:
    """Drop the worker's handle on ``url`` and the study views over it (called under the lock)."""
    del _stores[url]
    for key in [k for k in _histories if k[0] == url]:
        del _histories[key]
    try:
        store.close()
    except Exception:  # noqa: BLE001, S110  (closing a handle on a deleted file: nothing to keep)
        pass


def _open(url: str) -> Storage | str:
    """The storage at ``url``, or why it cannot be opened. A SQLite file that does not exist here
    (a worker on another machine) is not created: that would be a new, empty store."""
    from hpopt.storage import Storage, open_storage

    if url.partition("://")[0].lower() == "sqlite":
        from urllib.parse import unquote

        from hpopt.storage.sqlite import SQLiteBackend

        base, _, query = url.partition("?")
        path = unquote(SQLiteBackend.path_from_url(base))  # as _worker_url escaped it
        if not os.path.exists(path):
            return f"the SQLite file {path!r} does not exist on this worker"
        sync = "normal" if "synchronous=normal" in query else "full"
        try:
            return Storage(SQLiteBackend(path, synchronous=sync))
        except Exception as exc:  # noqa: BLE001  (StorageError, sqlite3 errors, ...)
            return f"{type(exc).__name__}: {exc}"
    try:
        return open_storage(url)
    except Exception as exc:  # noqa: BLE001  (StorageError, ImportError of a driver, ...)
        return f"{type(exc).__name__}: {exc}"


def _worker_url(storage: Storage) -> str | None:
    """The URL a worker opens ``storage`` by (a SQLite path made absolute: workers may run in
    another folder), or None for a store only this process sees (memory)."""
    backend = storage._backend
    if not backend.shared or "://" not in storage.url:
        return None
    from hpopt.storage.sqlite import SQLiteBackend

    if isinstance(backend, SQLiteBackend):
        # An absolute path (four slashes), with '%', '?' and '#' escaped: a folder such as "run#3"
        # would otherwise be cut there as a URL fragment or query (decoded by _open).
        path = backend.path.replace("%", "%25").replace("?", "%3F").replace("#", "%23")
        url = "sqlite:///" + path
        return url if backend.synchronous == "full" else f"{url}?synchronous={backend.synchronous}"
    return storage.url


def _link_for(study: Study, executor: Executor) -> _Link | None:
    """What the tasks of ``study`` carry for pruning in workers, or None: no pruner (nop), a store
    workers cannot open (memory), or a pruner that does not pickle (with a warning)."""
    pruner = study.pruner
    if isinstance(pruner, NopPruner) and type(pruner).prune is NopPruner.prune:
        return None
    url = _worker_url(study._storage)
    if url is None:
        return None
    blob = b""
    if not isinstance(executor, ThreadPoolExecutor):  # threads use the caller's pruner itself
        try:
            blob = pickle.dumps(pruner)
            pickle.loads(blob)
        except Exception as exc:  # noqa: BLE001  (PicklingError, TypeError, AttributeError, ...)
            warnings.warn(
                f"the pruner {pruner!r} does not pickle ({type(exc).__name__}: {exc}), so executor "
                "workers cannot use it: should_prune() answers False there and reports are recorded "
                "when each result comes back.",
                HpoptWarning,
                stacklevel=5,  # the caller of Study.optimize
            )
            return None
    return _Link(url, study.study_name, study._sid, len(study.directions), blob,
                 (study._storage, study._history, pruner), study._storage._study(study._sid).created)


_MISSING = object()


class RemoteError(RuntimeError):
    """An exception of the objective that cannot travel back from a worker as itself.

    An exception that does not pickle (it holds a lock, a socket, ...) or does not unpickle (a
    custom ``__init__`` with required arguments that ``args`` does not carry) would break the
    executor (a process pool dies of it). It comes back as this stand-in instead, which keeps the
    original's message and the qualified names of its classes, so that ``optimize(catch=...)``
    still decides as it would for the original.

    Attributes:
        type_name: The original exception's class name.
        message: ``str()`` of the original exception.
        mro: ``module.qualname`` of every class of the original exception.
    """

    def __init__(self, type_name: str, message: str, mro: tuple[str, ...]) -> None:
        super().__init__(type_name, message, mro)
        self.type_name, self.message, self.mro = type_name, message, tuple(mro)

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}"

    @classmethod
    def of(cls, exc: BaseException) -> RemoteError:
        """The stand-in for ``exc``."""
        return cls(type(exc).__name__, str(exc), tuple(_qualname(c) for c in type(exc).__mro__))


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _travels(exc: BaseException) -> bool:
    """Whether ``exc`` survives a pickle round trip (what a process or Dask worker does to it)."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001  (PicklingError, TypeError from __init__, AttributeError, ...)
        return False
    return True


def _plain(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """User attributes as plain JSON values (the trial's are frozen), for the trip to a worker."""
    return json.loads(json.dumps(attrs)) if attrs else None


def _caught(exc: BaseException, catch: tuple[type, ...]) -> bool:
    """``isinstance(exc, catch)``, also for a :class:`RemoteError` standing in for the original."""
    if isinstance(exc, catch):
        return True
    if isinstance(exc, RemoteError):
        return any(_qualname(c) in exc.mro for c in catch)
    return False


def _reason(exc: BaseException) -> str:
    """The fail reason a trial records (the original's type and message for a stand-in)."""
    return str(exc) if isinstance(exc, RemoteError) else f"{type(exc).__name__}: {exc}"


def _evaluate(
    func: Callable[[Any], Any],
    number: int,
    proposals: dict[str, Any],
    link: _Link | None = None,
    prior: dict[int, Any] | None = None,
    user: dict[str, Any] | None = None,
) -> tuple[str, Any, RemoteTrial]:
    """Run the objective in a worker; never raises (the outcome says what happened).

    ``prior``: the reports earlier runs of this trial wrote to the store (see :class:`RemoteTrial`).
    ``user``: the user attributes the trial was enqueued with (``trial.user_attrs`` shows them).
    """
    trial = RemoteTrial(number, proposals, link=link, prior=prior, user=user)
    try:
        result = func(trial)
    except _NeedParam as need:
        return "need", (need.name, need.dist), trial
    except TrialPruned:
        return "pruned", None, trial
    except Exception as exc:  # noqa: BLE001  (travels back to the caller, which decides)
        # A round trip, not only dumps: an exception that pickles but does not unpickle would
        # otherwise break the executor in the caller (a process pool dies of it).
        return "error", (exc if _travels(exc) else RemoteError.of(exc)), trial
    return "value", result, trial


def _proposals(study: Study, trial: Trial) -> dict[str, Any]:
    """Values for every parameter the study knows: the trial's plan, plus independent draws."""
    proposals = dict(trial._plan)
    proposals.update(trial._fixed)
    proposals.update(trial._params)
    known = study._storage._study(study._sid).dists
    info = TrialInfo(trial.number, {}, {}, trial._fixed)
    for name, dist in list(known.items()):
        if name not in proposals:
            try:
                proposals[name] = study.sampler.sample(study._history, info, name, dist)
            except ValueError:
                continue  # e.g. the grid has no such name: the worker will ask if it needs it
    return proposals


def resolve_executor(executor: Any, n_jobs: int) -> tuple[Executor, bool]:
    """An Executor for ``executor`` ("process" builds a ProcessPoolExecutor); whether we own it."""
    if executor == "process":
        return ProcessPoolExecutor(max_workers=n_jobs), True
    if isinstance(executor, Executor) or (hasattr(executor, "submit") and hasattr(executor, "shutdown")):
        return executor, False
    raise TypeError(
        f"`executor` must be a concurrent.futures.Executor (e.g. Dask's Client.get_executor()) or "
        f"'process', but got {executor!r}."
    )


def optimize_with_executor(
    study: Study,
    func: Callable[[Any], Any],
    budget: _Budget,
    catch: tuple[type, ...],
    callbacks: list[Callable[[Study, FrozenTrial], None]],
    executor: Executor,
    max_pending: int,
) -> None:
    """The caller's loop: keep ``max_pending`` trials in flight, tell each as it comes back."""
    if isinstance(executor, ProcessPoolExecutor):  # refused before any trial is asked (G6)
        from multiprocessing.reduction import ForkingPickler

        try:
            ForkingPickler.dumps(func)
        except Exception as exc:  # noqa: BLE001  (PicklingError, AttributeError, TypeError, ...)
            raise TypeError(
                f"`func` must be picklable to run in a process pool (a module-level function, not a "
                f"lambda or a local function), but pickling {func!r} failed: {exc}"
            ) from None
    link = _link_for(study, executor)
    unreachable_warned = False
    # future -> (trial, proposals, reports earlier runs of the trial wrote to the store)
    pending: dict[Future, tuple[Trial, dict[str, Any], dict[int, Any]]] = {}
    exhausted = False
    try:
        while True:
            while not exhausted and not study._stop_flag and len(pending) < max_pending and budget.take():
                study._storage.sync()
                if study._exhausted():
                    exhausted = True
                    break
                try:
                    trial = study.ask()
                except SearchSpaceExhausted:
                    if study._exhausted():
                        exhausted = True
                        break
                    continue  # an enqueued trial the sampler could not complete was failed
                proposals = _proposals(study, trial)
                fut = executor.submit(_evaluate, func, trial.number, proposals, link, None,
                                      _plain(trial.user_attrs))
                pending[fut] = (trial, proposals, {})
            if not pending:
                return
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                trial, proposals, prior = pending.pop(fut)
                try:
                    kind, payload, remote = fut.result()
                except BaseException as exc:  # SystemExit/KeyboardInterrupt in the worker, a dead
                    # process pool, a cancelled future: the trial is no longer in `pending`, so
                    # fail it here (G6: optimize never leaves a trial RUNNING), then stop.
                    reason = f"{type(exc).__name__}: {exc}"
                    study._finish(trial.number, trial, TrialState.FAIL, None, reason, True)
                    raise
                if remote.unreachable is not None and not unreachable_warned:
                    unreachable_warned = True
                    warnings.warn(
                        f"an executor worker cannot reach the storage {redact_url(link.url)} of study "
                        f"{study.study_name!r} ({remote.unreachable}): should_prune() answers False "
                        "there and its reports are recorded when each result comes back.",
                        HpoptWarning,
                        stacklevel=4,
                    )
                if kind == "need":
                    name, dist = payload
                    prior.update((s, v) for s, v in remote.reports if s in remote._written)
                    try:
                        proposals[name] = trial.suggest(name, dist)
                    except (ValueError, TypeError) as exc:
                        ft = _record(study, trial, remote, "error", exc, catch)
                    else:
                        fut = executor.submit(_evaluate, func, trial.number, proposals, link, prior,
                                              _plain(trial.user_attrs))
                        pending[fut] = (trial, proposals, prior)
                        continue
                else:
                    ft = _record(study, trial, remote, kind, payload, catch)
                for cb in callbacks:
                    cb(study, ft)
    except BaseException:
        study._stop_flag = True
        for fut, (trial, _, _) in pending.items():
            fut.cancel()
            study._finish(trial.number, trial, TrialState.FAIL, None, "optimize() was interrupted", True)
        raise


def _record(
    study: Study, trial: Trial, remote: RemoteTrial, kind: str, payload: Any, catch: tuple[type, ...]
) -> FrozenTrial:
    """Replay what the worker did on the caller's trial, then tell the outcome.

    Reports the worker wrote to the store are not written again: the caller's handle only learns
    them (a PRUNED trial's value is its last report).
    """
    try:
        for name, dist in remote.distributions.items():
            trial._plan[name] = remote.params[name]
            trial.suggest(name, dist)
        for key, value in remote.user_attrs.items():
            trial.set_user_attr(key, value)
        for step, value in remote.reports:
            if step in remote._written:  # in the store already: the caller's handle only learns it
                trial._inter[step] = _kept(value)
            else:
                trial.report(value, step)
    except (ValueError, TypeError) as exc:  # what the objective did was invalid: as if it raised
        kind, payload = "error", exc
    if kind == "error":
        exc = payload
        study._finish(trial.number, trial, TrialState.FAIL, None, _reason(exc), True)
        if not _caught(exc, catch):
            raise exc
        return study._storage.trial(study._sid, trial.number)
    if kind == "pruned":
        return study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
    return study._conclude(trial, payload, catch)


def default_pending(executor: Executor, n_jobs: int) -> int:
    """How many trials to keep in flight: n_jobs, else the executor's worker count, else CPUs."""
    if n_jobs > 1:
        return n_jobs
    workers = getattr(executor, "_max_workers", None)
    return int(workers) if workers else (os.cpu_count() or 1)
