"""Speed and sanity of hyperparameter importance (issue 10): 1,000 trials x 10 parameters.

Usage: python benchmarks/importance_speed.py [--trials 1000] [--repeat 5] [--seeds 5] [--optuna]

The study is filled with random trials of an *additive* objective over a mixed 10-parameter space
(log floats, a stepped float, log and linear ints, two categoricals, two parameters that do not
matter). Because the objective is a sum of one-parameter terms, the global truth is known: the
fraction of the variance over the search space (uniform in each parameter's unit coordinates, the
measure fANOVA uses) that each term carries, computed here by Monte Carlo with 400,000 draws.

Reports, for each method: wall and CPU time (best and median of ``--repeat`` calls), the ranking,
and Spearman's rank correlation with the truth; for fANOVA also the spread over ``--seeds`` forest
seeds. With ``--optuna``, Optuna's PedAnovaImportanceEvaluator and FanovaImportanceEvaluator run
on the same trials (timed once; benchmark-only dependency) and are compared too.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
from scipy.stats import spearmanr

import hpopt
from hpopt.importance import get_param_importances

SPACE = {
    "lr": hpopt.Float(1e-5, 1e-1, log=True),
    "x": hpopt.Float(-5.0, 5.0),
    "units": hpopt.Int(8, 1024, log=True),
    "n": hpopt.Int(1, 64),
    "act": hpopt.Categorical(["relu", "tanh", "gelu", "silu"]),
    "opt": hpopt.Categorical(["adam", "sgd"]),
    "drop": hpopt.Float(0.0, 0.5, step=0.05),
    "wd": hpopt.Float(1e-6, 1e-2, log=True),
    "batch": hpopt.Int(16, 256, log=True),  # does not matter
    "noise": hpopt.Float(0.0, 1.0),  # does not matter
}
ACT = {"gelu": 0.0, "relu": 0.5, "silu": 0.2, "tanh": 1.0}
OPT = {"adam": 0.0, "sgd": 0.3}


def terms(p: dict) -> dict[str, np.ndarray]:
    """The objective's one-parameter terms (works on scalars and on arrays of values)."""
    return {
        "lr": (np.log10(p["lr"]) + 3) ** 2,
        "x": 0.1 * (p["x"] - 1) ** 2,
        "units": 0.3 * np.abs(np.log2(p["units"]) - 7),
        "n": np.abs(p["n"] - 20) / 40,
        "act": np.vectorize(ACT.get, otypes=[float])(p["act"]),
        "opt": np.vectorize(OPT.get, otypes=[float])(p["opt"]),
        "drop": 0.4 * p["drop"],
        "wd": 0.05 * (np.log10(p["wd"]) + 4) ** 2,
        "batch": 0.0 * p["batch"],
        "noise": 0.0 * p["noise"],
    }


def objective(p: dict) -> float:
    return float(sum(terms(p).values()))


def truth(n: int = 400_000, seed: int = 0) -> dict[str, float]:
    """Variance fraction of each term under the uniform measure on the unit box (Monte Carlo)."""
    tf = hpopt.SpaceTransform(SPACE)
    u = np.random.default_rng(seed).random((n, tf.dim))
    vals = tf.to_values(u)
    for name, dist in SPACE.items():
        if isinstance(dist, hpopt.Categorical):
            vals[name] = np.array(dist.choices, dtype=object)[vals[name]]
    var = {k: float(np.var(v)) for k, v in terms(vals).items()}
    total = sum(var.values())
    return {k: v / total for k, v in var.items()}


def build(n_trials: int, seed: int) -> hpopt.Study:
    study = hpopt.create_study(sampler="random", seed=seed)
    for _ in range(n_trials):
        t = study.ask(SPACE)
        study.tell(t, objective(t.params))
    return study


def timed(fn, repeat: int) -> tuple[object, list[float], list[float]]:
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return out, walls, cpus


