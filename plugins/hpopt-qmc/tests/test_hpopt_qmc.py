"""Tests of hpopt-qmc: hpopt's conformance battery, the sequences, discovery, settings."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from importlib.metadata import entry_points
from typing import Any

import numpy as np
import pytest
from hpopt_qmc import QMCSampler
from scipy.stats import qmc

import hpopt
from hpopt import Categorical, Float, Int
from hpopt.testing import check_sampler, sampler_checks

CONFIGS = {
    "sobol": {"qmc_type": "sobol"},
    "halton": {"qmc_type": "halton"},
    "sobol-plain": {"qmc_type": "sobol", "scramble": False},
    "halton-plain": {"qmc_type": "halton", "scramble": False},
}

# One parameter of each kind a user writes most: float, log float, int, categorical, stepped float.
MIXED = {
    "x": Float(-2.0, 3.0),
    "lr": Float(1e-5, 1e-1, log=True),
    "n": Int(1, 9),
    "act": Categorical(["relu", "tanh", None, 2.5]),
    "drop": Float(0.0, 0.5, step=0.1),
}


def _factory(config: str) -> Any:
    """``make(seed=...)`` for hpopt's battery, built by name through the plugin registry."""

    def make(*, seed: int) -> Any:
        return hpopt.make_sampler("qmc", seed=seed, **CONFIGS[config])

    make.__name__ = f"make_qmc_{config}"
    return make


def _info(number: int) -> hpopt.TrialInfo:
    return hpopt.TrialInfo(number, {}, {}, {})


class _View:
    """The part of hpopt.History that joint_space reads, built from a study's public trials."""

    def __init__(self, study: hpopt.Study) -> None:
        self._finished = tuple(t for t in study.trials if t.state.is_finished())

    def finished(self) -> tuple[hpopt.FrozenTrial, ...]:
        return self._finished


def _joint(study: hpopt.Study) -> dict[str, Any]:
    return study.sampler.joint_space(_View(study))


# -- hpopt's conformance battery -------------------------------------------------------------------
CHECK_NAMES = [name for name, _ in sampler_checks(_factory("sobol"))]


@pytest.mark.parametrize("check", CHECK_NAMES)
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_conformance_check(config: str, check: str) -> None:
    """Every configuration of the QMC sampler passes every check of hpopt's sampler battery."""
    dict(sampler_checks(_factory(config)))[check]()


def test_check_sampler_whole() -> None:
    """check_sampler passes as one call, with no expected failures declared."""
    check_sampler(_factory("sobol"))


# -- discovery through the entry point -------------------------------------------------------------
def test_entry_point_is_declared() -> None:
    """The installed distribution declares the entry point qmc = hpopt_qmc.plugin in group hpopt."""
    eps = {ep.name: ep.value for ep in entry_points(group="hpopt")}
    assert eps.get("qmc") == "hpopt_qmc.plugin"


def test_registered_with_its_distribution() -> None:
    """available_samplers lists "qmc" as provided by the hpopt-qmc distribution."""
    provider = hpopt.available_samplers()["qmc"]
    assert (provider.distribution, provider.factory) == ("hpopt-qmc", QMCSampler)


