"""Tests of the CMA-ES sampler (hpopt.samplers.cmaes) and its numerical core (cma_core)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

import hpopt
from hpopt.samplers.base import Sampler
from hpopt.samplers.branch import BranchSampler
from hpopt.samplers.cma_core import CMA
from hpopt.samplers.cmaes import CmaEsSampler
from hpopt.samplers.de import DESampler
from hpopt.samplers.random import RandomSampler
from hpopt.samplers.tpe import TPESampler

SPACE = {
    "x": hpopt.Float(-5, 5),
    "y": hpopt.Float(1e-3, 10, log=True),
    "n": hpopt.Int(0, 12),
    "c": hpopt.Categorical(["a", "b", "c"]),
}


def _mixed(p: dict) -> float:
    return (p["x"] - 1.3) ** 2 + math.log10(p["y"]) ** 2 + (p["n"] - 7) ** 2 + (p["c"] != "b")


def _run(study: hpopt.Study, n: int, space: dict = SPACE, func=_mixed) -> None:
    for _ in range(n):
        t = study.ask(space)
        study.tell(t, func(t.params))


# -- numerical core ---------------------------------------------------------------------------------
def _ellipsoid(n: int, cond: float):
    rot, _ = np.linalg.qr(np.random.default_rng(42).standard_normal((n, n)))
    scale = cond ** (np.arange(n) / (n - 1))
    opt = np.full(n, 0.37)
    return lambda x: (((x - opt) @ rot.T) ** 2 * scale).sum(axis=1)


def _solve(cma: CMA, f, rng, target: float, max_evals: int) -> tuple[int, float]:
    evals, best = 0, math.inf
    while evals < max_evals and best > target:
        xs = np.array([cma.sample(rng)[0] for _ in range(cma.popsize)])
        fs = f(xs)
        evals += len(fs)
        best = min(best, float(fs.min()))
        cma.tell(xs, np.empty((len(xs), 0), dtype=int), fs)
    return evals, best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_core_solves_rotated_ellipsoid(seed):
    """Full CMA-ES reaches 1e-8 on a rotated 5-D ellipsoid (condition 1e4) in <= 2500 evaluations."""
    cma = CMA([None] * 5, [], mean=np.full(5, 0.5), sigma=0.2, popsize=8)
    evals, best = _solve(cma, _ellipsoid(5, 1e4), np.random.default_rng(seed), 1e-8, 2500)
    assert best <= 1e-8, (evals, best)


def test_core_separable_solves_axis_parallel_ellipsoid():
    """The separable variant reaches 1e-8 on an axis-parallel 10-D ellipsoid (condition 1e4)."""
    scale = 1e4 ** (np.arange(10) / 9)
    cma = CMA([None] * 10, [], mean=np.full(10, 0.5), sigma=0.2, popsize=10, separable=True)
    f = lambda x: ((x - 0.37) ** 2 * scale).sum(axis=1)  # noqa: E731
    evals, best = _solve(cma, f, np.random.default_rng(0), 1e-8, 6000)
    assert best <= 1e-8, (evals, best)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=True), min_size=1, max_size=60))
def test_core_median_equals_numpy(values):
    """The stagnation test's median is np.median's, bit for bit (infinities included)."""
    from hpopt.samplers.cma_core import _median

    m = _median(values)
    assert m == np.median(values) or (math.isnan(m) and math.isnan(np.median(values)))


def test_core_one_dimensional_eigen_is_eighs():
    """In one dimension the eigen decomposition skips eigh but gives what eigh gives."""
    rng = np.random.default_rng(4)
    cma = CMA([None], np.zeros(0, dtype=int), mean=np.array([0.5]), sigma=0.2, popsize=4)
    for _ in range(30):
        xs = cma.sample_many(rng, 4)
        cma.tell(xs, np.empty((4, 0), dtype=int), ((xs - 0.3) ** 2).sum(axis=1))
        B, D = cma.eigen()
        vals, vecs = np.linalg.eigh(cma.C)
        assert np.array_equal(B, vecs) and np.array_equal(D, np.sqrt(vals))


def test_candidate_drawn_at_ask_is_reused_only_while_the_distribution_is_unchanged():
    """A trial's candidate is drawn once per distribution: the replay reuses the ask's draw, which
    equals a fresh redraw; once the distribution moves on, the number draws anew from the new one."""
    from hpopt.rng import trial_rng

    sampler = CmaEsSampler(seed=5, popsize=4)
    study = hpopt.create_study(sampler=sampler)
    space = {"x": hpopt.Float(-5, 5), "n": hpopt.Int(0, 12)}
    _run(study, 2, space, lambda p: (p["x"] - 1) ** 2 + p["n"])
    (run,) = [r for r, _ in sampler._runs.values()]
    cma, gen = run.cma, run.cma.generation
    x, c = run.draw(1000)
    assert run.draw(1000)[0] is x  # kept
    fresh = cma.sample(trial_rng(sampler.seed, 1000))
    assert np.array_equal(fresh[0], x) and np.array_equal(fresh[1], c)
    _run(study, 6, space, lambda p: (p["x"] - 1) ** 2 + p["n"])  # two generations later
    assert run.cma.generation > gen and 1000 not in run.drawn
    x2, _ = run.draw(1000)
    assert np.array_equal(x2, run.cma.sample(trial_rng(sampler.seed, 1000))[0])
    assert not np.array_equal(x2, x)


def test_core_margin_keeps_neighbouring_integers_reachable():
    """With a margin, each integer next to the mean keeps probability >= margin at every generation."""
    k = 6  # Int(0, 5): cells of width 1/6
    thr = np.arange(1, k) / k
    cma = CMA([None, thr], [], mean=np.array([0.5, 0.9]), sigma=0.2, popsize=8)
    rng = np.random.default_rng(0)
    for _ in range(150):
        xs = np.array([cma.sample(rng)[0] for _ in range(cma.popsize)])
        vals = np.clip(np.floor(xs[:, 1] * k), 0, k - 1)
        cma.tell(xs, np.empty((len(xs), 0), int), (xs[:, 0] - 0.3) ** 2 + (vals - 2) ** 2)
        m, s = cma.mean[1], cma.sigma * cma.A[1] * math.sqrt(cma.C[1, 1])
        cell = int(np.clip(np.floor(m * k), 0, k - 1))
        if cell > 0:
            assert norm.cdf((cell / k - m) / s) >= cma.margin * (1 - 1e-6)
        if cell < k - 1:
            assert norm.sf(((cell + 1) / k - m) / s) >= cma.margin * (1 - 1e-6)
    assert cma.sigma < 1e-3  # the continuous coordinate converged meanwhile
    draws = np.array([cma.sample(rng)[0][1] for _ in range(3000)])
    seen = set(np.clip(np.floor(draws * k), 0, k - 1).astype(int).tolist())
    assert {1, 2, 3} <= seen


def test_core_categorical_probabilities_learn_and_keep_margin():
    """Categorical probabilities move to the best choice and never drop below the CatCMA margin."""
    cma = CMA([None], [4], mean=np.array([0.5]), sigma=0.2, popsize=8)
    rng = np.random.default_rng(0)
    for _ in range(80):
        pairs = [cma.sample(rng) for _ in range(cma.popsize)]
        xs = np.array([p[0] for p in pairs])
        cs = np.array([p[1] for p in pairs])
        cma.tell(xs, cs, (xs[:, 0] - 0.2) ** 2 + (cs[:, 0] != 2))
        assert np.all(cma.q >= cma.q_min[:, None] - 1e-12)
        assert abs(cma.q.sum() - 1) < 1e-9
    assert int(np.argmax(cma.q[0])) == 2


def test_core_injected_step_is_clipped():
    """An injected far-away solution moves the mean no more than a clipped step (Hansen 2011)."""
    a = CMA([None] * 3, [], mean=np.full(3, 0.5), sigma=0.01, popsize=6)
    xs = np.full((6, 3), 0.5)
    xs[0] = 0.99
    fs = np.array([0.0, 1, 2, 3, 4, 5])
    a.tell(xs, np.empty((6, 0), int), fs, np.array([True] + [False] * 5))
    assert np.abs(a.mean - 0.5).max() < 0.01 * a.c_inject


# -- sampler ----------------------------------------------------------------------------------------
def test_solves_mixed_space():
    """On a mixed float/log/int/categorical problem the sampler finds the optimum within 300 trials."""
    study = hpopt.create_study(sampler="cmaes", seed=0)
    _run(study, 300)
    assert study.best_value < 0.05
    assert study.best_params["n"] == 7 and study.best_params["c"] == "b"


def test_seed_reproduces_the_search():
    """Two studies with the same seed propose identical parameters; another seed differs."""
    a, b, c = (hpopt.create_study(sampler="cmaes", seed=s) for s in (5, 5, 6))
    for study in (a, b, c):
        _run(study, 40)
    pa, pb, pc = ([t.params for t in s.trials] for s in (a, b, c))
    assert pa == pb
    assert pa != pc


def test_fresh_process_on_sqlite_continues_the_same_search(tmp_path):
    """A new Study and sampler on the same SQLite storage propose what the uninterrupted run proposed."""
    url = f"sqlite:///{tmp_path}/cma.db"
    first = hpopt.create_study(study_name="s", storage=url, sampler=CmaEsSampler(seed=11))
    _run(first, 37)
    resumed = hpopt.load_study("s", url, sampler=CmaEsSampler(seed=11))
    _run(resumed, 23)
    reference = hpopt.create_study(sampler=CmaEsSampler(seed=11))
    _run(reference, 60)
    assert [t.params for t in resumed.trials] == [t.params for t in reference.trials]


def test_restarts_trigger_on_rastrigin():
    """IPOP restarts happen on a multimodal function (Rastrigin) and double the population."""
    space = {f"x{i}": hpopt.Float(-5.12, 5.12) for i in range(2)}

    def rastrigin(p: dict) -> float:
        x = np.array(list(p.values())) - 0.5
        return float(10 * len(x) + (x**2 - 10 * np.cos(2 * np.pi * x)).sum())

    sampler = CmaEsSampler(seed=0, restart="ipop", tolfun=1e-8)
    study = hpopt.create_study(sampler=sampler)
    _run(study, 700, space, rastrigin)
    run = sampler.state(study._history, space)
    assert run.restarts >= 1
    assert run.cma.popsize == run.base_popsize * 2**run.restarts


def test_bipop_restarts_alternate_regimes():
    """BIPOP runs small-population restarts once the large regime has used more budget."""
    space = {f"x{i}": hpopt.Float(-5.12, 5.12) for i in range(2)}
    sampler = CmaEsSampler(seed=1, restart="bipop", tolfun=1e-8)
    study = hpopt.create_study(sampler=sampler)
    _run(study, 2500, space, lambda p: float(sum(v**2 - 10 * np.cos(2 * np.pi * v) + 10 for v in p.values())))
    run = sampler.state(study._history, space)
    assert run.restarts >= 2
    assert run.budget["small"] > 0 and run.budget["large"] > 0


def test_failed_generations_are_resampled():
    """Whole generations of FAIL trials do not stop the search: later trials still improve."""
    study = hpopt.create_study(sampler="cmaes", seed=2)
    for i in range(120):
        t = study.ask(SPACE)
        if i < 30 or i % 3 == 0:
            study.tell(t, state="fail")
        else:
            study.tell(t, _mixed(t.params))
    assert study.best_value < 2.0


def test_parallel_asks_before_any_tell():
    """Many trials asked before any tell (several workers) all get valid, distinct parameters."""
    study = hpopt.create_study(sampler="cmaes", seed=3)
    for _ in range(5):
        trials = [study.ask(SPACE) for _ in range(20)]
        for t in reversed(trials):
            study.tell(t, _mixed(t.params))
    xs = [t.params["x"] for t in study.trials]
    assert len(set(xs)) == len(xs)
    assert study.best_value < 5


def test_define_by_run_uses_the_given_fallback_for_other_parameters():
    """Parameters outside the joint space go to the explicit fallback sampler; joint ones do not."""
    calls: list[str] = []

    class Recorder(Sampler):
        def sample(self, history, trial, name, distribution):
            calls.append(name)
            return distribution.from_internal(distribution.internal_bounds[0])

    sampler = CmaEsSampler(seed=0, fallback_sampler=Recorder())
    study = hpopt.create_study(sampler=sampler)

    def objective(trial):
        x = trial.suggest_float("x", -3, 3)
        if trial.number % 2:
            trial.suggest_int("odd", 0, 5)
        return x * x

    study.optimize(objective, n_trials=30)
    assert calls.count("x") == 1  # only trial 0, before any trial completed
    assert calls.count("odd") == 15
    assert study.best_value < 0.5


def _branchy(trial) -> float:
    """A conditional objective: the branch ``a`` owns ``u``, which only ``a`` trials have."""
    kind = trial.suggest_categorical("kind", ["a", "b"])
    if kind == "a":
        return (trial.suggest_float("u", -10, 10) - 3.0) ** 2
    return 30.0 + trial.suggest_float("v", 0, 1)


def _branch_error(sampler: Sampler, n: int = 80) -> float:
    study = hpopt.create_study(sampler=sampler)
    study.optimize(_branchy, n_trials=n)
    us = [t.params["u"] for t in study.trials if "u" in t.params][-15:]
    return float(np.median(np.abs(np.array(us) - 3.0)))


@pytest.mark.parametrize("make", [CmaEsSampler, DESampler])
def test_default_fallback_models_conditional_parameters(make):
    """By default parameters outside the joint space are modelled from the trials that have them
    (DE: TPE; CMA-ES: TPE, then a CMA-ES per branch), so a branch parameter concentrates near its
    optimum; a random fallback does not."""
    default = BranchSampler if make is CmaEsSampler else TPESampler
    assert isinstance(make(seed=0).fallback_sampler, default)
    tpe = _branch_error(make(seed=0))
    rand = _branch_error(make(seed=0, fallback_sampler=RandomSampler(seed=0)))
    assert tpe < 2.0 < rand


@pytest.mark.parametrize("make", [CmaEsSampler, DESampler])
def test_fallback_samples_each_taken_branch_jointly(make):
    """A conditional group (the parameters the same trials have) reaches the fallback's
    ``sample_joint`` whole, once per trial that takes the branch, and never the intersection's
    ``kind``; a parameter no COMPLETE trial has yet goes to ``sample``. The user's choice holds."""
    groups: list[tuple[int, list[str]]] = []
    singles: list[str] = []

    class Recorder(Sampler):
        def sample_joint(self, history, trial, space):
            groups.append((trial.number, sorted(space)))
            return {k: d.from_internal(d.internal_bounds[0]) for k, d in space.items()}

        def sample(self, history, trial, name, distribution):
            singles.append(name)
            return distribution.from_internal(distribution.internal_bounds[1])

    def objective(trial):
        if trial.suggest_categorical("kind", ["a", "b"]) == "a":
            return trial.suggest_float("u", -10, 10) ** 2 + trial.suggest_float("w", 0, 1)
        return trial.suggest_int("v", 0, 5) + trial.suggest_float("z", 0, 1)

    study = hpopt.create_study(sampler=make(seed=0, fallback_sampler=Recorder()))
    study.optimize(objective, n_trials=30)
    assert "kind" not in singles[1:] and not any("kind" in g for _, g in groups)
    by_trial = {n: g for n, g in groups}
    assert len(by_trial) == len(groups)  # one group per trial: only the branch it takes
    for t in study.trials[1:]:
        branch = ["u", "w"] if "u" in t.params else ["v", "z"]
        before = [set(o.params) for o in study.trials[: t.number]]
        if set(branch) <= set.intersection(*before):  # every trial so far took it: CMA's
            assert t.number not in by_trial
        elif any(branch[0] in p for p in before):  # a known group: sampled jointly (lower bounds)
            assert by_trial[t.number] == branch
            assert t.params[branch[0]] == (-10 if branch[0] == "u" else 0)
            assert t.params[branch[1]] == 0
        else:  # first time: each parameter alone
            assert t.number not in by_trial and set(branch) <= set(singles)
    assert groups  # the joint path was exercised


