"""Tests of the differential-evolution sampler (hpopt.samplers.de)."""

from __future__ import annotations

import math

import pytest

import hpopt
from hpopt.samplers.de import DESampler

SPACE = {
    "x": hpopt.Float(-5, 5),
    "y": hpopt.Float(1e-3, 10, log=True),
    "n": hpopt.Int(0, 12),
    "c": hpopt.Categorical(["a", "b", "c"]),
}


def _mixed(p: dict) -> float:
    return (p["x"] - 1.3) ** 2 + math.log10(p["y"]) ** 2 + (p["n"] - 7) ** 2 + (p["c"] != "b")


def _run(study: hpopt.Study, n: int) -> None:
    for _ in range(n):
        t = study.ask(SPACE)
        study.tell(t, _mixed(t.params))


def test_solves_mixed_space_better_than_random():
    """On a mixed problem DE beats random search with the same budget and finds n=7, c='b'."""
    de = hpopt.create_study(sampler="de", seed=0)
    rnd = hpopt.create_study(sampler="random", seed=0)
    _run(de, 300)
    _run(rnd, 300)
    assert de.best_value < rnd.best_value
    assert de.best_params["n"] == 7 and de.best_params["c"] == "b"


def test_seed_reproduces_the_search():
    """The same seed gives identical parameters, another seed different ones."""
    a, b, c = (hpopt.create_study(sampler="de", seed=s) for s in (5, 5, 6))
    for study in (a, b, c):
        _run(study, 60)
    pa, pb, pc = ([t.params for t in s.trials] for s in (a, b, c))
    assert pa == pb
    assert pa != pc


def test_fresh_process_on_sqlite_continues_the_same_search(tmp_path):
    """A new Study and sampler on the same SQLite storage propose what the uninterrupted run proposed."""
    url = f"sqlite:///{tmp_path}/de.db"
    first = hpopt.create_study(study_name="s", storage=url, sampler=DESampler(seed=11))
    _run(first, 47)
    resumed = hpopt.load_study("s", url, sampler=DESampler(seed=11))
    _run(resumed, 23)
    reference = hpopt.create_study(sampler=DESampler(seed=11))
    _run(reference, 70)
    assert [t.params for t in resumed.trials] == [t.params for t in reference.trials]


def test_memory_adapts_from_native_successes():
    """The SHADE memory moves away from its initial means once successful trials are replayed."""
    sampler = DESampler(seed=1)
    study = hpopt.create_study(sampler=sampler)
    _run(study, 200)
    run = sampler.state(study._history, SPACE)
    assert run.filled == run.np
    assert (run.mem_f != 0.5).any() and (run.mem_cr != 0.5).any()


def test_failed_trials_and_parallel_asks():
    """FAIL trials are skipped and trials asked before any tell all get valid parameters."""
    study = hpopt.create_study(sampler="de", seed=2)
    for _ in range(8):
        batch = [study.ask(SPACE) for _ in range(15)]
        for i, t in enumerate(batch):
            if i % 4 == 0:
                study.tell(t, state="fail")
            else:
                study.tell(t, _mixed(t.params))
    assert study.best_value < 10


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"popsize": 3}, ValueError),
        ({"popsize": 5.0}, TypeError),
        ({"p_best": 0}, ValueError),
        ({"p_best": 1.5}, ValueError),
        ({"archive_rate": -1}, ValueError),
        ({"memory_size": 0}, ValueError),
        ({"init_f": 0}, ValueError),
        ({"init_cr": 1.5}, ValueError),
        ({"fallback_sampler": "random"}, TypeError),
    ],
)
def test_bad_settings_are_refused(settings, error):
    """Invalid settings raise at construction with a message naming the setting."""
    with pytest.raises(error, match=next(iter(settings))):
        DESampler(**settings)
