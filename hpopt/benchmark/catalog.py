"""Find registered problems by name, tag or pattern.

Problems come from the ``hpopt_problems`` plugin hook (hpopt's own through
:func:`hpopt.builtin.hpopt_problems`), so a plugin distribution adds problems without touching
hpopt.

Example:
    >>> [p.name for p in select_problems("branin,hartmann3")]
    ['branin', 'hartmann3']
    >>> len(select_problems("continuous")) > 30
    True
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from hpopt.benchmark.problem import Problem

__all__ = ["get_problem", "select_problems", "problem_tags"]


def _registry() -> dict[str, Problem]:
    from hpopt.plugins import available_problems

    return {name: provider.factory for name, provider in available_problems().items()}


def problem_tags(problems: dict[str, Problem] | None = None) -> dict[str, int]:
    """Every tag in use -> how many registered problems carry it."""
    table = _registry() if problems is None else problems
    tags: dict[str, int] = {}
    for p in table.values():
        for t in p.tags:
            tags[t] = tags.get(t, 0) + 1
    return dict(sorted(tags.items()))


def get_problem(name: str) -> Problem:
    """The registered problem called ``name``.

    Raises:
        ValueError: Unknown name; the message lists the available names.
    """
    table = _registry()
    problem = table.get(name)
    if problem is None:
        raise ValueError(f"unknown problem {name!r}; available problems: {sorted(table)}.")
    return problem


def select_problems(selection: str | Sequence[str | Problem]) -> list[Problem]:
    """Problems by name, tag (``continuous``, ``mixed``, ...), glob pattern (``sphere-*``) or
    ``all``; a comma-separated string or a list (which may also hold :class:`Problem` objects).

    Each problem appears once, in the order first selected (registry order within a tag).

    Raises:
        ValueError: An item that matches nothing; the message lists names and tags.
    """
    items = selection.split(",") if isinstance(selection, str) else list(selection)
    table = _registry()
    out: dict[str, Problem] = {}
    for item in items:
        if isinstance(item, Problem):
            out.setdefault(item.name, item)
            continue
        key = str(item).strip()
        if not key:
            continue
        if key == "all":
            matched = list(table.values())
        elif key in table:
            matched = [table[key]]
        else:
            matched = [p for p in table.values() if key in p.tags]
            if not matched and any(c in key for c in "*?["):
                matched = [p for n, p in table.items() if fnmatch.fnmatchcase(n, key)]
        if not matched:
            raise ValueError(
                f"no problem or tag matches {key!r}; tags: {sorted(problem_tags(table))}; "
                f"problems: {sorted(table)}."
            )
        for p in matched:
            out.setdefault(p.name, p)
    if not out:
        raise ValueError(f"`problems` selects nothing, but got {selection!r}.")
    return list(out.values())
