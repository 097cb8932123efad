"""The pruner conformance battery over every registered pruner (never a hand-kept list)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt.testing_pruners import check_pruner, pruner_checks

# Settings a registered pruner cannot do without (anything not listed builds with no settings).
REQUIRED: dict[str, dict[str, Any]] = {
    "percentile": {"percentile": 25.0},
    "threshold": {"lower": -10.0, "upper": 10.0},
    "patient": {"wrapped": "median", "patience": 2},
}

# Out-of-range settings each pruner must refuse at construction (the error names the first key).
INVALID: dict[str, list[dict[str, Any]]] = {
    "median": [
        {"n_startup_trials": -1}, {"n_warmup_steps": -1}, {"interval_steps": 0},
        {"n_min_trials": 0}, {"n_startup_trials": 1.5}, {"n_warmup_steps": True},
    ],
    "percentile": [
        {"percentile": -0.1}, {"percentile": 100.5}, {"percentile": float("nan")},
        {"percentile": "50"}, {"n_startup_trials": -1}, {"interval_steps": 0},
    ],
    "successive_halving": [
        {"reduction_factor": 1}, {"reduction_factor": 0.5}, {"min_resource": 0},
        {"min_early_stopping_rate": -1}, {"bootstrap_count": -1}, {"max_resource": 0},
        {"min_resource": 5, "max_resource": 3}, {"reduction_factor": float("inf")},
        {"rank_by": "x"}, {"forecast_optimism": -1.0}, {"forecast_min_trials": 2},
    ],
    "hyperband": [
        {"reduction_factor": 1}, {"min_resource": 0}, {"max_resource": 0},
        {"min_resource": 10, "max_resource": 3}, {"bootstrap_count": -1}, {"max_resource": 2.5},
        {"rank_by": "x"}, {"forecast_optimism": -1.0}, {"forecast_optimism": float("inf")},
        {"max_resource": "x"}, {"max_resource": True},
    ],
    "threshold": [
        {"lower": 2.0, "upper": 1.0}, {"lower": float("nan")}, {"upper": "x"},
        {"n_warmup_steps": -1}, {"interval_steps": 0},
    ],
    "forecast": [
        {"n_startup_trials": 3}, {"top": 0.0}, {"top": 1.0}, {"ratio": 1.0}, {"ratio": -0.1},
        {"confidence": 0.4}, {"confidence": 1.0}, {"min_resource": 0}, {"reduction_factor": 1},
        {"top": "0.1"},
    ],
    "patient": [
        {"patience": -1}, {"min_delta": -0.5}, {"wrapped": 3}, {"wrapped": "no-such-pruner"},
    ],
}


def _factory(name: str):
    def make(**overrides: Any) -> Any:
        return hpopt.make_pruner(name, **{**REQUIRED.get(name, {}), **overrides})

    return make


def _cases() -> list[Any]:
    out = []
    for name in sorted(hpopt.available_pruners()):
        checks = pruner_checks(_factory(name), invalid_settings=INVALID.get(name, []))
        for check_name, check in checks:
            out.append(pytest.param(check, id=f"{name}-{check_name}"))
    return out


@pytest.mark.parametrize("check", _cases())
def test_conformance(check: Any) -> None:
    """Every registered pruner passes every check of the battery."""
    check()


def test_every_builtin_is_registered() -> None:
    """The seven built-in pruner names are registered through the plugin hook."""
    names = set(hpopt.available_pruners())
    expected = {
        "median", "percentile", "successive_halving", "hyperband", "threshold", "patient", "nop",
    }
    assert expected <= names


def test_every_registered_pruner_has_invalid_settings_listed() -> None:
    """Each built-in pruner with settings has a bad-settings row (so none goes untested)."""
    builtin = {n for n, p in hpopt.available_pruners().items() if p.distribution == "hpopt"}
    assert builtin - {"nop"} <= set(INVALID)


class _NumpyBool(hpopt.Pruner):
    def prune(self, history: Any, trial: Any) -> Any:
        return np.bool_(False)


class _Always(hpopt.Pruner):
    def prune(self, history: Any, trial: Any) -> bool:
        return True


class _LowIsBad(hpopt.Pruner):
    """Ignores the direction: prunes values below 0.5 (wrong for minimize)."""

    def prune(self, history: Any, trial: Any) -> bool:
        if not trial.intermediate_values:
            return False
        v = trial.intermediate_values[max(trial.intermediate_values)]
        return bool(np.any(np.asarray(v, dtype=float) < 0.5))


@pytest.mark.parametrize(
    ("pruner", "failing"),
    [
        (_NumpyBool, "returns_plain_bool"),
        (_Always, "never_prunes_without_reports"),
        (_Always, "best_trial_not_pruned"),
        (_LowIsBad, "direction_symmetry"),
    ],
)
def test_battery_catches_broken_pruners(pruner: type, failing: str) -> None:
    """The battery fails a pruner that breaks one of its rules, naming the check."""
    with pytest.raises(AssertionError, match=failing):
        check_pruner(lambda **kw: pruner())


def test_invalid_settings_check_catches_accepting_pruner() -> None:
    """A setting the pruner accepts though it is listed as invalid fails the battery."""
    with pytest.raises(AssertionError, match="invalid_settings"):
        check_pruner(
            lambda **kw: hpopt.make_pruner("median", **kw), invalid_settings=[{"n_warmup_steps": 3}]
        )
