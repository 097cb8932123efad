"""Opening studies: :func:`create_study`, :func:`load_study`, :func:`delete_study`, :func:`study_names`,
:func:`copy_study`.

Every argument is validated before anything is written; the study itself lives in
:mod:`hpopt.study`.
"""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from hpopt.errors import DuplicatedStudyError, HpoptWarning, StudyNotFoundError
from hpopt.pruners.base import NopPruner, Pruner
from hpopt.records import TrialState
from hpopt.samplers.base import Sampler
from hpopt.storage import JournalBackend, Storage, open_storage
from hpopt.storage.journal import GRACE_KEY, RETRY_KEY, redact_url
from hpopt.study import Study, _opt_count
from hpopt.trial import check_name, real_value

__all__ = ["create_study", "load_study", "delete_study", "study_names", "copy_study"]

_DIRECTIONS = ("minimize", "maximize")
#: The sampler of a study created or loaded without one (the best mean rank in benchmarks/RESULTS.md,
#: "Automatic sampler"); ``sampler="random"`` etc. choose another.
DEFAULT_SAMPLER = "auto"


def _directions(direction: Any, directions: Any) -> tuple[str, ...] | None:
    if direction is not None and directions is not None:
        raise ValueError("give `direction` or `directions`, not both.")
    if directions is None:
        if direction is None:
            return None
        directions = [direction]
    if isinstance(directions, str) or not isinstance(directions, Sequence) or not directions:
        raise ValueError(f"`directions` must be a non-empty list, but got {directions!r}.")
    out = []
    for d in directions:
        if not isinstance(d, str) or d.lower() not in _DIRECTIONS:
            raise ValueError(f"each direction must be 'minimize' or 'maximize', but got {d!r}.")
        out.append(d.lower())
    return tuple(out)


def _resolve_sampler(sampler: Any, seed: Any) -> Sampler:
    from hpopt.plugins import make_sampler

    if sampler is None:
        return make_sampler(DEFAULT_SAMPLER, seed=seed)
    if isinstance(sampler, str):
        return make_sampler(sampler, seed=seed) if seed is not None else make_sampler(sampler)
    if not isinstance(sampler, Sampler):
        raise TypeError(
            f"`sampler` must be a registered name or an hpopt.Sampler instance, but got {sampler!r}."
        )
    if seed is not None:
        raise ValueError("`seed` seeds a sampler chosen by name; seed the sampler instance itself.")
    return sampler


def _resolve_pruner(pruner: Any) -> Pruner:
    from hpopt.plugins import make_pruner

    if pruner is None:
        return NopPruner()
    if isinstance(pruner, str):
        return make_pruner(pruner)
    if not isinstance(pruner, Pruner):
        raise TypeError(
            f"`pruner` must be a registered name or an hpopt.Pruner instance, but got {pruner!r}."
        )
    return pruner


