"""PostgreSQL journal backend (psycopg 3, extra ``postgres``): many workers on many machines.

URL: ``postgresql://user:password@host:port/database`` (``postgres://`` works too).

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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hpopt.errors import StorageError
from hpopt.storage.journal import JournalBackend, RetryableStorageError, decode_op, encode_op

__all__ = ["PostgresBackend", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
#: Advisory-lock key that serializes writers of hpopt's journal in one database.
_LOCK_KEY = 0x6870_6F70_7401  # "hpopt" + 1


#: ``MIGRATIONS[v](connection)`` turns schema version ``v`` into ``v + 1`` (none yet).
MIGRATIONS: dict[int, Any] = {}


def upgrade(url: str) -> tuple[int, int]:
    """Bring the PostgreSQL store at ``url`` to this hpopt's schema version; returns (old, new)."""
    import psycopg

    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        try:
            row = conn.execute("SELECT value FROM hpopt_meta WHERE key = 'schema_version'").fetchone()
        except psycopg.errors.UndefinedTable as exc:
            raise StorageError("that database holds no hpopt storage.") from exc
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
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise StorageError(
                "the PostgreSQL storage needs psycopg 3: pip install 'hpopt[postgres]'."
            ) from exc
        self.url = url
        self._db: Any = None
        self._pid = os.getpid()
        self._in_tx = False
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

    def _conn(self) -> Any:
        import psycopg

        if self._db is not None and self._pid == os.getpid() and not self._db.closed:
            return self._db
        self._pid = os.getpid()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=30)
        except psycopg.OperationalError as exc:
            raise StorageError(f"cannot connect to PostgreSQL storage {self._safe_url()}: {exc}") from exc
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute("CREATE TABLE IF NOT EXISTS hpopt_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("CREATE TABLE IF NOT EXISTS hpopt_ops (id BIGSERIAL PRIMARY KEY, op TEXT NOT NULL)")
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
        return conn

    def _safe_url(self) -> str:
        """The URL without its password."""
        head, sep, tail = self.url.partition("@")
        if not sep or ":" not in head.split("//", 1)[-1]:
            return self.url
        scheme, _, userpass = head.partition("//")
        return f"{scheme}//{userpass.split(':', 1)[0]}:***@{tail}"

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

    def read(self, after: int) -> list[tuple[int, dict[str, Any]]]:
        # Inside a write transaction a lost connection fails the whole write (the storage retries
        # it); outside one, a read is simply repeated on a new connection.
        attempts = 1 if self._in_tx else 3
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

    def append(self, ops: list[dict[str, Any]]) -> int:
        conn = self._db
        last = 0
        for op in ops:
            last = conn.execute(
                "INSERT INTO hpopt_ops (op) VALUES (%s) RETURNING id", (encode_op(op),)
            ).fetchone()[0]
        return last
