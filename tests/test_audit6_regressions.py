"""Regression tests from audit 6: the conformance batteries themselves, plugins, constraints and
executors (each failed before its fix)."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from _helpers import PickleInline

import hpopt
from hpopt import plugins
from hpopt.errors import PluginError
from hpopt.samplers.random import RandomSampler
from hpopt.storage import Storage
from hpopt.storage.journal import JournalBackend
from hpopt.testing import ConformanceError, check_sampler, check_storage

# -- executors: an exception that cannot travel back from a worker as itself ---------------------


class TwoArgsError(Exception):
    """Pickles, but unpickling calls ``TwoArgsError(msg)`` and fails (the classic pitfall)."""

    def __init__(self, msg: str, code: int) -> None:
        super().__init__(msg)
        self.code = code


class LockedError(Exception):
    """Does not pickle at all (holds a lock)."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.lock = threading.Lock()


def objective_two_args(trial: Any) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    if trial.number == 1:
        raise TwoArgsError("bad", 3)
    return x


def objective_locked(trial: Any) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    if trial.number == 1:
        raise LockedError("bad")
    return x


_PicklingExecutor = PickleInline  # a process boundary: task and result through pickle


def _states(study: hpopt.Study) -> list[tuple[str, str]]:
    return [(t.state.name, t.system_attrs.get("fail_reason", "")) for t in study.trials]


@pytest.mark.filterwarnings("ignore::hpopt.FailedTrialWarning")
def test_executor_exception_that_does_not_unpickle_is_caught() -> None:
    """An exception that pickles but does not unpickle broke the executor (a process pool died:
    BrokenProcessPool) and stopped optimize although ``catch`` listed it."""
    study = hpopt.create_study(sampler="random", seed=0)
    study.optimize(objective_two_args, n_trials=3, executor=_PicklingExecutor(), catch=(TwoArgsError,))
    assert _states(study) == [("COMPLETE", ""), ("FAIL", "TwoArgsError: bad"), ("COMPLETE", "")]


@pytest.mark.filterwarnings("ignore::hpopt.FailedTrialWarning")
def test_executor_exception_that_does_not_unpickle_in_a_process_pool() -> None:
    """The same through a real process pool (it raised BrokenProcessPool)."""
    study = hpopt.create_study(sampler="random", seed=0)
    study.optimize(objective_two_args, n_trials=3, executor="process", n_jobs=2, catch=(TwoArgsError,))
    assert sorted(_states(study)) == [("COMPLETE", ""), ("COMPLETE", ""), ("FAIL", "TwoArgsError: bad")]


@pytest.mark.filterwarnings("ignore::hpopt.FailedTrialWarning")
@pytest.mark.parametrize("make", [_PicklingExecutor, lambda: ThreadPoolExecutor(max_workers=1)])
def test_executor_unpicklable_exception_respects_catch(make: Callable[[], Executor]) -> None:
    """An exception that does not pickle came back as a RuntimeError, so ``catch=(ItsClass,)`` no
    longer matched: optimize raised instead of failing the trial and going on."""
    study = hpopt.create_study(sampler="random", seed=0)
    study.optimize(objective_locked, n_trials=3, executor=make(), catch=(LockedError,))
    assert _states(study) == [("COMPLETE", ""), ("FAIL", "LockedError: bad"), ("COMPLETE", "")]
    # not in ``catch``: optimize still stops, with the original's type and message
    study = hpopt.create_study(sampler="random", seed=0)
    with pytest.raises(RuntimeError, match="LockedError: bad"):
        study.optimize(objective_locked, n_trials=3, executor=make(), catch=(KeyError,))
    assert study.trials[1].state is hpopt.TrialState.FAIL


# -- the storage battery: a shared backend it cannot reopen ----------------------------------------


class _ForgetfulBackend(JournalBackend):
    """A shared backend that persists nothing, with a URL no plugin opens."""

    shared = True
    counter = itertools.count()

    def __init__(self) -> None:
        self.url = f"forgetful://store{next(self.counter)}"
        self._beats: dict[int, float] = {}

    @contextmanager
    def write(self) -> Iterator[JournalBackend]:
        yield self

    def append(self, ops: list[dict[str, Any]]) -> int:
        return 0

    def read(self, after: int) -> list[tuple[int, dict[str, Any]]]:
        return []

    def beat(self, sid: int, number: int) -> None:
        self._beats[number] = 0.0

    def beats(self, sid: int) -> dict[int, float]:
        return dict(self._beats)


