"""The study commands of `hpopt`: studies, trials, best, plot, report — run as subprocesses against a
SQLite storage (and in-process for the many error cases), checking output and exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import warnings

import pytest

import hpopt
import hpopt.cli_study  # noqa: F401  (registers the commands for the in-process runs)
from hpopt.cli import main

ENTRY = "import sys; from hpopt.cli import main; sys.exit(main())"  # what the `hpopt` script runs


def hpopt_cmd(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "HPOPT_STORAGE"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", ENTRY, *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=300)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite storage with a single-objective study 's1', a two-objective 'mo' and an empty one."""
    folder = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{folder}/runs.db"
    s1 = hpopt.create_study(study_name="s1", storage=url, seed=0)

    def objective(trial):
        x = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        kind = trial.suggest_categorical("kind", ["<b>tree</b>", "linear"])
        depth = trial.suggest_int("depth", 1, 6) if kind == "linear" else 0
        for step in range(3):
            trial.report(x * (3 - step), step)
        if trial.number in (4, 9):
            raise RuntimeError("diverged")
        return (x - 0.01) ** 2 + 0.1 * depth

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s1.optimize(objective, n_trials=24, catch=(RuntimeError,))
    mo = hpopt.create_study(study_name="mo", storage=url, directions=["minimize", "maximize"], seed=1)
    mo.optimize(lambda t: (t.suggest_float("a", 0, 1), t.suggest_float("b", 0, 1)), n_trials=12)
    hpopt.create_study(study_name="empty", storage=url)
    return {"url": url, "folder": folder, "s1": s1, "mo": mo}