def test_warm_start_from_good_trials():
    """WS-CMA-ES starts near the source study's best region; another space is refused clearly."""
    src = hpopt.create_study(sampler="random", seed=0)
    _run(src, 200)
    warm = CmaEsSampler(seed=0, warm_start_trials=src.trials)
    study = hpopt.create_study(sampler=warm)
    _run(study, 10)
    cold = hpopt.create_study(sampler=CmaEsSampler(seed=0))
    _run(cold, 10)
    assert min(t.value for t in study.trials) < min(t.value for t in cold.trials)
    other = hpopt.create_study(sampler=CmaEsSampler(seed=0, warm_start_trials=src.trials))
    with pytest.raises(ValueError, match="warm_start_trials"):
        other.ask({"z": hpopt.Float(0, 1)})


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"popsize": 1}, ValueError),
        ({"popsize": 2.5}, TypeError),
        ({"sigma0": 0}, ValueError),
        ({"sigma0": -0.1}, ValueError),
        ({"sigma0": math.nan}, TypeError),
        ({"restart": "sometimes"}, ValueError),
        ({"inc_popsize": 1}, ValueError),
        ({"separable": "yes"}, ValueError),
        ({"margin": 0.5}, ValueError),
        ({"warm_start_trials": []}, TypeError),
        ({"fallback_sampler": "random"}, TypeError),
    ],
)
def test_bad_settings_are_refused(settings, error):
    """Invalid settings raise at construction with a message naming the setting."""
    with pytest.raises(error, match=next(iter(settings))):
        CmaEsSampler(**settings)


