"""scikit-learn integration (extra ``sklearn``): :class:`SearchCV`, a drop-in for ``GridSearchCV``.

Example:
    >>> import hpopt
    >>> from hpopt.sklearn import SearchCV
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> search = SearchCV(LogisticRegression(max_iter=500), {"C": hpopt.Float(1e-3, 1e3, log=True)},
    ...                   sampler="tpe", n_trials=4, cv=3, seed=0).fit(X, y)
    >>> len(search.cv_results_["params"])
    4
"""

try:
    import sklearn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'hpopt.sklearn needs scikit-learn: pip install "hpopt[sklearn]"'
    ) from exc

from hpopt.sklearn.search import SearchCV

__all__ = ["SearchCV"]

from hpopt.sklearn.validation import (  # noqa: E402
    CVChoice,
    NestedCVResult,
    NestedFold,
    RepeatedSplits,
    choose_cv,
    nested_cross_validate,
)

__all__ += [
    "nested_cross_validate", "NestedCVResult", "NestedFold", "choose_cv", "CVChoice", "RepeatedSplits",
]
