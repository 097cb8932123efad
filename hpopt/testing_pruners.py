"""The pruner conformance battery: :func:`check_pruner` and :func:`pruner_checks`.

Any pruner — built-in or a third-party plugin — should pass it. Each check builds small studies
in memory with a known history, asks the pruner about a running trial and checks the answer's
*properties* (a plain bool, no pruning without reports, the same decisions for a minimized
objective and its negation maximized, the best trial never pruned, NaN no better than the worst
finite value, ...), so it holds for any sensible pruning rule, including one that never prunes.

Example:
    >>> import hpopt
    >>> from hpopt.testing_pruners import check_pruner
    >>> check_pruner(lambda **kw: hpopt.make_pruner("median", **kw),
    ...              invalid_settings=[{"n_startup_trials": -1}])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["check_pruner", "pruner_checks"]

PrunerFactory = Callable[..., Any]

_N_STEPS = 30
_N_HISTORY = 16


def _curve(a: float, b: float, noise: np.ndarray) -> np.ndarray:
    """Power-law learning curve ``a + b / (step + 1)`` plus noise, for steps 0 .. _N_STEPS - 1."""
    return a + b / (np.arange(_N_STEPS) + 1.0) + noise


def _history_curves(seed: int = 0) -> list[tuple[np.ndarray, int | None]]:
    """(curve, pruned_at) for the finished trials of a scenario (None: ran to the end)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(_N_HISTORY):
        c = _curve(rng.uniform(0.3, 1.0), rng.uniform(0.5, 2.0), rng.normal(0, 0.01, _N_STEPS))
        out.append((c, None if i % 4 else int(rng.integers(2, 10))))
    return out


def _study(make_pruner: PrunerFactory, directions: Sequence[str]) -> Any:
    import hpopt

    return hpopt.create_study(directions=list(directions), pruner=make_pruner(), sampler="random", seed=0)


def _fill(study: Any, curves: Iterable[tuple[np.ndarray, int | None]], sign: np.ndarray) -> None:
    """Add finished trials reporting ``sign * curve`` (one column per objective)."""
    for c, pruned_at in curves:
        t = study.ask()
        end = _N_STEPS if pruned_at is None else pruned_at + 1
        for s in range(end):
            t.report(_vals(c[s], sign), s)
        if pruned_at is None:
            study.tell(t, _vals(c[end - 1], sign))
        else:
            study.tell(t, state="pruned")


def _vals(v: float, sign: np.ndarray) -> Any:
    out = [float(v * sg) if not math.isnan(v) else math.nan for sg in sign]
    return out[0] if len(out) == 1 else out


def _decisions(study: Any, values: Sequence[float], sign: np.ndarray, steps: Sequence[int]) -> list:
    """Report ``values`` at ``steps`` from one new trial, asking the pruner after each report."""
    t = study.ask()
    out = []
    for v, s in zip(values, steps):
        t.report(_vals(v, sign), s)
        got = t.should_prune()
        out.append(got)
    study.tell(t, state="pruned")
    return out


def _sign(directions: Sequence[str]) -> np.ndarray:
    return np.array([1.0 if d == "minimize" else -1.0 for d in directions])


def _raw_prune(study: Any, trial: Any) -> Any:
    """The pruner's raw answer (not converted by ``should_prune``)."""
    study._storage.sync()
    return study.pruner.prune(study._history, trial.snapshot())


# -- the checks ---------------------------------------------------------------------------------
def check_returns_plain_bool(make_pruner: PrunerFactory) -> None:
    """``prune`` returns a Python bool (not numpy.bool_, not None), before and after reports."""
    for direction in ("minimize", "maximize"):
        study = _study(make_pruner, [direction])
        sign = _sign([direction])
        _fill(study, _history_curves(1), sign)
        t = study.ask()
        got = _raw_prune(study, t)
        assert type(got) is bool, f"prune() returned {got!r} ({type(got).__name__}), not a bool"
        for s in range(_N_STEPS):
            t.report(_vals(5.0, sign), s)
            got = _raw_prune(study, t)
            assert type(got) is bool, (
                f"prune() returned {got!r} ({type(got).__name__}) at step {s} ({direction}), "
                "not a bool"
            )


def check_never_prunes_without_reports(make_pruner: PrunerFactory) -> None:
    """A trial that has reported nothing is never pruned, whatever the history."""
    for direction in ("minimize", "maximize"):
        study = _study(make_pruner, [direction])
        _fill(study, _history_curves(2), _sign([direction]))
        t = study.ask()
        assert t.should_prune() is False, f"a trial without reports was pruned ({direction})"


def check_direction_symmetry(make_pruner: PrunerFactory) -> None:
    """Minimizing values and maximizing their negation give the same decisions."""
    rng = np.random.default_rng(3)
    probes = [_curve(a, 1.0, rng.normal(0, 0.01, _N_STEPS)) for a in (0.1, 0.6, 1.2, 3.0)]
    results = {}
    for direction in ("minimize", "maximize"):
        study = _study(make_pruner, [direction])
        sign = _sign([direction])
        _fill(study, _history_curves(3), sign)
        results[direction] = [_decisions(study, p, sign, range(_N_STEPS)) for p in probes]
    assert results["minimize"] == results["maximize"], (
        f"decisions differ between minimize and maximize (values negated): {results}"
    )


