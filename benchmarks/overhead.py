"""Time spent inside hpopt per trial, side by side with Optuna's RandomSampler (issue 2).

One trial = ``ask()`` + 5 suggests (float, log float, int, categorical, stepped float) + ``tell``
with a trivial objective, so the wall time of a trial is the library's own overhead. Measured:

* in memory: hpopt's default storage vs Optuna's ``InMemoryStorage``;
* SQLite, hpopt's default ``sqlite:///file.db`` (WAL, synchronous=full: an acknowledged ``tell``
  survives power loss, 2 commits per trial by design) against the disk's limit, i.e. the
  synchronous commits per second it sustains (measured here, on the same folder) divided by 2;
* SQLite, hpopt's faster ``sqlite:///file.db?synchronous=normal`` (survives process crashes, not
  power loss) vs Optuna's ``RDBStorage`` on a SQLite file.

Both libraries use random search (hpopt ``RandomSampler``, Optuna ``RandomSampler``), seeded. Each
configuration runs on a fresh study after a short warm-up; the per-trial times are medians over all
trials of the run (so growth with the study's size shows at 10,000 trials). Optuna's RDBStorage is
slow on SQLite, so it runs at most ``--optuna-rdb-max`` trials (said in the output).

Usage:
    python benchmarks/overhead.py                 # 1,000 and 10,000 trials (a few minutes)
    python benchmarks/overhead.py --quick         # 300 trials: a smoke run in seconds
    python benchmarks/overhead.py --trials 1000 --optuna-rdb-max 500 --profile 10000
    python benchmarks/overhead.py --no-optuna     # hpopt alone (Optuna not installed)

Goals (issue 2): in-memory median <= 50 us per trial and <= 1/5 of Optuna's; SQLite default within
a factor 2 of the fsync limit; synchronous=normal >= 10x Optuna RDB's trials/s.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import hpopt

N_WARMUP = 50
GOAL_MEMORY_US = 50.0
GOAL_MEMORY_RATIO = 0.2
GOAL_FSYNC_FACTOR = 2.0
GOAL_NORMAL_VS_RDB = 10.0


# -- the workload ----------------------------------------------------------------------------------
def hpopt_trials(storage: str | None, n: int, seed: int = 0) -> list[int]:
    """Run ``n`` trials with hpopt; return the wall time of each (ns)."""
    study = hpopt.create_study(storage=storage, sampler=hpopt.RandomSampler(seed=seed))
    clock = time.perf_counter_ns
    times = []
    for _ in range(n):
        t0 = clock()
        trial = study.ask()
        x = trial.suggest_float("x", -10.0, 10.0)
        trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        trial.suggest_int("layers", 1, 8)
        trial.suggest_categorical("act", ["relu", "tanh", "gelu"])
        trial.suggest_float("dropout", 0.0, 0.5, step=0.05)
        study.tell(trial, x * x)
        times.append(clock() - t0)
    return times


def optuna_trials(storage: Any, n: int, seed: int = 0) -> list[int]:
    """Run ``n`` trials with Optuna's RandomSampler; return the wall time of each (ns)."""
    import optuna

    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=seed))
    clock = time.perf_counter_ns
    times = []
    for _ in range(n):
        t0 = clock()
        trial = study.ask()
        x = trial.suggest_float("x", -10.0, 10.0)
        trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        trial.suggest_int("layers", 1, 8)
        trial.suggest_categorical("act", ["relu", "tanh", "gelu"])
        trial.suggest_float("dropout", 0.0, 0.5, step=0.05)
        study.tell(trial, x * x)
        times.append(clock() - t0)
    return times


def summarize(times: list[int]) -> dict[str, float]:
    """Median, mean and 90th percentile per trial (us) and trials per second over the run."""
    us = sorted(t / 1000.0 for t in times)
    total_s = sum(times) / 1e9
    return {
        "n": len(us),
        "median_us": statistics.median(us),
        "mean_us": statistics.fmean(us),
        "p90_us": us[min(len(us) - 1, int(0.9 * len(us)))],
        "trials_per_s": len(us) / total_s if total_s > 0 else float("inf"),
    }


