"""Tests for hpopt.refine: refined_space (narrowing around the best trials) and warm_start."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hpopt
from hpopt import Categorical, Float, Int
from hpopt.refine import WARM_START_KEY, RefinedSpace, rank_trials, refined_space, warm_start


def _study_with(space, values_and_objectives, directions=("minimize",)):
    """A study whose trials have exactly the given params and objective values."""
    study = hpopt.create_study(directions=list(directions), seed=0)
    for params, value in values_and_objectives:
        study.enqueue_trial(params)
        trial = study.ask({n: space[n] for n in params})
        study.tell(trial, value)
    return study


def _quadratic_study(n=60, seed=0):
    space = {
        "x": Float(-10.0, 10.0),
        "lr": Float(1e-5, 1.0, log=True),
        "k": Int(0, 100, step=5),
        "opt": Categorical(["adam", "sgd", "rms"]),
    }

    def f(t):
        p = {name: t.suggest(name, d) for name, d in space.items()}
        penalty = 5 * (p["opt"] != "adam")
        return (p["x"] - 2) ** 2 + abs(math.log10(p["lr"]) + 2) + abs(p["k"] - 40) / 10 + penalty

    study = hpopt.create_study(sampler="random", seed=seed)
    study.optimize(f, n_trials=n)
    return study, space


def test_shrinks_around_the_best_and_explains():
    study, space = _quadratic_study()
    r = refined_space(study, top=0.1)
    assert isinstance(r, RefinedSpace) and set(r) == set(space)
    best = sorted(study.get_trials(["complete"]), key=lambda t: t.value)[:6]
    assert r.selected == [t.number for t in best]
    assert r["x"].high - r["x"].low < 20
    assert r["opt"] == Categorical(["adam"])  # the 5-point penalty: only adam among the best
    text = str(r)
    assert "dropped ['sgd', 'rms']" in text and "best 6 of 60" in text
    for name in space:
        assert name in text
        for t in best:
            assert r[name].contains(t.params[name])
    assert r.summary() == text == str(refined_space(study, top=0.1))  # deterministic
    assert set(r.changed()) <= set(space)


def test_log_and_step_kept_and_grid_aligned():
    space = {"lr": Float(1e-5, 1.0, log=True), "k": Int(3, 103, step=5), "s": Float(0.0, 1.0, step=0.1),
             "n": Int(1, 1024, log=True)}
    rows = [({"lr": 1e-3 * (i + 1), "k": 3 + 5 * (i % 4), "s": 0.1 * (i % 3), "n": 2 ** (i % 5)}, float(i))
            for i in range(20)]
    r = refined_space(_study_with(space, rows), top=0.25, margin=0.05)
    assert r["lr"].log and r["lr"].low >= 1e-5 and r["lr"].high <= 1.0
    assert r["lr"].high - r["lr"].low < 1.0
    assert r["k"].step == 5 and space["k"].contains(r["k"].low) and space["k"].contains(r["k"].high)
    assert r["s"].step == 0.1 and space["s"].contains(r["s"].low) and space["s"].contains(r["s"].high)
    assert r["n"].log and r["n"].low >= 1
    # the top 5 trials are i = 0..4
    for i in range(5):
        for name, value in rows[i][0].items():
            assert r[name].contains(value), (name, value, r[name])


def test_all_top_equal_gives_a_small_open_range():
    space = {"x": Float(0.0, 1.0), "m": Int(0, 10)}
    rows = [({"x": 0.5, "m": 3}, 0.0)] * 5 + [({"x": 0.1 * i, "m": i}, 1.0 + i) for i in range(10)]
    r = refined_space(_study_with(space, rows), top=5)
    assert r["x"].low < 0.5 < r["x"].high and r["x"].high - r["x"].low <= 0.2 + 1e-12
    assert r["m"].low <= 3 <= r["m"].high and r["m"].high - r["m"].low <= 4
    # margin 0: still never a single point for a Float
    r0 = refined_space(_study_with(space, rows), top=5, margin=0.0)
    assert r0["x"].low < r0["x"].high and r0["x"].contains(0.5)
    # at the bound: clipped, still open
    rows_edge = [({"x": 1.0, "m": 10}, 0.0)] * 5 + rows[5:]
    re = refined_space(_study_with(space, rows_edge), top=5)
    assert re["x"].high == 1.0 and re["x"].low < 1.0 and re["m"].high == 10


def test_single_valued_distribution_stays():
    space = {"x": Float(2.0, 2.0), "y": Float(0.0, 1.0)}
    rows = [({"x": 2.0, "y": 0.1 * i}, float(i)) for i in range(10)]
    r = refined_space(_study_with(space, rows))
    assert r["x"] == Float(2.0, 2.0)


def test_conditional_parameters():
    space = {"model": Categorical(["svm", "tree"]), "C": Float(1e-3, 1e3, log=True), "depth": Int(1, 20)}
    rows = [({"model": "svm", "C": 10.0 ** (i % 5 - 2)}, float(i)) for i in range(10)]
    rows += [({"model": "tree", "depth": i + 1}, 100.0 + i) for i in range(10)]
    r = refined_space(_study_with(space, rows), top=0.2)
    assert r["model"] == Categorical(["svm"])
    assert r["depth"] == space["depth"]  # no selected trial set it: unchanged
    assert "left unchanged" in r.notes["depth"]
    # half of the selected trials have `depth`
    rows2 = [({"model": "svm", "C": 1.0}, 0.0), ({"model": "tree", "depth": 5}, 0.5)]
    rows2 += [({"model": "tree", "depth": 15 + i % 5}, 10.0 + i) for i in range(10)]
    r2 = refined_space(_study_with(space, rows2), top=2)
    assert "conditional: set in 1 of the 2" in r2.notes["depth"]
    assert r2["depth"].contains(5) and r2["depth"].high < 20


def test_inferred_space_takes_the_latest_distribution_and_given_space_wins():
    rows = [({"x": 0.5}, float(i)) for i in range(10)]
    study = _study_with({"x": Float(0.0, 1.0)}, rows)
    study.enqueue_trial({"x": 0.5})
    t = study.ask({"x": Float(0.0, 2.0)})
    study.tell(t, 100.0)
    r = refined_space(study, top=0.5)
    assert r.original["x"] == Float(0.0, 2.0)
    r2 = refined_space(study, top=0.5, space={"x": Float(0.0, 0.4)})  # 0.5 lies outside
    assert r2["x"] == Float(0.0, 0.4) and "outside the original range ignored" in r2.notes["x"]


def test_multi_objective_uses_whole_pareto_fronts():
    space = {"x": Float(0.0, 1.0)}
    # front 0: (0,3), (1,1), (3,0); front 1: (2,2), (4,1); then dominated ones
    objs = [(0, 3), (1, 1), (3, 0), (2, 2), (4, 1), (5, 5), (6, 6), (7, 7), (8, 8), (9, 9)]
    rows = [({"x": 0.1 * i}, list(v)) for i, v in enumerate(objs)]
    study = _study_with(space, rows, directions=("minimize", "minimize"))
    ranks = rank_trials(study.get_trials(["complete"]), study.directions)
    assert ranks.tolist() == [0, 0, 0, 1, 1, 2, 3, 4, 5, 6]
    r = refined_space(study, top=0.2)  # 2 wanted, the whole first front (3) taken
    assert sorted(r.selected) == [0, 1, 2] and "Pareto fronts" in str(r)
    r4 = refined_space(study, top=4)  # 4 wanted: fronts 0 and 1 (5 trials)
    assert sorted(r4.selected) == [0, 1, 2, 3, 4]


def test_maximize_direction():
    space = {"x": Float(0.0, 1.0)}
    rows = [({"x": 0.1 * i}, float(i)) for i in range(10)]
    study = hpopt.create_study(direction="maximize")
    for params, v in rows:
        study.enqueue_trial(params)
        study.tell(study.ask(space), v)
    r = refined_space(study, top=2)
    assert r.selected == [9, 8] and r["x"].low >= 0.7


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"top": 0.0}, ValueError, "top"),
        ({"top": 1.5}, ValueError, "top"),
        ({"top": -2}, ValueError, "top"),
        ({"top": "a"}, TypeError, "top"),
        ({"margin": -0.1}, ValueError, "margin"),
        ({"margin": math.inf}, ValueError, "margin"),
        ({"min_trials": 0}, ValueError, "min_trials"),
        ({"min_trials": 1.5}, TypeError, "min_trials"),
        ({"space": {"x": (0, 1)}}, ValueError, "space"),
        ({"min_trials": 11}, ValueError, "min_trials=11"),
    ],
)
def test_bad_input(kwargs, exc, match):
    study = _study_with({"x": Float(0.0, 1.0)}, [({"x": 0.1 * i}, float(i)) for i in range(10)])
    with pytest.raises(exc, match=match):
        refined_space(study, **kwargs)


def test_not_enough_trials_and_not_a_study():
    with pytest.raises(ValueError, match="0 COMPLETE"):
        refined_space(hpopt.create_study())
    with pytest.raises(TypeError, match="Study"):
        refined_space([1, 2, 3])


# -- property test -------------------------------------------------------------------------------
@st.composite
def _dist_and_values(draw):
    kind = draw(st.sampled_from(["float", "flog", "fstep", "int", "ilog", "istep", "cat"]))
    n = 12
    if kind in ("float", "fstep"):
        low = draw(st.floats(-1e3, 1e3, allow_nan=False))
        width = draw(st.floats(0.0, 1e3, allow_nan=False))
        if kind == "float":
            d = Float(low, low + width)
            vals = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
            return d, [d.from_internal(d.low + u * (d.high - d.low)) for u in vals]
        step = draw(st.sampled_from([0.1, 0.25, 1.0, 3.0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = Float(low, low + width, step=step)
    elif kind == "flog":
        low = draw(st.floats(1e-6, 1e3))
        d = Float(low, low * draw(st.floats(1.0, 1e6)), log=True)
    elif kind in ("int", "istep"):
        low = draw(st.integers(-1000, 1000))
        step = 1 if kind == "int" else draw(st.integers(2, 7))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = Int(low, low + draw(st.integers(0, 500)), step=step)
    elif kind == "ilog":
        low = draw(st.integers(1, 100))
        d = Int(low, low + draw(st.integers(0, 5000)), log=True)
    else:
        d = Categorical(list(range(draw(st.integers(1, 6)))))
    lo, hi = d.internal_bounds
    us = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    return d, [d.from_internal(lo + u * (hi - lo)) for u in us]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    params=st.lists(_dist_and_values(), min_size=1, max_size=3),
    objs=st.lists(st.floats(-10, 10), min_size=12, max_size=12),
    top=st.sampled_from([0.1, 0.25, 0.5, 1.0, 1, 3]),
    margin=st.sampled_from([0.0, 0.05, 0.3]),
)
def test_refined_space_is_inside_and_keeps_the_best(params, objs, top, margin):
    space = {f"p{i}": d for i, (d, _) in enumerate(params)}
    rows = [({f"p{i}": vals[j] for i, (_, vals) in enumerate(params)}, objs[j]) for j in range(12)]
    study = _study_with(space, rows)
    r = refined_space(study, top=top, margin=margin)
    by_number = {t.number: t for t in study.trials}
    for name, old in space.items():
        new = r[name]
        assert type(new) is type(old)
        if isinstance(old, Categorical):
            assert set(new.choices) <= set(old.choices) and len(new.choices) >= 1
        else:
            assert old.low <= new.low <= new.high <= old.high
            assert new.log == old.log and new.step == old.step
            assert old.contains(new.low) and old.contains(new.high)  # on the old grid
            if isinstance(old, Float) and not old.single():
                assert new.low < new.high
        for number in r.selected:
            assert new.contains(by_number[number].params[name]), (name, new, by_number[number].params[name])


# -- warm starts ---------------------------------------------------------------------------------
def test_warm_start_copy_records_values_and_provenance():
    old, space = _quadratic_study(n=30)
    new = hpopt.create_study(sampler="tpe", seed=1, study_name="second")
    n = warm_start(new, old)
    assert n == 30 and len(new.trials) == 30
    for a, b in zip(old.trials, new.trials):
        assert b.state.name == "COMPLETE" and b.values == a.values and dict(b.params) == dict(a.params)
        assert b.user_attrs[WARM_START_KEY] == {"study": old.study_name, "trial": a.number}
    assert new.best_value == old.best_value
    new.optimize(lambda t: t.suggest("x", space["x"]) ** 2, n_trials=2)  # the sampler runs on the copies
    assert len(new.trials) == 32


def test_warm_start_copy_into_refined_space_skips_outside():
    old, _ = _quadratic_study(n=40)
    r = refined_space(old, top=0.2)
    inside = [t for t in old.trials if all(r[p].contains(v) for p, v in t.params.items())]
    assert 8 <= len(inside) < 40
    new = hpopt.create_study()
    assert warm_start(new, old, space=r) == len(inside)
    assert [t.user_attrs[WARM_START_KEY]["trial"] for t in new.trials] == [t.number for t in inside]
    for t in new.trials:
        assert dict(t.distributions) == {p: r[p] for p in t.params}


def test_warm_start_copy_top_and_trials_list_and_multi_objective():
    old, _ = _quadratic_study(n=20)
    new = hpopt.create_study()
    assert warm_start(new, old.trials, top=5, source_name="first") == 5
    assert {t.user_attrs[WARM_START_KEY]["study"] for t in new.trials} == {"first"}
    assert sorted(t.value for t in new.trials) == sorted(t.value for t in old.trials)[:5]
    rows = [({"x": 0.1 * i}, [i, i]) for i in range(5)]  # all on the front: minimize, maximize
    mo = _study_with({"x": Float(0, 1)}, rows, ("minimize", "maximize"))
    new_mo = hpopt.create_study(directions=["minimize", "maximize"])
    assert warm_start(new_mo, mo) == 5 and len(new_mo.best_trials) == 5


def test_warm_start_enqueue_reevaluates_the_best():
    old, space = _quadratic_study(n=30)
    new = hpopt.create_study(seed=2)
    assert warm_start(new, old, mode="enqueue", top=3) == 3
    assert warm_start(new, old, mode="enqueue", top=3) == 0  # already queued: not twice
    best3 = sorted(old.trials, key=lambda t: t.value)[:3]
    seen = []
    new.optimize(lambda t: seen.append({n: t.suggest(n, d) for n, d in space.items()}) or 0.0, n_trials=3)
    assert seen == [dict(t.params) for t in best3]
    assert [t.user_attrs[WARM_START_KEY]["trial"] for t in new.trials] == [t.number for t in best3]


def test_warm_start_bad_input_writes_nothing():
    old, _ = _quadratic_study(n=10)
    new = hpopt.create_study()
    with pytest.raises(ValueError, match="mode"):
        warm_start(new, old, mode="merge")
    with pytest.raises(ValueError, match="itself"):
        warm_start(old, old)
    with pytest.raises(ValueError, match="objective"):
        warm_start(hpopt.create_study(directions=["minimize", "minimize"]), old)
    with pytest.raises(ValueError, match="directions"):
        warm_start(hpopt.create_study(direction="maximize"), old)
    with pytest.raises(TypeError, match="new_study"):
        warm_start("study", old)
    with pytest.raises(TypeError, match="source"):
        warm_start(new, "old")
    with pytest.raises(ValueError, match="top"):
        warm_start(new, old, top=0.0)
    assert new.trials == []
    new.enqueue_trial({"x": 1.0})
    with pytest.raises(ValueError, match="WAITING"):
        warm_start(new, old)
    assert len(new.trials) == 1


def test_warm_start_persists_in_a_storage(tmp_path):
    old, _ = _quadratic_study(n=10)
    url = f"sqlite:///{tmp_path / 's.db'}"
    new = hpopt.create_study(storage=url, study_name="warm")
    assert warm_start(new, old) == 10
    again = hpopt.load_study("warm", url)
    assert len(again.trials) == 10 and again.best_value == old.best_value


def test_warm_start_copies_intermediate_values_for_pruners():
    old = hpopt.create_study(seed=0)

    def f(t):
        x = t.suggest_float("x", 0, 1)
        for step in range(3):
            t.report(x * (step + 1), step)
        return x

    old.optimize(f, n_trials=5)
    new = hpopt.create_study()
    warm_start(new, old)
    copied = [dict(t.intermediate_values) for t in new.trials]
    assert copied == [dict(t.intermediate_values) for t in old.trials] and copied[0]
    bare = hpopt.create_study()
    warm_start(bare, old, reports=False)
    assert all(not t.intermediate_values for t in bare.trials)


def test_example_runs(capsys):
    from hpopt.examples.refine import main

    main([])
    out = capsys.readouterr().out
    assert "Refined space from the best 12 of 60" in out and "Improvement over the first study" in out
