"""The ``auto`` sampler: its rules, the recorded notes, the delegate bookkeeping, bad settings."""

from __future__ import annotations

import logging

import pytest

import hpopt
from hpopt import Categorical, Float, Int
from hpopt.samplers import auto
from hpopt.samplers.auto import REASON_KEY, SAMPLER_KEY, AutoSampler, decide
from hpopt.testing import check_sampler

SMALL = {"x": Float(-5, 5), "y": Float(1e-3, 1, log=True), "n": Int(0, 10)}


def _decide(**kw):
    base = dict(n_objectives=1, n_finished=12, space=SMALL, conditional=False, n_trials=None,
                gp_available=True)
    base.update(kw)
    return decide(**base)


def test_conformance() -> None:
    check_sampler(lambda *, seed: AutoSampler(seed=seed))


@pytest.mark.slow
def test_conformance_with_a_budget() -> None:
    check_sampler(lambda *, seed: AutoSampler(seed=seed, n_trials=50))


# -- the rules as a pure function ------------------------------------------------------------------
def test_empty_history_starts_with_the_gp_for_one_objective() -> None:
    assert _decide(n_finished=0).name == "gp"
    assert _decide(space={}).name == "gp"
    assert "no finished trial" in _decide(n_finished=0).reason


def test_empty_history_starts_with_tpe_without_gp_or_with_several_objectives() -> None:
    assert _decide(n_finished=0, gp_available=False).name == "tpe"
    assert _decide(n_finished=0, n_objectives=2).name == "tpe"


def test_first_trials_equal_the_gp_samplers_on_a_small_numeric_space() -> None:
    from hpopt.samplers.cma_surrogate import points_for_full_model
    from hpopt.samplers.gp import GPSampler

    h = points_for_full_model(2)  # the hand-over to lq-CMA-ES on this continuous space
    a = _run(AutoSampler(seed=5), _quadratic, h)
    g = _run(GPSampler(seed=5), _quadratic, h)
    assert [t.params for t in a.trials] == [t.params for t in g.trials]


def test_small_numeric_space_uses_gp_early() -> None:
    d = _decide()
    assert d.name == "gp"
    assert "3 numeric parameters" in d.reason and "GP" in d.reason


def test_gp_unavailable_falls_back_to_tpe_then_cmaes() -> None:
    assert _decide(gp_available=False).name == "tpe"
    assert _decide(gp_available=False, n_finished=auto.CMA_MIN_TRIALS).name == "cmaes"


def test_gp_hands_over_at_the_switch_without_budget() -> None:
    assert _decide(n_finished=auto.GP_SWITCH - 1).name == "gp"
    after = _decide(n_finished=auto.GP_SWITCH)
    assert after.name == "cmaes" and "GP limit" in after.reason
    mixed = dict(SMALL, c=Categorical(["a", "b", "c"]))
    assert _decide(n_finished=auto.GP_SWITCH, space=mixed).name == "tpe"


def test_known_small_budget_keeps_gp_to_the_end() -> None:
    assert _decide(n_finished=auto.GP_SWITCH + 50, n_trials=auto.GP_MAX_BUDGET).name == "gp"
    # a budget beyond GP_MAX_BUDGET: the same hand-over as an unknown budget
    assert _decide(n_finished=auto.GP_SWITCH, n_trials=auto.GP_MAX_BUDGET + 1).name == "cmaes"


def test_conditional_space_uses_tpe() -> None:
    d = _decide(conditional=True)
    assert d.name == "tpe" and "conditional" in d.reason


