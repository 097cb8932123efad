"""The sampler and storage conformance batteries over every registered sampler and every backend."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import hpopt
from hpopt.testing import (
    ConformanceError,
    check_sampler,
    check_storage,
    sampler_checks,
    sampler_space,
    storage_checks,
)


def _grid_over_battery_space() -> dict[str, list[Any]]:
    """A grid with the bounds (or choices) of every parameter of the battery's space."""
    grid: dict[str, list[Any]] = {}
    for name, dist in sampler_space().items():
        if isinstance(dist, hpopt.Categorical):
            grid[name] = list(dist.choices)
        else:
            grid[name] = sorted({dist.low, dist.high})
    return grid


# Settings a registered sampler cannot be built without (anything else builds from its seed alone).
REQUIRED: dict[str, dict[str, Any]] = {
    "grid": {"search_space": _grid_over_battery_space(), "shuffle": True},
}

# Checks that cannot apply to a sampler, with the reason.
EXPECTED_FAILURES: dict[str, dict[str, str]] = {
    "grid": {
        "conditional_space": "a grid only proposes the parameters it lists; branch parameters are not in it",
        "changed_ranges": "a grid has fixed values; parameters outside its search_space are refused",
        "extreme_ranges": "a grid has fixed values; parameters outside its search_space are refused",
    },
}


def _factory(name: str) -> Callable[..., Any]:
    """``make(seed=...)`` building the registered sampler ``name`` with its required settings."""

    def make(*, seed: int) -> Any:
        return hpopt.make_sampler(name, seed=seed, **REQUIRED.get(name, {}))

    make.__name__ = f"make_{name}"
    return make


SAMPLERS = sorted(hpopt.available_samplers())
CHECK_NAMES = [n for n, _ in sampler_checks(_factory("random"))]


def _sampler_cases() -> list[Any]:
    cases = []
    for sampler, check in itertools.product(SAMPLERS, CHECK_NAMES):
        marks = []
        reason = EXPECTED_FAILURES.get(sampler, {}).get(check)
        if reason is not None:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        cases.append(pytest.param(sampler, check, marks=marks, id=f"{sampler}-{check}"))
    return cases


@pytest.mark.parametrize(("sampler", "check"), _sampler_cases())
def test_sampler_check(sampler: str, check: str) -> None:
    """Every registered sampler passes every sampler check (except declared expected failures)."""
    dict(sampler_checks(_factory(sampler)))[check]()


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_check_sampler_whole(sampler: str) -> None:
    """check_sampler passes as one call with the declared expected failures."""
    check_sampler(_factory(sampler), expected_failures=EXPECTED_FAILURES.get(sampler))


def test_expected_failures_are_known_checks() -> None:
    """Every declared expected failure names a real check of a registered sampler."""
    for sampler, failures in EXPECTED_FAILURES.items():
        assert sampler in SAMPLERS
        assert set(failures) <= set(CHECK_NAMES)


def test_unknown_expected_failure_is_an_error() -> None:
    """An unknown name in expected_failures is a ValueError listing the checks."""
    with pytest.raises(ValueError, match="unknown checks"):
        check_sampler(_factory("random"), expected_failures={"no_such_check": "why"})


def test_expected_failure_that_passes_is_reported() -> None:
    """A declared expected failure that passes makes check_sampler fail, naming it."""
    with pytest.raises(ConformanceError, match="empty_history") as info:
        check_sampler(_factory("random"), expected_failures={"empty_history": "pretend"})
    assert set(info.value.failures) == {"empty_history"}


class _OutOfRange(hpopt.Sampler):
    """Returns the upper bound plus one: outside every numeric distribution."""

    def sample(self, history: Any, trial: Any, name: str, distribution: Any) -> Any:
        if isinstance(distribution, hpopt.Categorical):
            return distribution.choices[0]
        return distribution.high + 1


class _Unseeded(hpopt.Sampler):
    """Ignores its seed: draws from a process-wide generator."""

    counter = itertools.count()

    def sample(self, history: Any, trial: Any, name: str, distribution: Any) -> Any:
        lo, hi = distribution.internal_bounds
        return distribution.from_internal(lo + (next(self.counter) % 97) / 97 * (hi - lo))


