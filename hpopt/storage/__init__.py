"""Storages: one journal-replay :class:`Storage` over interchangeable backends.

``open_storage(None)`` is a fresh in-memory storage; a URL picks a backend by its scheme from the
plugin registry (built-ins: ``sqlite``); a :class:`Storage` instance is used as it is.
"""

from __future__ import annotations

from typing import Any

from hpopt.storage.journal import JournalBackend, Storage
from hpopt.storage.memory import MemoryBackend

__all__ = ["Storage", "JournalBackend", "MemoryBackend", "open_storage", "upgrade_storage"]


def open_storage(spec: Any) -> Storage:
    """Resolve ``create_study(storage=...)``: None, a URL string, a Storage or a backend.

    Raises:
        TypeError: ``spec`` is none of these.
        ValueError: A URL whose scheme no installed plugin provides (the known ones are listed).
        PluginError: The plugin providing the scheme built something that is not a JournalBackend.
    """
    if spec is None:
        return Storage(MemoryBackend())
    if isinstance(spec, Storage):
        return spec
    if isinstance(spec, JournalBackend):
        return Storage(spec)
    if isinstance(spec, str):
        from hpopt.errors import PluginError
        from hpopt.plugins import storage_factory
        from hpopt.storage.journal import redact_url

        backend = storage_factory(spec)(spec)
        if not isinstance(backend, JournalBackend):
            raise PluginError(
                f"the storage plugin for {redact_url(spec)!r} returned {type(backend).__name__}, "
                "not an hpopt JournalBackend."
            )
        return Storage(backend)
    raise TypeError(
        "`storage` must be None, a URL such as 'sqlite:///study.db', or a Storage, "
        f"but got {spec!r} ({type(spec).__name__})."
    )


def upgrade_storage(url: str) -> tuple[int, int]:
    """Upgrade the schema of the store at ``url``; returns (old version, new version).

    Raises:
        ValueError: A URL of a kind that has no on-disk schema.
        StorageError: Not an hpopt store, or one written by a newer hpopt.
    """
    scheme = url.partition("://")[0].split("+")[0].lower()
    if scheme == "sqlite":
        from hpopt.storage.sqlite import upgrade
    elif scheme in ("postgresql", "postgres"):
        from hpopt.storage.postgres import upgrade
    else:
        raise ValueError(f"`hpopt storage upgrade` knows sqlite:// and postgresql:// URLs, not {url!r}.")
    return upgrade(url)
