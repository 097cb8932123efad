"""``cv_results_`` built the way scikit-learn's ``GridSearchCV`` builds it.

One row per candidate (trial), columns in scikit-learn's order and with its dtypes:

- ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``, ``std_score_time`` (float64);
- ``param_<name>``: a :class:`numpy.ma.MaskedArray` per parameter, masked where a candidate has no
  such parameter (conditional spaces); numeric dtype when every value is a number, object dtype
  otherwise (strings, estimators, tuples), which is the rule scikit-learn applies;
- ``params``: the list of parameter dicts;
- per scorer ``<s>`` (``score`` for a single metric): ``split<k>_test_<s>``, ``mean_test_<s>``,
  ``std_test_<s>``, ``rank_test_<s>`` (int32, ``min`` ranks, NaN means tied last), then the
  ``train`` columns without a rank when train scores are kept.

Standard deviations are population ones (``ddof=0``), as in scikit-learn. A candidate with a NaN
split (a failed fit with ``error_score=nan`` or a fold a pruner skipped) has a NaN mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["CandidateResult", "build_cv_results", "rank_descending", "param_arrays"]


class CandidateResult:
    """The per-fold record of one candidate: times and scores, NaN for folds not run.

    Attributes:
        params: The estimator parameters of the candidate.
        fit_time, score_time: Seconds per fold, shape ``(n_splits,)``.
        test, train: Scorer name -> scores per fold, shape ``(n_splits,)`` (``train`` may be empty).
    """

    __slots__ = ("params", "fit_time", "score_time", "test", "train")

    def __init__(
        self,
        params: Mapping[str, Any],
        fit_time: Sequence[float],
        score_time: Sequence[float],
        test: Mapping[str, Sequence[float]],
        train: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        self.params = dict(params)
        self.fit_time = np.asarray(fit_time, dtype=float)
        self.score_time = np.asarray(score_time, dtype=float)
        self.test = {k: np.asarray(v, dtype=float) for k, v in test.items()}
        self.train = {k: np.asarray(v, dtype=float) for k, v in (train or {}).items()}


def rank_descending(means: np.ndarray) -> np.ndarray:
    """Ranks of ``means`` (greater is better) as int32 with the ``min`` method; NaNs tie last.

    ``[0.5, 0.9, 0.9, nan]`` -> ``[3, 1, 1, 4]``.
    """
    means = np.asarray(means, dtype=float)
    n = means.size
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    nan = np.isnan(means)
    if nan.all():
        return np.ones(n, dtype=np.int32)
    # NaN below every real score, as scikit-learn does (``nanmin - 1``; -inf when there is one).
    filled = np.where(nan, np.nanmin(means[~nan]) - 1.0, means)
    key = -filled
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    # "min" rank: 1 + number of strictly smaller keys.
    first = np.searchsorted(sorted_key, sorted_key, side="left")
    ranks = np.empty(n, dtype=np.int32)
    ranks[order] = first + 1
    return ranks


def param_arrays(candidate_params: Sequence[Mapping[str, Any]]) -> dict[str, np.ma.MaskedArray]:
    """One masked array ``param_<name>`` per parameter name (first-seen order)."""
    n = len(candidate_params)
    columns: dict[str, dict[int, Any]] = {}
    for i, params in enumerate(candidate_params):
        for name, value in params.items():
            columns.setdefault(f"param_{name}", {})[i] = value
    out: dict[str, np.ma.MaskedArray] = {}
    for key, by_index in columns.items():
        values = list(by_index.values())
        try:
            probe = np.array(values)
        except (ValueError, TypeError):  # ragged sequences
            dtype = np.dtype(object)
        else:
            numeric = probe.ndim == 1 and probe.dtype.kind in "biufc"
            dtype = probe.dtype if numeric else np.dtype(object)
        arr = np.ma.MaskedArray(np.empty(n, dtype=dtype), mask=True)
        for i, value in by_index.items():
            arr[i] = value  # unmasks that row
        out[key] = arr
    return out


def _mean_std(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Population std without the "mean of empty slice"/"invalid value" warnings for NaN rows.
    with np.errstate(invalid="ignore"):
        mean = a.mean(axis=1) if a.shape[1] else np.full(a.shape[0], np.nan)
        std = np.sqrt(((a - mean[:, None]) ** 2).mean(axis=1)) if a.shape[1] else mean.copy()
    return mean, std


def build_cv_results(
    candidates: Sequence[CandidateResult],
    scorer_names: Sequence[str],
    n_splits: int,
    return_train_score: bool,
) -> dict[str, Any]:
    """The ``cv_results_`` dict of ``candidates`` (scikit-learn's keys, order and dtypes).

    Raises:
        ValueError: A candidate whose per-fold arrays do not have ``n_splits`` entries or lack a
            scorer.
    """
    n = len(candidates)

    def matrix(get: Any, what: str) -> np.ndarray:
        if n == 0:
            return np.zeros((0, n_splits))
        rows = [np.asarray(get(c), dtype=float) for c in candidates]
        if any(r.shape != (n_splits,) for r in rows):
            raise ValueError(f"every candidate needs {n_splits} {what} values, one per split.")
        return np.vstack(rows)

    results: dict[str, Any] = {}
    for what in ("fit_time", "score_time"):
        mean, std = _mean_std(matrix(lambda c, w=what: getattr(c, w), what))
        results[f"mean_{what}"] = mean
        results[f"std_{what}"] = std
    params = [c.params for c in candidates]
    results.update(param_arrays(params))
    results["params"] = params
    for name in scorer_names:
        missing = [i for i, c in enumerate(candidates) if name not in c.test]
        if missing:
            raise ValueError(f"candidate {missing[0]} has no test scores for scorer {name!r}.")
        test = matrix(lambda c, s=name: c.test[s], f"test_{name}")
        for k in range(n_splits):
            results[f"split{k}_test_{name}"] = test[:, k].copy()
        mean, std = _mean_std(test)
        results[f"mean_test_{name}"] = mean
        results[f"std_test_{name}"] = std
        results[f"rank_test_{name}"] = rank_descending(mean)
        if return_train_score:
            train = matrix(
                lambda c, s=name: c.train.get(s, np.full(n_splits, np.nan)), f"train_{name}"
            )
            for k in range(n_splits):
                results[f"split{k}_train_{name}"] = train[:, k].copy()
            mean, std = _mean_std(train)
            results[f"mean_train_{name}"] = mean
            results[f"std_train_{name}"] = std
    return results
