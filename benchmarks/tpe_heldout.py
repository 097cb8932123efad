"""Held-out validation problems for TPE changes (issue 4): not the problems of RESULTS.md.

Other shift/rotation seeds (7) and other dimensions (3-D, 8-D) of the continuous families, run
through :func:`hpopt.benchmark.run`; prints the median final regret per sampler and problem.

    python benchmarks/tpe_heldout.py --samplers 'tpe,optuna:tpe' --seeds 6 --trials 100
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from hpopt.benchmark import run
from hpopt.benchmark.functions import continuous_problem

HELD_OUT = [
    ("sphere", 3, True), ("sphere", 8, True), ("rosenbrock", 3, False), ("rosenbrock", 8, False),
    ("ackley", 3, True), ("ackley", 8, True), ("levy", 3, True), ("levy", 8, True),
    ("styblinski-tang", 3, True), ("styblinski-tang", 8, True), ("rastrigin", 3, True),
    ("griewank", 5, True),
]


def problems() -> list:
    """The held-out problems (shift seed 7; rotated where marked)."""
    return [continuous_problem(f, d, shift_seed=7, rotate=r) for f, d, r in HELD_OUT]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samplers", default="tpe,optuna:tpe")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    recs = run(a.samplers, problems(), a.trials, a.seeds, n_jobs=a.jobs, out=a.out)
    table: dict = {}
    for r in recs:
        reg = r.get("regret") or [np.inf]
        table.setdefault(r["problem"], {}).setdefault(r["sampler"], []).append(reg[-1])
    samplers = list(dict.fromkeys(r["sampler"] for r in recs))
    print("| problem | " + " | ".join(samplers) + " |")
    for p, row in table.items():
        print(f"| {p} | " + " | ".join(f"{np.median(row.get(s, [np.nan])):.4g}" for s in samplers) + " |")
    if a.out is None:
        return
    with open(a.out + ".summary.json", "w") as fh:
        json.dump({p: {s: float(np.median(v)) for s, v in row.items()} for p, row in table.items()}, fh)


if __name__ == "__main__":
    main()
