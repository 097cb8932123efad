"""Scale benchmark (issue 8): hpopt's SQLite and PostgreSQL storages next to Optuna's RDBStorage.

Two measurements, in one run, on the same machine and the same PostgreSQL server:

1. **Throughput**: trials per second of a trivial objective (``x**2`` of one ``suggest_float``; the
   random sampler everywhere, so the storage is what is measured) with 1, 2, 4 and 8 worker
   processes sharing one study. Workers are forked, open the storage, wait at a barrier, then run
   their share of an ask/suggest/tell loop; the rate is all trials over the time from the barrier
   to the last worker's end (process start-up is not counted). Every configuration gets a fresh
   SQLite file or a fresh PostgreSQL database.
2. **Time per ask vs study size**: one process, a study holding N finished trials written by
   *another* storage object (other workers); the measuring study is caught up first, then 50
   ask/suggest/tell cycles are timed (median of ``study.ask()`` alone and of a whole cycle). hpopt
   reads only the journal records after its last read, so this must not grow with N. Also shown:
   how long a worker joining at that size takes to open the study and read all its trials (hpopt
   replays the journal once; this one does grow with N).

Usage (PostgreSQL from ``source .ci/postgres.sh start``)::

    python benchmarks/scale.py --pg "$HPOPT_TEST_POSTGRES_URL" [--trials 160] [--sizes 100 10000]

Prints a Markdown table per measurement (paste into benchmarks/RESULTS.md) and, with ``--json``,
writes the raw figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import hpopt

CTX = mp.get_context("fork")  # workers start fast; the parent holds no open connection at fork

# -- configurations -------------------------------------------------------------------------------
#: name -> (library, how to build its URL from (tmp folder, fresh PostgreSQL database URL))
CONFIGS: dict[str, tuple[str, Callable[[str, str | None], str]]] = {
    "hpopt SQLite (synchronous=full, default)": ("hpopt", lambda d, pg: f"sqlite:///{d}/hp.db"),
    "hpopt SQLite (synchronous=normal)": (
        "hpopt", lambda d, pg: f"sqlite:///{d}/hpn.db?synchronous=normal"),
    "hpopt PostgreSQL": ("hpopt", lambda d, pg: pg),
    "Optuna RDB SQLite": ("optuna", lambda d, pg: f"sqlite:///{d}/op.db"),
    "Optuna RDB PostgreSQL": (
        "optuna", lambda d, pg: pg.replace("postgresql://", "postgresql+psycopg://", 1)),
}


def _quiet_optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("sqlalchemy").setLevel(logging.ERROR)
    return optuna


def _create(lib: str, url: str, name: str) -> None:
    """Create the study; every connection is closed again before workers fork."""
    if lib == "hpopt":
        hpopt.create_study(study_name=name, storage=url).storage.close()
        return
    optuna = _quiet_optuna()
    storage = optuna.storages.RDBStorage(url)
    optuna.create_study(study_name=name, storage=storage)
    storage.engine.dispose()


def _open(lib: str, url: str, name: str, seed: int | None = None) -> tuple[Any, Callable[[], None]]:
    """A study handle and a one-trial function (ask, suggest, tell)."""
    if lib == "hpopt":
        study = hpopt.load_study(name, url, seed=seed, sampler="random")

        def one() -> None:
            trial = study.ask()
            x = trial.suggest_float("x", -10.0, 10.0)
            study.tell(trial, x * x)

        return study, one
    optuna = _quiet_optuna()
    study = optuna.load_study(study_name=name, storage=url, sampler=optuna.samplers.RandomSampler(seed))

    def one() -> None:  # noqa: F811
        trial = study.ask()
        x = trial.suggest_float("x", -10.0, 10.0)
        study.tell(trial, x * x)

    return study, one


def _worker(lib: str, url: str, name: str, n: int, barrier: Any, out: Any) -> None:
    errors: list[str] = []
    try:
        _, one = _open(lib, url, name)
        barrier.wait()
        t0 = time.time()
        done = 0
        for _ in range(n):
            try:
                one()
                done += 1
            except Exception as exc:  # noqa: BLE001  (counted and shown: e.g. "database is locked")
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
        out.put((t0, time.time(), done, errors))
    except BaseException as exc:  # noqa: BLE001
        out.put((0.0, 0.0, 0, [f"worker died: {type(exc).__name__}: {exc}"[:200]]))


def throughput(lib: str, url: str, workers: int, total: int) -> dict[str, Any]:
    """Trials per second of ``workers`` processes running ``total`` trials in one fresh study."""
    name = f"scale-{uuid.uuid4().hex[:8]}"
    _create(lib, url, name)
    barrier, out = CTX.Barrier(workers), CTX.Queue()
    per = total // workers
    procs = [CTX.Process(target=_worker, args=(lib, url, name, per, barrier, out)) for _ in range(workers)]
    for p in procs:
        p.start()
    results = [out.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    done = sum(r[2] for r in results)
    errors = [e for r in results for e in r[3]]
    return {
        "workers": workers, "trials": done, "seconds": end - start,
        "trials_per_s": done / (end - start) if end > start else float("nan"),
        "errors": len(errors), "error_examples": sorted(set(errors))[:3],
    }


# -- time per ask vs study size ---------------------------------------------------------------------
def _filler(lib: str, url: str, name: str) -> Callable[[int], None]:
    """``fill(k)`` adds k COMPLETE trials as other workers would, but fast: without waiting for
    fsync, and for Optuna with the rows of many trials written in one transaction (filling
    10,000 trials one durable commit at a time would take most of the benchmark's time). Only the
    filler's connection is relaxed; the measured study keeps the default durability. The filled
    trials are the same rows in the same tables as real trials."""
    import random

    if lib == "hpopt":
        if url.startswith("sqlite"):
            fill_url = url.split("?")[0] + "?synchronous=normal"
        else:
            fill_url = url + ("&" if "?" in url else "?") + "options=-c%20synchronous_commit%3Doff"
        _, one = _open(lib, fill_url, name, seed=1)

        def fill(k: int) -> None:
            for _ in range(k):
                one()

        return fill
    optuna = _quiet_optuna()
    import sqlalchemy
    from optuna.storages._rdb.storage import _create_scoped_session

    if url.startswith("sqlite"):
        storage = optuna.storages.RDBStorage(url)
        sqlalchemy.event.listen(
            storage.engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=OFF")
        )
        storage.engine.dispose()
    else:
        storage = optuna.storages.RDBStorage(
            url, engine_kwargs={"connect_args": {"options": "-c synchronous_commit=off"}}
        )
    sid = storage.get_study_id_from_name(name)
    dist = {"x": optuna.distributions.FloatDistribution(-10.0, 10.0)}
    rng = random.Random(1)

    def fill(k: int) -> None:
        # The rows Optuna's create_new_trial(template_trial=...) writes, without its per-trial
        # count of past trials (quadratic when adding thousands at once).
        from datetime import datetime

        models = optuna.storages._rdb.models
        complete = optuna.trial.TrialState.COMPLETE
        dist_json = optuna.distributions.distribution_to_json(dist["x"])
        with _create_scoped_session(storage.scoped_session) as session:
            models.StudyModel.find_or_raise_by_id(sid, session, for_update=True)
            number = session.query(models.TrialModel).filter(models.TrialModel.study_id == sid).count()
            trials = []
            for i in range(k):
                now = datetime.now()
                trials.append(models.TrialModel(
                    study_id=sid, number=number + i, state=complete,
                    datetime_start=now, datetime_complete=now,
                ))
            session.add_all(trials)
            session.flush()
            for trial in trials:
                x = rng.uniform(-10.0, 10.0)
                value, kind = models.TrialValueModel.value_to_stored_repr(x * x)
                session.add(models.TrialValueModel(
                    trial_id=trial.trial_id, objective=0, value=value, value_type=kind))
                session.add(models.TrialParamModel(
                    trial_id=trial.trial_id, param_name="x", param_value=x, distribution_json=dist_json))

    return fill


def per_ask(lib: str, url: str, sizes: list[int], fill_budget: float, cycles: int = 50) -> list[dict]:
    """Median seconds of ``ask`` and of a whole trial when the study holds about each of ``sizes``
    trials (from ``size - cycles`` to ``size + cycles`` during the measurement).

    Trials are added by a separate storage object (like other workers would), one between every two
    measured asks. Filling stops early after ``fill_budget`` seconds; the size reached is recorded.
    """
    name = f"ask-{uuid.uuid4().hex[:8]}"
    _create(lib, url, name)
    fill = _filler(lib, url, name)
    measured, _ = _open(lib, url, name, seed=2)
    if lib == "hpopt":
        def count() -> int:
            return len(measured.trials)
    else:
        def count() -> int:
            return len(measured.get_trials(deepcopy=False))
    rows = []
    t_fill0 = time.perf_counter()
    for size in sizes:
        have = count()
        while have < size - cycles and time.perf_counter() - t_fill0 < fill_budget:
            k = min(200, size - cycles - have)
            fill(k)
            have += k
        first = count()  # the measuring worker catches up (not timed): then only new records are read
        asks, whole = [], []
        for _ in range(cycles):
            t0 = time.perf_counter()
            trial = measured.ask()
            t1 = time.perf_counter()
            x = trial.suggest_float("x", -10.0, 10.0)
            measured.tell(trial, x * x)
            t2 = time.perf_counter()
            asks.append(t1 - t0)
            whole.append(t2 - t0)
            fill(1)  # another worker's trial lands between two asks, as in a shared study
        t0 = time.perf_counter()
        fresh, _ = _open(lib, url, name)  # a worker joining now: replays / loads the study
        n_fresh = len(fresh.trials) if lib == "hpopt" else len(fresh.get_trials(deepcopy=False))
        open_ms = 1e3 * (time.perf_counter() - t0)
        del fresh
        rows.append({
            "target": size, "trials_from": first, "trials_to": count(), "open_ms": open_ms,
            "open_trials": n_fresh,
            "ask_ms": 1e3 * statistics.median(asks), "trial_ms": 1e3 * statistics.median(whole),
            "fill_seconds_so_far": time.perf_counter() - t_fill0,
        })
        r = rows[-1]
        print(f"    {lib} with {r['trials_from']}..{r['trials_to']} trials: ask {r['ask_ms']:.2f} ms, "
              f"trial {r['trial_ms']:.2f} ms, a joining worker's first read {r['open_ms']:.0f} ms "
              f"(filling so far {r['fill_seconds_so_far']:.0f} s)", flush=True)
    return rows


# -- PostgreSQL databases ------------------------------------------------------------------------
class FreshDatabases:
    """Creates throw-away databases on the server of ``base_url``; drops them at the end.

    Administration goes through the server's ``postgres`` database, so that nothing done to the
    connections of ``base_url``'s database (tests terminate them on purpose) interrupts it.
    """

    def __init__(self, base_url: str) -> None:
        self.root = base_url.rsplit("/", 1)[0]
        self.made: list[str] = []

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.root + "/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def new(self) -> str:
        db = f"hpopt_scale_{uuid.uuid4().hex[:10]}"
        self._admin(f"CREATE DATABASE {db}")
        self.made.append(db)
        return f"{self.root}/{db}"

    def drop_all(self) -> None:
        for db in self.made:
            self._admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _table(rows: list[tuple], head: tuple) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default=os.environ.get("HPOPT_TEST_POSTGRES_URL"),
                        help="a PostgreSQL URL whose server may get throw-away databases")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--trials", type=int, default=160, help="trials per throughput run")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--fill-budget", type=float, default=150.0,
                        help="seconds each library may spend filling a study for the per-ask test")
    parser.add_argument("--only", nargs="*", default=None, help="configuration names to run")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-ask", action="store_true")
    parser.add_argument("--json", default=None, help="write raw figures here")
    args = parser.parse_args(argv)
    configs = {k: v for k, v in CONFIGS.items() if args.only is None or k in args.only}
    if not args.pg:
        configs = {k: v for k, v in configs.items() if "PostgreSQL" not in k}
        print("no --pg URL: PostgreSQL configurations skipped", file=sys.stderr)
    raw: dict[str, Any] = {"argv": sys.argv, "cpus": os.cpu_count(), "throughput": {}, "per_ask": {}}
    dbs = FreshDatabases(args.pg) if args.pg else None
    try:
        if not args.skip_throughput:
            for label, (lib, make) in configs.items():
                for w in args.workers:
                    with tempfile.TemporaryDirectory() as tmp:
                        url = make(tmp, dbs.new() if "PostgreSQL" in label else None)
                        r = throughput(lib, url, w, args.trials)
                    raw["throughput"].setdefault(label, []).append(r)
                    print(f"{label:45s} {w} workers: {r['trials_per_s']:7.1f} trials/s "
                          f"({r['trials']} trials, {r['errors']} errors {r['error_examples'][:1]})",
                          flush=True)
        if not args.skip_ask:
            for label, (lib, make) in configs.items():
                print(f"  per-ask: {label}", flush=True)
                with tempfile.TemporaryDirectory() as tmp:
                    url = make(tmp, dbs.new() if "PostgreSQL" in label else None)
                    raw["per_ask"][label] = per_ask(lib, url, args.sizes, args.fill_budget)
    finally:
        if dbs is not None:
            dbs.drop_all()
    if raw["throughput"]:
        labels = list(raw["throughput"])
        rows = []
        for i, w in enumerate(args.workers):
            rows.append((w, *(f"{raw['throughput'][lb][i]['trials_per_s']:.1f}"
                              + (f" ({raw['throughput'][lb][i]['errors']} err)"
                                 if raw['throughput'][lb][i]['errors'] else "") for lb in labels)))
        print("\nTrials per second (higher is better)\n")
        print(_table(rows, ("workers", *labels)))
    if raw["per_ask"]:
        rows = [(lb, f"{r['trials_from']}..{r['trials_to']}", f"{r['ask_ms']:.2f}", f"{r['trial_ms']:.2f}",
                 f"{r['open_ms']:.0f}") for lb, rs in raw["per_ask"].items() for r in rs]
        print("\nMedian storage time per ask vs trials in the study\n")
        print(_table(rows, ("storage", "trials in study", "ask (ms)", "ask+suggest+tell (ms)",
                            "load_study + all trials, new worker (ms)")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
