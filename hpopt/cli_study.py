"""Sub-commands of ``hpopt`` that read a stored study: ``studies``, ``trials``, ``best``, ``plot``
and ``report``.

They only read: a SQLite URL whose file does not exist (or that is not an hpopt storage) is an
error, never a new empty database. ``--storage`` defaults to the environment variable
``HPOPT_STORAGE``; ``--study`` may be left out when the storage holds exactly one study.

Examples::

    hpopt studies --storage sqlite:///runs.db
    hpopt trials --storage sqlite:///runs.db --study s1 --format csv --state complete,pruned
    hpopt best --storage sqlite:///runs.db --study s1 --format json
    hpopt plot contour --storage sqlite:///runs.db --study s1 --params lr,depth -o contour.png
    hpopt report --storage sqlite:///runs.db --study s1 -o report.html

Every error the user can fix is one line on stderr and exit code 2; an unexpected failure is one
line and exit code 1 (set ``HPOPT_DEBUG=1`` to see its traceback).
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import functools
import io
import json
import math
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from hpopt.cli import command
from hpopt.errors import HpoptError
from hpopt.storage.journal import redact_url

__all__: list[str] = []

ENV_STORAGE = "HPOPT_STORAGE"
_STATES = ("complete", "pruned", "fail", "running", "waiting")


class UserError(HpoptError, ValueError):
    """Something the user can fix (printed as one line, exit code 2)."""


# -- shared options and helpers ---------------------------------------------------------------------
def _storage_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--storage", default=None, metavar="URL",
        help=f"storage URL, e.g. sqlite:///study.db or postgresql://user@host/db "
             f"(default: the environment variable {ENV_STORAGE})",
    )


def _study_options(p: argparse.ArgumentParser) -> None:
    _storage_option(p)
    p.add_argument("--study", default=None, metavar="NAME",
                   help="study name (may be left out when the storage holds exactly one study; "
                        "`hpopt studies` lists them)")


def _format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "csv", "json"], default="table",
                   help="output format (default: table)")


_Run = Callable[[argparse.Namespace], int]


def _guarded(name: str) -> Callable[[_Run], _Run]:
    """Turn every exception of a sub-command into one line on stderr and an exit code."""

    def wrap(run: _Run) -> _Run:
        @functools.wraps(run)
        def guarded(args: argparse.Namespace) -> int:
            try:
                return int(run(args) or 0)
            except BrokenPipeError:  # `hpopt trials ... | head`
                try:
                    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (no flush error at exit)
                except OSError:
                    pass
                return 0
            except (HpoptError, ValueError, TypeError, KeyError, OSError, ImportError) as exc:
                msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
                msg = re.sub(r"\s*\n\s*", " ", msg.strip())  # one line, whatever the driver says
                print(f"hpopt {name}: error: {msg}", file=sys.stderr)
                return 2
            except Exception as exc:  # noqa: BLE001  (never a traceback for the user)
                if os.environ.get("HPOPT_DEBUG"):
                    traceback.print_exc()
                msg = re.sub(r"\s*\n\s*", " ", str(exc).strip())  # one line here too
                print(f"hpopt {name}: internal error: {type(exc).__name__}: {msg} "
                      "(set HPOPT_DEBUG=1 for the traceback)", file=sys.stderr)
                return 1

        return guarded

    return wrap


def storage_url(args: argparse.Namespace) -> str:
    """The ``--storage`` URL, or ``$HPOPT_STORAGE``."""
    url = args.storage or os.environ.get(ENV_STORAGE, "")
    if not url:
        raise UserError(f"give the storage URL with --storage URL or the environment variable {ENV_STORAGE} "
                        "(e.g. --storage sqlite:///study.db).")
    return url


def open_existing_storage(url: str) -> Any:
    """Open the storage at ``url`` for reading, refusing to create one.

    A SQLite URL must name an existing hpopt database (checked through a read-only connection
    before hpopt opens it). Any failure to open becomes one :class:`UserError` naming the URL.
    """
    from hpopt.storage import open_storage

    if "://" not in url:
        raise UserError(f"{url!r} is not a storage URL; it looks like 'sqlite:///study.db' or "
                        "'postgresql://user@host/db'.")
    scheme = url.partition("://")[0].split("+")[0].lower()
    if scheme == "sqlite":
        _check_sqlite_file(url)
    try:
        if scheme in ("postgresql", "postgres"):
            from hpopt.storage.postgres import holds_store

            if not holds_store(url):  # opening would create hpopt's tables in that database
                raise UserError(f"the database {redact_url(url)} holds no hpopt storage (no hpopt tables).")
        return open_storage(url)
    except UserError:
        raise
    except HpoptError as exc:  # already says what and where (URL without password)
        raise UserError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001  (psycopg, sqlite3, plugins: one line for all)
        raise UserError(f"cannot open storage {redact_url(url)}: {type(exc).__name__}: {exc}") from None


def _check_sqlite_file(url: str) -> None:
    import sqlite3
    from urllib.parse import quote

    from hpopt.storage.sqlite import SQLiteBackend

    path = SQLiteBackend.path_from_url(url.split("?", 1)[0])
    if not os.path.exists(path):
        raise UserError(
            f"no SQLite storage at {os.path.abspath(path)!r} (from {url!r}; sqlite:///name.db is relative "
            "to the current folder, sqlite:////abs/path.db is absolute)."
        )
    if os.path.isdir(path):
        raise UserError(f"{os.path.abspath(path)!r} is a folder, not a SQLite storage file.")
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)
        try:
            conn.execute("SELECT value FROM hpopt_meta WHERE key='schema_version'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise UserError(f"{os.path.abspath(path)!r} is not an hpopt storage ({exc}).") from None


def open_study(args: argparse.Namespace) -> Any:
    """The study named by ``--study`` in the storage of ``--storage``."""
    import hpopt

    url = storage_url(args)
    store = open_existing_storage(url)
    names = store.study_names()
    name = args.study
    if name is None:
        if len(names) == 1:
            name = names[0]
        elif not names:
            raise UserError(f"the storage {redact_url(url)} holds no study.")
        else:
            raise UserError(f"the storage holds {len(names)} studies; choose one with --study NAME: "
                            f"{_name_list(names)}.")
    elif name not in names:
        hint = f"studies there: {_name_list(names)}" if names else "the storage holds no study"
        raise UserError(f"no study named {name!r} in {redact_url(url)} ({hint}).")
    return hpopt.load_study(study_name=name, storage=store)


def _name_list(names: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _states_arg(text: str | None) -> list[str] | None:
    if not text:
        return None
    out = []
    for part in text.split(","):
        s = part.strip().lower()
        if s not in _STATES:
            raise UserError(f"--state takes a comma-separated list of {', '.join(_STATES)}; got {part!r}.")
        out.append(s)
    return out


def _printable(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``): a name or value
    holding a newline must not break a table row, nor an escape sequence reach the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _cell(value: Any) -> str:
    """A table cell: short floats, JSON for containers, empty for None, control characters escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)) or hasattr(value, "items"):
        from hpopt.export import json_safe

        return json.dumps(json_safe(value), sort_keys=True)  # ensure_ascii: no control characters
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="seconds")
    return _printable(str(value))


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    columns = [_printable(c) for c in columns]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _csv(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    from hpopt.export import iso_datetime, json_safe

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        out = []
        for c in columns:
            v = r.get(c)
            if v is None:
                out.append("")
            elif isinstance(v, (dict, list, tuple)) or hasattr(v, "items"):
                out.append(json.dumps(json_safe(v), sort_keys=True))
            elif isinstance(v, _dt.datetime):
                out.append(iso_datetime(v))  # with the UTC offset: a machine format
            else:
                out.append(v)
        w.writerow(out)
    return buf.getvalue().rstrip("\n")


def _json(obj: Any) -> str:
    from hpopt.export import json_safe

    return json.dumps(json_safe(obj), indent=2, allow_nan=False)


def _emit(rows: list[dict[str, Any]], columns: Sequence[str], fmt: str) -> None:
    if fmt == "json":
        print(_json([{c: r.get(c) for c in columns} for r in rows]))
    elif fmt == "csv":
        print(_csv(rows, columns))
    else:
        print(_table(rows, columns))


# -- studies ----------------------------------------------------------------------------------------
def _studies_args(p: argparse.ArgumentParser) -> None:
    _storage_option(p)
    _format_option(p)


@command("studies", "list the studies in a storage with their trial counts per state and best value",
         _studies_args)
@_guarded("studies")
def _studies(args: argparse.Namespace) -> int:
    import hpopt
    from hpopt.report import study_summary

    url = storage_url(args)
    store = open_existing_storage(url)
    rows = []
    for name in store.study_names():
        s = study_summary(hpopt.load_study(study_name=name, storage=store))
        rows.append({"name": name, "directions": ",".join(s["directions"]), "trials": s["n_trials"],
                     **{k: s["counts"][k] for k in _STATES}, "best": s["best"]})
    columns = ["name", "directions", "trials", *_STATES, "best"]
    if not rows and args.format == "table":
        print(f"no studies in {redact_url(url)}")
        return 0
    _emit(rows, columns, args.format)
    return 0


# -- trials -----------------------------------------------------------------------------------------
def _trials_args(p: argparse.ArgumentParser) -> None:
    _study_options(p)
    _format_option(p)
    p.add_argument("--state", default=None, metavar="STATES",
                   help=f"only trials in these states, comma-separated ({','.join(_STATES)})")
    p.add_argument("--attrs", action="store_true",
                   help="also the user and system attributes (csv and json always have user attributes)")


@command("trials", "list a study's trials (number, state, values, feasible when constraints are stored, "
         "duration, parameters)", _trials_args)
@_guarded("trials")
def _trials(args: argparse.Namespace) -> int:
    from hpopt.export import to_records

    states = _states_arg(args.state)
    study = open_study(args)
    rows = to_records(study, states=states, system_attrs=bool(args.attrs))
    columns = list(rows[0]) if rows else _base_columns(study)
    if args.format == "table":
        columns = [c for c in columns if c != "datetime_complete" and (args.attrs or not c.startswith(
            ("user_attrs_", "system_attrs_")))]
    _emit(rows, columns, args.format)
    return 0


def _base_columns(study: Any) -> list[str]:
    from hpopt.export import value_columns

    return ["number", "state", *value_columns(len(study.directions)), "datetime_start",
            "datetime_complete", "duration"]


# -- best -------------------------------------------------------------------------------------------
def _best_args(p: argparse.ArgumentParser) -> None:
    _study_options(p)
    _format_option(p)


@command("best", "show the best trial (or the Pareto front of a multi-objective study); with "
         "constraints stored, feasible trials only", _best_args)
@_guarded("best")
def _best(args: argparse.Namespace) -> int:
    from hpopt.export import trials_to_records

    study = open_study(args)
    best = best_trials(study)
    rows = trials_to_records(best, len(study.directions), system_attrs=False)
    columns = [c for c in rows[0] if c not in ("datetime_start", "datetime_complete")]
    if args.format == "table" and len(rows) == 1:
        width = max(len(_printable(c)) for c in columns)
        for c in columns:
            print(f"{_printable(c).ljust(width)}  {_cell(rows[0][c])}")
        return 0
    if args.format == "json" and len(study.directions) == 1:
        print(_json({c: rows[0][c] for c in columns}))
        return 0
    _emit(rows, columns, args.format)
    return 0


def best_trials(study: Any) -> list[Any]:
    """``[study.best_trial]`` or the Pareto front, feasible trials only (constraint values stored
    at tell time); a :class:`UserError` when nothing is COMPLETE, or nothing COMPLETE is feasible."""
    complete = _require_complete(study)
    best = study.best_trials if len(study.directions) > 1 else []
    if len(study.directions) == 1:
        try:
            best = [study.best_trial]
        except ValueError:
            best = []
    if not best:
        raise UserError(f"none of the {len(complete)} COMPLETE trials of study {study.study_name!r} "
                        "satisfies its constraints (every constraint value <= 0); `hpopt trials` lists "
                        "them with a `feasible` column.")
    return best


def _require_complete(study: Any) -> list[Any]:
    """The COMPLETE trials of ``study``; a :class:`UserError` when there is none."""
    complete = study.get_trials(states=["complete"])
    if not complete:
        raise UserError(f"study {study.study_name!r} has no COMPLETE trial yet ({_count_text(study)}).")
    return complete


def _count_text(study: Any) -> str:
    from hpopt.report import study_summary

    s = study_summary(study)
    parts = [f"{n} {k}" for k, n in s["counts"].items() if n]
    return f"{s['n_trials']} trials" + (": " + ", ".join(parts) if parts else "")


# -- plot -------------------------------------------------------------------------------------------
def _plot_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", metavar="KIND",
                   help="history, parallel, slice, contour, importance, pareto, intermediate or edf")
    _study_options(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="image file to write (.png or .svg)")
    p.add_argument("--params", default=None, metavar="A,B",
                   help="comma-separated parameter names to plot (contour: two)")
    p.add_argument("--target-index", type=int, default=None, metavar="I",
                   help="which objective of a multi-objective study to plot (0-based)")