def create_study(
    *,
    study_name: str | None = None,
    storage: Any = None,
    sampler: Sampler | str | None = None,
    pruner: Pruner | str | None = None,
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    seed: int | np.random.Generator | None = None,
    load_if_exists: bool = False,
    heartbeat_interval: float | None = None,
    grace_period: float | None = None,
    max_retry: int | None = None,
) -> Study:
    """Create a study (or continue one with ``load_if_exists``).

    Args:
        study_name: A unique name in the storage (default: a random one).
        storage: None (in memory), a URL such as ``"sqlite:///study.db"``, or a Storage.
        sampler: A sampler instance or a registered name (default ``"auto"``: it picks the GP,
            TPE, CMA-ES or NSGA-II from the space, objectives and trials; see
            :mod:`hpopt.samplers.auto`).
        pruner: A pruner instance or a registered name (default: never prune).
        direction: ``"minimize"`` (default) or ``"maximize"``.
        directions: One direction per objective, for several objectives.
        seed: Seeds a sampler chosen by name (or the default one).
        load_if_exists: Continue an existing study of that name instead of raising.
        heartbeat_interval: Seconds between heartbeats of this worker's open trials (off when None).
        grace_period: A RUNNING trial with no heartbeat for this long is failed as "stale" by the
            next worker that asks (default ``2 * heartbeat_interval``). Stored with the study, so
            every worker agrees; another value for an existing study is an error.
        max_retry: How many times a stale trial's parameters are enqueued again (stored with the
            study; default 0).

    Raises:
        ValueError, TypeError: Invalid arguments (nothing is written).
        DuplicatedStudyError: The name exists and ``load_if_exists`` is False.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study(direction="maximize", sampler="random", seed=3)
        >>> study.optimize(lambda t: -t.suggest_float("x", -1, 1) ** 2, n_trials=10)
        >>> len(study.trials)
        10
    """
    if not isinstance(load_if_exists, (bool, np.bool_)):
        raise TypeError(f"`load_if_exists` must be a bool, but got load_if_exists={load_if_exists!r}.")
    dirs = _directions(direction, directions)
    if study_name is None:
        study_name = f"study-{uuid.uuid4().hex}"
    check_name("study", study_name)
    beat = _heartbeat_settings(heartbeat_interval, grace_period, max_retry)
    the_sampler = _resolve_sampler(sampler, seed)
    the_sampler.check_study(dirs or ("minimize",))
    the_pruner = _resolve_pruner(pruner)
    store = open_storage(storage)
    sid = store.create_study(study_name, dirs, load_if_exists=bool(load_if_exists))
    if dirs is None:  # an existing study loaded with its own directions: check them as load_study does
        the_sampler.check_study(store.directions(sid))
    _store_heartbeat_settings(store, sid, beat)
    return Study(store, sid, the_sampler, the_pruner, heartbeat_interval=beat[0])


def load_study(
    study_name: str,
    storage: Any,
    *,
    sampler: Sampler | str | None = None,
    pruner: Pruner | str | None = None,
    seed: int | np.random.Generator | None = None,
    heartbeat_interval: float | None = None,
    grace_period: float | None = None,
    max_retry: int | None = None,
) -> Study:
    """Open an existing study (arguments as in :func:`create_study`).

    Raises:
        StudyNotFoundError: No study of that name (the known names are listed).
    """
    check_name("study", study_name)
    beat = _heartbeat_settings(heartbeat_interval, grace_period, max_retry)
    the_sampler = _resolve_sampler(sampler, seed)
    the_pruner = _resolve_pruner(pruner)
    _refuse_missing_store(study_name, storage)
    store = open_storage(storage)
    sid = store.study_id(study_name)
    the_sampler.check_study(store.directions(sid))
    _store_heartbeat_settings(store, sid, beat)
    return Study(store, sid, the_sampler, the_pruner, heartbeat_interval=beat[0])


def _missing_store(storage: Any) -> str | None:
    """Why a storage URL holds no store at all ("there is no SQLite storage at ..."), found without
    opening it (which would create an empty SQLite file, or hpopt's tables in a PostgreSQL
    database); None when it may hold one (or is no URL, or a malformed one: open_storage names that)."""
    if not isinstance(storage, str):
        return None
    scheme = storage.partition("://")[0].split("+")[0].lower()
    if scheme == "sqlite":
        from hpopt.storage.sqlite import SQLiteBackend

        try:
            path = SQLiteBackend.path_from_url(storage.split("?", 1)[0])
        except ValueError:
            return None
        if not os.path.exists(path):
            return f"there is no SQLite storage at {path!r}"
    elif scheme in ("postgresql", "postgres"):
        from hpopt.storage.postgres import holds_store

        if not holds_store(storage):
            return f"the database {redact_url(storage)} holds no hpopt storage"
    return None


def _refuse_missing_store(study_name: str, storage: Any) -> None:
    """StudyNotFoundError for a storage URL that holds no store at all, before opening it."""
    why = _missing_store(storage)
    if why is not None:
        raise StudyNotFoundError(f"no study named {study_name!r}: {why}.")