def test_storage_battery_refuses_a_shared_backend_it_cannot_reopen() -> None:
    """A factory returning a Storage whose URL cannot be reopened was compared with itself: a
    backend that persists nothing passed every check."""
    with pytest.raises(ConformanceError, match="cannot be opened again") as info:
        check_storage(lambda: Storage(_ForgetfulBackend()))
    assert "studies" in info.value.failures


# -- the sampler battery: a sampler that ignores its seed, one that mutates the history ----------


class _IgnoresSeed(RandomSampler):
    """Accepts ``seed`` and always uses 0."""

    def __init__(self, *, seed: Any = None) -> None:
        super().__init__(seed=0)


class _MutatesHistory(RandomSampler):
    """Appends to a nested user attribute of every trial it is shown."""

    def sample(self, history: Any, trial: Any, name: str, distribution: Any) -> Any:
        for ft in [*history.finished(), *history.running()]:
            nested = ft.user_attrs.get("nested")
            if isinstance(nested, dict):
                nested["list"].append("mutated")
        return super().sample(history, trial, name, distribution)


def test_sampler_battery_catches_a_sampler_that_ignores_its_seed() -> None:
    """Same seed -> same values was checked, different seeds -> different values was not."""
    with pytest.raises(ConformanceError) as info:
        check_sampler(lambda *, seed: _IgnoresSeed(seed=seed))
    assert set(info.value.failures) == {"seed_changes_values"}


def test_sampler_battery_catches_a_sampler_that_mutates_the_history() -> None:
    """Nested attribute values of the read-only history could be changed; no check noticed."""
    with pytest.raises(ConformanceError) as info:
        check_sampler(lambda *, seed: _MutatesHistory(seed=seed))
    assert set(info.value.failures) == {"history_not_mutated"}
    # Since stored attribute values are read-only (nested lists and dicts included) the mutation
    # itself raises; the check also reports a change made any other way.
    message = str(info.value.failures["history_not_mutated"])
    assert "changed trials" in message or "read-only" in message


# -- plugins ---------------------------------------------------------------------------------------


@contextmanager
def _registered(plugin: Any, name: str) -> Iterator[None]:
    plugins.register(plugin, name=name)
    try:
        yield
    finally:
        plugins.unregister(plugin)


class _Offers:
    """A run-time plugin offering the given samplers, pruners and storages."""

    def __init__(self, samplers: Any = None, pruners: Any = None, storages: Any = None) -> None:
        self.samplers, self.pruners, self.storages = samplers or {}, pruners or {}, storages or {}

    @hpopt.hookimpl
    def hpopt_samplers(self) -> Any:
        return self.samplers

    @hpopt.hookimpl
    def hpopt_pruners(self) -> Any:
        return self.pruners

    @hpopt.hookimpl
    def hpopt_storages(self) -> Any:
        return self.storages


def _entry_point_dist(root: Any, dist: str, version: str, ep_name: str, module: str, sampler: str) -> None:
    """An installed distribution whose entry point ``ep_name`` (group hpopt) offers ``sampler``."""
    (root / f"{module}.py").write_text(
        "import hpopt\nfrom hpopt.samplers.random import RandomSampler\n\n\n@hpopt.hookimpl\n"
        f"def hpopt_samplers():\n    return {{{sampler!r}: RandomSampler}}\n"
    )
    info = root / f"{dist}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[hpopt]\n{ep_name} = {module}\n")


