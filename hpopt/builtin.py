"""hpopt's own plugin: the built-in samplers, pruners and storages.

Registered through the same ``register`` call as third-party plugins (see :mod:`hpopt.plugins`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpopt.plugins import hookimpl


@hookimpl
def hpopt_samplers() -> dict[str, Callable[..., Any]]:
    from hpopt.samplers.auto import AutoSampler
    from hpopt.samplers.cmaes import CmaEsSampler
    from hpopt.samplers.de import DESampler
    from hpopt.samplers.gp import GPSampler
    from hpopt.samplers.gradient import GradientSampler
    from hpopt.samplers.grid import GridSampler
    from hpopt.samplers.nsga2 import NSGAIISampler
    from hpopt.samplers.random import RandomSampler
    from hpopt.samplers.tpe import TPESampler

    return {"random": RandomSampler, "grid": GridSampler, "tpe": TPESampler,
            "cmaes": CmaEsSampler, "de": DESampler,
            "nsga2": NSGAIISampler, "gp": GPSampler, "gradient": GradientSampler,
            "auto": AutoSampler}


@hookimpl
def hpopt_pruners() -> dict[str, Callable[..., Any]]:
    from hpopt.pruners import (
        ForecastPruner,
        HyperbandPruner,
        MedianPruner,
        NopPruner,
        PatientPruner,
        PercentilePruner,
        SuccessiveHalvingPruner,
        ThresholdPruner,
    )

    return {
        "nop": NopPruner,
        "median": MedianPruner,
        "percentile": PercentilePruner,
        "successive_halving": SuccessiveHalvingPruner,
        "hyperband": HyperbandPruner,
        "threshold": ThresholdPruner,
        "patient": PatientPruner,
        "forecast": ForecastPruner,
    }


@hookimpl
def hpopt_storages() -> dict[str, Callable[[str], Any]]:
    from hpopt.storage.postgres import PostgresBackend
    from hpopt.storage.sqlite import SQLiteBackend

    return {
        "sqlite": SQLiteBackend.from_url,
        "postgresql": PostgresBackend.from_url,
        "postgres": PostgresBackend.from_url,
    }


@hookimpl
def hpopt_problems() -> dict[str, Any]:
    from hpopt.benchmark.suites import builtin_problems

    return builtin_problems()
