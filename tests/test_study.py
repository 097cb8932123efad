"""Study: create/load, ask (define-by-run and static), optimize, enqueue, best_*, reproducibility."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import pytest

import hpopt
from hpopt import Categorical, Float, Int, TrialState


def _quadratic(t: hpopt.Trial) -> float:
    return (t.suggest_float("x", -10, 10) - 2) ** 2 + t.suggest_int("n", 0, 3)


class TestCreateLoad:
    def test_defaults(self) -> None:
        """A default study minimizes one objective with the auto sampler in memory."""
        study = hpopt.create_study()
        assert study.directions == ["minimize"] and study.direction == "minimize"
        assert isinstance(study.sampler, hpopt.AutoSampler) and study.trials == []
        seeded = hpopt.create_study(seed=7)
        assert isinstance(seeded.sampler, hpopt.AutoSampler) and seeded.sampler.seed == 7

    def test_sampler_by_name_with_seed(self) -> None:
        """A sampler given by name is built from the registry and seeded with `seed`."""
        study = hpopt.create_study(sampler="random", seed=42)
        assert isinstance(study.sampler, hpopt.RandomSampler) and study.sampler.seed == 42

    def test_seed_with_instance_refused(self) -> None:
        """`seed` together with a sampler instance is a ValueError (seed the instance)."""
        with pytest.raises(ValueError, match="seed"):
            hpopt.create_study(sampler=hpopt.RandomSampler(seed=1), seed=2)

    def test_unknown_sampler_name(self) -> None:
        """An unknown sampler name is a PluginError listing the available ones."""
        with pytest.raises(hpopt.PluginError, match="random"):
            hpopt.create_study(sampler="no-such-sampler")

    @pytest.mark.parametrize("bad", [{"direction": "up"}, {"directions": []}, {"directions": "minimize"},
                                     {"direction": "minimize", "directions": ["minimize"]}])
    def test_bad_directions(self, bad: dict) -> None:
        """Invalid directions are a ValueError."""
        with pytest.raises(ValueError):
            hpopt.create_study(**bad)

    def test_load_study_sees_trials(self, tmp_path: Any) -> None:
        """load_study on the same URL sees the trials of the study."""
        url = f"sqlite:///{tmp_path}/s.db"
        study = hpopt.create_study(study_name="a", storage=url, seed=0)
        study.optimize(_quadratic, n_trials=5)
        again = hpopt.load_study("a", url)
        assert [t.params for t in again.trials] == [t.params for t in study.trials]
        assert hpopt.study_names(url) == ["a"]

    def test_load_unknown_study(self) -> None:
        """load_study of an unknown name is a StudyNotFoundError (also a KeyError)."""
        with pytest.raises(KeyError, match="nope"):
            hpopt.load_study("nope", None)

    def test_load_if_exists_other_directions(self, tmp_path: Any) -> None:
        """load_if_exists with other directions is a ValueError naming both."""
        url = f"sqlite:///{tmp_path}/s.db"
        hpopt.create_study(study_name="a", storage=url)
        with pytest.raises(ValueError, match=r"\['minimize'\].*\['maximize'\]"):
            hpopt.create_study(study_name="a", storage=url, direction="maximize", load_if_exists=True)

    def test_duplicate_name(self) -> None:
        """A second create_study of the same name in one storage is a DuplicatedStudyError."""
        storage = hpopt.Storage(hpopt.storage.MemoryBackend())
        hpopt.create_study(study_name="a", storage=storage)
        with pytest.raises(hpopt.DuplicatedStudyError):
            hpopt.create_study(study_name="a", storage=storage)

    def test_user_attrs(self) -> None:
        """Study user attributes are stored as JSON reads them back."""
        study = hpopt.create_study()
        study.set_user_attr("k", (1, 2))
        assert study.user_attrs == {"k": [1, 2]}


class TestAsk:
    def test_define_by_run(self) -> None:
        """Suggestions are recorded with their distributions in the finished trial."""
        study = hpopt.create_study(seed=0)
        t = study.ask()
        x = t.suggest_float("x", 0, 1)
        n = t.suggest_int("n", 1, 8, log=True)
        c = t.suggest_categorical("c", ["a", None])
        ft = study.tell(t, 1.0)
        assert ft.params == {"x": x, "n": n, "c": c}
        assert ft.distributions == {"x": Float(0, 1), "n": Int(1, 8, log=True), "c": Categorical(["a", None])}

    def test_static_space(self) -> None:
        """ask(space) samples every parameter at once; suggesting again returns the same value."""
        study = hpopt.create_study(seed=0)
        space = {"x": Float(0, 1), "n": Int(0, 5)}
        t = study.ask(space)
        assert set(t.params) == {"x", "n"}
        assert t.suggest_float("x", 0, 1) == t.params["x"]

    def test_static_space_must_be_distributions(self) -> None:
        """ask with a non-distribution value is a TypeError and writes nothing."""
        study = hpopt.create_study()
        with pytest.raises(TypeError, match="'x'"):
            study.ask({"x": (0, 1)})
        assert study.trials == []

    def test_conditional_parameters(self) -> None:
        """Parameters that exist only on one branch are recorded only for that branch."""
        study = hpopt.create_study(seed=3)
        for _ in range(20):
            t = study.ask()
            if t.suggest_categorical("kind", ["a", "b"]) == "a":
                t.suggest_float("x", 0, 1)
            study.tell(t, 0.0)
        for ft in study.trials:
            assert set(ft.params) == ({"kind", "x"} if ft.params["kind"] == "a" else {"kind"})

    def test_changed_range_allowed(self) -> None:
        """The same name with another numeric range in a later trial is allowed."""
        study = hpopt.create_study(seed=0)
        for lo, hi in [(0, 1), (10, 20)]:
            t = study.ask()
            assert lo <= t.suggest_float("x", lo, hi) <= hi
            study.tell(t, 0.0)

    def test_other_kind_refused_across_trials(self) -> None:
        """The same name as another kind in a later trial is a ValueError naming both."""
        study = hpopt.create_study(seed=0)
        t = study.ask()
        t.suggest_float("x", 0, 1)
        study.tell(t, 0.0)
        t = study.ask()
        with pytest.raises(ValueError, match=r"'x'.*Float\(0.0, 1.0\).*Int\(0, 1\)"):
            t.suggest_int("x", 0, 1)

    def test_same_name_twice_in_trial(self) -> None:
        """Suggesting a name again with the same distribution returns the same value."""
        t = hpopt.create_study(seed=0).ask()
        assert t.suggest_float("x", 0, 1) == t.suggest_float("x", 0, 1)
        with pytest.raises(ValueError, match="'x'"):
            t.suggest_float("x", 0, 2)


class TestOptimize:
    def test_runs_n_trials(self) -> None:
        """optimize runs n_trials COMPLETE trials numbered 0..n-1."""
        study = hpopt.create_study(seed=0)
        study.optimize(_quadratic, n_trials=20)
        assert [t.number for t in study.trials] == list(range(20))
        assert all(t.state is TrialState.COMPLETE for t in study.trials)
        assert study.best_value == min(t.value for t in study.trials)
        assert study.best_params == dict(study.best_trial.params)

    def test_threads(self) -> None:
        """n_jobs=4 threads run exactly n_trials trials with gap-free numbers."""
        study = hpopt.create_study(seed=0)
        study.optimize(_quadratic, n_trials=40, n_jobs=4)
        assert sorted(t.number for t in study.trials) == list(range(40))
        assert all(t.state is TrialState.COMPLETE for t in study.trials)

    def test_exception_fails_trial_and_reraises(self) -> None:
        """An objective that raises marks its trial FAIL with the reason and re-raises."""
        study = hpopt.create_study()

        def boom(t: hpopt.Trial) -> float:
            t.suggest_float("x", 0, 1)
            raise ZeroDivisionError("nope")

        with pytest.raises(ZeroDivisionError):
            study.optimize(boom, n_trials=3)
        (ft,) = study.trials
        assert ft.state is TrialState.FAIL and "ZeroDivisionError" in ft.system_attrs["fail_reason"]
        assert "x" in ft.params

    def test_catch_continues(self) -> None:
        """An exception listed in catch fails the trial (with a warning) and the study goes on."""
        study = hpopt.create_study()
        with pytest.warns(hpopt.FailedTrialWarning):
            study.optimize(lambda t: 1 / 0, n_trials=3, catch=(ZeroDivisionError,))
        assert [t.state for t in study.trials] == [TrialState.FAIL] * 3

    @pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
    def test_interrupt_leaves_trial_failed(self, exc: type[BaseException]) -> None:
        """KeyboardInterrupt and SystemExit fail the trial, re-raise, and the study stays usable."""
        study = hpopt.create_study()

        def stop(t: hpopt.Trial) -> float:
            raise exc()

        with pytest.raises(exc):
            study.optimize(stop, n_trials=5)
        assert [t.state for t in study.trials] == [TrialState.FAIL]
        study.optimize(_quadratic, n_trials=2)
        assert [t.state for t in study.trials][1:] == [TrialState.COMPLETE] * 2

    def test_pruned(self) -> None:
        """TrialPruned marks the trial PRUNED with the last reported value."""
        study = hpopt.create_study()

        def obj(t: hpopt.Trial) -> float:
            t.report(3.0, 0)
            raise hpopt.TrialPruned()

        study.optimize(obj, n_trials=1)
        assert study.trials[0].state is TrialState.PRUNED and study.trials[0].values == (3.0,)

    def test_bad_return_value_fails_trial(self) -> None:
        """A return value that is not a real number fails the trial with a warning."""
        study = hpopt.create_study()
        with pytest.warns(hpopt.FailedTrialWarning, match="returned"):
            study.optimize(lambda t: "abc", n_trials=1)
        assert study.trials[0].state is TrialState.FAIL

    def test_nan_return_fails_trial(self) -> None:
        """A NaN return value fails the trial with a warning."""
        study = hpopt.create_study()
        with pytest.warns(hpopt.FailedTrialWarning, match="NaN"):
            study.optimize(lambda t: math.nan, n_trials=1)
        assert study.trials[0].state is TrialState.FAIL

    def test_callbacks_and_stop(self) -> None:
        """Callbacks see each finished trial; study.stop() ends optimize early."""
        study = hpopt.create_study()
        seen = []

        def cb(s: hpopt.Study, ft: hpopt.FrozenTrial) -> None:
            seen.append(ft.number)
            if ft.number == 2:
                s.stop()

        study.optimize(_quadratic, n_trials=10, callbacks=[cb])
        assert seen == [0, 1, 2]

    def test_grid_exhaustion_stops_optimize(self) -> None:
        """optimize with a grid stops when every point was evaluated once."""
        grid = {"a": [1, 2, 3], "b": ["x", "y"]}
        study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space=grid))
        study.optimize(lambda t: t.suggest_categorical("a", [1, 2, 3]) * (
            t.suggest_categorical("b", ["x", "y"]) == "x"))
        points = {(t.params["a"], t.params["b"]) for t in study.trials}
        assert len(study.trials) == 6 and len(points) == 6
        with pytest.raises(hpopt.SearchSpaceExhausted):
            study.ask()


class TestEnqueue:
    def test_enqueued_first_in_order(self) -> None:
        """Enqueued trials come first, in order, with their values."""
        study = hpopt.create_study(seed=0)
        study.enqueue_trial({"x": 0.5})
        study.enqueue_trial({"x": 0.25}, user_attrs={"why": "guess"})
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
        xs = [t.params["x"] for t in study.trials]
        assert xs[:2] == [0.5, 0.25] and study.trials[1].user_attrs == {"why": "guess"}

    def test_skip_if_exists(self) -> None:
        """skip_if_exists does not enqueue parameters that already exist."""
        study = hpopt.create_study()
        assert study.enqueue_trial({"x": 0.5}) == 0
        assert study.enqueue_trial({"x": 0.5}, skip_if_exists=True) is None
        assert len(study.trials) == 1

    def test_value_outside_distribution(self) -> None:
        """An enqueued value outside its distribution is a ValueError when suggested."""
        study = hpopt.create_study()
        study.enqueue_trial({"x": 5.0})
        t = study.ask()
        with pytest.raises(ValueError, match="'x'"):
            t.suggest_float("x", 0, 1)


class TestBest:
    def test_maximize(self) -> None:
        """best_value of a maximized study is the largest value."""
        study = hpopt.create_study(direction="maximize", seed=0)
        study.optimize(_quadratic, n_trials=10)
        assert study.best_value == max(t.value for t in study.trials)

    def test_no_complete_trial(self) -> None:
        """best_trial without a COMPLETE trial is a ValueError."""
        study = hpopt.create_study()
        study.tell(study.ask(), state="fail")
        with pytest.raises(ValueError, match="no COMPLETE"):
            _ = study.best_trial

    def test_pareto_front(self) -> None:
        """best_trials is the set of non-dominated COMPLETE trials; best_value refuses."""
        study = hpopt.create_study(directions=["minimize", "maximize"])
        for vals in ([1, 1], [2, 3], [0, 0], [2, 2], [3, 3]):
            study.tell(study.ask(), vals)
        assert [t.number for t in study.best_trials] == [0, 1, 2]
        with pytest.raises(RuntimeError, match="best_trials"):
            _ = study.best_value


_SEEDED_RUN = textwrap.dedent("""
    import hpopt

    def run():
        study = hpopt.create_study(sampler="random", seed=2024)
        for i in range(15):
            t = study.ask() if i % 2 else study.ask({"s": hpopt.Float(0, 1)})
            t.suggest_float("x", -5, 5)
            t.suggest_int("n", 1, 100, log=True)
            t.suggest_categorical("c", [None, True, 1.5, "a"])
            study.tell(t, 0.0)
        return [t.params for t in study.trials]
