"""A dict and a list that refuse mutation, so that "frozen" records really are frozen (and still
pickle, compare equal to plain ones and serialize to JSON as before)."""

from __future__ import annotations

from typing import Any, NoReturn


class FrozenDict(dict):
    """A read-only ``dict``: every mutating method raises ``TypeError``."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("this mapping is read-only (a recorded value); set a new value instead")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


EMPTY = FrozenDict()


class FrozenList(list):
    """A read-only ``list``: every mutating method raises ``TypeError``."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("this list is read-only (a recorded value); set a new value instead")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __repr__(self) -> str:
        return list.__repr__(self)


def deep_freeze(value: Any) -> Any:
    """``value`` with every nested dict and list replaced by a read-only copy (tuples keep their
    type, with frozen contents); other values as they are. Attribute values are stored this way,
    so that no caller can change a stored value through what a read handed out."""
    if isinstance(value, dict):
        return FrozenDict({k: deep_freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList([deep_freeze(v) for v in value])
    if isinstance(value, tuple) and any(isinstance(v, (dict, list, tuple)) for v in value):
        return tuple(deep_freeze(v) for v in value)
    return value
