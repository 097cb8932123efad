"""A pruner that forecasts a trial's final value from the study's own finished learning curves.

Rank-based pruners (median, successive halving) assume that a trial ranked low at step ``s`` will
end low. On curves that cross (slow starters that end best) that assumption prunes the eventual
winner; on curves that do not cross it is right and could prune harder. This pruner *measures*
how much the ranking at step ``s`` says about the final ranking, from the trials that ran to the
end, and prunes only as hard as that evidence allows.

The model is a Gaussian copula between the loss at step ``s`` and the final loss. For the ``n``
COMPLETE trials that ran to the end, both losses are turned into normal scores
(``z = Phi^-1((rank - 0.5) / n)``, so the scale and any monotone distortion of the curves do not
matter, and NaN reports are simply the worst rank). Their correlation ``rho`` is estimated and
replaced by its lower confidence bound (Fisher's z transform, one-sided ``confidence``), so a
handful of trials never justifies much pruning. A running trial with normal score ``z`` at
step ``s`` then ends in the best ``top`` fraction of final values with probability

    ``p = Phi((Phi^-1(top) - rho * z) / sqrt(1 - rho**2))``,

against ``top`` for a trial about which nothing is known. The trial is pruned when ``p`` falls
below ``ratio * top``: it is ``1 / ratio`` times less likely than a fresh trial to be among the
best. With ``rho <= 0`` (rank at ``s`` says nothing, or the opposite) ``p >= top`` and nothing is
pruned at that step; with ``rho`` near 1, anything below the top of the rung goes.

Decisions are made at geometric checkpoints ``min_resource * reduction_factor ** k`` (as
successive halving's rungs), so a trial faces a few decisions, not one per step. Steps at or past
the last step reached by the finished trials make no decision. Nothing is written to storage:
the model is rebuilt from the finished trials (each read once) at every decision.

Example:
    >>> import hpopt
    >>> from hpopt.pruners import ForecastPruner
    >>> study = hpopt.create_study(pruner=ForecastPruner(n_startup_trials=5), seed=0)
    >>> def objective(trial):
    ...     x = trial.suggest_float("x", 0, 1)
    ...     for step in range(1, 28):
    ...         trial.report(x + 1.0 / step, step)
    ...         if trial.should_prune():
    ...             raise hpopt.TrialPruned()
    ...     return x
    >>> study.optimize(objective, n_trials=40)
    >>> len(study.get_trials(["pruned"])) > 10
    True
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri

from hpopt.pruners._util import (
    CachingPruner,
    StudyCache,
    check_int,
    check_real,
    curve,
    previous_step,
    to_loss,
)
from hpopt.records import FrozenTrial, TrialState
from hpopt.samplers.base import History

__all__ = ["ForecastPruner"]

#: Checkpoints considered at most (as successive halving's rungs: 64 stopped every decision after
#: step 64 with reduction_factor 1.05, 406 with 1.1).
_MAX_CHECKS = 4096


class ForecastPruner(CachingPruner):
    """Prune a trial whose forecast chance of ending among the best is far below a fresh trial's.

    Args:
        n_startup_trials: COMPLETE trials with reports needed before anything is pruned (``>= 4``:
            the confidence bound on the correlation needs ``n > 3``).
        top: The fraction of final values that counts as "among the best" (``0 < top < 1``).
        ratio: Prune when the forecast chance is below ``ratio * top`` (``0 < ratio < 1``).
        confidence: One-sided confidence of the lower bound on the correlation (``0.5 <=
            confidence < 1``; 0.5 uses the estimate itself).
        min_resource: Step of the first checkpoint (``>= 1``).
        reduction_factor: Ratio between checkpoints (``> 1``).

    Raises:
        TypeError, ValueError: A setting of the wrong type or out of range, naming it.
    """

    supports_multi_objective = False

    def __init__(
        self,
        *,
        n_startup_trials: int = 5,
        top: float = 0.1,
        ratio: float = 0.5,
        confidence: float = 0.95,
        min_resource: int = 1,
        reduction_factor: float = 3,
    ) -> None:
        super().__init__()
        self.n_startup_trials = check_int("n_startup_trials", n_startup_trials, 4)
        self.top = check_real("top", top, low=0.0, low_open=True, high=1.0)
        if self.top >= 1.0:
            raise ValueError(f"`top < 1` must hold, but got top={top!r}.")
        self.ratio = check_real("ratio", ratio, low=0.0, low_open=True, high=1.0)
        if self.ratio >= 1.0:
            raise ValueError(f"`ratio < 1` must hold, but got ratio={ratio!r}.")
        self.confidence = check_real("confidence", confidence, low=0.5, high=1.0)
        if self.confidence >= 1.0:
            raise ValueError(f"`confidence < 1` must hold, but got confidence={confidence!r}.")
        self.min_resource = check_int("min_resource", min_resource, 1)
        self.reduction_factor = check_real(
            "reduction_factor", reduction_factor, low=1.0, low_open=True
        )

    def __repr__(self) -> str:
        return (
            f"ForecastPruner(n_startup_trials={self.n_startup_trials}, top={self.top:g}, "
            f"ratio={self.ratio:g}, confidence={self.confidence:g}, "
            f"min_resource={self.min_resource}, reduction_factor={self.reduction_factor:g})"
        )

    def checkpoints(self, upto: int) -> list[int]:
        """The steps ``<= upto`` at which decisions are made."""
        out: list[int] = []
        for k in range(_MAX_CHECKS):
            r = math.ceil(self.min_resource * self.reduction_factor**k - 1e-9)
            r = max(r, out[-1] + 1) if out else r
            if r > upto:
                break
            out.append(r)
        return out

    def forecast(self, history: History, trial: FrozenTrial) -> float | None:
        """The forecast chance that ``trial`` ends in the best ``top`` fraction, from its latest
        report; None when there is no basis yet (too few finished trials, no report, or a step at
        or past the end of the finished curves)."""
        step, _ = previous_step(trial)
        if step is None:
            return None
        cache = self._cache(history)
        with self._lock:
            runs: list[tuple[np.ndarray, np.ndarray, float]] = list(cache.data.get("runs", ()))
        if len(runs) < self.n_startup_trials:
            return None
        end = max(int(r[0][-1]) for r in runs)
        if step >= end:
            return None
        steps, loss = curve(trial, cache.sign)
        own = float(loss[-1, 0])
        # Each finished trial's loss at `step`: its last report at or before it.
        at = np.array([_loss_at(s, v, step) for s, v, _ in runs])
        final = np.array([f for _, _, f in runs])
        ok = ~np.isnan(at)
        if np.count_nonzero(ok) < self.n_startup_trials:
            return None
        at, final = at[ok], final[ok]
        rho = _rho_lower(_normal_scores(at), _normal_scores(final), self.confidence)
        if rho <= 0.0:  # no evidence that the ranking now carries over: neutral
            return self.top
        z = _score_of(own, at)
        zq = float(ndtri(self.top))
        if own <= float(at.min()):
            # First at this step (ties included): n finished trials cannot place it finer than
            # about 1/(n+1), so it is never scored outside the best `top` (with a `top` below
            # that resolution, or tied with the best, the best trial so far was pruned).
            z = min(z, zq)
        return float(ndtr((zq - rho * z) / math.sqrt(max(1.0 - rho * rho, 1e-12))))

    def prune(self, history: History, trial: FrozenTrial) -> bool:
        """Whether ``trial``'s forecast at a checkpoint it just crossed is below ``ratio * top``."""
        if history.n_objectives != 1:
            raise ValueError(
                f"ForecastPruner handles one objective, but the study has {history.n_objectives} "
                f"({list(history.directions)})."
            )
        step, prev = previous_step(trial)
        if step is None:
            return False
        crossed = [r for r in self.checkpoints(step) if prev is None or r > prev]
        if not crossed:
            return False
        p = self.forecast(history, trial)
        return p is not None and p < self.ratio * self.top

    def _ingest(self, cache: StudyCache, trial: FrozenTrial) -> None:
        if trial.state is not TrialState.COMPLETE or trial.values is None:
            return
        steps, loss = curve(trial, cache.sign)
        if len(steps) == 0:
            return
        # As a loss (an infinite final value is capped like an infinite report: +inf is the
        # worst final, not replaced by the trial's last report, which may be its best).
        final = float(to_loss(np.array([trial.values[:1]]), cache.sign)[0, 0])
        cache.data.setdefault("runs", []).append((steps, loss[:, 0].copy(), final))


