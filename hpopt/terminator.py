"""Stop a study when more trials are unlikely to beat the noise: :class:`Terminator`.

Following Makarova et al. (2022, "Automatic termination for hyperparameter optimization"), a
Gaussian process is fitted to the COMPLETE trials and gives a high-probability upper bound on the
*simple regret* of the incumbent, the gap between the best point found and the best point of the
space:

    bound = min_i UCB(x_i) - min_x LCB(x)        (for minimization)

where ``UCB/LCB = mean ± sqrt(beta_t) * std`` of the GP posterior, ``x_i`` runs over the observed
points and ``x`` over the whole box (a quasi-random cloud plus local perturbations of the best
observed points). When that bound falls below the statistical error of the validation score,
the remaining possible improvement is within the noise of the estimate itself: optimizing further
mostly fits the validation split, so the study is stopped (``study.stop()``: the running
``optimize`` starts no new trial).

``beta_t = 2 log(d t^2 pi^2 / (6 delta)) / 5`` — the GP-UCB schedule of Srinivas et al. (2010) for
``d`` inputs after ``t`` trials, with ``delta = 0.1``, scaled down by 5 as in that paper's
experiments and in Makarova et al.'s.

**The threshold.** Give it directly (``error=``: e.g. the standard error of a cross-validation
score), or name a user attribute (``error_attr=``) holding the per-fold scores of each trial (a list
of numbers, e.g. ``trial.set_user_attr("cv_scores", list(scores))``): the threshold is then the
standard error of the *best* trial's fold scores with the Nadeau & Bengio (2003) correction for
the overlap of the training sets in ``k``-fold cross-validation,
``sqrt((1/k + 1/(k-1)) * var(scores, ddof=1))``.

**Which trials.** The GP is fitted to the better half of the COMPLETE trials (``top_fraction``,
at least ``min_n_trials`` of them; see the setting for why), and ``t`` in ``beta_t`` counts all.

**Search space.** The parameters every COMPLETE trial has (the intersection: in a conditional
space, the shared root parameters; a numeric range changed during the study counts with the union
of its ranges), encoded in the unit box of
:class:`~hpopt.SpaceTransform` with one-hot categoricals. FAIL and PRUNED trials are ignored;
infinite values are replaced by the worst finite one. Single objective only.

Example:
    >>> import hpopt
    >>> from hpopt.terminator import Terminator
    >>> stop = Terminator(error=0.5, min_n_trials=10, seed=0)
    >>> study = hpopt.create_study(sampler="tpe", seed=0)
    >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=60, callbacks=[stop])
    >>> len(study.trials) < 60 and stop.stopped
    True
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hpopt.distributions import Categorical, Distribution, Float, Int
from hpopt.records import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hpopt.study import Study

__all__ = ["Terminator", "regret_bound", "cv_standard_error", "ucb_beta"]

_log = logging.getLogger("hpopt")

_DELTA = 0.1  # GP-UCB failure probability
_BETA_SCALE = 5.0  # Srinivas et al. (2010) experiments; Makarova et al. (2022)
_N_BEST = 5  # best observed points whose neighbourhoods are searched for the min LCB
_N_LOCAL = 64  # perturbations per best point
_LOCAL_SD = 0.05  # their spread in the unit box


def ucb_beta(n_params: int, n_trials: int, delta: float = _DELTA) -> float:
    """GP-UCB's ``beta_t = 2 log(d t^2 pi^2 / (6 delta))``, scaled down by 5 (see the module doc)."""
    d, t = max(int(n_params), 1), max(int(n_trials), 1)
    return 2.0 * math.log(d * t * t * math.pi**2 / (6.0 * delta)) / _BETA_SCALE


