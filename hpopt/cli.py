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
_SUBCOMMAND_MODULES = ("hpopt.benchmark.cli",)


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
    sys.exit(main())
