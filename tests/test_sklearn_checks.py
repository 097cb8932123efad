"""scikit-learn's estimator checks on SearchCV wrapping a regressor, a classifier and a transformer.

All the checks scikit-learn 1.9 runs on these pass (``check_array_api_input`` is skipped by
scikit-learn itself unless SCIPY_ARRAY_API is set); ``expected_failed_checks`` is kept empty so that
a regression shows up as a failure.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import Ridge, RidgeClassifier  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import hpopt  # noqa: E402
from hpopt.sklearn import SearchCV  # noqa: E402

ESTIMATORS = [
    SearchCV(Ridge(), {"alpha": hpopt.Float(0.1, 10.0, log=True)}, sampler="tpe", n_trials=2, cv=2, seed=0),
    SearchCV(RidgeClassifier(), {"alpha": hpopt.Float(0.1, 10.0, log=True)}, sampler="tpe", n_trials=2,
             cv=2, seed=0),
    SearchCV(PCA(), {"whiten": [False, True]}, sampler="tpe", n_trials=2, cv=2, seed=0),
]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        yield


# The checks feed NaN/inf, sparse and degenerate data on purpose: the fits that fail on them are
# reported through FitFailedWarning / "Scoring failed" exactly as GridSearchCV reports them.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore:Scoring failed:UserWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: {})
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
