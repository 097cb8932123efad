"""In-memory backend: the default. Nothing is written anywhere; the model is the only copy.

Several :class:`~hpopt.Study` objects (and threads) can share one in-memory storage by passing
the same object as ``storage=``.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from hpopt.storage.journal import JournalBackend

__all__ = ["MemoryBackend"]


class MemoryBackend(JournalBackend):
    """A journal with no other reader: operations are applied and not kept.

    Its write "transaction" is the backend itself (entering and leaving it costs nothing): the
    storage's lock is all the isolation one process needs.
    """

    shared = False
    url = "memory"

    def write(self) -> MemoryBackend:  # type: ignore[override]
        return self

    def __enter__(self) -> MemoryBackend:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def __init__(self) -> None:
        self._beats: dict[int, dict[int, float]] = {}

    def append(self, ops: list[dict[str, Any]]) -> int:
        return 0

    def beat(self, sid: int, number: int) -> None:
        self._beats.setdefault(sid, {})[number] = time.time()

    def beats(self, sid: int) -> dict[int, float]:
        return dict(self._beats.get(sid, {}))

    def beats_of(self, sid: int, numbers: Collection[int]) -> dict[int, float]:
        every = self._beats.get(sid, {})
        return {n: every[n] for n in numbers if n in every}