def _heartbeat_settings(
    interval: Any, grace: Any, max_retry: Any
) -> tuple[float | None, float | None, int | None]:
    """Validate heartbeat arguments (before anything is written)."""
    if interval is not None:
        interval = real_value("`heartbeat_interval`", interval)
        if not 0 < interval < math.inf:
            raise ValueError(f"`heartbeat_interval > 0` must hold, but got heartbeat_interval={interval!r}.")
        if interval > threading.TIMEOUT_MAX:  # the heartbeat thread waits this long between beats
            raise ValueError(
                f"`heartbeat_interval <= {threading.TIMEOUT_MAX:.0f}` (threading.TIMEOUT_MAX, the longest "
                f"wait this platform allows) must hold, but got heartbeat_interval={interval!r}."
            )
    if grace is not None:
        grace = real_value("`grace_period`", grace)
        if not 0 < grace < math.inf:
            raise ValueError(f"`grace_period > 0` must hold, but got grace_period={grace!r}.")
        if interval is not None and grace <= interval:
            raise ValueError(
                "`grace_period > heartbeat_interval` must hold (a live trial must be able to beat "
                f"within the grace period), but got grace_period={grace!r}, heartbeat_interval={interval!r}."
            )
    max_retry = _opt_count("max_retry", max_retry)
    return interval, grace, max_retry


def _store_heartbeat_settings(
    store: Storage, sid: int, settings: tuple[float | None, float | None, int | None]
) -> None:
    """Record the grace period and retry bound with the study; refuse disagreeing values.

    A worker that gives only ``heartbeat_interval`` adopts the stored grace period, or stores
    ``2 * heartbeat_interval`` when the study has none yet.
    """
    interval, grace, max_retry = settings
    stored = store.study_attrs(sid, "sys")
    derived = False  # a grace period this worker chose itself (2 * interval), not one it was given
    if grace is None and interval is not None:
        if stored.get(GRACE_KEY) is None:
            grace, derived = 2.0 * interval, True
        elif interval >= stored[GRACE_KEY]:
            raise ValueError(
                f"`heartbeat_interval < grace_period` must hold, but got heartbeat_interval={interval!r} "
                f"and the study's stored grace_period={stored[GRACE_KEY]!r}."
            )
    for key, value, label in ((GRACE_KEY, grace, "grace_period"), (RETRY_KEY, max_retry, "max_retry")):
        if value is None:
            continue
        old = stored.get(key)
        if old is None:
            # Check and write in one transaction: another worker may have stored its value since
            # `stored` was read, and every worker must end up agreeing with the stored one.
            old = store.set_study_attr_once(sid, "sys", key, value)
            if derived and key == GRACE_KEY and old != value and interval < old:
                continue  # adopted, as when the other worker's value had been read above
        if old != value:
            if derived and key == GRACE_KEY:
                raise ValueError(
                    f"`heartbeat_interval < grace_period` must hold, but got heartbeat_interval="
                    f"{interval!r} and the study's stored grace_period={old!r}."
                )
            raise ValueError(
                f"study {store.study_name(sid)!r} is stored with {label}={old!r}; this worker asked "
                f"for {label}={value!r}. Every worker must agree: pass {label}={old!r} or leave it unset."
            )


def delete_study(study_name: str, storage: Any) -> None:
    """Delete a study from a storage.

    Raises:
        TypeError, ValueError: ``study_name`` is not a valid name (as for :func:`load_study`).
        StudyNotFoundError: No study of that name (a storage URL that holds no store is left
            uncreated).
    """
    check_name("study", study_name)
    _refuse_missing_store(study_name, storage)
    open_storage(storage).delete_study(study_name)


def study_names(storage: Any) -> list[str]:
    """Names of the studies in a storage (``[]`` for a storage URL that holds no store yet, which
    is left uncreated)."""
    if _missing_store(storage) is not None:
        return []
    return open_storage(storage).study_names()



