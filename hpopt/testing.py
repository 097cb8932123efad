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

The storage battery (T1) lives in :mod:`hpopt.testing_storage` and the pruner battery in
:mod:`hpopt.testing_pruners`; both are re-exported here.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from hpopt._conformance import (
    SPECIAL_FLOATS,
    Check,
    ConformanceError,
    SamplerFactory,
)
from hpopt._conformance import check as _check
from hpopt._conformance import run_all as _run_all
from hpopt.testing_pruners import check_pruner, pruner_checks
from hpopt.testing_storage import check_storage, storage_checks

__all__ = [
    "ConformanceError", "sampler_space", "sampler_checks", "check_sampler", "storage_checks", "check_storage",
    "check_pruner", "pruner_checks", "SPECIAL_FLOATS",
]

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


def _deep_record(ft: Any) -> str:
    """A trial as text, nested attribute values included: a copy no later mutation reaches."""
    import json

    return json.dumps([
        ft.number, ft.state.name, ft.values, {k: repr(v) for k, v in ft.params.items()},
        dict(ft.user_attrs), dict(ft.system_attrs), {str(k): v for k, v in ft.intermediate_values.items()},
    ], sort_keys=True, default=repr)


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

    def extreme_ranges() -> None:
        """Ranges as wide as floats allow (``hi - lo`` overflows) or tiny: values stay inside."""
        study = _new_study(make_sampler)
        big = sys.float_info.max
        space = {
            "wide": Float(-big, big),
            "tiny": Float(1.0, 1.0 + 1e-12),
            "far": Float(1e300, 1e301, log=True),
            "x": Float(0.0, 1.0),
        }
        for i in range(20):
            t = study.ask() if i % 2 else study.ask(space)
            params = _suggest_all(t, space)
            _check_params(t.number, params, space)
            study.tell(t, math.tanh(params["wide"] / 1e307) ** 2 + params["x"])

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

    def history_not_mutated() -> None:
        """Sampling leaves the history as it was: no finished or running trial changes, nested
        attribute values included (samplers get a read-only view; what they change in it would
        differ from the stored trials)."""
        study = _new_study(make_sampler)
        space = sampler_space()
        kept_open = None
        for i in range(12):
            before = [_deep_record(ft) for ft in study.trials]
            t = study.ask(space) if i % 2 else study.ask()
            params = _suggest_all(t, space)
            after = [_deep_record(ft) for ft in study.trials[: len(before)]]
            changed = [n for n, (a, b) in enumerate(zip(before, after)) if a != b]
            if changed:
                raise AssertionError(f"sampling trial {t.number} changed trials {changed}; trial "
                                     f"{changed[0]} was {before[changed[0]][:300]} and is now "
                                     f"{after[changed[0]][:300]}")
            t.set_user_attr("nested", {"list": [i, [i, "x"]], "map": {"k": i}})
            t.report(_objective_value(params), 0)
            if kept_open is None and i == 3:
                kept_open = t  # stays RUNNING while later trials are sampled
                continue
            study.tell(t, _objective_value(params))
        if kept_open is not None:
            study.tell(kept_open, 0.0)

    def seed_changes_values() -> None:
        """Two studies seeded differently do not propose the same parameters trial after trial (a
        sampler that accepts ``seed`` and ignores it would pass ``reproducible_with_seed``)."""
        runs = []
        for seed in (1, 2):
            study = _new_study(make_sampler, seed=seed)
            space = sampler_space()
            for i in range(8):
                t = study.ask(space) if i % 2 else study.ask()
                params = _suggest_all(t, space)
                study.tell(t, _objective_value(params))
            runs.append([dict(ft.params) for ft in study.trials])
        _check(runs[0] != runs[1],
               f"seeds 1 and 2 gave the same parameters in all {len(runs[0])} trials: the seed is ignored")

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
        running_trials_in_history, history_not_mutated, changed_ranges, extreme_ranges,
        reproducible_with_seed, seed_changes_values, multi_objective, enqueued_trials_respected,
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

