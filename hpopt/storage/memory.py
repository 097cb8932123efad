"""In-memory backend: the default. Nothing is written anywhere; the model is the only copy.

Several :class:`~hpopt.Study` objects (and threads) can share one in-memory storage by passing
the same object as ``storage=``.
"""

from __future__ import annotations

from typing import Any

from hpopt.storage.journal import JournalBackend

__all__ = ["MemoryBackend"]


class MemoryBackend(JournalBackend):
    """A journal with no other reader: operations are applied and not kept."""

    shared = False
    url = "memory"

    def append(self, ops: list[dict[str, Any]]) -> int:
        return 0
