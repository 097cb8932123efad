"""Pruner quality benchmark: hpopt's median / ASHA / Hyperband against Optuna's MedianPruner,
SuccessiveHalvingPruner and HyperbandPruner, and no pruning, on learning-curve problems.

Problems: the ``curves`` suite of :mod:`hpopt.benchmark` (``curves-synthetic``: crossing
parametric curves, 50 steps; ``curves-mlp``: a numpy MLP trained by SGD, 20 epochs) and four
defined here (written before that suite existed), with ``R = 81`` steps, reported as 1..R:

* ``powerlaw``  - ``f(u) + a(u) * t**-c(u)`` plus 1% noise: curves converge at different rates,
  cross now and then.
* ``crossing``  - ``f(u) + (1.5 - f(u)) * exp(-t / tau(u))``: the configurations that end best
  learn slowly, fast learners plateau worse (the curves cross: the hard case for pruning).
* ``noisy``     - power law with 3% noise per step.
* ``sgd``       - a real loop: a 20-32-1 tanh MLP trained by minibatch SGD with momentum and L2 on
  a fixed synthetic classification set; the step value is the validation log-loss after each
  epoch (diverging runs report NaN).

Fairness: every library sees *the same configurations in the same order*: trial ``N`` of seed
``s`` gets the parameters hpopt's ``RandomSampler(seed=s)`` draws for trial ``N`` (they depend
only on seed, number, name and distribution; the hpopt runs draw them through the sampler and
check the table), and the learning curve of a configuration is computed once and replayed to
every pruner (noise included); Optuna studies get a fixed name (its Hyperband assigns brackets
from a hash of name and number). Optuna's RandomSampler is attached but unused: the objective
takes its parameters from the table. Trials run one after another (``n_jobs=1``), so the only
difference between two runs is the pruner. Pruners use the same settings on both sides
(min_resource=1, reduction_factor=3, max_resource = the problem's steps for Hyperband,
MedianPruner with n_startup_trials=5 and no warm-up); no setting was tuned on these problems.

Measures (per problem x seed x pruner):

* *final best*: the best value at the last step among the trials that reached it (whatever their
  final state: Optuna's SuccessiveHalvingPruner can prune a trial at its last step);
* *steps*: total steps reported by all trials.

Two regimes: the same number of trials (``--trials``, default 100) and the same total number of
steps (``--budget``, default 27 full trials' worth; a trial cut by the budget does not count).
Hyperband gets ``max_resource`` = the problem's number of steps.

Usage::

    python benchmarks/pruners_compare.py --seeds 10 --out benchmarks/pruners_compare.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import hpopt

R = 81  # steps of the four problems defined here
N_PARAMS = 4
LOCAL = ("powerlaw", "crossing", "noisy", "sgd")
SUITE = ("curves-synthetic", "curves-mlp")  # hpopt.benchmark's `curves` suite
PROBLEMS = LOCAL + SUITE
PROBLEM_ID = {p: i for i, p in enumerate(PROBLEMS)}
_UNIT = hpopt.Float(0.0, 1.0)


def space(problem: str) -> dict[str, Any]:
    """The search space of a problem."""
    if problem in LOCAL:
        return {f"u{i}": _UNIT for i in range(N_PARAMS)}
    return dict(_suite(problem).space)


def n_steps(problem: str) -> int:
    """Steps per trial (the last one is the final value)."""
    return R if problem in LOCAL else int(_suite(problem).n_steps)


def _suite(problem: str) -> Any:
    from hpopt.benchmark import get_problem

    return get_problem(problem)


# -- configurations and curves ------
def config(problem: str, seed: int, number: int) -> dict[str, Any]:
    """The parameters hpopt's RandomSampler(seed) draws for trial ``number`` (it depends only on
    the seed, the number, the name and the distribution)."""
    sampler = hpopt.RandomSampler(seed=seed)
    info = hpopt.TrialInfo(number, {}, {}, {})
    return {n: sampler.sample(None, info, n, d) for n, d in space(problem).items()}  # type: ignore[arg-type]


_CURVES: dict[tuple[str, int, int], np.ndarray] = {}


def curve(problem: str, seed: int, number: int) -> np.ndarray:
    """The step values of trial ``number`` (memoized: every pruner replays the same curve)."""
    key = (problem, seed, number)
    c = _CURVES.get(key)
    if c is None:
        params = config(problem, seed, number)
        rng = np.random.default_rng([seed, number, PROBLEM_ID[problem]])
        if problem in LOCAL:
            u = np.array([params[f"u{i}"] for i in range(N_PARAMS)])
            c = _MAKERS[problem](u, rng, seed)
        else:
            c = np.array(list(_suite(problem).steps(params, rng)), dtype=float)
        _CURVES[key] = c
    return c


def _powerlaw(u: np.ndarray, rng: np.random.Generator, seed: int) -> np.ndarray:
    t = np.arange(1, R + 1, dtype=float)
    f = 0.1 + 0.9 * ((u[0] - 0.3) ** 2 + (u[1] - 0.3) ** 2)
    a, c = 0.5 + 2.0 * u[2], 0.3 + 0.9 * u[3]
    y = f + a * t**-c
    return y + rng.normal(0.0, 0.01, R) * y


def _crossing(u: np.ndarray, rng: np.random.Generator, seed: int) -> np.ndarray:
    t = np.arange(1, R + 1, dtype=float)
    f = 0.2 + 2.0 * (u[0] - 0.25) ** 2 + 0.3 * (u[1] - 0.5) ** 2 + 0.05 * u[2]
    tau = 3.0 + 40.0 * (1.0 - u[0]) ** 2
    y = f + (1.5 - f) * np.exp(-t / tau)
    return y + rng.normal(0.0, 0.01, R)


def _noisy(u: np.ndarray, rng: np.random.Generator, seed: int) -> np.ndarray:
    t = np.arange(1, R + 1, dtype=float)
    f = 0.3 + float(np.sum((u[:3] - 0.5) ** 2))
    y = f + (0.5 + u[3]) * t**-0.5
    return y + rng.normal(0.0, 0.03, R)


_DATA: dict[int, tuple[np.ndarray, ...]] = {}


def _dataset(seed: int) -> tuple[np.ndarray, ...]:
    if seed not in _DATA:
        rng = np.random.default_rng([seed, 991])
        x = rng.normal(size=(1024, 20))
        w1, w2 = rng.normal(size=(20, 8)), rng.normal(size=8)
        logit = np.tanh(x @ w1) @ w2 + 0.5 * rng.normal(size=1024)
        y = (logit > 0).astype(float)
        _DATA[seed] = (x[:512], y[:512], x[512:], y[512:])
    return _DATA[seed]


def _sgd(u: np.ndarray, rng: np.random.Generator, seed: int) -> np.ndarray:
    """Validation log-loss per epoch of a small MLP trained with minibatch SGD."""
    xtr, ytr, xva, yva = _dataset(seed)
    lr = 10.0 ** (-3.0 + 2.5 * u[0])
    momentum = 0.95 * u[1]
    l2 = 10.0 ** (-6.0 + 4.0 * u[2])
    batch = int(2 ** (4 + round(4 * u[3])))
    w1 = rng.normal(0, 1 / math.sqrt(20), (20, 32))
    b1 = np.zeros(32)
    w2 = rng.normal(0, 1 / math.sqrt(32), 32)
    b2 = 0.0
    v = [np.zeros_like(w1), np.zeros_like(b1), np.zeros_like(w2), 0.0]
    out = np.empty(R)
    n = len(xtr)
    with np.errstate(all="ignore"):
        for epoch in range(R):
            order = rng.permutation(n)
            for i in range(0, n, batch):
                idx = order[i : i + batch]
                xb, yb = xtr[idx], ytr[idx]
                h = np.tanh(xb @ w1 + b1)
                p = 1.0 / (1.0 + np.exp(-(h @ w2 + b2)))
                g = (p - yb) / len(idx)
                gw2 = h.T @ g + l2 * w2
                gb2 = g.sum()
                gh = np.outer(g, w2) * (1.0 - h * h)
                gw1 = xb.T @ gh + l2 * w1
                gb1 = gh.sum(axis=0)
                grads = (gw1, gb1, gw2, gb2)
                v = [momentum * vi - lr * gi for vi, gi in zip(v, grads)]
                w1, b1, w2, b2 = w1 + v[0], b1 + v[1], w2 + v[2], b2 + v[3]
            h = np.tanh(xva @ w1 + b1)
            p = np.clip(1.0 / (1.0 + np.exp(-(h @ w2 + b2))), 1e-7, 1 - 1e-7)
            loss = float(-np.mean(yva * np.log(p) + (1 - yva) * np.log(1 - p)))
            out[epoch] = loss if math.isfinite(loss) else math.nan
            if not math.isfinite(loss):
                out[epoch:] = math.nan
                break
    return out


_MAKERS: dict[str, Callable[[np.ndarray, np.random.Generator, int], np.ndarray]] = {
    "powerlaw": _powerlaw,
    "crossing": _crossing,
    "noisy": _noisy,
    "sgd": _sgd,
}


# -- pruners ------
def hpopt_pruners() -> dict[str, Callable[[int], Any]]:
    from hpopt.pruners import (
        ForecastPruner,
        HyperbandPruner,
        MedianPruner,
        NopPruner,
        SuccessiveHalvingPruner,
    )

    return {
        "none": lambda r: NopPruner(),
        "hpopt-median": lambda r: MedianPruner(n_startup_trials=5, n_warmup_steps=0),
        "hpopt-asha": lambda r: SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=3, rank_by="observed"
        ),
        "hpopt-hyperband": lambda r: HyperbandPruner(
            min_resource=1, max_resource=r, reduction_factor=3
        ),
        "hpopt-forecast": lambda r: ForecastPruner(min_resource=1, reduction_factor=3),
        # Successive halving / Hyperband ranking rungs by a forecast of the final loss (settings
        # chosen on the held-out families of pruners_heldout.py, not on these problems; the
        # forecast ranking with its warm-up is successive halving's default since 2026-11-29).
        "hpopt-asha-fc": lambda r: SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=3, rank_by="forecast"
        ),
        "hpopt-hyperband-fc": lambda r: HyperbandPruner(
            min_resource=1, max_resource=r, reduction_factor=3, rank_by="forecast"
        ),
    }


def optuna_pruners() -> dict[str, Callable[[int], Any]]:
    import optuna

    return {
        "optuna-median": lambda r: optuna.pruners.MedianPruner(
            n_startup_trials=5, n_warmup_steps=0
        ),
        "optuna-sh": lambda r: optuna.pruners.SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=3
        ),
        "optuna-hyperband": lambda r: optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=r, reduction_factor=3
        ),
    }


def sensitivity_pruners() -> dict[str, Callable[[int], Any]]:
    import optuna

    from hpopt.pruners import SuccessiveHalvingPruner

    out: dict[str, Callable[[int], Any]] = {}
    for m in (1, 3, 9):
        out[f"hpopt-asha-r{m}"] = lambda r, m=m: SuccessiveHalvingPruner(min_resource=m, rank_by="observed")
        out[f"optuna-sh-r{m}"] = lambda r, m=m: optuna.pruners.SuccessiveHalvingPruner(
            min_resource=m, reduction_factor=3
        )
    return out


class _Budget(Exception):
    """The step budget ran out inside a trial."""


def run(problem: str, seed: int, name: str, make: Callable[[int], Any], *, n_trials: int | None,
        budget: int | None) -> dict[str, Any]:
    """One study; returns final best, steps used, trials run."""
    is_optuna = name.startswith("optuna")
    cpu0 = time.process_time()
    last = n_steps(problem)
    dists = space(problem)
    used = [0]
    finals: list[float] = []
    pruned = [0]

    def body(trial: Any, pruned_exc: type, stop: Callable[[], None]) -> float:
        c = curve(problem, seed, trial.number)
        for step in range(1, last + 1):
            if budget is not None and used[0] >= budget:
                stop()
                raise _Budget()
            used[0] += 1
            trial.report(float(c[step - 1]), step)
            if step == last and math.isfinite(c[-1]):
                finals.append(float(c[-1]))
            if trial.should_prune():
                pruned[0] += 1
                raise pruned_exc()
        return float(c[-1])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if is_optuna:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.ERROR)
            # A fixed name: Optuna's HyperbandPruner assigns brackets by crc32(name + number).
            study = optuna.create_study(
                study_name=f"{problem}-seed{seed}",
                pruner=make(last),
                sampler=optuna.samplers.RandomSampler(seed=seed),
            )
            study.optimize(
                lambda t: body(t, optuna.TrialPruned, study.stop),
                n_trials=n_trials if n_trials is not None else 10**6,
                catch=(_Budget,),
            )
            n_run = len(study.trials)
        else:
            study = hpopt.create_study(pruner=make(last), sampler="random", seed=seed)

            def objective(t: Any) -> float:
                params = {n: t.suggest(n, d) for n, d in dists.items()}
                if t.number < 3:  # the table is hpopt's RandomSampler: check it
                    want = config(problem, seed, t.number)
                    assert params == want, (params, want)
                return body(t, hpopt.TrialPruned, study.stop)

            study.optimize(
                objective, n_trials=n_trials if n_trials is not None else 10**6, catch=(_Budget,)
            )
            n_run = len(study.trials)
    return {
        "best": min(finals) if finals else math.inf,
        "steps": used[0],
        "trials": n_run,
        "completed": len(finals),
        "pruned": pruned[0],
        "cpu": time.process_time() - cpu0,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--budget", type=float, default=27.0,
                    help="same-steps regime: total steps, in full trials of the problem")
    ap.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    ap.add_argument("--out", default=None)
    ap.add_argument("--pruners", nargs="*", default=None, help="only these (names as in the tables)")
    ap.add_argument(
        "--sensitivity",
        action="store_true",
        help="instead of the main comparison: successive halving with min_resource 1, 3, 9 "
        "(hpopt and Optuna, a grid fixed in advance), to show the steps/quality trade-off",
    )
    args = ap.parse_args(argv)
    logging.getLogger("hpopt").setLevel(logging.WARNING)  # no per-trial lines

    pruners = {**hpopt_pruners(), **optuna_pruners()}
    if args.sensitivity:
        pruners = {"none": pruners["none"], **sensitivity_pruners()}
    if args.pruners:
        pruners = {n: m for n, m in pruners.items() if n in args.pruners}
    results: list[dict[str, Any]] = []
    t0 = time.time()
    for problem in args.problems:
        for seed in range(args.seeds):
            for regime, kw in (
                ("trials", {"n_trials": args.trials, "budget": None}),
                ("steps", {"n_trials": None, "budget": round(args.budget * n_steps(problem))}),
            ):
                for name, make in pruners.items():
                    r = run(problem, seed, name, make, **kw)
                    results.append({"problem": problem, "seed": seed, "regime": regime,
                                    "pruner": name, **r})
        print(f"{problem}: done ({time.time() - t0:.0f} s)", flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            steps = {p: n_steps(p) for p in args.problems}
            json.dump({"args": vars(args), "steps": steps, "results": results}, fh, indent=1)
    report(results, list(pruners), args)


def report(results: list[dict[str, Any]], names: list[str], args: Any) -> None:
    """Print the tables (Markdown) recorded in benchmarks/RESULTS.md."""
    problems = list(dict.fromkeys(r["problem"] for r in results))
    seeds = sorted({r["seed"] for r in results})

    def get(regime: str, problem: str, name: str, key: str) -> np.ndarray:
        return np.array([
            next(r[key] for r in results if r["regime"] == regime and r["problem"] == problem
                 and r["pruner"] == name and r["seed"] == s)
            for s in seeds
        ], dtype=float)

    print(f"\n### Same number of trials ({args.trials} per study), {len(seeds)} seeds")
    print("gap = final best / no pruning's - 1 (mean over seeds; + is worse); "
          "steps = share of no pruning's total steps; ok = seeds with gap <= 2%\n")
    print("| problem | pruner | final best (mean) | gap mean | gap worst | ok seeds | steps |")
    print("|---|---|---|---|---|---|---|")
    for problem in problems:
        base = get("trials", problem, "none", "best")
        base_steps = get("trials", problem, "none", "steps")
        for name in names:
            best = get("trials", problem, name, "best")
            gap = best / base - 1.0
            steps = get("trials", problem, name, "steps") / base_steps
            print(f"| {problem} | {name} | {best.mean():.4f} | {100 * gap.mean():+.2f}% | "
                  f"{100 * gap.max():+.2f}% | {int((gap <= 0.02).sum())}/{len(seeds)} | "
                  f"{steps.mean():.3f} |")

    print(f"\n### Same total steps ({args.budget:g} full trials' worth per study), "
          f"{len(seeds)} seeds")
    print("final best (mean over seeds) and trials started\n")
    print("| problem | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for problem in problems:
        cells = []
        for name in names:
            best = get("steps", problem, name, "best")
            trials = get("steps", problem, name, "trials")
            cells.append(f"{best.mean():.4f} ({trials.mean():.0f})")
        print(f"| {problem} | " + " | ".join(cells) + " |")

    ours = [n for n in names if n.startswith("hpopt")]
    theirs = [n for n in names if n.startswith("optuna")]
    if not ours or not theirs:  # a run of one library's pruners only: nothing to pair
        return
    print("\nPairwise, same total steps: share of seeds x problems where the hpopt pruner's "
          "final best <= the Optuna pruner's\n")
    print("| hpopt \\ optuna | " + " | ".join(theirs) + " |")
    print("|---|" + "---|" * len(theirs))
    for a in ours:
        row = []
        for b in theirs:
            wins = [
                (get("steps", p, a, "best") <= get("steps", p, b, "best")).mean() for p in problems
            ]
            row.append(f"{np.mean(wins):.0%}")
        print(f"| {a} | " + " | ".join(row) + " |")

    def best_of(group: list[str], problem: str) -> str:
        return min(group, key=lambda n: get("steps", problem, n, "best").mean())

    wins, total, lines = 0, 0, []
    for p in problems:
        a, b = best_of(ours, p), best_of(theirs, p)
        w = get("steps", p, a, "best") <= get("steps", p, b, "best")
        wins += int(w.sum())
        total += len(w)
        lines.append(f"{p}: {a} vs {b}: {int(w.sum())}/{len(w)}")
    print("\nBest pruner per side and problem (lowest mean final best at equal steps), "
          "per-seed comparison:\n")
    for line in lines:
        print(f"- {line}")
    print(f"- overall: {wins}/{total} = {wins / total:.0%} of seeds x problems no worse")
    # a rule fixed in advance: one pruner per side for every problem
    for a, b in (("hpopt-asha", "optuna-sh"), ("hpopt-hyperband", "optuna-hyperband"),
                 ("hpopt-asha-fc", "optuna-sh"), ("hpopt-hyperband-fc", "optuna-hyperband")):
        if a not in names or b not in names:
            continue
        w = np.concatenate([get("steps", p, a, "best") <= get("steps", p, b, "best")
                            for p in problems])
        print(f"- fixed pair {a} vs {b}: {int(w.sum())}/{len(w)} = {w.mean():.0%}")


if __name__ == "__main__":
    main()
