"""Samplers never read the storage while holding their own lock on the ``sample`` path.

``Study.ask`` calls a sampler inside the storage's transaction (storage lock, then sampler lock),
while a define-by-run ``trial.suggest`` calls ``Sampler.sample`` outside it. If ``sample`` took the
sampler's lock and then read the history (which takes the storage lock), two workers could wait
for each other forever: that deadlock was seen once in CI with four threads on one CMA-ES study
(one thread in ``GroupedFallback._group`` holding the sampler lock and waiting in
``history.finished()``, another inside ``Storage.ask`` waiting for the sampler lock). These tests
pin the rule deterministically: a history proxy fails any read made while the lock is held.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import hpopt
from hpopt.samplers.base import TrialInfo

_READS = ("finished", "running", "version", "known_distribution", "trials")


def _lock_is_free(lock: Any) -> bool:
    """Whether another thread could take ``lock`` now (works for Lock and RLock)."""
    out: list[bool] = []

    def probe() -> None:
        got = lock.acquire(blocking=False)
        if got:
            lock.release()
        out.append(got)

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    return out[0]


class _Guarded:
    """A history proxy whose reads fail when ``lock`` is held at that moment."""

    def __init__(self, history: Any, lock: Any) -> None:
        self._history, self._lock = history, lock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._history, name)
        if name not in _READS:
            return attr

        def read(*args: Any, **kwargs: Any) -> Any:
            assert _lock_is_free(self._lock), f"history.{name}() read under the sampler's lock"
            return attr(*args, **kwargs)

        return read


def _conditional(trial: hpopt.Trial) -> float:
    x = trial.suggest_float("x", -3, 3)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    if kind == "a":
        return x * x + trial.suggest_float("ya", 0, 1)
    return x * x + trial.suggest_float("yb", 0, 1) + trial.suggest_int("nb", 0, 3)


@pytest.mark.parametrize("name", ["cmaes", "de", "nsga2", "auto", "tpe", "gp", "gradient"])
def test_sample_reads_the_history_outside_the_samplers_lock(name: str) -> None:
    sampler = hpopt.make_sampler(name, seed=0)
    directions = ["minimize", "minimize"] if name == "nsga2" else ["minimize"]
    def objective(t: hpopt.Trial) -> Any:
        return (_conditional(t), t.suggest_float("x", -3, 3) ** 2) if name == "nsga2" else _conditional(t)

    study = hpopt.create_study(sampler=sampler, directions=directions)
    study.optimize(objective, n_trials=25)
    guarded = _Guarded(study._history, sampler._lock)
    info = TrialInfo(25, {}, {}, {})
    for param, dist in (("ya", hpopt.Float(0, 1)), ("nb", hpopt.Int(0, 3)), ("x", hpopt.Float(-3, 3))):
        value = sampler.sample(guarded, info, param, dist)  # type: ignore[arg-type]
        assert dist.contains(value)


@pytest.mark.parametrize("name", ["cmaes", "de", "nsga2", "auto", "tpe", "gp", "gradient", "random"])
def test_sample_joint_reads_the_history_outside_the_samplers_lock(name: str) -> None:
    """``sample_joint`` too: CMA-ES and DE call their fallback's ``sample_joint`` from ``sample``,
    outside the storage's transaction."""
    sampler = hpopt.make_sampler(name, seed=0)
    space = {"x": hpopt.Float(-3, 3), "n": hpopt.Int(0, 3)}
    directions = ["minimize", "minimize"] if name == "nsga2" else ["minimize"]
    study = hpopt.create_study(sampler=sampler, directions=directions)
    for _ in range(25):
        t = study.ask(space)
        v = t.params["x"] ** 2 + t.params["n"]
        study.tell(t, (v, -v) if name == "nsga2" else v)
    running = study.ask(space)  # a RUNNING trial for the samplers that read them
    lock = getattr(sampler, "_lock", threading.Lock())
    values = sampler.sample_joint(_Guarded(study._history, lock), TrialInfo(running.number + 1, {}, {}, {}),
                                  space)  # type: ignore[arg-type]
    assert set(values) == set(space)


def test_branch_fallback_reads_the_history_outside_its_lock() -> None:
    """CMA-ES's default fallback (TPE, then a CMA-ES per conditional group) has a lock of its own:
    neither ``sample`` nor ``sample_joint`` reads the storage while holding it, before or after a
    group's hand-over to its CMA-ES."""
    sampler = hpopt.make_sampler("cmaes", seed=0)
    branch = sampler.fallback_sampler
    study = hpopt.create_study(sampler=sampler)
    study.optimize(_conditional, n_trials=40)
    guarded = _Guarded(study._history, branch._lock)
    info = TrialInfo(40, {}, {}, {})
    group = {"yb": hpopt.Float(0, 1), "nb": hpopt.Int(0, 3)}
    assert set(branch.sample_joint(guarded, info, group)) == set(group)  # type: ignore[arg-type]
    for param, dist in (("ya", hpopt.Float(0, 1)), ("fresh", hpopt.Float(0, 1))):
        assert dist.contains(branch.sample(guarded, info, param, dist))  # type: ignore[arg-type]
    assert branch._groups  # the groups were tracked (and the ones past h(d) handed over)
    assert any(g.cma is not None for g in branch._groups.values())
