"""hpopt.export: to_records (flat dicts, one per trial) and to_dataframe (pandas)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import warnings

import pytest

import hpopt
from hpopt.export import json_safe, to_dataframe, to_records


def _study() -> hpopt.Study:
    """Five trials: complete ones with a conditional parameter, one pruned, one failed, one queued."""
    study = hpopt.create_study(seed=0)

    def objective(trial: hpopt.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        if kind == "b":
            trial.suggest_int("depth", 1, 4)
        trial.set_user_attr("note", {"k": [1, 2]})
        trial.report(x / 2, 0)
        trial.report(x, 3)
        if trial.number == 3:
            raise hpopt.TrialPruned()
        if trial.number == 4:
            raise RuntimeError("bad")
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=5, catch=(RuntimeError,))
    study.enqueue_trial({"x": 0.5})
    return study


def test_records_are_flat_rectangular_and_ordered():
    study = _study()
    rows = to_records(study)
    assert [r["number"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3 + ["PRUNED", "FAIL", "WAITING"]
    keys = list(rows[0])
    assert all(list(r) == keys for r in rows)  # every row has the same columns, in one order
    assert keys[:6] == ["number", "state", "value", "datetime_start", "datetime_complete", "duration"]
    params = [k for k in keys if k.startswith("params_")]
    assert params == ["params_depth", "params_kind", "params_x"]  # sorted, union over trials
    trials = study.trials
    for row, t in zip(rows, trials):
        assert row["params_x"] == t.params.get("x")
        assert row["params_depth"] == t.params.get("depth")  # None when the branch was not taken
        assert all(not isinstance(v, dict) or k.startswith(("user_attrs_", "system_attrs_"))
                   for k, v in row.items())
    assert rows[0]["value"] == trials[0].values[0]
    assert rows[4]["value"] is None  # failed
    assert rows[3]["value"] == pytest.approx(rows[3]["params_x"])  # pruned: the last report
    assert isinstance(rows[0]["datetime_start"], dt.datetime)
    assert rows[0]["duration"] == pytest.approx(trials[0].finished - trials[0].started)
    assert rows[5]["datetime_start"] is None and rows[5]["duration"] is None
    assert rows[0]["user_attrs_note"] == {"k": [1, 2]}
    assert rows[4]["system_attrs_fail_reason"] == "RuntimeError: bad"
    assert not any(k.startswith("intermediate_") for k in keys)


def test_states_filter_intermediate_and_system_attrs_switch():
    study = _study()
    rows = to_records(study, states=["complete", hpopt.TrialState.PRUNED], intermediate=True,
                      system_attrs=False)
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3 + ["PRUNED"]
    assert not any(k.startswith("system_attrs_") for k in rows[0])
    assert [k for k in rows[0] if k.startswith("intermediate_")] == ["intermediate_0", "intermediate_3"]
    assert rows[1]["intermediate_3"] == pytest.approx(rows[1]["params_x"])
    assert [r["number"] for r in to_records(study, states="fail")] == [4]


def test_multi_objective_has_one_column_per_value():
    study = hpopt.create_study(directions=["minimize", "maximize"], seed=1)
    study.optimize(lambda t: (t.suggest_float("a", 0, 1), 2.0), n_trials=3)
    rows = to_records(study)
    assert "value" not in rows[0]
    assert [r["values_1"] for r in rows] == [2.0, 2.0, 2.0]
    assert rows[2]["values_0"] == rows[2]["params_a"]


def test_empty_study_and_bad_input():
    study = hpopt.create_study()
    assert to_records(study) == []
    with pytest.raises(ValueError, match="state"):
        to_records(study, states=["finished"])
    with pytest.raises(TypeError, match="intermediate"):
        to_records(study, intermediate="yes")
    frame = to_dataframe(study)
    assert len(frame) == 0
    assert list(frame.columns) == ["number", "state", "value", "datetime_start", "datetime_complete",
                                   "duration"]


def test_dataframe_matches_records():
    pd = pytest.importorskip("pandas")
    study = _study()
    frame = to_dataframe(study)
    rows = to_records(study)
    assert list(frame.columns) == list(rows[0])
    assert len(frame) == 6
    assert frame["number"].tolist() == list(range(6))
    assert pd.api.types.is_datetime64_any_dtype(frame["datetime_start"])
    assert frame["value"].iloc[0] == rows[0]["value"]
    assert pd.isna(frame["value"].iloc[4])
    sub = to_dataframe(study, states=["complete"])
    assert sub["state"].tolist() == ["COMPLETE"] * 3


def test_dataframe_without_pandas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"hpopt\[dataframe\]"):
        to_dataframe(hpopt.create_study())


def test_json_safe_makes_records_serializable():
    rows = to_records(_study(), intermediate=True)
    text = json.dumps(json_safe(rows), allow_nan=False)
    back = json.loads(text)
    # ISO 8601 with the UTC offset: the same instant wherever it is read
    stamp = dt.datetime.fromisoformat(back[0]["datetime_start"])
    assert stamp.utcoffset() is not None
    assert stamp.timestamp() == rows[0]["datetime_start"].timestamp()
    assert stamp.replace(tzinfo=None) == rows[0]["datetime_start"]
    assert json_safe([float("nan"), float("inf"), -float("inf")]) == ["nan", "inf", "-inf"]


def test_study_methods_delegate():
    study = _study()
    assert study.to_records(states=["complete"]) == to_records(study, states=["complete"])
    pytest.importorskip("pandas")
    assert study.to_dataframe(intermediate=True).shape == to_dataframe(study, intermediate=True).shape
