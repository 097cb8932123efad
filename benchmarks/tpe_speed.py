"""Overhead of hpopt's TPE vs Optuna's TPE per ask+tell on a 5-D mixed space (issue 4).

Usage: python benchmarks/tpe_speed.py [--trials 1000] [--measure 50] [--optuna]

The history is filled with random trials (same objective), then ``--measure`` ask+tell rounds are
timed with the model active. Reports the median wall time and the median CPU time
(``time.process_time``) per ask+tell, in ms: on a shared, loaded machine the CPU time is the
fairer measure of the work done.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings

import hpopt
from hpopt.samplers.tpe import TPESampler

SPACE = {
    "x": hpopt.Float(-5.0, 5.0),
    "lr": hpopt.Float(1e-5, 1e-1, log=True),
    "n": hpopt.Int(1, 64),
    "units": hpopt.Int(8, 1024, log=True),
    "act": hpopt.Categorical(["relu", "tanh", "gelu", "silu"]),
}


def objective(p: dict) -> float:
    return (
        (p["x"] - 1) ** 2
        + (math.log10(p["lr"]) + 3) ** 2
        + abs(p["n"] - 20) / 10
        + abs(math.log2(p["units"]) - 7)
        + (p["act"] != "gelu")
    )


def run_hpopt(n_fill: int, n_measure: int, seed: int = 0) -> list[float]:
    sampler = TPESampler(seed=seed, n_startup_trials=n_fill)
    study = hpopt.create_study(sampler=sampler)
    for _ in range(n_fill):
        t = study.ask(SPACE)
        study.tell(t, objective(t.params))
    sampler.n_startup_trials = 10
    times = []
    for _ in range(n_measure):
        t0, c0 = time.perf_counter(), time.process_time()
        t = study.ask(SPACE)
        study.tell(t, objective(t.params))
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    return times


def run_hpopt_ask_only(n_fill: int, n_measure: int, seed: int = 0) -> list[float]:
    sampler = TPESampler(seed=seed, n_startup_trials=n_fill)
    study = hpopt.create_study(sampler=sampler)
    for _ in range(n_fill):
        t = study.ask(SPACE)
        study.tell(t, objective(t.params))
    sampler.n_startup_trials = 10
    times = []
    for _ in range(n_measure):
        t0, c0 = time.perf_counter(), time.process_time()
        t = study.ask(SPACE)
        times.append((time.perf_counter() - t0, time.process_time() - c0))
        study.tell(t, objective(t.params))
    return times


def run_optuna(n_fill: int, n_measure: int, multivariate: bool, seed: int = 0) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {
        "x": optuna.distributions.FloatDistribution(-5.0, 5.0),
        "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
        "n": optuna.distributions.IntDistribution(1, 64),
        "units": optuna.distributions.IntDistribution(8, 1024, log=True),
        "act": optuna.distributions.CategoricalDistribution(["relu", "tanh", "gelu", "silu"]),
    }
    rnd = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n_fill):
        t = rnd.ask(dists)
        rnd.tell(t, objective(t.params))
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=multivariate)
    study = optuna.create_study(sampler=sampler)
    study.add_trials(rnd.trials)
    times = []
    for _ in range(n_measure):
        t0, c0 = time.perf_counter(), time.process_time()
        t = study.ask(dists)
        study.tell(t, objective(t.params))
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--measure", type=int, default=50)
    ap.add_argument("--optuna", action="store_true", help="also time Optuna's two TPE variants")
    ap.add_argument("--ask-only", action="store_true", help="time hpopt's ask alone")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rows = [("hpopt tpe (ask+tell)", run_hpopt(args.trials, args.measure))]
    if args.ask_only:
        rows.append(("hpopt tpe (ask only)", run_hpopt_ask_only(args.trials, args.measure)))
    if args.optuna:
        rows.append(("optuna TPE multivariate", run_optuna(args.trials, args.measure, True)))
        rows.append(("optuna TPE default", run_optuna(args.trials, args.measure, False)))
    print("| sampler | trials | median wall ms | p90 wall ms | median CPU ms |")
    print("|---|---|---|---|---|")
    for name, ts in rows:
        wall = sorted(w for w, _ in ts)
        cpu = statistics.median(c for _, c in ts)
        print(f"| {name} | {args.trials} | {1000 * statistics.median(wall):.2f} | "
              f"{1000 * wall[int(0.9 * (len(wall) - 1))]:.2f} | {1000 * cpu:.2f} |")


if __name__ == "__main__":
    main()
