"""``hpopt bench``: run benchmarks, report on them, list problems and samplers.

Examples::

    hpopt bench run --samplers random,qmc,optuna:tpe --problems continuous --trials 100 \\
        --seeds 10 --jobs 2 --out results.jsonl
    hpopt bench report results.jsonl --plots plots/
    hpopt bench list
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from hpopt.cli import command

__all__: list[str] = []


def _add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="bench_command", metavar="ACTION")
    r = sub.add_parser("run", help="run samplers on problems, appending JSON lines to --out",
                       description="Run every (sampler, problem, seed) in its own process; "
                       "finished runs already in --out are skipped (resume).")
    r.add_argument("--samplers", required=True,
                   help="comma-separated specs: hpopt names (random, tpe, ...), peers "
                   "(optuna:tpe, hyperopt:tpe, nevergrad:ngopt, ...), settings in brackets "
                   "(optuna:tpe[n_startup_trials=5]), a pruner after '+' (random+median)")
    r.add_argument("--problems", required=True,
                   help="comma-separated problem names, tags (continuous, mixed, ...), "
                   "patterns (sphere-*) or 'all'")
    r.add_argument("--trials", type=int, default=100, help="trials per run (default 100)")
    r.add_argument("--seeds", type=int, default=10, help="number of seeds (default 10)")
    r.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    r.add_argument("--jobs", type=int, default=1, help="worker processes at a time (default 1)")
    r.add_argument("--out", required=True, help="results file (JSON lines), appended to")
    r.add_argument("--time-cap", type=float, default=600.0,
                   help="seconds per run before it stops (default 600; 0 for none)")
    r.add_argument("--start-method", choices=["fork", "spawn", "forkserver"], default=None,
                   help="how worker processes start (default fork where available)")
    r.add_argument("--retry-failed", action="store_true", help="re-run runs recorded as failed")
    r.add_argument("--quiet", action="store_true", help="no progress display")

    rep = sub.add_parser("report", help="Markdown tables (and PNG plots) from results files")
    rep.add_argument("results", nargs="+", help="results files written by 'hpopt bench run'")
    rep.add_argument("--plots", default=None, help="directory for PNG regret curves")
    rep.add_argument("--out", default=None, help="write the Markdown here instead of stdout")
    rep.add_argument("--samplers", default=None,
                     help="comma-separated sampler labels to keep, in this column order")
    rep.add_argument("--no-anytime", action="store_true",
                     help="leave out the per-problem anytime regret table")

    ls = sub.add_parser("list", help="list problems (with tags) and samplers")
    ls.add_argument("--tag", default=None, help="only problems with this tag")


class _Progress:
    """One status line on stderr (redrawn in place on a terminal, one line per run otherwise)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.count = 0

    def __call__(self, done: int, total: int, rec: dict[str, Any]) -> None:
        self.count = done
        status = rec.get("status")
        if self.quiet and status not in ("failed",):
            return
        elapsed = time.monotonic() - self.start
        eta = elapsed / done * (total - done) if done else 0.0
        text = (f"[{done:>{len(str(total))}}/{total}] {status:<7} {rec['sampler']} "
                f"{rec['problem']} seed {rec['seed']}  elapsed {_dur(elapsed)}  eta {_dur(eta)}")
        if status == "failed":
            text += f"\n    {rec.get('error')}"
        if self.tty and status != "failed":
            print("\r\033[K" + text, end="", file=sys.stderr, flush=True)
        else:
            print(("\r\033[K" if self.tty else "") + text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty and not self.quiet:
            print(file=sys.stderr)


def _dur(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _run(args: argparse.Namespace) -> int:
    from hpopt.benchmark.runner import run

    if args.seeds < 1 or args.seed_start < 0:
        raise ValueError(f"`--seeds >= 1` and `--seed-start >= 0` must hold, but got "
                         f"(seeds={args.seeds}, seed_start={args.seed_start}).")
    progress = _Progress(args.quiet)
    t0 = time.monotonic()
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    try:
        records = run(args.samplers, args.problems, args.trials, seeds, args.jobs, out=args.out,
                      time_cap=args.time_cap or None, start_method=args.start_method,
                      retry_failed=args.retry_failed, progress=progress)
    finally:
        progress.close()
    counts: dict[str, int] = {}
    for rec in records:
        counts[rec["status"]] = counts.get(rec["status"], 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"{len(records)} runs in {args.out} ({summary}); this invocation ran {progress.count} "
          f"in {time.monotonic() - t0:.1f} s.")
    print(f"report: hpopt bench report {args.out}")
    return 1 if counts.get("failed") else 0


def _report(args: argparse.Namespace) -> int:
    from hpopt.benchmark.runner import load_results
    from hpopt.benchmark.summary import summarize, to_markdown

    records: list[dict[str, Any]] = []
    errors: list[str] = []
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in args.results:
            records.extend(load_results(path, errors=errors))
    for msg in errors:
        print(msg, file=sys.stderr)
    if args.samplers:
        from hpopt.benchmark.peers import split_specs

        order = {label: i for i, label in enumerate(split_specs(args.samplers))}
        present = {r["sampler"] for r in records}
        missing = [label for label in order if label not in present]
        if missing:
            raise ValueError(f"`--samplers` names {missing}, which are not in the results; "
                             f"present: {sorted(present)}.")
        records = sorted((r for r in records if r["sampler"] in order),
                         key=lambda r: order[r["sampler"]])
    if not records:
        raise ValueError(f"no valid results in {args.results}.")
    text = to_markdown(summarize(records), anytime_per_problem=not args.no_anytime)
    from hpopt.benchmark.results import run_key

    # a run retried with --retry-failed has its failed line and then its new one: the last counts
    latest = {run_key(r): r for r in records}
    failed = [r for r in latest.values() if r.get("status") == "failed"]
    if failed:
        text += "\n### Failed runs\n\n" + "\n".join(
            f"- `{r['sampler']}` on {r['problem']} seed {r['seed']}: {r.get('error')}"
            for r in failed[:50]) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    if args.plots:
        from hpopt.benchmark.plots import plot_results

        paths = plot_results(records, args.plots)
        print(f"wrote {len(paths)} plots to {args.plots}", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    from hpopt.benchmark.catalog import _registry, problem_tags
    from hpopt.benchmark.peers import PEER_PRUNERS, available_peers
    from hpopt.plugins import available_pruners, available_samplers

    table = _registry()
    tags = problem_tags(table)
    if args.tag and args.tag not in tags:
        print(f"hpopt bench list: unknown tag {args.tag!r}; tags: {', '.join(tags)}", file=sys.stderr)
        return 2
    print("problems:")
    for name, p in table.items():
        if args.tag and args.tag not in p.tags:
            continue
        print(f"  {name:<30} {','.join(sorted(p.tags)):<30} {p.description}")
    print("tags: " + ", ".join(f"{t} ({n})" for t, n in tags.items()))
    print("hpopt samplers: " + ", ".join(sorted(available_samplers())))
    print("hpopt pruners: " + ", ".join(sorted(available_pruners())))
    peers = available_peers()
    print("peer samplers: " + ", ".join(f"{n}{'' if ok else ' (not installed)'}"
                                          for n, ok in peers.items()))
    print("peer pruners: " + ", ".join(sorted(PEER_PRUNERS)))
    return 0


@command("bench", "benchmark samplers on test problems (run, report, list)", _add_arguments)
def _bench(args: argparse.Namespace) -> int:
    action = getattr(args, "bench_command", None)
    if action == "run":
        return _run(args)
    if action == "report":
        return _report(args)
    if action == "list":
        return _list(args)
    print("usage: hpopt bench {run,report,list} ... (see hpopt bench -h)", file=sys.stderr)
    return 2
