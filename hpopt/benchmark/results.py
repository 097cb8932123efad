"""The results file: one JSON object per line, one line per finished run.

Written only by the parent process of :func:`hpopt.benchmark.run`, one ``append_record`` per
finished run (flushed and fsynced), so a crash loses at most the line being written. A torn or
otherwise malformed line is reported with its line number and skipped, never silently dropped.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "r.jsonl")
    >>> append_record(path, {"sampler": "random", "problem": "branin", "seed": 0, "n_trials": 5})
    >>> [run_key(r) for r in load_results(path)]
    [('random', 'branin', 0, 5)]
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

__all__ = ["RESULTS_VERSION", "ResultsWarning", "load_results", "append_record", "run_key"]

#: Version of the record layout written by the runner.
RESULTS_VERSION = 1


class ResultsWarning(UserWarning):
    """A malformed line in a results file (reported with its line number and skipped)."""


def run_key(record: dict[str, Any]) -> tuple[str, str, int, int]:
    """The identity of a run: (sampler label, problem, seed, number of trials)."""
    return (str(record["sampler"]), str(record["problem"]), int(record["seed"]),
            int(record["n_trials"]))


def load_results(path: str | os.PathLike[str], *, errors: list[str] | None = None) -> list[dict]:
    """Read a results file; each malformed line is reported with its number and skipped.

    Args:
        path: A JSON-lines file written by :func:`run`.
        errors: If given, a message per malformed line is appended to it (a
            :class:`ResultsWarning` is issued either way).

    Raises:
        FileNotFoundError: No such file.
    """
    records = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError(f"a JSON object is expected, got {type(rec).__name__}")
                run_key(rec)
            except (ValueError, KeyError, TypeError) as exc:
                msg = f"{path}:{lineno}: malformed results line skipped ({exc}): {line[:80]!r}"
                warnings.warn(msg, ResultsWarning, stacklevel=2)
                if errors is not None:
                    errors.append(msg)
                continue
            records.append(rec)
    return records


def append_record(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one record as a JSON line, flushed and fsynced (a killed writer tears at most it)."""
    line = json.dumps(record, separators=(",", ":")) + "\n"
    with open(path, "ab") as fh:
        if fh.tell() > 0:  # a torn last line (killed writer) must not swallow this record
            with open(path, "rb") as rh:
                rh.seek(-1, os.SEEK_END)
                if rh.read(1) != b"\n":
                    fh.write(b"\n")
        fh.write(line.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


