"""Regressions from audit 14 (a new user's day): best_trial / best_trials honour constraints_func."""

from __future__ import annotations

import pytest

import hpopt


def _constrained_objective(trial: hpopt.Trial) -> float:
    x = trial.suggest_float("x", -3.0, 3.0)
    trial.set_user_attr("c", [x - 0.5])  # feasible when x <= 0.5
    return (x - 2.0) ** 2  # unconstrained optimum x = 2 is infeasible


def _c(trial: hpopt.FrozenTrial) -> list[float]:
    return trial.user_attrs["c"]


def _study(sampler_name: str, directions: list[str]) -> hpopt.Study:
    sampler = hpopt.make_sampler(sampler_name, seed=0, constraints_func=_c)
    return hpopt.create_study(directions=directions, sampler=sampler)



def test_best_trial_skips_infeasible_trials() -> None:
    study = _study("gp", ["minimize"])
    for x in (2.0, 0.0, 0.4, 1.9):  # enqueued: deterministic history, no model involved
        study.enqueue_trial({"x": x})
    study.optimize(_constrained_objective, n_trials=4)
    best = study.best_trial
    assert best.params["x"] == 0.4
    assert study.best_value == pytest.approx(1.6**2)
    assert study.best_params == {"x": 0.4}


def test_best_trial_no_feasible_trial_raises_clearly() -> None:
    study = _study("gp", ["minimize"])
    study.enqueue_trial({"x": 2.0})
    study.optimize(_constrained_objective, n_trials=1)
    with pytest.raises(ValueError, match="constraints_func"):
        _ = study.best_trial


def test_best_trials_pareto_front_excludes_infeasible() -> None:
    def objective(trial: hpopt.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr("c", [0.3 - x])  # feasible when x >= 0.3
        return x, 1.0 - x  # every trial is Pareto-optimal without constraints

    study = _study("nsga2", ["minimize", "minimize"])
    for x in (0.1, 0.2, 0.5, 0.9):
        study.enqueue_trial({"x": x})
    study.optimize(objective, n_trials=4)
    assert sorted(t.params["x"] for t in study.best_trials) == [0.5, 0.9]


def test_unconstrained_study_unchanged() -> None:
    study = hpopt.create_study(sampler=hpopt.make_sampler("nsga2", seed=0))
    for x in (2.0, 0.0):
        study.enqueue_trial({"x": x})
    study.optimize(_constrained_objective, n_trials=2)
    assert study.best_trial.params["x"] == 2.0


def test_info_line_names_the_best_feasible_trial(caplog: pytest.LogCaptureFixture) -> None:
    study = _study("gp", ["minimize"])
    for x in (0.4, 2.0):
        study.enqueue_trial({"x": x})
    with caplog.at_level("INFO", logger="hpopt"):
        study.optimize(_constrained_objective, n_trials=2)
    last = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Trial 1 ")]
    assert last and "Best is trial 0 " in last[0], last


def test_feasibility_is_computed_once_per_trial() -> None:
    """best_trials after every trial (as the INFO log line does for best_trial) calls
    constraints_func once per trial in all, not once per trial per call: the same run without
    the reads makes the sampler's calls only, and the difference is at most one per trial."""

    def run(read: bool) -> tuple[int, list[hpopt.FrozenTrial]]:
        calls = [0]

        def constraints(t: hpopt.FrozenTrial) -> list[float]:
            calls[0] += 1
            return [t.params["x"] - 0.5]

        study = hpopt.create_study(
            sampler=hpopt.make_sampler("nsga2", seed=0, constraints_func=constraints),
            directions=["minimize", "minimize"],
        )
        for _ in range(12):
            t = study.ask({"x": hpopt.Float(0, 1)})
            study.tell(t, (t.params["x"], 1 - t.params["x"]))
            if read:
                assert all(f.params["x"] <= 0.5 for f in study.best_trials)
        return calls[0], study.best_trials

    with_reads, front = run(True)
    without, _ = run(False)
    assert front and all(t.params["x"] <= 0.5 for t in front)
    assert with_reads - without <= 12
