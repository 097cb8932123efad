"""The gradient sampler: conformance, convergence (exact and estimated gradients), replay, settings."""

from __future__ import annotations

import math
import pickle
import warnings
from typing import Any

import numpy as np
import pytest

import hpopt
from hpopt.examples.ridge_gradient import RidgeProblem, make_data, optimize
from hpopt.samplers.base import TrialInfo
from hpopt.samplers.gradient import GradientSampler, _Layout
from hpopt.testing import check_sampler

SPACE2 = {"x": hpopt.Float(-5.0, 5.0), "y": hpopt.Float(-5.0, 5.0)}
OPT = np.array([1.3, -2.1])


def quad(p: dict[str, Any]) -> float:
    """A smooth, badly scaled quadratic with its minimum 0 at (1.3, -2.1), away from the centre."""
    dx, dy = p["x"] - OPT[0], p["y"] - OPT[1]
    return dx**2 + 3.0 * dy**2 + 0.5 * dx * dy


def run(sampler: GradientSampler, n: int, objective=quad, space=SPACE2, grad=None) -> hpopt.Study:
    study = hpopt.create_study(sampler=sampler)
    for _ in range(n):
        t = study.ask(space)
        study.tell(t, objective(t.params), gradient=grad(t.params) if grad else None)
    return study


# -- conformance ------------------------------------------------------------------------------------
def test_conformance_battery() -> None:
    check_sampler(lambda *, seed: GradientSampler(seed=seed))


def test_conformance_battery_user_and_fd() -> None:
    check_sampler(lambda *, seed: GradientSampler(seed=seed, estimator="fd"))
    check_sampler(lambda *, seed: GradientSampler(seed=seed, estimator="user", schedule="cosine"))


# -- convergence ------------------------------------------------------------------------------------
def test_ridge_example_converges_with_exact_gradient() -> None:
    problem = RidgeProblem(*make_data(0))
    t_star, l_star = problem.best_log_alpha()
    study = optimize(problem, n_trials=60, seed=0)
    assert abs(math.log(study.best_params["alpha"]) - t_star) < 1e-3
    assert study.best_value - l_star < 1e-6
    # the optimum is interior and away from the start (the geometric centre, alpha = 1)
    assert abs(t_star) > 2.0 and t_star < math.log(1e4) - 1.0


def test_spsa_converges_on_smooth_quadratic() -> None:
    study = run(GradientSampler(seed=3, estimator="spsa"), 240)
    assert study.best_value < 1e-3
    assert np.allclose([study.best_params["x"], study.best_params["y"]], OPT, atol=0.05)


def test_fd_converges_on_smooth_quadratic() -> None:
    study = run(GradientSampler(seed=0, estimator="fd"), 240)
    assert study.best_value < 1e-3


def test_maximize_climbs() -> None:
    study = hpopt.create_study(sampler=GradientSampler(seed=1, estimator="spsa"), direction="maximize")
    for _ in range(150):
        t = study.ask(SPACE2)
        study.tell(t, -quad(t.params))
    assert study.best_value > -1e-2


def test_user_gradient_iterates_are_every_trial() -> None:
    """With user gradients each trial is the next iterate: no extra evaluation is planned."""
    study = run(
        GradientSampler(seed=0), 80,
        grad=lambda p: {
            "x": 2 * (p["x"] - 1.3) + 0.5 * (p["y"] + 2.1),
            "y": 6 * (p["y"] + 2.1) + 0.5 * (p["x"] - 1.3),
        },
    )
    xs = [t.params["x"] for t in study.trials]
    assert len(set(xs)) == len(xs)  # never a perturbation pair, never a repeat
    assert study.best_value < 1e-8


# -- chain rule -------------------------------------------------------------------------------------
def test_log_space_chain_rule() -> None:
    """The user's d/dx becomes d/du = d/dx * dx/du: span for linear, x * log-span for log parameters."""
    space = {"a": hpopt.Float(1e-3, 1e3, log=True), "b": hpopt.Float(-2.0, 6.0)}
    sampler = GradientSampler(seed=0, estimator="user")
    layout = _Layout(sampler, space)

    def f(a: float, b: float) -> float:
        return math.log(a) ** 2 * 0.3 + a + (b - 1.0) ** 3

    u = np.array([0.37, 0.81])
    a, b = (float(v) for v in layout.keys(u)[0])
    user = {"a": 0.6 * math.log(a) / a + 1.0, "b": 3.0 * (b - 1.0) ** 2}
    g = sampler._gradient(layout, "none", 0, u, u[None, :], np.array([f(a, b)]), user)
    h = 1e-6
    num = []
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        (ap, bp), (am, bm) = ([float(v) for v in layout.keys(u + s * e)[0]] for s in (1, -1))
        num.append((f(ap, bp) - f(am, bm)) / (2 * h))
    np.testing.assert_allclose(g, num, rtol=1e-5)


