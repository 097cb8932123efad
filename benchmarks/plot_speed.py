"""Time every ``hpopt.plot`` kind on studies of 10,000 trials, each including ``savefig`` to PNG (issue 10).

Usage: python benchmarks/plot_speed.py [--trials 10000] [--repeat 3] [--out DIR] [--json FILE]

Studies (in memory, random sampler, seeded):

* single objective, 6 parameters (log float, float, int, log int, 4-way categorical and a float that
  only half of the trials have), every trial reports 10 intermediate values, 30 % are pruned
  after 1 to 9 steps — used by history, parallel, slice, contour (``lr`` x ``x``), importance
  (the default method) and intermediate;
* edf: that study and a second one of the same size (two curves);
* pareto: 2 objectives, 10,000 COMPLETE trials.

Before the timings a small figure is drawn once, so matplotlib's import and font cache (a
per-process cost of the first plot, printed separately) are not charged to the first kind.
Each kind is timed ``--repeat`` times from the call of the plot function to the PNG on disk
(default 100 dpi); the table gives the median wall time and the median CPU time of the process
(``time.process_time``; on a shared, loaded machine the fairer measure of the work done), and the
sum over all kinds. The goal of issue 10 is every plot within 5 s; this script reports the total
too, to check the stricter reading (all eight together within 5 s).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time

import numpy as np

import hpopt
from hpopt.plot import PLOTS, save

SPACE = {
    "lr": hpopt.Float(1e-5, 1e-1, log=True),
    "x": hpopt.Float(-5.0, 5.0),
    "depth": hpopt.Int(1, 12),
    "units": hpopt.Int(8, 1024, log=True),
    "act": hpopt.Categorical(["relu", "tanh", "gelu", "silu"]),
}
DROPOUT = hpopt.Float(0.0, 0.5)


def objective(p: dict) -> float:
    return ((p["x"] - 1) ** 2 + (math.log10(p["lr"]) + 3) ** 2 + abs(p["depth"] - 6) / 3
            + abs(math.log2(p["units"]) - 7) / 2 + (p["act"] != "gelu") + p.get("dropout", 0.25))


def single_study(n: int, seed: int, name: str) -> hpopt.Study:
    s = hpopt.create_study(sampler="random", seed=seed, study_name=name)
    rng = np.random.default_rng(seed)
    for i in range(n):
        t = s.ask(SPACE)
        if i % 2 == 0:
            t.suggest("dropout", DROPOUT)
        v = objective(t.params)
        pruned = rng.random() < 0.3
        steps = int(rng.integers(1, 10)) if pruned else 10
        for step in range(steps):
            t.report(v * (1.0 + 2.0 / (step + 1)), step)
        if pruned:
            s.tell(t, state="pruned")
        else:
            s.tell(t, v)
    return s


def pareto_study(n: int, seed: int) -> hpopt.Study:
    s = hpopt.create_study(sampler="random", seed=seed, study_name="pareto",
                           directions=["minimize", "minimize"])
    for _ in range(n):
        t = s.ask({"a": hpopt.Float(0, 1), "b": hpopt.Float(0, 1)})
        a, b = t.params["a"], t.params["b"]
        s.tell(t, [a + 0.3 * b, (1 - a) ** 2 + 0.3 * b])
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=None, help="directory for the PNGs (default: a temporary one)")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="plot_speed_")
    os.makedirs(out, exist_ok=True)

    t0 = time.perf_counter()
    main_study = single_study(args.trials, 0, "main")
    other = single_study(args.trials, 1, "other")
    mo = pareto_study(args.trials, 2)
    print(f"studies built in {time.perf_counter() - t0:.1f} s "
          f"({len(main_study.get_trials(['complete']))} COMPLETE of {args.trials} in the main study)")

    calls = {
        "history": lambda: PLOTS["history"](main_study),
        "parallel": lambda: PLOTS["parallel"](main_study),
        "slice": lambda: PLOTS["slice"](main_study),
        "contour": lambda: PLOTS["contour"](main_study, params=["lr", "x"]),
        "importance": lambda: PLOTS["importance"](main_study),
        "pareto": lambda: PLOTS["pareto"](mo),
        "intermediate": lambda: PLOTS["intermediate"](main_study),
        "edf": lambda: PLOTS["edf"]([main_study, other]),
    }
    small = hpopt.create_study(sampler="random", seed=0)
    small.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    w0 = time.perf_counter()
    save(PLOTS["history"](small), os.path.join(out, "warmup.png"))
    print(f"first plot of the process (matplotlib import, font cache): {time.perf_counter() - w0:.2f} s")

    rows = {}
    for kind, call in calls.items():
        walls, cpus = [], []
        for _ in range(args.repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            save(call(), os.path.join(out, f"{kind}.png"))
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        rows[kind] = {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
                      "wall_all": walls}
        print(f"{kind:13s} wall {rows[kind]['wall_s']:.2f} s  cpu {rows[kind]['cpu_s']:.2f} s  "
              f"(runs: {', '.join(f'{w:.2f}' for w in walls)})", flush=True)
    tot_w = sum(r["wall_s"] for r in rows.values())
    tot_c = sum(r["cpu_s"] for r in rows.values())
    print("\n| plot | wall (s) | CPU (s) |\n|---|---|---|")
    for kind, r in rows.items():
        print(f"| {kind} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} |")
    print(f"| **all eight** | **{tot_w:.2f}** | **{tot_c:.2f}** |")
    print(f"\nPNGs in {out}; load average {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"trials": args.trials, "repeat": args.repeat, "plots": rows,
                       "total_wall_s": tot_w, "total_cpu_s": tot_c,
                       "loadavg": os.getloadavg()[0]}, f, indent=1)


if __name__ == "__main__":
    main()