@command("plot", "draw one plot of a study into a PNG or SVG file (needs the `plot` extra)", _plot_args)
@_guarded("plot")
def _plot(args: argparse.Namespace) -> int:
    _check_output(args.output, (".png", ".svg"))
    plot = _plot_module()
    kinds = sorted(plot.PLOTS)
    if args.kind not in plot.PLOTS:
        raise UserError(f"unknown plot kind {args.kind!r}; the kinds are: {', '.join(kinds)}.")
    study = open_study(args)
    _require_complete(study)  # no COMPLETE trial -> a clear error
    params = _params_arg(study, args.params)
    target = _target_arg(study, args.target_index)
    n_obj = len(study.directions)
    if args.kind == "pareto" and not 2 <= n_obj <= 3:
        raise UserError(f"the pareto plot needs a study with 2 or 3 objectives; study {study.study_name!r} "
                        f"has {n_obj}.")
    if args.kind == "contour" and len(params or study_params(study)) != 2:
        raise UserError("the contour plot needs exactly two parameters: --params A,B (the study's "
                        f"parameters are: {', '.join(study_params(study))}).")
    func = plot.PLOTS[args.kind]
    chooses = any(_takes(func, name) for name in ("target", "objective", "target_index"))
    if target is None and len(study.directions) > 1 and args.kind != "pareto" and chooses:
        raise UserError(f"the study has {len(study.directions)} objectives; choose the one to plot with "
                        f"--target-index 0..{len(study.directions) - 1}.")
    direction = study.directions[target] if target is not None else None
    fig = func(study, **plot_options(func, params=params, target_index=target, direction=direction))
    plot.save(fig, args.output)
    print(f"wrote {args.output}")
    return 0