def check_best_trial_not_pruned(make_pruner: PrunerFactory) -> None:
    """A trial better than every earlier trial at every step, and improving, is never pruned."""
    for direction in ("minimize", "maximize"):
        study = _study(make_pruner, [direction])
        sign = _sign([direction])
        _fill(study, _history_curves(4), sign)
        best = 0.05 + 0.2 / (np.arange(_N_STEPS) + 1.0)
        got = _decisions(study, best, sign, range(_N_STEPS))
        assert not any(got), (
            f"the best, improving trial was pruned at steps {_where(got)} ({direction})"
        )


def check_same_step_reported_twice(make_pruner: PrunerFactory) -> None:
    """A step reported twice keeps the first value: decisions equal those of a single report."""
    for direction in ("minimize", "maximize"):
        sign = _sign([direction])
        outcomes = []
        for twice in (False, True):
            study = _study(make_pruner, [direction])
            _fill(study, _history_curves(5), sign)
            t = study.ask()
            got = []
            for s in range(_N_STEPS):
                t.report(_vals(2.0, sign), s)
                if twice:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        t.report(_vals(-100.0, sign), s)
                got.append(t.should_prune())
            kept = t.snapshot().intermediate_values[0]
            assert kept == _vals(2.0, sign), (
                f"the second report of step 0 replaced the first: {kept!r}"
            )
            outcomes.append(got)
        assert outcomes[0] == outcomes[1], (
            f"reporting a step twice changed the decisions ({direction}): {outcomes}"
        )


def check_non_contiguous_steps(make_pruner: PrunerFactory) -> None:
    """Sparse, irregular steps (also differing between trials) work and decide deterministically."""
    steps = [0, 3, 17, 100, 101, 5000]
    for direction in ("minimize", "maximize"):
        sign = _sign([direction])
        study = _study(make_pruner, [direction])
        rng = np.random.default_rng(6)
        for _ in range(10):
            t = study.ask()
            own = sorted(rng.choice(6000, size=5, replace=False).tolist())
            for s in own:
                t.report(_vals(float(rng.uniform(0, 1)), sign), s)
            study.tell(t, _vals(0.5, sign))
        t = study.ask()
        for s in steps:
            t.report(_vals(0.7, sign), s)
            first = t.should_prune()
            again = t.should_prune()
            assert first is again, f"two calls at step {s} disagree ({first} then {again})"


def check_trials_that_never_report(make_pruner: PrunerFactory) -> None:
    """Finished and running trials without any report in the history cause no error."""
    for direction in ("minimize", "maximize"):
        sign = _sign([direction])
        study = _study(make_pruner, [direction])
        for i in range(8):
            t = study.ask()
            if i % 3 == 0:
                study.tell(t, _vals(0.5, sign))
            elif i % 3 == 1:
                study.tell(t, state="pruned")
            else:
                study.tell(t, state="fail")
        _fill(study, _history_curves(7)[:6], sign)
        silent = study.ask()  # running, never reports
        t = study.ask()
        for s in range(_N_STEPS):
            t.report(_vals(1.0, sign), s)
            assert type(t.should_prune()) is bool
        study.tell(silent, state="fail")


def check_nan_is_worst(make_pruner: PrunerFactory) -> None:
    """A NaN-reporting trial is pruned whenever a trial reporting a huge finite value is; NaN
    reports in the history never get the best trial pruned."""
    for direction in ("minimize", "maximize"):
        sign = _sign([direction])
        study = _study(make_pruner, [direction])
        _fill(study, _history_curves(8), sign)
        bad = _decisions(study, np.full(_N_STEPS, 1e6), sign, range(_N_STEPS))
        study = _study(make_pruner, [direction])
        _fill(study, _history_curves(8), sign)
        nan = _decisions(study, np.full(_N_STEPS, math.nan), sign, range(_N_STEPS))
        worse = [s for s, (b, n) in enumerate(zip(bad, nan)) if b and not n]
        assert not worse, (
            f"NaN reports were kept where 1e6 was pruned, at steps {worse} ({direction})"
        )

        study = _study(make_pruner, [direction])
        curves = _history_curves(9)
        curves = [(np.where(np.arange(_N_STEPS) % 3 == 0, math.nan, c), p) for c, p in curves[:8]]
        _fill(study, curves + _history_curves(9)[8:], sign)
        best = 0.05 + 0.2 / (np.arange(_N_STEPS) + 1.0)
        got = _decisions(study, best, sign, range(_N_STEPS))
        assert not any(got), (
            f"with NaN in the history, the best trial was pruned at {_where(got)} ({direction})"
        )


