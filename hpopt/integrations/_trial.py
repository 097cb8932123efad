"""What the pruning callbacks of :mod:`hpopt.integrations` share."""

from __future__ import annotations

import numbers
from typing import Any


def study_directions(trial: Any) -> tuple[str, ...] | None:
    """The study's directions as seen from ``trial``, or None when it cannot tell (an executor
    worker that cannot open the study: it does not prune there either)."""
    study = getattr(trial, "study", None)
    if study is not None and hasattr(study, "directions"):
        return tuple(study.directions)
    own = getattr(trial, "directions", None)  # a trial type that carries them itself
    if isinstance(own, (list, tuple)) and all(isinstance(d, str) for d in own):
        return tuple(own)
    from hpopt.remote import RemoteTrial  # noqa: PLC0415  (only needed for worker trials)

    if isinstance(trial, RemoteTrial) and trial._link is not None:
        reached = trial._reach()  # opened once per trial; its first report would open it anyway
        if reached is not None:
            return tuple(reached[1].directions)
    return None


def check_trial(trial: Any) -> None:
    """A pruning callback's ``trial``: anything with ``report`` and ``should_prune``."""
    if not (callable(getattr(trial, "report", None)) and callable(getattr(trial, "should_prune", None))):
        raise TypeError(
            "`trial` must be an hpopt trial (with report and should_prune), but got "
            f"{trial!r} ({type(trial).__name__})."
        )


def single_direction(trial: Any, report_interval: Any) -> str | None:
    """Checks ``report_interval`` (an int ``>= 1``) and that the study has one objective; returns
    its direction, or None when the trial cannot tell (see :func:`study_directions`)."""
    if isinstance(report_interval, bool) or not isinstance(report_interval, numbers.Integral):
        raise TypeError(
            f"`report_interval` must be an int, but got {report_interval!r} "
            f"({type(report_interval).__name__})."
        )
    if report_interval < 1:
        raise ValueError(f"`report_interval >= 1` must hold, but got report_interval={report_interval}.")
    directions = study_directions(trial)
    if directions is not None and len(directions) != 1:
        raise ValueError(
            f"PruningCallback reports one metric, so it needs a single-objective study, but the "
            f"study of trial {getattr(trial, 'number', '?')} has {len(directions)} objectives."
        )
    return directions[0] if directions else None
