"""Random search: every parameter uniform over its distribution (log-uniform when ``log=True``).

The value of parameter ``name`` in trial ``N`` depends only on the seed, ``N``, ``name`` and the
distribution — not on the order of suggestions, nor on what other workers do — so a seeded study
reproduces the same parameters whatever the scheduling.

Example:
    >>> import hpopt
    >>> study = hpopt.create_study(sampler="random", seed=0)
    >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=50)
    >>> round(study.best_value, 2) < 0.5
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpopt.distributions import Distribution
from hpopt.rng import resolve_seed, unit_hash
from hpopt.samplers.base import History, Sampler, TrialInfo

__all__ = ["RandomSampler"]


class RandomSampler(Sampler):
    """Independent uniform sampling in each parameter's internal space.

    Args:
        seed: An int, a numpy Generator or None (fresh entropy).
    """

    def __init__(self, *, seed: int | np.random.Generator | None = None) -> None:
        self.seed = resolve_seed(seed)

    def __repr__(self) -> str:
        return f"RandomSampler(seed={self.seed})"

    def sample(self, history: History, trial: TrialInfo, name: str, distribution: Distribution) -> Any:
        lo, hi = distribution.internal_bounds
        u = unit_hash(self.seed, trial.number, name)
        return distribution.from_internal(lo + u * (hi - lo))