def _plot_module() -> Any:
    try:
        import hpopt.plot as plot
    except ImportError as exc:
        raise UserError(f"plots need matplotlib: pip install 'hpopt[plot]' ({exc}).") from None
    return plot


def _check_output(path: str, suffixes: Sequence[str]) -> None:
    """Refuse an output path that cannot be written, before the study is read or anything drawn."""
    from pathlib import Path

    if Path(path).suffix.lower() not in suffixes:  # ".png" alone is a name without a suffix
        raise UserError(f"the output file must end with {' or '.join(suffixes)}, but got {path!r}.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {path!r}: folder {folder!r} does not exist.")
    if os.path.isdir(path):
        raise UserError(f"cannot write {path!r}: it is a folder.")


def _params_arg(study: Any, text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError("--params needs at least one parameter name.")
    known = study_params(study)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"unknown parameter {unknown[0]!r} in --params; the study's parameters are: "
                        f"{', '.join(known) or '(none)'}.")
    return names


def study_params(study: Any) -> list[str]:
    """Sorted names of every parameter any trial of ``study`` has."""
    names: set[str] = set()
    for t in study.trials:
        names.update(t.params)
    return sorted(names)


def _target_arg(study: Any, index: int | None) -> int | None:
    if index is None:
        return None
    n = len(study.directions)
    if not 0 <= index < n:
        raise UserError(f"--target-index must be in 0..{n - 1} (the study has {n} objective(s)), "
                        f"but got {index}.")
    return index