def test_log_parameter_converges_with_user_gradient() -> None:
    space = {"a": hpopt.Float(1e-4, 1e2, log=True)}
    study = run(
        GradientSampler(seed=0, estimator="user"), 80, space=space,
        objective=lambda p: (math.log(p["a"]) - math.log(0.02)) ** 2,
        grad=lambda p: {"a": 2 * (math.log(p["a"]) - math.log(0.02)) / p["a"]},
    )
    assert abs(math.log(study.best_params["a"]) - math.log(0.02)) < 1e-4


# -- missing gradient entries -----------------------------------------------------------------------
def test_auto_estimates_missing_entries_with_spsa() -> None:
    """Gradient for x only: each iterate gets the SPSA pair for y, and both coordinates converge."""
    study = run(
        GradientSampler(seed=2), 240,
        grad=lambda p: {"x": 2 * (p["x"] - 1.3) + 0.5 * (p["y"] + 2.1)},
    )
    first = study.trials[:3]
    assert first[0].params == {"x": 0.0, "y": 0.0}  # the iterate, then its perturbation pair
    assert all(t.params != first[0].params for t in first[1:])
    assert study.best_value < 1e-3


def test_user_mode_holds_coordinates_without_gradient() -> None:
    """estimator="user": a coordinate whose gradient is never given stays at its start value."""
    study = run(
        GradientSampler(seed=0, estimator="user", x0={"y": 0.5}), 60,
        grad=lambda p: {"x": 2 * (p["x"] - 1.3) + 0.5 * (p["y"] + 2.1)},
    )
    assert {t.params["y"] for t in study.trials} == {0.5}
    assert len({t.params["x"] for t in study.trials}) == 60


def test_spsa_ignores_user_gradients() -> None:
    wrong = {"x": 1e6, "y": -1e6}  # a gradient pointing the wrong way, ignored by estimator="spsa"
    a = run(GradientSampler(seed=4, estimator="spsa"), 60)
    b = run(GradientSampler(seed=4, estimator="spsa"), 60, grad=lambda p: wrong)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


