"""Model selection with conditional parameters: :class:`hpopt.sklearn.SearchCV` with a callable space.

Run: ``python -m hpopt.examples.sklearn_model_selection`` (needs scikit-learn).

``param_space`` may be a function ``space(trial) -> dict of estimator parameters`` (define-by-run):
it calls ``trial.suggest_*`` and returns what to ``set_params`` on the estimator. Here a categorical
picks the model family (SVC, random forest or logistic regression) that replaces the pipeline's
``model`` step, and only that family's parameters are suggested. Parameter names in the study are
per family (``svc_C``, ``lr_C``) so that the sampler models each family's parameters separately;
``cv_results_`` holds the estimator parameters (``param_model``, ``param_model__C``...), masked
where a family has no such parameter, exactly like ``GridSearchCV`` with a list of grids.

Keep the function at module level (not a lambda) so the fitted search can be pickled, and
deterministic: it is called again to rebuild ``cv_results_["params"]`` from the study.
"""

from __future__ import annotations

from typing import Any


def space(trial: Any) -> dict[str, Any]:
    """The model family first, then the parameters of that family only."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    family = trial.suggest_categorical("family", ["svc", "forest", "logistic"])
    if family == "svc":
        return {
            "model": SVC(),
            "model__C": trial.suggest_float("svc_C", 1e-2, 1e3, log=True),
            "model__gamma": trial.suggest_float("svc_gamma", 1e-4, 1e0, log=True),
        }
    if family == "forest":
        return {
            "model": RandomForestClassifier(n_estimators=25, random_state=0),
            "model__max_depth": trial.suggest_int("rf_max_depth", 2, 16, log=True),
            "model__max_features": trial.suggest_float("rf_max_features", 0.1, 1.0),
        }
    return {
        "model": LogisticRegression(max_iter=2000),
        "model__C": trial.suggest_float("lr_C", 1e-3, 1e2, log=True),
    }


def main() -> None:
    """Search across the three families on the breast cancer data and summarise per family."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from hpopt.sklearn import SearchCV

    X, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    search = SearchCV(pipe, space, sampler="tpe", n_trials=15, cv=3, seed=0)
    search.fit(X, y)

    res = search.cv_results_
    print(f"best family: {type(search.best_estimator_.named_steps['model']).__name__}, "
          f"CV accuracy {search.best_score_:.4f}")
    print(f"best params: { {k: v for k, v in search.best_params_.items() if k != 'model'} }")
    best_by_family: dict[str, float] = {}
    for model, score in zip(res["param_model"], res["mean_test_score"]):
        name = type(model).__name__
        best_by_family[name] = max(best_by_family.get(name, float("-inf")), float(score))
    for name, score in sorted(best_by_family.items(), key=lambda kv: -kv[1]):
        n = sum(type(m).__name__ == name for m in res["param_model"])
        print(f"  {name:24s} {n:2d} candidates, best CV accuracy {score:.4f}")
    gamma = res["param_model__gamma"]
    print(f"param_model__gamma is masked for {int(gamma.mask.sum())} non-SVC candidates of {len(gamma)}")


if __name__ == "__main__":
    main()
