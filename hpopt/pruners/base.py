"""The pruner protocol: decide from a running trial's reports whether to stop it early."""

from __future__ import annotations

from hpopt.records import FrozenTrial
from hpopt.samplers.base import History

__all__ = ["Pruner", "NopPruner"]


class Pruner:
    """Base class of every pruner: implement :meth:`prune`.

    ``prune`` gets the study's history (every worker's trials, synced just before the call) and a
    snapshot of the running trial with its intermediate values; it returns True to stop the trial.
    """

    def prune(self, history: History, trial: FrozenTrial) -> bool:
        """Whether ``trial`` should stop now."""
        raise NotImplementedError(f"{type(self).__name__} must implement prune()")


class NopPruner(Pruner):
    """Never prunes (the default)."""

    def __repr__(self) -> str:
        return "NopPruner()"

    def prune(self, history: History, trial: FrozenTrial) -> bool:
        return False