def copy_study(
    *,
    from_study_name: str,
    from_storage: Any,
    to_storage: Any,
    to_study_name: str | None = None,
) -> None:
    """Copy a study and all its trials to another storage (or under another name), as Optuna's
    ``copy_study`` does: e.g. a study run in memory or on a laptop's SQLite file moved to a
    shared PostgreSQL database, or a SQLite file migrated to another.

    The copy has the source's directions, user attributes and system attributes (the heartbeat
    grace period and retry bound), and every trial in every state, with the same numbers (in the
    same order), state, values, parameters, distributions, intermediate values, user and system
    attributes (stored constraint values, gradients and the samplers' notes included), start and
    finish times. ``best_trial`` and :func:`hpopt.export.to_records` of the copy equal the
    source's. Heartbeat rows (kept beside the journal) are not copied (see RUNNING trials below).

    RUNNING and WAITING trials are copied as they are, as Optuna does: a WAITING (enqueued) trial
    keeps its fixed parameters and is the copy's next ``ask``; a RUNNING trial stays RUNNING, but
    no worker of the copy owns it. One the source's heartbeats watched gets one heartbeat in the
    copy at copy time and none after, so the copy fails it as stale (and re-enqueues it within
    ``max_retry``) once the grace period has passed, as it would a dead worker's trial; one asked
    without heartbeats stays RUNNING, as in the source (finish it with ``tell(number,
    state="fail")`` through a study handle of the copy). A study being written while it is copied
    is copied as it stood when read.

    The copy is one write of the target storage: it appears whole or not at all. Nothing is
    written when an argument is invalid, the source does not exist or the target name is taken.
    The copy is a new study (created now); open it with :func:`load_study`.

    Why not one ``Study.add_trial`` per trial: that renumbers, recomputes constraint values with
    the target's sampler, drops the samplers' notes, refuses unfinished trials and costs one
    write (an fsync) per trial; a copy keeps everything verbatim in one write.

    Args:
        from_study_name: The name of the study to copy.
        from_storage: Its storage: a URL, or a Storage (``study.storage`` for a study in memory).
        to_storage: The storage to copy into: a URL (a new SQLite file is created) or a Storage
            (``study.storage`` of a study in memory).
        to_study_name: The copy's name (default: ``from_study_name``).

    Raises:
        TypeError, ValueError: A name that is not a valid study name, or a storage that is none of
            the accepted kinds (None included).
        StudyNotFoundError: No study ``from_study_name`` in ``from_storage`` (a storage URL that
            holds no store is left uncreated).
        DuplicatedStudyError: ``to_study_name`` exists in ``to_storage`` already.

    Example:
        >>> import hpopt
        >>> from hpopt.create import copy_study  # also hpopt.copy_study
        >>> study = hpopt.create_study(study_name="demo", sampler="random", seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
        >>> target = hpopt.create_study(study_name="other").storage  # reach an in-memory target
        >>> copy_study(from_study_name="demo", from_storage=study.storage, to_storage=target,
        ...            to_study_name="demo-copy")
        >>> copy = hpopt.load_study("demo-copy", target)
        >>> copy.best_trial == study.best_trial
        True
    """
    check_name("study", from_study_name)
    to_name = from_study_name if to_study_name is None else to_study_name
    check_name("study", to_name)
    for label, spec in (("from_storage", from_storage), ("to_storage", to_storage)):
        if spec is None:
            raise ValueError(
                f"`{label}` must be a storage URL or a Storage (for a study in memory, `study.storage`); "
                "None would be a new in-memory storage that nothing else can reach."
            )
        if not isinstance(spec, (str, Storage, JournalBackend)):  # named here, before any reading
            raise TypeError(
                f"`{label}` must be a storage URL such as 'sqlite:///study.db' or a Storage (for a "
                f"study in memory, `study.storage`), but got {spec!r} ({type(spec).__name__})."
            )
    _refuse_missing_store(from_study_name, from_storage)
    source = open_storage(from_storage)
    sid = source.study_id(from_study_name)  # synced
    with source._lock:  # a consistent snapshot (another thread of this process may be writing)
        st = source._study(sid)
        directions = list(st.directions)
        study_attrs = [("user", k, v) for k, v in st.user.items()]
        study_attrs += [("sys", k, v) for k, v in st.sys.items()]
        trials = [_copied_trial(rec) for rec in st.trials]
        # RUNNING trials the source's heartbeats watch: watched in the copy too (see below)
        watched = sorted(source._backend.beats_of(sid, list(st.running))) if st.sys.get(GRACE_KEY) else []
    target = open_storage(to_storage)

    def build() -> tuple[list[dict[str, Any]], Any]:
        model = target._model
        if to_name in model.by_name:
            raise DuplicatedStudyError(
                f"a study named {to_name!r} already exists in {redact_url(target.url)}; nothing was "
                "copied (delete it, or pass another `to_study_name`)."
            )
        new = model._next_sid  # the id the study op below gets when applied (ids are replayed in order)
        ops: list[dict[str, Any]] = [{"op": "study", "name": to_name, "dirs": directions, "t": time.time()}]
        ops += [{"op": "sattr", "s": new, "kind": kind, "k": k, "v": v} for kind, k, v in study_attrs]
        for number, (first, fin) in enumerate(trials):
            ops.append({**first, "s": new})
            if fin is not None:
                ops.append({**fin, "s": new, "n": number})

        def finalize(results: list[Any]) -> int:
            if results[0] != new:  # pragma: no cover - the model numbers studies as predicted here
                raise RuntimeError(f"copy_study: expected study id {new}, got {results[0]}.")
            return new

        return ops, finalize

    new_sid = target._transact(build)
    # One heartbeat now for each copied RUNNING trial that had one in the source: no worker of the
    # copy beats it again, so the copy's reaping fails it (and re-enqueues it within max_retry)
    # once the grace period has passed, as the source would for a dead worker's trial. A trial
    # that had no beat (heartbeats off when it was asked) stays RUNNING in the copy, as there.
    try:
        for number in watched:
            target.beat(new_sid, number)
    except Exception as exc:  # noqa: BLE001  (the copy is complete; only its reaping is lost)
        warnings.warn(
            f"copy_study: the copy {to_name!r} is complete, but its RUNNING trials {watched} got no "
            f"heartbeat ({type(exc).__name__}: {exc}), so they are never failed as stale; finish them "
            "with tell(number, state='fail') if their workers are gone.",
            HpoptWarning,
            stacklevel=2,
        )


def _copied_trial(rec: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The journal operations that recreate the model record ``rec`` verbatim in another study:
    the ``trial`` operation (RUNNING with its start time, or WAITING) and, for a finished trial,
    the ``fin`` operation (without study id and number, filled in by :func:`copy_study`)."""
    waiting = rec.state is TrialState.WAITING
    first: dict[str, Any] = {"op": "trial", "state": "WAITING" if waiting else "RUNNING",
                             "t": None if waiting else rec.started}
    payload: dict[str, Any] = {}
    if rec.params:
        payload["params"] = dict(rec.params)
        payload["dists"] = dict(rec.dists)
    if rec.user:
        payload["user"] = dict(rec.user)
    if rec.sys:
        payload["sys"] = dict(rec.sys)
    if rec.inter:
        payload["rep"] = [[s, list(v) if isinstance(v, tuple) else v] for s, v in rec.inter.items()]
    if rec.fixed:
        first["fixed"] = dict(rec.fixed)
    if not rec.state.is_finished():
        return {**first, **payload}, None
    fin = {"op": "fin", "state": rec.state.name, "values": None if rec.values is None else list(rec.values),
           "t": rec.finished, **payload}
    return first, fin
