"""Tests of the grid sampler."""

from __future__ import annotations

import threading

import pytest

import hpopt

GRID = {"alpha": [0.1, 1, 10, 100], "solver": ["auto", "svd", "lsqr"]}


def _objective(trial):
    alpha = trial.suggest_categorical("alpha", GRID["alpha"])
    solver = trial.suggest_categorical("solver", GRID["solver"])
    return alpha * (1 + GRID["solver"].index(solver))


def test_optimize_visits_every_point_once_and_stops():
    """optimize() evaluates each grid point exactly once, then stops by itself."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space=GRID))
    study.optimize(_objective, n_trials=100)
    points = [(t.params["alpha"], t.params["solver"]) for t in study.trials]
    assert len(points) == 12 and len(set(points)) == 12
    assert study.best_params == {"alpha": 0.1, "solver": "auto"}


def test_threads_share_the_grid_without_duplicates():
    """Four threads on one study still evaluate each point once."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space=GRID))
    study.optimize(_objective, n_jobs=4)
    points = [(t.params["alpha"], t.params["solver"]) for t in study.trials]
    assert sorted(points) == sorted((a, s) for a in GRID["alpha"] for s in GRID["solver"])


def test_two_processes_worth_of_studies_share_a_sqlite_grid(tmp_path):
    """Two Study objects on one SQLite file (as two workers would be) never take the same point."""
    url = f"sqlite:///{tmp_path}/g.db"
    a = hpopt.create_study(study_name="g", storage=url, sampler=hpopt.make_sampler("grid", search_space=GRID))
    b = hpopt.load_study("g", url, sampler=hpopt.make_sampler("grid", search_space=GRID))
    errors = []

    def run(study):
        try:
            study.optimize(_objective)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    points = [(t.params["alpha"], t.params["solver"]) for t in hpopt.load_study("g", url).trials]
    assert len(points) == 12 and len(set(points)) == 12


def test_ask_after_exhaustion_raises():
    """A manual ask() once every point is taken raises SearchSpaceExhausted and writes nothing."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space={"x": [1, 2]}))
    for _ in range(2):
        t = study.ask()
        study.tell(t, t.suggest_categorical("x", [1, 2]))
    with pytest.raises(hpopt.SearchSpaceExhausted):
        study.ask()
    assert len(study.trials) == 2


def test_enqueued_point_counts_as_taken():
    """An enqueued trial equal to a grid point is not evaluated again by the grid."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space={"x": [1, 2, 3]}))
    study.enqueue_trial({"x": 2})
    study.optimize(lambda t: t.suggest_categorical("x", [1, 2, 3]))
    assert sorted(t.params["x"] for t in study.trials) == [1, 2, 3]


def test_static_space_ask_uses_grid_values():
    """ask(space) takes its values from the grid, checked against the given distributions."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space={"lr": [0.01, 0.1]}))
    t = study.ask({"lr": hpopt.Float(1e-3, 1.0, log=True)})
    assert t.params["lr"] in (0.01, 0.1)


def test_grid_value_outside_the_suggested_range_is_an_error():
    """A grid value that the objective's distribution does not contain is a clear error."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space={"lr": [10.0]}))
    t = study.ask()
    with pytest.raises(ValueError, match="lies outside"):
        t.suggest_float("lr", 0.0, 1.0)


def test_parameter_not_in_grid_is_an_error():
    """Suggesting a name the grid does not define says so."""
    study = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space={"x": [1]}))
    t = study.ask()
    with pytest.raises(ValueError, match="not in the grid"):
        t.suggest_float("y", 0, 1)


@pytest.mark.parametrize(
    "space, error",
    [({}, ValueError), ({"x": []}, ValueError), ({"x": [1, 1.0]}, ValueError), ([("x", [1])], TypeError),
     ({"x": [object()]}, TypeError)],
)
def test_bad_grids_are_refused(space, error):
    """Empty grids, empty or duplicated value lists and odd types are refused at construction."""
    with pytest.raises(error):
        hpopt.make_sampler("grid", search_space=space)


def test_shuffle_is_seeded():
    """shuffle=True visits points in an order fixed by the seed."""
    def order(seed):
        s = hpopt.create_study(sampler=hpopt.make_sampler("grid", search_space=GRID, shuffle=True, seed=seed))
        s.optimize(_objective)
        return [(t.params["alpha"], t.params["solver"]) for t in s.trials]

    assert order(1) == order(1)
    assert order(1) != order(2)