class _SingleObjectiveCrash(hpopt.Sampler):
    """Claims several objectives but crashes on them while sampling (seeded draws otherwise)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def sample(self, history: Any, trial: Any, name: str, distribution: Any) -> Any:
        from hpopt.rng import unit_hash

        if history.n_objectives > 1:
            raise RuntimeError("cannot handle several objectives")
        lo, hi = distribution.internal_bounds
        return distribution.from_internal(lo + unit_hash(self.seed, trial.number, name) * (hi - lo))


def test_battery_catches_a_sampler_outside_its_distributions() -> None:
    """A sampler returning out-of-range values fails the value checks, named in the error."""
    with pytest.raises(ConformanceError) as info:
        check_sampler(lambda *, seed: _OutOfRange())
    assert {"values_in_distributions", "static_space", "empty_history"} <= set(info.value.failures)


def test_battery_catches_an_unseeded_sampler() -> None:
    """A sampler that ignores its seed fails reproducible_with_seed only."""
    with pytest.raises(ConformanceError) as info:
        check_sampler(lambda *, seed: _Unseeded())
    assert set(info.value.failures) == {"reproducible_with_seed"}


def test_battery_catches_a_multi_objective_crash() -> None:
    """A sampler that neither refuses several objectives at create_study nor handles them fails."""
    with pytest.raises(ConformanceError) as info:
        check_sampler(lambda *, seed: _SingleObjectiveCrash(seed))
    assert set(info.value.failures) == {"multi_objective"}


def test_clear_refusal_of_several_objectives_passes() -> None:
    """A sampler with supports_multi_objective=False passes the multi_objective check."""

    class Lowest(_SingleObjectiveCrash):
        supports_multi_objective = False

    dict(sampler_checks(lambda *, seed: Lowest()))["multi_objective"]()


# -- storages ---------------------------------------------------------------------------------------
def _memory(tmp_path: Any) -> Callable[[], Any]:
    return lambda: None


def _sqlite(tmp_path: Any) -> Callable[[], Any]:
    counter = itertools.count()
    return lambda: f"sqlite:///{tmp_path}/store{next(counter)}.db"


def _postgres(tmp_path: Any) -> Callable[[], Any]:
    """A fresh database per call on the server of HPOPT_TEST_POSTGRES_URL (CI starts one)."""
    url = os.environ.get("HPOPT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: source .ci/postgres.sh start (CI does)")
    psycopg = pytest.importorskip("psycopg")
    base, _, _ = url.rpartition("/")

    def make() -> str:
        name = f"hpopt_t1_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        _CREATED.append((url, name))
        return f"{base}/{name}"

    return make


_CREATED: list[tuple[str, str]] = []


@pytest.fixture(autouse=True, scope="module")
def _drop_postgres_databases() -> Any:
    yield
    if _CREATED:
        import psycopg

        for url, name in _CREATED:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


STORAGES: dict[str, Callable[[Any], Callable[[], Any]]] = {
    "memory": _memory, "sqlite": _sqlite, "postgresql": _postgres,
}
STORAGE_CHECKS = [n for n, _ in storage_checks(lambda: None)]


@pytest.mark.parametrize("check", STORAGE_CHECKS)
@pytest.mark.parametrize("backend", sorted(STORAGES))
def test_storage_check(backend: str, check: str, tmp_path: Any) -> None:
    """Every backend gives the memory backend's results and error types in every T1 scenario."""
    dict(storage_checks(STORAGES[backend](tmp_path)))[check]()


def test_check_storage_sqlite_whole(tmp_path: Any) -> None:
    """check_storage passes as one call on SQLite."""
    check_storage(_sqlite(tmp_path))


def test_check_storage_accepts_a_storage_object(tmp_path: Any) -> None:
    """A factory returning a Storage object (not a URL) is checked too, reopened through its URL."""
    from hpopt.storage import open_storage

    counter = itertools.count()
    check_storage(lambda: open_storage(f"sqlite:///{tmp_path}/obj{next(counter)}.db"))


def test_storage_battery_catches_a_backend_that_differs(tmp_path: Any) -> None:
    """A backend whose outcome differs from memory's (here: a store already holding a study) fails."""
    url = f"sqlite:///{tmp_path}/shared.db"
    hpopt.create_study(study_name="s1", storage=url)
    with pytest.raises(AssertionError, match="storage"):
        dict(storage_checks(lambda: url))["studies"]()
