"""hpopt.create_trial and Study.add_trial: record finished trials obtained elsewhere.

The storage-dependent tests run on memory, SQLite and (with ``source .ci/postgres.sh start``, which
exports HPOPT_TEST_POSTGRES_URL) PostgreSQL.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping

import numpy as np
import pytest
from _helpers import postgres_url

import hpopt
from hpopt.fixed import create_trial
from hpopt.records import FrozenTrial, TrialState
from hpopt.samplers import GPSampler, NSGAIISampler

SPACE = {"x": hpopt.Float(-5.0, 5.0), "y": hpopt.Float(-5.0, 5.0)}


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def url(request, tmp_path) -> str | None:
    """A storage URL (None: in memory)."""
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'add.db'}"
    return postgres_url()


def _study(url: str | None, **kwargs) -> hpopt.Study:
    return hpopt.create_study(storage=url, study_name=f"add-{uuid.uuid4().hex[:10]}", **kwargs)


def _reload(study: hpopt.Study, url: str | None) -> hpopt.Study:
    """The study through a second storage object (the same one in memory)."""
    if url is None:
        return study
    return hpopt.load_study(study_name=study.study_name, storage=url, sampler="random")


def f(x: float, y: float) -> float:
    return (x - 1.0) ** 2 + (y + 2.0) ** 2


def _kw(**extra):
    """create_trial arguments for a trial without parameters."""
    return {"params": {}, "distributions": {}, **extra}


# -- create_trial ---------------------------------------------------------------------------------
class TestCreateTrial:
    def test_fields(self):
        d = {"x": hpopt.Float(0, 1, step=0.1), "n": hpopt.Int(1, 8, log=True),
             "c": hpopt.Categorical([1.0, "a"])}
        ft = create_trial(
            params={"x": 0.30000000000000004, "n": 4.0, "c": 1}, distributions=d, value=np.float32(0.5),
            user_attrs={"src": ("sheet", 3)}, intermediate_values={np.int64(2): 0.7, 0: 0.9},
        )
        assert isinstance(ft, FrozenTrial) and ft.number == -1 and ft.state is TrialState.COMPLETE
        assert ft.values == (0.5,) and type(ft.values[0]) is float
        assert dict(ft.params) == {"x": 0.3, "n": 4, "c": 1.0}  # canonical, as a study stores them
        assert type(ft.params["n"]) is int and type(ft.params["c"]) is float
        assert dict(ft.distributions) == d
        assert list(ft.intermediate_values.items()) == [(0, 0.9), (2, pytest.approx(0.7))]
        assert dict(ft.user_attrs) == {"src": ["sheet", 3]}  # as it reads back from storage
        assert ft.started is not None and ft.started == ft.finished and dict(ft.system_attrs) == {}

    def test_several_objectives(self):
        ft = create_trial(params={}, distributions={}, values=[1, 2.5], intermediate_values={0: (3, 4)})
        assert ft.values == (1.0, 2.5) and ft.intermediate_values == {0: (3.0, 4.0)}

    def test_pruned_value_defaults_to_the_last_report_as_tell_does(self):
        kw = {"params": {}, "distributions": {}, "state": "pruned"}
        assert create_trial(**kw, intermediate_values={0: 3.0, 5: 2.0, 1: 9.0}).values == (2.0,)
        assert create_trial(**kw, intermediate_values={0: 3.0, 1: float("nan")}).values is None
        assert create_trial(**kw).values is None
        assert create_trial(**kw, value=7.0, intermediate_values={0: 3.0}).values == (7.0,)
        assert create_trial(params={}, distributions={}, state=TrialState.FAIL).values is None

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            (_kw(params={"x": 0.5}, value=1.0), ValueError, r"params \['x'\] have no distribution"),
            (_kw(distributions={"x": SPACE["x"]}, value=1.0), ValueError,
             r"distributions \['x'\] have no value"),
            (_kw(params={"x": 9.0}, distributions={"x": SPACE["x"]}, value=1.0), ValueError,
             r"value 9.0 of parameter 'x' lies outside Float\(-5.0, 5.0\)"),
            (_kw(params={"c": True}, distributions={"c": hpopt.Categorical([1, 2])}, value=1.0), ValueError,
             "value True of parameter 'c' lies outside"),
            (_kw(params={"x": 1}, distributions={"x": (0, 1)}, value=1.0), TypeError,
             "distribution of 'x' must be"),
            (_kw(params=[("x", 1)], distributions={"x": SPACE["x"]}, value=1.0), TypeError,
             "`params` must be a mapping"),
            (_kw(distributions=[1], value=1.0), TypeError, "`distributions` must be a mapping"),
            (_kw(values=[1.0], value=1.0), ValueError, "not both"),
            (_kw(values=1.0), TypeError, "`values` must be a non-empty"),
            (_kw(values=[]), TypeError, "`values` must be a non-empty"),
            (_kw(value="1"), TypeError, "`value` must be a real number"),
            (_kw(value=True), TypeError, "`value` must be a real number"),
            (_kw(), ValueError, "a COMPLETE trial needs its objective value"),
            (_kw(value=math.nan), ValueError, "must not be NaN"),
            (_kw(value=1.0, state="fail"), ValueError, "a FAIL trial has no"),
            (_kw(value=math.nan, state="pruned"), ValueError, "must not be NaN"),
            (_kw(value=1.0, state="running"), ValueError, "complete, pruned or fail"),
            (_kw(value=1.0, state="done"), ValueError, "`state` must be one of"),
            (_kw(value=1.0, intermediate_values={0: [1.0, 2.0]}), TypeError,
             r"`intermediate_values\[0\]`: reported value must be a real number"),
            (_kw(values=[1.0, 2.0], intermediate_values={0: 1.0}), ValueError,
             r"`intermediate_values\[0\]`: report\(\) needs 2 values"),
            (_kw(value=1.0, intermediate_values={-1: 1.0}), ValueError,
             r"`intermediate_values\[-1\]`: `0 <= step"),
            (_kw(value=1.0, intermediate_values={"0": 1.0}), TypeError, "`step` must be an int"),
            (_kw(value=1.0, intermediate_values={0: 1.0, 1.0: 2.0}), TypeError, "`step` must be an int"),
            (_kw(value=1.0, intermediate_values=[1.0]), TypeError, "`intermediate_values` must be a mapping"),
            (_kw(value=1.0, user_attrs={"k": {1, 2}}), TypeError,
             "user attribute 'k' must be JSON-serializable"),
            (_kw(value=1.0, user_attrs={3: 1}), TypeError, "user attribute name must be a str"),
            (_kw(state="fail", intermediate_values={0: 1.0, 1: [1, 2]}), TypeError,
             r"`intermediate_values\[1\]`"),
        ],
    )
    def test_refusals_name_the_field_and_the_rule(self, kwargs, error, match):
        with pytest.raises(error, match=match):
            create_trial(**kwargs)

    def test_a_repeated_step_is_refused(self):
        """A dict cannot hold a step twice (1 and np.int64(1) are one key), but a mapping may."""

        class Twice(Mapping):
            def __getitem__(self, key):
                return 1.0

            def __iter__(self):
                return iter([1, np.int64(1)])

            def __len__(self):
                return 2

        with pytest.raises(ValueError, match="step 1 twice"):
            create_trial(params={}, distributions={}, value=1.0, intermediate_values=Twice())


# -- add_trial on every storage --------------------------------------------------------------------
class TestAddTrial:
    def test_stored_as_given_with_the_next_number(self, url):
        study = _study(url, sampler="random", seed=0)
        study.optimize(lambda t: f(t.suggest("x", SPACE["x"]), t.suggest("y", SPACE["y"])), n_trials=2)
        ft = create_trial(params={"x": 1.0, "y": -2.0}, distributions=SPACE, value=0.0,
                          intermediate_values={0: 4.0, 3: 1.0}, user_attrs={"source": "sheet"})
        stored = study.add_trial(ft)
        assert stored.number == 2 and stored.state is TrialState.COMPLETE and stored.values == (0.0,)
        for got in (stored, _reload(study, url).trials[2]):
            assert dict(got.params) == dict(ft.params) and dict(got.distributions) == SPACE
            assert dict(got.intermediate_values) == {0: 4.0, 3: 1.0}
            assert dict(got.user_attrs) == {"source": "sheet"}
            assert got.started == ft.started and got.finished == ft.finished
        assert study.best_trial.number == 2 and study.best_params == {"x": 1.0, "y": -2.0}
        assert len(study.trials) == 3
        fail = study.add_trial(create_trial(params={}, distributions={}, state="fail"))
        pruned = study.add_trial(create_trial(params={"x": 0.0}, distributions={"x": SPACE["x"]},
                                              state="pruned", intermediate_values={0: 3.0}))
        assert (fail.number, fail.state, fail.values) == (3, TrialState.FAIL, None)
        assert (pruned.number, pruned.state, pruned.values) == (4, TrialState.PRUNED, (3.0,))
        assert [t.state.name for t in _reload(study, url).trials] == ["COMPLETE"] * 3 + ["FAIL", "PRUNED"]

    def test_several_objectives(self, url):
        study = _study(url, directions=["minimize", "maximize"], sampler="random")
        ft = create_trial(params={"x": 0.5}, distributions={"x": SPACE["x"]}, values=[1.0, 2.0],
                          intermediate_values={0: [3.0, 4.0]})
        stored = study.add_trial(ft)
        assert stored.values == (1.0, 2.0) and dict(stored.intermediate_values) == {0: (3.0, 4.0)}
        assert _reload(study, url).trials[0].intermediate_values == {0: (3.0, 4.0)}
        assert [t.number for t in study.best_trials] == [0]
        with pytest.raises(ValueError, match=r"the study has 2 objective\(s\), but the trial has 1"):
            study.add_trial(create_trial(params={}, distributions={}, value=1.0))
        with pytest.raises(ValueError, match=r"report\(\) needs 2 values"):  # a 1-objective report
            study.add_trial(create_trial(**_kw(state="fail", intermediate_values={0: 1.0})))
        assert len(study.trials) == 1

    def test_enqueued_trials_stay_queued(self, url):
        """The trial is created and finished in one write: a WAITING trial is neither taken nor
        overtaken, and the next ask still returns it."""
        study = _study(url, sampler="random", seed=1)
        queued = study.enqueue_trial({"x": 4.0})
        added = study.add_trial(create_trial(params={"x": 1.0}, distributions={"x": SPACE["x"]}, value=1.0))
        assert (queued, added.number) == (0, 1)
        assert study.trials[0].state is TrialState.WAITING
        trial = study.ask()
        assert trial.number == 0 and trial.suggest("x", SPACE["x"]) == 4.0

    def test_refusals_write_nothing(self, url):
        study = _study(url, sampler="random")
        study.add_trial(create_trial(params={"c": "a"}, distributions={"c": hpopt.Categorical(["a", "b"])},
                                     value=1.0))
        other_choices = create_trial(params={"c": "a"}, distributions={"c": hpopt.Categorical(["a", "c"])},
                                     value=1.0)
        with pytest.raises(ValueError, match="parameter 'c' was already suggested as Categorical"):
            study.add_trial(other_choices)
        with pytest.raises(ValueError, match="only a finished"):
            study.add_trial(FrozenTrial(0, TrialState.RUNNING, None))
        with pytest.raises(ValueError, match="only a finished"):
            study.add_trial(FrozenTrial(0, TrialState.WAITING, None))
        with pytest.raises(TypeError, match="must be an hpopt.FrozenTrial"):
            study.add_trial({"params": {}, "value": 1.0})
        # a state given by its name: the message says what to pass instead
        with pytest.raises(TypeError, match=r"`trial.state` must be an hpopt.TrialState .* \(str\)"):
            study.add_trial(FrozenTrial(0, "complete", (1.0,)))
        # a FrozenTrial built by hand is checked as create_trial checks its fields
        with pytest.raises(ValueError, match="value 7 of parameter 'x' lies outside"):
            study.add_trial(FrozenTrial(0, TrialState.COMPLETE, (1.0,), params={"x": 7},
                                        distributions={"x": hpopt.Float(0, 1)}))
        with pytest.raises(ValueError, match="must not be NaN"):
            study.add_trial(FrozenTrial(0, TrialState.COMPLETE, (math.nan,)))
        with pytest.raises(TypeError, match=r"`values\[0\]` must be a real number"):
            study.add_trial(FrozenTrial(0, TrialState.COMPLETE, ("1",)))
        with pytest.raises(TypeError, match="`trial.values` must be None or a tuple"):
            study.add_trial(FrozenTrial(0, TrialState.COMPLETE, 1.0))
        with pytest.raises(ValueError, match="cannot finish"):
            study.add_trial(FrozenTrial(0, TrialState.FAIL, None, started=10.0, finished=5.0))
        with pytest.raises(ValueError, match="finite POSIX time"):
            study.add_trial(FrozenTrial(0, TrialState.FAIL, None, started=math.inf))
        assert len(_reload(study, url).trials) == 1

    def test_a_widened_range_is_taken_as_in_a_study(self, url):
        study = _study(url, sampler="random")
        study.add_trial(create_trial(params={"x": 0.5}, distributions={"x": hpopt.Float(0, 1)}, value=1.0))
        wide = study.add_trial(create_trial(params={"x": 1.5}, distributions={"x": hpopt.Float(0, 2)},
                                            value=0.5))
        assert wide.distributions["x"] == hpopt.Float(0, 2)

    @pytest.mark.filterwarnings("ignore::hpopt.FailedTrialWarning")
    def test_trials_of_another_study_keep_times_and_only_meaningful_system_attrs(self, url):
        source = _study(url, sampler="tpe", seed=2)

        def obj(t):
            x = t.suggest("x", SPACE["x"])
            t.report(x, 0)
            if x > 3:
                raise ValueError("too big")
            return x

        source.optimize(obj, n_trials=12, catch=(ValueError,))
        target = _study(url, sampler="random")
        for t in source.trials:
            target.add_trial(t)
        got, want = _reload(target, url).trials, source.trials
        assert [t.number for t in got] == list(range(12))
        for g, w in zip(got, want):
            assert (g.state, g.values, dict(g.params), dict(g.intermediate_values)) == (
                w.state, w.values, dict(w.params), dict(w.intermediate_values))
            assert (g.started, g.finished) == (w.started, w.finished)
            expected = {"fail_reason": w.system_attrs["fail_reason"]} if w.state is TrialState.FAIL else {}
            assert dict(g.system_attrs) == expected  # TPE's notes are not copied
        assert any(t.state is TrialState.FAIL for t in got)
        assert target.best_value == source.best_value

    def test_gradient_is_kept_and_checked(self):
        study = hpopt.create_study(sampler="random")
        ok = FrozenTrial(0, TrialState.COMPLETE, (1.0,), params={"x": 0.5}, distributions={"x": SPACE["x"]},
                         system_attrs={"gradient": {"x": 2.0}, "hpopt.plan": {"x": 0.1}})
        assert dict(study.add_trial(ok).system_attrs) == {"gradient": {"x": 2.0}}
        bad = FrozenTrial(0, TrialState.COMPLETE, (1.0,), params={"x": 0.5}, distributions={"x": SPACE["x"]},
                          system_attrs={"gradient": {"y": 2.0}})
        with pytest.raises(ValueError, match="'gradient' names 'y'"):
            study.add_trial(bad)
        assert len(study.trials) == 1

    def test_two_storage_objects_number_trials_uniquely(self, tmp_path):
        """A trial asked through one storage object and one added through another (SQLite)."""
        url = f"sqlite:///{tmp_path / 'two.db'}"
        a = hpopt.create_study(storage=url, study_name="s", sampler="random", seed=0)
        b = hpopt.load_study(study_name="s", storage=url, sampler="random")
        running = a.ask()
        running.suggest("x", SPACE["x"])
        added = b.add_trial(create_trial(params={"x": 1.0}, distributions={"x": SPACE["x"]}, value=1.0))
        assert (running.number, added.number) == (0, 1)
        a.tell(running, 2.0)
        assert [t.state.name for t in b.trials] == ["COMPLETE", "COMPLETE"]
        # b's distributions check sees a's trial: another type for 'x' is refused
        with pytest.raises(ValueError, match="'x'"):
            b.add_trial(create_trial(params={"x": 1}, distributions={"x": hpopt.Int(0, 3)}, value=1.0))


# -- constraints ---------------------------------------------------------------------------------------
class TestConstraints:
    def test_computed_by_the_study_constraints_func_as_tell_does(self, url):
        seen = []

        def cons(t):
            seen.append(t)
            return [t.params["x"] - 1.0]

        study = _study(url, sampler=NSGAIISampler(seed=0, constraints_func=cons))
        ok = study.add_trial(create_trial(params={"x": 0.5}, distributions={"x": SPACE["x"]}, value=3.0,
                                          user_attrs={"k": 1}))
        bad = study.add_trial(create_trial(params={"x": 2.0}, distributions={"x": SPACE["x"]}, value=1.0))
        assert ok.system_attrs["constraints"] == [-0.5] and bad.system_attrs["constraints"] == [1.0]
        view = seen[0]  # what the function saw: the trial as stored, with its expected number
        assert (view.number, view.state, view.values) == (0, TrialState.COMPLETE, (3.0,))
        assert dict(view.user_attrs) == {"k": 1}
        assert _reload(study, url).best_trial.number == 0  # the infeasible better trial is left out
        study.add_trial(create_trial(params={}, distributions={}, state="fail"))
        assert len(seen) == 2  # not called for FAIL (nor PRUNED) trials, as at tell

    def test_constraints_func_errors_write_nothing(self):
        def raising(t):
            raise KeyError("limit")

        study = hpopt.create_study(sampler=GPSampler(seed=0, constraints_func=raising))
        ft = create_trial(params={"x": 0.5}, distributions={"x": SPACE["x"]}, value=1.0)
        with pytest.raises(KeyError, match="limit"):
            study.add_trial(ft)
        assert study.trials == []
        study.sampler.constraints_func = lambda t: ["no"]
        with pytest.raises(TypeError, match="Nothing was written"):
            study.add_trial(ft)
        study.sampler.constraints_func = lambda t: [0.0]
        study.add_trial(ft)
        study.sampler.constraints_func = lambda t: [0.0, 1.0]
        with pytest.raises(ValueError, match="same number of values"):
            study.add_trial(ft)
        assert len(study.trials) == 1

    def test_stored_values_kept_without_a_constraints_func(self, url):
        source = _study(url, sampler=NSGAIISampler(seed=0, constraints_func=lambda t: [t.params["x"]]))
        source.optimize(lambda t: t.suggest("x", SPACE["x"]) ** 2, n_trials=8)
        target = _study(url, sampler="random")
        for t in source.trials:
            assert target.add_trial(t).system_attrs["constraints"] == t.system_attrs["constraints"]
        feasible = [t for t in source.trials if t.params["x"] <= 0]
        assert _reload(target, url).best_value == min(t.value for t in feasible)
        two = FrozenTrial(0, TrialState.COMPLETE, (0.0,), system_attrs={"constraints": [0.0, 0.0]})
        with pytest.raises(ValueError, match=r"same count as those of study .* \(1\)"):
            target.add_trial(two)
        with pytest.raises(ValueError, match="'constraints' must be a list of real numbers"):
            target.add_trial(FrozenTrial(0, TrialState.COMPLETE, (0.0,), system_attrs={"constraints": "x<0"}))
        assert len(target.trials) == 8


# -- samplers learn from added trials --------------------------------------------------------------
def _added_history(study: hpopt.Study) -> tuple[float, float]:
    """20 finished trials of f: 19 spread over the box, plus one near the optimum (1, -2); returns
    the best one's point."""
    rng = np.random.default_rng(0)
    points = [(float(x), float(y)) for x, y in rng.uniform(-5, 5, size=(19, 2))] + [(1.3, -1.7)]
    for x, y in points:
        study.add_trial(create_trial(params={"x": x, "y": y}, distributions=SPACE, value=f(x, y)))
    return min(points, key=lambda p: f(*p))


@pytest.mark.parametrize("sampler", ["tpe", "gp", "cmaes"])
def test_samplers_propose_near_the_best_added_trial(sampler):
    """With 20 added trials a model sampler proposes near their best at once; without them the same
    sampler (still in its random start-up) does not."""
    study = hpopt.create_study(sampler=sampler, seed=0)
    best = _added_history(study)
    assert best == (1.3, -1.7)

    def proposals(s):
        out = []
        for _ in range(6):
            trial = s.ask(SPACE)
            out.append(math.dist((trial.params["x"], trial.params["y"]), best))
            s.tell(trial, f(trial.params["x"], trial.params["y"]))
        return float(np.median(out))

    with_added = proposals(study)
    without = proposals(hpopt.create_study(sampler=sampler, seed=0))
    assert with_added < 2.5, (sampler, with_added)
    assert with_added < 0.5 * without, (sampler, with_added, without)