def test_create_study_by_name_in_a_fresh_interpreter() -> None:
    """create_study(sampler="qmc") works in a new process, found only through the entry point."""
    code = (
        "import hpopt\n"
        "s = hpopt.create_study(sampler='qmc', seed=3)\n"
        "s.optimize(lambda t: t.suggest_float('x', 0, 1), n_trials=5)\n"
        "print(type(s.sampler).__name__, s.sampler.seed, len(s.trials))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["QMCSampler", "3", "5"]


@pytest.mark.parametrize("qmc_type", ["sobol", "halton"])
def test_points_identical_in_another_process(qmc_type: str) -> None:
    """Another interpreter computes the same points and fallback draws (no per-process state)."""
    code = (
        "from hpopt_qmc import QMCSampler\n"
        f"s = QMCSampler(qmc_type={qmc_type!r}, seed=5)\n"
        "print(repr([s.unit_point(i, 3).tolist() for i in (0, 17, 1000, 3)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    s = QMCSampler(qmc_type=qmc_type, seed=5)
    assert out.stdout.strip() == repr([s.unit_point(i, 3).tolist() for i in (0, 17, 1000, 3)])


def test_make_sampler_passes_settings() -> None:
    """make_sampler("qmc", ...) hands qmc_type, scramble and seed to the sampler."""
    s = hpopt.make_sampler("qmc", qmc_type="Halton", scramble=False, seed=7)
    assert (s.qmc_type, s.scramble, s.seed) == ("halton", False, 7)


# -- settings --------------------------------------------------------------------------------------
class TestSettings:
    """Bad settings are refused at construction with errors naming the setting."""

    def test_unknown_qmc_type(self) -> None:
        """An unknown qmc_type is a ValueError listing the known ones."""
        rule = r"`qmc_type` must be one of \['sobol', 'halton'\], but got 'lhs'"
        with pytest.raises(ValueError, match=rule):
            QMCSampler(qmc_type="lhs")

    def test_qmc_type_not_a_string(self) -> None:
        """A qmc_type that is not a str is a TypeError."""
        with pytest.raises(TypeError, match="`qmc_type` must be a str"):
            QMCSampler(qmc_type=1)  # type: ignore[arg-type]

    @pytest.mark.parametrize("scramble", ["yes", 1, None])
    def test_scramble_not_a_bool(self, scramble: Any) -> None:
        """A scramble setting that is not a bool is a TypeError."""
        with pytest.raises(TypeError, match="`scramble` must be True or False"):
            QMCSampler(scramble=scramble)

    def test_negative_seed(self) -> None:
        """A negative seed is a ValueError naming the seed."""
        with pytest.raises(ValueError, match="seed"):
            QMCSampler(seed=-1)

    @pytest.mark.parametrize("seed", ["0", 1.5, True])
    def test_seed_of_wrong_type(self, seed: Any) -> None:
        """A seed that is not an int, a Generator or None is a TypeError naming the seed."""
        with pytest.raises(TypeError, match="seed"):
            QMCSampler(seed=seed)

    def test_make_sampler_refuses_bad_settings(self) -> None:
        """make_sampler passes the refusal on, naming the sampler and the setting."""
        with pytest.raises(ValueError, match="qmc_type"):
            hpopt.make_sampler("qmc", qmc_type="random")
        with pytest.raises(TypeError, match="qmc"):
            hpopt.make_sampler("qmc", no_such_setting=1)

    def test_generator_seed(self) -> None:
        """A numpy Generator as seed gives a reproducible integer seed."""
        a = QMCSampler(seed=np.random.default_rng(5))
        b = QMCSampler(seed=np.random.default_rng(5))
        assert a.seed == b.seed


# -- the sequences ---------------------------------------------------------------------------------
class TestSequence:
    """unit_point gives the textbook sequences, stratified, in [0, 1), a function of the index."""

    def test_plain_sobol_matches_scipy(self) -> None:
        """Unscrambled Sobol' points 0..127 are scipy's points 0..127."""
        s = QMCSampler(qmc_type="sobol", scramble=False)
        got = np.array([s.unit_point(i, 5) for i in range(128)])
        np.testing.assert_array_equal(got, qmc.Sobol(5, scramble=False).random(128))

    def test_plain_halton_matches_scipy(self) -> None:
        """Unscrambled Halton points 0..199 equal scipy's radical inverses."""
        s = QMCSampler(qmc_type="halton", scramble=False)
        got = np.array([s.unit_point(i, 6) for i in range(200)])
        ref = qmc.Halton(6, scramble=False).random(200)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15)

    @pytest.mark.parametrize("qmc_type", ["sobol", "halton"])
    def test_scrambled_points_are_stratified(self, qmc_type: str) -> None:
        """The first 2^k points of the first coordinate fall one per interval of width 2^-k."""
        for seed in range(3):
            s = QMCSampler(qmc_type=qmc_type, seed=seed)
            u = np.array([s.unit_point(i, 3)[0] for i in range(64)])
            assert np.array_equal(np.sort(np.floor(u * 64)), np.arange(64)), (qmc_type, seed)
            assert np.all((u >= 0) & (u < 1))

    def test_halton_second_coordinate_stratified_in_base_3(self) -> None:
        """Scrambled Halton: the first 27 points of coordinate 2 fall one per interval of 1/27."""
        s = QMCSampler(qmc_type="halton", seed=11)
        u = np.array([s.unit_point(i, 2)[1] for i in range(27)])
        assert np.array_equal(np.sort(np.floor(u * 27)), np.arange(27))

    @pytest.mark.parametrize("qmc_type", ["sobol", "halton"])
    def test_index_order_does_not_matter(self, qmc_type: str) -> None:
        """Points asked for in a shuffled order equal those asked in order (no hidden counter)."""
        order = np.random.default_rng(0).permutation(300).tolist()
        a = QMCSampler(qmc_type=qmc_type, seed=4)
        b = QMCSampler(qmc_type=qmc_type, seed=4)
        in_order = {i: a.unit_point(i, 4) for i in range(300)}
        for i in order:
            np.testing.assert_array_equal(b.unit_point(i, 4), in_order[i])

    @pytest.mark.parametrize("qmc_type", ["sobol", "halton"])
    def test_seed_changes_the_scramble(self, qmc_type: str) -> None:
        """Two seeds give two different scrambled sequences; one seed gives one."""
        a, b = QMCSampler(qmc_type=qmc_type, seed=1), QMCSampler(qmc_type=qmc_type, seed=2)
        pa = np.array([a.unit_point(i, 3) for i in range(16)])
        pb = np.array([b.unit_point(i, 3) for i in range(16)])
        assert not np.array_equal(pa, pb)
        np.testing.assert_array_equal(pa, [QMCSampler(qmc_type=qmc_type, seed=1).unit_point(i, 3)
                                           for i in range(16)])

    def test_sobol_index_wraps_at_its_length(self) -> None:
        """Sobol' trial numbers beyond 2**30 wrap around (documented), instead of failing."""
        s = QMCSampler(seed=0)
        np.testing.assert_array_equal(s.unit_point(2**30 + 5, 2), s.unit_point(5, 2))

    def test_far_halton_index(self) -> None:
        """A Halton point far in the sequence is computed directly and lies in [0, 1)."""
        u = QMCSampler(qmc_type="halton", seed=0).unit_point(10**12, 8)
        assert u.shape == (8,) and np.all((u >= 0) & (u < 1))

    def test_bad_index_or_dim(self) -> None:
        """A negative index, a dimension < 1 or too many Sobol' dimensions are ValueErrors."""
        s = QMCSampler(seed=0)
        with pytest.raises(ValueError, match="index >= 0"):
            s.unit_point(-1, 2)
        with pytest.raises(ValueError, match="dim >= 1"):
            s.unit_point(0, 0)
        with pytest.raises(ValueError, match="halton"):
            s.unit_point(0, 30_000)

    def test_pickled_sampler_gives_the_same_points(self) -> None:
        """A pickled and restored sampler (process pools) continues the very same sequence."""
        s = QMCSampler(seed=9)
        first = s.unit_point(10, 3)
        t = pickle.loads(pickle.dumps(s))
        np.testing.assert_array_equal(t.unit_point(10, 3), first)


# -- static spaces ---------------------------------------------------------------------------------
class TestStaticSpace:
    """ask(space) takes the QMC point of the trial number, mapped through SpaceTransform."""

    @pytest.mark.parametrize("config", sorted(CONFIGS))
    def test_values_inside_distributions(self, config: str) -> None:
        """256 static trials of mixed types all hold values of their distributions and types."""
        study = hpopt.create_study(sampler=hpopt.make_sampler("qmc", seed=0, **CONFIGS[config]))
        for _ in range(256):
            t = study.ask(MIXED)
            for name, dist in MIXED.items():
                assert dist.contains(t.params[name]), (name, t.params[name])
            assert type(t.params["n"]) is int and type(t.params["x"]) is float
            study.tell(t, 0.0)
        assert {ft.params["act"] for ft in study.trials} == {"relu", "tanh", None, 2.5}
        assert {ft.params["n"] for ft in study.trials} == set(range(1, 10))

    def test_trial_n_is_point_n(self) -> None:
        """The parameters of trial N are the decoded point N, whatever order N is computed in."""
        study = hpopt.create_study(sampler="qmc", seed=21)
        for _ in range(40):
            study.tell(study.ask(MIXED), 0.0)
        other = QMCSampler(seed=21)
        for n in reversed(range(40)):
            assert other.sample_joint(None, _info(n), MIXED) == study.trials[n].params  # type: ignore[arg-type]

    def test_same_seed_same_trials(self) -> None:
        """Two studies with the same seed get identical parameters trial by trial."""
        runs = []
        for _ in range(2):
            study = hpopt.create_study(sampler="qmc", seed=5)
            for _ in range(30):
                study.tell(study.ask(MIXED), 1.0)
            runs.append([dict(ft.params) for ft in study.trials])
        assert runs[0] == runs[1]

    def test_threads_agree_with_the_index(self) -> None:
        """Four threads asking concurrently each get exactly the point of their trial number."""
        study = hpopt.create_study(sampler="qmc", seed=2)
        space = {"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)}

        def work() -> None:
            for _ in range(25):
                study.tell(study.ask(space), 0.0)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        ref = QMCSampler(seed=2)
        assert len(study.trials) == 100
        for ft in study.trials:
            assert ft.params == ref.sample_joint(None, _info(ft.number), space)  # type: ignore[arg-type]


# -- low discrepancy -------------------------------------------------------------------------------
@pytest.mark.parametrize("qmc_type", ["sobol", "halton"])
def test_lower_discrepancy_than_random(qmc_type: str) -> None:
    """256 QMC points in 2-D have less than half the L2-star discrepancy of 256 random ones."""
    space = {"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)}
    for seed in range(5):
        points = {}
        for name, sampler in (("qmc", QMCSampler(qmc_type=qmc_type, seed=seed)),
                              ("random", hpopt.RandomSampler(seed=seed))):
            study = hpopt.create_study(sampler=sampler)
            for _ in range(256):
                study.tell(study.ask(space), 0.0)
            points[name] = np.array([[ft.params["a"], ft.params["b"]] for ft in study.trials])
        d_qmc = qmc.discrepancy(points["qmc"], method="L2-star")
        d_random = qmc.discrepancy(points["random"], method="L2-star")
        assert d_qmc < d_random / 2, (seed, d_qmc, d_random)


# -- define-by-run ---------------------------------------------------------------------------------
class TestDefineByRun:
    """joint_space is the intersection of COMPLETE trials; other parameters are independent."""

    def test_first_trial_is_independent_draws(self) -> None:
        """With no COMPLETE trial nothing is planned: trial 0 equals RandomSampler's (same seed)."""
        q = hpopt.create_study(sampler="qmc", seed=8).ask()
        r = hpopt.create_study(sampler="random", seed=8).ask()
        for name, dist in MIXED.items():
            assert q.suggest(name, dist) == r.suggest(name, dist), name

    def test_later_trials_are_planned_from_the_point(self) -> None:
        """From the second trial on, parameters of every COMPLETE trial come from QMC point N."""
        study = hpopt.create_study(sampler="qmc", seed=13)
        for _ in range(20):
            t = study.ask()
            params = {n: t.suggest(n, d) for n, d in MIXED.items()}
            study.tell(t, 0.0)
        ref = QMCSampler(seed=13)
        for ft in study.trials[1:]:
            assert ft.params == ref.sample_joint(None, _info(ft.number), MIXED)  # type: ignore[arg-type]
        assert params == study.trials[-1].params

    def test_joint_space_is_the_sorted_intersection(self) -> None:
        """Names in every COMPLETE trial with one same distribution, sorted; FAIL is ignored."""
        study = hpopt.create_study(sampler="qmc", seed=0)
        assert _joint(study) == {}

        def run(suggest: dict[str, Any], state: str = "complete") -> None:
            t = study.ask()
            for name, dist in suggest.items():
                t.suggest(name, dist)
            study.tell(t, 0.0 if state == "complete" else None, state=state)

        run({"z": Float(0, 1), "a": Int(0, 3), "c": Categorical(["u", "v"]), "y": Float(0, 2)})
        assert list(_joint(study)) == ["a", "c", "y", "z"]
        run({"z": Float(0, 1), "a": Int(0, 3), "y": Float(0, 5)})  # c missing, y changed its range
        assert _joint(study) == {"a": Int(0, 3), "z": Float(0, 1)}
        run({"q": Float(0, 1)}, state="fail")  # FAIL trials do not shrink the joint space
        assert _joint(study) == {"a": Int(0, 3), "z": Float(0, 1)}

    def test_out_of_order_completion(self) -> None:
        """Trials completing in any order give the same joint space (order-free intersection)."""
        study = hpopt.create_study(sampler="qmc", seed=0)
        trials = [study.ask() for _ in range(4)]
        for i, t in enumerate(trials):
            t.suggest_float("x", 0, 1)
            if i != 2:
                t.suggest_int("k", 0, 4)
        for t in (trials[3], trials[0]):
            study.tell(t, 0.0)
        assert list(_joint(study)) == ["k", "x"]
        for t in (trials[2], trials[1]):
            study.tell(t, 0.0)
        assert list(_joint(study)) == ["x"]

    def test_conditional_parameters_stay_valid(self) -> None:
        """A branch parameter outside the joint space still gets a value inside its distribution."""
        study = hpopt.create_study(sampler="qmc", seed=3)
        for _ in range(40):
            t = study.ask()
            if t.suggest_categorical("kind", ["a", "b"]) == "a":
                assert 0.0 <= t.suggest_float("x", 0.0, 1.0) <= 1.0
            else:
                assert 1 <= t.suggest_int("n", 1, 8, log=True) <= 8
            study.tell(t, 0.0)
        assert list(_joint(study)) == ["kind"]


@pytest.mark.parametrize("qmc_type", ["sobol", "halton"])
def test_optimize_finds_a_good_point(qmc_type: str) -> None:
    """optimize with the plugin sampler gets within 0.1 of a 2-D bowl's minimum in 128 trials."""
    study = hpopt.create_study(sampler=QMCSampler(qmc_type=qmc_type, seed=0))

    def bowl(t: hpopt.Trial) -> float:
        return (t.suggest_float("x", -1, 1) - 0.3) ** 2 + (t.suggest_float("y", -1, 1) + 0.2) ** 2

    study.optimize(bowl, n_trials=128)
    assert study.best_value < 0.1
    assert len({ft.params["x"] for ft in study.trials}) == 128
