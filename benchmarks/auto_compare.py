"""The ``auto`` sampler next to every hpopt sampler and peer, through the benchmark runner.

``auto`` (and ``gp`` while it is not registered yet) are registered in this process only, then the
runner forks its workers, which inherit the registration. Runs already in ``--out`` are skipped,
so an interrupted run resumes; peers can be run into another file with ``hpopt bench run`` and
tabulated together with ``--with``.

Usage (the measurement recorded in benchmarks/RESULTS.md)::

    P='*-2d,*-5d,*-10d,branin,hartmann3,hartmann6,mixed,conditional'
    hpopt bench run --samplers random,tpe,cmaes,de,optuna:tpe,optuna:cmaes,hyperopt:tpe,\\
    nevergrad:ngopt,nevergrad:cma --problems "$P" --trials 100 --seeds 5 --jobs 2 \\
        --out benchmarks/results/auto/peers.jsonl --quiet
    python benchmarks/auto_compare.py --samplers auto,gp --problems "$P" --trials 100 --seeds 5 \\
        --jobs 2 --out benchmarks/results/auto/auto.jsonl \\
        --with benchmarks/results/auto/peers.jsonl --report benchmarks/results/auto/report.md

The report is ``hpopt bench report``'s Markdown (mean rank over the problems, wins, ties, the
per-problem table) restricted to seeds ``0 .. --seeds - 1`` of every file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import hpopt.plugins
from hpopt.benchmark.runner import load_results, run
from hpopt.plugins import hookimpl


class _LocalSamplers:
    """Registers ``auto`` (and ``gp`` when no plugin provides it) for this benchmark process."""

    def __init__(self, names: dict[str, Callable[..., Any]]) -> None:
        self.names = names

    @hookimpl
    def hpopt_samplers(self) -> dict[str, Callable[..., Any]]:
        return self.names


def register_local() -> list[str]:
    """Register what is missing; return the names registered here."""
    from hpopt.samplers.auto import AutoSampler

    have = hpopt.plugins.available_samplers()
    names: dict[str, Callable[..., Any]] = {}
    if "auto" not in have:
        names["auto"] = AutoSampler
    if "gp" not in have:
        try:
            from hpopt.samplers.gp import GPSampler
        except ImportError:
            pass
        else:
            names["gp"] = GPSampler
    if names:
        hpopt.plugins.register(_LocalSamplers(names), name="auto-compare-local")
    return sorted(names)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samplers", default="auto", help="comma-separated specs to run (default auto)")
    ap.add_argument("--problems", required=True, help="problem names, tags or patterns")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--time-cap", type=float, default=600.0)
    ap.add_argument("--out", required=True, help="results file (JSON lines), appended to")
    ap.add_argument("--with", dest="others", action="append", default=[],
                    help="other results files to tabulate with (repeatable)")
    ap.add_argument("--report", default=None, help="write the Markdown report here (else stdout)")
    ap.add_argument("--no-run", action="store_true", help="only tabulate what is in the files")
    ap.add_argument("--complete-only", action="store_true",
                    help="tabulate only the problems every sampler has finished on every seed "
                    "(to compare while a long run is still going)")
    args = ap.parse_args(argv)
    local = register_local()
    if local:
        print(f"registered in this process: {', '.join(local)}", file=sys.stderr)
    seeds = list(range(args.seeds))
    if not args.no_run:
        run(args.samplers, args.problems, args.trials, seeds, args.jobs, out=args.out,
            time_cap=args.time_cap or None, start_method="fork",
            progress=lambda done, total, rec: print(
                f"[{done}/{total}] {rec['status']} {rec['sampler']} {rec['problem']} seed {rec['seed']}",
                file=sys.stderr, flush=True))
    from hpopt.benchmark.catalog import select_problems
    from hpopt.benchmark.summary import summarize, to_markdown

    wanted = {p.name for p in select_problems(args.problems)}
    records = []
    for path in [args.out, *args.others]:
        records.extend(r for r in load_results(path)
                       if r.get("seed") in seeds and r.get("problem") in wanted
                       and r.get("n_trials", args.trials) == args.trials)
    if args.complete_only:
        samplers = {r["sampler"] for r in records}
        done: dict[str, set[tuple[str, int]]] = {}
        for r in records:
            if r.get("status") == "ok":
                done.setdefault(r["problem"], set()).add((r["sampler"], r["seed"]))
        full = {p for p, got in done.items() if len(got) == len(samplers) * len(seeds)}
        records = [r for r in records if r["problem"] in full]
        print(f"complete problems ({len(full)}): {', '.join(sorted(full))}", file=sys.stderr)
    text = to_markdown(summarize(records), anytime_per_problem=False)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {args.report}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
