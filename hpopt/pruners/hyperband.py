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

``max_resource="auto"`` (the default) infers the step a trial that is never pruned reaches from
the study's own trials, the same way on every worker (see :class:`HyperbandPruner`); with an int,
a finished trial that stops below the highest rung is reported once in a warning, since the
brackets were then planned for steps the trials never reach.

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

import logging
import math
import numbers
from collections import Counter
from typing import Any

import numpy as np

from hpopt.pruners._util import check_int
from hpopt.pruners.asha import SuccessiveHalvingPruner
from hpopt.records import FrozenTrial, TrialState
from hpopt.samplers.base import History

__all__ = ["HyperbandPruner"]

_log = logging.getLogger("hpopt")

_AUTO = "auto"
_RULE = "`max_resource` must be 'auto' or an int >= min_resource"


class HyperbandPruner(SuccessiveHalvingPruner):
    """Several brackets of asynchronous successive halving, trials assigned by number.

    Args:
        min_resource: Step of the first rung of the most aggressive bracket (``>= 1``).
        max_resource: The step a trial that is never pruned reaches (its last epoch): an int
            ``>= min_resource``, or ``"auto"`` (the default) to infer it from the trials.
        reduction_factor: ``eta`` (``> 1``).
        bootstrap_count: A rung with fewer values than this never prunes (``>= 0``).
        rank_by, forecast_min_trials, forecast_optimism: Ranking at a rung, as in
            :class:`~hpopt.pruners.SuccessiveHalvingPruner` (``"forecast"``: by a forecast of
            the final loss learned from every bracket's trials, after a warm-up; the ranking
            stays per bracket). Hyperband's default stays ``"observed"``: with the forecast it
            spent more than a third of no pruning's steps on a 20-epoch benchmark problem
            (benchmarks/RESULTS.md).

    **max_resource="auto".** The brackets (and so which trial is in which bracket) depend on
    ``max_resource``, and every worker must derive the same ones, so the inferred value is a
    function of trials that never change again: it is the last reported step of the
    lowest-numbered trial that is COMPLETE with reports, taken once every trial numbered below
    it has finished (COMPLETE without reports, PRUNED or FAIL), and at least ``min_resource``.
    Once known it never changes: a lower-numbered trial cannot complete later with another
    last step, since all of them had finished. Until it is known nothing is pruned (as with
    Optuna's ``"auto"``), so the first trials run to their end and later serve as the rungs'
    first values; once known, every decision is the one ``HyperbandPruner(max_resource=<that
    int>)`` would make. Trade-offs: one trial decides (if it stopped early by your own rule, the
    brackets are planned for a shorter run and the higher rungs are missing: less pruning, not
    wrong pruning; pass an int then); and a low-numbered trial that stays RUNNING holds the
    inference back — with ``n_jobs`` workers that is about one trial's duration, but a trial left
    RUNNING by a killed worker blocks it until that trial is failed (use heartbeats,
    ``heartbeat_interval``, so stale trials are failed, or pass an int). With an explicit int
    the pruner decides from the first report, as before.

    **A max_resource the trials contradict.** With an int, the first COMPLETE trial whose last
    reported step lies below the highest rung (the largest ``min_resource * eta**k`` below
    ``max_resource``) is reported once per pruner in a warning on the ``"hpopt"`` logger,
    naming ``max_resource``, its value and the trial's last step: rungs above that step are
    never reached, so the larger brackets never prune and the bracket shares are off. Decisions
    are unchanged. ``"auto"`` never warns.

    Raises:
        TypeError, ValueError: A setting of the wrong type or out of range, naming it.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study(pruner="hyperband")
        >>> study.pruner.max_resource, study.pruner.n_brackets  # not known before a trial completes
        ('auto', None)
        >>> hpopt.make_pruner("hyperband", max_resource=100).n_brackets
        5
    """

    def __init__(
        self,
        *,
        min_resource: int = 1,
        max_resource: int | str = _AUTO,
        reduction_factor: float = 3,
        bootstrap_count: int = 0,
        rank_by: str = "observed",
        forecast_min_trials: int = 10,
        forecast_optimism: float = 0.5,
    ) -> None:
        auto = _is_auto(max_resource)
        if not auto:
            check_int("max_resource", max_resource, 1)
        super().__init__(
            min_resource=min_resource,
            reduction_factor=reduction_factor,
            max_resource=None if auto else max_resource,
            bootstrap_count=bootstrap_count,
            rank_by=rank_by,
            forecast_min_trials=forecast_min_trials,
            forecast_optimism=forecast_optimism,
        )
        # "auto": one pruner with an int per study, built once the value is known
        # (id(history) -> _Inference); empty with an int.
        self._inferred: dict[int, _Inference] = {}
        # With an int: warn (once) when a COMPLETE trial stops below the highest rung. Off for the
        # pruners "auto" builds. id(history) -> finished trials checked so far.
        self._check_trials = not auto
        self._warned = False
        self._checked: dict[int, int] = {}
        self._cycle: list[int] = []
        if auto:
            self.max_resource = _AUTO  # type: ignore[assignment]
            self._n_brackets: int | None = None
            self._bracket_shares: list[int] | None = None
            self._period = 0
            return
        eta = self.reduction_factor
        s_max = 0
        while self.min_resource * eta ** (s_max + 1) <= max_resource * (1 + 1e-12):
            s_max += 1
        self._n_brackets = s_max + 1
        self._bracket_shares = [
            math.ceil((s_max + 1) / (s_max - b + 1) * eta ** (s_max - b) - 1e-9)
            for b in range(self._n_brackets)
        ]
        # The cycle has sum(bracket_shares) positions (about eta**s_max: 6e8 for a max_resource
        # of 10**9), so it is generated lazily, up to the largest position asked for.
        self._period = sum(self._bracket_shares)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_inferred"] = {}  # bound to the studies of this process; re-inferred from the trials
        state["_checked"] = {}
        return state

    def __repr__(self) -> str:
        return (
            f"HyperbandPruner(min_resource={self.min_resource}, max_resource={self.max_resource!r}, "
            f"reduction_factor={self.reduction_factor:g}, bootstrap_count={self.bootstrap_count}"
            f"{self._forecast_repr()})"
        )

    # -- brackets ---------------------------------------------------------------------------------
    @property
    def n_brackets(self) -> int | None:
        """Number of brackets (``s_max + 1``); with ``"auto"``, that of the one study whose value
        is known (None before, or when the pruner serves several studies)."""
        if self._auto:
            sole = self._sole()
            return None if sole is None else sole.n_brackets
        return self._n_brackets

    @property
    def bracket_shares(self) -> list[int] | None:
        """Share of trials per bracket (Hyperband's n_i, bracket 0 first); with ``"auto"`` as
        :attr:`n_brackets`."""
        if self._auto:
            sole = self._sole()
            return None if sole is None else sole.bracket_shares
        return self._bracket_shares

    def max_resource_for(self, history: History) -> int | None:
        """The max resource used in ``history``'s study: the int given, or with ``"auto"`` the
        inferred one (None while it is not known yet)."""
        if not self._auto:
            return self.max_resource
        inner = self._resolve(history)
        return None if inner is None else inner.max_resource

    def bracket_of(self, trial_number: int, *, history: History | None = None) -> int:
        """The bracket (0 = most aggressive) of trial ``trial_number``; the same on every worker.

        With ``max_resource="auto"`` the brackets exist once the value is known: pass the
        study's ``history`` (samplers get it), or leave it out when the pruner serves one study.

        Raises:
            TypeError, ValueError: Not a non-negative int.
            RuntimeError: ``"auto"`` and the value is not known yet (or, without ``history``,
                the pruner serves several studies).
        """
        trial_number = check_int("trial_number", trial_number, 0)
        if self._auto:
            return self._inner(history, "bracket_of").bracket_of(trial_number)
        pos = trial_number % self._period
        if pos >= len(self._cycle):  # the cycle is only appended to: a prefix is always valid
            with self._lock:
                n = len(self._cycle)
                if pos >= n:
                    length = min(self._period, max(pos + 1, 2 * n, 1024))
                    _extend_cycle(self._cycle, self._bracket_shares or [], length)
        return self._cycle[pos]

    def rung_steps(self, upto: int, *, bracket: int = 0, history: History | None = None) -> list[int]:
        """The steps (``<= upto``, below ``max_resource``) at which ``bracket`` makes decisions;
        with ``"auto"``, as :meth:`bracket_of`."""
        if self._auto:
            return self._inner(history, "rung_steps").rung_steps(upto, bracket=bracket)
        return super().rung_steps(upto, bracket=bracket)

    def _rate(self, bracket: int) -> int:
        return bracket

    # -- pruning ----------------------------------------------------------------------------------
    def prune(self, history: History, trial: FrozenTrial) -> bool:
        """Successive halving in ``trial``'s bracket; with ``"auto"``, False until the max
        resource is known."""
        if self._auto:
            inner = self._resolve(history)
            return False if inner is None else inner.prune(history, trial)
        if self._check_trials and not self._warned:
            self._check_last_steps(history)
        return super().prune(history, trial)

    # -- max_resource="auto" ----------------------------------------------------------------------
    @property
    def _auto(self) -> bool:
        return self.max_resource == _AUTO

    def _resolve(self, history: History) -> HyperbandPruner | None:
        """The pruner with the inferred int for ``history``'s study, or None while unknown.

        Scans the finished trials in number order while their numbers are 0, 1, 2, ... (all the
        trials below are finished) for the first COMPLETE one with reports; the scan resumes
        where it stopped (finished trials never change), so the cost is O(new trials)."""
        with self._lock:
            key = id(history)
            inf = self._inferred.get(key)
            if inf is None or inf.history is not history:
                inf = self._inferred[key] = _Inference(history)
            if inf.pruner is not None:
                return inf.pruner
            finished = history.finished()
            i = inf.scanned
            while i < len(finished) and finished[i].number == i:
                t = finished[i]
                if t.state is TrialState.COMPLETE and t.intermediate_values:
                    last = int(max(t.intermediate_values))
                    inf.pruner = self._with_max_resource(max(last, self.min_resource))
                    _log.info(
                        "HyperbandPruner: max_resource='auto' is %d in study %r (the last reported "
                        "step of trial %d, the first to complete with reports).",
                        inf.pruner.max_resource, history.study_name, t.number,
                    )
                    return inf.pruner
                i += 1
            inf.scanned = i
            return None

    def _with_max_resource(self, max_resource: int) -> HyperbandPruner:
        inner = HyperbandPruner(
            min_resource=self.min_resource,
            max_resource=max_resource,
            reduction_factor=self.reduction_factor,
            bootstrap_count=self.bootstrap_count,
            rank_by=self.rank_by,
            forecast_min_trials=self.forecast_min_trials,
            forecast_optimism=self.forecast_optimism,
        )
        inner._check_trials = False  # "auto" never warns
        return inner

    def _sole(self) -> HyperbandPruner | None:
        """With ``"auto"``: the inferred pruner when this one serves exactly one study and its
        value is known."""
        with self._lock:
            studies = list(self._inferred.values())
        return studies[0].pruner if len(studies) == 1 else None

    def _inner(self, history: History | None, what: str) -> HyperbandPruner:
        inner = self._resolve(history) if history is not None else self._sole()
        if inner is None:
            if history is None and len(self._inferred) > 1:
                raise RuntimeError(
                    f"HyperbandPruner.{what}: this pruner serves several studies with "
                    "max_resource='auto'; pass the study's `history`."
                )
            raise RuntimeError(
                f"HyperbandPruner.{what}: max_resource='auto' is not known yet; it is the last "
                "step of the lowest-numbered trial to complete with reports, once every trial "
                "below it has finished (pass an int to fix it up front)."
            )
        return inner

    # -- an int max_resource the trials contradict ------------------------------------------------
    def _check_last_steps(self, history: History) -> None:
        """Warn once if a COMPLETE trial's last step lies below the highest rung. Looks at each
        finished trial once (a cursor into the finished trials; one that finishes after a
        higher-numbered one may be skipped — this only chooses whether to warn)."""
        with self._lock:
            if self._warned:
                return
            finished = history.finished()
            i = self._checked.get(id(history), 0)
            if i >= len(finished):
                return
            rungs = super().rung_steps(self.max_resource, bracket=0)
            if not rungs:
                self._warned = True  # no rung at all: nothing the trials could contradict
                return
            top = rungs[-1]
            for t in finished[i:]:
                if t.state is TrialState.COMPLETE and t.intermediate_values:
                    last = int(max(t.intermediate_values))
                    if last < top:
                        self._warned = True
                        _log.warning(
                            "HyperbandPruner: max_resource=%d, but trial %d completed with its last "
                            "report at step %d: the rungs above step %d (up to %d) are never reached, "
                            "so the larger brackets never prune and the bracket shares are off. Pass "
                            "max_resource=%d (the trials' last step) or 'auto'.",
                            self.max_resource, t.number, last, last, top, max(last, self.min_resource),
                        )
                        return
            self._checked[id(history)] = len(finished)


class _Inference:
    """Where the ``"auto"`` inference stands for one study."""

    __slots__ = ("history", "pruner", "scanned")

    def __init__(self, history: History) -> None:
        self.history = history
        self.pruner: HyperbandPruner | None = None
        self.scanned = 0  # finished trials 0 .. scanned - 1 hold none COMPLETE with reports


def _is_auto(max_resource: Any) -> bool:
    """True for ``"auto"``; an int goes on to the int checks; anything else is refused here,
    naming the parameter and the rule."""
    if isinstance(max_resource, str):
        if max_resource == _AUTO:
            return True
        raise ValueError(f"{_RULE}, but got max_resource={max_resource!r}.")
    if isinstance(max_resource, (bool, np.bool_)) or not isinstance(max_resource, numbers.Integral):
        raise TypeError(f"{_RULE}, but got max_resource={max_resource!r} ({type(max_resource).__name__}).")
    return False


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
