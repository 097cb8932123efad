"""CMA-ES's default sampler for conditional parameters: TPE first, then a CMA-ES per branch.

In define-by-run, :class:`~hpopt.samplers.cmaes.CmaEsSampler` models the parameters every
COMPLETE trial has; a conditional branch (the parameters only some trials have, e.g. a network's
learning rate and width when ``kind == "net"``) is a *group* that
:class:`~hpopt.samplers.replay.GroupedFallback` hands to a fallback sampler as one joint space.
:class:`BranchSampler` is that fallback by default:

* while fewer than ``h(d) = ceil(1.1 (d + 1)(d + 2) / 2 / 0.75)`` finished trials have the group
  (``d`` its parameters; 5 at d = 1, 9 at d = 2, 15 at d = 3, the trials a full quadratic model
  needs, as in :func:`~hpopt.samplers.cma_surrogate.points_for_full_model`), the group comes from
  :class:`~hpopt.samplers.tpe.TPESampler` (exactly as the previous default did);
* from then on it comes from a CMA-ES of its own over the group's space, warm-started (WS-CMA-ES,
  Nomura et al. 2021) from the COMPLETE trials among the group's first ``h(d)`` finished ones in
  finish order. That CMA-ES replays every finished trial of the group, like any CMA-ES of hpopt,
  so its state is a pure function of the stored trials and every worker proposes the same.

Why: TPE explores a branch well early on but stops refining it (its Parzen estimators keep a
bandwidth floor, so with hundreds of trials in a branch it stalls), while CMA-ES keeps converging.
This is the same GP/TPE -> CMA-ES hand-over as ``auto``'s on continuous spaces. Each group's
CMA-ES has its own seed (derived from the sampler's seed and the group's parameter names), so its
draws are independent of the main CMA-ES's. Measured on held-out conditional problems first, then
on the benchmark's (benchmarks/RESULTS.md, "Conditional branches: TPE, then CMA-ES"); at about 100
trials it can be worse than TPE alone on some problems (the branch's CMA-ES starts early).

Example:
    >>> import hpopt
    >>> from hpopt.samplers.branch import BranchSampler
    >>> study = hpopt.create_study(sampler=hpopt.make_sampler("cmaes", seed=0))
    >>> isinstance(study.sampler.fallback_sampler, BranchSampler)
    True
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from hpopt.distributions import Distribution
from hpopt.records import FrozenTrial, TrialState
from hpopt.rng import derive_seed, resolve_seed
from hpopt.samplers.base import DerivedCaches, History, Sampler, TrialInfo, unseen_trials
from hpopt.samplers.cma_surrogate import points_for_full_model
from hpopt.samplers.replay import order_key, space_key
from hpopt.samplers.tpe import TPESampler

__all__ = ["BranchSampler"]

#: Groups whose bookkeeping is kept; beyond it the oldest is dropped (rebuilt from the history).
_MAX_GROUPS = 64


class _Group:
    """One group's finished trials (incremental) and, once handed over, its CMA-ES."""

    __slots__ = ("version", "seen", "members", "cma", "last")

    def __init__(self) -> None:
        self.version = -1
        self.seen: set[int] = set()
        self.members: list[FrozenTrial] = []  # finished trials with every parameter of the group
        self.cma: Sampler | None = None
        # Finish-order key of the last trial the CMA-ES was warm-started from: a member seen later
        # that finished before it (``Study.add_trial`` keeps a trial's own, earlier times; clocks
        # of workers differ) changes "the first h(d) in finish order", so the CMA-ES is built
        # again, as a resumed process builds it.
        self.last: tuple[float, int] | None = None


class BranchSampler(DerivedCaches, Sampler):
    """Per conditional group: TPE for the first ``h(d)`` trials, then a warm-started CMA-ES.

    Args:
        seed: An int, a numpy Generator or None (fresh entropy).

    Raises:
        TypeError, ValueError: An invalid seed.
    """

    supports_multi_objective = False
    _derived = ("_groups",)

    def __init__(self, *, seed: int | Any = None) -> None:
        self.seed = resolve_seed(seed)
        self.tpe = TPESampler(seed=self.seed)
        self._groups: dict[tuple[Any, ...], _Group] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BranchSampler(seed={self.seed})"

    @staticmethod
    def handover(n_params: int) -> int:
        """Finished trials of a group after which its CMA-ES takes over from TPE."""
        return points_for_full_model(n_params)

    def _cma_for(self, history: History, space: Mapping[str, Distribution]) -> Sampler | None:
        """The group's CMA-ES, or None while the group is still TPE's."""
        key = space_key(space)
        version = history.version()
        with self._lock:
            g = self._groups.get(key)
            if g is not None and g.cma is not None and g.version == version:  # nothing new to read
                return g.cma
        finished = history.finished()  # read before the lock
        h = self.handover(len(space))

        def member(t: FrozenTrial) -> bool:
            dists = t.distributions
            return all(dists.get(k) == d for k, d in space.items())

        with self._lock:
            g = self._groups.get(key)
            if g is None:
                if len(self._groups) >= _MAX_GROUPS:
                    self._groups.pop(next(iter(self._groups)))
                g = self._groups[key] = _Group()
            if g.version != version:
                for t in unseen_trials(finished, g.seen):
                    g.seen.add(t.number)
                    if not member(t):
                        continue
                    if g.cma is None:
                        g.members.append(t)
                    elif order_key(t) < g.last:  # type: ignore[operator]
                        g.cma, g.last = None, None  # built again below from every member
                        g.members = [m for m in finished if m.number in g.seen and member(m)]
                g.version = version
            if g.cma is not None:
                return g.cma
            if len(g.members) < h:
                return None
            first = sorted(g.members, key=order_key)[:h]
            source = [t for t in first if t.state is TrialState.COMPLETE and t.values is not None]
            g.cma = _make_cma(
                derive_seed(self.seed, "branch:" + "\x00".join(sorted(space))), space, source
            )
            g.last = order_key(first[-1])
            g.members = []  # no longer needed: the CMA-ES replays the history itself
            return g.cma

    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        """The group's values: TPE's, or its CMA-ES's once the group has ``h(d)`` trials."""
        if not space:
            return {}
        cma = self._cma_for(history, space)
        if cma is None:
            return self.tpe.sample_joint(history, trial, space)
        return cma.sample_joint(history, trial, space)

    def sample(self, history: History, trial: TrialInfo, name: str, distribution: Distribution) -> Any:
        """A one-parameter group (or a parameter no COMPLETE trial has yet)."""
        space = {name: distribution}
        cma = self._cma_for(history, space)
        if cma is None:
            return self.tpe.sample(history, trial, name, distribution)
        return cma.sample_joint(history, trial, space)[name]


def _make_cma(seed: int, space: Mapping[str, Distribution], source: list[FrozenTrial]) -> Sampler:
    """A CMA-ES for one group, warm-started from ``source`` (its trials cut down to the group)."""
    import attrs

    from hpopt.samplers.cmaes import CmaEsSampler  # cmaes imports this module

    warm = [
        attrs.evolve(t, params={k: t.params[k] for k in space}, distributions=dict(space))
        for t in source
    ]
    return CmaEsSampler(
        seed=seed, warm_start_trials=warm or None, fallback_sampler=TPESampler(seed=seed)
    )
