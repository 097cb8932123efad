"""Asynchronous successive halving (ASHA; Li et al. 2020, "A System for Massively Parallel
Hyperparameter Tuning", Algorithm 2).

Rungs sit at steps ``r_k = ceil(min_resource * eta ** (min_early_stopping_rate + k))``, k = 0, 1,
..., below ``max_resource`` when one is given (``eta`` is ``reduction_factor``). When a trial's
report first reaches or passes ``r_k``, its value at rung k is the value reported at the first
step ``>= r_k``; it is *promoted* (keeps running) if it ranks among the best
``max(1, floor(n / eta))`` of the ``n`` values recorded at that rung so far — by every trial of
the study, finished or running, itself included — and pruned otherwise. The decision uses only
what has already been reported: it never waits for a rung to fill (that is what makes it
asynchronous), so early trials are promoted generously and later ones face more competition.

Decisions are made on the report that crosses a rung (several rungs crossed by one jump of
non-contiguous steps are all checked); call ``should_prune`` after every ``report``. Nothing is
written to the storage: rung values are derived from the reports every worker can see, so the
pruner is stateless apart from a per-study cache of finished trials (each read once). A rung
with fewer than ``bootstrap_count`` values never prunes (Optuna's pruner, by contrast, prunes
while the rung is that small).

With ``rank_by="forecast"`` (the default here; one objective), the trials at a rung are ranked
by a *forecast of their final loss* instead of their loss at the rung: a Gaussian process over
(hyperparameters, log-step) learned from the study's own trials and conditioned on each trial's
partial curve (:mod:`hpopt.pruners.curvegp`), ranked by the forecast mean minus
``forecast_optimism`` standard deviations (default 0.5: some benefit of the doubt for curves the
model knows less about). Rungs, the promoted fraction and the asynchronous rule are the same.

**Warm-up:** the model is used at a rung once ``forecast_min_trials`` trials have finished and at
least 3 of them reported past the rung's step; until then the rung makes *no* decision (the trial
goes on, as in the median pruner's start-up trials), so the first trials run to the end and the
model starts from whole curves, instead of pruning by early losses that crossing curves make
meaningless. At the last rung (beyond the curves the model was fitted on), when the curves leave
nothing to model (constant or non-finite) and in multi-objective studies, the observed rule
applies. Chosen on the held-out curve families of ``benchmarks/pruners_heldout.py`` (see
benchmarks/RESULTS.md): the warm-up took successive halving from a mean gap of +2% to +110% to no
pruning's final best (optimism 1, no warm-up) down to 0-2.1%, at 0.25-0.27 of its steps. Cost: a
refit (tens of milliseconds) each time the finished trials grow by 20%, and a forecast (about a
millisecond) per rung decision. ``rank_by="observed"`` is Li et al.'s ASHA (and Optuna's
``SuccessiveHalvingPruner``): the loss at the rung, from the first report. It spends fewer steps
(no warm-up), which pays when the step budget is small and early ranks hold.

Losses, not raw values, are ranked (maximized objectives are negated; NaN is the worst value).
With several objectives, a rung ranks by non-dominated front; inside a front the tie-break is
the sum over objectives of the value's rank within the rung (average ranks for ties), so a
trial good on every objective goes first; trials still equal are promoted together.

Example:
    >>> import hpopt
    >>> from hpopt.pruners import SuccessiveHalvingPruner
    >>> pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    >>> study = hpopt.create_study(pruner=pruner, sampler="random", seed=0)
    >>> def objective(trial):
    ...     x = trial.suggest_float("x", 0, 1)
    ...     for step in range(1, 28):
    ...         trial.report(x + 1.0 / step, step)
    ...         if trial.should_prune():
    ...             raise hpopt.TrialPruned()
    ...     return x
    >>> study.optimize(objective, n_trials=30)
    >>> len(study.get_trials(["pruned"])) > 10
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hpopt._blas import single_blas_thread
from hpopt.pruners._util import (
    CachingPruner,
    StudyCache,
    check_int,
    check_real,
    curve,
    n_ahead,
    previous_step,
)
from hpopt.pruners.curvegp import CurveGP, encode, fit_curve_gp, trial_points
from hpopt.records import FrozenTrial
from hpopt.samplers.base import History

__all__ = ["SuccessiveHalvingPruner"]

#: Rungs considered at most. Each rung is at least one step past the previous one, so with a
#: reduction_factor near 1 they start 1, 2, 3, ...: a cap of 64 stopped every decision after step
#: 64 (eta 1.05) or 406 (eta 1.1). 4096 rungs reach the largest step (2**63 - 1) for any eta >=
#: 1.011; for eta >= 2 the first 64 already did.
_MAX_RUNGS = 4096
#: Rungs that give the curve model its grid (a point per grid step a trial reached; 64, as when
#: that was the cap on rungs, keeps every trial well under the model's MAX_POINTS).
_GRID_RUNGS = 64
_RANK_BY = ("observed", "forecast")
#: Finished rung members forecast per batch (bounds the batch's temporary arrays).
_FORECAST_BLOCK = 256


class SuccessiveHalvingPruner(CachingPruner):
    """Asynchronous successive halving: promote the top ``1/reduction_factor`` of each rung.

    Args:
        min_resource: Step of the first rung (``>= 1``).
        reduction_factor: ``eta``, the ratio between rungs and the inverse of the promoted
            fraction (``> 1``).
        min_early_stopping_rate: ``s``; the first rung is at ``min_resource * eta**s`` (``>= 0``).
        max_resource: The step a trial that is never pruned reaches (its last epoch), or None
            for no cap. Rungs at or beyond it make no decision.
        bootstrap_count: A rung with fewer values than this never prunes (``>= 0``).
        rank_by: ``"forecast"`` (default: a forecast of the final loss from the study's own
            learning curves, with a warm-up; one objective, the observed rule otherwise) or
            ``"observed"`` (the loss at the rung, as in Li et al.).
        forecast_min_trials: Finished trials with reports needed before the forecast is used
            (``>= 3``); until then (the warm-up) a rung makes no decision.
        forecast_optimism: Rank by forecast mean minus this many standard deviations (``>= 0``;
            default 0.5).

    Raises:
        TypeError, ValueError: A setting of the wrong type or out of range, naming it.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study(pruner="successive_halving")
        >>> study.pruner.rung_steps(100)
        [1, 3, 9, 27, 81]
    """

    supports_multi_objective = True

    def __init__(
        self,
        *,
        min_resource: int = 1,
        reduction_factor: float = 3,
        min_early_stopping_rate: int = 0,
        max_resource: int | None = None,
        bootstrap_count: int = 0,
        rank_by: str = "forecast",
        forecast_min_trials: int = 10,
        forecast_optimism: float = 0.5,
    ) -> None:
        super().__init__()
        self.min_resource = check_int("min_resource", min_resource, 1)
        self.reduction_factor = check_real(
            "reduction_factor", reduction_factor, low=1.0, low_open=True
        )
        self.min_early_stopping_rate = check_int(
            "min_early_stopping_rate", min_early_stopping_rate, 0
        )
        if max_resource is not None:
            max_resource = check_int("max_resource", max_resource, 1)
            if max_resource < self.min_resource:
                raise ValueError(
                    "`min_resource <= max_resource` must hold, but got "
                    f"(min_resource={self.min_resource}, max_resource={max_resource})."
                )
        self.max_resource = max_resource
        self.bootstrap_count = check_int("bootstrap_count", bootstrap_count, 0)
        if not isinstance(rank_by, str) or rank_by not in _RANK_BY:
            raise ValueError(f"`rank_by` must be one of {list(_RANK_BY)}, but got rank_by={rank_by!r}.")
        self.rank_by = rank_by
        self.forecast_min_trials = check_int("forecast_min_trials", forecast_min_trials, 3)
        self.forecast_optimism = check_real("forecast_optimism", forecast_optimism, low=0.0)
        if not math.isfinite(self.forecast_optimism):
            raise ValueError(
                f"`forecast_optimism` must be finite, but got forecast_optimism={forecast_optimism!r}."
            )
        self._rung_cache: dict[int, list[int]] = {}

    def __repr__(self) -> str:
        return (
            f"SuccessiveHalvingPruner(min_resource={self.min_resource}, "
            f"reduction_factor={self.reduction_factor:g}, "
            f"min_early_stopping_rate={self.min_early_stopping_rate}, "
            f"max_resource={self.max_resource}, bootstrap_count={self.bootstrap_count}"
            f"{self._forecast_repr()})"
        )

    def _forecast_repr(self) -> str:
        if self.rank_by == "observed":
            return ", rank_by='observed'"
        return (f", rank_by={self.rank_by!r}, forecast_min_trials={self.forecast_min_trials}, "
                f"forecast_optimism={self.forecast_optimism:g}")

    # -- brackets (one here; Hyperband overrides) -------------------------------------------------
    def bracket_of(self, trial_number: int) -> int:
        """The bracket of a trial (always 0: successive halving has one)."""
        return 0

    def _rate(self, bracket: int) -> int:
        return self.min_early_stopping_rate

    def rung_steps(self, upto: int, *, bracket: int = 0) -> list[int]:
        """The steps (``<= upto``, below ``max_resource``) at which ``bracket`` makes decisions."""
        rate = self._rate(bracket)
        with self._lock:
            steps = self._rung_cache.setdefault(rate, [])
            cap = self.max_resource if self.max_resource is not None else math.inf
            while (not steps or steps[-1] <= upto) and len(steps) < _MAX_RUNGS:
                r = math.ceil(
                    self.min_resource * self.reduction_factor ** (rate + len(steps)) - 1e-9
                )
                r = max(r, steps[-1] + 1) if steps else r
                if r >= cap:
                    break
                steps.append(r)
            return [r for r in steps if r <= upto]

    # -- pruning ----------------------------------------------------------------------------------
    def prune(self, history: History, trial: FrozenTrial) -> bool:
        """Whether ``trial`` ranks outside the promoted fraction of a rung it has just reached."""
        step, prev = previous_step(trial)
        if step is None:
            return False
        bracket = self.bracket_of(trial.number)
        rungs = self.rung_steps(step, bracket=bracket)
        new = [k for k, r in enumerate(rungs) if prev is None or r > prev]
        if not new:
            return False
        cache = self._cache(history)
        own = self._rung_values(trial, cache.sign, bracket)
        running = [
            t for t in history.running()
            if t.number != trial.number and self.bracket_of(t.number) == bracket
        ]
        others = [self._rung_values(t, cache.sign, bracket) for t in running]
        eta = self.reduction_factor
        forecast = self.rank_by == "forecast" and len(cache.sign) == 1
        for k in new:
            with self._lock:
                finished = cache.data.get((bracket, k))
                rows = finished.array() if finished is not None else None
            live = [o[k] for o in others if len(o) > k]
            parts = [own[k : k + 1]] + ([np.asarray(live)] if live else [])
            if rows is not None:
                parts.append(rows)
            loss = np.concatenate(parts, axis=0)
            n = len(loss)
            if n < self.bootstrap_count:
                continue
            keep = max(1, int(n // eta))
            if forecast:
                live_trials = [t for t, o in zip(running, others) if len(o) > k]
                with single_blas_thread():  # small matrices: extra BLAS threads only spin
                    ahead = self._forecast_ahead(cache, trial, live_trials, bracket, k, rungs[k])
                if ahead is not None:
                    if ahead >= keep:
                        return True
                    continue
            if n_ahead(loss, 0, limit=keep) >= keep:
                return True
        return False

    # -- forecast ranking -------------------------------------------------------------------------
    def _forecast_ahead(self, cache: StudyCache, trial: FrozenTrial, live: list[FrozenTrial],
                        bracket: int, k: int, step: int) -> int | None:
        """How many trials at rung ``k`` of ``bracket`` have a better (optimistic) forecast of
        their final loss than ``trial``: 0 while the model has too little to go on at this rung
        (the warm-up: no decision, the trial goes on), None beyond the steps the model was fitted
        on or when the curves leave nothing to model (constant or non-finite: the observed rule
        decides)."""
        model, members, done = self._model(cache)
        if model is None:
            with self._lock:
                n = len(cache.data.get("fc_trials", {}))
            return 0 if n < self.forecast_min_trials else None
        if step >= math.exp(model.log_t):
            return None
        if model.n_past(step) < 3:
            return 0
        with self._lock:
            # Forecasts of the rung's finished trials under this model, each computed once (the
            # rung's member list only grows, so the new ones are its tail).
            numbers = cache.data.get(("num", bracket, k), [])
            fin = done.get((bracket, k), np.empty((0, 2)))
            if len(fin) < len(numbers):
                trials = cache.data["fc_trials"]
                # In blocks: after a refit every member of the rung is forecast again, and one
                # batch of n trials held O(n x fit points x own points) floats at once (20,000
                # trials: 824 MB peak RSS, growing with the study).
                new = numbers[len(fin):]
                parts = [fin]
                for i in range(0, len(new), _FORECAST_BLOCK):
                    mt = [trials[n] for n in new[i:i + _FORECAST_BLOCK]]
                    mu, sd = self._forecast(model, members, mt, cache.sign)
                    parts.append(np.stack([mu, sd], axis=1))
                fin = done[(bracket, k)] = np.concatenate(parts)
        mu, sd = self._forecast(model, members, [trial, *live], cache.sign)
        kappa = self.forecast_optimism
        own = mu[0] - kappa * sd[0]
        # Every member is scored alike (finished ones included), so scores stay exchangeable and
        # about 1/eta of the arrivals are promoted, as with the observed rule.
        score = np.concatenate([mu[1:] - kappa * sd[1:], fin[:, 0] - kappa * fin[:, 1]])
        return int(np.count_nonzero(score < own))

    @staticmethod
    def _forecast(model: CurveGP, members: frozenset[int], trials: list[FrozenTrial],
                  sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.array([encode(t, model.names) for t in trials]).reshape(len(trials), len(model.names))
        empty = (np.empty(0, dtype=np.int64), np.empty(0))
        own = [empty if t.number in members else trial_points(t, sign, model.grid) for t in trials]
        return model.forecast(x, own, [t.number for t in trials])

    def _model(self, cache: StudyCache) -> tuple[CurveGP | None, frozenset[int], dict[Any, Any]]:
        """The curve model of the study, refitted when the finished trials it is built on change.

        It is fitted on the ``n_s`` finished trials (with reports) of lowest number, ``n_s`` the
        largest point ``<= n`` of a geometric schedule (``forecast_min_trials``, then x1.2), so
        the fit costs O(log n) refits over a study and two pruners reading the same history fit
        the same model. Returns (model or None, numbers of the trials in the fit, forecasts of
        the finished trials of each rung under this model, by (bracket, rung))."""
        with self._lock:
            trials: dict[int, FrozenTrial] = cache.data.get("fc_trials", {})
            n = len(trials)
            n_s = _schedule_point(n, self.forecast_min_trials)
            if n_s is None:
                return None, frozenset(), {}
            numbers = np.sort(np.fromiter(trials, dtype=np.int64, count=n))[:n_s]
            key = (n_s, hash(numbers.tobytes()))
            if cache.data.get("fc_key") != key:
                fit = [trials[int(i)] for i in numbers]
                deepest = max(int(max(t.intermediate_values)) for t in fit)
                grid = self.rung_steps(deepest, bracket=0)[:_GRID_RUNGS]
                model = fit_curve_gp(fit, cache.sign, grid, self.max_resource)
                cache.data["fc_key"] = key
                cache.data["fc_model"] = (model, model.members if model else frozenset(), {})
            return cache.data["fc_model"]

    def _rung_values(self, trial: FrozenTrial, sign: np.ndarray, bracket: int) -> np.ndarray:
        """Losses (K, m) at each rung the trial reached: the value at its first step >= r_k."""
        steps, loss = curve(trial, sign)
        if len(steps) == 0:
            return loss
        rungs = np.asarray(self.rung_steps(int(steps[-1]), bracket=bracket), dtype=np.int64)
        return loss[np.searchsorted(steps, rungs, side="left")]

    def _ingest(self, cache: StudyCache, trial: FrozenTrial) -> None:
        bracket = self.bracket_of(trial.number)
        forecast = self.rank_by == "forecast" and len(cache.sign) == 1
        rows = self._rung_values(trial, cache.sign, bracket)
        for k, row in enumerate(rows):
            rung = cache.data.get((bracket, k))
            if rung is None:
                rung = cache.data[(bracket, k)] = _Rung()
            rung.add(row)
            if forecast:
                cache.data.setdefault(("num", bracket, k), []).append(trial.number)
        if forecast and trial.intermediate_values:
            cache.data.setdefault("fc_trials", {})[trial.number] = trial


def _schedule_point(n: int, start: int) -> int | None:
    """The largest point ``<= n`` of the schedule ``start, ceil(1.2 * previous), ...`` (each at
    least one more than the last); None when ``n < start``."""
    if n < start:
        return None
    v = start
    while True:
        nxt = max(v + 1, math.ceil(v * 1.2))
        if nxt > n:
            return v
        v = nxt


class _Rung:
    """Losses recorded at one rung by finished trials, in a growable array (amortized O(1)
    appends, no copy on read)."""

    __slots__ = ("_buf", "_n")

    def __init__(self) -> None:
        self._buf: np.ndarray | None = None
        self._n = 0

    def add(self, row: np.ndarray) -> None:
        if self._buf is None:
            self._buf = np.empty((16, len(row)))
        elif self._n == len(self._buf):
            self._buf = np.concatenate([self._buf, np.empty_like(self._buf)])
        self._buf[self._n] = row
        self._n += 1

    def array(self) -> np.ndarray:
        assert self._buf is not None  # a rung exists only once a row was added
        return self._buf[: self._n]