""")


def test_reproducible_in_fresh_process() -> None:
    """A seeded random study gives the same parameters in a freshly spawned interpreter."""
    namespace: dict[str, Any] = {}
    exec(_SEEDED_RUN, namespace)  # noqa: S102  (our own snippet, run here and in a subprocess)
    here = namespace["run"]()
    code = _SEEDED_RUN + "\nimport json\nprint(json.dumps(run()))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=120)
    assert json.loads(out.stdout) == here


def test_random_params_independent_of_order() -> None:
    """The random sampler's value for a name in trial N does not depend on suggestion order."""
    a = hpopt.create_study(seed=9).ask()
    b = hpopt.create_study(seed=9).ask()
    xa, ya = a.suggest_float("x", 0, 1), a.suggest_float("y", 0, 1)
    yb, xb = b.suggest_float("y", 0, 1), b.suggest_float("x", 0, 1)
    assert (xa, ya) == (xb, yb)


def test_no_warning_in_normal_use() -> None:
    """A normal optimize run emits no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hpopt.create_study(seed=0).optimize(_quadratic, n_trials=5)


def test_equal_comparing_choice_lists_keep_their_types() -> None:
    """[1.0], [1], [True] and [-0.0], [0.0] are different choice lists: each returns its own value."""
    t = hpopt.create_study().ask()
    got = [t.suggest_categorical(name, choices) for name, choices in
           [("a", [1.0]), ("b", [1]), ("c", [True]), ("d", [-0.0]), ("e", [0.0])]]
    assert [(type(v), repr(v)) for v in got] == [(float, "1.0"), (int, "1"), (bool, "True"),
                                                  (float, "-0.0"), (float, "0.0")]


def test_enqueued_values_are_visible_before_the_trial_runs():
    """A WAITING trial shows the values it was enqueued with in its system attributes."""
    study = hpopt.create_study()
    study.enqueue_trial({"x": 0.5, "c": "a"})
    (waiting,) = study.trials
    assert waiting.state is hpopt.TrialState.WAITING and waiting.params == {}
    assert waiting.system_attrs["hpopt.enqueued_params"] == {"x": 0.5, "c": "a"}


def test_sampler_annotate_notes_are_written_with_the_trial() -> None:
    class Noting(hpopt.RandomSampler):
        def annotate(self, history, trial):  # type: ignore[no-untyped-def]
            return {"why": f"trial {trial.number}", "n_done": len(history.trials())}

    study = hpopt.create_study(sampler=Noting(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert [t.system_attrs for t in study.trials] == [
        {"why": "trial 0", "n_done": 0}, {"why": "trial 1", "n_done": 1}
    ]


def test_sampler_annotate_with_unstorable_note_writes_nothing() -> None:
    class Bad(hpopt.RandomSampler):
        def annotate(self, history, trial):  # type: ignore[no-untyped-def]
            return {"why": object()}

    study = hpopt.create_study(sampler=Bad(seed=0))
    with pytest.raises(hpopt.SamplerError, match="why"):
        study.ask()
    assert study.trials == []