def cv_standard_error(scores: Sequence[float]) -> float:
    """Standard error of a ``k``-fold cross-validation mean, Nadeau & Bengio corrected.

    Raises:
        ValueError: Fewer than two scores, or a score that is not a finite real number.
    """
    if isinstance(scores, (str, bytes)) or not isinstance(scores, Sequence):
        raise ValueError(f"the fold scores must be a list of numbers, but got {scores!r}.")
    if any(isinstance(s, bool) or not isinstance(s, numbers.Real) for s in scores):
        raise ValueError(f"the fold scores must be real numbers, but got {list(scores)!r}.")
    arr = np.asarray(scores, dtype=float)
    k = arr.size
    if k < 2 or not np.isfinite(arr).all():
        raise ValueError(f"the fold scores must be at least 2 finite numbers, but got {list(scores)!r}.")
    return float(math.sqrt((1.0 / k + 1.0 / (k - 1)) * arr.var(ddof=1)))


def _merged(a: Distribution, b: Distribution) -> Distribution | None:
    """One distribution holding the values of both ``a`` and ``b``, or None.

    Within a study a parameter keeps its kind, log flag and choices, but a numeric range (or step)
    may change between trials (users widen ranges); such a parameter is modelled over the union
    of its ranges (on a common grid when the steps agree), not dropped: dropping every parameter
    whose range changed left no parameter, hence a bound of 0 and a stop, however much the
    objective still depended on it.
    """
    if a == b:
        return a
    if type(a) is not type(b) or isinstance(a, Categorical) or a.log != b.log:  # type: ignore[union-attr]
        return None
    low, high = min(a.low, b.low), max(a.high, b.high)  # type: ignore[union-attr]
    if isinstance(a, Int):
        same_grid = a.step == b.step and (b.low - a.low) % a.step == 0  # type: ignore[union-attr]
        return Int(low, high, log=a.log, step=a.step if same_grid else 1)
    same_grid = a.step == b.step and (a.step is None or a.low == b.low)  # type: ignore[union-attr]
    return Float(low, high, log=a.log, step=a.step if same_grid else None)  # type: ignore[union-attr]


def _space(trials: Sequence[FrozenTrial]) -> dict[str, Distribution]:
    """Parameters every trial has (column order of the first trial), each with a distribution
    that covers all its values (see :func:`_merged`)."""
    inter = dict(trials[0].distributions)
    for t in trials[1:]:
        dists = t.distributions
        merged = {}
        for k, d in inter.items():
            other = dists.get(k)
            m = None if other is None else _merged(d, other)
            if m is not None:
                merged[k] = m
        inter = merged
    return {k: d for k, d in inter.items() if not d.single()}


def regret_bound(
    trials: Sequence[FrozenTrial],
    *,
    sign: float = 1.0,
    top_fraction: float = 1.0,
    min_top: int = 20,
    n_candidates: int = 2048,
    seed: int = 0,
) -> tuple[float, int]:
    """Upper confidence bound on the simple regret from the COMPLETE ``trials``.

    Args:
        trials: COMPLETE trials with one finite-or-infinite value each (at least 2).
        sign: ``1`` to minimize, ``-1`` to maximize (values are multiplied by it).
        top_fraction: Fit the GP to this best fraction of the trials only (at least ``min_top``
            of them, or all when there are fewer).
        min_top: See ``top_fraction``.
        n_candidates: Quasi-random points of the box searched for the smallest LCB.
        seed: Seed of the candidates and of the GP's restarts.

    Returns:
        ``(bound, n_params)``: the bound in the objective's units (``>= 0``), and the number of
        parameters in the intersection space the GP used (0: no parameter varies; bound 0).
    """
    from scipy.stats import qmc

    from hpopt.samplers.gp_model import GaussianProcess
    from hpopt.transform import SpaceTransform

    space = _space(trials)
    y = sign * np.array([t.values[0] for t in trials], dtype=float)  # type: ignore[index]
    finite = np.isfinite(y)
    if not finite.any():
        return math.inf, len(space)
    y = np.where(finite, y, np.nanmax(np.where(finite, y, -np.inf)))
    if not space:
        return 0.0, 0
    if np.ptp(y) == 0.0:
        # Every value equal: the GP's maximum-likelihood amplitude is 0, so is the bound (its
        # variance floor would otherwise give a constant in absolute units, whatever the scale).
        return 0.0, len(space)
    # Values beyond about 1e154 overflow the GP's variance (bound NaN: never a stop); the bound
    # scales with the values, so compute it in units of a power of two (exact) and scale back.
    peak = float(np.max(np.abs(y)))
    exponent = math.frexp(peak)[1] if peak > 1e100 else 0
    y = np.ldexp(y, -exponent)
    n_top = min(len(trials), max(min_top, math.ceil(top_fraction * len(trials))))
    keep = np.sort(np.argsort(y, kind="stable")[:n_top])
    y = y[keep]
    tf = SpaceTransform(space, one_hot=True)
    X = tf.encode_many([trials[i].params for i in keep.tolist()])
    gp = GaussianProcess(seed=seed).fit(X, y)
    beta = ucb_beta(len(space), len(trials))  # t counts every trial: the search's length
    root = math.sqrt(beta)
    mean, var = gp.predict(X)
    ucb = mean + root * np.sqrt(np.maximum(var, 0.0))
    rng = np.random.default_rng(seed)
    cloud = qmc.Sobol(tf.dim, scramble=True, seed=rng).random(n_candidates)
    best = X[np.argsort(mean)[:_N_BEST]]
    local = np.clip(np.repeat(best, _N_LOCAL, axis=0)
                    + rng.normal(0.0, _LOCAL_SD, (best.shape[0] * _N_LOCAL, tf.dim)), 0.0, 1.0)
    cand = tf.snap(np.vstack([cloud, local]))  # representable points (one-hot, integer cells)
    cand = np.vstack([cand, X])
    cm, cv = gp.predict(cand)
    lcb = cm - root * np.sqrt(np.maximum(cv, 0.0))
    with np.errstate(over="ignore"):
        bound = float(np.ldexp(max(float(ucb.min() - lcb.min()), 0.0), exponent))
    return bound, len(space)