def check_threads(make_pruner: PrunerFactory) -> None:
    """``optimize(n_jobs=4)`` on one study: every trial ends COMPLETE or PRUNED, none FAIL."""
    import hpopt

    study = hpopt.create_study(pruner=make_pruner(), sampler="random", seed=0)

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        for s in range(12):
            trial.report(x + 1.0 / (s + 1), s)
            if trial.should_prune():
                raise hpopt.TrialPruned()
        return x

    study.optimize(objective, n_trials=40, n_jobs=4)
    states = [t.state.name for t in study.trials]
    assert len(states) == 40, f"expected 40 trials, got {len(states)}"
    assert set(states) <= {"COMPLETE", "PRUNED"}, f"unexpected states with 4 threads: {states}"
    reasons = [t.system_attrs.get("fail_reason") for t in study.trials if t.state.name == "FAIL"]
    assert not reasons, reasons


def check_multi_objective(make_pruner: PrunerFactory) -> None:
    """Several objectives: a bool for each report and the dominating trial kept — or, for a pruner
    declaring ``supports_multi_objective = False``, a ValueError that mentions the objectives."""
    directions = ["minimize", "maximize"]
    sign = _sign(directions)
    study = _study(make_pruner, directions)
    _fill(study, _history_curves(10), sign)
    best = 0.05 + 0.2 / (np.arange(_N_STEPS) + 1.0)
    if not getattr(study.pruner, "supports_multi_objective", True):
        t = study.ask()
        t.report(_vals(best[0], sign), 0)
        try:
            t.should_prune()
        except ValueError as exc:
            assert "objective" in str(exc), f"unclear error for several objectives: {exc}"
            return
        raise AssertionError(
            "a pruner with supports_multi_objective=False did not refuse a 2-objective study"
        )
    got = _decisions(study, best, sign, range(_N_STEPS))
    assert not any(got), f"the dominating trial was pruned at steps {_where(got)}"
    worst = _decisions(study, np.full(_N_STEPS, 9.0), sign, range(_N_STEPS))
    assert all(type(g) is bool for g in worst)


def check_invalid_settings(
    make_pruner: PrunerFactory, invalid_settings: Iterable[Mapping[str, Any]] = ()
) -> None:
    """Each out-of-range setting is refused at construction with an error naming it."""
    for bad in invalid_settings:
        try:
            make_pruner(**bad)
        except (TypeError, ValueError) as exc:
            key = next(iter(bad))
            assert key in str(exc), f"the error for {bad!r} does not name {key!r}: {exc}"
        else:
            raise AssertionError(f"settings {bad!r} were accepted")


def _where(flags: Sequence[bool]) -> list[int]:
    return [i for i, f in enumerate(flags) if f]


def pruner_checks(
    make_pruner: PrunerFactory, *, invalid_settings: Iterable[Mapping[str, Any]] = ()
) -> list[tuple[str, Callable[[], None]]]:
    """The battery as ``(name, check)`` pairs, for ``pytest.mark.parametrize`` with readable ids.

    Args:
        make_pruner: ``make_pruner(**overrides)`` builds a fresh pruner (no overrides: the
            pruner under test with working settings).
        invalid_settings: Settings the pruner must refuse at construction, e.g.
            ``[{"reduction_factor": 1}, {"min_resource": 0}]``; each error must name the first key.
    """
    bad = [dict(b) for b in invalid_settings]
    checks: list[tuple[str, Callable[[PrunerFactory], None]]] = [
        ("returns_plain_bool", check_returns_plain_bool),
        ("never_prunes_without_reports", check_never_prunes_without_reports),
        ("direction_symmetry", check_direction_symmetry),
        ("best_trial_not_pruned", check_best_trial_not_pruned),
        ("same_step_reported_twice", check_same_step_reported_twice),
        ("non_contiguous_steps", check_non_contiguous_steps),
        ("trials_that_never_report", check_trials_that_never_report),
        ("nan_is_worst", check_nan_is_worst),
        ("threads", check_threads),
        ("multi_objective", check_multi_objective),
    ]
    out = [(name, _bind(fn, make_pruner)) for name, fn in checks]
    out.append(("invalid_settings", lambda: check_invalid_settings(make_pruner, bad)))
    return out


def _bind(fn: Callable[[PrunerFactory], None], make_pruner: PrunerFactory) -> Callable[[], None]:
    return lambda: fn(make_pruner)


def check_pruner(
    make_pruner: PrunerFactory, *, invalid_settings: Iterable[Mapping[str, Any]] = ()
) -> None:
    """Run the whole battery; raise AssertionError naming every failed check.

    Args:
        make_pruner: ``make_pruner(**overrides)`` builds a fresh pruner.
        invalid_settings: Settings the pruner must refuse at construction.

    Raises:
        TypeError: ``make_pruner`` is not callable (before any check runs).
        AssertionError: One or more checks failed (all failures listed).
    """
    if not callable(make_pruner):
        raise TypeError(f"`make_pruner` must be callable as make_pruner(**overrides), got {make_pruner!r}.")
    failures = []
    for name, check in pruner_checks(make_pruner, invalid_settings=invalid_settings):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check()
        except Exception as exc:  # noqa: BLE001  (collect every failure)
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    if failures:
        raise AssertionError("pruner conformance failed:\n  " + "\n  ".join(failures))
