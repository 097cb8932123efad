"""Refine and repeat: a first broad search, a narrowed space, and a warm-started second search.

Run: ``python -m hpopt.examples.refine`` (numpy only, a few seconds); ``--seeds 10`` repeats the
comparison over ten seeds and prints a table.

The objective imitates the validation loss of a small network as a function of learning rate
(log scale), width, dropout and optimizer. A first random search over a broad space gives a
rough picture; :func:`hpopt.refine.refined_space` proposes a narrower space around its best
fifth and prints why; a second study copies the first study's trials that fall inside the new
space (:func:`hpopt.refine.warm_start`), so nothing evaluated is wasted, and searches the
narrowed space with TPE. For comparison, the same number of extra trials is spent by TPE in the
original broad space, also warm-started with every first-study trial.
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np

import hpopt
from hpopt.refine import refined_space, warm_start

SPACE = {
    "lr": hpopt.Float(1e-6, 1.0, log=True),
    "width": hpopt.Int(8, 1024, log=True),
    "dropout": hpopt.Float(0.0, 0.9),
    "optimizer": hpopt.Categorical(["sgd", "momentum", "adam", "rmsprop"]),
}
FIRST, SECOND = 60, 40


def loss(trial: hpopt.Trial, space: Mapping[str, hpopt.Distribution] = SPACE) -> float:
    """A smooth stand-in for a validation loss (minimum near lr=3e-3, width=256, dropout=0.2),
    with the parameters drawn from ``space``."""
    p = {name: trial.suggest(name, dist) for name, dist in space.items()}
    shift = {"sgd": 1.0, "momentum": 0.4, "adam": 0.0, "rmsprop": 0.15}[p["optimizer"]]
    return (
        0.3 * (math.log10(p["lr"]) + 2.5 + 0.5 * shift) ** 2
        + 0.2 * (math.log2(p["width"]) - 8.0) ** 2 / 4
        + 2.0 * (p["dropout"] - 0.2) ** 2
        + shift
        + 0.05
    )


def run(seed: int, verbose: bool = True) -> tuple[float, float, float]:
    """First search, refinement, refined second search and control for one seed.

    Returns the best loss of the first study, of the refined second study and of the control.
    """
    first = hpopt.create_study(study_name="broad", sampler="random", seed=seed)
    first.optimize(loss, n_trials=FIRST)
    refined = refined_space(first, top=0.2)
    second = hpopt.create_study(study_name="refined", sampler="tpe", seed=seed + 1)
    copied = warm_start(second, first, space=refined)
    second.optimize(functools.partial(loss, space=refined), n_trials=SECOND)
    control = hpopt.create_study(study_name="control", sampler="tpe", seed=seed + 1)
    warm_start(control, first)
    control.optimize(loss, n_trials=SECOND)
    if verbose:
        print(f"First study: {FIRST} random trials, best loss {first.best_value:.4f}\n")
        print(refined, end="\n\n")
        print(f"Second study: {copied} trials copied from the first (those inside the refined space), "
              f"then {SECOND} TPE trials in it; best loss {second.best_value:.4f}")
        print(f"Control: all {FIRST} trials copied, {SECOND} TPE trials in the broad space; "
              f"best loss {control.best_value:.4f}")
        gain = first.best_value - second.best_value
        print(f"Improvement over the first study: {gain:.4f} "
              f"({100 * gain / first.best_value:.1f}% lower loss) with {SECOND} more evaluations.")
    return first.best_value, second.best_value, control.best_value


def main(argv: Sequence[str] | None = None) -> None:
    """One verbose run (seed 0), or ``--seeds N``: a table over seeds 0..N-1."""
    parser = argparse.ArgumentParser(
        prog="python -m hpopt.examples.refine", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=0, help="compare with the control over this many seeds")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        run(0)
        return
    rows = [run(s, verbose=False) for s in range(args.seeds)]
    print(f"{'seed':>4} {'first':>8} {'refined':>8} {'control':>8}")
    for s, (a, b, c) in enumerate(rows):
        print(f"{s:>4} {a:>8.4f} {b:>8.4f} {c:>8.4f}")
    arr = np.array(rows)
    wins = int(np.sum(arr[:, 1] < arr[:, 2]))
    print(f"mean {arr[:, 0].mean():>8.4f} {arr[:, 1].mean():>8.4f} {arr[:, 2].mean():>8.4f}")
    print(f"refined better than control on {wins} of {len(rows)} seeds "
          f"(median refined/control ratio {np.median(arr[:, 1] / arr[:, 2]):.3f})")


if __name__ == "__main__":
    main()
