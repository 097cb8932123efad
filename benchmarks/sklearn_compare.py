"""SearchCV vs RandomizedSearchCV vs GridSearchCV at equal numbers of fits (issue 9, Quality).

Usage:
    python benchmarks/sklearn_compare.py --seeds 5 --jobs 2 --out benchmarks/sklearn_compare.json
    python benchmarks/sklearn_compare.py --table benchmarks/sklearn_compare.json
    python benchmarks/sklearn_compare.py --sampler tpe --tasks knn_wine --seeds 2 --out /tmp/x.json

Five tuning tasks on scikit-learn's bundled data sets (no downloads). Each task has a search space
written three ways: hpopt distributions (SearchCV), the equivalent scipy.stats distributions
(RandomizedSearchCV) and a grid of evenly spaced points in the same (log) ranges whose size fixes
the budget: every method evaluates exactly that many candidates on the same 3-fold shuffled CV of
the same 75 % training split, so the numbers of fits are equal. Reported: the best mean CV score
(what each search optimizes) and the held-out score of its refit best estimator on the other 25 %.
The grid is deterministic (one run, the same for every seed). SearchCV uses its default sampler
("auto") when it is registered, else "tpe" (the JSON records which).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from multiprocessing import Pool

import numpy as np

# one BLAS/OpenMP thread per process: the comparison runs 2 processes on a shared machine
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _grid_float(low: float, high: float, n: int, log: bool) -> list[float]:
    pts = np.geomspace(low, high, n) if log else np.linspace(low, high, n)
    return [float(p) for p in pts]


def _grid_int(low: int, high: int, n: int, log: bool) -> list[int]:
    pts = np.geomspace(low, high, n) if log else np.linspace(low, high, n)
    out = sorted({int(round(p)) for p in pts})
    if len(out) != n:
        raise ValueError(f"grid of {n} ints in [{low}, {high}] collapses to {out}")
    return out


def tasks() -> dict[str, dict]:
    """name -> {data, estimator, space: {param: (kind, low, high, log, n_grid) or ("cat", choices)}}."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import ElasticNet
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    return {
        "svc_digits": {
            "data": load_digits, "scoring": "accuracy",
            "estimator": lambda: SVC(),
            "space": {"C": ("float", 1e-2, 1e3, True, 6), "gamma": ("float", 1e-5, 1e-1, True, 5)},
        },
        "elasticnet_diabetes": {
            "data": load_diabetes, "scoring": "r2",
            "estimator": lambda: make_pipeline(StandardScaler(), ElasticNet(max_iter=5000)),
            "space": {"elasticnet__alpha": ("float", 1e-4, 1e1, True, 6),
                      "elasticnet__l1_ratio": ("float", 0.0, 1.0, False, 5)},
        },
        "svr_diabetes": {
            "data": load_diabetes, "scoring": "r2",
            "estimator": lambda: make_pipeline(StandardScaler(), SVR()),
            "space": {"svr__C": ("float", 1e-1, 1e4, True, 3), "svr__epsilon": ("float", 1e-2, 1e2, True, 3),
                      "svr__gamma": ("float", 1e-4, 1e0, True, 3)},
        },
        "knn_wine": {
            "data": load_wine, "scoring": "accuracy",
            "estimator": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier()),
            "space": {"kneighborsclassifier__n_neighbors": ("int", 1, 60, True, 8),
                      "kneighborsclassifier__weights": ("cat", ["uniform", "distance"]),
                      "kneighborsclassifier__p": ("cat", [1, 2])},
        },
        "hgb_breast_cancer": {
            "data": load_breast_cancer, "scoring": "roc_auc",
            "estimator": lambda: HistGradientBoostingClassifier(max_iter=40, early_stopping=False),
            "space": {"learning_rate": ("float", 1e-3, 1.0, True, 3),
                      "max_leaf_nodes": ("int", 2, 64, True, 3),
                      "l2_regularization": ("float", 1e-3, 1e2, True, 3)},
        },
    }


def spaces(space: dict) -> tuple[dict, dict, dict]:
    """The same space for SearchCV (hpopt), RandomizedSearchCV (scipy.stats) and GridSearchCV."""
    from scipy.stats import loguniform, randint, uniform

    import hpopt

    ours, rand, grid = {}, {}, {}
    for name, spec in space.items():
        if spec[0] == "cat":
            ours[name] = rand[name] = grid[name] = list(spec[1])
            continue
        kind, low, high, log, n = spec
        if kind == "float":
            ours[name] = hpopt.Float(low, high, log=log)
            rand[name] = loguniform(low, high) if log else uniform(low, high - low)
            grid[name] = _grid_float(low, high, n, log)
        else:
            ours[name] = hpopt.Int(low, high, log=log)
            # log-uniform integers: scipy's loguniform over [low, high + 1), floored
            rand[name] = _LogIntDist(low, high) if log else randint(low, high + 1)
            grid[name] = _grid_int(low, high, n, log)
    return ours, rand, grid


