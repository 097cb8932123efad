"""Regret curves as PNG files (needs the ``plot`` extra: matplotlib).

One figure per problem: the median best-so-far regret against the trial number for each sampler,
with a band from the 25th to the 75th percentile across seeds. One summary figure: the mean rank
of each sampler against the fraction of the budget, and its median overhead per trial.

Example:
    >>> from hpopt.benchmark import run
    >>> import tempfile
    >>> files = plot_results(run(["random"], ["branin"], n_trials=5, seeds=2),
    ...                      tempfile.mkdtemp())
    >>> sorted(p.name for p in files)
    ['branin.png', 'summary.png']
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hpopt.benchmark.summary import regret_matrix, summarize

__all__ = ["plot_results"]

_CURVE_POINTS = 20  # budget fractions at which the summary figure's ranks are computed


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "plots need matplotlib: pip install 'hpopt[plot]'."
        ) from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _rank_curves(mats: dict[tuple[str, str], np.ndarray], problems: list[str],
                 samplers: list[str], n_points: int) -> dict[str, np.ndarray]:
    from scipy.stats import rankdata

    out = {s: np.zeros(n_points) for s in samplers}
    count = {s: np.zeros(n_points) for s in samplers}
    for p in problems:
        present = [s for s in samplers if (p, s) in mats]
        if not present:
            continue
        for i in range(n_points):
            med = []
            for s in present:
                m = mats[(p, s)]
                j = min(m.shape[1] - 1, max(0, math.ceil((i + 1) / n_points * m.shape[1]) - 1))
                med.append(np.median(m[:, j]))
            r = rankdata(np.nan_to_num(np.array(med, dtype=float), nan=np.inf))
            for s, rv in zip(present, r):
                out[s][i] += rv
                count[s][i] += 1
    return {s: out[s] / np.maximum(count[s], 1) for s in samplers}


def plot_results(records: Sequence[dict[str, Any]], directory: str | os.PathLike[str]
                 ) -> list[Path]:
    """Write ``<problem>.png`` for every problem and ``summary.png``; return the paths.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'hpopt[plot]'``).
    """
    plt = _pyplot()
    outdir = Path(directory)
    outdir.mkdir(parents=True, exist_ok=True)
    summary = summarize(records)
    mats = regret_matrix(records)
    colors = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(summary.samplers)}
    written = []
    for p in summary.problems:
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        positive = True
        for s in summary.samplers:
            m = mats.get((p, s))
            if m is None:
                continue
            x = np.arange(1, m.shape[1] + 1)
            q25, q50, q75 = (np.quantile(m, q, axis=0, method="nearest") for q in (0.25, 0.5, 0.75))
            finite = np.isfinite(q50)
            positive &= bool(np.all(q50[finite] > 0))
            ax.plot(x[finite], q50[finite], color=colors[s], label=s, lw=1.5)
            band = np.isfinite(q25) & np.isfinite(q75)
            ax.fill_between(x[band], q25[band], q75[band], color=colors[s], alpha=0.2, lw=0)
        kind = summary.kinds.get(p, "regret")
        ax.set_yscale("log" if positive else "symlog", **({} if positive else {"linthresh": 1e-3}))
        ax.set_xlabel("trial")
        labels = {"hypervolume": "hypervolume regret", "value": "best value"}
        ax.set_ylabel(labels.get(kind, "regret"))
        ax.set_title(f"{p}: median and quartiles over seeds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = outdir / f"{_safe(p)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.0, 4.0))
    curves = _rank_curves(mats, summary.problems, summary.samplers, _CURVE_POINTS)
    frac = np.arange(1, _CURVE_POINTS + 1) / _CURVE_POINTS
    for s in summary.samplers:
        ax1.plot(frac * 100, curves[s], color=colors[s], label=s, marker="o", ms=3)
    ax1.set_xlabel("% of the trial budget")
    ax1.set_ylabel("mean rank over problems (1 = best)")
    ax1.set_title(f"anytime mean rank, {len(summary.problems)} problems")
    ax1.grid(True, alpha=0.3)
    ax1.legend(fontsize=8)
    over = [summary.overhead[s][0] * 1e3 for s in summary.samplers]
    ax2.barh(range(len(over)), over, color=[colors[s] for s in summary.samplers])
    ax2.set_yticks(range(len(over)), summary.samplers)
    ax2.set_xscale("log")
    ax2.set_xlabel("median sampler ms per trial")
    ax2.set_title("overhead")
    fig.tight_layout()
    path = outdir / "summary.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
    return written
