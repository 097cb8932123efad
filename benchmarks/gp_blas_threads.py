"""GP ask cost with BLAS limited to one thread (hpopt's default) vs the process's BLAS threads.

Same process, same history, the two settings interleaved ask by ask, so machine load hits both
alike. The history is ``n`` random trials of a weighted quadratic in ``d`` dimensions (minimizer
off-centre); each ask fits the GP (warm-started from the previous ask's fit) and maximises log-EI.
Wall and CPU seconds (CPU = this process, all threads) per ask; medians over ``--asks`` asks each.

Usage (the measurement in benchmarks/RESULTS.md)::

    python benchmarks/gp_blas_threads.py --dims 5,20,50 --trials 100,200 --asks 5
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import time

import numpy as np

import hpopt
import hpopt.samplers.gp as gp_module
from hpopt.samplers.gp import GPSampler


def measure(d: int, n: int, asks: int) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(d * 1000 + n)
    opt = rng.uniform(0.2, 0.8, d)
    weights = 1.0 + np.arange(d)
    space = {f"x{i}": hpopt.Float(0.0, 1.0) for i in range(d)}

    def f(params: dict[str, float]) -> float:
        x = np.array([params[f"x{i}"] for i in range(d)])
        return float(np.sum(weights * (x - opt) ** 2))

    study = hpopt.create_study(sampler=hpopt.RandomSampler(seed=0))
    for _ in range(n):
        t = study.ask(space)
        study.tell(t, f(t.params))
    study.sampler = GPSampler(seed=1)
    t = study.ask(space)  # the first fit (cold) is not timed
    study.tell(t, f(t.params))
    limited = gp_module.single_blas_thread
    times: dict[str, list[tuple[float, float]]] = {"one BLAS thread": [], "default BLAS threads": []}
    for k in range(2 * asks):
        label = "one BLAS thread" if k % 2 == 0 else "default BLAS threads"
        gp_module.single_blas_thread = limited if k % 2 == 0 else contextlib.nullcontext
        try:
            w0, c0 = time.perf_counter(), time.process_time()
            t = study.ask(space)
            times[label].append((time.perf_counter() - w0, time.process_time() - c0))
        finally:
            gp_module.single_blas_thread = limited
        study.tell(t, f(t.params))
    return {k: (float(np.median([w for w, _ in v])), float(np.median([c for _, c in v])))
            for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", default="5,20,50")
    ap.add_argument("--trials", default="100,200")
    ap.add_argument("--asks", type=int, default=5)
    args = ap.parse_args()
    logging.disable(logging.INFO)
    print("| d | trials | one BLAS thread: wall s / CPU s | default BLAS threads: wall s / CPU s "
          "| wall ratio |")
    print("|---|---|---|---|---|")
    for d in (int(x) for x in args.dims.split(",")):
        for n in (int(x) for x in args.trials.split(",")):
            r = measure(d, n, args.asks)
            (w1, c1), (w2, c2) = r["one BLAS thread"], r["default BLAS threads"]
            print(f"| {d} | {n} | {w1:.3f} / {c1:.3f} | {w2:.3f} / {c2:.3f} | {w2 / w1:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