# -- history: other workers, failures, replay -------------------------------------------------------
def test_parallel_workers_spread_over_the_points_and_resume(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    a = hpopt.create_study(study_name="g", storage=url, sampler=GradientSampler(seed=5, estimator="spsa"))
    b = hpopt.load_study("g", url, sampler=GradientSampler(seed=5, estimator="spsa"))
    # three workers ask at once: the iterate and its pair, no duplicate
    trials = [a.ask(SPACE2), b.ask(SPACE2), a.ask(SPACE2)]
    assert len({tuple(t.params.values()) for t in trials}) == 3
    # a fourth ask while all three run re-proposes one of them (nothing new can be planned)
    extra = b.ask(SPACE2)
    assert tuple(extra.params.values()) in {tuple(t.params.values()) for t in trials}
    for t in reversed(trials):  # finished in reverse order, by the other worker
        (b if t.number % 2 else a).tell(t.number, quad(t.params))
    b.tell(extra.number, quad(extra.params))
    for i in range(150):
        s = (a, b)[i % 2]
        t = s.ask(SPACE2)
        s.tell(t, quad(t.params))
    assert a.best_value < 1e-2
    # a fresh process (new sampler, no cache) and a pickled copy rebuild the same state
    info = TrialInfo(10_000, {}, {}, {})
    history = a._history
    cached = a.sampler.sample_joint(history, info, SPACE2)
    fresh = GradientSampler(seed=5, estimator="spsa").sample_joint(history, info, SPACE2)
    copied = pickle.loads(pickle.dumps(a.sampler)).sample_joint(history, info, SPACE2)
    assert cached == fresh == copied


def test_failed_and_foreign_trials_do_not_break_the_trajectory() -> None:
    sampler = GradientSampler(seed=6, estimator="spsa")
    study = hpopt.create_study(sampler=sampler)
    for i in range(300):
        if i % 17 == 5:  # a foreign (enqueued) point in the middle
            study.enqueue_trial({"x": 4.9, "y": 4.9})
        t = study.ask(SPACE2)
        if i % 7 == 3:
            study.tell(t, state="fail")
        elif i % 11 == 4:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study.tell(t, math.nan)
        else:
            study.tell(t, quad(t.params))
    assert study.best_value < 1e-2
    # the incremental replay (checkpoints) and a full replay by a fresh sampler agree
    info = TrialInfo(10_000, {}, {}, {})
    fresh = GradientSampler(seed=6, estimator="spsa").sample_joint(study._history, info, SPACE2)
    assert sampler.sample_joint(study._history, info, SPACE2) == fresh


def test_failing_iterate_moves_back() -> None:
    """An iterate that always fails is pulled back towards the last good one; the run goes on."""
    def crashy(p: dict[str, Any]) -> float:
        return math.nan if p["x"] > 2.0 else quad(p)

    study = hpopt.create_study(sampler=GradientSampler(seed=0, estimator="spsa", x0={"x": 1.9}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(200):
            t = study.ask(SPACE2)
            study.tell(t, crashy(t.params))
    assert study.best_value < 1e-2


def test_reproducible_and_seed_dependent() -> None:
    a = run(GradientSampler(seed=11), 40)
    b = run(GradientSampler(seed=11), 40)
    c = run(GradientSampler(seed=12), 40)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.params for t in a.trials] != [t.params for t in c.trials]


def test_held_parameters_and_fallback() -> None:
    space = {
        **SPACE2, "n": hpopt.Int(1, 9), "c": hpopt.Categorical(["p", "q"]), "s": hpopt.Float(0, 1, step=0.25),
    }
    study = run(GradientSampler(seed=0, x0={"n": 4, "c": "q"}), 30, space=space)
    assert {(t.params["n"], t.params["c"]) for t in study.trials} == {(4, "q")}
    assert len({t.params["s"] for t in study.trials}) == 1  # a seeded draw, held
    # a space without continuous parameters is left to the fallback (random) sampler
    study = run(GradientSampler(seed=0), 20, space={"n": hpopt.Int(1, 100)}, objective=lambda p: p["n"])
    assert len({t.params["n"] for t in study.trials}) > 10


def test_gradient_key_matches_the_study() -> None:
    from hpopt.samplers import gradient
    from hpopt.study import GRADIENT_KEY

    assert gradient.GRADIENT_KEY == GRADIENT_KEY


def test_multi_objective_refused() -> None:
    with pytest.raises(ValueError, match="one objective"):
        hpopt.create_study(sampler=GradientSampler(seed=0), directions=["minimize", "minimize"])


# -- settings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"learning_rate": math.inf}, ValueError, "learning_rate"),
        ({"lr": 0.1, "learning_rate": 0.1}, ValueError, "not both"),
        ({"lr": "0.1"}, TypeError, "lr"),
        ({"betas": (1.0, 0.9)}, ValueError, r"betas\[0\]"),
        ({"betas": (0.9, -0.1)}, ValueError, r"betas\[1\]"),
        ({"betas": 0.9}, TypeError, "betas"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"estimator": "newton"}, ValueError, "estimator"),
        ({"schedule": "linear"}, ValueError, "schedule"),
        ({"decay_steps": 0}, ValueError, "decay_steps"),
        ({"min_lr_ratio": 1.5}, ValueError, "min_lr_ratio"),
        ({"perturbation": 0.0}, ValueError, "perturbation"),
        ({"perturbation": 0.6}, ValueError, "perturbation"),
        ({"perturbation": True}, TypeError, "perturbation"),
        ({"perturbation_decay": -0.1}, ValueError, "perturbation_decay"),
        ({"perturbation_decay": 1.5}, ValueError, "perturbation_decay"),
        ({"restart": 1}, TypeError, "restart"),
        ({"x0": [1.0]}, TypeError, "x0"),
        ({"fallback_sampler": "random"}, TypeError, "fallback_sampler"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_settings(settings: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        GradientSampler(**settings)


def test_x0_outside_the_space_is_refused_before_anything_is_written() -> None:
    study = hpopt.create_study(sampler=GradientSampler(seed=0, x0={"x": 7.0}))
    with pytest.raises(ValueError, match=r"x0\['x'\]"):
        study.ask(SPACE2)
    assert study.trials == []


def test_schedules() -> None:
    for schedule in ("constant", "inverse_sqrt", "exponential", "cosine"):
        s = GradientSampler(lr=0.2, schedule=schedule, decay_steps=10, min_lr_ratio=0.1)
        sizes = [s.step_size(k) for k in range(30)]
        assert sizes[0] == pytest.approx(0.2)
        assert all(a >= b for a, b in zip(sizes, sizes[1:]))
        assert min(sizes) >= 0.02 - 1e-12
    assert GradientSampler(schedule="cosine", decay_steps=10, lr=0.2).step_size(10) == pytest.approx(0.0)
    assert GradientSampler(schedule="exponential", decay_steps=10, lr=0.2).step_size(10) == pytest.approx(0.1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_replay_equals_full_replay(seed: int) -> None:
    """Out-of-order finishes, failures, duplicates and a stalled iterate (a plateau): after every
    tell, the cached sampler proposes what a fresh one replaying the whole history proposes."""
    rng = np.random.default_rng(seed)

    def objective(p: dict[str, Any]) -> float:
        plateau = max(0.0, abs(p["x"] - 1.0) - 0.5) + max(0.0, abs(p["y"] + 1.0) - 0.5)
        return plateau if seed == 2 else quad(p)

    sampler = GradientSampler(seed=seed, estimator="spsa" if seed != 1 else "fd")
    study = hpopt.create_study(sampler=sampler)
    running: list[Any] = []
    info = TrialInfo(10_000, {}, {}, {})
    for _ in range(120):
        running.append(study.ask(SPACE2))
        if len(running) < 3 and rng.random() < 0.5:
            continue
        t = running.pop(int(rng.integers(len(running))))
        if rng.random() < 0.1:
            study.tell(t, state="fail")
        else:
            study.tell(t, objective(t.params))
        fresh = GradientSampler(seed=seed, estimator=sampler.estimator)
        assert sampler.sample_joint(study._history, info, SPACE2) == fresh.sample_joint(
            study._history, info, SPACE2
        )
