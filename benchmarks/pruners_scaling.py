"""Cost of pruning as a study grows: CPU milliseconds (this thread) of ``report`` +
``should_prune`` per trial (30 reports each) for the first and the last 300 trials of a
3000-trial study, per pruner.

The pruners fold each finished trial into a per-study cache once (rung arrays, per-step
arrays), so the cost per trial should stay roughly flat instead of growing with the study.
CPU time of the calling thread is measured, so other load on the machine matters less than
for wall time; the figures are still indicative only.

Usage::

    python benchmarks/pruners_scaling.py --trials 3000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import hpopt
from hpopt.pruners import HyperbandPruner, MedianPruner, SuccessiveHalvingPruner


def measure(pruner: Any, n_trials: int) -> tuple[float, float, int]:
    """(ms per trial over the first 300, over the last 300, total steps)."""
    study = hpopt.create_study(sampler="random", pruner=pruner, seed=0)
    times: list[float] = []

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", 0, 1)
        t0 = time.thread_time()
        try:
            for s in range(1, 31):
                trial.report(x + 1 / s + 0.01 * np.sin(s * x * 50), s)
                if trial.should_prune():
                    raise hpopt.TrialPruned()
        finally:
            times.append(time.thread_time() - t0)
        return x

    study.optimize(objective, n_trials=n_trials)
    steps = sum(t.last_step or 0 for t in study.trials)
    return 1000 * float(np.mean(times[:300])), 1000 * float(np.mean(times[-300:])), steps


def main() -> None:
    ap = argparse.ArgumentParser(description="pruning cost vs study size")
    ap.add_argument("--trials", type=int, default=3000)
    ap.add_argument("--only", nargs="*", default=None, help="only these pruners")
    args = ap.parse_args()
    pruners = {
        "nop": hpopt.NopPruner(),
        "median": MedianPruner(),
        "successive_halving (rank_by=observed)": SuccessiveHalvingPruner(rank_by="observed"),
        "hyperband": HyperbandPruner(max_resource=30),
        "successive_halving (rank_by=forecast)": SuccessiveHalvingPruner(rank_by="forecast"),
        "hyperband (rank_by=forecast)": HyperbandPruner(max_resource=30, rank_by="forecast"),
    }
    if args.only:
        pruners = {n: p for n, p in pruners.items() if n in args.only}
    print(f"| pruner | ms/trial, first 300 | ms/trial, last 300 of {args.trials} | steps |")
    print("|---|---|---|---|")
    for name, pruner in pruners.items():
        first, last, steps = measure(pruner, args.trials)
        print(f"| {name} | {first:.3f} | {last:.3f} | {steps} |")


if __name__ == "__main__":
    main()
