"""Tables from run.py's results: per task and pruner, gap to no pruning, step share, and the
hpopt-vs-Optuna pairs.  python analyze.py [results.jsonl]"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tasks as T  # noqa: E402

path = sys.argv[1]
rows = [json.loads(line) for line in open(path)]
R: dict[tuple[str, str, int], dict] = {(r["task"], r["pruner"], r["seed"]): r for r in rows}
tasks = list(dict.fromkeys(r["task"] for r in rows))
pruners = list(dict.fromkeys(r["pruner"] for r in rows))
PAIRS = [("hp-sh", "op-sh"), ("hp-hb", "op-hb"), ("hp-hb-fc", "op-hb"), ("hp-median", "op-median"),
         ("hp-sh-obs", "op-sh"), ("hp-sh", "op-hb"), ("hp-sh", "op-sh-r3s1"), ("hp-sh-obs", "op-sh-r3")]


def gap(task: str, best: float, base: float) -> float:
    sgn = 1.0 if T.TASKS[task].direction == "minimize" else -1.0
    if not math.isfinite(best):
        return math.inf
    return sgn * (best - base) / abs(base)


def err_gap(best: float, base: float) -> float:  # maximize: on the error 1 - acc
    return (1 - best) / (1 - base) - 1 if math.isfinite(best) else math.inf


summary: dict[tuple[str, str], dict] = {}
for task in tasks:
    seeds = sorted({r["seed"] for r in rows if r["task"] == task})
    ok_seeds = [s for s in seeds if all((task, p, s) in R for p in pruners)]
    print(f"\n### {task} ({T.TASKS[task].note}; {T.TASKS[task].n_steps} steps, "
          f"{T.TASKS[task].direction}), {len(ok_seeds)} seeds x 100 trials")
    maxi = T.TASKS[task].direction == "maximize"
    hdr = "| pruner | best (mean) | gap mean | gap worst | seeds within 2% | step share |"
    hdr += " gap on 1-acc (mean) |" if maxi else ""
    print(hdr)
    print("|---" * (hdr.count("|") - 1) + "|")
    for p in pruners:
        base = np.array([R[(task, "none", s)]["best"] for s in ok_seeds])
        best = np.array([R[(task, p, s)]["best"] for s in ok_seeds])
        g = np.array([gap(task, b, a) for b, a in zip(best, base)])
        st = np.array([R[(task, p, s)]["steps"] / R[(task, "none", s)]["steps"] for s in ok_seeds])
        summary[(task, p)] = {"gap": g, "share": st, "best": best}
        nf = int(np.sum(~np.isfinite(g)))
        gm = (f"{100 * g.mean():+.2f}%" if nf == 0 else
              f"inf ({nf} seeds no finite final; others {100 * g[np.isfinite(g)].mean():+.2f}%)")
        gw = f"{100 * g.max():+.2f}%" if nf == 0 else f"inf / {100 * g[np.isfinite(g)].max():+.2f}%"
        line = (f"| {p} | {np.nanmean(best):.4f} | {gm} | {gw} | "
                f"{int((g <= 0.02).sum())}/{len(g)} | {st.mean():.3f} |")
        if maxi:
            eg = np.array([err_gap(b, a) for b, a in zip(best, base)])
            line += f" {100 * eg.mean():+.2f}% |"
        print(line)

print("\n### hpopt vs Optuna counterpart (mean gap, step share; per-seed: hpopt best no worse)")
print("| task | pair | hpopt gap | optuna gap | hpopt share | optuna share | seeds hpopt <= optuna |"
      " paired Wilcoxon p (gaps) | verdict |")
print("|---|---|---|---|---|---|---|---|---|")
for task in tasks:
    sgn = 1.0 if T.TASKS[task].direction == "minimize" else -1.0
    for a, b in PAIRS:
        if (task, a) not in summary or (task, b) not in summary:
            continue
        A, B = summary[(task, a)], summary[(task, b)]
        ga, gb, sa, sb = A["gap"].mean(), B["gap"].mean(), A["share"].mean(), B["share"].mean()
        wins = int(np.sum(sgn * np.nan_to_num(A["best"], nan=sgn * np.inf)
                          <= sgn * np.nan_to_num(B["best"], nan=sgn * np.inf)))
        verdict = ""
        if ga > gb + 0.01 and sa >= 0.8 * sb:
            verdict = "**hpopt clearly worse**"
        elif gb > ga + 0.01 and sb >= 0.8 * sa:
            verdict = "optuna clearly worse"
        elif ga > gb + 0.01:
            verdict = "hpopt worse gap, fewer steps"
        elif gb > ga + 0.01:
            verdict = "optuna worse gap, fewer steps"
        elif sa < 0.8 * sb:
            verdict = "similar gap, hpopt cheaper"
        elif sb < 0.8 * sa:
            verdict = "similar gap, optuna cheaper"
        else:
            verdict = "tie"
        from scipy.stats import wilcoxon
        d = np.nan_to_num(A["gap"], posinf=10.0) - np.nan_to_num(B["gap"], posinf=10.0)
        p = wilcoxon(d).pvalue if np.any(d != 0) else 1.0
        print(f"| {task} | {a} vs {b} | {100 * ga:+.2f}% | {100 * gb:+.2f}% | {sa:.3f} | {sb:.3f} | "
              f"{wins}/{len(A['gap'])} | {p:.2f} | {verdict} |")

print("\n### should_prune timing, crashes, warnings")
for task in tasks:
    for p in pruners:
        rs = [r for r in rows if r["task"] == task and r["pruner"] == p]
        mx = max(r["sp_max_ms"] for r in rs)
        over = sum(r["sp_over50"] for r in rs)
        calls = sum(r["sp_calls"] for r in rs)
        mean = sum(r["sp_mean_ms"] * r["sp_calls"] for r in rs) / max(calls, 1)
        errs = sum(1 for r in rs if r["error"])
        w: Counter[str] = Counter()
        for r in rs:
            for k, v in r["warnings"].items():
                w[re.sub(r"\{.*?\}", "{..}", re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", k))] += v
        wtxt = "; ".join(f"{k[:90]} x{v}" for k, v in w.most_common(3))
        print(f"| {task} | {p} | mean {mean:.2f} ms | max {mx:.1f} ms | >50ms: {over}/{calls} | "
              f"crashes {errs} | {wtxt} |")
