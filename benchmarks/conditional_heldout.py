"""Held-out conditional problems for CMA-ES's branch fallback (not the suite it is judged on).

Three define-by-run problems that appear nowhere else, written before any run of the fallback
variants they were used to compare:

* ``ho-cond-optimizer`` - optimizer in {sgd, adam, rmsprop} with a shared log learning rate and
  2-3 parameters per branch (adam's three rotated and coupled to nothing else); floors 0.05 / 0 / 0.02.
* ``ho-cond-kernel``    - kernel in {rbf, poly, linear} with a shared log C; rbf owns a log gamma
  coupled with C, poly an int degree, a float and a log gamma; floors 0 / 0.03 / 0.12.
* ``ho-cond-depth``     - n in 2..5 layers, one float per layer, a scaled Rosenbrock valley over the
  first n plus a depth penalty (4 best): one-parameter groups coupled along the valley.

Each run drives ``CmaEsSampler`` (or ``DESampler`` with ``--sampler de``) with
``fallback_sampler=BranchSampler(seed=s)`` (CMA-ES's default) or ``TPESampler(seed=s)`` (the
previous default, DE's) through ask/tell and records the best regret after 100, 300 and 1,000 trials. Usage::

    python benchmarks/conditional_heldout.py --seeds 10 --jobs 2 --out /tmp/cond.json
    python benchmarks/conditional_heldout.py --seeds 10 --problems conditional-models,conditional-layers
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from multiprocessing import Pool
from typing import Any

import numpy as np

from hpopt.benchmark.problem import Problem
from hpopt.distributions import Categorical, Float, Int

_R = np.linalg.qr(np.random.default_rng(7).normal(size=(3, 3)))[0]


def _def_opt(t: Any) -> dict[str, Any]:
    o = t.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    p = {"optimizer": o, "lr": t.suggest_float("lr", 1e-5, 1.0, log=True)}
    if o == "sgd":
        p["momentum"] = t.suggest_float("momentum", 0.0, 0.99)
        p["nesterov"] = t.suggest_categorical("nesterov", [False, True])
    elif o == "adam":
        p["beta1"] = t.suggest_float("beta1", 0.5, 0.999)
        p["beta2"] = t.suggest_float("beta2", 0.9, 0.9999)
        p["eps"] = t.suggest_float("eps", 1e-10, 1e-4, log=True)
    else:
        p["decay"] = t.suggest_float("decay", 0.8, 0.999)
        p["centered"] = t.suggest_categorical("centered", [False, True])
    return p


def _opt(p: dict[str, Any]) -> float:
    lr = math.log10(p["lr"])
    o = p["optimizer"]
    if o == "sgd":
        m = p["momentum"] - 0.9
        return 0.05 + 0.08 * (lr + 1.5 - 0.8 * m) ** 2 + 3.0 * m**2 + (0.0 if p["nesterov"] else 0.02)
    if o == "adam":
        z = _R @ np.array([lr + 3.2, 10 * (p["beta1"] - 0.85), 100 * (p["beta2"] - 0.995)])
        return 0.1 * float(z @ (np.array([1.0, 0.3, 0.1]) * z)) + 0.01 * (math.log10(p["eps"]) + 7.5) ** 2
    return 0.02 + 0.1 * (lr + 2.7) ** 2 + 5.0 * (p["decay"] - 0.93) ** 2 + (0.03 if p["centered"] else 0.0)


def _def_kernel(t: Any) -> dict[str, Any]:
    k = t.suggest_categorical("kernel", ["rbf", "poly", "linear"])
    p = {"kernel": k, "C": t.suggest_float("C", 1e-3, 1e3, log=True)}
    if k == "rbf":
        p["gamma"] = t.suggest_float("gamma", 1e-4, 10.0, log=True)
    elif k == "poly":
        p["degree"] = t.suggest_int("degree", 2, 5)
        p["coef0"] = t.suggest_float("coef0", 0.0, 1.0)
        p["pgamma"] = t.suggest_float("pgamma", 1e-4, 10.0, log=True)
    return p


def _kernel(p: dict[str, Any]) -> float:
    c = math.log10(p["C"])
    if p["kernel"] == "rbf":
        g = math.log10(p["gamma"])
        return 0.1 * (c - 1.3) ** 2 + 0.2 * (g + 1.7) ** 2 - 0.15 * (c - 1.3) * (g + 1.7)
    if p["kernel"] == "poly":
        g = math.log10(p["pgamma"])
        return (0.03 + 0.05 * (c - 0.4) ** 2 + 0.04 * (p["degree"] - 3) ** 2
                + 0.5 * (p["coef0"] - 0.35) ** 2 + 0.1 * (g + 1.0) ** 2)
    return 0.12 + 0.05 * (c + 0.5) ** 2


_PENALTY = {2: 0.6, 3: 0.25, 4: 0.0, 5: 0.1}


def _def_depth(t: Any) -> dict[str, Any]:
    n = t.suggest_int("n", 2, 5)
    p: dict[str, Any] = {"n": n}
    for i in range(n):
        p[f"w{i}"] = t.suggest_float(f"w{i}", -2.0, 2.0)
    return p


def _depth(p: dict[str, Any]) -> float:
    w = np.array([p[f"w{i}"] for i in range(p["n"])]) - 0.3
    return _PENALTY[p["n"]] + float(np.sum(100.0 * (w[1:] - w[:-1] ** 2) ** 2 + (1 - w[:-1]) ** 2)) / 100.0


HELD_OUT = {
    "ho-cond-optimizer": Problem(
        name="ho-cond-optimizer", define=_def_opt, function=_opt, optimum=0.0,
        flat_space={"optimizer": Categorical(("sgd", "adam", "rmsprop")), "lr": Float(1e-5, 1.0, log=True),
                    "momentum": Float(0.0, 0.99), "nesterov": Categorical((False, True)),
                    "beta1": Float(0.5, 0.999), "beta2": Float(0.9, 0.9999),
                    "eps": Float(1e-10, 1e-4, log=True), "decay": Float(0.8, 0.999),
                    "centered": Categorical((False, True))}),
    "ho-cond-kernel": Problem(
        name="ho-cond-kernel", define=_def_kernel, function=_kernel, optimum=0.0,
        flat_space={"kernel": Categorical(("rbf", "poly", "linear")), "C": Float(1e-3, 1e3, log=True),
                    "gamma": Float(1e-4, 10.0, log=True), "degree": Int(2, 5), "coef0": Float(0.0, 1.0),
                    "pgamma": Float(1e-4, 10.0, log=True)}),
    "ho-cond-depth": Problem(
        name="ho-cond-depth", define=_def_depth, function=_depth, optimum=0.0,
        flat_space={"n": Int(2, 5), **{f"w{i}": Float(-2.0, 2.0) for i in range(5)}}),
}
CHECKPOINTS = (100, 300, 1000)


def run_one(args: tuple[str, str, str, int, int]) -> dict[str, Any]:
    """One (sampler, fallback, problem, seed) run: best regret at the checkpoints, ms per trial."""
    which, fallback, name, seed, n_trials = args
    import hpopt
    from hpopt.benchmark import get_problem
    from hpopt.samplers.branch import BranchSampler
    from hpopt.samplers.cmaes import CmaEsSampler
    from hpopt.samplers.de import DESampler
    from hpopt.samplers.tpe import TPESampler

    logging.getLogger("hpopt").setLevel(logging.WARNING)
    problem = HELD_OUT[name] if name in HELD_OUT else get_problem(name)
    fb = TPESampler(seed=seed) if fallback == "tpe" else BranchSampler(seed=seed)
    make = CmaEsSampler if which == "cmaes" else DESampler
    study = hpopt.create_study(sampler=make(seed=seed, fallback_sampler=fb))
    best, curve, spent = math.inf, [], 0.0
    for _ in range(n_trials):
        t0 = time.perf_counter()
        trial = study.ask()
        params = problem.define(trial)  # type: ignore[misc]
        spent += time.perf_counter() - t0
        value = float(problem.function(params))
        t0 = time.perf_counter()
        study.tell(trial, value)
        spent += time.perf_counter() - t0
        best = min(best, value)
        curve.append(best - float(problem.optimum))  # type: ignore[arg-type]
    return {"sampler": which, "fallback": fallback, "problem": name, "seed": seed,
            "regret": {c: curve[c - 1] for c in CHECKPOINTS if c <= n_trials},
            "ms_per_trial": 1e3 * spent / n_trials}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--problems", default=",".join(HELD_OUT))
    ap.add_argument("--fallbacks", default="tpe,branch", help="tpe (previous default), branch (default)")
    ap.add_argument("--sampler", default="cmaes", choices=("cmaes", "de"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    tasks = [(args.sampler, f, p, s, args.trials) for f in args.fallbacks.split(",")
             for p in args.problems.split(",") for s in range(args.seeds)]
    with Pool(args.jobs, maxtasksperchild=1) as pool:
        res = pool.map(run_one, tasks, chunksize=1)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(res, fh, indent=1)
    cps = [c for c in CHECKPOINTS if c <= args.trials]
    print("| problem | fallback | " + " | ".join(f"{c} trials" for c in cps) + " | ms/trial |")
    print("|---|---|" + "---|" * len(cps) + "---|")
    for p in args.problems.split(","):
        for f in args.fallbacks.split(","):
            rows = [r for r in res if r["problem"] == p and r["fallback"] == f]
            cells = " | ".join(f"{np.median([r['regret'][c] for r in rows]):.4g}" for c in cps)
            print(f"| {p} | {f} | {cells} | {np.mean([r['ms_per_trial'] for r in rows]):.2f} |")


if __name__ == "__main__":
    main()
