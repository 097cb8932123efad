"""Hyperband (Li et al. 2018) over asynchronous successive halving (Li et al. 2020, Sec. 3.3).

Brackets ``b = 0 .. s_max`` with ``s_max = floor(log_eta(max_resource / min_resource))``; bracket
``b`` runs successive halving with ``min_early_stopping_rate = b`` (its first rung at
``min_resource * eta**b``), so bracket 0 is the most aggressive and bracket ``s_max`` prunes
least (not at all when ``max_resource == min_resource * eta**s_max``). Trials of one bracket
only compete with trials of the same bracket.

Trials go to brackets deterministically from their number, so every worker (thread, process or
machine) agrees without talking: bracket ``b`` gets the share ``n_b = ceil((s_max + 1) /
(s_max - b + 1) * eta**(s_max - b))`` of Hyperband's Algorithm 1 (equal budget per bracket), and
trial ``N`` takes position ``N mod sum(n_b)`` of a fixed interleaved cycle (smooth weighted
round-robin), so every window of trials holds the brackets in those proportions.

Samplers that want to model each bracket's trials separately call :meth:`HyperbandPruner.bracket_of`
with a trial number (the pruner is ``study.pruner``).

Example:
    >>> import hpopt
    >>> from hpopt.pruners import HyperbandPruner
    >>> pruner = HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
    >>> pruner.n_brackets
    4
    >>> [pruner.bracket_of(n) for n in range(8)]
    [0, 1, 0, 2, 0, 3, 0, 1]
    >>> pruner.bracket_shares
    [27, 12, 6, 4]
"""

from __future__ import annotations

import math
from collections import Counter

from hpopt.pruners._util import check_int
from hpopt.pruners.asha import SuccessiveHalvingPruner

__all__ = ["HyperbandPruner"]


class HyperbandPruner(SuccessiveHalvingPruner):
    """Several brackets of asynchronous successive halving, trials assigned by number.

    Args:
        min_resource: Step of the first rung of the most aggressive bracket (``>= 1``).
        max_resource: The step a trial that is never pruned reaches (its last epoch);
            ``>= min_resource``.
        reduction_factor: ``eta`` (``> 1``).
        bootstrap_count: A rung with fewer values than this never prunes (``>= 0``).
        rank_by, forecast_min_trials, forecast_optimism: Ranking at a rung, as in
            :class:`~hpopt.pruners.SuccessiveHalvingPruner` (``"forecast"``: by a forecast of
            the final loss learned from every bracket's trials, after a warm-up; the ranking
            stays per bracket). Hyperband's default stays ``"observed"``: with the forecast it
            spent more than a third of no pruning's steps on a 20-epoch benchmark problem
            (benchmarks/RESULTS.md).

    Raises:
        TypeError, ValueError: A setting of the wrong type or out of range, naming it.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study(pruner="hyperband")
        >>> study.pruner.n_brackets
        5
    """

    def __init__(
        self,
        *,
        min_resource: int = 1,
        max_resource: int = 100,
        reduction_factor: float = 3,
        bootstrap_count: int = 0,
        rank_by: str = "observed",
        forecast_min_trials: int = 10,
        forecast_optimism: float = 0.5,
    ) -> None:
        check_int("max_resource", max_resource, 1)
        super().__init__(
            min_resource=min_resource,
            reduction_factor=reduction_factor,
            max_resource=max_resource,
            bootstrap_count=bootstrap_count,
            rank_by=rank_by,
            forecast_min_trials=forecast_min_trials,
            forecast_optimism=forecast_optimism,
        )
        eta = self.reduction_factor
        s_max = 0
        while self.min_resource * eta ** (s_max + 1) <= max_resource * (1 + 1e-12):
            s_max += 1
        #: Number of brackets (``s_max + 1``).
        self.n_brackets = s_max + 1
        #: Share of trials per bracket (Hyperband's n_i, bracket 0 first).
        self.bracket_shares = [
            math.ceil((s_max + 1) / (s_max - b + 1) * eta ** (s_max - b) - 1e-9)
            for b in range(self.n_brackets)
        ]
        # The cycle has sum(bracket_shares) positions (about eta**s_max: 6e8 for a max_resource
        # of 10**9), so it is generated lazily, up to the largest position asked for.
        self._period = sum(self.bracket_shares)
        self._cycle: list[int] = []

    def __repr__(self) -> str:
        return (
            f"HyperbandPruner(min_resource={self.min_resource}, max_resource={self.max_resource}, "
            f"reduction_factor={self.reduction_factor:g}, bootstrap_count={self.bootstrap_count}"
            f"{self._forecast_repr()})"
        )

    def bracket_of(self, trial_number: int) -> int:
        """The bracket (0 = most aggressive) of trial ``trial_number``; the same on every worker.

        Raises:
            TypeError, ValueError: Not a non-negative int.
        """
        trial_number = check_int("trial_number", trial_number, 0)
        pos = trial_number % self._period
        if pos >= len(self._cycle):  # the cycle is only appended to: a prefix is always valid
            with self._lock:
                n = len(self._cycle)
                if pos >= n:
                    length = min(self._period, max(pos + 1, 2 * n, 1024))
                    _extend_cycle(self._cycle, self.bracket_shares, length)
        return self._cycle[pos]

    def _rate(self, bracket: int) -> int:
        return bracket


def _extend_cycle(cycle: list[int], shares: list[int], length: int) -> None:
    """Append to ``cycle`` until it holds ``length`` positions of a cycle holding ``shares[b]``
    copies of each ``b``, spread evenly (smooth weighted round-robin: each turn every bracket
    gains its share, the richest is picked, the lowest on ties, and pays the total). The credits
    after ``k`` turns are ``k * share - total * picks``, so they are rebuilt from the cycle itself
    (no other state to keep in step with it, pickled or not)."""
    total = sum(shares)
    picks = Counter(cycle)
    credit = [len(cycle) * w - total * picks[b] for b, w in enumerate(shares)]
    brackets = range(len(shares))
    while len(cycle) < length:
        for b, w in enumerate(shares):
            credit[b] += w
        pick = max(brackets, key=lambda b: (credit[b], -b))
        credit[pick] -= total
        cycle.append(pick)
