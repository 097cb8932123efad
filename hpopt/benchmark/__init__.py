"""Benchmark samplers on synthetic problems: problems, the runner, summaries and plots.

Everything behind ``hpopt bench``. Problems are registered through the ``hpopt_problems`` plugin
hook; samplers are hpopt's registered ones or peer libraries (``optuna:tpe``, ...) from the
``bench`` extra, which hpopt itself never imports.

Example:
    >>> from hpopt.benchmark import get_problem, run, summarize
    >>> get_problem("sphere-2d").optimum
    0.0
    >>> records = run(["random"], ["sphere-2d"], n_trials=10, seeds=2)
    >>> summarize(records).samplers
    ['random']
"""

from os import PathLike
from pathlib import Path
from typing import Any

from hpopt.benchmark.catalog import get_problem, problem_tags, select_problems
from hpopt.benchmark.functions import FUNCTIONS, continuous_problem
from hpopt.benchmark.hypervolume import hypervolume, nondominated
from hpopt.benchmark.peers import PEERS, SamplerSpec, available_peers, parse_spec
from hpopt.benchmark.problem import FixedTrial, Problem
from hpopt.benchmark.runner import load_results, run, run_one
from hpopt.benchmark.summary import Summary, summarize, to_markdown

__all__ = [
    "Problem", "FixedTrial", "get_problem", "select_problems", "problem_tags", "FUNCTIONS",
    "continuous_problem", "hypervolume", "nondominated", "PEERS", "SamplerSpec", "parse_spec",
    "available_peers", "run", "run_one", "load_results", "Summary", "summarize", "to_markdown",
    "plot_results",
]


def plot_results(records: list[dict[str, Any]], directory: str | PathLike[str]) -> list[Path]:
    """Write regret-curve PNGs; see :func:`hpopt.benchmark.plots.plot_results` (``plot`` extra)."""
    # a wrapper so that importing hpopt.benchmark never imports matplotlib
    from hpopt.benchmark.plots import plot_results as _plot

    return _plot(records, directory)