def test_mostly_categorical_uses_the_gp_then_tpe() -> None:
    space = {"a": Categorical(["u", "v"]), "b": Categorical([1, 2, 3]), "x": Float(0, 1)}
    d = _decide(space=space)
    assert d.name == "gp" and "1 numeric + 2 categorical parameters" in d.reason
    # past the GP's limit, TPE (never CMA-ES with categoricals)
    d = _decide(space=space, n_finished=auto.GP_SWITCH)
    assert d.name == "tpe" and "categoricals present" in d.reason
    # only categoricals: the same
    only = {f"c{i}": Categorical(list(range(4))) for i in range(6)}
    assert _decide(space=only).name == "gp"
    # a single-choice categorical is no categorical parameter at all
    space = {"a": Categorical(["only"]), "b": Categorical(["only"]), "x": Float(0, 1)}
    assert _decide(space=space).name == "gp"


def test_wide_categoricals_count_by_their_gp_columns() -> None:
    """25 floats + 25 categoricals of 20 choices is 525 one-hot GP columns (3-7 s per ask at 300
    trials, measured): TPE, not the GP; with 2 choices each (75 columns) too; 10 + 10 x 4 = 50 keeps
    the GP."""
    wide = {f"x{i}": Float(0, 1) for i in range(25)}
    wide.update({f"c{i}": Categorical(list(range(20))) for i in range(25)})
    d = _decide(space=wide)
    assert d.name == "tpe" and "525 GP columns" in d.reason
    two = {f"x{i}": Float(0, 1) for i in range(25)}
    two.update({f"c{i}": Categorical([0, 1]) for i in range(25)})
    assert _decide(space=two).name == "tpe"
    fits = {f"x{i}": Float(0, 1) for i in range(10)}
    fits.update({f"c{i}": Categorical(list(range(4))) for i in range(10)})
    assert _decide(space=fits).name == "gp"


def test_multi_objective() -> None:
    assert _decide(n_objectives=2, n_finished=10).name == "tpe"
    assert _decide(n_objectives=2, n_finished=auto.MO_SWITCH).name == "nsga2"


def test_large_spaces_tpe_then_cmaes() -> None:
    big = {f"x{i}": Float(0, 1) for i in range(auto.GP_MAX_DIM + 10)}
    d = len(big)
    assert _decide(space=big, n_finished=100).name == "tpe"  # > GP_MAX_DIM; 100 < 10 * d
    assert _decide(space=big, n_finished=10 * d).name == "cmaes"
    assert _decide(space=dict(list(big.items())[:auto.GP_MAX_DIM]), n_finished=100).name == "gp"
    big["c"] = Categorical(["a", "b"])
    assert _decide(space=big, n_finished=5000).name == "tpe"


def test_nothing_to_optimize_is_random() -> None:
    assert _decide(space={"a": Float(1, 1), "b": Int(3, 3)}).name == "random"


# -- in a study --------------------------------------------------------------------------------------
def _run(sampler: AutoSampler, objective, n: int, directions=None) -> hpopt.Study:
    study = hpopt.create_study(sampler=sampler, directions=directions)
    study.optimize(objective, n_trials=n)
    return study


def _quadratic(trial: hpopt.Trial) -> float:
    return (trial.suggest_float("x", -5, 5) - 1.3) ** 2 + (trial.suggest_float("y", -5, 5) + 2) ** 2


