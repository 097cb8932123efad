"""Shared pieces of the conformance kit (:mod:`hpopt.testing`): the error type and the runner."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ConformanceError", "SPECIAL_FLOATS", "Check", "run_all", "check"]

Check = Callable[[], None]
SamplerFactory = Callable[..., Any]
StorageFactory = Callable[[], Any]

#: Floats every storage must carry through every field they may go (values, params, reports,
#: attributes): 0, -0.0, ±pi, ±max, ±min (smallest normal), ±inf and nan.
SPECIAL_FLOATS: tuple[float, ...] = (
    0.0, -0.0, math.pi, -math.pi, sys.float_info.max, -sys.float_info.max,
    sys.float_info.min, -sys.float_info.min, math.inf, -math.inf, math.nan,
)


class ConformanceError(AssertionError):
    """One or more conformance checks failed.

    Attributes:
        failures: ``{check_name: message}`` for every failing check (and every declared expected
            failure that passed).
    """

    def __init__(self, subject: str, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        lines = "\n".join(f"  {name}: {msg}" for name, msg in self.failures.items())
        super().__init__(f"{subject} failed {len(self.failures)} conformance check(s): "
                         f"{sorted(self.failures)}\n{lines}")


def run_all(subject: str, checks: list[tuple[str, Check]], expected: Mapping[str, str] | None) -> None:
    expected = dict(expected or {})
    names = {n for n, _ in checks}
    unknown = sorted(set(expected) - names)
    if unknown:
        raise ValueError(
            f"`expected_failures` names unknown checks {unknown}; the checks are {sorted(names)}."
        )
    for name, reason in expected.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"expected failure {name!r} needs a reason (a non-empty str), got {reason!r}.")
    failures: dict[str, str] = {}
    for name, check in checks:
        try:
            check()
        except Exception as exc:  # noqa: BLE001  (every failure is collected and reported)
            if name not in expected:
                failures[name] = f"{type(exc).__name__}: {exc}"
        else:
            if name in expected:
                failures[name] = f"declared as an expected failure ({expected[name]!r}) but it passed"
    if failures:
        raise ConformanceError(subject, failures)


def check(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)
