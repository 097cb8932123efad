"""The storage conformance battery (T1 of RELIABILITY.md): part of :mod:`hpopt.testing`.

Every scenario runs through the public API on a fresh in-memory storage and on the storage under
test; both must give identical results and error types, step by step.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from hpopt._conformance import SPECIAL_FLOATS, Check, StorageFactory
from hpopt._conformance import check as _check
from hpopt._conformance import run_all as _run_all

__all__ = ["storage_checks", "check_storage"]


def _norm(x: Any) -> Any:
    """A comparable, exact form: floats by ``repr`` (so nan == nan and -0.0 != 0.0), types kept."""
    if isinstance(x, float):
        return ("float", repr(x))
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return (type(x).__name__, x)
    if isinstance(x, Mapping):
        return ("map", tuple(sorted((repr(k), _norm(v)) for k, v in x.items())))
    if isinstance(x, (list, tuple)):
        return ("seq", tuple(_norm(v) for v in x))
    return ("obj", repr(x))


def _record(ft: Any) -> tuple[Any, ...]:
    """A FrozenTrial without its times, in comparable form."""
    return (
        ft.number, ft.state.name, _norm(ft.values), _norm(dict(ft.params)),
        tuple(sorted((k, repr(d)) for k, d in ft.distributions.items())),
        _norm(dict(ft.intermediate_values)), _norm(dict(ft.user_attrs)), _norm(dict(ft.system_attrs)),
        ft.started is not None, ft.finished is not None,
    )


class _Log:
    """What a scenario saw: results and error types, step by step, for cross-backend comparison."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def add(self, label: str, value: Any) -> None:
        self.items.append((label, value))

    def call(self, label: str, fn: Callable[[], Any], expect: type[BaseException] | None = None) -> Any:
        """Run ``fn``; log its outcome. With ``expect``, it must raise that type."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = fn()
        except Exception as exc:  # noqa: BLE001
            self.add(label, ("raises", type(exc).__name__))
            if expect is None or not isinstance(exc, expect):
                raise AssertionError(f"{label}: unexpected {type(exc).__name__}: {exc}") from exc
            return exc
        _check(expect is None,
               f"{label}: should raise {getattr(expect, '__name__', expect)}, returned {result!r}")
        from hpopt.errors import HpoptWarning

        # hpopt's own advisories only: a ResourceWarning from garbage collection comes at any time.
        advisories = {w.category.__name__ for w in caught if issubclass(w.category, HpoptWarning)}
        self.add(label, ("ok", _norm_result(result), sorted(advisories)))
        return result


def _norm_result(result: Any) -> Any:
    from hpopt import FrozenTrial

    if isinstance(result, FrozenTrial):
        return _record(result)
    if isinstance(result, list) and result and isinstance(result[0], FrozenTrial):
        return [_record(r) for r in result]
    if result is None or isinstance(result, (bool, int, float, str, list, tuple, dict)):
        return _norm(result)
    return type(result).__name__


def _reopen(spec: Any, storage: Any) -> Any:
    """A second storage object on the same store: from the spec when it is a URL, else from the
    storage's URL. Only an in-memory storage (no backend others can read) is its own second object.

    Raises:
        AssertionError: The storage keeps its trials where others can read them (its backend is
            ``shared``) but cannot be opened again from its URL: what it persists would go unchecked.
    """
    from hpopt.storage import open_storage
    from hpopt.storage.journal import redact_url

    if isinstance(spec, str):
        return open_storage(spec)
    if not getattr(getattr(storage, "_backend", None), "shared", False):
        return storage  # in memory: nothing outside this object to read back
    url = getattr(storage, "url", "")
    try:
        return open_storage(url)
    except (ValueError, TypeError) as exc:
        shown = redact_url(url) if isinstance(url, str) else repr(url)
        raise AssertionError(
            f"it keeps its trials outside the object (its backend is shared) but "
            f"cannot be opened again from its url {shown!r} ({exc}), so what it persists cannot be "
            "checked: return a URL from make_storage, or give the backend a url that open_storage accepts"
        ) from exc


def _snapshot(study: Any) -> list[tuple[Any, ...]]:
    return [_record(ft) for ft in study.trials]


def _scenarios() -> list[tuple[str, Callable[[Any, _Log], None]]]:
    """Storage scenarios: ``scenario(spec, log)`` asserts the rules and logs every outcome."""
    import hpopt
    from hpopt import Categorical, Float, Int, TrialFinishedError
    from hpopt.errors import DuplicatedStudyError, StudyNotFoundError
    from hpopt.storage import open_storage

    big = sys.float_info.max

    def studies(spec: Any, log: _Log) -> None:
        """Create, load, list and delete studies; duplicate and unknown names are refused."""
        storage = open_storage(spec)
        s1 = log.call("create", lambda: hpopt.create_study(study_name="s1", storage=storage))
        log.call("create duplicate", lambda: hpopt.create_study(study_name="s1", storage=storage),
                 DuplicatedStudyError)
        log.call("load_if_exists other directions", lambda: hpopt.create_study(
            study_name="s1", storage=storage, direction="maximize", load_if_exists=True), ValueError)
        again = log.call("load_if_exists", lambda: hpopt.create_study(
            study_name="s1", storage=storage, load_if_exists=True))
        _check(again.study_name == "s1" and again.directions == ["minimize"], "load_if_exists lost the study")
        log.call("create multi", lambda: hpopt.create_study(
            study_name="s2", storage=storage, directions=["maximize", "minimize"]))
        s1.set_user_attr("pi", math.pi)
        log.call("load unknown", lambda: hpopt.load_study("nope", storage), StudyNotFoundError)
        other = _reopen(spec, storage)
        log.call("names", lambda: sorted(hpopt.study_names(other)))
        s2 = log.call("load s2", lambda: hpopt.load_study("s2", other))
        log.add("s2 directions", s2.directions)
        log.add("s1 user attrs", _norm(hpopt.load_study("s1", other).user_attrs))
        log.call("delete", lambda: hpopt.delete_study("s1", storage))
        log.call("delete unknown", lambda: hpopt.delete_study("s1", storage), StudyNotFoundError)
        log.call("load deleted", lambda: hpopt.load_study("s1", _reopen(spec, storage)), StudyNotFoundError)
        log.call("names after delete", lambda: hpopt.study_names(_reopen(spec, storage)))
        log.call("recreate", lambda: hpopt.create_study(study_name="s1", storage=storage))

    def full_trial(spec: Any, log: _Log) -> None:
        """ask, suggest of every kind, report, attributes and tell round-trip, also when reopened."""
        storage = open_storage(spec)
        study = hpopt.create_study(study_name="t", storage=storage, sampler="random", seed=0)
        t = study.ask({"s": Float(0.0, 1.0), "c": Categorical([None, True, 2, 0.5, "x"])})
        t.suggest_float("x", -2.0, 2.0)
        t.suggest_float("lx", 1e-3, 1.0, log=True)
        t.suggest_float("qx", 0.0, 1.0, step=0.1)
        t.suggest_int("n", -3, 3)
        t.suggest_int("ln", 1, 100, log=True)
        t.suggest_int("qn", 0, 10, step=5)
        t.suggest_categorical("only", ["one"])
        t.report(0.5, 0)
        t.report(0.25, 3)
        t.set_user_attr("u", {"a": [1, 2.5, None, "s", True]})
        log.call("should_prune", t.should_prune)
        log.call("tell", lambda: study.tell(t, 0.125))
        log.call("record", lambda: study.trials)
        other = hpopt.load_study("t", _reopen(spec, storage))
        _check(_snapshot(other) == _snapshot(study), "a reopened storage does not see the same trials")
        log.call("best", lambda: other.best_trial)
        t2 = study.ask()
        log.call("running visible", lambda: [ft.state.name for ft in
                                             hpopt.load_study("t", _reopen(spec, storage)).trials])
        study.tell(t2, state="fail")
        log.call("states", lambda: [ft.state.name for ft in study.get_trials(states=["fail"])])

    def special_floats(spec: Any, log: _Log) -> None:
        """0, -0.0, ±pi, ±max, ±min, ±inf, nan through values, params, reports and attributes."""
        storage = open_storage(spec)
        study = hpopt.create_study(study_name="f", storage=storage, sampler="random", seed=0)
        multi = hpopt.create_study(study_name="m", storage=storage, directions=["minimize", "maximize"],
                                   sampler="random", seed=0)
        wide = Float(-big, big)
        cats = Categorical([math.pi, -math.pi, big, -big, sys.float_info.min, math.inf, -math.inf, 0.0])
        for i, v in enumerate(SPECIAL_FLOATS):
            label = f"value {v!r}"
            if math.isfinite(v):
                log.call(f"enqueue {v!r}", lambda v=v, i=i: study.enqueue_trial({"w": v, "i": i}))
            else:
                log.call(f"enqueue {v!r}", lambda v=v: study.enqueue_trial({"w": v}), ValueError)
                study.enqueue_trial({"w": 0.5, "i": i})
            t = study.ask()
            w = t.suggest("w", wide)
            t.suggest_int("i", 0, len(SPECIAL_FLOATS))
            c = t.suggest("c", cats)
            t.report(v, 0)
            t.report(-v, 1)
            t.set_user_attr("v", v)
            t.set_user_attr("list", [v, -v])
            _check(type(w) is float and (math.isfinite(v) is False or repr(w) == repr(v)),
                   f"enqueued {v!r} came back as {w!r}")
            log.add(f"cat {i}", _norm(c))
            log.call(label, lambda t=t, v=v: study.tell(t, v))
            mt = multi.ask({"w": wide})
            log.call(f"multi {label}", lambda mt=mt, v=v: multi.tell(mt, [v, -v]))
        best = log.call("best value", lambda: study.best_value)
        _check(best == -math.inf, f"the best of {SPECIAL_FLOATS} minimized is -inf, got {best!r}")
        nan_trial = study.trials[-1]  # nan is the last of SPECIAL_FLOATS
        _check(nan_trial.state.name == "FAIL" and math.isnan(nan_trial.intermediate_values[0]),
               f"tell(nan) must FAIL the trial and its NaN report must be kept, got {nan_trial}")
        log.call("pareto", lambda: [ft.number for ft in multi.best_trials])
        study.set_user_attr("floats", list(SPECIAL_FLOATS))
        other = _reopen(spec, storage)
        log.call("reopened", lambda: hpopt.load_study("f", other).trials)
        log.call("reopened multi", lambda: hpopt.load_study("m", other).trials)
        log.call("study attrs", lambda: hpopt.load_study("f", other).user_attrs)
        _check(_snapshot(hpopt.load_study("f", other)) == _snapshot(study), "reopened trials differ")
        _check(_snapshot(hpopt.load_study("m", other)) == _snapshot(multi), "reopened trials differ")

    def tell_states(spec: Any, log: _Log) -> None:
        """tell in every state: RUNNING, WAITING, finished (same / other outcome), unknown numbers."""
        storage = open_storage(spec)
        study = hpopt.create_study(study_name="tell", storage=storage, sampler="random", seed=0)
        other_study = hpopt.create_study(study_name="other", storage=storage, sampler="random", seed=0)
        for state in ("complete", "pruned", "fail"):
            t = study.ask()
            t.suggest_float("x", 0.0, 1.0)
            if state == "pruned":
                t.report(3.0, 2)
            before = _snapshot(study)
            for bad, err in ((None, TypeError), ("abc", TypeError), ("1.5", TypeError), (True, TypeError),
                             (1j, TypeError), ([1.0, 2.0], ValueError)):
                log.call(f"tell {state} bad {bad!r}", lambda t=t, bad=bad: study.tell(t, bad), err)
            log.call("tell running state", lambda t=t: study.tell(t, 1.0, state="running"), ValueError)
            log.call("tell fail with value", lambda t=t: study.tell(t, 1.0, state="fail"), ValueError)
            log.call("tell trial of another study", lambda t=t: other_study.tell(t, 1.0), ValueError)
            _check(_snapshot(study) == before, f"a refused tell changed the study ({state})")
            value = 1.5 if state == "complete" else None
            log.call(f"tell {state}", lambda t=t, v=value, s=state: study.tell(t, v, state=s))
            log.call(f"tell {state} again (identical)",
                     lambda t=t, v=value, s=state: study.tell(t, v, state=s))
            log.call(f"tell {state} by number",
                     lambda t=t, v=value, s=state: study.tell(t.number, v, state=s))
            log.call(f"tell {state} other value", lambda t=t: study.tell(t, 99.0), TrialFinishedError)
            other = "pruned" if state == "fail" else "fail"
            log.call(f"tell {state} as {other}", lambda t=t, o=other: study.tell(t, state=o),
                     TrialFinishedError)
            log.call(f"tell {state} skip", lambda t=t: study.tell(t, 99.0, skip_if_finished=True))
        number = study.enqueue_trial({"x": 0.5})
        log.call("tell waiting", lambda: study.tell(number, 1.0), ValueError)
        log.call("tell unknown", lambda: study.tell(10_000, 1.0), ValueError)
        log.call("tell negative", lambda: study.tell(-1, 1.0), ValueError)
        log.call("tell bool number", lambda: study.tell(True, 1.0), TypeError)
        t = study.ask()
        log.add("popped enqueued", t.number == number)
        failed = log.call("tell nan", lambda: study.tell(t, math.nan))
        _check(failed.state.name == "FAIL" and bool(failed.system_attrs.get("fail_reason"))
               and "FailedTrialWarning" in log.items[-1][1][2],
               f"tell(t, nan) must FAIL the trial with a reason and a warning, got {failed}")
        log.call("tell after nan", lambda: study.tell(t, 1.0), TrialFinishedError)
        t = study.ask()
        log.call("tell numpy-like by number", lambda: study.tell(t.number, 2.0))
        _check(_snapshot(hpopt.load_study("tell", _reopen(spec, storage))) == _snapshot(study),
               "a reopened storage does not see the same trials")

    def finished_refuse_changes(spec: Any, log: _Log) -> None:
        """A finished trial refuses suggest, report, set_user_attr and another tell; it never changes."""
        storage = open_storage(spec)
        study = hpopt.create_study(study_name="fin", storage=storage, sampler="random", seed=0)
        for state in ("complete", "pruned", "fail"):
            t = study.ask()
            t.suggest_float("x", 0.0, 1.0)
            t.report(1.0, 0)
            t.set_user_attr("a", 1)
            study.tell(t, 0.5 if state == "complete" else None, state=state)
            before = _snapshot(study)
            log.call(f"{state}: suggest new", lambda t=t: t.suggest_float("y", 0.0, 1.0), TrialFinishedError)
            log.call(f"{state}: suggest old", lambda t=t: t.suggest_float("x", 0.0, 1.0), TrialFinishedError)
            log.call(f"{state}: report", lambda t=t: t.report(2.0, 1), TrialFinishedError)
            log.call(f"{state}: user attr", lambda t=t: t.set_user_attr("a", 2), TrialFinishedError)
            log.call(f"{state}: should_prune", lambda t=t: t.should_prune(), TrialFinishedError)
            log.call(f"{state}: tell other", lambda t=t: study.tell(t, 7.0), TrialFinishedError)
            log.call(f"{state}: tell pruned", lambda t=t, s=state: study.tell(
                t, state="fail" if s == "pruned" else "pruned"), TrialFinishedError)
            _check(_snapshot(study) == before, f"a finished ({state}) trial changed")
            reopened = hpopt.load_study("fin", _reopen(spec, storage))
            _check(_snapshot(reopened) == before, f"a reopened storage sees a changed {state} trial")

    def enqueue(spec: Any, log: _Log) -> None:
        """Enqueued trials come first, in order, with their values and attributes; bad ones are refused."""
        storage = open_storage(spec)
        study = hpopt.create_study(study_name="q", storage=storage, sampler="random", seed=0)
        log.call("enqueue 1", lambda: study.enqueue_trial({"x": 0.25, "c": None}, user_attrs={"k": [1]}))
        log.call("enqueue 2", lambda: study.enqueue_trial({"x": 2.0}))
        log.call("enqueue 3", lambda: study.enqueue_trial({"n": 3, "c": True}))
        skipped = log.call("enqueue duplicate skipped",
                           lambda: study.enqueue_trial({"x": 0.25}, skip_if_exists=True))
        _check(skipped is None, f"enqueue_trial(skip_if_exists=True) of a queued trial returned {skipped!r}")
        log.call("enqueue nan", lambda: study.enqueue_trial({"x": math.nan}), ValueError)
        log.call("enqueue not a dict", lambda: study.enqueue_trial([("x", 1.0)]), TypeError)
        log.call("enqueue bad attr", lambda: study.enqueue_trial({"x": 1.0}, user_attrs={"k": {1, 2}}),
                 TypeError)
        log.call("waiting", lambda: study.get_trials(states=["waiting"]))
        t = study.ask()
        log.call("first x", lambda: t.suggest_float("x", 0.0, 1.0))
        log.call("first c", lambda: t.suggest_categorical("c", [None, True, "z"]))
        study.tell(t, 1.0)
        t = study.ask()
        log.call("outside its distribution", lambda: t.suggest_float("x", 0.0, 1.0), ValueError)
        log.call("still running", lambda: t.params)
        study.tell(t, state="fail")
        t = study.ask({"n": Int(0, 5), "c": Categorical([None, True, "z"])})
        log.add("static params", _norm(t.params))
        study.tell(t, 3.0)
        t = study.ask()
        log.add("queue empty: new trial", t.number)
        study.tell(t, state="fail")
        log.call("all", lambda: hpopt.load_study("q", _reopen(spec, storage)).trials)

    def bad_input_writes_nothing(spec: Any, log: _Log) -> None:
        """Refused input (bad distributions, names, attributes, reports) leaves the store unchanged."""
        storage = open_storage(spec)
        study = hpopt.create_study(study_name="bad", storage=storage, sampler="random", seed=0)
        t = study.ask()
        t.suggest_float("x", 0.0, 1.0)
        t.suggest_categorical("c", ["a", "b"])
        t.report(1.0, 0)
        study.tell(t, 1.0)
        t = study.ask()
        bad = [
            ("low > high", lambda: t.suggest_float("y", 2.0, 1.0), ValueError),
            ("inf bound", lambda: t.suggest_float("y", 0.0, math.inf), ValueError),
            ("log low 0", lambda: t.suggest_float("y", 0.0, 1.0, log=True), ValueError),
            ("step 0", lambda: t.suggest_float("y", 0.0, 1.0, step=0.0), ValueError),
            ("step and log", lambda: t.suggest_float("y", 0.1, 1.0, step=0.1, log=True), ValueError),
            ("int non-integral", lambda: t.suggest_int("k", 0.5, 3), TypeError),
            ("int log low 0", lambda: t.suggest_int("k", 0, 3, log=True), ValueError),
            ("empty choices", lambda: t.suggest_categorical("d", []), ValueError),
            ("duplicate choices", lambda: t.suggest_categorical("d", [1, True]), ValueError),
            ("nan choice", lambda: t.suggest_categorical("d", [1.0, math.nan]), ValueError),
            ("object choice", lambda: t.suggest_categorical("d", [object()]), TypeError),
            ("set choices", lambda: t.suggest_categorical("d", {1, 2}), TypeError),
            ("other kind", lambda: t.suggest_int("x", 0, 1), ValueError),
            ("other log", lambda: t.suggest_float("x", 0.1, 1.0, log=True), ValueError),
            ("other choices", lambda: t.suggest_categorical("c", ["a", "b", "c"]), ValueError),
            ("long name", lambda: t.suggest_float("n" * 10_000, 0.0, 1.0), ValueError),
            ("attr not json", lambda: t.set_user_attr("a", object()), TypeError),
            ("attr name type", lambda: t.set_user_attr(3, 1), TypeError),
            ("report str", lambda: t.report("1.0", 1), TypeError),
            ("report bool step", lambda: t.report(1.0, True), TypeError),
            ("report negative step", lambda: t.report(1.0, -1), ValueError),
            ("report float step", lambda: t.report(1.0, 1.5), TypeError),
            ("study attr not json", lambda: study.set_user_attr("a", {1, 2}), TypeError),
        ]
        before = _snapshot(study)
        before_attrs = study.user_attrs
        for label, fn, err in bad:
            log.call(label, fn, err)
        t.report(2.0, 1)
        log.call("same step twice keeps the first", lambda: t.report(3.0, 1))
        log.call("tell", lambda: study.tell(t, 2.0))
        after = _snapshot(study)
        _check(after[:-1] == before[:-1] and study.user_attrs == before_attrs,
               "refused input changed a finished trial or the study")
        _check(dict(study.trials[-1].intermediate_values) == {1: 2.0},
               f"reports after refused input: {dict(study.trials[-1].intermediate_values)}")
        _check(set(study.trials[-1].params) == set(),
               f"refused suggestions were stored: {study.trials[-1].params}")
        _check(_snapshot(hpopt.load_study("bad", _reopen(spec, storage))) == after, "reopened differs")

    return [(f.__name__, f) for f in (studies, full_trial, special_floats, tell_states,
                                      finished_refuse_changes, enqueue, bad_input_writes_nothing)]


def storage_checks(make_storage: StorageFactory) -> list[tuple[str, Check]]:
    """Battery T1 (see RELIABILITY.md) as ``(name, check)`` pairs.

    Each check runs one scenario through the public API on a fresh in-memory storage and on a
    fresh ``make_storage()``, asserts the rules on both, and requires the two to give identical
    results and error types step by step.

    Args:
        make_storage: Returns a fresh storage spec: None, a URL (``"sqlite:///..."``) or a Storage.
            With a URL, a second storage object is opened on it to check that it sees everything.

    Example:
        >>> checks = storage_checks(lambda: None)
        >>> [name for name, _ in checks][:2]
        ['studies', 'full_trial']
    """
    if not callable(make_storage):
        raise TypeError(f"`make_storage` must be callable with no arguments, got {make_storage!r}.")

    def wrap(name: str, scenario: Callable[[Any, _Log], None]) -> Check:
        def check() -> None:
            reference, other = _Log(), _Log()
            scenario(None, reference)
            try:
                scenario(make_storage(), other)
            except AssertionError as exc:
                raise AssertionError(f"on the storage under test: {exc}") from exc
            for i, (a, b) in enumerate(zip(reference.items, other.items)):
                _check(a == b, f"step {i} {a[0]!r}: memory gave {a[1]!r}, the storage gave {b[1]!r}")
            _check(len(reference.items) == len(other.items),
                   f"memory logged {len(reference.items)} steps, the storage {len(other.items)}")

        check.__name__ = name
        check.__doc__ = scenario.__doc__
        return check

    return [(name, wrap(name, scenario)) for name, scenario in _scenarios()]


def check_storage(make_storage: StorageFactory) -> None:
    """Run battery T1 over ``make_storage``; raise :class:`ConformanceError` naming failing checks.

    Example:
        >>> check_storage(lambda: None)  # the in-memory storage against itself
    """
    _run_all(f"storage factory {getattr(make_storage, '__name__', make_storage)!r}",
             storage_checks(make_storage), None)

