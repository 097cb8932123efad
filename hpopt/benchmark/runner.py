"""The benchmark runner: every (sampler, problem, seed) in its own process, results as JSON lines.

:func:`run` starts up to ``n_jobs`` worker processes at a time (``fork`` where available, else
``spawn``), each running one (sampler, problem, seed) with single-threaded BLAS and a time cap,
and appends one JSON line per finished run to ``out``. Run again with the same ``out`` and the
finished runs are skipped, so an interrupted benchmark resumes where it stopped.

One line records the value of every trial, the best-so-far regret (``regret``: the noise-free
value of the incumbent minus the optimum; the incumbent's value when the optimum is unknown;
for several objectives the true front's hypervolume minus the observed one, with the hypervolume
itself in ``hypervolume``), the seconds spent in the sampler (everything between two objective
calls, pruner included) and in the objective, and for curve problems the steps each trial used.
A run whose sampler raises is recorded with ``status: "failed"`` and its traceback, and the
benchmark goes on.

Example:
    >>> records = run(["random"], ["branin"], n_trials=5, seeds=2, n_jobs=1)
    >>> [(r["sampler"], r["seed"], r["status"], len(r["values"])) for r in records]
    [('random', 0, 'ok', 5), ('random', 1, 'ok', 5)]
"""

from __future__ import annotations

import datetime as _dt
import multiprocessing as mp
import os
import time
import traceback
import warnings
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import numpy as np

from hpopt.benchmark.catalog import get_problem, select_problems
from hpopt.benchmark.hypervolume import hypervolume, nondominated
from hpopt.benchmark.peers import (
    Outcome,
    SamplerSpec,
    UnsupportedProblem,
    check_spec,
    make_optimizer,
    parse_spec,
)
from hpopt.benchmark.problem import Problem
from hpopt.benchmark.results import (
    RESULTS_VERSION,
    ResultsWarning,
    append_record,
    load_results,
    run_key,
)

__all__ = ["run", "run_one", "load_results", "run_key", "RESULTS_VERSION", "ResultsWarning"]

#: Environment variables that pin BLAS/OpenMP pools to one thread in worker processes.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
# The hard cap (the worker is killed) is this multiple of the soft cap plus a fixed grace.
_HARD_FACTOR, _HARD_GRACE = 1.5, 30.0
_DONE = ("ok", "timeout", "skipped")
# Peer libraries whose seeds must fit in 32 bits (numpy RandomState).
_SEED32_LIBRARIES = ("optuna", "nevergrad")


class _TimeCap(Exception):
    """Raised inside ``evaluate`` when the run's time cap has passed."""


class _Evaluator:
    """Calls the objective for an optimizer and times sampler vs objective."""

    def __init__(self, problem: Problem, rng: np.random.Generator, n_trials: int,
                 deadline: float, pruning: bool) -> None:
        self.problem, self.rng, self.n_trials = problem, rng, n_trials
        self.deadline, self.pruning = deadline, pruning
        self.params: list[dict[str, Any]] = []
        self.values: list[Any] = []
        self.pruned: list[bool] = []
        self.sampler_s: list[float] = []
        self.objective_s: list[float] = []
        self.steps: list[int] = []
        self.mark = time.perf_counter()

    def __call__(self, params: dict[str, Any], trial: Any = None) -> Outcome:
        start = time.perf_counter()
        sampler_s = start - self.mark
        if len(self.values) >= self.n_trials:
            raise RuntimeError(f"the optimizer asked for more than {self.n_trials} evaluations.")
        if start > self.deadline:
            raise _TimeCap()
        problem = self.problem
        pruned, steps, extra = False, 0, 0.0
        if problem.curve is None:
            value = problem.evaluate(params, self.rng)
            objective_s = time.perf_counter() - start
        else:
            objective_s, value = 0.0, None
            it = problem.steps(params, self.rng)
            while True:
                t0 = time.perf_counter()
                try:
                    v = float(next(it))
                except StopIteration:
                    objective_s += time.perf_counter() - t0
                    break
                t1 = time.perf_counter()
                objective_s += t1 - t0
                steps += 1
                value = v
                if self.pruning and trial is not None:
                    trial.report(v, steps)
                    stop = trial.should_prune()
                    extra += time.perf_counter() - t1
                    if stop:
                        pruned = True
                        break
        self.params.append(dict(params))
        self.values.append(value)
        self.pruned.append(pruned)
        self.sampler_s.append(sampler_s + extra)
        self.objective_s.append(objective_s)
        self.steps.append(steps)
        self.mark = time.perf_counter()
        return Outcome(value, pruned)