def _loss_at(steps: np.ndarray, loss: np.ndarray, step: int) -> float:
    i = int(np.searchsorted(steps, step, side="right")) - 1
    return float(loss[i]) if i >= 0 else math.nan


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Van der Waerden scores: ``Phi^-1((rank - 0.5) / n)`` with average ranks for ties."""
    from scipy.stats import rankdata

    return ndtri((rankdata(x) - 0.5) / len(x))


def _score_of(value: float, sample: np.ndarray) -> float:
    """The normal score ``value`` would get among ``sample`` (mid-rank among equal values)."""
    below = np.count_nonzero(sample < value)
    equal = np.count_nonzero(sample == value)
    rank = below + 0.5 * equal + 0.5  # its own mid-rank in the sample plus itself
    return float(ndtri(rank / (len(sample) + 1)))


def _rho_lower(a: np.ndarray, b: np.ndarray, confidence: float) -> float:
    """Lower confidence bound of the correlation of ``a`` and ``b`` (Fisher's z)."""
    sa, sb = a.std(), b.std()
    if sa == 0.0 or sb == 0.0:
        return 0.0  # one side constant: no evidence either way
    r = float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))
    r = min(max(r, -0.999999), 0.999999)
    n = len(a)
    return float(math.tanh(math.atanh(r) - ndtri(confidence) / math.sqrt(n - 3)))