def test_notes_recorded_and_conditional_space_goes_to_tpe() -> None:
    def objective(trial: hpopt.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        if kind == "a":
            return trial.suggest_float("xa", 0, 1)
        return trial.suggest_int("nb", 0, 5) + 0.5

    study = _run(AutoSampler(seed=0), objective, 15)
    trials = study.trials
    assert trials[0].system_attrs[SAMPLER_KEY] == "gp"
    assert "no finished trial" in trials[0].system_attrs[REASON_KEY]
    # conditionality shows once both branches have completed; from then on: TPE
    both = next(i for i, t in enumerate(trials) if {p["kind"] for p in (u.params for u in trials[:i + 1])}
                == {"a", "b"})
    assert both < 10
    for t in trials[both + 1:]:
        assert t.system_attrs[SAMPLER_KEY] == "tpe" and "conditional" in t.system_attrs[REASON_KEY]


def test_small_continuous_space_goes_to_gp_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    s = AutoSampler(seed=1)
    if s._gp is None:
        pytest.skip("no gp sampler in this tree yet")
    study = _run(s, _quadratic, 6)
    assert [t.system_attrs[SAMPLER_KEY] for t in study.trials] == ["gp"] * 6
    assert f"2 numeric parameters <= {auto.GP_MAX_DIM}" in study.trials[-1].system_attrs[REASON_KEY]


def test_switch_logged_once_per_change(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setattr(auto, "CMA_MIN_TRIALS", 8)
    monkeypatch.setattr(auto, "CMA_TRIALS_PER_DIM", 1)
    s = AutoSampler(seed=2)
    s._gp = None  # the tpe -> cmaes path, whatever the GP's state in this tree
    with caplog.at_level(logging.INFO, logger="hpopt"):
        study = _run(s, _quadratic, 20)
    names = [t.system_attrs[SAMPLER_KEY] for t in study.trials]
    assert names == ["tpe"] * 8 + ["cmaes"] * 12
    logged = [r.getMessage() for r in caplog.records if "auto sampler" in r.getMessage()]
    assert len(logged) == 2 and "trial 0 uses tpe" in logged[0] and "trial 8 uses cmaes" in logged[1]
    # one delegate object per name, reused across asks
    assert set(s._delegates) == {"tpe", "cmaes"}
    assert s.delegate("cmaes") is s.delegate("cmaes")
    assert study.best_value < 5.0


def test_multi_objective_study_uses_tpe() -> None:
    def objective(trial: hpopt.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        return x, 1 - x

    study = _run(AutoSampler(seed=0), objective, 6, directions=["minimize", "minimize"])
    assert {t.system_attrs[SAMPLER_KEY] for t in study.trials} == {"tpe"}
    assert "2 objectives" in study.trials[-1].system_attrs[REASON_KEY]


def test_define_by_run_sample_uses_the_trials_choice_even_if_forgotten(monkeypatch) -> None:
    """A parameter outside the joint space is sampled by the delegate recorded for its trial."""
    monkeypatch.setattr(auto, "CMA_MIN_TRIALS", 4)
    monkeypatch.setattr(auto, "CMA_TRIALS_PER_DIM", 1)
    s = AutoSampler(seed=3)
    s._gp = None
    study = hpopt.create_study(sampler=s)
    for _ in range(4):
        t = study.ask()
        study.tell(t, t.suggest_float("x", 0, 1))
    calls: list[str] = []
    for name in ("tpe", "cmaes"):
        d = s.delegate(name)
        orig = d.sample
        monkeypatch.setattr(d, "sample", lambda *a, _o=orig, _n=name, **k: (calls.append(_n), _o(*a, **k))[1])
    t = study.ask()  # the choice is now cmaes (4 finished trials)
    s._choices.clear()  # forgotten: read back from the running trial's notes
    t.suggest_float("new", 0, 1)  # outside the joint space
    assert calls == ["cmaes"]
    assert study.trials[-1].system_attrs[SAMPLER_KEY] == "cmaes"


def test_reproducible_with_seed() -> None:
    def params(seed: int) -> list[dict]:
        study = _run(AutoSampler(seed=seed), _quadratic, 12)
        return [t.params for t in study.trials]

    assert params(5) == params(5)
    assert params(5) != params(6)


def test_delegate_settings_passed() -> None:
    s = AutoSampler(seed=0, settings={"tpe": {"n_startup_trials": 3}})
    assert s.delegate("tpe").n_startup_trials == 3


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n_trials": 0}, ValueError, "n_trials >= 1"),
        ({"n_trials": -5}, ValueError, "n_trials >= 1"),
        ({"n_trials": 2.5}, TypeError, "n_trials"),
        ({"n_trials": True}, TypeError, "n_trials"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "a"}, TypeError, "seed"),
        ({"settings": {"tpe": 3}}, TypeError, "settings"),
        ({"settings": {"tpe": {"seed": 1}}}, TypeError, "settings"),
        ({"settings": [("tpe", {})]}, TypeError, "settings"),
        ({"settings": {"tpe": {"n_startup_trials": -1}}}, ValueError, "n_startup_trials"),
        ({"settings": {"no-such-sampler": {}}}, hpopt.PluginError, "no-such-sampler"),
    ],
)
def test_bad_settings_refused(kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        AutoSampler(**kwargs)


def test_pickle_round_trip_keeps_choosing() -> None:
    import pickle

    s = pickle.loads(pickle.dumps(AutoSampler(seed=4, n_trials=30)))
    assert s.n_trials == 30
    study = _run(s, _quadratic, 3)
    assert all(SAMPLER_KEY in t.system_attrs for t in study.trials)


def test_all_continuous_space_hands_over_to_lq_cmaes_once_a_full_quadratic_fits() -> None:
    from hpopt.samplers.cma_surrogate import points_for_full_model

    cont = {"x": Float(-5, 5), "y": Float(1e-3, 1, log=True)}
    h = points_for_full_model(2)
    assert h == 9
    assert _decide(space=cont, n_finished=h - 1).name == "gp"
    after = _decide(space=cont, n_finished=h)
    assert after.name == "cmaes" and "lq-CMA-ES" in after.reason and after.warm_start == h
    # a known budget does not keep the GP past the hand-over on continuous spaces
    assert _decide(space=cont, n_finished=h, n_trials=50).name == "cmaes"
    # integers, steps or categoricals: the surrogate is off, the GP keeps its limit
    for extra in (Int(0, 3), Float(0, 1, step=0.5), Categorical(["a", "b"])):
        assert _decide(space=dict(cont, z=extra), n_finished=h + 20).name == "gp"
    # 20 parameters: a full quadratic needs 339 trials, beyond the GP's limit of 200
    wide = {f"x{i}": Float(0, 1) for i in range(20)}
    assert _decide(space=wide, n_finished=auto.GP_SWITCH - 1).name == "gp"
    assert _decide(space=wide, n_finished=auto.GP_SWITCH).name == "cmaes"


def test_continuous_study_runs_gp_then_lq_cmaes_warm_started_from_the_gp_trials() -> None:
    s = AutoSampler(seed=3)
    if s._gp is None:
        pytest.skip("no gp sampler in this tree")
    study = _run(s, _quadratic, 24)
    names = [t.system_attrs[SAMPLER_KEY] for t in study.trials]
    assert names[:9] == ["gp"] * 9 and set(names[9:]) == {"cmaes"}
    assert all(t.system_attrs.get(auto.WARM_START_KEY) == 9 for t in study.trials[9:])
    # the CMA-ES delegate was warm-started from exactly the first 9 trials (the GP's)
    (cma,) = s._summary(study._history).warm.values()
    assert sorted(t.number for t in cma.warm_start_trials) == list(range(9))
    assert study.best_value < 0.5


def test_a_fresh_auto_sampler_continues_the_same_warm_started_search() -> None:
    """Resuming (a new AutoSampler on the stored history) builds the same warm-started CMA-ES
    and proposes the same next point."""
    from hpopt.samplers.base import TrialInfo

    s = AutoSampler(seed=4)
    if s._gp is None:
        pytest.skip("no gp sampler in this tree")
    study = _run(s, _quadratic, 20)
    space = {"x": Float(-5, 5), "y": Float(-5, 5)}
    info = TrialInfo(20, {}, {}, {})
    d = s.decide(study._history)
    assert d.name == "cmaes" and d.warm_start == 9
    fresh = AutoSampler(seed=4)
    a = s.sample_joint(study._history, info, space)
    b = fresh.sample_joint(study._history, info, space)
    assert a == b
