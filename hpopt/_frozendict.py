"""A dict that refuses mutation, so that "frozen" records really are frozen (and still pickle)."""

from __future__ import annotations

from typing import Any, NoReturn


class FrozenDict(dict):
    """A read-only ``dict``: every mutating method raises ``TypeError``."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("this mapping belongs to a finished record and cannot be changed")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


EMPTY = FrozenDict()
