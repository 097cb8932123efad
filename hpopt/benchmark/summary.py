"""Summaries of benchmark results: per-problem regret, ranks, wins and ties, overhead; Markdown.

Definitions (stated in the report too):

* **final regret**: best-so-far regret after the last trial (see :mod:`hpopt.benchmark.runner`);
  a run with no finished trial counts as +inf;
* **rank** on a problem: rank of the sampler's median final regret among the samplers (1 = best,
  ties share the average rank); **mean rank** averages it over problems, also at 25% and 50% of
  the budget (anytime regret);
* **win / tie**: on each problem the sampler with the lowest median is compared with every other
  sampler by a two-sided Mann-Whitney U test over seeds (``scipy.stats.mannwhitneyu``,
  alpha 0.05). If every other sampler is significantly worse it *wins*; otherwise it and every
  sampler not significantly worse share a *tie*;
* **overhead**: median over all trials of the seconds spent outside the objective (sampler,
  pruner and study bookkeeping), per trial.

Only runs with ``status`` ``ok`` or ``timeout`` enter the statistics; failed and skipped runs are
counted separately.

Example:
    >>> from hpopt.benchmark import run
    >>> s = summarize(run(["random"], ["branin"], n_trials=4, seeds=2))
    >>> s.samplers, s.problems
    (['random'], ['branin'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

__all__ = ["Summary", "summarize", "to_markdown", "regret_matrix", "FRACTIONS", "ALPHA"]

#: Budget fractions at which anytime regret is reported.
FRACTIONS = (0.25, 0.5, 1.0)
#: Significance level of the rank test.
ALPHA = 0.05
_USED = ("ok", "timeout")


def _regret_at(record: dict[str, Any], fraction: float) -> float:
    regret = record.get("regret") or []
    n = int(record["n_trials"])
    idx = max(1, math.ceil(fraction * n)) - 1
    if not regret:
        return math.inf
    value = regret[min(idx, len(regret) - 1)]  # a run stopped early keeps its last incumbent
    return math.inf if value is None else float(value)


def regret_matrix(records: Iterable[dict[str, Any]], n_points: int | None = None
                  ) -> dict[tuple[str, str], np.ndarray]:
    """(problem, sampler) -> array ``(seeds, trials)`` of best-so-far regret (inf before any)."""
    groups: dict[tuple[str, str], list[list[float]]] = {}
    for rec in _latest(list(records)):
        if rec.get("status") not in _USED:
            continue
        n = n_points or int(rec["n_trials"])
        reg = [math.inf if v is None else float(v) for v in rec.get("regret") or []]
        if not reg:
            reg = [math.inf]
        reg = (reg + [reg[-1]] * n)[:n]
        groups.setdefault((rec["problem"], rec["sampler"]), []).append(reg)
    return {k: np.array(v) for k, v in groups.items()}


@attrs.frozen
class Summary:
    """The statistics behind the report.

    Attributes:
        samplers: Sampler labels in first-seen order.
        problems: Problem names in first-seen order.
        final: (problem, sampler) -> final regrets across seeds.
        anytime: (problem, sampler, fraction) -> regrets across seeds at that budget fraction.
        ranks: (problem, fraction) -> {sampler: rank of its median}.
        outcome: problem -> {sampler: "win" | "tie" | ""}.
        overhead: sampler -> (median sampler s/trial, median objective s/trial).
        counts: sampler -> {status: runs}.
        kinds: problem -> regret kind (``regret``, ``value``, ``hypervolume``).
        n_trials: problem -> trials per run.
        steps: (problem, sampler) -> total steps each run consumed (curve problems only).
        runner: (median runner seconds per run, share of the total process time) measured as
            ``process_seconds - wall_seconds``, or None when the records lack them.
    """

    samplers: list[str]
    problems: list[str]
    final: dict[tuple[str, str], np.ndarray]
    anytime: dict[tuple[str, str, float], np.ndarray]
    ranks: dict[tuple[str, float], dict[str, float]]
    outcome: dict[str, dict[str, str]]
    overhead: dict[str, tuple[float, float]]
    counts: dict[str, dict[str, int]]
    kinds: dict[str, str]
    n_trials: dict[str, int]
    steps: dict[tuple[str, str], np.ndarray] = attrs.field(factory=dict)
    runner: tuple[float, float] | None = None

    def mean_rank(self, sampler: str, fraction: float = 1.0) -> float:
        """Average over problems of the sampler's rank at ``fraction`` of the budget."""
        ranks = [r[sampler] for (p, f), r in self.ranks.items() if f == fraction and sampler in r]
        return float(np.mean(ranks)) if ranks else math.nan

    def wins_ties(self, sampler: str) -> tuple[int, int]:
        """Problems won outright and problems tied for best."""
        marks = [o.get(sampler, "") for o in self.outcome.values()]
        return marks.count("win"), marks.count("tie")