class _LogIntDist:
    """A log-uniform integer distribution with the ``rvs`` that RandomizedSearchCV calls."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def rvs(self, random_state=None):
        rng = np.random.default_rng(random_state.randint(2**31) if hasattr(random_state, "randint")
                                    else random_state)
        return int(np.floor(np.exp(rng.uniform(np.log(self.low), np.log(self.high + 1)))))


def run_one(job: tuple[str, str, int, str | None]) -> dict:
    task_name, method, seed, sampler = job
    from sklearn.model_selection import (
        GridSearchCV,
        KFold,
        RandomizedSearchCV,
        StratifiedKFold,
        train_test_split,
    )
    from threadpoolctl import threadpool_limits

    import hpopt
    from hpopt.sklearn import SearchCV

    task = tasks()[task_name]
    X, y = task["data"](return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    ours, rand, grid = spaces(task["space"])
    n = int(np.prod([len(v) for v in grid.values()]))
    classifier = task["scoring"] in ("accuracy", "roc_auc")
    cv = (StratifiedKFold if classifier else KFold)(n_splits=3, shuffle=True, random_state=0)
    common = {"scoring": task["scoring"], "cv": cv}
    if sampler is None:
        sampler = "auto" if "auto" in hpopt.available_samplers() else "tpe"
    if method == "searchcv":
        search = SearchCV(task["estimator"](), ours, sampler=sampler, n_trials=n, seed=seed, **common)
    elif method == "random":
        search = RandomizedSearchCV(task["estimator"](), rand, n_iter=n, random_state=seed, **common)
    else:
        search = GridSearchCV(task["estimator"](), grid, **common)
    start = time.perf_counter()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X_tr, y_tr)
        test = float(search.score(X_te, y_te))
    n_cand = len(search.cv_results_["params"])
    return {"task": task_name, "method": method, "seed": seed, "cv": float(search.best_score_),
            "test": test, "candidates": n_cand, "fits": n_cand * 3, "seconds": time.perf_counter() - start,
            "sampler": sampler if method == "searchcv" else None, "best_params": repr(search.best_params_)}


def table(rows: list[dict]) -> str:
    by: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by.setdefault((r["task"], r["method"]), []).append(r)
    sampler = next((r["sampler"] for r in rows if r["sampler"]), "?")
    out = [
        f"| task (metric) | fits | SearchCV ({sampler}) CV | RandomizedSearchCV CV | GridSearchCV CV | "
        "SearchCV >= Random (seeds) | SearchCV > Grid (seeds) | SearchCV test | Random test | Grid test |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    metric = {name: t["scoring"] for name, t in tasks().items()}
    for name in tasks():
        s, r, g = by.get((name, "searchcv"), []), by.get((name, "random"), []), by.get((name, "grid"), [])
        if not (s and r and g):
            continue
        s.sort(key=lambda x: x["seed"])
        r.sort(key=lambda x: x["seed"])

        def ms(vals: list[float]) -> str:
            return f"{statistics.mean(vals):.4f} ± {statistics.pstdev(vals):.4f}"

        ge_r = sum(a["cv"] >= b["cv"] for a, b in zip(s, r))
        gt_g = sum(a["cv"] > g[0]["cv"] for a in s)
        out.append(
            f"| {name} ({metric[name]}) | {s[0]['fits']} | {ms([x['cv'] for x in s])} | "
            f"{ms([x['cv'] for x in r])} | {g[0]['cv']:.4f} | {ge_r}/{len(s)} | {gt_g}/{len(s)} | "
            f"{ms([x['test'] for x in s])} | {ms([x['test'] for x in r])} | {g[0]['test']:.4f} |"
        )
    secs = {m: sum(x["seconds"] for x in rows if x["method"] == m) for m in ("searchcv", "random", "grid")}
    out.append("")
    out.append("Total fit seconds per method (all tasks and seeds): "
               + ", ".join(f"{m} {v:.1f}" for m, v in secs.items()))
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--tasks", nargs="*", default=None)
    ap.add_argument("--sampler", default=None,
                    help='SearchCV sampler name (default: "auto" when registered, else "tpe")')
    ap.add_argument("--out", default="benchmarks/sklearn_compare.json")
    ap.add_argument("--table", default=None, help="print the table of a results file and exit")
    args = ap.parse_args()
    if args.table:
        with open(args.table) as fh:
            print(table(json.load(fh)["rows"]))
        return
    names = args.tasks or list(tasks())
    jobs = [(t, "grid", 0, None) for t in names]
    jobs += [(t, m, s, args.sampler) for t in names for s in range(args.seeds)
             for m in ("searchcv", "random")]
    start = time.time()
    with Pool(args.jobs) as pool:
        rows = []
        for row in pool.imap_unordered(run_one, jobs):
            rows.append(row)
            print(f"{row['task']:22s} {row['method']:9s} seed {row['seed']} cv {row['cv']:.4f} "
                  f"test {row['test']:.4f} ({row['seconds']:.1f}s)", flush=True)
    with open(args.out, "w") as fh:
        json.dump({"seeds": args.seeds, "jobs": args.jobs, "wall_seconds": time.time() - start, "rows": rows},
                  fh, indent=1)
    print(table(rows))
    print(f"wall {time.time() - start:.0f}s")


if __name__ == "__main__":
    main()
