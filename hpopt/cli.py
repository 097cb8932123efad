"""The ``hpopt`` command.

Sub-commands register themselves in :data:`COMMANDS` as ``name -> (help, add_arguments, run)``;
``run(args)`` returns the exit code. Errors the user can fix are printed as one line on stderr with
exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from hpopt.errors import HpoptError

__all__ = ["main", "COMMANDS"]

Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: dict[str, Command] = {}
#: Modules imported by the ``hpopt`` command to register more sub-commands.
_SUBCOMMAND_MODULES = ("hpopt.benchmark.cli", "hpopt.cli_study")


def command(
    name: str,
    help_text: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None,
) -> Callable[..., Any]:
    """Decorator registering ``run(args) -> int`` as sub-command ``name``.

    Example (in a module listed in ``_SUBCOMMAND_MODULES``)::

        def _args(p):
            p.add_argument("--out")

        @command("bench", "run benchmarks", _args)
        def _bench(args):
            return 0
    """

    def wrap(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help_text, add_arguments, run)
        return run

    return wrap


def _plugins_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=["samplers", "pruners", "storages", "problems"], default=None,
                   help="list only this kind")


@command("plugins", "list registered samplers, pruners, storages and problems with their provider",
         _plugins_args)
def _plugins(args: argparse.Namespace) -> int:
    from hpopt.plugins import _get, failed_plugins

    reg = _get()
    kinds = [args.kind] if args.kind else ["samplers", "pruners", "storages", "problems"]
    for kind in kinds:
        table = reg.table(kind)
        print(f"{kind}:")
        if not table:
            print("  (none)")
        for name, p in sorted(table.items()):
            print(f"  {name:<24} {p.distribution} {p.version}  (plugin {p.plugin})")
    for name, err in failed_plugins().items():
        print(f"failed to load plugin {name!r}: {err}", file=sys.stderr)
    return 0



def _worker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", required=True, help="storage URL, e.g. postgresql://user@host/db")
    p.add_argument("--study", required=True, help="study name (created if missing)")
    p.add_argument("--objective", required=True, help="the objective as module:function")
    p.add_argument("--n-trials", type=int, default=None, help="trials this worker runs")
    p.add_argument("--timeout", type=float, default=None, help="seconds after which no trial starts")
    p.add_argument("--sampler", default=None, help="registered sampler name (default: auto)")
    p.add_argument("--seed", type=int, default=None, help="sampler seed")
    p.add_argument("--pruner", default=None, help="registered pruner name (default: nop, no pruning)")
    p.add_argument("--direction", default=None, choices=["minimize", "maximize"])
    p.add_argument("--directions", default=None,
                   help="several objectives, comma-separated (e.g. minimize,maximize); not with --direction")
    p.add_argument("--heartbeat-interval", type=float, default=None, help="seconds between heartbeats")
    p.add_argument("--grace-period", type=float, default=None,
                   help="seconds without heartbeat before a trial is stale")
    p.add_argument("--max-retry", type=int, default=None, help="retries of a stale trial's parameters")


@command("worker", "run an independent worker against a shared study", _worker_args)
def _worker(args: argparse.Namespace) -> int:
    import importlib
    import os

    import hpopt

    module_name, sep, func_name = args.objective.partition(":")
    if not sep or not module_name or not func_name:
        raise ValueError(f"--objective must look like module:function, but got {args.objective!r}.")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--objective {args.objective!r}: cannot import {module_name!r}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ValueError(f"{args.objective!r} is not a callable objective.")
    # Checked here, as optimize() checks them, so that bad input creates no store and no study.
    if args.n_trials is not None and args.n_trials < 0:
        raise ValueError(f"`--n-trials >= 0` must hold, but got --n-trials {args.n_trials}.")
    if args.timeout is not None and not 0 < args.timeout < float("inf"):
        raise ValueError(f"`--timeout > 0` (finite) must hold, but got --timeout {args.timeout}.")
    directions = None
    if args.directions is not None:
        if args.direction is not None:
            raise ValueError("give --direction or --directions, not both.")
        directions = [d.strip() for d in args.directions.split(",")]
    study = hpopt.create_study(
        study_name=args.study, storage=args.storage, sampler=args.sampler, seed=args.seed,
        direction=args.direction, directions=directions, pruner=args.pruner, load_if_exists=True,
        heartbeat_interval=args.heartbeat_interval, grace_period=args.grace_period,
        max_retry=args.max_retry,
    )
    mine: list[int] = []
    study.optimize(func, n_trials=args.n_trials, timeout=args.timeout,
                   callbacks=[lambda _study, ft: mine.append(ft.number)])
    done = len(mine)
    best = ""
    if len(study.directions) == 1 and study.get_trials(states=["complete"]):
        try:
            bt = study.best_trial
        except ValueError:  # no COMPLETE trial satisfies its stored constraints
            best = "; no feasible trial yet"
        else:
            best = f"; best value {bt.values[0]} (trial {bt.number})"
    print(f"worker finished: ran {done} trials of study {args.study!r}{best}")
    return 0


def _storage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["upgrade"], help="what to do")
    p.add_argument("url", help="storage URL")


@command("storage", "upgrade a storage's schema to this hpopt's version", _storage_args)
def _storage(args: argparse.Namespace) -> int:
    from hpopt.storage import upgrade_storage
    from hpopt.storage.journal import redact_url

    old, new = upgrade_storage(args.url)
    shown = redact_url(args.url)
    if old == new:
        print(f"{shown}: schema version {old} is current; nothing to upgrade")
    else:
        print(f"{shown}: upgraded schema version {old} -> {new}")
    return 0


def _load_subcommands() -> None:
    """Import modules that add sub-commands (kept out of ``import hpopt`` for speed)."""
    import importlib

    for module in _SUBCOMMAND_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            pass


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    _load_subcommands()
    parser = argparse.ArgumentParser(prog="hpopt", description="hpopt: hyperparameter optimization.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpopt`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (HpoptError, ValueError, TypeError, OSError) as exc:
        print(f"hpopt {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    from hpopt.cli import main as _main  # the imported module, where sub-commands registered

    sys.exit(_main())
