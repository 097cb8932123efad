"""PostgreSQL journal backend (psycopg 3, extra ``postgres``): many workers on many machines.

URL: ``postgresql://user:password@host:port/database`` (``postgres://`` works too, and so does a
driver suffix such as ``postgresql+psycopg://``; options of libpq may follow ``?``).

The journal is one table; writers serialize on a transaction-scoped advisory lock, so a worker that
has caught up under the lock sees every operation before its own, and operation ids grow in commit
order. Commits are durable when the server's ``fsync``/``synchronous_commit`` are on (PostgreSQL's
defaults). A dropped connection during a write raises
:class:`~hpopt.storage.journal.RetryableStorageError`; the storage retries on a new connection and
recognises, by the write's token, a commit that went through before the connection dropped, so a
``tell`` is stored exactly once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from hpopt.errors import StorageError
from hpopt.storage.journal import (
    JournalBackend,
    RetryableStorageError,
    decode_op,
    encode_op,
    redact_url,
)

__all__ = ["PostgresBackend", "SCHEMA_VERSION", "holds_store"]

SCHEMA_VERSION = 1
#: A read outside a write transaction is tried this often, with back-off (about 5 s in all), so
#: that a server restart or fail-over does not reach the user.
_READ_ATTEMPTS = 8
#: Advisory-lock key that serializes writers of hpopt's journal in one database.
_LOCK_KEY = 0x6870_6F70_7401  # "hpopt" + 1


#: ``MIGRATIONS[v](connection)`` turns schema version ``v`` into ``v + 1`` (none yet).
MIGRATIONS: dict[int, Any] = {}


def _libpq_url(url: str) -> str:
    """``url`` as libpq reads it: libpq knows only the lower-case schemes and no driver suffix.

    Raises:
        ValueError: Not a ``postgresql://`` or ``postgres://`` URL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0].lower() not in ("postgresql", "postgres"):
        raise ValueError(
            f"a PostgreSQL storage URL looks like 'postgresql://user@host:port/database', "
            f"but got {redact_url(url)!r}."
        )
    return "postgresql://" + rest


def _psycopg() -> Any:
    """The psycopg module, or a StorageError naming the extra that installs it."""
    try:
        import psycopg
    except ImportError as exc:
        raise StorageError("the PostgreSQL storage needs psycopg 3: pip install 'hpopt[postgres]'.") from exc
    return psycopg


def _connect(url: str, timeout: float, **options: Any) -> Any:
    """A psycopg connection to ``url``; every failure is an hpopt error without the password.

    ``timeout`` bounds the wait for an unreachable server (seconds) unless the URL gives its own
    ``connect_timeout``.

    Raises:
        ValueError: libpq cannot parse the URL (an unknown option, a bad port, ...).
        StorageError: The server cannot be reached or refuses the connection.
    """
    psycopg = _psycopg()
    from psycopg.conninfo import conninfo_to_dict

    safe = redact_url(url)
    target = _libpq_url(url)

    def scrub(exc: Exception) -> str:  # libpq may quote the URL it could not parse
        return " ".join(str(exc).replace(target, safe).replace(url, safe).split())

    try:
        if "connect_timeout" not in conninfo_to_dict(target):
            options["connect_timeout"] = max(1, round(timeout))
        return psycopg.connect(target, **options)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"invalid PostgreSQL storage URL {safe}: {scrub(exc)}") from None
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to PostgreSQL storage {safe}: {scrub(exc)}") from None


def holds_store(url: str) -> bool:
    """Whether the database at ``url`` holds an hpopt storage (read only: creates nothing).

    Raises:
        ValueError, StorageError: As :func:`_connect`.
    """
    with _connect(url, 30, autocommit=True) as conn:
        return conn.execute("SELECT to_regclass('hpopt_meta') IS NOT NULL").fetchone()[0]


def upgrade(url: str) -> tuple[int, int]:
    """Bring the PostgreSQL store at ``url`` to this hpopt's schema version; returns (old, new).

    Raises:
        ValueError: A URL libpq cannot parse.
        StorageError: The server cannot be reached, the database holds no hpopt storage, or one
            written by a newer hpopt.
    """
    psycopg = _psycopg()
    with _connect(url, 30) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        try:
            row = conn.execute("SELECT value FROM hpopt_meta WHERE key = 'schema_version'").fetchone()
        except psycopg.errors.UndefinedTable as exc:
            raise StorageError("that database holds no hpopt storage.") from exc
        if row is None:
            raise StorageError("that database holds no hpopt storage (hpopt_meta has no schema version).")
        old = version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"schema version {version} is newer than this hpopt's {SCHEMA_VERSION}; upgrade hpopt."
            )
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](conn)
            version += 1
        conn.execute("UPDATE hpopt_meta SET value = %s WHERE key = 'schema_version'", (str(version),))
    return old, version


