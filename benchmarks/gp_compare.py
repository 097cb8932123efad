"""hpopt's ``gp`` sampler next to Optuna's GPSampler, through the benchmark runner.

Usage (what produced the RESULTS.md section: the two samplers in two processes at the same time,
each writing its own file, then one table over both):
    python benchmarks/gp_compare.py --run optuna:gp --seeds 10 --out benchmarks/gp_results_optuna_100.jsonl
    python benchmarks/gp_compare.py --run gp --seeds 10 --out benchmarks/gp_results_hpopt_100.jsonl
    python benchmarks/gp_compare.py --table-only --out benchmarks/gp_results_hpopt_100.jsonl \
        --also benchmarks/gp_results_optuna_100.jsonl

Runs every continuous problem with at most ten dimensions (24 problems), 100 trials, seed by seed
(seed 0 on every problem first, so a run stopped early still covers every problem), and reads the
best-so-far regret at trial 50 and at trial 100 from the same runs. Prints, per problem and
budget, the median regret of each sampler over the seeds *both* ran (paired), and whether hpopt's
is no worse (``<=``) / better (``<``) than Optuna's; then the counts the issue asks for, and the
mean sampler time per ask over trials 91-100 (the "ask at 100 trials" overhead) and over all
trials. Runs already in ``--out`` are skipped, so an interrupted run resumes.

Until ``gp`` is registered in :mod:`hpopt.builtin`, this script registers it in-process (the
runner's workers are forked, so they inherit the registration).

Optuna's GPSampler needs PyTorch (``pip install 'hpopt[bench-gp]'``); the runner pins BLAS pools of
each worker to one thread, for both samplers alike.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

import hpopt
from hpopt.benchmark.results import run_key
from hpopt.benchmark.runner import load_results, run
from hpopt.plugins import hookimpl

SAMPLERS = ["gp", "optuna:gp"]
PROBLEMS = [
    f"{f}-{d}d"
    for f in ("sphere", "rosenbrock", "ackley", "rastrigin", "griewank", "styblinski-tang", "levy")
    for d in (2, 5, 10)
] + ["branin", "hartmann3", "hartmann6"]
BUDGETS = (50, 100)


class _GPPlugin:
    @hookimpl
    def hpopt_samplers(self) -> dict:
        from hpopt.samplers.gp import GPSampler

        return {"gp": GPSampler}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 are run and tabulated")
    ap.add_argument("--seed-start", type=int, default=0, help="first seed to run (to resume)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--samplers", default=",".join(SAMPLERS))
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--run", default=None, help="comma-separated samplers to run (default: --samplers)")
    ap.add_argument("--table-only", action="store_true", help="tabulate --out (and --also) without running")
    ap.add_argument("--also", default="", help="comma-separated results files to tabulate as well")
    args = ap.parse_args()
    if "gp" not in hpopt.available_samplers():
        hpopt.plugins.register(_GPPlugin(), name="gp-benchmark")
    samplers, problems = args.samplers.split(","), args.problems.split(",")
    if not args.table_only:
        todo = args.run.split(",") if args.run else samplers
        for seed in range(args.seed_start, args.seeds):  # seed-major: every problem gets seed 0 first
            run(todo, problems, n_trials=args.trials, seeds=[seed], n_jobs=args.jobs, out=args.out)
    regret: dict[tuple[str, str, int], dict[int, float]] = defaultdict(dict)
    last10: dict[str, list[float]] = defaultdict(list)
    every: dict[str, list[float]] = defaultdict(list)
    records = [r for path in [args.out, *filter(None, args.also.split(","))] for r in load_results(path)]
    # One record per run (the last): overlapping files must not count a run's timings twice.
    records = list({run_key(r): r for r in records}.values())
    for r in records:
        if r["status"] != "ok" or r["n_trials"] != args.trials or r["problem"] not in problems \
                or r["seed"] >= args.seeds or r["sampler"] not in samplers:
            continue
        for b in BUDGETS:
            regret[r["problem"], r["sampler"], b][r["seed"]] = r["regret"][b - 1]
        secs = r["sampler_seconds"]
        last10[r["sampler"]].append(float(np.mean(secs[-10:])))
        every[r["sampler"]].append(float(np.mean(secs)))
    ours, peer = samplers[0], samplers[1]
    print(f"| problem | budget | {ours} | {peer} | {ours} <= {peer} | {ours} < {peer} |")
    print("|---|---|---|---|---|---|")
    counts = {b: [0, 0, 0] for b in BUDGETS}  # no worse, better, problems compared
    for p in problems:
        for b in BUDGETS:
            seeds = sorted(set(regret[p, ours, b]) & set(regret[p, peer, b]))  # paired: seeds both ran
            a = [regret[p, ours, b][k] for k in seeds]
            o = [regret[p, peer, b][k] for k in seeds]
            if not seeds:
                continue
            ma, mo = float(np.median(a)), float(np.median(o))
            le, lt = ma <= mo, ma < mo
            counts[b][0] += le
            counts[b][1] += lt
            counts[b][2] += 1
            print(f"| {p} | {b} | {ma:.4g} (n={len(a)}) | {mo:.4g} (n={len(o)}) | {le} | {lt} |")
    print()
    for b, (le, lt, n) in counts.items():
        if n:
            print(f"budget {b}: {ours} no worse on {le}/{n} ({100 * le / n:.0f}%), better on {lt}/{n} "
                  f"({100 * lt / n:.0f}%)")
    for s in samplers:
        if last10[s]:
            print(f"{s}: mean sampler seconds per ask, trials 91-100: {1e3 * np.mean(last10[s]):.1f} ms; "
                  f"all trials: {1e3 * np.mean(every[s]):.1f} ms (runs: {len(every[s])})")


if __name__ == "__main__":
    main()
