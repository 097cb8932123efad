"""hpopt's CMA-ES next to Optuna's CmaEsSampler and Nevergrad's CMA, through the benchmark runner.

Usage:
    python benchmarks/cmaes_compare.py --trials 300 --seeds 10 --jobs 2 \
        --out benchmarks/cmaes_results_300.jsonl

Add seeds to a table with ``--first-seed`` (e.g. ``--seeds 20 --first-seed 10``); the table uses
every seed in ``--out`` for that budget unless ``--table-seeds N`` keeps seeds ``0..N-1``.

Prints, per problem, the median final regret of each sampler over the seeds, whether hpopt's is
no worse than the better peer's, and the mean sampler time per trial. Runs already in ``--out``
are skipped, so an interrupted run resumes. ``--also FILE[,FILE]`` adds the records of other
result files to the table (e.g. the deterministic peers' runs, to avoid rerunning Nevergrad);
a run in both counts once (``--out`` wins).
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from hpopt.benchmark.runner import load_results, run

SAMPLERS = ["cmaes", "optuna:cmaes", "nevergrad:cma"]
PROBLEMS = [
    "sphere-5d", "rosenbrock-5d", "ackley-5d", "rastrigin-5d", "styblinski-tang-5d", "hartmann6",
    "mixed-quadratic", "mixed-24d", "conditional-models", "conditional-layers",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=10, help="number of seeds to run (0: only tabulate)")
    ap.add_argument("--first-seed", type=int, default=0,
                    help="run seeds first-seed .. first-seed + seeds - 1 (to add seeds to a table)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--samplers", default=",".join(SAMPLERS))
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--table-seeds", type=int, default=None,
                    help="tabulate only seeds 0..N-1 (to compare samplers run on fewer seeds)")
    ap.add_argument("--also", default="",
                    help="comma-separated result files whose records join the table (not run)")
    args = ap.parse_args()
    samplers, problems = args.samplers.split(","), args.problems.split(",")
    if args.seeds > 0:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        run(samplers, problems, n_trials=args.trials, seeds=seeds, n_jobs=args.jobs, out=args.out)
    regret: dict[tuple[str, str], list[float]] = defaultdict(list)
    secs: dict[str, list[float]] = defaultdict(list)
    records, done = [], set()
    for path in [args.out, *filter(None, args.also.split(","))]:
        for r in load_results(path):
            key = (r["sampler"], r["problem"], r["seed"], r["n_trials"])
            if key not in done:
                done.add(key)
                records.append(r)
    for r in records:
        if r["status"] != "ok" or r["n_trials"] != args.trials:
            continue
        if args.table_seeds is not None and r["seed"] >= args.table_seeds:
            continue
        regret[r["problem"], r["sampler"]].append(r["regret"][-1])
        secs[r["sampler"]].append(sum(r["sampler_seconds"]) / len(r["sampler_seconds"]))
    print("| problem | " + " | ".join(samplers) + " | hpopt <= best peer |")
    print("|" + "---|" * (len(samplers) + 2))
    for p in problems:
        med = [float(np.median(regret[p, s])) if regret[p, s] else np.nan for s in samplers]
        ok = med[0] <= min(med[1:]) if len(med) > 1 and not np.isnan(med).any() else "n/a"
        cells = " | ".join(f"{m:.4g} (n={len(regret[p, s])})" for m, s in zip(med, samplers))
        print(f"| {p} | {cells} | {ok} |")
    print()
    for s in samplers:
        if secs[s]:
            print(f"{s}: mean sampler time per trial {1e3 * float(np.mean(secs[s])):.2f} ms")


if __name__ == "__main__":
    main()
