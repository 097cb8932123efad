"""The ``gp`` sampler: conformance, startup, discrete values, pending trials, constraints, several
objectives, reproducibility and refused settings."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hpopt
from hpopt import Categorical, Float, Int
from hpopt.samplers.gp import GPSampler
from hpopt.testing import check_sampler


def _run(sampler: GPSampler, space: dict, f, n: int, directions: list[str] | None = None) -> hpopt.Study:
    study = hpopt.create_study(sampler=sampler, directions=directions)
    for _ in range(n):
        t = study.ask(space)
        study.tell(t, f(t.params))
    return study


def test_conformance() -> None:
    check_sampler(lambda *, seed: GPSampler(seed=seed, n_startup_trials=4))


def test_conformance_default_settings() -> None:
    check_sampler(lambda *, seed: GPSampler(seed=seed))


def test_finds_the_minimum_of_a_smooth_function() -> None:
    space = {"x": Float(-5, 5), "y": Float(-5, 5)}
    study = _run(GPSampler(seed=0, n_startup_trials=6), space,
                 lambda p: (p["x"] - 1.3) ** 2 + 2 * (p["y"] + 2.1) ** 2, 25)
    assert study.best_value < 1e-2
    rand = _run(hpopt.make_sampler("random", seed=0), space,
                lambda p: (p["x"] - 1.3) ** 2 + 2 * (p["y"] + 2.1) ** 2, 25)
    assert study.best_value < 0.01 * rand.best_value


def test_startup_is_space_filling_and_then_the_model_takes_over() -> None:
    space = {"x": Float(0, 1), "y": Float(0, 1)}
    study = _run(GPSampler(seed=3, n_startup_trials=8), space, lambda p: p["x"] + p["y"], 12)
    pts = np.array([[t.params["x"], t.params["y"]] for t in study.trials])
    # Sobol: every half of each axis gets 4 of the first 8 points
    for j in range(2):
        assert (pts[:8, j] < 0.5).sum() == 4
    # the model then goes for the minimum at the corner (0, 0)
    assert pts[8:].sum(axis=1).min() < pts[:8].sum(axis=1).min()


def test_integers_and_steps_on_grid_and_maximize() -> None:
    space = {"n": Int(-10, 10), "s": Float(0, 2, step=0.25), "li": Int(1, 1000, log=True),
             "c": Categorical(["a", "b", "c"]), "x": Float(1e-3, 1, log=True)}

    def f(p):
        return -((p["n"] - 3) ** 2 + (p["s"] - 1.25) ** 2 + (math.log(p["li"]) - math.log(40)) ** 2
                 + (p["c"] != "b") + (math.log10(p["x"]) + 2) ** 2)

    study = _run(GPSampler(seed=1, n_startup_trials=8), space, f, 35, directions=["maximize"])
    for t in study.trials:
        p = t.params
        assert isinstance(p["n"], int) and -10 <= p["n"] <= 10
        assert abs(p["s"] / 0.25 - round(p["s"] / 0.25)) < 1e-12
        assert isinstance(p["li"], int) and 1 <= p["li"] <= 1000
        assert p["c"] in ("a", "b", "c")
    best = study.best_params
    assert best["n"] == 3 and best["c"] == "b"
    assert study.best_value > -2.0  # random search with the same seed: -2.83


def _parallel_spread(sampler: GPSampler) -> float:
    """Smallest distance between four trials asked at once after ten told ones."""
    space = {"x": Float(-2, 2), "y": Float(-2, 2)}
    study = hpopt.create_study(sampler=sampler)
    for _ in range(10):
        t = study.ask(space)
        study.tell(t, (t.params["x"] - 0.5) ** 2 + (t.params["y"] + 0.3) ** 2)
    running = [study.ask(space) for _ in range(4)]  # four workers ask before any tells
    pts = np.array([[t.params["x"], t.params["y"]] for t in running])
    return float(np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))[np.triu_indices(4, 1)].min())


@pytest.mark.parametrize("seed", [0, 2])
def test_pending_trials_make_parallel_asks_differ(seed: int) -> None:
    with_liar = _parallel_spread(GPSampler(seed=seed, n_startup_trials=5))
    control = GPSampler(seed=seed, n_startup_trials=5)
    control._pending = lambda history, trial, model, space: np.empty((0, model.tf.dim))  # type: ignore[method-assign]
    without = _parallel_spread(control)
    # without the kriging believer the four asks land on (nearly) the same point
    assert without < 1e-4
    assert with_liar > 1e-3


def test_pending_trials_ignored_when_they_do_not_hold_the_space() -> None:
    study = hpopt.create_study(sampler=GPSampler(seed=0, n_startup_trials=3))
    for _ in range(5):
        t = study.ask({"x": Float(0, 1)})
        study.tell(t, t.params["x"])
    other = study.ask({"z": Float(0, 1)})  # running, but a different space
    t = study.ask({"x": Float(0, 1)})
    assert 0 <= t.params["x"] <= 1
    study.tell(other, 0.0)
    study.tell(t, 0.0)


def test_constraints_steer_to_the_feasible_region() -> None:
    # minimum of x + y at (0, 0) is infeasible; feasible: x + y >= 1 (c = 1 - x - y <= 0)
    def constraints(t):
        return [t.user_attrs["c"]]

    sampler = GPSampler(seed=2, n_startup_trials=8, constraints_func=constraints)
    study = hpopt.create_study(sampler=sampler)
    space = {"x": Float(0, 1), "y": Float(0, 1)}
    for _ in range(30):
        t = study.ask(space)
        x, y = t.params["x"], t.params["y"]
        t.set_user_attr("c", 1.0 - x - y)
        study.tell(t, x + y)
    model = study.trials[8:]
    # the constrained optimum lies on the boundary x + y = 1: the model's trials crowd there
    # instead of going for the unconstrained minimum at (0, 0)
    near = [t for t in model if t.user_attrs["c"] <= 0.05]
    assert len(near) >= 0.8 * len(model)
    best = min(t.value for t in study.trials if t.user_attrs["c"] <= 0)
    assert best < 1.05


def test_constraints_all_infeasible_still_proposes() -> None:
    sampler = GPSampler(seed=0, n_startup_trials=3, constraints_func=lambda t: [1.0 + t.params["x"]])
    study = _run(sampler, {"x": Float(0, 1)}, lambda p: p["x"], 6)
    assert len(study.trials) == 6
    # maximising the feasibility probability alone pushes x down
    assert min(t.params["x"] for t in study.trials[3:]) < 0.2


def test_bad_constraint_values_refused() -> None:
    # told COMPLETE: refused at tell, before anything is written
    sampler = GPSampler(seed=0, n_startup_trials=2, constraints_func=lambda t: [math.nan])
    study = hpopt.create_study(sampler=sampler)
    t = study.ask({"x": Float(0, 1)})
    with pytest.raises(ValueError, match="constraints_func"):
        study.tell(t, 0.5)
    assert study.trials[0].state is hpopt.TrialState.RUNNING
    # trials stored without values (told by an unconstrained handle): refused when the GP reads them
    plain = _run(GPSampler(seed=0, n_startup_trials=2), {"x": Float(0, 1)}, lambda p: p["x"], 2)
    again = hpopt.load_study(study_name=plain.study_name, storage=plain.storage, sampler=sampler)
    with pytest.raises(ValueError, match="constraints_func"):
        again.ask({"x": Float(0, 1)})


def test_multi_objective_spreads_along_the_front() -> None:
    space = {"x": Float(0, 1), "y": Float(0, 1)}
    study = _run(GPSampler(seed=0, n_startup_trials=6), space,
                 lambda p: (p["x"] ** 2 + p["y"] ** 2, (p["x"] - 1) ** 2 + p["y"] ** 2), 30,
                 directions=["minimize", "minimize"])
    front = study.best_trials
    assert len(front) >= 8
    xs = sorted(t.params["x"] for t in front)
    assert xs[0] < 0.3 and xs[-1] > 0.7  # both ends of the front are reached
    assert np.median([t.params["y"] for t in study.trials[6:]]) < 0.1  # y -> 0 on the front


def test_same_seed_same_trials_and_pickle() -> None:
    import pickle

    space = {"x": Float(-1, 1), "n": Int(0, 5), "c": Categorical(["u", "v"])}

    def f(p):
        return p["x"] ** 2 + p["n"] + (p["c"] == "v")

    a = _run(GPSampler(seed=7, n_startup_trials=4), space, f, 10)
    b = _run(pickle.loads(pickle.dumps(GPSampler(seed=7, n_startup_trials=4))), space, f, 10)
    c = _run(GPSampler(seed=8, n_startup_trials=4), space, f, 10)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.params for t in a.trials] != [t.params for t in c.trials]


def test_degenerate_histories() -> None:
    space = {"x": Float(0, 1), "y": Float(0, 1)}
    # constant objective, then duplicated points: the model stays finite
    study = _run(GPSampler(seed=0, n_startup_trials=1), space, lambda p: 3.0, 8)
    assert len(study.trials) == 8
    study = hpopt.create_study(sampler=GPSampler(seed=0, n_startup_trials=1, deterministic_objective=True))
    for _ in range(4):
        study.enqueue_trial({"x": 0.25, "y": 0.75})
    for i in range(7):
        t = study.ask(space)
        study.tell(t, float(i))  # same point, different values
    assert all(0 <= t.params["x"] <= 1 for t in study.trials)
    # infinite values read as the worst finite one
    vals = iter([math.inf, 1.0, -math.inf, 2.0, math.inf, 0.5, 0.7])
    study = _run(GPSampler(seed=0, n_startup_trials=2), space, lambda p: next(vals), 7)
    assert len(study.trials) == 7


def test_define_by_run_with_fallback() -> None:
    study = hpopt.create_study(sampler=GPSampler(seed=0, n_startup_trials=3))

    def objective(t):
        x = t.suggest_float("x", -2, 2)
        if x > 0:
            return x**2 + t.suggest_float("extra", 0, 1)
        return x**2

    study.optimize(objective, n_trials=12)
    assert len(study.trials) == 12
    assert study.best_value < 0.5


@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"n_startup_trials": 0}, ValueError, "n_startup_trials >= 1"),
        ({"n_startup_trials": 2.5}, TypeError, "n_startup_trials"),
        ({"n_startup_trials": True}, TypeError, "n_startup_trials"),
        ({"deterministic_objective": 1}, TypeError, "deterministic_objective"),
        ({"constraints_func": 3}, TypeError, "constraints_func"),
        ({"n_candidates": 4}, ValueError, "n_candidates >= 16"),
        ({"n_restarts": 0}, ValueError, "n_restarts >= 1"),
        ({"seed": -1}, ValueError, "seed"),
        ({"fallback_sampler": "random"}, TypeError, "fallback_sampler"),
    ],
)
def test_bad_settings_refused(settings: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        GPSampler(**settings)


def test_incumbent_raises_a_lucky_observation_to_the_model_mean(monkeypatch, quiet_hpopt) -> None:
    """Expected improvement is measured from min_i max(posterior mean_i, observation_i) over the
    observed points: with noise the lowest observation is a lucky draw (an improvement over it would
    look possible only far from the data), so the model's mean raises it; it is never below the
    lowest observation, and without noise (deterministic_objective) the two agree."""
    import hpopt.samplers.gp as gp_module

    seen: list[tuple[float, float]] = []
    original = gp_module.Acquisition

    def spy(gp, best, constraints=()):
        X, y = gp._X, gp._y_mean + gp._y_std * gp._ys  # the points and values it was conditioned on
        seen.append((best, float(np.maximum(gp.predict(X)[0], y).min())))
        return original(gp, best, constraints)

    monkeypatch.setattr(gp_module, "Acquisition", spy)
    rng = np.random.default_rng(0)
    for deterministic, noise in ((False, 0.5), (True, 0.0)):
        seen.clear()
        study = hpopt.create_study(
            sampler=GPSampler(seed=0, n_startup_trials=8, deterministic_objective=deterministic))
        study.optimize(lambda t, noise=noise: t.suggest_float("x", -2.0, 2.0) ** 2 + noise * rng.normal(),
                       n_trials=20)
        observed = [min(t.value for t in study.trials[:n]) for n in range(8, 20)]
        assert len(seen) == 12
        assert all(best == pytest.approx(expected) for best, expected in seen)
        assert all(best >= o for (best, _), o in zip(seen, observed))
        if deterministic:
            assert [b for b, _ in seen] == pytest.approx(observed, abs=1e-4)
        else:  # raised toward the model: above the luckiest draw
            assert sum(b > o + 1e-2 for (b, _), o in zip(seen, observed)) >= 6
