"""Constraint values stored with each COMPLETE trial at tell time (system attribute "constraints"),
so that every reader knows feasibility: best_trial/best_trials of a handle without the sampler, the
CLI, export, plots, the report, refine; and the constrained samplers read them instead of calling
the function again. Bad constraints are refused before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest

import hpopt
import hpopt.cli_study  # noqa: F401  (registers the study commands for the in-process runs)
from hpopt._checks import CONSTRAINTS_KEY, stored_constraints
from hpopt.cli import main
from hpopt.errors import FailedTrialWarning
from hpopt.export import to_records
from hpopt.refine import refined_space, warm_start
from hpopt.samplers.gp import GPSampler
from hpopt.samplers.nsga2 import NSGAIISampler
from hpopt.study import feasibility

PG_URL = os.environ.get("HPOPT_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def _quiet(quiet_hpopt):
    yield


def _cons(t):
    """Feasible iff x <= 0.5 (the value is read from a user attribute the objective set)."""
    return [t.user_attrs["c"], -1.0]


def _objective(t):
    x = t.suggest_float("x", 0.0, 1.0)
    t.set_user_attr("c", x - 0.5)
    return -x  # minimize: the unconstrained best is x = 1, the feasible best x = 0.5


def _constrained_study(storage=None, name=None, n=16, seed=0):
    sampler = NSGAIISampler(seed=seed, popsize=4, constraints_func=_cons)
    study = hpopt.create_study(study_name=name, storage=storage, sampler=sampler)
    study.optimize(_objective, n_trials=n)
    return study


def _check_stored(study):
    done = study.get_trials(["complete"])
    assert done
    for t in done:
        assert t.system_attrs[CONSTRAINTS_KEY] == [t.user_attrs["c"], -1.0]
        assert isinstance(t.system_attrs[CONSTRAINTS_KEY][0], float)
    assert any(t.user_attrs["c"] > 0 for t in done) and any(t.user_attrs["c"] <= 0 for t in done)


# -- storing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_stored_on_every_backend_and_read_back_by_a_new_handle(backend, tmp_path):
    url = None if backend == "memory" else f"sqlite:///{tmp_path}/c.db"
    study = _constrained_study(url, "c")
    _check_stored(study)
    storage = study.storage if url is None else url
    again = hpopt.load_study(study_name="c", storage=storage)  # no sampler: a default one
    assert getattr(again.sampler, "constraints_func", None) is None
    _check_stored(again)
    assert again.best_trial.user_attrs["c"] <= 0
    assert again.best_trial.number == study.best_trial.number


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL server (source .ci/postgres.sh start)")
def test_stored_on_postgres():
    import uuid

    name = f"c-{uuid.uuid4().hex[:10]}"
    study = _constrained_study(PG_URL, name)
    _check_stored(study)
    again = hpopt.load_study(study_name=name, storage=PG_URL)
    _check_stored(again)
    assert again.best_trial.user_attrs["c"] <= 0
    hpopt.delete_study(study_name=name, storage=PG_URL)


def test_in_the_write_that_completes_the_trial():
    """One journal write finishes the trial with its constraint values (no second operation)."""
    study = hpopt.create_study(sampler=GPSampler(seed=0, constraints_func=_cons))
    t = study.ask()
    t.set_user_attr("c", -0.25)
    before = study.storage.version(study._sid)
    ft = study.tell(t, 1.0)
    assert study.storage.version(study._sid) == before + 1
    assert ft.system_attrs[CONSTRAINTS_KEY] == [-0.25, -1.0]


def test_the_function_sees_the_completed_trial_with_unwritten_suggestions():
    seen = []

    def cons(t):
        seen.append(t)
        return [t.values[0] - 1.0]

    study = hpopt.create_study(sampler=NSGAIISampler(seed=0, constraints_func=cons))
    t = study.ask()
    x = t.suggest_float("x", 0, 1)
    t.set_user_attr("u", [1, 2])
    study.tell(t, 3.0)
    (view,) = seen
    assert view.state is hpopt.TrialState.COMPLETE and view.values == (3.0,)
    assert view.params == {"x": x} and view.user_attrs == {"u": [1, 2]}
    assert study.trials[0].system_attrs[CONSTRAINTS_KEY] == [2.0]


def test_only_complete_trials_and_only_with_a_constrained_sampler():
    study = hpopt.create_study(sampler=NSGAIISampler(seed=0, constraints_func=_cons))
    t = study.ask()
    t.suggest_float("x", 0, 1)
    study.tell(t, state="fail")
    t = study.ask()
    t.suggest_float("x", 0, 1)
    t.report(1.0, 0)
    study.tell(t, state="pruned")
    assert all(CONSTRAINTS_KEY not in t.system_attrs for t in study.trials)
    plain = hpopt.create_study(seed=0)
    plain.optimize(_objective, n_trials=3)
    assert all(CONSTRAINTS_KEY not in t.system_attrs for t in plain.trials)
    assert feasibility(plain.trials, plain) is None


# -- bad constraints ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, err", [
    (lambda t: "1", TypeError), (lambda t: [True], TypeError), (lambda t: [float("nan")], ValueError),
    (lambda t: 0.5, TypeError),
])
def test_tell_refuses_bad_values_before_any_write(bad, err):
    study = hpopt.create_study(sampler=GPSampler(seed=0, constraints_func=bad))
    t = study.ask()
    t.suggest_float("x", 0, 1)
    before = study.storage.version(study._sid)
    with pytest.raises(err, match="constraints_func.*Nothing was written: trial 0 is still RUNNING"):
        study.tell(t, 1.0)
    assert study.storage.version(study._sid) == before
    (rec,) = study.trials
    assert rec.state is hpopt.TrialState.RUNNING and rec.params == {}  # the suggestion not written
    study.sampler.constraints_func = lambda t: [0.0]  # fixed: the same handle tells again
    ft = study.tell(t, 1.0)
    assert ft.state is hpopt.TrialState.COMPLETE and ft.system_attrs[CONSTRAINTS_KEY] == [0.0]
    assert "x" in ft.params


def test_tell_lets_the_functions_own_exception_through_and_writes_nothing():
    def boom(t):
        raise KeyError("c")

    study = hpopt.create_study(sampler=NSGAIISampler(seed=0, constraints_func=boom))
    t = study.ask()
    t.suggest_float("x", 0, 1)
    before = study.storage.version(study._sid)
    with pytest.raises(KeyError):
        study.tell(t.number, 1.0)
    assert study.storage.version(study._sid) == before
    assert study.tell(t, state="fail").state is hpopt.TrialState.FAIL  # no constraints for FAIL


def test_a_changing_count_is_refused():
    counts = iter([1, 1, 2])
    study = hpopt.create_study(sampler=NSGAIISampler(seed=0, constraints_func=lambda t: [0.0] * next(counts)))
    for _ in range(2):
        study.tell(study.ask({"x": hpopt.Float(0, 1)}), 1.0)
    t = study.ask({"x": hpopt.Float(0, 1)})
    with pytest.raises(ValueError, match="same number of values for every trial.*trial 2.*have 1"):
        study.tell(t, 1.0)
    # a fresh handle learns the count from the storage
    other = hpopt.load_study(study_name=study.study_name, storage=study.storage,
                             sampler=NSGAIISampler(seed=0, constraints_func=lambda t: [0.0, 0.0]))
    with pytest.raises(ValueError, match="same number of values"):
        other.tell(t.number, 1.0)


def test_optimize_fails_the_trial_on_bad_values_and_goes_on():
    study = hpopt.create_study(sampler=NSGAIISampler(seed=0, constraints_func=lambda t: ["bad"]))
    with pytest.warns(FailedTrialWarning, match="constraints_func"):
        study.optimize(_objective, n_trials=3)
    assert [t.state for t in study.trials] == [hpopt.TrialState.FAIL] * 3
    assert "constraints_func" in study.trials[0].system_attrs["fail_reason"]


def test_optimize_treats_a_raising_function_as_the_objective_raising():
    def boom(t):
        raise ZeroDivisionError("no")

    study = hpopt.create_study(sampler=NSGAIISampler(seed=0, constraints_func=boom))
    with pytest.raises(ZeroDivisionError):
        study.optimize(_objective, n_trials=3)
    (t,) = study.trials
    assert t.state is hpopt.TrialState.FAIL
    assert t.system_attrs["fail_reason"] == "constraints_func raised ZeroDivisionError: no"
    with pytest.warns(FailedTrialWarning, match="constraints_func raised ZeroDivisionError"):
        study.optimize(_objective, n_trials=2, catch=(ZeroDivisionError,))
    assert [t.state.name for t in study.trials] == ["FAIL"] * 3


# -- readers -------------------------------------------------------------------------------------------
def _mixed_study(storage=None, name="mixed", directions=("minimize",)):
    """Told by hand: values and constraint values chosen so that the unconstrained best is infeasible."""
    spec = [(0.1, 1.0), (0.2, -1.0), (0.3, 0.5), (0.4, -0.5), (0.5, 0.0)]  # (x, constraint)
    by_x = dict(spec)
    sampler = NSGAIISampler(seed=0, constraints_func=lambda t: [by_x[t.params["x"]]])
    study = hpopt.create_study(study_name=name, storage=storage, sampler=sampler,
                               directions=list(directions))
    for x, _ in spec:
        study.enqueue_trial({"x": x})
        t = study.ask()
        t.suggest_float("x", 0, 1)
        study.tell(t, x if len(directions) == 1 else [x, 1 - x])
    return study


def test_best_without_the_sampler_and_best_trials():
    study = _mixed_study()
    plain = hpopt.load_study(study_name="mixed", storage=study.storage)
    assert plain.best_trial.number == 1 and plain.best_value == 0.2
    assert feasibility(plain.trials) == [False, True, False, True, True]
    _mixed_study(name="mo", storage=study.storage, directions=("minimize", "minimize"))
    mo_plain = hpopt.load_study(study_name="mo", storage=study.storage)
    assert [t.number for t in mo_plain.best_trials] == [1, 3, 4]


def test_no_feasible_trial():
    study = hpopt.create_study(sampler=NSGAIISampler(seed=0, constraints_func=lambda t: [1.0]))
    study.tell(study.ask({"x": hpopt.Float(0, 1)}), 1.0)
    plain = hpopt.load_study(study_name=study.study_name, storage=study.storage)
    with pytest.raises(ValueError, match="none satisfies its constraints .every value of `constraints_func`"):
        plain.best_trial  # noqa: B018
    from hpopt.report import study_summary

    s = study_summary(plain)
    assert s["best"] is None and s["infeasible"] == 1


def test_trials_stored_before_use_the_handles_function():
    """A trial stored without values (told before this change, or by an unconstrained handle) is
    judged by the handle's function; readers without one take it as feasible (as Optuna does)."""
    plain = hpopt.create_study(seed=0)
    for x in (0.9, 0.2):
        t = plain.ask({"x": hpopt.Float(0, 1)})
        t.set_user_attr("c", x - 0.5)
        plain.tell(t, -x)
    assert plain.best_trial.number == 0
    calls = []

    def cons(t):
        calls.append(t.number)
        return _cons(t)

    handle = hpopt.load_study(study_name=plain.study_name, storage=plain.storage,
                              sampler=NSGAIISampler(seed=0, constraints_func=cons))
    assert handle.best_trial.number == 1
    assert feasibility(handle.trials, handle) == [False, True]
    assert feasibility(handle.trials) is None


