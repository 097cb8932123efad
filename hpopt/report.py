"""One self-contained HTML page about a study: :func:`write_report`.

The page needs nothing but itself (inline CSS, plots as base64 PNG ``data:`` URIs, no script, no
external resource), so it can be mailed, attached to a ticket or archived. It shows:

* the summary: directions, trial counts per state, time span, sampler (when recorded), the most
  frequent failure reasons;
* the best trial with its parameters (the Pareto front for several objectives) and the top trials,
  feasible ones only when trials carry constraint values (stored at tell time by a sampler with a
  ``constraints_func``), with the count of infeasible trials;
* the parameter importance table by every available method (a note replaces a method that fails,
  e.g. with fewer than two COMPLETE trials);
* the plots: optimization history, importance, slice, parallel coordinates, contour of the two
  most important parameters, intermediate values (if any trial reported), Pareto front (several
  objectives), empirical distribution. A plot that fails is replaced by a note with the reason.

Plots and importance need the ``plot`` extra (matplotlib); without it the page still has the
tables and says what is missing. Every user string is escaped.

Example:
    >>> import hpopt, os, tempfile
    >>> from hpopt.report import write_report
    >>> study = hpopt.create_study(seed=0)
    >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=20)
    >>> path = os.path.join(tempfile.mkdtemp(), "report.html")
    >>> notes = write_report(study, path, plots=False)
    >>> "<table" in open(path).read()
    True
"""

from __future__ import annotations

import base64
import collections
import datetime as _dt
import html
import io
import math
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from hpopt.records import FrozenTrial, TrialState
from hpopt.storage.journal import redact_url

if TYPE_CHECKING:  # pragma: no cover
    from hpopt.study import Study

__all__ = ["write_report", "render_report", "study_summary"]

_STATE_ORDER = ("complete", "pruned", "fail", "running", "waiting")
_TOP = 10  # rows of the "top trials" table
_FRONT_ROWS = 50  # Pareto-front rows shown
_FAIL_REASONS = 5