class Terminator:
    """A callback for ``optimize`` that stops the study when the regret bound is below the noise.

    Use: ``study.optimize(objective, n_trials=200, callbacks=[Terminator(error=se)])``.

    Args:
        error: The error of the validation score, in the objective's units (``> 0``), e.g. the
            standard error of a cross-validation mean. Exactly one of ``error`` and ``error_attr``.
        error_attr: Name of a user attribute holding each trial's per-fold scores; the threshold
            is the corrected standard error of the best COMPLETE trial's list
            (:func:`cv_standard_error`).
        min_n_trials: COMPLETE trials needed before the terminator may stop (``>= 2``; default 20):
            the GP needs data before its bound means anything.
        top_fraction: The GP is fitted to this best fraction of the COMPLETE trials (at least
            ``min_n_trials`` of them), ``0 < top_fraction <= 1`` (default 0.5). The regret is
            decided near the optimum: far worse configurations (diverged models, a classifier at
            chance level) put cliffs into the data that a stationary GP can only fit with short
            lengthscales, which inflates its uncertainty everywhere and keeps the bound high
            forever. 1.0 fits every trial, as in Makarova et al. (2022).
        n_candidates: Quasi-random points searched for the smallest lower confidence bound
            (``>= 16``).
        seed: Seed of the candidates and of the GP fit (an int ``>= 0``).

    Attributes:
        last_bound: The regret bound at the last check (None before any).
        last_threshold: The threshold it was compared with.
        last_n_trials: COMPLETE trials at the last check.
        stopped: Whether this terminator stopped the study; ``reason`` then says why.

    Raises:
        TypeError, ValueError: A setting out of range (named in the message).
    """

    def __init__(
        self,
        *,
        error: float | None = None,
        error_attr: str | None = None,
        min_n_trials: int = 20,
        top_fraction: float = 0.5,
        n_candidates: int = 2048,
        seed: int = 0,
    ) -> None:
        if (error is None) == (error_attr is None):
            raise ValueError("give exactly one of `error` (a number) and `error_attr` (a user "
                             f"attribute name), but got error={error!r}, error_attr={error_attr!r}.")
        if error is not None:
            if isinstance(error, bool) or not isinstance(error, numbers.Real):
                raise TypeError(f"`error` must be a real number, but got {error!r}.")
            if not (math.isfinite(error) and error > 0):
                raise ValueError(f"`error > 0` (finite) must hold, but got error={error!r}.")
            error = float(error)
        if error_attr is not None and (not isinstance(error_attr, str) or not error_attr):
            raise TypeError(f"`error_attr` must be a non-empty str, but got {error_attr!r}.")
        for name, value, low in (("min_n_trials", min_n_trials, 2), ("n_candidates", n_candidates, 16),
                                 ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"`{name}` must be an int, but got {value!r}.")
            if value < low:
                raise ValueError(f"`{name} >= {low}` must hold, but got {name}={value!r}.")
        if isinstance(top_fraction, bool) or not isinstance(top_fraction, numbers.Real) \
                or not 0 < top_fraction <= 1:
            raise ValueError(f"`0 < top_fraction <= 1` must hold, but got top_fraction={top_fraction!r}.")
        self.top_fraction = float(top_fraction)
        self.error = error
        self.error_attr = error_attr
        self.min_n_trials = int(min_n_trials)
        self.n_candidates = int(n_candidates)
        self.seed = int(seed)
        self.last_bound: float | None = None
        self.last_threshold: float | None = None
        self.last_n_trials = 0
        self.stopped = False
        self.reason: str | None = None

    def __repr__(self) -> str:
        what = f"error={self.error!r}" if self.error is not None else f"error_attr={self.error_attr!r}"
        return f"Terminator({what}, min_n_trials={self.min_n_trials})"

    def threshold(self, best: FrozenTrial) -> float:
        """The error threshold: ``error``, or the corrected standard error of ``best``'s scores.

        Raises:
            ValueError: ``error_attr`` is missing from the best trial or not a list of numbers.
        """
        if self.error is not None:
            return self.error
        scores = best.user_attrs.get(self.error_attr)  # type: ignore[arg-type]
        if scores is None:
            raise ValueError(
                f"Terminator(error_attr={self.error_attr!r}): the best trial ({best.number}) has no "
                f"user attribute {self.error_attr!r}; set it in the objective, e.g. "
                f"trial.set_user_attr({self.error_attr!r}, list(fold_scores))."
            )
        try:
            return cv_standard_error(scores)
        except ValueError as exc:
            raise ValueError(
                f"Terminator(error_attr={self.error_attr!r}), trial {best.number}: {exc}"
            ) from exc

    def check(self, study: Study) -> bool:
        """Compute the bound and the threshold now; True when the study should stop.

        Raises:
            ValueError: A study with several objectives; a bad ``error_attr`` on the best trial.
        """
        if len(study.directions) != 1:
            raise ValueError(f"Terminator handles one objective, but the study has {len(study.directions)} "
                             f"({study.directions}).")
        trials = [t for t in study.get_trials(states=[TrialState.COMPLETE]) if t.values is not None]
        self.last_n_trials = len(trials)
        if len(trials) < self.min_n_trials:
            return False
        sign = -1.0 if study.directions[0] == "maximize" else 1.0
        finite = [t for t in trials if math.isfinite(t.values[0])]  # type: ignore[index]
        if not finite:
            return False
        best = min(finite, key=lambda t: sign * t.values[0])  # type: ignore[index]
        threshold = self.threshold(best)
        bound, n_params = regret_bound(trials, sign=sign, top_fraction=self.top_fraction,
                                       min_top=self.min_n_trials, n_candidates=self.n_candidates,
                                       seed=self.seed)
        self.last_bound, self.last_threshold = bound, threshold
        if bound < threshold:
            self.reason = (
                f"regret bound {bound:.6g} < error {threshold:.6g} after {len(trials)} complete trials "
                f"({n_params} parameters)"
            )
            return True
        return False

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        """The ``optimize`` callback: stop the study when :meth:`check` says so."""
        if self.stopped:
            study.stop()
            return
        if self.check(study):
            self.stopped = True
            _log.info("terminator: stopping study %r at trial %d: %s", study.study_name, trial.number,
                      self.reason)
            study.stop()

    def describe(self) -> dict[str, Any]:
        """The last check as a dict (for logs and reports)."""
        return {"bound": self.last_bound, "threshold": self.last_threshold,
                "n_trials": self.last_n_trials, "stopped": self.stopped, "reason": self.reason}
