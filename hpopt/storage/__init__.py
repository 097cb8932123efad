"""Storages: one journal-replay :class:`Storage` over interchangeable backends.

``open_storage(None)`` is a fresh in-memory storage; a URL picks a backend by its scheme from the
plugin registry (built-ins: ``sqlite``); a :class:`Storage` instance is used as it is.
"""

from __future__ import annotations

from typing import Any

from hpopt.storage.journal import JournalBackend, Storage
from hpopt.storage.memory import MemoryBackend

__all__ = ["Storage", "JournalBackend", "MemoryBackend", "open_storage"]


def open_storage(spec: Any) -> Storage:
    """Resolve ``create_study(storage=...)``: None, a URL string, a Storage or a backend.

    Raises:
        TypeError: ``spec`` is none of these.
        ValueError: A URL whose scheme no installed plugin provides (the known ones are listed).
    """
    if spec is None:
        return Storage(MemoryBackend())
    if isinstance(spec, Storage):
        return spec
    if isinstance(spec, JournalBackend):
        return Storage(spec)
    if isinstance(spec, str):
        from hpopt.plugins import storage_factory

        return Storage(storage_factory(spec)(spec))
    raise TypeError(
        "`storage` must be None, a URL such as 'sqlite:///study.db', or a Storage, "
        f"but got {spec!r} ({type(spec).__name__})."
    )
