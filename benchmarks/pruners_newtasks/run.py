"""Run hpopt's and Optuna's pruners on the tasks of tasks.py; one JSON line per study.

    OPENBLAS_NUM_THREADS=1 python run.py --tasks diverge lr-drop --seeds 10 --out part1.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import traceback
import warnings
from collections import Counter
from typing import Any

import numpy as np
import optuna
import tasks as T

import hpopt

hpopt.log.set_verbosity("warning")
optuna.logging.set_verbosity(optuna.logging.WARNING)


class Grab(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records[f"{record.name}:{record.levelname}:{record.getMessage()[:160]}"] += 1


GRAB = Grab()
logging.getLogger("hpopt").addHandler(GRAB)
logging.getLogger("optuna").addHandler(GRAB)


def pruners() -> dict[str, Any]:
    return {
        "none": lambda: ("hpopt", "nop"),
        "hp-median": lambda: ("hpopt", "median"),
        "hp-sh": lambda: ("hpopt", "successive_halving"),
        "hp-hb": lambda: ("hpopt", "hyperband"),
        "hp-hb-fc": lambda: ("hpopt", hpopt.make_pruner("hyperband", rank_by="forecast")),
        # extra, for the diagnosis: hpopt's successive halving with the textbook (observed) ranking
        "hp-sh-obs": lambda: ("hpopt", hpopt.make_pruner("successive_halving", rank_by="observed")),
        "op-median": lambda: ("optuna", optuna.pruners.MedianPruner()),
        "op-sh": lambda: ("optuna", optuna.pruners.SuccessiveHalvingPruner()),
        "op-hb": lambda: ("optuna", optuna.pruners.HyperbandPruner()),
    }


def run_one(task: T.Task, seed: int, name: str, make: Any, n_trials: int) -> dict[str, Any]:
    lib, pruner = make()
    cfgs = T.configs(task, seed, n_trials)
    log: dict[str, Any] = {"steps": 0, "reached": {}, "finals": {}, "sp_times": [], "pruned_at": {}}
    GRAB.records.clear()
    err = None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with warnings.catch_warnings(record=True) as wrec:
        warnings.simplefilter("always")
        try:
            if lib == "hpopt":
                study = hpopt.create_study(sampler="random", pruner=pruner, seed=seed,
                                           direction=task.direction)
                for c in cfgs:
                    study.enqueue_trial(c)
                obj = T.make_objective(task, seed, cfgs, hpopt.TrialPruned, log)
            else:
                study = optuna.create_study(study_name=f"{task.name}-seed{seed}",
                                            sampler=optuna.samplers.RandomSampler(seed=seed),
                                            pruner=pruner, direction=task.direction)
                for c in cfgs:
                    study.enqueue_trial(c)
                obj = T.make_objective(task, seed, cfgs, optuna.TrialPruned, log)
            study.optimize(obj, n_trials=n_trials)
            states = [str(t.state).split(".")[-1].split(":")[0].strip("<'") for t in study.trials]
        except Exception:  # a crash is a result
            err = traceback.format_exc()
            states = []
    sp = np.array(log["sp_times"]) if log["sp_times"] else np.zeros(1)
    sgn = 1.0 if task.direction == "minimize" else -1.0
    finals = log["finals"]
    best = (min(finals.values(), key=lambda v: sgn * v) if finals else math.nan)
    warn = Counter(f"{w.category.__name__}:{str(w.message)[:160]}" for w in wrec)
    warn.update(GRAB.records)
    return {
        "task": task.name, "seed": seed, "pruner": name, "best": best,
        "best_trial": (min(finals, key=lambda k: sgn * finals[k]) if finals else None),
        "steps": log["steps"], "n_trials": len(log["reached"]),
        "completed_final": len(finals), "pruned_at": {str(k): v for k, v in log["pruned_at"].items()},
        "reached": {str(k): v for k, v in log["reached"].items()},
        "states": dict(Counter(states)),
        "sp_max_ms": 1e3 * float(sp.max()), "sp_mean_ms": 1e3 * float(sp.mean()),
        "sp_p99_ms": 1e3 * float(np.quantile(sp, 0.99)), "sp_over50": int((sp > 0.05).sum()),
        "sp_calls": len(log["sp_times"]),
        "cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0,
        "warnings": dict(warn), "error": err,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", nargs="*", default=list(T.TASKS))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--pruners", nargs="*", default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    ps = pruners()
    if args.pruners:
        ps = {n: m for n, m in ps.items() if n in args.pruners or n == "none"}
    t0 = time.time()
    with open(args.out, "a") as fh:
        for tn in args.tasks:
            task = T.TASKS[tn]
            for seed in range(args.seeds):
                for name, make in ps.items():
                    r = run_one(task, seed, name, make, args.trials)
                    fh.write(json.dumps(r) + "\n")
                    fh.flush()
                    if r["error"]:
                        print(f"CRASH {tn} s{seed} {name}: {r['error'][-300:]}", flush=True)
                # free the curves of this seed only after every pruner replayed them
                for k in [k for k in T._CURVES if k[0] == tn and k[1] == seed]:
                    del T._CURVES[k]
                print(f"{tn} seed {seed} done ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
