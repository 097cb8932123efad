"""Side-by-side quality of hpopt's TPE and Optuna's two TPE variants (issue 4).

Usage:
    python benchmarks/tpe_compare.py --seeds 10 --out benchmarks/tpe_compare.json
    python benchmarks/tpe_compare.py --table benchmarks/tpe_compare.json

Every problem is a define-by-run objective using only ``suggest_float/int/categorical``, so the very
same function runs under both libraries. Regret = best value found - known optimum (or, where the
optimum is not known in closed form, the best value any run reached, marked "*").
Budget: 100 trials, 300 for problems of 10 dimensions and more.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
import warnings

import numpy as np

# --- problems -----------------------------------------------------------------------------------


def sphere5(t):
    shift = [1.3, -0.7, 2.1, -2.9, 0.4]
    return sum((t.suggest_float(f"x{i}", -5, 5) - s) ** 2 for i, s in enumerate(shift))


def sphere10(t):
    shift = np.linspace(-3, 3, 10) * 0.77
    return sum((t.suggest_float(f"x{i}", -5, 5) - s) ** 2 for i, s in enumerate(shift))


def branin(t):
    x, y = t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


_HA = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_HP = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                       [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_HALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(t):
    x = np.array([t.suggest_float(f"x{i}", 0, 1) for i in range(6)])
    return float(-np.sum(_HALPHA * np.exp(-np.sum(_HA * (x - _HP) ** 2, axis=1))))


def rosenbrock4(t):
    x = [t.suggest_float(f"x{i}", -2, 2) for i in range(4)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))


def ackley5(t):
    x = np.array([t.suggest_float(f"x{i}", -32.768, 32.768) for i in range(5)]) - 1.5
    a = -20 * math.exp(-0.2 * math.sqrt(np.mean(x**2)))
    return float(a - math.exp(np.mean(np.cos(2 * math.pi * x))) + 20 + math.e)


def mixed(t):
    """Float, log float, int, log int and categorical (a typical neural-net space)."""
    x = t.suggest_float("x", -5, 5)
    lr = t.suggest_float("lr", 1e-5, 1e-1, log=True)
    n = t.suggest_int("layers", 1, 8)
    units = t.suggest_int("units", 8, 1024, log=True)
    act = t.suggest_categorical("act", ["relu", "tanh", "gelu", "silu", "elu"])
    off = {"relu": 0.6, "tanh": 1.0, "gelu": 0.0, "silu": 0.3, "elu": 0.8}[act]
    return (x - 1.7) ** 2 / 4 + (math.log10(lr) + 3.3) ** 2 + abs(n - 3) / 2 + (
        abs(math.log2(units) - 7.5) / 2) + off


def mixed_int(t):
    """Integers and categoricals only (small grid parts: duplicates matter)."""
    a = t.suggest_int("a", 0, 10)
    b = t.suggest_int("b", -20, 20, step=2)
    c = t.suggest_categorical("c", ["p", "q", "r", "s"])
    d = t.suggest_categorical("d", [1, 2, 4, 8, 16])
    e = t.suggest_float("e", 0.0, 1.0, step=0.1)
    return (a - 7) ** 2 + abs(b - 6) + {"p": 3, "q": 0, "r": 2, "s": 5}[c] + abs(math.log2(d) - 2) + (
        10 * (e - 0.3) ** 2)


def conditional(t):
    """A model choice with branch-specific parameters (a CASH-style tree)."""
    model = t.suggest_categorical("model", ["svm", "forest", "knn"])
    if model == "svm":
        c = t.suggest_float("svm_c", 1e-3, 1e3, log=True)
        g = t.suggest_float("svm_gamma", 1e-4, 1e1, log=True)
        kernel = t.suggest_categorical("svm_kernel", ["rbf", "poly"])
        return 0.5 + (math.log10(c) - 1.5) ** 2 / 4 + (math.log10(g) + 1.2) ** 2 / 4 + (
            0.3 if kernel == "poly" else 0.0)
    if model == "forest":
        depth = t.suggest_int("rf_depth", 2, 32)
        feat = t.suggest_float("rf_features", 0.05, 1.0)
        return 0.2 + abs(depth - 11) / 20 + (feat - 0.35) ** 2 * 3
    k = t.suggest_int("knn_k", 1, 50)
    return 0.9 + abs(k - 7) / 30


PROBLEMS = {
    # name: (function, kind, budget, optimum or None)
    "sphere5": (sphere5, "continuous", 100, 0.0),
    "branin": (branin, "continuous", 100, 0.397887),
    "hartmann6": (hartmann6, "continuous", 100, -3.32237),
    "rosenbrock4": (rosenbrock4, "continuous", 100, 0.0),
    "ackley5": (ackley5, "continuous", 100, 0.0),
    "sphere10": (sphere10, "continuous", 300, 0.0),
    "mixed": (mixed, "mixed", 100, 0.0),
    "mixed_int": (mixed_int, "mixed", 100, 0.0),
    "conditional": (conditional, "conditional", 100, 0.2),
}

SAMPLERS = ["hpopt:tpe", "optuna:tpe-multivariate", "optuna:tpe"]

# --- runners ------------------------------------------------------------------------------------


def run(sampler: str, problem: str, seed: int) -> tuple[float, float]:
    func, _, budget, _ = PROBLEMS[problem]
    t0 = time.perf_counter()
    if sampler == "hpopt:tpe":
        import hpopt

        hpopt.log.set_verbosity("WARNING")  # no line per trial
        study = hpopt.create_study(sampler="tpe", seed=seed)
        study.optimize(func, n_trials=budget)
        best = study.best_value
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        multi = sampler.endswith("multivariate")
        s = optuna.samplers.TPESampler(seed=seed, multivariate=multi)
        study = optuna.create_study(sampler=s)
        study.optimize(func, n_trials=budget)
        best = study.best_value
    return best, time.perf_counter() - t0


def collect(seeds: int, out: str, problems: list[str]) -> None:
    results = json.load(open(out)) if os.path.exists(out) else {}
    for problem in problems:
        for sampler in SAMPLERS:
            for seed in range(seeds):
                key = f"{problem}|{sampler}|{seed}"
                if key in results:
                    continue
                best, secs = run(sampler, problem, seed)
                results[key] = {"best": best, "seconds": secs}
                with open(out + ".tmp", "w") as f:
                    json.dump(results, f, indent=0)
                os.replace(out + ".tmp", out)
            print(problem, sampler, "done", flush=True)


def table(out: str) -> None:
    results = json.load(open(out))
    print("| problem | kind | trials | hpopt tpe | optuna tpe multivariate | optuna tpe | "
          "hpopt vs better optuna |")
    print("|---|---|---|---|---|---|---|")
    wins = ties = losses = 0
    for problem, (_, kind, budget, opt) in PROBLEMS.items():
        bests = {s: [v["best"] for k, v in results.items() if k.startswith(f"{problem}|{s}|")]
                 for s in SAMPLERS}
        if not all(bests.values()):
            continue
        ref = opt if opt is not None else min(min(v) for v in bests.values())
        med = {s: statistics.median([b - ref for b in v]) for s, v in bests.items()}
        secs = {s: statistics.median([v["seconds"] for k, v in results.items()
                                      if k.startswith(f"{problem}|{s}|")]) for s in SAMPLERS}
        other = min(med["optuna:tpe-multivariate"], med["optuna:tpe"])
        tol = 1e-9 + 0.02 * abs(other)  # within 2% counts as a tie
        if med["hpopt:tpe"] < other - tol:
            verdict, wins = "better", wins + 1
        elif med["hpopt:tpe"] <= other + tol:
            verdict, ties = "tie", ties + 1
        else:
            verdict, losses = f"worse ({med['hpopt:tpe'] / max(other, 1e-12):.2f}x)", losses + 1
        cells = " | ".join(f"{med[s]:.4g} ({secs[s]:.1f}s)" for s in SAMPLERS)
        n = len(bests["hpopt:tpe"])
        print(f"| {problem} | {kind} | {budget} | {cells} | {verdict} |  <!-- {n} seeds -->")
    total = wins + ties + losses
    print(f"\nhpopt better on {wins}/{total}, tie {ties}, worse {losses}; "
          f"no worse on {(wins + ties) / max(total, 1):.0%}.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--out", default="benchmarks/tpe_compare.json")
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--table", metavar="JSON", help="print the table of a results file and exit")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.table:
        table(args.table)
        return
    collect(args.seeds, args.out, args.problems.split(","))
    table(args.out)


if __name__ == "__main__":
    main()