def test_samplers_read_stored_values_and_call_the_function_once_per_trial():
    calls = []

    def cons(t):
        calls.append(t.number)
        return _cons(t)

    for make in (lambda f: NSGAIISampler(seed=1, popsize=4, constraints_func=f),
                 lambda f: GPSampler(seed=1, n_startup_trials=3, n_candidates=64, constraints_func=f)):
        calls.clear()
        study = hpopt.create_study(sampler=make(cons))
        study.optimize(_objective, n_trials=10)
        assert sorted(calls) == list(range(10))  # at tell only, never on replay


def test_samplers_call_the_function_for_trials_stored_without_values():
    plain = hpopt.create_study(seed=0)
    plain.optimize(_objective, n_trials=4)
    calls = []

    def cons(t):
        calls.append(t.number)
        return _cons(t)

    for sampler in (NSGAIISampler(seed=1, popsize=2, constraints_func=cons),
                    GPSampler(seed=1, n_startup_trials=2, n_candidates=64, constraints_func=cons)):
        calls.clear()
        handle = hpopt.load_study(study_name=plain.study_name, storage=plain.storage, sampler=sampler)
        t = handle.ask({"x": hpopt.Float(0, 1)})
        assert set(calls) == {0, 1, 2, 3}  # the old trials, from the function
        handle.tell(t, state="fail")