def test_multi_objective_study_is_refused():
    """A study with two objectives is refused when it is created."""
    with pytest.raises(ValueError, match="one objective"):
        hpopt.create_study(sampler="cmaes", directions=["minimize", "minimize"])


def test_maximize_direction():
    """In a maximization study the sampler climbs the objective."""
    study = hpopt.create_study(sampler="cmaes", seed=4, direction="maximize")
    _run(study, 150, func=lambda p: -_mixed(p))
    assert study.best_value > -0.5


def test_separable_is_chosen_automatically_from_40_numeric_parameters():
    """``separable="auto"`` uses the diagonal model at 40 numeric parameters, the full one below."""
    sampler = CmaEsSampler(seed=0)
    study = hpopt.create_study(sampler=sampler)
    for dim, expected in ((39, False), (40, True)):
        space = {f"x{i}": hpopt.Float(0, 1) for i in range(dim)}
        t = study.ask(space)
        study.tell(t, sum(t.params.values()))
        assert sampler.state(study._history, space).separable is expected


def test_x0_sets_the_initial_mean():
    """``x0`` places the first generation's mean at the given parameters."""
    sampler = CmaEsSampler(seed=0, x0={"x": 4.0, "y": 1.0, "n": 2}, sigma0=0.01)
    study = hpopt.create_study(sampler=sampler)
    t = study.ask(SPACE)
    assert abs(t.params["x"] - 4.0) < 0.5 and t.params["n"] in (1, 2, 3)


def test_default_sigma0_covers_the_box_within_three_sigma():
    """Hansen's rule: from the box centre, mean +- 3 sigma0 spans the unit box."""
    sampler = CmaEsSampler(seed=0)
    assert 0.5 - 3 * sampler.sigma0 == pytest.approx(0.0)
    run = sampler._new_run({"x": hpopt.Float(-5, 5)})
    assert run.cma.sigma == pytest.approx(1 / 6)
