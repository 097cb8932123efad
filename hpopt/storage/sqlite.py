"""SQLite journal backend (standard-library ``sqlite3``): several processes on one machine.

URL: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``, with an optional
``?synchronous=normal``.

Durability (promise G1 of the reliability spec):

* default ``synchronous=full``: WAL journal, every commit is fsynced before ``tell`` returns, so an
  acknowledged result survives SIGKILL *and* power loss. A trial costs two commits (ask, tell).
* ``synchronous=normal``: WAL without an fsync per commit; survives a crashed or killed process but
  the last commits may be lost on power loss. Several times faster on slow disks.

Writers serialize with ``BEGIN IMMEDIATE``; a busy database is waited for (with back-off) rather
than reported as "database is locked".
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hpopt.errors import StorageError
from hpopt.storage.journal import JournalBackend, decode_op, encode_op

__all__ = ["SQLiteBackend", "SCHEMA_VERSION"]

#: Version of the on-disk layout; bumped when the layout changes (with an upgrade path).
SCHEMA_VERSION = 1
#: Trial numbers per query of ``beats_of`` (old SQLite builds allow 999 bound parameters).
_BEATS_CHUNK = 500
#: How long a writer waits for the database lock before giving up (seconds).
_LOCK_WAIT = 600.0


#: ``MIGRATIONS[v](connection)`` turns schema version ``v`` into ``v + 1`` (none yet: version 1
#: is the first released layout).
MIGRATIONS: dict[int, Any] = {}


def upgrade(url: str) -> tuple[int, int]:
    """Bring the SQLite store at ``url`` to this hpopt's schema version; returns (old, new).

    Raises:
        StorageError: Not an hpopt store, or written by a newer hpopt.
    """
    path = SQLiteBackend.path_from_url(url)
    if not os.path.exists(path):
        raise StorageError(f"no SQLite storage at {path!r}.")
    if os.path.isdir(path):
        raise StorageError(f"{path!r} is a folder, not a SQLite storage file.")
    try:
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open SQLite storage {path!r}: {exc}") from exc
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")  # a file that is no database fails here already
            row = conn.execute("SELECT value FROM hpopt_meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise
            raise StorageError(f"{path!r} is not an hpopt storage: {exc}") from exc
        old = version = int(row[0])
        if version > SCHEMA_VERSION:
            conn.execute("ROLLBACK")
            raise StorageError(
                f"{path!r} has schema version {version}, newer than this hpopt's {SCHEMA_VERSION}; "
                "upgrade hpopt."
            )
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](conn)
            version += 1
        conn.execute("UPDATE hpopt_meta SET value = ? WHERE key='schema_version'", (str(version),))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return old, version


def _is_busy(exc: sqlite3.Error) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


class SQLiteBackend(JournalBackend):
    """A journal kept in one SQLite table.

    Args:
        path: File path of the database (created if missing; its folder must exist).
        synchronous: ``"full"`` (power-loss safe, default) or ``"normal"`` (process-crash safe).
    """

    shared = True

    def __init__(self, path: str, *, synchronous: str = "full") -> None:
        if synchronous not in ("full", "normal"):
            raise ValueError(
                f"`synchronous` must be 'full' or 'normal', but got synchronous={synchronous!r}."
            )
        self.path = os.path.abspath(path)
        self.synchronous = synchronous
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder):
            raise StorageError(f"cannot open SQLite storage {self.path!r}: folder {folder!r} does not exist.")
        self.url = "sqlite:///" + path + ("" if synchronous == "full" else "?synchronous=normal")
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._conn()  # open now so that a bad file is reported at once

    @staticmethod
    def path_from_url(url: str) -> str:
        """The file path of a ``sqlite:///`` URL."""
        parts = urlsplit(url)
        if parts.scheme != "sqlite" or not parts.path.startswith("/") or parts.netloc or len(parts.path) < 2:
            raise ValueError(
                f"a SQLite storage URL looks like 'sqlite:///relative.db' or 'sqlite:////abs/path.db', "
                f"but got {url!r}."
            )
        return parts.path[1:]

    @classmethod
    def from_url(cls, url: str) -> SQLiteBackend:
        """Build from ``sqlite:///path.db[?synchronous=normal]``."""
        parts = urlsplit(url)
        if parts.scheme != "sqlite" or not parts.path.startswith("/") or parts.netloc:
            raise ValueError(
                f"a SQLite storage URL looks like 'sqlite:///relative.db' or 'sqlite:////abs/path.db', "
                f"but got {url!r}."
            )
        path = parts.path[1:]
        if not path:
            raise ValueError(f"the SQLite storage URL {url!r} names no file.")
        if path == ":memory:":
            raise ValueError(
                f"the SQLite storage URL {url!r} names SQLite's in-memory database, which each "
                "connection (thread, worker) would see empty; use storage=None for a study in memory."
            )
        query = parse_qs(parts.query)
        unknown = set(query) - {"synchronous"}
        if unknown:
            raise ValueError(
                f"unknown SQLite storage options {sorted(unknown)} in {url!r} (known: synchronous)."
            )
        sync = query.get("synchronous", ["full"])[-1].lower()
        return cls(path, synchronous=sync)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "synchronous": self.synchronous, "url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._db = None
        self._pid = os.getpid()

    # -- connection ---------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        # One connection, used under the owning Storage's lock; reopened after a fork.
        conn = self._db
        if conn is not None and self._pid == os.getpid():
            return conn
        self._pid = os.getpid()
        existed = os.path.exists(self.path)
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
            conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            self._prepare(conn)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open SQLite storage {self.path!r}: {exc}") from exc
        if not existed:
            _fsync_dir(os.path.dirname(self.path))
        self._db = conn
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        def setup() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS hpopt_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS hpopt_ops (id INTEGER PRIMARY KEY, op TEXT NOT NULL)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS hpopt_beats "
                    "(s INTEGER NOT NULL, n INTEGER NOT NULL, t REAL NOT NULL, PRIMARY KEY (s, n))"
                )
                row = conn.execute("SELECT value FROM hpopt_meta WHERE key='schema_version'").fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO hpopt_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            version = int(row[0]) if row is not None else SCHEMA_VERSION
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path!r} was written by a newer hpopt (schema version {version}); this "
                    f"hpopt reads schema version {SCHEMA_VERSION}. Upgrade hpopt."
                )
            if version < SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path!r} has schema version {version}, older than this hpopt's "
                    f"{SCHEMA_VERSION}; run `hpopt storage upgrade sqlite:///{self.path}`."
                )

        self._retry(setup)

    @staticmethod
    def _retry(fn: Any) -> Any:
        deadline = time.monotonic() + _LOCK_WAIT
        delay = 0.001
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.05)

    def close(self) -> None:
        if self._db is not None and self._pid == os.getpid():
            self._db.close()
        self._db = None

    # -- journal ------------------------------------------------------------------------------
    def read(self, after: int) -> list[tuple[int, dict[str, Any]]]:
        try:
            # As bytes: a record that is not UTF-8 is reported below with its id.
            rows = self._retry(
                lambda: self._conn().execute(
                    "SELECT id, CAST(op AS BLOB) FROM hpopt_ops WHERE id > ? ORDER BY id", (after,)
                ).fetchall()
            )
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise
            raise StorageError(
                f"cannot read SQLite storage {self.path!r} after journal id {after}: {exc} "
                "(the file is damaged; `PRAGMA integrity_check` tells where)."
            ) from exc
        out = []
        for op_id, raw in rows:
            try:
                out.append((op_id, decode_op(raw.decode("utf-8"))))
            except (ValueError, KeyError, TypeError) as exc:
                raise StorageError(
                    f"corrupt record in {self.path!r} at journal id {op_id}: {exc}"
                ) from exc
        return out

    @contextmanager
    def write(self) -> Iterator[SQLiteBackend]:
        conn = self._conn()
        self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            yield self
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            self._retry(lambda: conn.execute("COMMIT"))
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def beat(self, sid: int, number: int) -> None:
        conn = self._conn()
        self._retry(
            lambda: conn.execute(
                "INSERT OR REPLACE INTO hpopt_beats (s, n, t) VALUES (?, ?, ?)", (sid, number, time.time())
            )
        )

    def beats(self, sid: int) -> dict[int, float]:
        rows = self._retry(
            lambda: self._conn().execute("SELECT n, t FROM hpopt_beats WHERE s = ?", (sid,)).fetchall()
        )
        return dict(rows)

    def beats_of(self, sid: int, numbers: Collection[int]) -> dict[int, float]:
        # Primary-key lookups of just these trials (in chunks: SQLite caps bound parameters).
        wanted = list(numbers)
        out: dict[int, float] = {}
        for i in range(0, len(wanted), _BEATS_CHUNK):
            chunk = wanted[i:i + _BEATS_CHUNK]
            sql = f"SELECT n, t FROM hpopt_beats WHERE s = ? AND n IN ({','.join('?' * len(chunk))})"
            out.update(self._retry(
                lambda sql=sql, chunk=chunk: self._conn().execute(sql, (sid, *chunk)).fetchall()
            ))
        return out

    def append(self, ops: list[dict[str, Any]]) -> int:
        conn = self._conn()
        last = 0
        for op in ops:
            last = conn.execute("INSERT INTO hpopt_ops (op) VALUES (?)", (encode_op(op),)).lastrowid
        return last


def _fsync_dir(folder: str) -> None:
    """Make the new file's directory entry durable (power-loss safety of a new database)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
