"""hpopt.FixedTrial: run an objective on given values without a study (as Optuna's FixedTrial)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hpopt
from hpopt.errors import HpoptWarning
from hpopt.fixed import FixedTrial
from hpopt.records import TrialState


def objective(trial):
    """An objective using every suggest form, a report and a user attribute."""
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    drop = trial.suggest_float("drop", 0.0, 0.5, step=0.1)
    kind = trial.suggest_categorical("kind", ["a", "b", 1.0])
    trial.report(lr * layers, step=0)
    trial.set_user_attr("kind_was", kind)
    return lr * layers + drop + (kind == "b")


class TestValues:
    def test_returns_the_given_values_as_a_study_trial_would(self):
        """Values come back canonical: an int for an integral float, a choice 1.0 for 1, a grid
        value snapped onto the grid."""
        t = FixedTrial({"lr": 0.01, "layers": 3.0, "drop": 0.30000000000000004, "kind": 1})
        assert objective(t) == pytest.approx(0.01 * 3 + 0.3)
        assert t.params == {"lr": 0.01, "layers": 3, "drop": 0.3, "kind": 1.0}
        assert type(t.params["layers"]) is int and type(t.params["kind"]) is float
        assert t.distributions["layers"] == hpopt.Int(1, 4)
        assert t.intermediate_values == {0: pytest.approx(0.03)}
        assert t.user_attrs == {"kind_was": 1.0}

    def test_same_objective_same_result_as_in_a_study(self):
        """Replaying a study trial's parameters through FixedTrial reproduces its value, params
        and distributions exactly (the point of unit-testing an objective with it)."""
        study = hpopt.create_study(sampler="random", seed=3)
        study.optimize(objective, n_trials=5)
        for ft in study.trials:
            t = FixedTrial(dict(ft.params), number=ft.number)
            assert objective(t) == ft.value
            assert t.params == dict(ft.params) and t.distributions == dict(ft.distributions)
            assert t.number == ft.number

    def test_unused_given_values_are_ignored(self):
        t = FixedTrial({"x": 0.5, "unused": "whatever"})
        assert t.suggest_float("x", 0, 1) == 0.5
        assert t.params == {"x": 0.5}

    def test_suggest_with_a_distribution_object(self):
        t = FixedTrial({"c": np.str_("b")})
        assert t.suggest("c", hpopt.Categorical(["a", "b"])) == "b"
        assert type(t.params["c"]) is str


class TestRefusals:
    def test_missing_name_is_a_value_error_naming_it(self):
        with pytest.raises(ValueError, match=r"no value for parameter 'y' \(it has \['x'\]\)"):
            FixedTrial({"x": 1.0}).suggest_float("y", 0, 1)

    @pytest.mark.parametrize(
        ("value", "suggest", "shown"),
        [
            (5.0, lambda t: t.suggest_float("p", 0.0, 1.0), "Float(0.0, 1.0)"),
            (0.25, lambda t: t.suggest_float("p", 0.0, 1.0, step=0.1), "step=0.1"),
            (2.5, lambda t: t.suggest_int("p", 0, 5), "Int(0, 5)"),
            (3, lambda t: t.suggest_int("p", 0, 6, step=2), "step=2"),
            ("c", lambda t: t.suggest_categorical("p", ["a", "b"]), "Categorical"),
            # bools match only bools (as Categorical.contains does): True is not the choice 1
            (True, lambda t: t.suggest_categorical("p", [1, 2]), "Categorical"),
            (1, lambda t: t.suggest_categorical("p", [True, False]), "Categorical"),
            (True, lambda t: t.suggest_int("p", 0, 5), "Int(0, 5)"),
            ("0.5", lambda t: t.suggest_float("p", 0.0, 1.0), "Float(0.0, 1.0)"),
        ],
    )
    def test_value_outside_the_distribution_names_parameter_value_and_distribution(
        self, value, suggest, shown
    ):
        t = FixedTrial({"p": value})
        with pytest.raises(ValueError) as info:
            suggest(t)
        text = str(info.value)
        assert "'p'" in text and repr(value) in text and shown in text
        assert t.params == {}  # nothing recorded

    def test_re_suggesting_with_another_distribution_raises_as_trial_does(self):
        t = FixedTrial({"x": 0.5})
        assert t.suggest_float("x", 0, 1) == 0.5
        assert t.suggest_float("x", 0, 1) == 0.5  # same distribution: same value
        with pytest.raises(ValueError, match="'x' was already suggested in trial 0 as Float"):
            t.suggest_float("x", 0, 2)
        study_trial = hpopt.create_study().ask()  # the real Trial raises the same way
        study_trial.suggest_float("x", 0, 1)
        with pytest.raises(ValueError, match="'x' was already suggested in trial 0 as Float"):
            study_trial.suggest_float("x", 0, 2)

    def test_invalid_bounds_name_the_parameter(self):
        with pytest.raises(ValueError, match="'x'"):
            FixedTrial({"x": 0.5}).suggest_float("x", 1.0, 0.0)
        with pytest.raises(TypeError, match="'n'"):
            FixedTrial({"n": 1}).suggest_int("n", 0.5, 3)
        with pytest.raises(TypeError, match="hpopt.Float, Int or Categorical"):
            FixedTrial({"x": 0.5}).suggest("x", (0, 1))

    def test_bad_constructor_arguments(self):
        with pytest.raises(TypeError, match="`params` must be a mapping"):
            FixedTrial([("x", 1)])
        with pytest.raises(TypeError, match="parameter name must be a str"):
            FixedTrial({1: 0.5})
        with pytest.raises(ValueError, match="1 to"):
            FixedTrial({"": 0.5})
        with pytest.raises(TypeError, match="`number` must be an int"):
            FixedTrial({}, number=True)
        with pytest.raises(ValueError, match="`number >= 0`"):
            FixedTrial({}, number=-1)
        with pytest.raises(TypeError, match="JSON"):
            FixedTrial({}, user_attrs={"k": object()})


class TestReportAndAttributes:
    def test_report_validates_like_trial_report(self):
        t = FixedTrial({})
        with pytest.raises(TypeError, match="real number"):
            t.report("0.5", 0)
        with pytest.raises(TypeError, match="`step` must be an int"):
            t.report(0.5, True)
        with pytest.raises(TypeError, match="`step` must be an int"):
            t.report(0.5, 1.0)
        with pytest.raises(ValueError, match="0 <= step"):
            t.report(0.5, -1)
        with pytest.raises(TypeError, match="real number"):
            t.report([0.5], 0)  # one objective: a number, as Trial.report wants
        assert t.intermediate_values == {}
        t.report(np.float32(0.5), np.int64(3))
        t.report(float("nan"), 4)  # NaN is recorded, as Trial.report records it
        assert list(t.intermediate_values) == [3, 4] and t.intermediate_values[3] == 0.5
        assert t.should_prune() is False

    def test_a_repeated_step_keeps_the_first_value_with_a_warning(self):
        t = FixedTrial({})
        t.report(1.0, 0)
        with pytest.warns(HpoptWarning, match="already reported step 0"):
            t.report(2.0, 0)
        assert t.intermediate_values == {0: 1.0}

    def test_several_objectives_are_counted_from_the_first_report(self):
        t = FixedTrial({})
        t.report([1.0, 2.0], 0)
        with pytest.raises(ValueError, match="needs 2 values"):
            t.report([1.0, 2.0, 3.0], 1)
        with pytest.raises(ValueError, match="needs 2 values"):
            t.report(1.0, 1)
        t.report(np.array([3.0, 4.0]), 1)
        assert t.intermediate_values == {0: (1.0, 2.0), 1: (3.0, 4.0)}

    def test_user_attrs_snapshot_and_no_study(self):
        t = FixedTrial({"x": 0.5}, number=7, user_attrs={"source": "manual"})
        t.suggest_float("x", 0, 1)
        t.set_user_attr("tags", ["a", "b"])
        assert t.user_attrs == {"source": "manual", "tags": ["a", "b"]}
        with pytest.raises(TypeError):
            t.user_attrs["tags"].append("c")  # read-only, as a Trial's
        with pytest.raises(TypeError, match="JSON"):
            t.set_user_attr("bad", {1, 2})
        t.report(0.25, 2)
        snap = t.snapshot()
        assert snap.number == 7 and snap.state is TrialState.RUNNING
        assert dict(snap.params) == {"x": 0.5} and dict(snap.intermediate_values) == {2: 0.25}
        assert not hasattr(t, "study")
        with pytest.raises(AttributeError, match="belongs to no study"):
            t.study  # noqa: B018
        t.beat()  # a no-op, so objectives that beat themselves run too

    def test_pruning_logic_runs_without_pruning(self):
        def pruned_objective(trial):
            x = trial.suggest_float("x", 0, 1)
            for step in range(3):
                trial.report(x * step, step)
                if trial.should_prune():
                    raise hpopt.TrialPruned()
            return x

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert pruned_objective(FixedTrial({"x": 0.5})) == 0.5


def test_has_every_public_name_of_trial():
    """What an objective may call on a Trial exists on a FixedTrial (``study`` raises)."""
    public = {n for n in dir(hpopt.Trial) if not n.startswith("_")} | {"number"}
    assert public <= set(dir(FixedTrial)), sorted(public - set(dir(FixedTrial)))


class TestSharedWithTheBenchmark:
    def test_benchmark_problems_use_this_fixed_trial(self):
        from hpopt.benchmark import FixedTrial as BenchFixedTrial

        assert BenchFixedTrial is FixedTrial

    def test_exported_from_the_package(self):
        """``hpopt.FixedTrial`` and ``hpopt.create_trial`` are the public names."""
        from hpopt.fixed import create_trial

        assert hpopt.FixedTrial is FixedTrial and hpopt.create_trial is create_trial
        assert "FixedTrial" in hpopt.__all__ and "create_trial" in hpopt.__all__