def _one_clean_line(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


# -- subprocess runs ---------------------------------------------------------------------------------
def test_help_lists_the_study_commands():
    out = hpopt_cmd("--help")
    assert out.returncode == 0, out.stderr
    for name in ("studies", "trials", "best", "plot", "report"):
        assert name in out.stdout


def test_help_of_a_command_names_the_environment_variable(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["trials", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "HPOPT_STORAGE" in out and "--state" in out and "--format" in out


def test_studies_table(store):
    out = hpopt_cmd("studies", "--storage", store["url"])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["name", "directions", "trials", "complete", "pruned", "fail", "running",
                                "waiting", "best"]
    s1 = next(line.split() for line in lines if line.startswith("s1 "))
    assert s1[:6] == ["s1", "minimize", "24", "22", "0", "2"]
    assert float(s1[-1]) == pytest.approx(store["s1"].best_value, rel=1e-5)
    assert any(line.startswith("mo ") and "Pareto-optimal" in line for line in lines)
    assert any(line.split()[:3] == ["empty", "minimize", "0"] for line in lines)


def test_trials_csv_with_state_filter_and_env_storage(store):
    out = hpopt_cmd("trials", "--study", "s1", "--format", "csv", "--state", "complete",
                    env={"HPOPT_STORAGE": store["url"]})
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 22 and {r["state"] for r in rows} == {"COMPLETE"}
    assert {"number", "value", "params_lr", "params_kind", "params_depth", "duration"} <= set(rows[0])
    by_number = {t.number: t for t in store["s1"].trials}
    for r in rows:
        t = by_number[int(r["number"])]
        assert float(r["value"]) == t.values[0]  # csv keeps full precision
        assert r["params_kind"] == t.params["kind"]
        stamp = dt.datetime.fromisoformat(r["datetime_start"])  # with its UTC offset: one instant
        assert stamp.utcoffset() is not None and abs(stamp.timestamp() - t.started) < 1e-3


def test_best_json(store):
    out = hpopt_cmd("best", "--storage", store["url"], "--study", "s1", "--format", "json")
    assert out.returncode == 0, out.stderr
    best = json.loads(out.stdout)
    assert best["number"] == store["s1"].best_trial.number
    assert best["value"] == store["s1"].best_value
    assert best["params_lr"] == store["s1"].best_params["lr"]


@pytest.mark.slow
def test_plot_writes_a_png(store):
    pytest.importorskip("matplotlib")
    path = store["folder"] / "history.png"
    out = hpopt_cmd("plot", "history", "--storage", store["url"], "--study", "s1", "-o", str(path))
    assert out.returncode == 0, out.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_writes_a_page(store):
    """The page itself (plots, escaping, rendering in Chromium) is checked in test_report.py."""
    path = store["folder"] / "report.html"
    out = hpopt_cmd("report", "--storage", store["url"], "--study", "s1", "-o", str(path), "--no-plots")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"wrote {path}"
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Parameter importance" in page
    assert "<b>tree</b>" not in page  # escaped
    assert str(store["s1"].best_trial.number) in page


def test_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path):
    out = hpopt_cmd("studies", "--storage", "sqlite:///nothing-here.db", cwd=tmp_path)
    assert out.returncode == 2
    _one_clean_line(out.stderr)
    assert "no SQLite storage" in out.stderr and "nothing-here.db" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_study_lists_the_existing_ones(store, capsys):
    code, out, err = run(capsys, "trials", "--storage", store["url"], "--study", "nope")
    assert code == 2
    _one_clean_line(err)
    assert "'nope'" in err and "'s1'" in err and "'mo'" in err


# -- in-process runs ---------------------------------------------------------------------------------
def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_studies_json_and_empty_storage(store, capsys, tmp_path):
    code, out, _ = run(capsys, "studies", "--storage", store["url"], "--format", "json")
    assert code == 0
    data = {d["name"]: d for d in json.loads(out)}
    assert data["s1"]["complete"] == 22 and data["s1"]["fail"] == 2
    assert data["mo"]["directions"] == "minimize,maximize"
    assert data["empty"]["trials"] == 0 and data["empty"]["best"] is None
    url = f"sqlite:///{tmp_path}/fresh.db"
    hpopt.create_study(study_name="x", storage=url)
    hpopt.delete_study("x", url)
    code, out, _ = run(capsys, "studies", "--storage", url)
    assert code == 0 and "no studies" in out


def test_trials_table_and_json(store, capsys):
    code, out, _ = run(capsys, "trials", "--storage", store["url"], "--study", "s1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["number", "state", "value"]
    assert len(lines) == 2 + 24
    assert "user_attrs_" not in lines[0] and "system_attrs_" not in lines[0]
    code, out, _ = run(capsys, "trials", "--storage", store["url"], "--study", "s1", "--format", "json",
                       "--state", "fail")
    rows = json.loads(out)
    assert [r["number"] for r in rows] == [4, 9] and all(r["value"] is None for r in rows)
    code, out, _ = run(capsys, "trials", "--storage", store["url"], "--study", "empty", "--format", "json")
    assert code == 0 and json.loads(out) == []


def test_best_table_and_pareto_front(store, capsys):
    code, out, _ = run(capsys, "best", "--storage", store["url"], "--study", "s1")
    assert code == 0
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert int(fields["number"]) == store["s1"].best_trial.number
    assert fields["params_kind"] == store["s1"].best_params["kind"]
    code, out, _ = run(capsys, "best", "--storage", store["url"], "--study", "mo", "--format", "json")
    front = json.loads(out)
    assert sorted(r["number"] for r in front) == sorted(t.number for t in store["mo"].best_trials)
    assert {"values_0", "values_1", "params_a", "params_b"} <= set(front[0])


def test_study_may_be_left_out_when_there_is_one(capsys, tmp_path):
    url = f"sqlite:///{tmp_path}/one.db"
    study = hpopt.create_study(study_name="only", storage=url, seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    code, out, _ = run(capsys, "best", "--storage", url, "--format", "json")
    assert code == 0 and json.loads(out)["value"] == study.best_value


def test_plot_with_params_and_target_index(store, capsys):
    pytest.importorskip("matplotlib")
    folder = store["folder"]
    code, out, err = run(capsys, "plot", "contour", "--storage", store["url"], "--study", "s1",
                         "--params", "lr,depth", "-o", str(folder / "c.svg"))
    assert code == 0, err
    assert (folder / "c.svg").read_text().lstrip().startswith("<?xml")
    code, out, err = run(capsys, "plot", "slice", "--storage", store["url"], "--study", "mo",
                         "--target-index", "1", "-o", str(folder / "s.png"))
    assert code == 0, err
    code, out, err = run(capsys, "plot", "pareto", "--storage", store["url"], "--study", "mo",
                         "-o", str(folder / "p.png"))
    assert code == 0, err


@pytest.mark.parametrize("argv, expected", [
    (["plot", "bogus", "-o", "x.png", "--study", "s1"], ["unknown plot kind 'bogus'", "history", "contour"]),
    (["plot", "slice", "-o", "x.png", "--study", "s1", "--params", "lr,nope"],
     ["unknown parameter 'nope'", "lr", "kind"]),
    (["plot", "history", "-o", "x.png", "--study", "empty"], ["no COMPLETE trial"]),
    (["plot", "history", "-o", "x.png", "--study", "mo"], ["--target-index"]),
    (["plot", "history", "-o", "x.png", "--study", "s1", "--target-index", "1"], ["--target-index", "0..0"]),
    (["plot", "pareto", "-o", "x.png", "--study", "s1"], ["2 or 3 objectives"]),
    (["plot", "contour", "-o", "x.png", "--study", "s1"], ["--params A,B"]),
    (["plot", "history", "-o", "x.jpg", "--study", "s1"], [".png or .svg"]),
    (["plot", "history", "-o", "no/such/folder/x.png", "--study", "s1"], ["does not exist"]),
    (["best", "--study", "empty"], ["no COMPLETE trial", "'empty'"]),
    (["report", "--study", "empty", "-o", "r.html"], ["no COMPLETE trial"]),
    (["report", "--study", "s1", "-o", "r.pdf"], [".html"]),
    (["best"], ["3 studies", "--study NAME", "'s1'"]),
    (["trials", "--study", "s1", "--state", "done"], ["--state", "complete"]),
])
def test_user_errors_are_one_line_with_exit_code_2(store, capsys, monkeypatch, tmp_path, argv, expected):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv, "--storage", store["url"])
    assert code == 2
    _one_clean_line(err)
    for text in expected:
        assert text in err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("url, expected", [
    ("not-a-url", "is not a storage URL"),
    ("bogus://somewhere", "no storage handles 'bogus'"),
    ("sqlite:///{tmp}/missing.db", "no SQLite storage"),
    ("sqlite:///{tmp}/garbage.db", "is not an hpopt storage"),
    ("sqlite:///{tmp}", "is a folder"),
])
def test_unopenable_storages(capsys, monkeypatch, tmp_path, url, expected):
    (tmp_path / "garbage.db").write_text("this is not a database\n")
    monkeypatch.delenv("HPOPT_STORAGE", raising=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run(capsys, "studies", "--storage", url.format(tmp=tmp_path))
    assert code == 2
    _one_clean_line(err)
    assert expected in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "garbage.db").read_text() == "this is not a database\n"


def test_no_storage_given(capsys, monkeypatch):
    monkeypatch.delenv("HPOPT_STORAGE", raising=False)
    code, out, err = run(capsys, "studies")
    assert code == 2 and "--storage" in err and "HPOPT_STORAGE" in err


def test_password_is_not_echoed(capsys):
    code, out, err = run(capsys, "studies", "--storage", "nosuchscheme://user:s3cret@host/db")
    assert code == 2 and "s3cret" not in err
