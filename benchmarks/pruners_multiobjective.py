"""Multi-objective pruning: successive halving and Hyperband ranking by non-dominated front on
two-objective learning curves, against no pruning (Optuna's pruners do not handle
multi-objective studies, so there is no peer column).

Problem: two losses per step, each a power law ``f_j(u) + a_j(u) * t**-c_j(u)`` with 1% noise,
with a trade-off between the finals (``f_1`` prefers small ``u_0``, ``f_2`` large); R = 81 steps.
Every pruner sees the same configurations in the same order (hpopt's seeded RandomSampler) and
the same curves.

Measure: hypervolume (reference point (2, 2), both minimized) of the final values of the trials
that reached step R, relative to no pruning's, and total steps relative to no pruning's.

Usage::

    python benchmarks/pruners_multiobjective.py --seeds 10 --trials 100
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np

import hpopt
from hpopt.pruners import HyperbandPruner, NopPruner, SuccessiveHalvingPruner

R = 81
REF = np.array([2.0, 2.0])


def curves(u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(R, 2) step values for configuration ``u``."""
    t = np.arange(1, R + 1, dtype=float)[:, None]
    f = np.array([0.1 + u[0] ** 2 + 0.3 * (u[1] - 0.5) ** 2,
                  0.1 + (1 - u[0]) ** 2 + 0.3 * (u[1] - 0.5) ** 2])
    a = np.array([0.5 + 1.5 * u[2], 0.5 + 1.5 * (1 - u[2])])
    c = np.array([0.3 + 0.9 * u[3], 0.3 + 0.9 * u[3]])
    y = f + a * t**-c
    return y * (1 + rng.normal(0, 0.01, y.shape))


def hypervolume(points: np.ndarray) -> float:
    """2-D hypervolume dominated by ``points`` (minimized) up to :data:`REF`."""
    pts = points[np.all(points < REF, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[np.argsort(pts[:, 0])]
    hv, best2 = 0.0, REF[1]
    for x, y in pts:
        if y < best2:
            hv += (REF[0] - x) * (best2 - y)
            best2 = y
    return hv


def run(seed: int, pruner: Any, n_trials: int) -> tuple[float, int]:
    study = hpopt.create_study(directions=["minimize", "minimize"], pruner=pruner,
                               sampler="random", seed=seed)
    finals: list[np.ndarray] = []
    used = [0]

    def objective(trial: Any) -> tuple[float, float]:
        u = np.array([trial.suggest_float(f"u{i}", 0.0, 1.0) for i in range(4)])
        y = curves(u, np.random.default_rng([seed, trial.number]))
        for step in range(1, R + 1):
            used[0] += 1
            trial.report(y[step - 1].tolist(), step)
            if step == R:
                finals.append(y[-1])
            if trial.should_prune():
                raise hpopt.TrialPruned()
        return float(y[-1, 0]), float(y[-1, 1])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n_trials)
    return hypervolume(np.array(finals).reshape(-1, 2)), used[0]


def main() -> None:
    ap = argparse.ArgumentParser(description="multi-objective pruning benchmark")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=100)
    args = ap.parse_args()
    makers = {
        "none": NopPruner,
        "successive_halving": lambda: SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        "hyperband": lambda: HyperbandPruner(min_resource=1, max_resource=R, reduction_factor=3),
    }
    res = {n: [run(s, m(), args.trials) for s in range(args.seeds)] for n, m in makers.items()}
    base_hv = np.array([hv for hv, _ in res["none"]])
    base_steps = np.array([st for _, st in res["none"]])
    print(f"| pruner | hypervolume / no pruning's (mean, worst of {args.seeds} seeds) | "
          "steps / no pruning's |")
    print("|---|---|---|")
    for name, rows in res.items():
        hv = np.array([h for h, _ in rows]) / base_hv
        st = np.array([s for _, s in rows]) / base_steps
        print(f"| {name} | {hv.mean():.4f}, {hv.min():.4f} | {st.mean():.3f} |")


if __name__ == "__main__":
    main()