def _rank(medians: dict[str, float]) -> dict[str, float]:
    from scipy.stats import rankdata

    names = list(medians)
    vals = np.array([medians[n] for n in names], dtype=float)
    vals = np.where(np.isnan(vals), np.inf, vals)
    return dict(zip(names, (float(r) for r in rankdata(vals))))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    both = np.concatenate([a, b])
    return bool(np.all(both == both[0]))


def _outcome(groups: dict[str, np.ndarray]) -> dict[str, str]:
    from scipy.stats import mannwhitneyu

    if len(groups) < 2:
        return {}
    medians = {s: float(np.median(v)) for s, v in groups.items()}
    best = min(medians, key=lambda s: (medians[s], s))
    tied = []
    for s, v in groups.items():
        if s == best:
            continue
        a, b = groups[best], v
        if _same(a, b):
            tied.append(s)
            continue
        # inf (no finished trial) is replaced by a value worse than every finite one (also when
        # they are all negative, as the values of a problem without a known optimum can be)
        both = np.concatenate([a, b])
        finite = both[np.isfinite(both)]
        big = finite.max() + abs(finite.max()) + 1.0 if finite.size else 1.0
        p = mannwhitneyu(np.where(np.isfinite(a), a, big), np.where(np.isfinite(b), b, big),
                         alternative="two-sided").pvalue
        if not p < ALPHA:
            tied.append(s)
    if not tied:
        return {best: "win"}
    return {s: "tie" for s in (best, *tied)}


