"""T21: a stateful model test of ask, tell, report, enqueue and reopen against a plain-dict model.

Reaping, heartbeats and simulated crashes belong to a later issue; their rules are not here.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import warnings
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import hpopt
from hpopt import Float, TrialState
from hpopt.storage import open_storage

X = Float(-10.0, 10.0)
values = st.one_of(st.floats(-1e3, 1e3), st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -0.0]))


class StudyMachine(RuleBasedStateMachine):
    """Drives one SQLite study through its public API, sometimes through a second storage object."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="hpopt-stateful-")
        self.url = f"sqlite:///{self.dir}/model.db?synchronous=normal"
        # The model: number -> {"state", "values", "params", "inter", "fixed"}, and the WAITING queue.
        self.model: dict[int, dict[str, Any]] = {}
        self.queue: list[int] = []
        self.handles: dict[int, hpopt.Trial] = {}
        self.frozen: dict[int, hpopt.FrozenTrial] = {}

    @initialize()
    def create(self) -> None:
        self.study = hpopt.create_study(study_name="m", storage=open_storage(self.url), seed=0)

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------------------
    def _new_number(self) -> int:
        if self.queue:
            return self.queue.pop(0)
        n = len(self.model)
        self.model[n] = {"state": "RUNNING", "values": None, "params": {}, "inter": {}, "fixed": {}}
        return n

    def _running(self) -> list[int]:
        return [n for n, m in self.model.items() if m["state"] == "RUNNING" and n in self.handles]

    # -- rules ------------------------------------------------------------------------------------
    @rule(static=st.booleans())
    def ask(self, static: bool) -> None:
        expected = self._new_number()
        m = self.model[expected]
        m["state"] = "RUNNING"
        t = self.study.ask({"x": X} if static else None)
        assert t.number == expected
        x = t.suggest("x", X)
        if "x" in m["fixed"]:
            assert x == m["fixed"]["x"]
        assert X.contains(x)
        m["params"] = {"x": x}
        m["static"] = static  # a static ask writes its parameters at once; define-by-run buffers them
        self.handles[expected] = t

    @rule(x=st.floats(-10.0, 10.0))
    def enqueue(self, x: float) -> None:
        n = self.study.enqueue_trial({"x": x})
        assert n == len(self.model)
        self.model[n] = {"state": "WAITING", "values": None, "params": {}, "inter": {}, "fixed": {"x": x}}
        self.queue.append(n)

    @precondition(lambda self: self._running())
    @rule(data=st.data(), value=st.floats(-1e3, 1e3))
    def report(self, data: Any, value: float) -> None:
        n = data.draw(st.sampled_from(self._running()))
        inter = self.model[n]["inter"]
        step = len(inter)
        self.handles[n].report(value, step)
        inter[step] = value

    @precondition(lambda self: self._running())
    @rule(data=st.data(), value=values, how=st.sampled_from(["complete", "pruned", "fail"]),
          by_number=st.booleans())
    def tell(self, data: Any, value: float, how: str, by_number: bool) -> None:
        n = data.draw(st.sampled_from(self._running()))
        m = self.model[n]
        # By number through the current study object only once the suggestion is written.
        target: Any = n if by_number and (m["inter"] or m["static"]) else self.handles[n]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", hpopt.FailedTrialWarning)
            if how == "complete":
                ft = self.study.tell(target, value)
                state = "FAIL" if math.isnan(value) else "COMPLETE"
                vals = None if math.isnan(value) else (value,)
            elif how == "pruned":
                ft = self.study.tell(target, state="pruned")
                state = "PRUNED"
                last = m["inter"][max(m["inter"])] if m["inter"] else None
                vals = None if last is None else (last,)
            else:
                ft = self.study.tell(target, state="fail")
                state, vals = "FAIL", None
        if target is n:
            self.handles[n]._finished = True  # the handle learns it on its next call anyway
        assert ft.state.name == state and ft.values == vals, (ft, state, vals)
        m["state"], m["values"] = state, vals
        self.frozen[n] = ft

    @precondition(lambda self: self.frozen)
    @rule(data=st.data(), value=st.floats(-1e3, 1e3))
    def tell_finished_again(self, data: Any, value: float) -> None:
        n = data.draw(st.sampled_from(sorted(self.frozen)))
        ft = self.frozen[n]
        if ft.state is TrialState.COMPLETE:
            assert self.study.tell(n, ft.values) == ft  # identical: a no-op
        try:
            self.study.tell(n, value)
        except hpopt.TrialFinishedError:
            assert not (ft.state is TrialState.COMPLETE and ft.values == (value,))
        else:
            assert ft.state is TrialState.COMPLETE and ft.values == (value,)
        assert self.study.tell(n, value, skip_if_finished=True) == ft

    @rule()
    def reopen(self) -> None:
        """A second storage object on the same file takes over; old handles stay usable."""
        self.study = hpopt.load_study("m", open_storage(self.url), seed=0)

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def matches_model(self) -> None:
        if not hasattr(self, "study"):
            return
        trials = self.study.trials
        assert [t.number for t in trials] == list(range(len(self.model)))
        for t in trials:
            m = self.model[t.number]
            assert t.state.name == m["state"], (t, m)
            if t.number in self.frozen:
                assert t == self.frozen[t.number]  # finished trials never change
            if m["state"] != "WAITING" and (m["inter"] or m["state"] != "RUNNING"):
                assert dict(t.intermediate_values) == m["inter"]
                assert dict(t.params) == m["params"]
        counts = {s.name: 0 for s in TrialState}
        for m in self.model.values():
            counts[m["state"]] += 1
        got = {s.name: len(self.study.get_trials(states=[s])) for s in TrialState}
        assert got == counts
        complete = [m["values"][0] for m in self.model.values() if m["state"] == "COMPLETE"]
        if complete:
            assert self.study.best_value == min(complete)
        else:
            try:
                _ = self.study.best_value
            except ValueError:
                pass
            else:
                raise AssertionError("best_value without a COMPLETE trial")


StudyMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestStudyMachine = StudyMachine.TestCase
