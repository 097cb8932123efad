"""What the pruning callbacks of :mod:`hpopt.integrations` share."""

from __future__ import annotations

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
