"""The classic ``GridSearchCV`` example side by side with :class:`hpopt.sklearn.SearchCV`.

Run: ``python -m hpopt.examples.sklearn_ridge`` (needs scikit-learn: ``pip install "hpopt[sklearn]"``).

``Ridge`` on ``make_regression(n_samples=100, n_features=10, noise=0.1, random_state=42)``, 5-fold
cross-validation, negative MSE. ``GridSearchCV`` tries ``alpha in [0.1, 1, 10, 100]`` x six solvers
(24 candidates); ``SearchCV`` gets the same 24 candidates' budget but searches ``alpha`` on a
continuous log scale, with TPE learning from the scores so far. Both expose the same
``cv_results_`` keys, ``best_params_``, ``best_score_`` and ``predict``.
"""

from __future__ import annotations

import hpopt

ALPHAS = [0.1, 1, 10, 100]
SOLVERS = ["auto", "svd", "cholesky", "lsqr", "sag", "saga"]


def main() -> None:
    """Run both searches and print them side by side."""
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV

    from hpopt.sklearn import SearchCV

    X, y = make_regression(n_samples=100, n_features=10, noise=0.1, random_state=42)
    model = Ridge(max_iter=10_000, random_state=0)

    grid = GridSearchCV(model, {"alpha": ALPHAS, "solver": SOLVERS}, cv=5, scoring="neg_mean_squared_error")
    grid.fit(X, y)

    search = SearchCV(
        model,
        {"alpha": hpopt.Float(1e-4, 100, log=True), "solver": SOLVERS},
        sampler="tpe",
        n_trials=len(ALPHAS) * len(SOLVERS),
        cv=5,
        scoring="neg_mean_squared_error",
        seed=0,
    )
    search.fit(X, y)

    for name, s in (("GridSearchCV", grid), ("hpopt SearchCV", search)):
        p = s.best_params_
        print(
            f"{name:15s} best alpha={p['alpha']:<9.4g} solver={p['solver']:9s} CV MSE {-s.best_score_:.6f}  "
            f"({len(s.cv_results_['params'])} candidates x {s.n_splits_} folds)"
        )
    same = list(grid.cv_results_) == list(search.cv_results_)
    print(f"same cv_results_ keys: {same}; predictions agree on 3 points: "
          f"{search.predict(X[:3]).round(2)} vs {grid.predict(X[:3]).round(2)}")
    print(f"the study behind SearchCV: {search.study_!r}, {len(search.study_.trials)} trials")


if __name__ == "__main__":
    main()