def rho(imp: dict[str, float], ref: dict[str, float]) -> float:
    names = list(SPACE)
    return float(spearmanr([imp[k] for k in names], [ref[k] for k in names]).statistic)


def ranking(imp: dict[str, float], k: int = 10) -> str:
    return ", ".join(f"{n} {v:.3f}" for n, v in list(imp.items())[:k])


def optuna_study(study: hpopt.Study):
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    def conv(d):
        if isinstance(d, hpopt.Categorical):
            return CategoricalDistribution(list(d.choices))
        if isinstance(d, hpopt.Int):
            return IntDistribution(d.low, d.high, log=d.log, step=1 if d.log else d.step)
        return FloatDistribution(d.low, d.high, log=d.log, step=d.step)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {k: conv(d) for k, d in SPACE.items()}
    ost = optuna.create_study()
    ost.add_trials(
        [
            optuna.trial.create_trial(params=dict(t.params), distributions=dists, value=t.value)
            for t in study.get_trials(["complete"])
        ]
    )
    return ost


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=5, help="forest seeds for the fANOVA spread")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random trials")
    ap.add_argument("--optuna", action="store_true", help="also run Optuna's evaluators")
    args = ap.parse_args()

    t0 = time.perf_counter()
    study = build(args.trials, args.seed)
    print(f"built {args.trials} trials x {len(SPACE)} parameters in {time.perf_counter() - t0:.2f} s")
    ref = truth()
    print(f"truth (variance fractions): {ranking(dict(sorted(ref.items(), key=lambda kv: -kv[1])))}")
    rows = []
    results = {}
    for method in ("ped-anova", "fanova"):
        imp, walls, cpus = timed(lambda m=method: get_param_importances(study, method=m), args.repeat)
        results[method] = imp
        rows.append((f"hpopt {method}", min(walls), statistics.median(walls), min(cpus), rho(imp, ref)))
        print(f"hpopt {method}: {ranking(imp)}")
    spread = [rho(get_param_importances(study, method="fanova", seed=s), ref) for s in range(args.seeds)]
    print(f"hpopt fanova, Spearman vs truth over forest seeds 0..{args.seeds - 1}: "
          f"min {min(spread):.3f}, max {max(spread):.3f}")
    big = get_param_importances(study, method="fanova", n_trees=64, max_depth=32, min_samples_leaf=1)
    print(f"hpopt fanova n_trees=64, max_depth=32, min_samples_leaf=1: {ranking(big)}; "
          f"Spearman vs truth {rho(big, ref):.3f}")

    if args.optuna:
        import optuna.importance as oi

        ost = optuna_study(study)
        for name, ev in (
            ("optuna ped-anova", oi.PedAnovaImportanceEvaluator()),
            ("optuna fanova", oi.FanovaImportanceEvaluator(seed=0)),
        ):
            imp, walls, cpus = timed(lambda e=ev: oi.get_param_importances(ost, evaluator=e), 1)
            imp = {k: float(v) for k, v in imp.items()}
            mine = results["ped-anova" if "ped" in name else "fanova"]
            rows.append((name, min(walls), statistics.median(walls), min(cpus), rho(imp, ref)))
            print(f"{name}: {ranking(imp)}; Spearman vs hpopt's {rho(imp, mine):.3f}")

    print()
    print(f"| method ({args.trials} trials x {len(SPACE)} params) | wall best (s) | wall median (s) "
          f"| CPU best (s) | Spearman vs truth |")
    print("|---|---:|---:|---:|---:|")
    for name, wb, wm, cb, r in rows:
        print(f"| {name} | {wb:.3f} | {wm:.3f} | {cb:.3f} | {r:.3f} |")
    worst = max(r[2] for r in rows if r[0].startswith("hpopt"))
    print(f"\ngoal (< 2 s per method): {'met' if worst < 2.0 else 'NOT met'} (slowest hpopt median "
          f"{worst:.3f} s)")
    if not math.isfinite(worst):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
