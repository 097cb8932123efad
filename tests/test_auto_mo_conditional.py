"""``auto`` with several objectives on conditional spaces: past MO_SWITCH NSGA-II evolves the shared
parameters and the ``tpe`` delegate (not random search) samples the branch parameters; a static
space keeps today's decision word for word; the decision is a function of the stored trials (the
same in a fresh process)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import pytest

import hpopt
from hpopt import Float
from hpopt.samplers.auto import MO_SWITCH, REASON_KEY, SAMPLER_KEY, AutoSampler, Decision, decide
from hpopt.samplers.random import RandomSampler

SPACE = {"x": Float(0, 1), "y": Float(0, 1)}
STATIC_REASON = f"2 objectives, {MO_SWITCH} trials >= {MO_SWITCH}: NSGA-II"


def _decide(**kw):
    base = dict(n_objectives=2, n_finished=MO_SWITCH, space=SPACE, conditional=False, n_trials=None,
                gp_available=True)
    base.update(kw)
    return decide(**base)


# -- the rule as a pure function --------------------------------------------------------------------
def test_conditional_reason_names_the_branch_model() -> None:
    for n in (MO_SWITCH, MO_SWITCH + 1, 10 * MO_SWITCH):
        d = _decide(n_finished=n, conditional=True)
        assert d.name == "nsga2"
        assert "conditional space (2 parameters" in d.reason
        assert "MO TPE for the branch parameters" in d.reason and f"{n} trials >= {MO_SWITCH}" in d.reason


def test_static_space_decisions_unchanged() -> None:
    assert _decide() == Decision("nsga2", STATIC_REASON)
    below = Decision("tpe", f"2 objectives, {MO_SWITCH - 1} trials < {MO_SWITCH}: MO TPE")
    assert _decide(n_finished=MO_SWITCH - 1) == below
    assert _decide(n_finished=MO_SWITCH - 1, conditional=True) == below  # no change below the switch
    assert _decide(n_objectives=3).name == "nsga2"
    one = _decide(n_objectives=1, conditional=True)  # one objective: rule 3 as before
    assert one.name == "tpe" and one.reason.startswith("conditional space")


# -- the delegates ------------------------------------------------------------------------------------
def test_nsga2_falls_back_on_the_tpe_delegate() -> None:
    s = AutoSampler(seed=0, settings={"tpe": {"n_startup_trials": 7}})
    assert s.delegate("nsga2").fallback_sampler is s.delegate("tpe")
    assert s.delegate("tpe").n_startup_trials == 7  # the settings of tpe apply to the fallback too
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.delegate("nsga2").fallback_sampler is s2.delegate("tpe")


def test_an_explicit_fallback_is_kept() -> None:
    mine = RandomSampler(seed=5)
    s = AutoSampler(seed=0, settings={"nsga2": {"fallback_sampler": mine}})
    assert s.delegate("nsga2").fallback_sampler is mine
    assert "tpe" not in s._delegates


# -- on stored studies --------------------------------------------------------------------------------
def _fill(url: str, name: str, conditional: bool, fail_branch: bool = False) -> None:
    """MO_SWITCH finished trials by random search (cheap): two objectives, a branch when
    ``conditional``; with ``fail_branch`` one more trial, FAIL, has an extra parameter."""
    study = hpopt.create_study(storage=url, study_name=name, directions=["minimize", "minimize"],
                               sampler=RandomSampler(seed=1))
    for _ in range(MO_SWITCH):
        t = study.ask()
        x = t.suggest_float("x", 0, 1)
        if conditional:
            b = t.suggest_categorical("b", ["u", "v"])
            y = t.suggest_float(f"y_{b}", 0, 1)
        else:
            y = t.suggest_float("y", 0, 1)
        study.tell(t, [x, 1 - x + y])
    if fail_branch:
        t = study.ask()
        t.suggest_float("x", 0, 1)
        t.suggest_float("extra", 0, 1)
        study.tell(t, state=hpopt.TrialState.FAIL)


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('automo') / 's.db'}?synchronous=normal"
    _fill(url, "cond", conditional=True)
    _fill(url, "static", conditional=False, fail_branch=True)
    return url


def _ask(url: str, name: str, calls: list[str]) -> tuple[hpopt.Study, hpopt.Trial]:
    """Load ``name`` with a fresh AutoSampler whose tpe delegate records the parameters it samples."""
    s = AutoSampler(seed=0)
    tpe = s.delegate("tpe")
    orig = tpe.sample
    tpe.sample = lambda h, t, n, d: (calls.append(n), orig(h, t, n, d))[1]  # this instance only
    study = hpopt.load_study(study_name=name, storage=url, sampler=s)
    return study, study.ask()


def test_conditional_study_branches_from_tpe(stored) -> None:
    calls: list[str] = []
    study, t = _ask(stored, "cond", calls)
    rec = study.trials[-1].system_attrs
    assert rec[SAMPLER_KEY] == "nsga2"
    assert "conditional space" in rec[REASON_KEY] and f"{MO_SWITCH} trials >= {MO_SWITCH}" in rec[REASON_KEY]
    t.suggest_float("x", 0, 1)
    b = t.suggest_categorical("b", ["u", "v"])
    assert calls == []  # x and b: the joint space, NSGA-II's own
    t.suggest_float(f"y_{b}", 0, 1)
    assert calls == [f"y_{b}"]  # the branch parameter: TPE, not random search


def test_static_study_unchanged(stored) -> None:
    """An extra parameter in a FAIL trial does not make the space conditional (COMPLETE ones only)."""
    calls: list[str] = []
    study, t = _ask(stored, "static", calls)
    rec = study.trials[-1].system_attrs
    assert rec[SAMPLER_KEY] == "nsga2" and rec[REASON_KEY] == STATIC_REASON
    t.suggest_float("x", 0, 1)
    t.suggest_float("y", 0, 1)
    assert calls == []


_CHILD = textwrap.dedent("""
    import sys
    import hpopt
    from hpopt.samplers.auto import REASON_KEY, SAMPLER_KEY, AutoSampler
    study = hpopt.load_study(study_name=sys.argv[2], storage=sys.argv[1], sampler=AutoSampler(seed=0))
    study.ask()
    rec = study.trials[-1].system_attrs
    print(rec[SAMPLER_KEY]); print(rec[REASON_KEY])
""")


@pytest.mark.parametrize("name", ["cond", "static"])
def test_fresh_process_makes_the_same_decision(stored, name) -> None:
    """A resumed study (new process, new sampler) decides as this one did on the same finished
    trials (the trial this process asked and left running does not count)."""
    study, _ = _ask(stored, name, [])
    here = study.trials[-1].system_attrs
    out = subprocess.run([sys.executable, "-c", _CHILD, stored, name], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert out == [here[SAMPLER_KEY], here[REASON_KEY]]
    assert ("conditional space" in out[1]) == (name == "cond")
