"""Gradient sampler vs random search: trials needed to reach a regret threshold (issue 6 goal).

Goal: on the ridge example and on smooth problems the gradient sampler reaches the optimum within
1e-3 in fewer trials than random search needs to get within 1e-1. "Within eps" means *regret of the
objective*: ``best value so far - optimum <= eps`` (every evaluation counts as a trial, including the
SPSA and finite-difference points).

Problems (each seed draws its own instance):

* ``ridge``: validation MSE of ridge regression in ``alpha`` (log scale, ``[1e-4, 1e4]``), data
  ``make_data(seed)`` of :mod:`hpopt.examples.ridge_gradient`; optimum by grid + golden section.
* ``ridge-logalpha``: the same runs, but "within eps" means a trial with
  ``|log alpha - log alpha*| <= eps`` (distance in the searched coordinate; the objective regret is
  a weak criterion here, the validation loss being flat near its optimum).
* ``sphere-{d}d``: ``continuous_problem("sphere", d, shift_seed=seed)`` (minimizer moved off the
  centre, box ``[-5.12, 5.12]^d``).
* ``ellipsoid-{d}d``: a rotated, shifted quadratic ``sum_i 10 ** (i / (d - 1)) z_i ** 2``,
  ``z = R (x - c)``, condition number 10, box ``[-5, 5]^d``.

Samplers: ``gradient`` with exact user gradients (``estimator="user"``), with SPSA (the default when
no gradient is told) and with central finite differences (``"fd"``), all at default settings;
``random`` is ``hpopt.make_sampler("random", seed=seed)``. A run stops at its threshold or at its cap
(``--cap-gradient``, ``--cap-random``); a run that never gets there counts as ``inf`` and a median
that is ``inf`` is reported as ``> cap``.

Run: ``python benchmarks/gradient_compare.py --seeds 10 --workers 2 --out benchmarks/gradient_compare.jsonl``
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

import hpopt
from hpopt.benchmark.functions import continuous_problem, random_rotation
from hpopt.examples.ridge_gradient import ALPHA_HIGH, ALPHA_LOW, RidgeProblem, make_data
from hpopt.samplers.gradient import GradientSampler

Instance = tuple[dict[str, Any], Callable[[dict[str, Any]], float], Callable[[dict[str, Any]], dict], float]


def instance(problem: str, seed: int) -> Instance:
    """``(space, objective, gradient, optimum)`` of one problem instance."""
    if problem in ("ridge", "ridge-logalpha"):
        rp = RidgeProblem(*make_data(seed))
        t_star, opt = rp.best_log_alpha()
        return (
            {"alpha": hpopt.Float(ALPHA_LOW, ALPHA_HIGH, log=True)},
            lambda p: rp.loss(p["alpha"]),
            lambda p: {"alpha": rp.loss_and_grad(p["alpha"])[1]},
            opt if problem == "ridge" else t_star,
        )
    family, dims = problem.split("-")
    d = int(dims[:-1])
    names = [f"x{i}" for i in range(d)]
    if family == "sphere":
        prob = continuous_problem("sphere", d, shift_seed=seed)
        c = np.array([prob.optimizer[n] for n in names])
        return (
            dict(prob.space), prob.function,
            lambda p: dict(zip(names, (2.0 * (np.array([p[n] for n in names]) - c)).tolist())),
            prob.optimum,
        )
    rng = np.random.default_rng([seed, d, 271])
    c = -4.0 + 8.0 * rng.random(d)
    R = random_rotation(d, rng)
    w = 10.0 ** (np.arange(d) / (d - 1))
    H = 2.0 * R.T @ (w[:, None] * R)

    def f(p: dict[str, Any]) -> float:
        z = R @ (np.array([p[n] for n in names]) - c)
        return float(np.dot(w, z * z))

    def grad(p: dict[str, Any]) -> dict[str, float]:
        return dict(zip(names, (H @ (np.array([p[n] for n in names]) - c)).tolist()))

    return {n: hpopt.Float(-5.0, 5.0) for n in names}, f, grad, 0.0


def run(task: tuple[str, str, int, float, int]) -> dict[str, Any]:
    """Trials until ``best - optimum <= threshold`` (inf if the cap is hit), and the final regret."""
    problem, method, seed, threshold, cap = task
    space, f, grad, opt = instance(problem, seed)
    if method == "random":
        sampler: Any = hpopt.make_sampler("random", seed=seed)
    else:
        estimator = {"gradient-user": "user", "gradient-spsa": "auto", "gradient-fd": "fd"}[method]
        sampler = GradientSampler(estimator=estimator, seed=seed)
    study = hpopt.create_study(sampler=sampler)
    best, hit = math.inf, math.inf
    t0 = time.perf_counter()
    for i in range(cap):
        t = study.ask(space)
        v = f(t.params)
        study.tell(t, v, gradient=grad(t.params) if method == "gradient-user" else None)
        if problem == "ridge-logalpha":  # "within": a trial at |log alpha - log alpha*| <= threshold
            v = abs(math.log(t.params["alpha"]) - opt) + opt
        best = min(best, v)
        if best - opt <= threshold:
            hit = i + 1
            break
    return {
        "problem": problem, "method": method, "seed": seed, "threshold": threshold, "cap": cap,
        "trials": hit, "n": len(study.trials), "regret": best - opt, "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cap-gradient", type=int, default=1500)
    ap.add_argument("--cap-random", type=int, default=2000)
    ap.add_argument(
        "--problems",
        default="ridge,ridge-logalpha,sphere-2d,sphere-5d,sphere-10d,ellipsoid-2d,ellipsoid-5d,ellipsoid-10d",
    )
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    problems = args.problems.split(",")
    methods = [("gradient-user", 1e-3), ("gradient-spsa", 1e-3), ("gradient-fd", 1e-3), ("random", 1e-1)]
    tasks = [
        (p, m, s, thr, args.cap_random if m == "random" else args.cap_gradient)
        for p in problems for m, thr in methods for s in range(args.seeds)
    ]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(run, tasks))
    if args.out:
        with open(args.out, "w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    head = "| problem | " + " | ".join(f"{m} (to {thr:g})" for m, thr in methods) + " |"
    print(head)
    print("|" + "---|" * (len(methods) + 1))
    for p in problems:
        cells = []
        for m, _ in methods:
            sel = [r for r in rows if r["problem"] == p and r["method"] == m]
            trials = np.array([r["trials"] for r in sel], dtype=float)
            med = float(np.median(trials))
            reached = int(np.isfinite(trials).sum())
            shown = f"> {sel[0]['cap']}" if not math.isfinite(med) else f"{med:g}"
            cells.append(f"{shown} ({reached}/{len(sel)})")
        print(f"| {p} | " + " | ".join(cells) + " |")
    secs = {m: sum(r["seconds"] for r in rows if r["method"] == m) for m, _ in methods}
    print("\nwall seconds per method (sum over runs): " + ", ".join(f"{m} {s:.1f}" for m, s in secs.items()))


if __name__ == "__main__":
    main()