def test_export_has_a_feasible_column_only_with_constraints():
    study = _mixed_study()
    rows = to_records(study)
    assert list(rows[0])[:4] == ["number", "state", "value", "feasible"]
    assert [r["feasible"] for r in rows] == [False, True, False, True, True]
    assert rows[0]["system_attrs_constraints"] == [1.0]
    plain = hpopt.create_study(seed=0)
    plain.optimize(_objective, n_trials=3)
    rows = to_records(plain)
    assert "feasible" not in rows[0] and "system_attrs_constraints" not in rows[0]


def test_cli_best_and_trials(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/m.db"
    _mixed_study(url)
    assert main(["best", "--storage", url, "--format", "json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["number"] == 1 and best["value"] == 0.2 and best["feasible"] is True
    assert main(["trials", "--storage", url, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("number,state,value,feasible,")
    assert [ln.split(",")[3] for ln in lines[1:]] == ["False", "True", "False", "True", "True"]
    assert main(["trials", "--storage", url]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["number", "state", "value", "feasible"]


def test_cli_best_with_no_feasible_trial(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/n.db"
    for directions in (["minimize"], ["minimize", "minimize"]):
        name = f"s{len(directions)}"
        study = hpopt.create_study(study_name=name, storage=url, directions=directions,
                                   sampler=NSGAIISampler(seed=0, constraints_func=lambda t: [1.0]))
        study.tell(study.ask({"x": hpopt.Float(0, 1)}), [1.0] * len(directions))
        assert main(["best", "--storage", url, "--study", name]) == 2
        err = capsys.readouterr().err
        assert "none of the 1 COMPLETE trials of study" in err and "Traceback" not in err


def test_refined_space_and_warm_start_skip_infeasible_trials():
    study = _mixed_study()
    refined = refined_space(study, top=2, min_trials=2)
    assert refined.selected == [1, 3]
    assert "of 3 feasible COMPLETE trials (2 infeasible left out)" in str(refined)
    with pytest.raises(ValueError, match="2 of them infeasible.*min_trials=4 feasible ones"):
        refined_space(study, min_trials=4)
    new = hpopt.create_study(seed=0)
    assert warm_start(new, study, mode="enqueue", top=1) == 1
    assert new.ask().suggest_float("x", 0, 1) == 0.2  # the best feasible, not 0.1
    copy = hpopt.create_study(seed=0)  # no constraints_func: the copies keep the stored values
    assert warm_start(copy, study) == 5
    assert feasibility(copy.trials) == [False, True, False, True, True]
    assert copy.best_trial.params == {"x": 0.2}
    assert warm_start(hpopt.create_study(seed=0), list(study.trials), mode="copy", top=1) == 1


def test_report_marks_and_excludes_infeasible_trials():
    from hpopt.report import render_report

    page, _ = render_report(hpopt.load_study(study_name="mixed", storage=_mixed_study().storage),
                            plots=False)
    assert ">infeasible<" in page and "2 COMPLETE trial(s) violating their constraints" in page


def test_plots_draw_infeasible_trials_apart():
    pytest.importorskip("matplotlib")
    from hpopt.plot import plot_optimization_history, plot_pareto_front

    study = _mixed_study()
    plain = hpopt.load_study(study_name="mixed", storage=study.storage)
    ax = plot_optimization_history(plain).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Infeasible (2)" in labels and "Best feasible so far" in labels
    line = [ln for ln in ax.get_lines()][0]
    assert list(line.get_ydata()) == [0.2, 0.2, 0.2]  # trial 0 (0.1) is infeasible
    mo = _mixed_study(name="mo", directions=("minimize", "minimize"))
    fig = plot_pareto_front(hpopt.load_study(study_name="mo", storage=mo.storage))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["Infeasible (2)", "Pareto front (3)"]


def test_resume_in_a_fresh_process_without_the_sampler(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    study = _mixed_study(url)
    code = (
        "import hpopt, json\n"
        f"s = hpopt.load_study(study_name='mixed', storage={url!r})\n"
        "s.optimize(lambda t: t.suggest_float('x', 0, 1) + 1.0, n_trials=2)\n"
        "print(json.dumps([s.best_trial.number, [t.number for t in s.best_trials]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [1, [1]]
    assert [stored_constraints(t) is not None for t in study.trials] == [True] * 5 + [False] * 2


def test_a_sampler_note_may_not_set_the_key():
    class Noting(hpopt.RandomSampler):
        def annotate(self, history, trial):
            return {CONSTRAINTS_KEY: [0.0]}

    study = hpopt.create_study(sampler=Noting(seed=0))
    with pytest.raises(hpopt.SamplerError, match="may not set 'constraints'"):
        study.ask()


def test_stored_constraints_ignores_what_it_did_not_write():
    from hpopt.records import FrozenTrial, TrialState

    def ft(v):
        return FrozenTrial(0, TrialState.COMPLETE, (1.0,), system_attrs={CONSTRAINTS_KEY: v})

    assert stored_constraints(ft([0.5, -1])).tolist() == [0.5, -1.0]
    assert stored_constraints(ft([float("inf")])).tolist() == [float("inf")]
    for bad in ("1", [True], ["a"], {"a": 1}, 3.0, [float("nan")]):
        assert stored_constraints(ft(bad)) is None


def test_inf_round_trips_through_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/i.db"
    study = hpopt.create_study(study_name="i", storage=url,
                               sampler=NSGAIISampler(seed=0, constraints_func=lambda t: [float("inf")]))
    study.tell(study.ask({"x": hpopt.Float(0, 1)}), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (t,) = hpopt.load_study(study_name="i", storage=url).trials
    assert t.system_attrs[CONSTRAINTS_KEY] == [float("inf")] and feasibility([t]) == [False]


def test_executor_threads_and_retries_store_once():
    from concurrent.futures import ThreadPoolExecutor

    calls = []

    def cons(t):
        calls.append(t.number)
        return _cons(t)

    study = hpopt.create_study(sampler=NSGAIISampler(seed=0, popsize=4, constraints_func=cons))
    with ThreadPoolExecutor(2) as pool:
        study.optimize(_objective, n_trials=4, executor=pool, n_jobs=2)
    study.optimize(_objective, n_trials=4, n_jobs=2)
    assert all(t.system_attrs[CONSTRAINTS_KEY] == [t.user_attrs["c"], -1.0] for t in study.trials)
    assert sorted(calls) == list(range(8))
    ft = study.trials[0]
    assert study.tell(0, ft.values[0]) == ft  # the identical outcome again: a no-op, no call
    assert sorted(calls) == list(range(8))
    t = study.ask()
    x = t.suggest_float("x", 0, 1)
    t.beat()  # the suggestion reaches the store: another handle may tell the trial by number
    other = hpopt.load_study(study_name=study.study_name, storage=study.storage,
                             sampler=NSGAIISampler(seed=0, constraints_func=lambda t: [t.params["x"], 0.0]))
    assert other.tell(t.number, 1.0).system_attrs[CONSTRAINTS_KEY] == [x, 0.0]


@pytest.mark.parametrize("make", [
    lambda f: NSGAIISampler(seed=2, popsize=4, constraints_func=f),
    lambda f: GPSampler(seed=2, n_startup_trials=4, n_candidates=64, constraints_func=f),
])
def test_stored_values_give_the_proposals_the_function_gives(make):
    """A constrained sampler proposes the same next trial from stored values as from calling the
    function on the same trials stored without values."""
    source = hpopt.create_study(sampler=make(_cons))
    source.optimize(_objective, n_trials=12)
    bare = hpopt.create_study(seed=0)  # the same trials, stored without constraint values
    for t in source.trials:
        bare.enqueue_trial(dict(t.params), user_attrs=dict(t.user_attrs))
        bt = bare.ask()
        bt.suggest_float("x", 0.0, 1.0)
        bare.tell(bt, t.values[0])
    assert feasibility(bare.trials) is None and feasibility(source.trials) is not None
    proposals = []
    for study in (source, bare):
        again = hpopt.load_study(study_name=study.study_name, storage=study.storage, sampler=make(_cons))
        proposals.append([again.ask({"x": hpopt.Float(0.0, 1.0)}).params["x"] for _ in range(3)])
    assert proposals[0] == proposals[1]
