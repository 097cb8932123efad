"""A scaler + SVC pipeline tuned with :class:`hpopt.sklearn.SearchCV` on ``load_digits``.

Run: ``python -m hpopt.examples.sklearn_pipeline`` (needs scikit-learn).

Pipeline parameters are named ``step__param`` exactly as in ``GridSearchCV``; ``C`` and ``gamma``
are searched on log scales, the scaler's ``with_mean`` is a plain list (a categorical). A median
pruner stops a candidate after its first folds when its running mean CV accuracy is below the
median of earlier candidates at the same fold; pruned candidates stay in ``cv_results_`` with the
folds they ran and rank last. Small budget: about 10-30 s.
"""

from __future__ import annotations

import numpy as np

import hpopt


def main() -> None:
    """Tune the pipeline, then report the held-out accuracy."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from hpopt.sklearn import SearchCV

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    pipe = Pipeline([("scale", StandardScaler()), ("svc", SVC())])
    search = SearchCV(
        pipe,
        {
            "svc__C": hpopt.Float(1e-2, 1e3, log=True),
            "svc__gamma": hpopt.Float(1e-5, 1e-1, log=True),
            "scale__with_mean": [True, False],
        },
        sampler="tpe",
        pruner=hpopt.MedianPruner(n_startup_trials=4),
        n_trials=16,
        cv=3,
        seed=0,
    )
    search.fit(X_train, y_train)

    res = search.cv_results_
    states = [t.state.name for t in search.study_.trials]
    print(f"best {search.best_params_}")
    print(f"best CV accuracy {search.best_score_:.4f}; held-out accuracy {search.score(X_test, y_test):.4f}")
    fitted = np.isfinite(np.column_stack([res[f"split{k}_test_score"] for k in range(3)])).sum()
    print(f"{states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned of {len(states)} "
          f"candidates; folds fitted {fitted} of {3 * len(states)}")
    top = np.argsort(res["rank_test_score"])[:3]
    for i in top:
        print(f"  rank {res['rank_test_score'][i]}: {res['mean_test_score'][i]:.4f}  {res['params'][i]}")


if __name__ == "__main__":
    main()