# -- the disk --------------------------------------------------------------------------------------
def fsync_commits_per_s(folder: str, seconds: float, max_commits: int = 5000) -> float:
    """Synchronous commits per second: INSERT + COMMIT, WAL, synchronous=FULL, in ``folder``."""
    path = os.path.join(folder, f"fsync_probe{time.perf_counter_ns()}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, payload TEXT)")
        for _ in range(10):  # warm-up: the WAL file exists and is sized
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (payload) VALUES (?)", ("x" * 200,))
            conn.execute("COMMIT")
        done, t0 = 0, time.perf_counter()
        while done < max_commits and time.perf_counter() - t0 < seconds:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (payload) VALUES (?)", ("x" * 200,))
            conn.execute("COMMIT")
            done += 1
        return done / (time.perf_counter() - t0)
    finally:
        conn.close()


# -- running ---------------------------------------------------------------------------------------
def measure(label: str, run: Callable[[int], list[int]], n: int) -> dict[str, float]:
    """Warm up, run ``n`` trials, print one line and return the summary."""
    run(N_WARMUP)
    t0 = time.perf_counter()
    row = summarize(run(n))
    row["wall_s"] = time.perf_counter() - t0
    print(f"  {label:<34} n={n:>6}  median {row['median_us']:>9.1f} us  mean "
          f"{row['mean_us']:>9.1f} us  p90 {row['p90_us']:>9.1f} us  "
          f"{row['trials_per_s']:>9.0f} trials/s  ({row['wall_s']:.1f} s)", flush=True)
    return row


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[1000, 10000],
                        help="trial counts to measure (default: 1000 10000)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 300 trials, Optuna RDB at 300, 1 s disk probe")
    parser.add_argument("--optuna-rdb-max", type=int, default=300,
                        help="at most this many trials for Optuna's RDBStorage, measured once "
                        "and compared with every size (default 300: it needs ~0.2 s per trial "
                        "on a disk doing ~170 fsyncs/s)")
    parser.add_argument("--fsync-seconds", type=float, default=3.0,
                        help="how long to probe the disk's synchronous commits (default 3 s)")
    parser.add_argument("--dir", default=None,
                        help="folder for the SQLite files (default: a new temporary folder)")
    parser.add_argument("--no-optuna", action="store_true", help="measure hpopt alone")
    parser.add_argument("--no-sqlite", action="store_true", help="in-memory storage only")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile N in-memory hpopt trials with cProfile (top 25)")
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.optuna_rdb_max, args.fsync_seconds = [300], 300, 1.0
    if any(n < 1 for n in args.trials):
        parser.error(f"--trials must be >= 1, but got {args.trials}")

    with_optuna = not args.no_optuna
    if with_optuna:
        try:
            import optuna
        except ImportError:
            print("optuna is not installed: measuring hpopt alone (pip install -e '.[bench]').")
            with_optuna = False
        else:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            warnings.filterwarnings("ignore", module="optuna")

    folder = tempfile.mkdtemp(prefix="hpopt-overhead-", dir=args.dir)
    print(f"hpopt {hpopt.__version__}"
          + (f", optuna {sys.modules['optuna'].__version__}" if with_optuna else "")
          + f", Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}; SQLite "
          f"{sqlite3.sqlite_version}; files in {folder}")
    results: dict[str, Any] = {"trials": args.trials, "sizes": {}}
    try:
        counter = iter(range(10**9))
        rdb_rows: dict[int, Any] = {}  # Optuna RDB measured once per (capped) size

        def db(prefix: str) -> str:
            return os.path.join(folder, f"{prefix}{next(counter)}.db")

        for n in args.trials:
            print(f"\n== {n} trials")
            rows: dict[str, Any] = {}
            rows["hpopt_memory"] = measure("hpopt in-memory", lambda k: hpopt_trials(None, k), n)
            if with_optuna:
                import optuna

                rows["optuna_memory"] = measure(
                    "optuna InMemoryStorage",
                    lambda k: optuna_trials(optuna.storages.InMemoryStorage(), k), n)
            commits_per_s = None
            if not args.no_sqlite:
                # The disk is probed right before and right after the default-mode run, and the
                # mean taken: a shared disk's fsync rate drifts over minutes.
                before = fsync_commits_per_s(folder, args.fsync_seconds)
                rows["hpopt_sqlite_full"] = measure(
                    "hpopt sqlite (synchronous=full)",
                    lambda k: hpopt_trials(f"sqlite:///{db('full')}", k), n)
                after = fsync_commits_per_s(folder, args.fsync_seconds)
                commits_per_s = (before + after) / 2
                rows["fsync_commits_per_s"] = {"before": before, "after": after}
                print(f"  disk: {before:.0f} / {after:.0f} synchronous commits/s before / after "
                      "(sqlite3 INSERT+COMMIT, WAL, synchronous=FULL, same folder) -> limit for 2 "
                      f"commits per trial: {commits_per_s / 2:.0f} trials/s")
                rows["hpopt_sqlite_normal"] = measure(
                    "hpopt sqlite?synchronous=normal",
                    lambda k: hpopt_trials(f"sqlite:///{db('normal')}?synchronous=normal", k), n)
                if with_optuna:
                    import optuna

                    n_rdb = min(n, args.optuna_rdb_max)
                    if n_rdb not in rdb_rows:
                        rdb_rows[n_rdb] = measure(
                            "optuna RDBStorage sqlite" + (" (capped)" if n_rdb < n else ""),
                            lambda k: optuna_trials(
                                optuna.storages.RDBStorage(f"sqlite:///{db('optuna')}"), k), n_rdb)
                    else:
                        print(f"  optuna RDBStorage sqlite: the n={n_rdb} run above is reused")
                    rows["optuna_rdb"] = rdb_rows[n_rdb]
            results["sizes"][str(n)] = rows
            compare(rows, commits_per_s)
        if args.profile:
            profile_memory(args.profile)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def compare(rows: dict[str, Any], commits_per_s: float | None) -> None:
    """Print the ratios and whether each goal of issue 2 is met."""
    mem = rows["hpopt_memory"]
    print(f"  goal: in-memory median {mem['median_us']:.1f} us <= {GOAL_MEMORY_US:.0f} us: "
          f"{_verdict(mem['median_us'] <= GOAL_MEMORY_US)}")
    if "optuna_memory" in rows:
        ratio = mem["median_us"] / rows["optuna_memory"]["median_us"]
        rows["ratio_memory_median"] = ratio
        print(f"  goal: in-memory median hpopt/optuna = {ratio:.3f} (1/{1 / ratio:.1f}) <= "
              f"{GOAL_MEMORY_RATIO}: {_verdict(ratio <= GOAL_MEMORY_RATIO)}")
    if "hpopt_sqlite_full" in rows and commits_per_s:
        full = rows["hpopt_sqlite_full"]
        limit = commits_per_s / 2
        frac = full["trials_per_s"] / limit
        rows["full_vs_limit"] = frac
        print(f"  goal: sqlite default {full['trials_per_s']:.0f} trials/s vs fsync limit "
              f"{limit:.0f} trials/s = {frac:.2f} of the limit (>= 1/{GOAL_FSYNC_FACTOR:.0f}): "
              f"{_verdict(frac >= 1 / GOAL_FSYNC_FACTOR)}")
        if "optuna_rdb" in rows:
            rdb = rows["optuna_rdb"]
            speed = full["trials_per_s"] / rdb["trials_per_s"]
            print(f"       (sqlite default vs optuna RDB: {speed:.1f}x trials/s; median "
                  f"hpopt/optuna = {full['median_us'] / rdb['median_us']:.3f})")
    if "hpopt_sqlite_normal" in rows and "optuna_rdb" in rows:
        normal, rdb = rows["hpopt_sqlite_normal"], rows["optuna_rdb"]
        speedup = normal["trials_per_s"] / rdb["trials_per_s"]
        rows["normal_vs_rdb"] = speedup
        print(f"  goal: sqlite synchronous=normal {normal['trials_per_s']:.0f} trials/s vs optuna "
              f"RDB {rdb['trials_per_s']:.0f} trials/s (at n={rdb['n']}) = {speedup:.1f}x "
              f">= {GOAL_NORMAL_VS_RDB:.0f}x: {_verdict(speedup >= GOAL_NORMAL_VS_RDB)}")


def profile_memory(n: int) -> None:
    """cProfile ``n`` in-memory hpopt trials; print the top functions by own time."""
    print(f"\n== cProfile: {n} in-memory hpopt trials (by own time; profiling inflates times)")
    hpopt_trials(None, N_WARMUP)
    prof = cProfile.Profile()
    prof.enable()
    hpopt_trials(None, n)
    prof.disable()
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    sys.exit(main())