def _latest(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per run (sampler, problem, seed, trials): the last one, as :func:`run` reads them.

    A file given twice, overlapping files, or a failed run re-run with ``retry_failed`` would
    otherwise count the same seed twice (and so decide wins on duplicated samples).
    """
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rec in records:
        key = (rec.get("sampler"), rec.get("problem"), rec.get("seed"), rec.get("n_trials"))
        latest[key] = rec  # the first position (column order), the last record
    return list(latest.values())


def summarize(records: Sequence[dict[str, Any]]) -> Summary:
    """Compute the :class:`Summary` of a list of run records (from :func:`run` or a file).

    A run recorded more than once (same sampler label, problem, seed and trials) counts once,
    with its last record.
    """
    records = _latest(records)
    samplers: list[str] = []
    problems: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    kinds: dict[str, str] = {}
    n_trials: dict[str, int] = {}
    sampler_s: dict[str, list[float]] = {}
    objective_s: dict[str, list[float]] = {}
    used = []
    for rec in records:
        s, p = rec["sampler"], rec["problem"]
        if s not in samplers:
            samplers.append(s)
        c = counts.setdefault(s, {})
        c[rec.get("status", "?")] = c.get(rec.get("status", "?"), 0) + 1
        if rec.get("status") not in _USED:
            continue
        if p not in problems:
            problems.append(p)
        kinds[p] = rec.get("regret_kind", "regret")
        n_trials[p] = max(n_trials.get(p, 0), int(rec["n_trials"]))
        sampler_s.setdefault(s, []).extend(rec.get("sampler_seconds") or [])
        objective_s.setdefault(s, []).extend(rec.get("objective_seconds") or [])
        used.append(rec)
    final: dict[tuple[str, str], list[float]] = {}
    anytime: dict[tuple[str, str, float], list[float]] = {}
    for rec in used:
        key = (rec["problem"], rec["sampler"])
        final.setdefault(key, []).append(_regret_at(rec, 1.0))
        for f in FRACTIONS:
            anytime.setdefault((*key, f), []).append(_regret_at(rec, f))
    steps: dict[tuple[str, str], list[int]] = {}
    for rec in used:
        if rec.get("steps") is not None:
            steps.setdefault((rec["problem"], rec["sampler"]), []).append(int(sum(rec["steps"])))
    final_a = {k: np.array(v) for k, v in final.items()}
    anytime_a = {k: np.array(v) for k, v in anytime.items()}
    ranks: dict[tuple[str, float], dict[str, float]] = {}
    outcome: dict[str, dict[str, str]] = {}
    for p in problems:
        present = [s for s in samplers if (p, s) in final_a]
        for f in FRACTIONS:
            ranks[(p, f)] = _rank({s: float(np.median(anytime_a[(p, s, f)])) for s in present})
        outcome[p] = _outcome({s: final_a[(p, s)] for s in present})
    overhead = {
        s: (float(np.median(sampler_s[s])) if sampler_s.get(s) else math.nan,
            float(np.median(objective_s[s])) if objective_s.get(s) else math.nan)
        for s in samplers
    }
    timed = [(r["process_seconds"], r["wall_seconds"]) for r in records
             if "process_seconds" in r and "wall_seconds" in r]
    runner = None
    if timed:
        proc, wall = np.array(timed).T
        share = float(np.sum(proc - wall) / max(float(np.sum(proc)), 1e-12))
        runner = (float(np.median(proc - wall)), share)
    return Summary(samplers, problems, final_a, anytime_a, ranks, outcome, overhead, counts,
                   kinds, n_trials, {k: np.array(v) for k, v in steps.items()}, runner)


# -- Markdown ------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.4g}"
    return f"{x:.2e}"


def _ms(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x * 1e3:.3g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def to_markdown(summary: Summary, *, anytime_per_problem: bool = True) -> str:
    """The report as Markdown: an across-problems table, then per-problem tables."""
    s = summary
    lines = ["### Across problems", ""]
    rows = []
    for name in s.samplers:
        wins, ties = s.wins_ties(name)
        c = s.counts.get(name, {})
        bad = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k != "ok")
        rows.append([
            f"`{name}`", *(_fmt(s.mean_rank(name, f)) for f in (1.0, 0.25, 0.5)),
            str(wins), str(ties), _ms(s.overhead[name][0]), _ms(s.overhead[name][1]),
            f"{c.get('ok', 0)}" + (f" ({bad})" if bad else ""),
        ])
    lines += _table(["sampler", "mean rank", "mean rank @25%", "mean rank @50%", "wins", "ties",
                     "median sampler ms/trial", "median objective ms/trial", "runs ok"], rows)
    lines += [
        "",
        f"Rank: of the median final regret on each problem, averaged over {len(s.problems)} "
        "problems (1 = best). Wins/ties: best median and significantly better than every "
        f"other sampler (wins) or not significantly different from the best (ties), two-sided "
        f"Mann-Whitney U across seeds, alpha {ALPHA}.",
        "",
    ]
    if s.runner is not None:
        lines += [
            f"Runner overhead (worker start to record received, minus the run itself): median "
            f"{s.runner[0] * 1e3:.3g} ms per run, {s.runner[1]:.1%} of all worker time.",
            "",
        ]
    lines += [
        "### Final regret per problem: median [q25, q75] (rank)",
        "",
    ]
    rows = []
    for p in s.problems:
        row = [f"{p}" + (" (hv)" if s.kinds.get(p) == "hypervolume" else "")
               + (" (value)" if s.kinds.get(p) == "value" else "")]
        for name in s.samplers:
            v = s.final.get((p, name))
            if v is None:
                row.append("n/a")
                continue
            q25, q50, q75 = np.percentile(v, [25, 50, 75]) if np.all(np.isfinite(v)) else (
                np.quantile(v, [0.25, 0.5, 0.75], method="nearest"))
            mark = {"win": " **win**", "tie": " *tie*"}.get(s.outcome.get(p, {}).get(name, ""), "")
            row.append(f"{_fmt(q50)} [{_fmt(q25)}, {_fmt(q75)}] ({_fmt(s.ranks[(p, 1.0)][name])})"
                       f"{mark}")
        rows.append(row)
    lines += _table(["problem", *(f"`{n}`" for n in s.samplers)], rows)
    lines += ["", "(hv): true front's hypervolume minus the observed one; (value): the optimum is "
              "unknown, the incumbent's value is shown.", ""]
    if s.steps:
        lines += ["### Steps consumed per run (curve problems): median", ""]
        rows = []
        for p in s.problems:
            if not any((p, n) in s.steps for n in s.samplers):
                continue
            rows.append([p] + [str(int(np.median(s.steps[(p, n)]))) if (p, n) in s.steps
                               else "n/a" for n in s.samplers])
        lines += _table(["problem", *(f"`{n}`" for n in s.samplers)], rows)
        lines.append("")
    if anytime_per_problem:
        lines += ["### Anytime regret: median at 25% / 50% / 100% of the budget", ""]
        rows = []
        for p in s.problems:
            row = [p]
            for name in s.samplers:
                if (p, name, 1.0) not in s.anytime:
                    row.append("n/a")
                    continue
                row.append(" / ".join(_fmt(float(np.median(s.anytime[(p, name, f)])))
                                      for f in FRACTIONS))
            rows.append(row)
        lines += _table(["problem", *(f"`{n}`" for n in s.samplers)], rows)
        lines.append("")
    return "\n".join(lines)
