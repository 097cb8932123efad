"""In-memory backend: the default. Nothing is written anywhere; the model is the only copy.

Several :class:`~hpopt.Study` objects (and threads) can share one in-memory storage by passing
the same object as ``storage=``.
"""

from __future__ import annotations

from typing import Any

from hpopt.storage.journal import JournalBackend

__all__ = ["MemoryBackend"]


class _NoTransaction:
    __slots__ = ()

    def __enter__(self) -> MemoryBackend:
        return None  # type: ignore[return-value]

    def __exit__(self, *exc: Any) -> bool:
        return False


_NO_TX = _NoTransaction()


class MemoryBackend(JournalBackend):
    """A journal with no other reader: operations are applied and not kept."""

    shared = False
    url = "memory"

    def write(self) -> _NoTransaction:  # type: ignore[override]
        return _NO_TX

    def append(self, ops: list[dict[str, Any]]) -> int:
        return 0
