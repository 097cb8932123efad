"""Held-out learning curves for choosing ForecastPruner's defaults (not the suite it is judged on).

Three curve families that appear nowhere in ``pruners_compare.py`` or ``hpopt.benchmark``:

* ``overfit``  - validation loss that falls, then rises again after a configuration-dependent
  epoch (early stopping territory); the final value is the last epoch's.
* ``bloomer``  - logistic learning curves whose onset comes late for the configurations that end
  best (late bloomers: ranks early say little).
* ``plateau``  - exponential decay to a plateau with heavy (8%) multiplicative noise per step.

The same harness as ``pruners_compare.py`` (same configurations for every pruner, replayed
curves, 100 trials, 10 seeds by default); a small grid of ForecastPruner settings is compared with
no pruning. Usage::

    python benchmarks/pruners_heldout.py --seeds 10
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pruners_compare as pc  # noqa: E402

R = 60


def _overfit(u: np.ndarray, rng: np.random.Generator, seed: int) -> np.ndarray:
    t = np.arange(1, R + 1, dtype=float)
    floor = 0.2 + 0.8 * (u[0] - 0.6) ** 2 + 0.2 * u[1]
    turn = 5.0 + 50.0 * u[2]  # epoch where overfitting starts
    y = floor + 2.0 * np.exp(-t / (2.0 + 6.0 * u[3])) + 0.004 * np.maximum(t - turn, 0.0) ** 1.3
    return y + rng.normal(0.0, 0.01, R)


def _bloomer(u: np.ndarray, rng: np.random.Generator, seed: int) -> np.ndarray:
    t = np.arange(1, R + 1, dtype=float)
    final = 0.1 + 0.6 * (u[0] - 0.7) ** 2 + 0.3 * (u[1] - 0.4) ** 2
    onset = 3.0 + 35.0 * u[0] ** 2  # the better u[0] (near 0.7), the later the curve drops
    y = 1.0 - (1.0 - final) / (1.0 + np.exp(-(t - onset) / (2.0 + 3.0 * u[2])))
    return y + rng.normal(0.0, 0.01, R)


def _plateau(u: np.ndarray, rng: np.random.Generator, seed: int) -> np.ndarray:
    t = np.arange(1, R + 1, dtype=float)
    f = 0.2 + float(np.sum((u[:2] - 0.35) ** 2))
    y = f + (0.5 + u[2]) * np.exp(-t / (3.0 + 15.0 * u[3]))
    return y * (1.0 + rng.normal(0.0, 0.08, R))


FAMILIES = {"overfit": _overfit, "bloomer": _bloomer, "plateau": _plateau}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=100)
    args = ap.parse_args(argv)
    from hpopt.pruners import ForecastPruner, NopPruner

    # Plug the held-out families into the harness (same config table and replay).
    pc.LOCAL = tuple(FAMILIES)
    pc.PROBLEM_ID.update({p: 100 + i for i, p in enumerate(FAMILIES)})
    pc._MAKERS.update(FAMILIES)
    pc.R = R
    grid = list(itertools.product((0.1, 0.25, 0.5), (0.8, 0.95)))
    pruners = {"none": lambda r: NopPruner()}
    for ratio, conf in grid:
        pruners[f"fc-r{ratio}-c{conf}"] = (
            lambda r, ratio=ratio, conf=conf: ForecastPruner(ratio=ratio, confidence=conf)
        )
    print("| family | pruner | gap mean | gap worst | ok seeds | steps |")
    print("|---|---|---|---|---|---|")
    for fam in FAMILIES:
        res = {n: [pc.run(fam, s, n, m, n_trials=args.trials, budget=None) for s in range(args.seeds)]
               for n, m in pruners.items()}
        base = np.array([r["best"] for r in res["none"]])
        base_steps = np.array([r["steps"] for r in res["none"]], dtype=float)
        for n in pruners:
            best = np.array([r["best"] for r in res[n]])
            steps = np.array([r["steps"] for r in res[n]], dtype=float) / base_steps
            gap = best / base - 1.0
            print(f"| {fam} | {n} | {100 * gap.mean():+.2f}% | {100 * gap.max():+.2f}% | "
                  f"{int((gap <= 0.02).sum())}/{args.seeds} | {steps.mean():.3f} |", flush=True)


if __name__ == "__main__":
    main()
