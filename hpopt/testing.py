"""Conformance batteries anyone can run: :func:`check_sampler` and :func:`check_storage`.

In the spirit of scikit-learn's ``check_estimator``: a sampler (built-in or a third-party plugin)
or a storage backend is put through a list of small, cheap, deterministic checks through the public
API only. Each battery is available as a list of ``(name, check)`` pairs, so a test suite can
parametrize over it with readable ids, and as one call that runs them all and raises a
:class:`ConformanceError` (an ``AssertionError``) naming every failing check.

Example:
    >>> import hpopt
    >>> from hpopt.testing import check_sampler, sampler_checks
    >>> def make_random(*, seed):
    ...     return hpopt.make_sampler("random", seed=seed)
    >>> check_sampler(make_random)
    >>> [name for name, _ in sampler_checks(make_random)][:2]
    ['values_in_distributions', 'static_space']

A check that cannot apply to a sampler is declared with a reason, ``{check_name: reason}``; it must
then fail (a declared failure that passes is reported, so declarations stay honest)::

    check_sampler(make_grid, expected_failures={"changed_ranges": "a grid has fixed values"})

The pruner battery lives in :mod:`hpopt.testing_pruners`.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "ConformanceError", "sampler_space", "sampler_checks", "check_sampler", "storage_checks", "check_storage",
    "SPECIAL_FLOATS",
]

Check = Callable[[], None]
SamplerFactory = Callable[..., Any]
StorageFactory = Callable[[], Any]

#: Floats every storage must carry through every field they may go (values, params, reports,
#: attributes): 0, -0.0, ±pi, ±max, ±min (smallest normal), ±inf and nan.
SPECIAL_FLOATS: tuple[float, ...] = (
    0.0, -0.0, math.pi, -math.pi, sys.float_info.max, -sys.float_info.max,
    sys.float_info.min, -sys.float_info.min, math.inf, -math.inf, math.nan,
)


class ConformanceError(AssertionError):
    """One or more conformance checks failed.

    Attributes:
        failures: ``{check_name: message}`` for every failing check (and every declared expected
            failure that passed).
    """

    def __init__(self, subject: str, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        lines = "\n".join(f"  {name}: {msg}" for name, msg in self.failures.items())
        super().__init__(f"{subject} failed {len(self.failures)} conformance check(s): "
                         f"{sorted(self.failures)}\n{lines}")


def _run_all(subject: str, checks: list[tuple[str, Check]], expected: Mapping[str, str] | None) -> None:
    expected = dict(expected or {})
    names = {n for n, _ in checks}
    unknown = sorted(set(expected) - names)
    if unknown:
        raise ValueError(
            f"`expected_failures` names unknown checks {unknown}; the checks are {sorted(names)}."
        )
    for name, reason in expected.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"expected failure {name!r} needs a reason (a non-empty str), got {reason!r}.")
    failures: dict[str, str] = {}
    for name, check in checks:
        try:
            check()
        except Exception as exc:  # noqa: BLE001  (every failure is collected and reported)
            if name not in expected:
                failures[name] = f"{type(exc).__name__}: {exc}"
        else:
            if name in expected:
                failures[name] = f"declared as an expected failure ({expected[name]!r}) but it passed"
    if failures:
        raise ConformanceError(subject, failures)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)


# =================================================================================================
# Samplers
# =================================================================================================

def sampler_space() -> dict[str, Any]:
    """The space most sampler checks use: one parameter of every kind the battery covers.

    Public so that a sampler needing settings (a grid) can be built over it.

    Example:
        >>> sorted(sampler_space())[:3]
        ['float', 'int', 'log_float']
    """
    from hpopt import Categorical, Float, Int

    return {
        "float": Float(-3.0, 5.0),
        "log_float": Float(1e-4, 10.0, log=True),
        "step_float": Float(0.0, 1.0, step=0.1),
        "int": Int(-5, 5),
        "log_int": Int(1, 1000, log=True),
        "step_int": Int(0, 20, step=4),
        "mixed": Categorical([None, False, 3, 2.5, "a"]),
        "single_float": Float(2.0, 2.0),
        "single_int": Int(7, 7),
        "single_cat": Categorical(["only"]),
    }


def _kind_ok(dist: Any, value: Any) -> bool:
    from hpopt import Categorical, Float, Int

    if isinstance(dist, Float):
        return type(value) is float
    if isinstance(dist, Int):
        return type(value) is int
    if isinstance(dist, Categorical):
        return any(type(c) is type(value) and (c == value) for c in dist.choices)
    return False


def _check_params(trial_number: int, params: Mapping[str, Any], space: Mapping[str, Any]) -> None:
    for name, dist in space.items():
        _check(name in params, f"trial {trial_number}: parameter {name!r} is missing from {dict(params)}")
        value = params[name]
        _check(dist.contains(value) and _kind_ok(dist, value),
               f"trial {trial_number}: {name}={value!r} ({type(value).__name__}) is not a value of {dist!r}")


def _objective_value(params: Mapping[str, Any]) -> float:
    """A deterministic objective of any parameters (numbers count, other choices by position)."""
    total = 0.0
    for i, (_, v) in enumerate(sorted(params.items())):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            x = float(v)
        else:
            x = float(len(repr(v)))
        total += (i + 1) * math.sin(x + i) + 0.01 * x * x
    return total


def _suggest_all(trial: Any, space: Mapping[str, Any]) -> dict[str, Any]:
    return {name: trial.suggest(name, dist) for name, dist in space.items()}


def _new_study(make_sampler: SamplerFactory, seed: int = 0, **kwargs: Any) -> Any:
    import hpopt

    return hpopt.create_study(sampler=make_sampler(seed=seed), **kwargs)


def sampler_checks(make_sampler: SamplerFactory) -> list[tuple[str, Check]]:
    """The sampler battery as ``(name, check)`` pairs; each check raises when it fails.

    Args:
        make_sampler: ``make_sampler(seed=...)`` returns a fresh sampler (a plain function, e.g.
            ``lambda *, seed: hpopt.make_sampler("random", seed=seed)``).

    Returns:
        The checks, in a fixed order; each builds its own in-memory studies.

    Example:
        >>> import hpopt
        >>> checks = sampler_checks(lambda *, seed: hpopt.RandomSampler(seed=seed))
        >>> dict(checks)["empty_history"]()
    """
    if not callable(make_sampler):
        raise TypeError(f"`make_sampler` must be callable as make_sampler(seed=...), got {make_sampler!r}.")
    from hpopt import Categorical, Float, Int, TrialState

    def values_in_distributions() -> None:
        """Define-by-run: every kind of distribution gets values inside it, of the right type."""
        study = _new_study(make_sampler)
        space = sampler_space()
        for _ in range(24):
            t = study.ask()
            params = _suggest_all(t, space)
            _check_params(t.number, params, space)
            _check(params == t.params, f"trial {t.number}: suggest returned {params}, params are {t.params}")
            study.tell(t, _objective_value(params))
        for ft in study.trials:
            _check_params(ft.number, ft.params, space)

    def static_space() -> None:
        """``ask(space)`` samples the whole space at once; suggesting a name again returns its value."""
        study = _new_study(make_sampler)
        space = sampler_space()
        for _ in range(24):
            t = study.ask(space)
            _check_params(t.number, t.params, space)
            again = _suggest_all(t, space)
            _check(again == t.params, f"trial {t.number}: suggest after ask(space) gave {again}")
            study.tell(t, _objective_value(t.params))

    def conditional_space() -> None:
        """A categorical decides which other parameters exist; each branch gets valid values."""
        study = _new_study(make_sampler)
        branches = {
            "a": {"x": Float(-1.0, 1.0)},
            "b": {"n": Int(1, 64, log=True), "act": Categorical(["relu", "tanh"])},
            "c": {},
        }
        for _ in range(30):
            t = study.ask()
            kind = t.suggest_categorical("kind", ["a", "b", "c"])
            _check(kind in branches, f"trial {t.number}: kind={kind!r}")
            sub = branches[kind]
            params = _suggest_all(t, sub)
            if kind == "b" and params["act"] == "relu":
                params["dropout"] = t.suggest_float("dropout", 0.0, 0.5)
            _check_params(t.number, params, sub)
            expected = {"kind", *sub} | ({"dropout"} if "dropout" in params else set())
            _check(set(t.params) == expected,
                   f"trial {t.number}: params {sorted(t.params)} but branch {kind!r} has {sorted(expected)}")
            study.tell(t, _objective_value(params))

    def empty_history() -> None:
        """The first trial of a fresh study works, define-by-run and with a static space."""
        space = sampler_space()
        study = _new_study(make_sampler)
        t = study.ask()
        _check_params(t.number, _suggest_all(t, space), space)
        study = _new_study(make_sampler)
        t = study.ask(space)
        _check_params(t.number, t.params, space)

    def fail_and_pruned_history() -> None:
        """FAIL and PRUNED trials (with and without reports) in the history do not break sampling."""
        study = _new_study(make_sampler)
        space = sampler_space()
        for i in range(24):
            t = study.ask()
            params = _suggest_all(t, space)
            _check_params(t.number, params, space)
            if i % 3 == 0:
                study.tell(t, state="fail")
            elif i % 3 == 1:
                if i % 2:
                    t.report(_objective_value(params), 0)
                study.tell(t, state="pruned")
            else:
                study.tell(t, _objective_value(params))

    def only_failed_history() -> None:
        """A history of FAIL trials only (and NaN results, which FAIL) still gives valid values."""
        study = _new_study(make_sampler)
        space = sampler_space()
        for i in range(16):
            t = study.ask() if i % 2 else study.ask(space)
            params = _suggest_all(t, space)
            _check_params(t.number, params, space)
            if i % 4 == 3:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    study.tell(t, math.nan)
            else:
                study.tell(t, state="fail")
        _check(all(ft.state is TrialState.FAIL for ft in study.trials), "every trial should be FAIL")

    def infinite_values_in_history() -> None:
        """COMPLETE trials with ±inf values in the history do not break sampling."""
        study = _new_study(make_sampler)
        space = sampler_space()
        for i in range(20):
            t = study.ask()
            params = _suggest_all(t, space)
            _check_params(t.number, params, space)
            v = _objective_value(params)
            study.tell(t, math.inf if i % 5 == 0 else -math.inf if i % 7 == 0 else v)

    def running_trials_in_history() -> None:
        """Trials still RUNNING (other workers) do not break sampling."""
        study = _new_study(make_sampler)
        space = sampler_space()
        open_trials = []
        for i in range(20):
            t = study.ask() if i % 2 else study.ask(space)
            _check_params(t.number, _suggest_all(t, space), space)
            open_trials.append(t)
            if i % 3 == 2:
                done = open_trials.pop(0)
                study.tell(done, _objective_value(done.params))

    def changed_ranges() -> None:
        """A numeric range that changes between trials: values lie inside the current range."""
        study = _new_study(make_sampler)
        ranges = [(0.0, 1.0), (-10.0, -5.0), (5.0, 100.0), (0.5, 0.5), (-1e6, 1e6)]
        int_ranges = [(0, 3), (10, 20), (-100, -90), (4, 4), (1, 10_000)]
        for i in range(25):
            lo, hi = ranges[i % len(ranges)]
            ilo, ihi = int_ranges[(i // 2) % len(int_ranges)]
            space = {
                "x": Float(lo, hi),
                "lx": Float(max(lo, 1e-3) if lo > 0 else 1e-3, max(hi, 1e-3) + 1.0, log=True),
                "n": Int(ilo, ihi),
                "sx": Float(lo, hi + 1.0, step=0.5),
            }
            t = study.ask() if i % 2 else study.ask(space)
            params = _suggest_all(t, space)
            _check_params(t.number, params, space)
            study.tell(t, _objective_value(params))

    def reproducible_with_seed() -> None:
        """Two studies with the same seed give the same parameters, trial by trial."""
        runs = []
        for _ in range(2):
            study = _new_study(make_sampler, seed=12345)
            space = sampler_space()
            rest = {n: d for n, d in space.items() if n != "float"}
            for i in range(20):
                t = study.ask(space) if i % 4 == 3 else study.ask()
                params = _suggest_all(t, rest)
                if params["mixed"] in (None, "a"):  # "float" exists only on some branches
                    params["float"] = t.suggest("float", space["float"])
                study.tell(t, _objective_value(params))
            runs.append([dict(ft.params) for ft in study.trials])
        for n, (a, b) in enumerate(zip(*runs)):
            _check(a == b and [type(v) for v in a.values()] == [type(v) for v in b.values()],
                   f"trial {n} differs between two studies seeded alike: {a} != {b}")

    def multi_objective() -> None:
        """Several objectives work, or ``create_study`` refuses them with a clear ValueError."""
        import hpopt

        sampler = make_sampler(seed=0)
        try:
            study = hpopt.create_study(sampler=sampler, directions=["minimize", "maximize"])
        except ValueError as exc:
            _check(bool(str(exc)), "the refusal of several objectives has an empty message")
            return
        space = sampler_space()
        for i in range(20):
            t = study.ask() if i % 2 else study.ask(space)
            params = _suggest_all(t, space)
            _check_params(t.number, params, space)
            v = _objective_value(params)
            if i % 6 == 5:
                study.tell(t, state="fail")
            else:
                study.tell(t, [v, -abs(v) + i])
        _check(len(study.best_trials) >= 1,
               "a multi-objective study with COMPLETE trials has no Pareto front")

    def enqueued_trials_respected() -> None:
        """Enqueued values are used as they are, define-by-run and with a static space."""
        study = _new_study(make_sampler)
        space = sampler_space()
        for _ in range(5):
            t = study.ask()
            study.tell(t, _objective_value(_suggest_all(t, space)))
        fixed = {"float": 4.5, "int": -2, "mixed": None, "log_int": 10, "step_float": 0.3}
        study.enqueue_trial(fixed)
        study.enqueue_trial({"mixed": "a", "float": -3.0})
        t = study.ask()
        params = _suggest_all(t, space)
        _check_params(t.number, params, space)
        for k, v in fixed.items():
            _check(params[k] == v, f"enqueued {k}={v!r}, got {params[k]!r}")
        study.tell(t, _objective_value(params))
        t = study.ask(space)
        _check(t.params["mixed"] == "a" and t.params["float"] == -3.0,
               f"enqueued mixed='a', float=-3.0 but ask(space) gave {t.params}")
        _check_params(t.number, t.params, space)
        study.tell(t, 0.0)

    checks = [
        values_in_distributions, static_space, conditional_space, empty_history,
        fail_and_pruned_history, only_failed_history, infinite_values_in_history,
        running_trials_in_history, changed_ranges, reproducible_with_seed, multi_objective,
        enqueued_trials_respected,
    ]
    return [(c.__name__, c) for c in checks]


def check_sampler(
    make_sampler: SamplerFactory, *, expected_failures: Mapping[str, str] | None = None
) -> None:
    """Run every sampler check; raise :class:`ConformanceError` naming the failing ones.

    Args:
        make_sampler: ``make_sampler(seed=...)`` returns a fresh sampler.
        expected_failures: ``{check_name: reason}`` for checks that cannot apply; each must fail.

    Raises:
        ConformanceError: A check failed, or a declared expected failure passed.
        ValueError: ``expected_failures`` names an unknown check or gives no reason.

    Example:
        >>> import hpopt
        >>> check_sampler(lambda *, seed: hpopt.make_sampler("random", seed=seed))
    """
    name = getattr(make_sampler, "__name__", repr(make_sampler))
    _run_all(f"sampler factory {name}", sampler_checks(make_sampler), expected_failures)


# =================================================================================================
# Storages
# =================================================================================================

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
    """A second storage object on the same store when the spec is a URL; else the same object."""
    from hpopt.storage import open_storage

    if isinstance(spec, str):
        return open_storage(spec)
    url = getattr(storage, "url", "")
    if isinstance(url, str) and "://" in url:
        try:
            return open_storage(url)
        except (ValueError, TypeError):
            return storage
    return storage


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
        study = hpopt.create_study(study_name="t", storage=storage, seed=0)
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
        study = hpopt.create_study(study_name="f", storage=storage, seed=0)
        multi = hpopt.create_study(study_name="m", storage=storage, directions=["minimize", "maximize"])
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
        study = hpopt.create_study(study_name="tell", storage=storage, seed=0)
        other_study = hpopt.create_study(study_name="other", storage=storage, seed=0)
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
        study = hpopt.create_study(study_name="fin", storage=storage, seed=0)
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
        study = hpopt.create_study(study_name="q", storage=storage, seed=0)
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
        study = hpopt.create_study(study_name="bad", storage=storage, seed=0)
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

from hpopt.testing_pruners import check_pruner, pruner_checks  # noqa: E402,F401  (issue 7)
