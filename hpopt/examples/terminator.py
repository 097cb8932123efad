"""Stop tuning when further trials can only fit the noise of cross-validation.

Run: ``python -m hpopt.examples.terminator`` (needs scikit-learn: ``pip install "hpopt[examples]"``).

An RBF support-vector classifier on scikit-learn's digits (the first 300 images, so that the
cross-validation error is visible) is tuned over ``C`` and ``gamma`` (both log-scaled) by 5-fold
cross-validated accuracy, with a budget of 100 trials. Each trial records its five fold accuracies
in the user attribute ``cv_scores``; the :class:`~hpopt.terminator.Terminator` compares its bound on
the accuracy still to be gained with the standard error of the best trial's cross-validation
estimate, and stops the study when the bound is the smaller: beyond that point a "better"
configuration would mostly be a luckier split.
"""

from __future__ import annotations

import logging

import hpopt
from hpopt.terminator import Terminator

BUDGET = 100


def main() -> None:
    """Tune, stop when done, and print when and why."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)

    def objective(trial: hpopt.Trial) -> float:
        c = trial.suggest_float("C", 1e-3, 1e3, log=True)
        gamma = trial.suggest_float("gamma", 1e-4, 1e1, log=True)
        scores = cross_val_score(SVC(C=c, gamma=gamma), X, y, cv=folds, scoring="accuracy")
        trial.set_user_attr("cv_scores", [float(s) for s in scores])
        return float(scores.mean())

    logging.getLogger("hpopt").setLevel(logging.WARNING)  # one line per trial is too much here
    terminator = Terminator(error_attr="cv_scores", min_n_trials=20, seed=0)
    study = hpopt.create_study(direction="maximize", sampler="tpe", seed=0)
    study.optimize(objective, n_trials=BUDGET, callbacks=[terminator])

    n = len(study.trials)
    best = study.best_trial
    print(f"best accuracy {best.value:.4f} with C={best.params['C']:.4g}, gamma={best.params['gamma']:.4g} "
          f"(trial {best.number})")
    if terminator.stopped:
        print(f"stopped after {n} of {BUDGET} trials: {terminator.reason}")
        print(f"  the accuracy still to gain is at most {terminator.last_bound:.4f} (GP upper confidence "
              f"bound), less than the cross-validation standard error {terminator.last_threshold:.4f}")
    else:
        print(f"ran the whole budget of {BUDGET} trials: the last regret bound {terminator.last_bound:.4f} "
              f"stayed above the cross-validation standard error {terminator.last_threshold:.4f}")


if __name__ == "__main__":
    main()