_CSS = """
:root { --fg:#1d232b; --muted:#5b6573; --line:#d9dee5; --accent:#2f6fb3; --bg:#ffffff; --band:#f4f6f9; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 18px; padding-bottom: 8px; }
h1 { font-size: 26px; margin: 0 0 4px; word-break: break-word; }
h2 { font-size: 19px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 8px; }
.meta { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums;
  font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.scroll { overflow-x: auto; max-width: 100%; }
.row { display: flex; flex-wrap: wrap; gap: 10px 40px; align-items: flex-start; }
.row > div { max-width: 100%; }
th[scope=row] { font-weight: 500; color: var(--muted); white-space: nowrap; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 4px; }
.card { background: var(--band); border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px;
  min-width: 120px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 20px; font-weight: 600; }
.state-complete { color: #1f7a3a; } .state-pruned { color: #8a6d00; } .state-fail { color: #b3261e; }
.note { background: #fff7e0; border-left: 4px solid #e0b000; padding: 6px 12px; margin: 8px 0;
  font-size: 14px; }
.bar { display: inline-block; height: 10px; background: var(--accent); border-radius: 2px;
  vertical-align: middle; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 18px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: #fff; }
figure.wide { grid-column: 1 / -1; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; text-align: center; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""


# -- summary -----------------------------------------------------------------------------------------
def study_summary(study: Study, trials: Sequence[FrozenTrial] | None = None) -> dict[str, Any]:
    """Facts about a study: name, directions, trial counts per state, best value, time span.

    ``best`` is the best value of a single-objective study (None without a COMPLETE trial) or, for
    several objectives, a text ``"<k> Pareto-optimal"``; only feasible trials count (None when no
    COMPLETE trial is). ``infeasible`` is how many COMPLETE trials violate their stored constraints,
    None when no trial's feasibility is known (an unconstrained study).
    """
    from hpopt.study import feasibility

    trials = study.trials if trials is None else list(trials)
    counts = collections.Counter(t.state.name.lower() for t in trials)
    dirs = list(study.directions)
    verdicts = feasibility([t for t in trials if t.state is TrialState.COMPLETE], study)
    infeasible = None if verdicts is None else sum(v is False for v in verdicts)
    best: Any = None
    if counts["complete"]:
        if len(dirs) == 1:
            try:
                best = float(study.best_value)
            except ValueError:  # no COMPLETE trial is feasible
                best = None
        else:
            best = f"{len(study.best_trials)} Pareto-optimal"
    starts = [t.started for t in trials if t.started is not None]
    ends = [t.finished for t in trials if t.finished is not None]
    durations = [t.finished - t.started for t in trials if t.started is not None and t.finished is not None]
    return {
        "name": study.study_name,
        "directions": dirs,
        "n_trials": len(trials),
        "counts": {s: counts[s] for s in _STATE_ORDER},
        "infeasible": infeasible,
        "best": best,
        "first_start": min(starts) if starts else None,
        "last_finish": max(ends) if ends else None,
        "trial_seconds": float(sum(durations)) if durations else 0.0,
    }


# -- formatting helpers ------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    """A value as escaped HTML text: floats with 6 significant digits, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _e(value)
    if isinstance(value, float):
        return _e(f"{value:.6g}")
    if isinstance(value, (list, tuple)):
        return _e("(" + ", ".join(_plain(v) for v in value) + ")")
    return _e(_plain(value))


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    if hasattr(value, "items"):
        return "{" + ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], raw: Sequence[bool] = ()) -> str:
    """An HTML table; cells are escaped unless their column is marked raw (already HTML)."""
    out = ['<div class="scroll"><table><thead><tr>']
    out += [f"<th>{_e(h)}</th>" for h in headers]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            if i < len(raw) and raw[i]:
                out.append(f"<td>{cell}</td>")
            else:
                cls = ' class="num"' if _is_num(cell) else ""
                out.append(f"<td{cls}>{_fmt(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _kv_table(rows: Sequence[Sequence[Any]]) -> str:
    """A two-column key/value table (keys as row headers, values escaped)."""
    num = ' class="num"'
    body = "".join(
        f'<tr><th scope="row">{_e(k)}</th><td{num if _is_num(v) else ""}>{_fmt(v)}</td></tr>'
        for k, v in rows
    )
    return f'<div class="scroll"><table><tbody>{body}</tbody></table></div>'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _when(t: float | None) -> str:
    if t is None:
        return "n/a"
    return _dt.datetime.fromtimestamp(t).isoformat(sep=" ", timespec="seconds")


def _span(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    days, h = divmod(hours, 24)
    if days:
        return f"{days} d {h} h {m} min"
    return f"{h} h {m} min {s} s" if h else f"{m} min {s} s"


# -- importance --------------------------------------------------------------------------------------
def _importance_methods(module: Any) -> list[str]:
    names = getattr(module, "METHODS", None)
    if isinstance(names, dict):
        return list(names)
    if isinstance(names, (list, tuple)):
        return [str(n) for n in names]
    return ["ped-anova", "fanova"]


def _importances(
    study: Study, target: Callable[[FrozenTrial], float] | None, seed: int, notes: list[str],
    direction: str | None = None,
) -> dict[str, dict[str, float]]:
    """method -> {param: importance}; failures become notes. ``direction`` is the target's
    direction, passed to the methods that take one (e.g. PED-ANOVA's top set)."""
    try:
        import hpopt.importance as imp
    except ImportError as exc:
        notes.append(f"parameter importance is unavailable: {exc}")
        return {}
    out: dict[str, dict[str, float]] = {}
    table = getattr(imp, "METHODS", None)
    for method in _importance_methods(imp):
        settings = table.get(method) if isinstance(table, dict) else None
        extra = {"direction": direction} if direction and settings and "direction" in settings else {}
        try:
            values = dict(imp.get_param_importances(study, method=method, target=target, seed=seed, **extra))
        except Exception as exc:  # noqa: BLE001  (the report degrades to a note)
            notes.append(f"importance by {method} is unavailable: {exc}")
            continue
        if not any(v > 0 for v in values.values()):
            notes.append(f"importance by {method}: nothing to explain yet (it needs at least two COMPLETE "
                         "trials with different values and parameters that vary)")
            continue
        out[method] = values
    return out


def _importance_html(imps: dict[str, dict[str, float]]) -> str:
    params = sorted({p for d in imps.values() for p in d},
                    key=lambda p: -max(d.get(p, 0.0) for d in imps.values()))
    methods = list(imps)
    rows = []
    for p in params:
        row: list[Any] = [p]
        for m in methods:
            v = imps[m].get(p)
            if v is None or not math.isfinite(v):
                row.append("")
            else:
                width = int(round(120 * max(0.0, min(1.0, v))))
                row.append(f'<span class="bar" style="width:{width}px"></span> '
                           f'<code>{_e(f"{v:.3f}")}</code>')
        rows.append(row)
    return _table(["parameter", *methods], rows, raw=[False] + [True] * len(methods))


def _ranked_params(imps: dict[str, dict[str, float]], trials: Sequence[FrozenTrial]) -> list[str]:
    """Parameters from most to least important (first method that worked), else by first use."""
    for d in imps.values():
        if d:
            return sorted(d, key=lambda p: -d[p])
    seen: dict[str, None] = {}
    for t in trials:
        for p in t.params:
            seen.setdefault(p, None)
    return list(seen)


# -- plots -------------------------------------------------------------------------------------------
def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    try:
        import matplotlib.pyplot as plt  # only to release a pyplot-managed figure

        plt.close(fig)
    except Exception:  # noqa: BLE001
        pass
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(plots: dict[str, Callable[..., Any]], kind: str, caption: str, study: Study,
            notes: list[str], *, wide: bool = False, **options: Any) -> str:
    func = plots.get(kind)
    if func is None:
        notes.append(f"the {kind} plot is not available in this hpopt.plot")
        return ""
    try:
        data = _png(func(study, **options))
    except Exception as exc:  # noqa: BLE001  (a plot that fails becomes a note)
        notes.append(f"{caption}: not drawn ({type(exc).__name__}: {exc})")
        return f'<figure class="wide">{_note(f"{caption}: not drawn ({exc})")}</figure>'
    cls = ' class="wide"' if wide else ""
    return (f'<figure{cls}><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _target(index: int) -> Callable[[FrozenTrial], float]:
    def target(trial: FrozenTrial) -> float:
        return math.nan if trial.values is None else float(trial.values[index])

    return target


def _plots_html(study: Study, trials: Sequence[FrozenTrial], ranked: list[str], seed: int,
                notes: list[str]) -> str:
    try:
        import matplotlib  # noqa: F401  (hpopt.plot imports without it; each plot would fail alone)

        from hpopt.plot import PLOTS
    except ImportError as exc:
        notes.append(f"plots are unavailable: {exc} (pip install 'hpopt[plot]')")
        return _note(f"Plots are unavailable: {exc} (pip install 'hpopt[plot]').")
    dirs = study.directions
    multi = len(dirs) > 1
    figs: list[str] = []
    if multi and len(dirs) in (2, 3):
        figs.append(_figure(PLOTS, "pareto", "Pareto front", study, notes))
    n_obj = min(len(dirs), 3) if multi else 1
    for i in range(n_obj):
        opts: dict[str, Any] = {"target": _target(i), "target_name": f"Objective {i}"} if multi else {}
        tag = f" (objective {i}, {dirs[i]})" if multi else ""
        figs.append(_figure(PLOTS, "history", f"Optimization history{tag}", study, notes,
                            **({**opts, "direction": dirs[i]} if multi else opts)))
        if not multi or i == 0:
            figs.append(_figure(PLOTS, "importance", f"Parameter importance{tag}", study, notes, **opts))
        figs.append(_figure(PLOTS, "slice", f"Slice{tag}", study, notes, wide=True, **opts))
        if i == 0:
            figs.append(_figure(PLOTS, "parallel", f"Parallel coordinates{tag}", study, notes, wide=True,
                                **opts))
            if len(ranked) >= 2:
                figs.append(_figure(PLOTS, "contour",
                                    f"Contour of the two most important parameters, {ranked[0]} and "
                                    f"{ranked[1]}{tag}", study, notes, params=ranked[:2], **opts))
            figs.append(_figure(PLOTS, "edf", f"Empirical distribution of the values{tag}", study, notes,
                                **opts))
    if any(t.intermediate_values for t in trials):
        figs.append(_figure(PLOTS, "intermediate", "Intermediate values (learning curves)", study, notes,
                            wide=True, **({"objective": 0} if multi else {})))
    return '<div class="grid">' + "".join(f for f in figs if f) + "</div>"


# -- the page ----------------------------------------------------------------------------------------
def _summary_html(study: Study, s: dict[str, Any], trials: Sequence[FrozenTrial]) -> str:
    dirs = s["directions"]
    cards = [("trials", s["n_trials"])] + [(k, v) for k, v in s["counts"].items() if v or k in (
        "complete", "pruned", "fail")]
    if s.get("infeasible") is not None:
        cards.insert(2, ("infeasible", s["infeasible"]))
    if len(dirs) == 1 and s["best"] is not None:
        cards.append(("best value", f"{s['best']:.6g}"))
    elif s["best"] is not None:
        cards.append(("Pareto front", s["best"].split()[0]))
    card_html = "".join(
        f'<div class="card"><div class="k">{_e(k)}</div><div class="v state-{_e(k)}">{_e(v)}</div></div>'
        for k, v in cards
    )
    sampler = study.system_attrs.get("sampler") or study.user_attrs.get("sampler")
    span = (s["last_finish"] - s["first_start"]) if s["first_start"] and s["last_finish"] else None
    rows: list[list[Any]] = [
        ["study", s["name"]],
        ["directions", ", ".join(dirs)],
        ["storage", redact_url(study.storage.url)],
        ["first trial started", _when(s["first_start"])],
        ["last trial finished", _when(s["last_finish"])],
        ["wall-clock span", _span(span) if span is not None else "n/a"],
        ["time spent in trials", _span(s["trial_seconds"])],
        ["sampler", _plain(sampler) if sampler else "not recorded in the storage"],
    ]
    for k, v in sorted(study.user_attrs.items()):
        rows.append([f"user attribute {k}", _plain(v)[:300]])
    out = f'<div class="cards">{card_html}</div><div class="row"><div>' + _kv_table(rows) + "</div>"
    reasons = collections.Counter(
        str(t.system_attrs.get("fail_reason", "no reason recorded"))[:200]
        for t in trials if t.state is TrialState.FAIL
    )
    if reasons:
        out += "<div><h3>Most frequent failure reasons</h3>" + _table(
            ["trials", "reason"], [[n, r] for r, n in reasons.most_common(_FAIL_REASONS)]) + "</div>"
    return out + "</div>"


def _params_of(trials: Sequence[FrozenTrial]) -> list[str]:
    seen: dict[str, None] = {}
    for t in trials:
        for p in t.params:
            seen.setdefault(p, None)
    return list(seen)


def _best_html(study: Study, complete: Sequence[FrozenTrial]) -> str:
    from hpopt.study import feasibility

    dirs = study.directions
    if not complete:
        return _note("No trial is COMPLETE yet: there is no best trial.")
    verdicts = feasibility(complete, study)
    excluded = ""
    if verdicts is not None:
        n_bad = sum(v is False for v in verdicts)
        complete = [t for t, v in zip(complete, verdicts) if v is not False]
        if not complete:
            return _note(f"None of the {n_bad} COMPLETE trials satisfies its constraints (every "
                         "constraint value <= 0): there is no best trial.")
        if n_bad:
            excluded = _note(f"{n_bad} COMPLETE trial(s) violating their constraints are left out of "
                             "the best trials.")
    if len(dirs) == 1:
        best = study.best_trial
        rows: list[list[Any]] = [["trial", best.number], ["value", best.values[0]]]
        rows += [[f"param {k}", v] for k, v in best.params.items()]
        rows += [[f"user attribute {k}", _plain(v)[:300]] for k, v in sorted(best.user_attrs.items())]
        if best.duration is not None:
            rows.append(["duration", _span(best.duration.total_seconds())])
        out = '<div class="row"><div><h3>Best trial</h3>' + _kv_table(rows) + "</div>"
        sign = 1.0 if dirs[0] == "minimize" else -1.0
        top = sorted(complete, key=lambda t: (sign * t.values[0], t.number))[:_TOP]
        names = _params_of(top)
        out += f"<div><h3>Top {len(top)} trials</h3>" + _table(
            ["trial", "value", *names], [[t.number, t.values[0], *(t.params.get(n) for n in names)]
                                         for t in top])
        return excluded + out + "</div></div>"
    front = study.best_trials
    names = _params_of(front)
    shown = front[:_FRONT_ROWS]
    more = f" (first {_FRONT_ROWS} of {len(front)})" if len(front) > _FRONT_ROWS else ""
    return (excluded + f"<h3>Pareto-optimal trials{more}</h3>"
            + _table(["trial", *(f"objective {i} ({d})" for i, d in enumerate(dirs)), *names],
                     [[t.number, *t.values, *(t.params.get(n) for n in names)] for t in shown]))


def _check_seed(seed: Any) -> None:
    """The importance methods take seeds >= 0: refuse any other before anything is computed."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be an int >= 0, but got {seed!r}.")


def render_report(study: Study, *, plots: bool = True, seed: int = 0,
                  title: str | None = None) -> tuple[str, list[str]]:
    """The report page as a string, and the notes (what could not be computed or drawn, and why).

    Args:
        study: The study.
        plots: Draw the plots (needs matplotlib); False gives the tables only (fast).
        seed: Seed of the importance estimates (an int >= 0).
        title: The page title (default: the study's name).

    Raises:
        ValueError: ``seed`` is not an int >= 0.
    """
    from hpopt import __version__

    _check_seed(seed)
    notes: list[str] = []
    trials = study.trials
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    s = study_summary(study, trials)
    multi = len(study.directions) > 1
    import_notes: list[str] = []
    if complete:
        imps = _importances(study, _target(0) if multi else None, seed, import_notes,
                            direction=study.directions[0] if multi else None)
    else:
        imps = {}
        import_notes.append("No trial is COMPLETE: no importance and no plots.")
    notes += import_notes
    ranked = _ranked_params(imps, complete)
    title = title or f"Study {s['name']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} · hpopt report</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{_e(title)}</h1><div class=\"meta\">hpopt {_e(__version__)} report, generated "
        f"{_e(_dt.datetime.now().isoformat(sep=' ', timespec='seconds'))}</div></header>",
        "<section><h2>Summary</h2>", _summary_html(study, s, trials), "</section>",
        "<section><h2>Best</h2>", _best_html(study, complete), "</section>",
        "<section><h2>Parameter importance</h2>",
    ]
    if imps:
        tag = " (objective 0)" if multi else ""
        parts.append(f"<p>Share of the variation of the objective{tag} explained by each parameter, "
                     "by each method (each column sums to 1).</p>")
        parts.append(_importance_html(imps))
    parts += [_note(n) for n in import_notes]
    if not imps and not import_notes:
        parts.append(_note("Importance could not be computed."))
    parts.append("</section>")
    if plots and complete:
        parts += ["<section><h2>Plots</h2>", _plots_html(study, trials, ranked, seed, notes), "</section>"]
    parts.append(f"<footer>{s['n_trials']} trials · study {_e(s['name'])} · written by hpopt "
                 f"{_e(__version__)}</footer></main></body></html>")
    return "\n".join(parts), notes


def write_report(study: Study, path: str | os.PathLike[str], *, plots: bool = True, seed: int = 0,
                 title: str | None = None) -> list[str]:
    """Write the report of ``study`` to ``path`` (one self-contained HTML file).

    The page is built completely before the file is opened, so a failure leaves no partial file.

    Args:
        study: The study.
        path: The ``.html`` file to write (its folder must exist; overwritten if present).
        plots: Draw the plots (needs matplotlib).
        seed: Seed of the importance estimates (the page is deterministic given the study and seed,
            apart from its generation time).
        title: The page title (default: the study's name).

    Returns:
        Notes on what could not be computed or drawn (empty when everything is there).

    Raises:
        ValueError: The folder of ``path`` does not exist, ``path`` is a folder, or ``seed`` is not
            an int >= 0.
        OSError: The file cannot be written (nothing is left behind).
    """
    import uuid

    _check_seed(seed)
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write the report to {target!r}: folder {folder!r} does not exist.")
    if os.path.isdir(target):
        raise ValueError(f"cannot write the report to {target!r}: it is a folder.")
    page, notes = render_report(study, plots=plots, seed=seed, title=title)
    # A new, uniquely named file in the same folder (atomic replace; never clobbers a user's
    # "<path>.tmp"; the umask applies as to any new file), removed when writing or replacing fails.
    tmp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return notes
