"""Held-out validation problems for TPE changes (issue 4): not the problems of tpe_compare.py.

Other shift/rotation seeds and other dimensions of the continuous families than the compared
problems, run through :func:`hpopt.benchmark.run`; prints the median final regret per sampler and
problem. Four sets:

* ``A`` (the first pass's set): shift seed 7, 3-D/5-D/8-D, 100 trials;
* ``B``: shift seed 11, 4-D/6-D/8-D and Hartmann-3, 100 trials;
* ``C``: shift seed 11, 10-D and 12-D, 300 trials (``--trials 300``);
* ``D``: catalogue problems with mixed, conditional or noisy objectives (none of them is in
  ``tpe_compare.py``; the first three are in the runner table of RESULTS.md), 100 trials.

    python benchmarks/tpe_heldout.py --samplers 'tpe,optuna:tpe' --seeds 6 --trials 100
    python benchmarks/tpe_heldout.py --set C --samplers tpe --seeds 10 --trials 300
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
HELD_OUT_B = [
    ("sphere", 6, True), ("rosenbrock", 6, False), ("ackley", 4, True), ("levy", 6, True),
    ("styblinski-tang", 4, False), ("styblinski-tang", 6, True), ("rastrigin", 4, True),
    ("griewank", 8, True), ("levy", 4, False), ("sphere", 4, False),
]
HELD_OUT_C = [
    ("sphere", 12, True), ("rosenbrock", 10, False), ("levy", 10, True), ("styblinski-tang", 10, True),
    ("ackley", 12, True),
]
HELD_OUT_D = [  # catalogue problems, by name
    "mixed-quadratic", "conditional-models", "conditional-layers", "noisy-branin", "noisy-hartmann6",
    "noisy-sphere-5d-shifted",
]
SETS = {"A": (HELD_OUT, 7), "B": (HELD_OUT_B, 11), "C": (HELD_OUT_C, 11), "D": ([], 0)}


def problems(which: str = "A") -> list:
    """The held-out problems of one set (rotated where marked); set B adds Hartmann-3."""
    if which == "D":
        return list(HELD_OUT_D)
    spec, seed = SETS[which]
    out = [
        continuous_problem(f, d, shift_seed=seed, rotate=r, name=None if which == "A" else
                           f"{f}-{d}d-{'rotated' if r else 'shifted'}-s{seed}")
        for f, d, r in spec
    ]
    if which == "B":
        out.append(continuous_problem("hartmann3"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samplers", default="tpe,optuna:tpe")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=None)
    ap.add_argument("--set", default="A", choices=sorted(SETS))
    a = ap.parse_args()
    recs = run(a.samplers, problems(a.set), a.trials, a.seeds, n_jobs=a.jobs, out=a.out)
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
