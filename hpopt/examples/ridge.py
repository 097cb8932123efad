"""The classic scikit-learn grid search, redone with hpopt (ask/tell loop and ``optimize``).

Run: ``python -m hpopt.examples.ridge`` (needs scikit-learn: ``pip install "hpopt[examples]"``).

scikit-learn's ``GridSearchCV`` over ``Ridge`` with ``alpha in [0.1, 1, 10, 100]`` and six solvers,
5-fold cross-validation on ``make_regression(n_samples=100, n_features=10, noise=0.1,
random_state=42)``; then the same grid with hpopt's grid sampler in a manual ask/tell loop; then a
continuous log-scaled ``alpha`` searched with ``optimize`` and a SQLite study that a second process
could join.
"""

from __future__ import annotations

import os
import tempfile

import hpopt

ALPHAS = [0.1, 1, 10, 100]
SOLVERS = ["auto", "svd", "cholesky", "lsqr", "sag", "saga"]


def main() -> None:
    """Run the three searches and print their results."""
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, cross_val_score

    X, y = make_regression(n_samples=100, n_features=10, noise=0.1, random_state=42)

    def cv_mse(alpha: float, solver: str) -> float:
        model = Ridge(alpha=alpha, solver=solver, max_iter=10_000, random_state=0)
        return -cross_val_score(model, X, y, cv=5, scoring="neg_mean_squared_error").mean()

    # 1. scikit-learn's GridSearchCV, for reference.
    grid = GridSearchCV(
        Ridge(max_iter=10_000, random_state=0),
        {"alpha": ALPHAS, "solver": SOLVERS},
        cv=5,
        scoring="neg_mean_squared_error",
    )
    grid.fit(X, y)
    print(f"GridSearchCV           best {grid.best_params_}  CV MSE {-grid.best_score_:.5f}")

    # 2. The same grid, in your own loop with ask/tell.
    study = hpopt.create_study(
        sampler=hpopt.make_sampler("grid", search_space={"alpha": ALPHAS, "solver": SOLVERS})
    )
    while True:
        try:
            trial = study.ask()
        except hpopt.SearchSpaceExhausted:  # every grid point has been asked for
            break
        alpha = trial.suggest_categorical("alpha", ALPHAS)
        solver = trial.suggest_categorical("solver", SOLVERS)
        study.tell(trial, cv_mse(alpha, solver))
    print(
        f"hpopt grid (ask/tell)  best {study.best_params}  CV MSE {study.best_value:.5f}  "
        f"({len(study.trials)} trials)"
    )

    # 3. A continuous, log-scaled alpha with optimize() and the default (auto) sampler, in SQLite.
    folder = tempfile.mkdtemp(prefix="hpopt-example-")
    url = "sqlite:///" + os.path.join(folder, "ridge.db")
    study = hpopt.create_study(study_name="ridge", storage=url, seed=0)

    def objective(trial: hpopt.Trial) -> float:
        alpha = trial.suggest_float("alpha", 1e-4, 100, log=True)
        solver = trial.suggest_categorical("solver", SOLVERS)
        return cv_mse(alpha, solver)

    study.optimize(objective, n_trials=40)
    again = hpopt.load_study("ridge", url)  # what another process would see
    print(
        f"hpopt auto (optimize) best alpha={again.best_params['alpha']:.4g} "
        f"solver={again.best_params['solver']}  CV MSE {again.best_value:.5f}  "
        f"({len(again.trials)} trials stored in {url})"
    )


if __name__ == "__main__":
    main()
