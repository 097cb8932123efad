"""Gradient-based tuning with an exact hypergradient: ridge regression's validation loss in alpha.

Run: ``python -m hpopt.examples.ridge_gradient`` (numpy only).

The ridge weights have a closed form, ``w(alpha) = (X^T X + alpha I)^{-1} X^T y``, and so does
their derivative: differentiating ``(X^T X + alpha I) w = X^T y`` gives
``dw/dalpha = -(X^T X + alpha I)^{-1} w``. The validation loss
``L(alpha) = ||X_val w - y_val||^2 / n_val`` therefore has the exact derivative
``dL/dalpha = 2 / n_val * (X_val w - y_val)^T X_val dw/dalpha``. The study searches ``alpha`` on a log
scale and each ``tell`` passes ``gradient={"alpha": dL/dalpha}`` (in alpha's own units: the sampler
applies the chain rule for the log scale). The result is compared with the optimum found by a
fine 1-d grid in ``log(alpha)`` polished by golden-section search.
"""

from __future__ import annotations

import math

import numpy as np

import hpopt
from hpopt.samplers.gradient import GradientSampler

ALPHA_LOW, ALPHA_HIGH = 1e-4, 1e4


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A noisy, ill-conditioned linear regression split into training and validation halves.

    Few training rows, correlated features and noise make an interior optimum of ``alpha``.
    """
    rng = np.random.default_rng(seed)
    n, p = 80, 30
    mix = rng.standard_normal((p, p)) / math.sqrt(p)
    X = rng.standard_normal((n, p)) @ (np.eye(p) + 2.0 * mix)
    w_true = rng.standard_normal(p) * (rng.random(p) < 0.5)
    y = X @ w_true + 3.0 * rng.standard_normal(n)
    return X[:40], y[:40], X[40:], y[40:]


class RidgeProblem:
    """Validation loss of ridge regression and its exact derivative with respect to ``alpha``."""

    def __init__(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray) -> None:
        self.gram = X.T @ X
        self.xty = X.T @ y
        self.X_val, self.y_val = X_val, y_val
        self.eye = np.eye(X.shape[1])

    def loss_and_grad(self, alpha: float) -> tuple[float, float]:
        """``(L(alpha), dL/dalpha)``: validation MSE and its exact derivative."""
        A = self.gram + alpha * self.eye
        w = np.linalg.solve(A, self.xty)
        dw = -np.linalg.solve(A, w)  # dw/dalpha
        r = self.X_val @ w - self.y_val
        n = self.y_val.size
        return float(r @ r / n), float(2.0 / n * r @ (self.X_val @ dw))

    def loss(self, alpha: float) -> float:
        return self.loss_and_grad(alpha)[0]

    def best_log_alpha(self) -> tuple[float, float]:
        """The optimum ``(log alpha*, L*)``: a 4001-point grid in log alpha, then golden section."""
        grid = np.linspace(math.log(ALPHA_LOW), math.log(ALPHA_HIGH), 4001)
        vals = np.array([self.loss(math.exp(t)) for t in grid])
        i = int(np.argmin(vals))
        a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        inv_phi = (math.sqrt(5.0) - 1.0) / 2.0
        for _ in range(80):  # golden-section search on the bracket around the grid minimum
            c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
            if self.loss(math.exp(c)) < self.loss(math.exp(d)):
                b = d
            else:
                a = c
        t = 0.5 * (a + b)
        return t, self.loss(math.exp(t))


def optimize(
    problem: RidgeProblem, n_trials: int = 60, seed: int = 0, verbose: bool = False
) -> hpopt.Study:
    """The ask/tell loop: each trial's validation loss and exact gradient are told to the study."""
    study = hpopt.create_study(sampler=GradientSampler(estimator="user", seed=seed))
    space = {"alpha": hpopt.Float(ALPHA_LOW, ALPHA_HIGH, log=True)}
    for _ in range(n_trials):
        trial = study.ask(space)
        alpha = trial.params["alpha"]
        loss, grad = problem.loss_and_grad(alpha)
        study.tell(trial, loss, gradient={"alpha": grad})
        if verbose:
            print(f"{trial.number:5d}  {alpha:12.6g}  {math.log(alpha):9.5f}  {loss:12.6f}  {grad:+12.4e}")
    return study


def main() -> None:
    """Optimize alpha by gradient descent and compare with the true optimum."""
    problem = RidgeProblem(*make_data(0))
    t_star, l_star = problem.best_log_alpha()
    print(f"{'trial':>5}  {'alpha':>12}  {'log alpha':>9}  {'val MSE':>12}  {'dL/dalpha':>12}")
    study = optimize(problem, n_trials=60, verbose=True)
    best = study.best_params["alpha"]
    print()
    reached = next(
        (t.number for t in study.trials if abs(math.log(t.params["alpha"]) - t_star) <= 1e-3), None
    )
    print(f"gradient sampler: alpha={best:.6g}  log alpha={math.log(best):.6f}  "
          f"val MSE={study.best_value:.6f}")
    print(f"true optimum:     alpha={math.exp(t_star):.6g}  log alpha={t_star:.6f}  val MSE={l_star:.6f}")
    print(f"|log alpha - log alpha*| = {abs(math.log(best) - t_star):.2e}   "
          f"regret = {study.best_value - l_star:.2e}   ({len(study.trials)} trials; first within 1e-3 "
          f"in log alpha: trial {reached})")


if __name__ == "__main__":
    main()
