"""Choosing a validation strategy: a CV splitter that fits the task, and nested cross-validation.

Two mistakes are common when tuning with cross-validation:

* **An unsuitable or noisy split.** Classes must be stratified, groups (patients, users, sites)
  must not straddle train and test, and with small data one 5-fold split gives a score whose
  noise can exceed the differences between configurations. :func:`choose_cv` picks the
  splitter from scikit-learn's (``StratifiedKFold``, ``KFold``, ``GroupKFold``,
  ``StratifiedGroupKFold``, ``RepeatedStratifiedKFold``, ``RepeatedKFold``) and decides on
  repeats from a short pilot run, explaining each choice. Time series need
  ``TimeSeriesSplit``, which cannot be guessed from the data: pass it yourself.
* **Reporting the tuned score as the model's performance.** The best of many configurations,
  each scored on the same validation folds, is optimistically biased: the hyperparameters
  overfit the validation set. :func:`nested_cross_validate` tunes inside each outer training
  fold and scores the tuned model on the outer test fold it never saw; the gap between the
  inner best score and the outer score measures that optimism.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from hpopt.sklearn.validation import choose_cv
    >>> X, y = load_iris(return_X_y=True)
    >>> choice = choose_cv(LogisticRegression(max_iter=500), X, y, n_repeats=3, seed=0)
    >>> type(choice.cv).__name__
    'RepeatedStratifiedKFold'
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import numpy as np

from hpopt.rng import resolve_seed

__all__ = ["choose_cv", "CVChoice", "RepeatedSplits", "nested_cross_validate", "NestedCVResult", "NestedFold"]

_SEED_MOD = 2**31 - 1  # scikit-learn's random_state takes int32 seeds


# -- splitters ----------------------------------------------------------------------------------
class RepeatedSplits:
    """Repeat a shuffling splitter ``n_repeats`` times with different seeds.

    scikit-learn repeats ``KFold`` and ``StratifiedKFold`` (``RepeatedKFold``,
    ``RepeatedStratifiedKFold``); this wrapper repeats any splitter that has ``shuffle=True`` and
    a ``random_state`` — in practice ``GroupKFold`` and ``StratifiedGroupKFold``, for repeated
    grouped CV. The splits are the same at every call of :meth:`split` (each repeat uses
    ``random_state + repeat``), so every configuration of a search sees the same folds.

    Args:
        splitter: A splitter with ``shuffle=True`` and an integer ``random_state``.
        n_repeats: How many times to repeat it (>= 1).
    """

    def __init__(self, splitter: Any, n_repeats: int) -> None:
        if not hasattr(splitter, "split") or not hasattr(splitter, "get_n_splits"):
            raise TypeError(f"`splitter` must be a scikit-learn splitter, but got {splitter!r}.")
        if not getattr(splitter, "shuffle", False) or not isinstance(
            getattr(splitter, "random_state", None), numbers.Integral
        ):
            raise ValueError(
                "`splitter` must shuffle with an integer random_state (shuffle=True, random_state=int), "
                f"otherwise its repeats are identical or not reproducible; got {splitter!r}."
            )
        self.splitter = splitter
        self.n_repeats = _count("n_repeats", n_repeats, 1)

    def __repr__(self) -> str:
        return f"RepeatedSplits({self.splitter!r}, n_repeats={self.n_repeats})"

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of (train, test) pairs: the splitter's count times ``n_repeats``."""
        return self.splitter.get_n_splits(X, y, groups) * self.n_repeats

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (train indices, test indices), repeat after repeat."""
        for r in range(self.n_repeats):
            cv = copy.copy(self.splitter)
            cv.random_state = (int(self.splitter.random_state) + r) % _SEED_MOD
            yield from cv.split(X, y, groups)


@attrs.frozen
class CVChoice:
    """The splitter :func:`choose_cv` picked, and why.

    Attributes:
        cv: The splitter: pass it as ``cv=`` to ``SearchCV``, ``cross_validate``, ...
        reasons: One line per decision.
        pilot_scores: The pilot run's per-fold scores (None when no pilot ran).
        standard_error: Estimated standard error of the CV mean with the chosen splitter
            (None when no pilot ran).
    """

    cv: Any
    reasons: tuple[str, ...]
    pilot_scores: np.ndarray | None = None
    standard_error: float | None = None

    def __str__(self) -> str:
        return "\n".join([f"Validation strategy: {self.cv!r}", *(f"  - {r}" for r in self.reasons)])


def choose_cv(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    groups: Any = None,
    scoring: Any = None,
    n_splits: int = 5,
    n_repeats: int | str = "auto",
    target_se: float = 0.01,
    max_repeats: int = 10,
    seed: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
) -> CVChoice:
    """Pick a cross-validation splitter for this estimator and data, and explain the choice.

    Rules, in order:

    1. ``groups`` given: grouped folds (``StratifiedGroupKFold`` when rule 2 would stratify,
       ``GroupKFold`` otherwise), so no group is in both train and test; fewer groups than ``n_splits`` lowers
       ``n_splits``.
    2. A classifier with a binary or multiclass ``y``: ``StratifiedKFold`` (every fold keeps the
       class proportions); a smallest class with fewer members than ``n_splits`` lowers
       ``n_splits`` to its size (2 at least).
    3. Otherwise ``KFold`` (also for a multi-output or multilabel ``y``, which cannot be
       stratified; scikit-learn's ``check_cv`` decides the same way).

    Folds are always shuffled with a fixed seed (drawn once when ``seed`` is None), so that every
    configuration of a search is scored on the same folds.

    Repeats (``n_repeats="auto"``): a pilot run scores the estimator as given (its default
    parameters) over 2 repeats of the folds; the fold-to-fold standard deviation ``sd`` gives the
    standard error of the CV mean as ``sd / sqrt(n_splits * r)`` for ``r`` repeats. The smallest
    ``r`` (at most ``max_repeats``) that brings it to ``target_se`` is chosen. This is
    optimistic (repeats of one data set are correlated), so treat ``target_se`` as a floor. The
    pilot costs ``2 * n_splits`` fits; pass an int ``n_repeats`` to skip it.

    Args:
        estimator: A scikit-learn estimator (used for ``is_classifier`` and the pilot).
        X, y: The data (``y`` is needed for stratification and supervised pilots).
        groups: Group labels, one per sample.
        scoring: Scorer for the pilot (as in ``cross_val_score``).
        n_splits: Folds per repeat (>= 2).
        n_repeats: ``"auto"`` or a fixed count (>= 1).
        target_se: Wanted standard error of the CV mean, in score units (> 0). 0.01 is one
            percentage point of accuracy, R² or AUC; set it for unbounded scores such as
            ``neg_mean_squared_error``.
        max_repeats: Upper bound for ``"auto"`` (>= 1).
        seed: Seeds the shuffles.
        n_jobs: Parallel fits in the pilot.

    Returns:
        A :class:`CVChoice` (``.cv`` is the splitter; ``print`` it for the reasons).

    Raises:
        TypeError, ValueError: Bad arguments, or fewer than 2 groups/samples.
    """
    from sklearn.base import is_classifier
    from sklearn.model_selection import (
        GroupKFold,
        KFold,
        RepeatedKFold,
        RepeatedStratifiedKFold,
        StratifiedGroupKFold,
        StratifiedKFold,
    )
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import _num_samples

    n_splits = _count("n_splits", n_splits, 2)
    auto = isinstance(n_repeats, str)
    if auto and n_repeats != "auto":
        raise ValueError(f"`n_repeats` must be 'auto' or an int >= 1, but got {n_repeats!r}.")
    if not auto:
        n_repeats = _count("n_repeats", n_repeats, 1)
    target_se = _positive("target_se", target_se)
    max_repeats = _count("max_repeats", max_repeats, 1)
    rs = resolve_seed(seed) % _SEED_MOD
    n = _num_samples(X)
    reasons = []
    classifier = is_classifier(estimator)
    if y is not None and _num_samples(y) != n:
        raise ValueError(f"`y` has {_num_samples(y)} samples, `X` has {n}.")
    # scikit-learn's own rule (check_cv): only a binary or multiclass target can be stratified; a
    # multi-output or multilabel one makes StratifiedKFold.split raise.
    target_type = type_of_target(y) if classifier and y is not None else None
    stratify = target_type in ("binary", "multiclass")
    if groups is None and n < n_splits:
        raise ValueError(f"`n_splits <= n_samples` must hold, but got n_splits={n_splits} for {n} samples.")
    if groups is not None:
        g = np.asarray(groups)
        if g.shape[0] != n:
            raise ValueError(f"`groups` must have one label per sample ({n}), but has {g.shape[0]}.")
        n_groups = np.unique(g).size
        if n_groups < 2:
            raise ValueError(f"grouped CV needs at least 2 distinct groups, but `groups` has {n_groups}.")
        if n_groups < n_splits:
            reasons.append(f"only {n_groups} groups: n_splits lowered from {n_splits} to {n_groups}.")
            n_splits = n_groups
        if stratify:
            base: Any = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=rs)
            reasons.append("groups given, classifier: StratifiedGroupKFold (no group in both train "
                           "and test; class proportions kept as far as groups allow).")
        else:
            try:
                base = GroupKFold(n_splits=n_splits, shuffle=True, random_state=rs)
            except TypeError:  # scikit-learn < 1.6: GroupKFold cannot shuffle (nor be repeated)
                base = GroupKFold(n_splits=n_splits)
            reasons.append("groups given: GroupKFold (no group is in both train and test).")
        if not getattr(base, "shuffle", False):
            reasons.append("this scikit-learn's GroupKFold cannot shuffle: no repeats possible.")
            auto, n_repeats = False, 1
        make = (lambda r: RepeatedSplits(base, r))  # noqa: E731
    elif stratify:
        _, counts = np.unique(np.asarray(y), return_counts=True)
        smallest = int(counts.min())
        if smallest < 2:
            base = KFold(n_splits=n_splits, shuffle=True, random_state=rs)
            reasons.append(f"a class has one sample: stratifying is impossible, KFold ({n_splits} folds).")
            make = (lambda r: RepeatedKFold(n_splits=n_splits, n_repeats=r, random_state=rs))  # noqa: E731
        else:
            if smallest < n_splits:
                reasons.append(f"the smallest class has {smallest} samples: n_splits lowered from "
                               f"{n_splits} to {smallest}.")
                n_splits = smallest
            base = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=rs)
            reasons.append(f"classifier: StratifiedKFold ({n_splits} folds keep the class proportions).")
            k = n_splits
            make = (lambda r: RepeatedStratifiedKFold(n_splits=k, n_repeats=r, random_state=rs))  # noqa: E731
    else:
        base = KFold(n_splits=n_splits, shuffle=True, random_state=rs)
        why = "no y: " if y is None and classifier else (
            f"a {target_type} target cannot be stratified: " if target_type is not None else "")
        reasons.append(f"{why}KFold ({n_splits} folds).")
        make = (lambda r: RepeatedKFold(n_splits=n_splits, n_repeats=r, random_state=rs))  # noqa: E731
    if getattr(base, "shuffle", False):
        reasons.append(f"folds shuffled with random_state={rs}: every configuration sees the same folds.")
    if not auto:
        cv = base if n_repeats == 1 else make(n_repeats)
        if n_repeats > 1:
            reasons.append(f"{n_repeats} repeats, as asked.")
        return CVChoice(cv, tuple(reasons))
    from sklearn.model_selection import cross_val_score

    scores = cross_val_score(estimator, X, y, groups=groups, scoring=scoring, cv=make(2), n_jobs=n_jobs)
    scores = np.asarray(scores, dtype=float)
    ok = scores[np.isfinite(scores)]
    if ok.size < 2:
        reasons.append("pilot: fewer than 2 finite fold scores; no repeats.")
        return CVChoice(base, tuple(reasons), scores, None)
    sd = float(np.std(ok, ddof=1))
    need = (sd / target_se) ** 2 / n_splits
    r = int(min(max_repeats, max(1, math.ceil(need - 1e-9))))
    se = sd / math.sqrt(n_splits * r)
    reasons.append(
        f"pilot (estimator as given, 2 x {n_splits} folds): mean score {ok.mean():.4g}, fold std "
        f"{sd:.3g}; standard error with 1 repeat {sd / math.sqrt(n_splits):.3g}."
    )
    if r == 1:
        reasons.append(f"that is within target_se={target_se:g}: no repeats needed.")
        return CVChoice(base, tuple(reasons), scores, se)
    capped = " (capped by max_repeats)" if r == max_repeats and need > max_repeats else ""
    reasons.append(f"{r} repeats{capped} bring it to {se:.3g} (target_se={target_se:g}); "
                   f"each configuration costs {n_splits * r} fits.")
    return CVChoice(make(r), tuple(reasons), scores, se)


# -- nested cross-validation --------------------------------------------------------------------
@attrs.frozen
class NestedFold:
    """One outer fold of :func:`nested_cross_validate`.

    Attributes:
        fold: Index of the outer fold.
        inner_best_score: The search's best cross-validated score on the outer training part.
        outer_score: The tuned model's score on the outer test part (never seen by the search).
        best_params: The parameters the search chose.
        n_train, n_test: Sizes of the outer training and test parts.
    """

    fold: int
    inner_best_score: float
    outer_score: float
    best_params: dict[str, Any]
    n_train: int
    n_test: int

    @property
    def gap(self) -> float:
        """``inner_best_score - outer_score``: > 0 when tuning was optimistic."""
        return self.inner_best_score - self.outer_score


@attrs.frozen
class NestedCVResult:
    """The result of :func:`nested_cross_validate`.

    Scores follow scikit-learn's convention: greater is better (losses are negated), so a positive
    ``gap`` means the inner best score overstated the tuned model's performance.

    Attributes:
        folds: One :class:`NestedFold` per outer fold.
        scoring: The scoring used (as given).
        estimator_name: The estimator's class name.
        n_trials: Trials per inner search.
        searches: The fitted inner searches (only with ``return_searches=True``; else empty).
    """

    folds: tuple[NestedFold, ...]
    scoring: Any
    estimator_name: str
    n_trials: int
    searches: tuple[Any, ...] = ()

    @property
    def outer_scores(self) -> np.ndarray:
        """Outer test scores, one per fold."""
        return np.array([f.outer_score for f in self.folds], dtype=float)

    @property
    def inner_best_scores(self) -> np.ndarray:
        """Inner best scores, one per fold."""
        return np.array([f.inner_best_score for f in self.folds], dtype=float)

    @property
    def mean_outer_score(self) -> float:
        """The performance estimate to report for the *tuning procedure* (NaN folds ignored)."""
        return _nanmean(self.outer_scores)

    @property
    def std_outer_score(self) -> float:
        """Standard deviation of the outer scores over folds."""
        return _nanstd(self.outer_scores)

    @property
    def mean_inner_best_score(self) -> float:
        """Mean of the inner best scores (what a single, non-nested search would have reported)."""
        return _nanmean(self.inner_best_scores)

    @property
    def gap(self) -> float:
        """Mean of ``inner best - outer``: the optimism of tuning (overfit to the validation folds)."""
        return _nanmean(self.inner_best_scores - self.outer_scores)

    @property
    def gap_se(self) -> float:
        """Standard error of :attr:`gap` over folds (NaN with fewer than 2 folds)."""
        d = self.inner_best_scores - self.outer_scores
        d = d[np.isfinite(d)]
        return float(np.std(d, ddof=1) / math.sqrt(d.size)) if d.size >= 2 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain data: per-fold lists and the summary numbers."""
        return {
            "fold": [f.fold for f in self.folds],
            "inner_best_score": self.inner_best_scores.tolist(),
            "outer_score": self.outer_scores.tolist(),
            "best_params": [dict(f.best_params) for f in self.folds],
            "mean_outer_score": self.mean_outer_score,
            "std_outer_score": self.std_outer_score,
            "mean_inner_best_score": self.mean_inner_best_score,
            "gap": self.gap,
            "gap_se": self.gap_se,
        }

    def __str__(self) -> str:
        scoring = "the estimator's score" if self.scoring is None else repr(self.scoring)
        lines = [
            f"Nested cross-validation of {self.estimator_name}: {len(self.folds)} outer folds, "
            f"{self.n_trials} trials per inner search, scoring {scoring}.",
            f"{'fold':>5} {'inner best':>11} {'outer test':>11} {'gap':>9}  best params",
        ]
        for f in self.folds:
            lines.append(
                f"{f.fold:>5} {f.inner_best_score:>11.4g} {f.outer_score:>11.4g} {f.gap:>9.3g}  "
                f"{f.best_params}"
            )
        lines.append(
            f"{'mean':>5} {self.mean_inner_best_score:>11.4g} {self.mean_outer_score:>11.4g} "
            f"{self.gap:>9.3g}"
        )
        lines.append(
            f"Estimated performance (outer): {self.mean_outer_score:.4g} ± {self.std_outer_score:.3g} "
            "(std over folds)."
        )
        verdict = (
            "the inner best score overstates performance: hyperparameters overfit the validation folds."
            if self.gap > 2 * _nz(self.gap_se) and self.gap > 0
            else "no clear optimism: the inner best score is about what the tuned model achieves."
        )
        lines.append(f"Tuning optimism (inner best - outer): {self.gap:.3g} ± {self.gap_se:.3g} (SE); "
                     f"{verdict}")
        return "\n".join(lines)


def nested_cross_validate(
    estimator: Any,
    param_space: Mapping[str, Any],
    X: Any,
    y: Any = None,
    *,
    outer_cv: Any = 5,
    inner_cv: Any = 5,
    n_trials: int = 20,
    sampler: Any = "auto",
    scoring: Any = None,
    groups: Any = None,
    seed: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    pruner: Any = None,
    timeout: float | None = None,
    error_score: Any = np.nan,
    fit_params: Mapping[str, Any] | None = None,
    return_searches: bool = False,
) -> NestedCVResult:
    """Nested cross-validation: tune with :class:`hpopt.sklearn.SearchCV` inside each outer fold.

    For each outer split, a fresh ``SearchCV`` tunes ``estimator`` on the outer training part
    (with ``inner_cv``), refits the best configuration on it, and the tuned model is scored on the
    outer test part. The mean outer score estimates how well the whole procedure — tuning
    included — generalizes; the gap ``inner best - outer`` measures how much the search's best
    score flatters it (the hyperparameters overfit the inner validation folds).

    Args:
        estimator: A scikit-learn estimator (cloned for every outer fold).
        param_space: As for ``SearchCV``: name -> hpopt distribution or list of choices, or a
            define-by-run callable.
        X, y: The data.
        outer_cv, inner_cv: An int (folds chosen with :func:`choose_cv`: stratified for
            classifiers, grouped with ``groups``, shuffled with a seed, no repeats) or any
            scikit-learn splitter / ``cv`` value.
        n_trials: Trials per inner search (>= 1).
        sampler, pruner, timeout, error_score, n_jobs: Passed to every ``SearchCV``.
        scoring: One metric (None, a name or a callable scorer); the same scorer scores the outer
            test parts. Multi-metric scoring is refused (the gap needs one score).
        groups: Group labels: the outer and inner folds then keep groups apart.
        seed: Seeds the splits and the searches (each outer fold gets its own derived seed; a
            sampler given as an instance keeps its own seed).
        fit_params: Passed to ``fit``; sample-aligned arrays are split with the data.
        return_searches: Keep the fitted inner searches in ``result.searches``.

    Returns:
        A :class:`NestedCVResult`; ``print`` it for the table and the verdict.

    Raises:
        TypeError, ValueError: Bad arguments (before any fit).
    """
    from sklearn.base import clone
    from sklearn.metrics import check_scoring
    from sklearn.model_selection import check_cv
    from sklearn.utils import _safe_indexing
    from sklearn.utils.validation import _num_samples

    from hpopt.sklearn.search import SearchCV

    n_trials = _count("n_trials", n_trials, 1)
    for cv_name, cv_value in (("outer_cv", outer_cv), ("inner_cv", inner_cv)):
        if isinstance(cv_value, numbers.Integral) and not isinstance(cv_value, bool):
            _count(cv_name, cv_value, 2)  # named here, not as choose_cv's n_splits
    if isinstance(scoring, (list, tuple, set, dict)):
        raise ValueError(
            "`scoring` must be one metric (None, a name or a callable) for nested CV: the gap compares "
            f"one inner score with one outer score; got {scoring!r}."
        )
    if not callable(param_space) and (not isinstance(param_space, Mapping) or not param_space):
        raise ValueError(
            "`param_space` must be a non-empty dict of name -> distribution (or a callable), "
            f"but got {param_space!r}."
        )
    if fit_params is not None and not isinstance(fit_params, Mapping):
        raise TypeError(f"`fit_params` must be a dict, but got {fit_params!r}.")
    scorer = check_scoring(estimator, scoring=scoring)
    base_seed = resolve_seed(seed)
    n = _num_samples(X)
    if isinstance(outer_cv, numbers.Integral) and not isinstance(outer_cv, bool):
        outer = choose_cv(estimator, X, y, groups=groups, n_splits=int(outer_cv), n_repeats=1,
                          seed=base_seed).cv
    else:
        from sklearn.base import is_classifier

        outer = check_cv(outer_cv, y, classifier=is_classifier(estimator))
    splits = list(outer.split(X, y, groups))
    fit_params = dict(fit_params or {})
    folds, searches = [], []
    for i, (train, test) in enumerate(splits):
        fold_seed = (base_seed + 1 + i) % 2**63
        X_tr, X_te = _safe_indexing(X, train), _safe_indexing(X, test)
        y_tr = None if y is None else _safe_indexing(y, train)
        y_te = None if y is None else _safe_indexing(y, test)
        g_tr = None if groups is None else _safe_indexing(np.asarray(groups), train)
        if isinstance(inner_cv, numbers.Integral) and not isinstance(inner_cv, bool):
            cv = choose_cv(estimator, X_tr, y_tr, groups=g_tr, n_splits=int(inner_cv), n_repeats=1,
                           seed=fold_seed).cv
        else:
            cv = inner_cv
        params = {k: _safe_indexing(v, train) if _aligned(v, n) else v for k, v in fit_params.items()}
        search = SearchCV(
            clone(estimator), param_space, sampler=sampler, n_trials=n_trials, timeout=timeout,
            scoring=scoring, cv=cv, n_jobs=n_jobs, refit=True, error_score=error_score,
            pruner=pruner, seed=fold_seed if isinstance(sampler, str) else None,
        )
        if g_tr is not None:
            search.fit(X_tr, y_tr, groups=g_tr, **params)
        else:
            search.fit(X_tr, y_tr, **params)
        outer_score = float(scorer(search.best_estimator_, X_te, y_te) if y is not None
                            else scorer(search.best_estimator_, X_te))
        folds.append(NestedFold(
            fold=i, inner_best_score=float(search.best_score_), outer_score=outer_score,
            best_params=dict(search.best_params_), n_train=len(train), n_test=len(test),
        ))
        if return_searches:
            searches.append(search)
    return NestedCVResult(tuple(folds), scoring, type(estimator).__name__, n_trials, tuple(searches))


# -- helpers ------------------------------------------------------------------------------------
def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, but got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name} >= {minimum}` must hold, but got {name}={value}.")
    return int(value)


def _positive(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, but got {value!r}.")
    v = float(value)
    if not 0.0 < v < math.inf:
        raise ValueError(f"`{name} > 0` must hold (and be finite), but got {name}={value!r}.")
    return v


def _aligned(value: Any, n: int) -> bool:
    """Whether a fit parameter is one entry per sample (and so must be split with the data)."""
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__"):
        return False
    try:
        return len(value) == n
    except TypeError:
        return False


def _nanmean(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else math.nan


def _nanstd(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.std(ddof=1)) if a.size >= 2 else math.nan


def _nz(v: float) -> float:
    return 0.0 if math.isnan(v) else v