def _limit_threads() -> Any:
    """Pin already-loaded BLAS/OpenMP pools of this process to one thread (threadpoolctl).

    Called once in the parent before forking, so forked workers inherit the limit without
    paying ~10 ms each; spawned workers get it from :data:`THREAD_VARS` instead. Returns the
    limiter (``restore_original_limits()`` undoes it) or None without threadpoolctl.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=1)


def _finite(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, tuple | list):
        return [float(x) for x in v]
    return float(v)


def _curves(problem: Problem, ev: _Evaluator) -> dict[str, Any]:
    """Best-so-far regret (and hypervolume, true values) after each trial."""
    out: dict[str, Any] = {}
    n = len(ev.values)
    ok = [not ev.pruned[i] and ev.values[i] is not None for i in range(n)]
    if problem.multi_objective:
        ref = problem.reference_point
        front = np.empty((0, problem.n_objectives))
        hv_list, hv = [], 0.0
        for i in range(n):
            if ok[i]:
                point = np.asarray(ev.values[i], dtype=float)
                if np.all(point < ref) and not np.any(np.all(front <= point, axis=1)):
                    front = np.vstack([front, point])
                    front = front[nondominated(front)]
                    hv = hypervolume(front, ref)
            hv_list.append(hv)
        out["hypervolume"] = hv_list
        opt = problem.optimum
        out["regret"] = [(opt - h) if opt is not None else -h for h in hv_list]
        return out
    best, best_true = np.inf, None
    regret: list[float | None] = []
    true_values: list[float | None] = []
    noisy = problem.noise_sd > 0 or "noisy" in problem.tags
    for i in range(n):
        if ok[i]:
            v = float(ev.values[i])
            true_v = float(problem.function(ev.params[i])) if noisy else v
            true_values.append(true_v)
            if v < best:
                best, best_true = v, true_v
        else:
            true_values.append(None)
        if best_true is None:
            regret.append(None)
        else:
            regret.append(best_true - problem.optimum if problem.optimum is not None else best_true)
    out["regret"] = regret
    if noisy:
        out["true_values"] = true_values
    return out


def _distinct_warnings(caught: Sequence[warnings.WarningMessage], limit: int = 5) -> list[str]:
    """The first few distinct warnings a run raised (recorded instead of printed)."""
    seen: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).strip().splitlines()[0][:200]}"
        if text not in seen:
            seen.append(text)
        if len(seen) >= limit:
            break
    return seen


def run_one(spec: str | SamplerSpec, problem: str | Problem, seed: int, n_trials: int, *,
            time_cap: float | None = None) -> dict[str, Any]:
    """Run one (sampler, problem, seed) in this process and return its results record.

    A sampler that raises gives ``status "failed"`` with the traceback (never an exception);
    an optimizer that cannot handle the problem gives ``status "skipped"``; the time cap gives
    ``status "timeout"`` with the trials done so far.
    """
    import hpopt

    spec = parse_spec(spec)
    prob = get_problem(problem) if isinstance(problem, str) else problem
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"`seed` must be an int >= 0, but got seed={seed!r}.")
    rng = np.random.default_rng([int(seed), zlib.crc32(prob.name.encode()), 1])
    cap = float("inf") if time_cap is None else float(time_cap)
    ev = _Evaluator(prob, rng, n_trials, time.perf_counter() + cap, spec.pruner is not None)
    status, error, tb = "ok", None, None
    wall0 = time.perf_counter()
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            optimizer = make_optimizer(spec, prob, int(seed))
            ev.mark = time.perf_counter()
            optimizer.run(prob, n_trials, ev)
            if ev.sampler_s:  # the last tell happens after the last evaluation
                ev.sampler_s[-1] += time.perf_counter() - ev.mark
    except _TimeCap:
        status, error = "timeout", f"time cap of {cap:g} s reached after {len(ev.values)} trials"
    except UnsupportedProblem as exc:
        status, error = "skipped", str(exc)
    except Exception as exc:  # noqa: BLE001  (a broken sampler must not stop the benchmark)
        status, error, tb = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
    wall = time.perf_counter() - wall0
    record: dict[str, Any] = {
        "version": RESULTS_VERSION, "sampler": spec.label or spec.name, "sampler_name": spec.name,
        "settings": dict(spec.settings), "pruner": spec.pruner,
        "pruner_settings": dict(spec.pruner_settings), "problem": prob.name, "seed": int(seed),
        "n_trials": int(n_trials), "status": status, "error": error, "traceback": tb,
        "n_objectives": prob.n_objectives, "optimum": prob.optimum,
        "regret_kind": ("hypervolume" if prob.multi_objective
                        else "regret" if prob.optimum is not None else "value"),
        "tags": sorted(prob.tags), "values": [_finite(v) for v in ev.values],
        "states": ["pruned" if p else "complete" for p in ev.pruned],
        "sampler_seconds": [round(s, 7) for s in ev.sampler_s],
        "objective_seconds": [round(s, 7) for s in ev.objective_s],
        "wall_seconds": round(wall, 4), "hpopt_version": hpopt.__version__,
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "warnings": _distinct_warnings(caught),
    }
    if prob.curve is not None:
        record["steps"] = ev.steps
    record.update(_curves(prob, ev))
    return record


def _child(conn: Any, spec: SamplerSpec, problem: str | Problem, seed: int, n_trials: int,
           time_cap: float | None) -> None:
    os.environ.update({v: "1" for v in THREAD_VARS})  # for libraries the run imports later
    record = run_one(spec, problem, seed, n_trials, time_cap=time_cap)
    conn.send(record)
    conn.close()


def _failed(task: tuple[SamplerSpec, Problem, int, int], error: str) -> dict[str, Any]:
    spec, prob, seed, n_trials = task
    return {
        "version": RESULTS_VERSION, "sampler": spec.label or spec.name, "sampler_name": spec.name,
        "settings": dict(spec.settings), "pruner": spec.pruner,
        "pruner_settings": dict(spec.pruner_settings), "problem": prob.name, "seed": seed,
        "n_trials": n_trials, "status": "failed", "error": error, "traceback": None,
        "n_objectives": prob.n_objectives, "optimum": prob.optimum, "tags": sorted(prob.tags),
        "values": [], "states": [], "regret": [], "sampler_seconds": [], "objective_seconds": [],
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _preimport(specs: Iterable[SamplerSpec]) -> None:
    """Import peer libraries once in the parent so forked workers do not each pay for it."""
    import importlib

    from hpopt.benchmark.peers import PEERS

    for spec in specs:
        for module in PEERS.get(spec.name, ((), None))[0]:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001, S110  (the worker reports the real error)
                pass


def run(
    samplers: Sequence[str | SamplerSpec] | str,
    problems: Sequence[str | Problem] | str,
    n_trials: int,
    seeds: int | Sequence[int],
    n_jobs: int = 1,
    *,
    out: str | os.PathLike[str] | None = None,
    time_cap: float | None = 600.0,
    start_method: str | None = None,
    retry_failed: bool = False,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every (sampler, problem, seed), each in its own process; return the records.

    Args:
        samplers: Sampler specs (``"random"``, ``"optuna:tpe"``, ``"random+median"``, ...; see
            :mod:`hpopt.benchmark.peers`), or one comma-separated string.
        problems: Problem names, tags, patterns or :class:`Problem` objects (see
            :func:`~hpopt.benchmark.select_problems`), or one comma-separated string.
        n_trials: Trials per run.
        seeds: A count (seeds ``0..seeds-1``) or explicit seeds.
        n_jobs: Worker processes at a time.
        out: JSON-lines file to append to; runs already in it (same sampler label, problem,
            seed and ``n_trials``) are not run again.
        time_cap: Seconds per run; the run stops asking at the cap (``status "timeout"``) and
            is killed at 1.5 x the cap + 30 s. None for no cap.
        start_method: ``"fork"`` (default where available), ``"spawn"`` or ``"forkserver"``;
            with the last two, problems are looked up by name in the child.
        retry_failed: Also re-run runs recorded as failed.
        progress: ``progress(done, total, record)`` after each run.

    Raises:
        ValueError: Unknown samplers or problems (the available ones are listed), or bad
            arguments, before anything runs.
    """
    if isinstance(samplers, str):
        from hpopt.benchmark.peers import split_specs

        samplers = split_specs(samplers)
    specs = [parse_spec(s) for s in samplers]
    if not specs:
        raise ValueError("`samplers` must name at least one sampler.")
    for spec in specs:
        check_spec(spec)
    labels = [s.label or s.name for s in specs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"`samplers` must not repeat a spec, but got {labels}.")
    probs = select_problems(problems)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"`n_trials >= 1` must hold (an int), but got n_trials={n_trials!r}.")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list or any(s < 0 for s in seed_list):
        raise ValueError(
            f"`seeds` must be a positive count or non-negative seeds, but got {seeds!r}."
        )
    limited = [label for spec, label in zip(specs, labels) if spec.library in _SEED32_LIBRARIES]
    if limited and max(seed_list) >= 2**32:
        raise ValueError(
            f"`seeds` must be below 2**32 for {limited} (the library refuses larger seeds), but "
            f"got seed {max(seed_list)}."
        )
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"`n_jobs >= 1` must hold, but got n_jobs={n_jobs!r}.")
    if time_cap is not None and not time_cap > 0:
        raise ValueError(f"`time_cap > 0` must hold (or None), but got time_cap={time_cap!r}.")
    method = start_method or ("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    if method not in ("fork", "spawn", "forkserver"):
        raise ValueError(f"`start_method` must be 'fork', 'spawn' or 'forkserver', got {method!r}.")
    if method != "fork":  # the worker looks the problem up by name: it must be the registered one
        for prob in probs:
            try:
                registered: Problem | None = get_problem(prob.name)
            except ValueError:
                registered = None
            if registered is not prob:
                raise ValueError(
                    f"with start_method={method!r} a worker looks its problem up by name, but "
                    f"{prob.name!r} is not the registered problem of that name; register it "
                    "(the hpopt_problems hook) or use start_method='fork'."
                )

    path = Path(out) if out is not None else None
    if path is not None and (path.is_dir() or not path.parent.is_dir()):
        what = "is a folder" if path.is_dir() else f"is in a folder that does not exist ({path.parent})"
        raise ValueError(f"`out` must be a file in an existing folder, but {str(path)!r} {what}.")
    done: dict[tuple, dict[str, Any]] = {}
    if path is not None and path.exists():
        for rec in load_results(path):
            if rec.get("status") in _DONE or (rec.get("status") == "failed" and not retry_failed):
                done[run_key(rec)] = rec
    tasks = []
    results: list[dict[str, Any]] = []
    for prob in probs:
        for spec, label in zip(specs, labels):
            for seed in seed_list:
                key = (label, prob.name, seed, n_trials)
                if key in done:
                    results.append(done[key])
                else:
                    tasks.append((spec, prob, seed, n_trials))
    total = len(tasks)
    if method == "fork":
        _preimport(specs)
    ctx = mp.get_context(method)
    pending = deque(tasks)
    active: dict[Any, tuple[Any, tuple, float]] = {}
    hard = None if time_cap is None else time_cap * _HARD_FACTOR + _HARD_GRACE
    finished = 0

    def emit(rec: dict[str, Any]) -> None:
        nonlocal finished
        finished += 1
        if path is not None:
            append_record(path, rec)
        results.append(rec)
        if progress is not None:
            progress(finished, total, rec)

    def start_workers() -> None:
        while pending and len(active) < n_jobs:
            task = pending.popleft()
            spec, prob, seed, nt = task
            recv, send = ctx.Pipe(duplex=False)
            target = prob if method == "fork" else prob.name
            proc = ctx.Process(target=_child, args=(send, spec, target, seed, nt, time_cap),
                               daemon=True)
            proc.start()
            send.close()
            active[recv] = (proc, task, time.perf_counter())

    exiting: list[Any] = []
    saved_env = {v: os.environ.get(v) for v in THREAD_VARS}
    limiter = _limit_threads() if method == "fork" and tasks else None
    try:
        os.environ.update({v: "1" for v in THREAD_VARS})  # inherited by spawned workers
        while pending or active:
            start_workers()
            ready = wait(list(active), timeout=1.0)
            received = []
            for conn in ready:
                proc, task, started = active.pop(conn)
                try:
                    rec = conn.recv()
                    # worker start to record received: the runner's overhead is this minus
                    # the run's own wall_seconds
                    rec["process_seconds"] = round(time.perf_counter() - started, 4)
                except (EOFError, OSError):
                    proc.join(5)
                    rec = _failed(task, f"worker process died (exit code {proc.exitcode})")
                conn.close()
                exiting.append(proc)  # reaped later: a worker's exit takes ~10 ms
                received.append(rec)
            if hard is not None:
                now = time.perf_counter()
                for conn, (proc, task, started) in list(active.items()):
                    if now - started > hard:
                        proc.kill()
                        proc.join(5)
                        del active[conn]
                        conn.close()
                        msg = f"killed after the hard time cap of {hard:g} s"
                        received.append(_failed(task, msg))
            start_workers()  # before writing, so that the fsync overlaps with the next runs
            for rec in received:
                emit(rec)
            exiting = [proc for proc in exiting if proc.is_alive()]
    finally:
        for conn, (proc, _, _) in active.items():  # interrupted: stop our own workers
            proc.kill()
            proc.join(5)
            conn.close()
        for proc in exiting:
            proc.join(5)
        if limiter is not None:
            limiter.restore_original_limits()
        for v, old in saved_env.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
    return results