class PostgresBackend(JournalBackend):
    """A journal kept in one PostgreSQL table.

    Args:
        url: A libpq URL, e.g. ``postgresql://hpopt@db.example:5432/studies``.
    """

    shared = True
    retryable = True

    def __init__(self, url: str) -> None:
        _psycopg()
        _libpq_url(url)  # a URL of another scheme is refused before any connection
        self.url = url
        self._db: Any = None
        self._pid = os.getpid()
        self._in_tx = False
        self._connected = False  # once connected, a failed reconnection is retried, not fatal
        with self._translate():
            self._conn()

    @classmethod
    def from_url(cls, url: str) -> PostgresBackend:
        """Build from a ``postgresql://`` URL."""
        return cls(url)

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url = state["url"]
        self._db = None
        self._pid = os.getpid()
        self._in_tx = False
        self._connected = False

    def _conn(self) -> Any:
        if self._db is not None and self._pid == os.getpid() and not self._db.closed:
            return self._db
        self._pid = os.getpid()
        try:
            # A reconnection is retried several times (Storage._transact, read): shorter waits.
            conn = _connect(self.url, 10 if self._connected else 30, autocommit=True)
        except StorageError as exc:
            if self._connected:  # the server restarts or fails over: the caller retries
                raise RetryableStorageError(str(exc)) from exc
            raise
        # An existing store is only read here, so that a read-only role or a replica can open it
        # (CREATE TABLE IF NOT EXISTS needs write access even when the table exists). The tables
        # and the version row are created in one transaction, so they appear together.
        row = None
        if conn.execute(
            "SELECT to_regclass('hpopt_meta') IS NOT NULL AND to_regclass('hpopt_ops') IS NOT NULL "
            "AND to_regclass('hpopt_beats') IS NOT NULL"
        ).fetchone()[0]:
            row = conn.execute("SELECT value FROM hpopt_meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS hpopt_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS hpopt_ops (id BIGSERIAL PRIMARY KEY, op TEXT NOT NULL)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS hpopt_beats (s BIGINT NOT NULL, n BIGINT NOT NULL, "
                    "t DOUBLE PRECISION NOT NULL, PRIMARY KEY (s, n))"
                )
                row = conn.execute("SELECT value FROM hpopt_meta WHERE key = 'schema_version'").fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO hpopt_meta VALUES ('schema_version', %s)", (str(SCHEMA_VERSION),)
                    )
        version = int(row[0]) if row is not None else SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            conn.close()
            newer = version > SCHEMA_VERSION
            raise StorageError(
                f"{self._safe_url()} has schema version {version}; this hpopt reads version "
                f"{SCHEMA_VERSION}. "
                + ("Upgrade hpopt." if newer else f"Run `hpopt storage upgrade {self._safe_url()}`.")
            )
        self._db = conn
        self._connected = True
        return conn

    def _safe_url(self) -> str:
        """The URL without its password."""
        return redact_url(self.url)

    def reset(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except Exception:  # noqa: BLE001  (already broken)
                pass
        self._db = None

    def close(self) -> None:
        self.reset()

    @contextmanager
    def _translate(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except psycopg.OperationalError as exc:
            self.reset()
            raise RetryableStorageError(f"PostgreSQL connection lost: {exc}") from exc
        except psycopg.Error as exc:  # e.g. a write through a read-only role or replica
            raise StorageError(f"PostgreSQL storage {self._safe_url()}: {type(exc).__name__}: {exc}") from exc

    def read(self, after: int) -> list[tuple[int, dict[str, Any]]]:
        # Inside a write transaction a lost connection fails the whole write (the storage retries
        # it); outside one, a read is simply repeated on a new connection.
        attempts = 1 if self._in_tx else _READ_ATTEMPTS
        delay = 0.05
        for attempt in range(attempts):
            try:
                with self._translate():
                    rows = self._conn().execute(
                        "SELECT id, op FROM hpopt_ops WHERE id > %s ORDER BY id", (after,)
                    ).fetchall()
                break
            except RetryableStorageError:
                if attempt == attempts - 1:
                    raise
                if attempt:  # the first retry is at once: usually a connection the server closed
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
        out = []
        for op_id, text in rows:
            try:
                out.append((op_id, decode_op(text)))
            except (ValueError, KeyError, TypeError) as exc:
                raise StorageError(
                    f"corrupt record in {self._safe_url()} at journal id {op_id}: {exc}"
                ) from exc
        return out

    @contextmanager
    def write(self) -> Iterator[PostgresBackend]:
        with self._translate():
            conn = self._conn()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                self._in_tx = True
                try:
                    yield self
                finally:
                    self._in_tx = False

    # Heartbeats use the server's clock, so workers on machines with skewed clocks agree.
    def now(self) -> float:
        with self._translate():
            return float(self._conn().execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0])

    def beat(self, sid: int, number: int) -> None:
        with self._translate():
            self._conn().execute(
                "INSERT INTO hpopt_beats (s, n, t) VALUES (%s, %s, extract(epoch FROM clock_timestamp())) "
                "ON CONFLICT (s, n) DO UPDATE SET t = EXCLUDED.t",
                (sid, number),
            )

    def beats(self, sid: int) -> dict[int, float]:
        with self._translate():
            rows = self._conn().execute("SELECT n, t FROM hpopt_beats WHERE s = %s", (sid,)).fetchall()
        return {int(n): float(t) for n, t in rows}

    def beats_of(self, sid: int, numbers: Collection[int]) -> dict[int, float]:
        with self._translate():
            rows = self._conn().execute(
                "SELECT n, t FROM hpopt_beats WHERE s = %s AND n = ANY(%s)", (sid, list(numbers))
            ).fetchall()
        return {int(n): float(t) for n, t in rows}

    def append(self, ops: list[dict[str, Any]]) -> int:
        conn = self._db
        last = 0
        for op in ops:
            last = conn.execute(
                "INSERT INTO hpopt_ops (op) VALUES (%s) RETURNING id", (encode_op(op),)
            ).fetchone()[0]
        return last