def _signature(func: Callable[..., Any]) -> tuple[set[str], bool]:
    import inspect

    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return set(), True
    return set(sig.parameters), any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


def _takes(func: Callable[..., Any], name: str) -> bool:
    accepted, var_kw = _signature(func)
    return name in accepted or var_kw


def plot_options(func: Callable[..., Any], *, params: list[str] | None, target_index: int | None,
                 direction: str | None = None) -> dict:
    """Keyword arguments for a plot function, passed only when set.

    The objective is passed as ``target=lambda t: t.values[i]`` (with ``target_name``) as the
    plots of :mod:`hpopt.plot` take it, and with it that objective's ``direction`` to a plot that
    takes one (the history's best-so-far line needs it). An option the plot does not take is an
    error rather than silently ignored.
    """
    accepted, var_kw = _signature(func)
    out: dict[str, Any] = {}
    name = getattr(func, "__name__", "this plot")
    if params is not None:
        if "params" not in accepted and not var_kw:
            raise UserError(f"--params does not apply to {name}.")
        out["params"] = params
    if target_index is not None:
        if "target" in accepted or var_kw:
            out["target"] = _value_getter(target_index)
            if "target_name" in accepted:
                out["target_name"] = f"Objective {target_index}"
            if direction is not None and "direction" in accepted:
                out["direction"] = direction
        elif "objective" in accepted:
            out["objective"] = target_index
        elif "target_index" in accepted:
            out["target_index"] = target_index
        else:
            raise UserError(f"--target-index does not apply to {name}.")
    return out


def _value_getter(index: int) -> Callable[[Any], float]:
    def target(trial: Any) -> float:
        return math.nan if trial.values is None else float(trial.values[index])

    return target


# -- report -----------------------------------------------------------------------------------------
def _report_args(p: argparse.ArgumentParser) -> None:
    _study_options(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the HTML file to write (one self-contained page)")
    p.add_argument("--seed", type=int, default=0, help="seed of the importance estimates (default 0)")
    p.add_argument("--no-plots", action="store_true",
                   help="tables only: no plots (fast; no matplotlib needed)")


@command("report", "write one self-contained HTML page about a study: summary, best trial, "
         "importance, plots", _report_args)
@_guarded("report")
def _report(args: argparse.Namespace) -> int:
    from hpopt.report import write_report

    _check_output(args.output, (".html", ".htm"))
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, but got {args.seed}.")
    study = open_study(args)
    _require_complete(study)
    notes = write_report(study, args.output, seed=args.seed, plots=not args.no_plots)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.output}")
    return 0