@pytest.mark.parametrize("ep_name", ["a6same", "hpopt"])
def test_entry_point_name_taken_twice_is_reported(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, ep_name: str
) -> None:
    """Two distributions with one entry-point name (or one named like hpopt's own plugin): the second
    was dropped silently, its samplers missing with no warning and nothing in failed_plugins()."""
    import sys

    if ep_name != "hpopt":
        _entry_point_dist(tmp_path, "a6one", "0.1", ep_name, "a6_one_mod", "a6_one")
    _entry_point_dist(tmp_path, "a6two", "0.2", ep_name, "a6_two_mod", "a6_two")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("HPOPT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("HPOPT_BLOCK_PLUGINS", raising=False)
    plugins.reload_plugins()
    try:
        with pytest.warns(hpopt.PluginLoadWarning, match=rf"'{ep_name}' from a6two 0\.2 was skipped.*taken"):
            names = hpopt.available_samplers()
        assert "a6_two" not in names and "random" in names
        assert (ep_name != "hpopt") == ("a6_one" in names)
        assert any("a6two" in k for k in plugins.failed_plugins())
    finally:
        for module in ("a6_one_mod", "a6_two_mod"):
            sys.modules.pop(module, None)
        monkeypatch.undo()
        plugins.reload_plugins()


def test_plugin_sampler_factory_must_build_a_sampler() -> None:
    """A factory returning something else gave AttributeError 'check_study' from create_study."""
    with _registered(_Offers(samplers={"not_a_sampler": lambda **kw: object()}), "a6_notsampler"):
        with pytest.raises(PluginError, match=r"'not_a_sampler'.*a6_notsampler.*not an hpopt\.Sampler"):
            hpopt.create_study(sampler="not_a_sampler")


def test_plugin_pruner_factory_must_build_a_pruner() -> None:
    """A pruner factory returning something else was accepted; should_prune then raised
    AttributeError inside optimize."""
    with _registered(_Offers(pruners={"not_a_pruner": lambda **kw: object()}), "a6_notpruner"):
        with pytest.raises(PluginError, match=r"'not_a_pruner'.*not an hpopt\.Pruner"):
            hpopt.create_study(pruner="not_a_pruner")


def test_plugin_storage_factory_must_build_a_backend() -> None:
    """A storage factory returning None gave AttributeError 'retryable'."""
    with _registered(_Offers(storages={"a6none": lambda url: None}), "a6_nonestorage"):
        with pytest.raises(PluginError, match="a6none://x.*JournalBackend"):
            hpopt.create_study(storage="a6none://x")


def test_plugin_hook_that_raises_is_named() -> None:
    """A hook raising made every lookup (built-in names too) raise the bare error, naming no one."""

    class Raises:
        @hpopt.hookimpl
        def hpopt_samplers(self) -> Any:
            raise RuntimeError("boom in hook")

    with _registered(Raises(), "a6_raises"):
        with pytest.raises(PluginError, match=r"a6_raises.*RuntimeError.*hpopt_samplers.*boom in hook"):
            hpopt.create_study(sampler="random")


def test_plugin_storage_scheme_must_be_lower_case() -> None:
    """URL schemes are looked up lower-cased, so an upper-case scheme was registered and unreachable
    ('no storage handles' listing it as known)."""
    with _registered(_Offers(storages={"MyDB": lambda url: None}), "a6_upper"):
        with pytest.raises(PluginError, match="'MyDB'.*lower-case"):
            plugins.storage_factory("mydb://x")


@pytest.mark.parametrize("name", ["", " spaced", "tpe "])
def test_plugin_names_without_surrounding_whitespace(name: str) -> None:
    """Names are looked up exactly: an empty name or one with surrounding spaces was accepted."""
    with _registered(_Offers(samplers={name: RandomSampler}), "a6_spaces"):
        with pytest.raises(PluginError, match="whitespace"):
            hpopt.available_samplers()


# -- constraints: the values constraints_func returns ---------------------------------------------


def _constrained_study(sampler: str, constraints: Callable[[Any], Any]) -> hpopt.Study:
    settings: dict[str, Any] = {"popsize": 2} if sampler == "nsga2" else {"n_startup_trials": 2}
    made = hpopt.make_sampler(sampler, seed=0, constraints_func=constraints, **settings)
    return hpopt.create_study(directions=["minimize", "minimize"], sampler=made)


def _run_constrained(study: hpopt.Study, n: int) -> None:
    space = {"x": hpopt.Float(0.0, 1.0)}
    for _ in range(n):
        t = study.ask(space)
        study.tell(t, [t.params["x"], 1.0 - t.params["x"]])


@pytest.mark.parametrize("sampler", ["nsga2", "gp"])
@pytest.mark.parametrize("returned", [["1.0"], [True], -1.0, "1"])
def test_constraints_must_be_real_numbers(sampler: str, returned: Any) -> None:
    """A str ('1.0' counted as 1.0) or a bool was converted silently by numpy; a scalar gave
    "'float' object is not iterable". ±inf and numpy values stay accepted."""
    import numpy as np

    fine = _constrained_study(sampler, lambda ft: np.array([math.inf, -math.inf, 0.5]))
    _run_constrained(fine, 4)
    assert len(fine.trials) == 4
    with pytest.raises(TypeError, match="constraints_func"):
        _run_constrained(_constrained_study(sampler, lambda ft: returned), 4)  # read once modelled
