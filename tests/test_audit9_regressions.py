"""Regression tests of audit 9 (export, HTML report, study CLI commands).

Each test failed before its fix: control characters in CLI tables, output paths that are folders,
the report's temporary file, a "-o .png" name, a non-iterable ``states``, the report and the
parallel-coordinates plot without matplotlib.
"""

from __future__ import annotations

import os
import sys

import pytest

import hpopt
import hpopt.cli_study  # noqa: F401  (registers the study commands)
from hpopt.cli import main
from hpopt.export import to_records
from hpopt.report import render_report, write_report


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _small_study(storage=None, name="s") -> hpopt.Study:
    study = hpopt.create_study(study_name=name, storage=storage, sampler="random", seed=0)
    for i in range(4):
        t = study.ask({"x": hpopt.Float(0, 1)})
        study.tell(t, float(t.params["x"]) + i)
    return study


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path}/runs.db"
    _small_study(url, "s")
    return url


def test_table_escapes_newlines_and_terminal_escapes(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/ctl.db"
    study = hpopt.create_study(study_name="evil\x1b[31m\nname", storage=url, sampler="random", seed=0)
    for _ in range(2):
        t = study.ask({"p\nq": hpopt.Float(0, 1)})
        t.set_user_attr("a", "x\x1b]0;title\x07y\nz")
        study.tell(t, 1.0)
    for argv in (["trials", "--attrs"], ["studies"], ["best"]):
        code, out, err = _run(capsys, *argv, "--storage", url)
        assert code == 0, err
        assert "\x1b" not in out and "\x07" not in out
        lines = out.rstrip("\n").split("\n")
        expected = {"trials": 4, "studies": 3, "best": None}[argv[0]]
        if expected is not None:
            assert len(lines) == expected, out  # header, rule, one line per row
    code, out, _ = _run(capsys, "trials", "--storage", url, "--attrs")
    assert "p\\nq" in out and "\\x1b" in out


def _files(folder) -> list[str]:
    """Names in ``folder`` apart from the SQLite storage and its -wal/-shm companions."""
    return sorted(n for n in os.listdir(folder) if not n.startswith("runs.db"))


def test_report_to_a_folder_is_refused_and_leaves_nothing(store, tmp_path, capsys):
    folder = tmp_path / "out.html"
    folder.mkdir()
    before = _files(tmp_path)
    code, out, err = _run(capsys, "report", "--storage", store, "-o", str(folder), "--no-plots")
    assert code == 2
    assert "is a folder" in err and "Traceback" not in err
    assert _files(tmp_path) == before
    with pytest.raises(ValueError, match="is a folder"):
        write_report(_small_study(), folder, plots=False)
    assert _files(tmp_path) == before


def test_plot_to_a_folder_or_to_a_bare_suffix_is_refused_before_drawing(store, tmp_path, capsys,
                                                                        monkeypatch):
    folder = tmp_path / "out.png"
    folder.mkdir()
    code, out, err = _run(capsys, "plot", "history", "--storage", store, "-o", str(folder))
    assert code == 2 and "is a folder" in err
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "plot", "history", "--storage", store, "-o", ".png")
    assert code == 2 and "the output file must end with .png or .svg" in err
    assert not (tmp_path / ".png").exists()


def test_write_report_failure_leaves_no_temporary_file(tmp_path, monkeypatch):
    study = _small_study()

    def refuse(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="simulated"):
        write_report(study, tmp_path / "r.html", plots=False)
    assert os.listdir(tmp_path) == []


def test_write_report_keeps_a_users_tmp_file(tmp_path):
    mine = tmp_path / "r.html.tmp"
    mine.write_text("my notes\n")
    write_report(_small_study(), tmp_path / "r.html", plots=False)
    assert mine.read_text() == "my notes\n"
    assert sorted(os.listdir(tmp_path)) == ["r.html", "r.html.tmp"]


def test_to_records_names_states_when_not_iterable():
    with pytest.raises(TypeError, match="`states`"):
        to_records(_small_study(), states=123)


def _block_matplotlib(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_report_without_matplotlib_says_so_once(monkeypatch):
    study = _small_study()
    _block_matplotlib(monkeypatch)
    page, notes = render_report(study, plots=True)
    plot_notes = [n for n in notes if "not drawn" in n or "plots are unavailable" in n]
    assert len(plot_notes) == 1 and "plots are unavailable" in plot_notes[0], notes
    assert "hpopt[plot]" in plot_notes[0]


def test_parallel_plot_without_matplotlib_names_the_extra(monkeypatch):
    from hpopt.plot import plot_parallel_coordinate

    study = _small_study()
    _block_matplotlib(monkeypatch)
    with pytest.raises(ImportError, match=r"hpopt\[plot\]"):
        plot_parallel_coordinate(study)


@pytest.fixture
def mo_store(tmp_path):
    url = f"sqlite:///{tmp_path}/mo.db"
    study = hpopt.create_study(study_name="mo", storage=url, directions=["minimize", "maximize"],
                               sampler="random", seed=0)
    for i in range(4):
        t = study.ask({"x": hpopt.Float(0, 1)})
        t.report((0.5, 0.5), 0)
        study.tell(t, (float(t.params["x"]), float(i)))
    return url


def test_plot_intermediate_of_a_multi_objective_study_asks_for_the_cli_option(mo_store, tmp_path, capsys):
    code, out, err = _run(capsys, "plot", "intermediate", "--storage", mo_store,
                          "-o", str(tmp_path / "i.png"))
    assert code == 2
    assert "--target-index 0..1" in err and "objective=" not in err, err


def test_plot_history_gets_the_direction_of_the_chosen_objective(mo_store, tmp_path, capsys, monkeypatch):
    import hpopt.plot as plot

    seen: dict = {}

    class FakeFigure:
        def savefig(self, path, format=None, **kwargs):  # noqa: A002  (matplotlib's name)
            with open(path, "wb") as f:
                f.write(b"fake")

    def history(study, *, target=None, target_name="Objective value", direction=None, log_y=False):
        seen.update(direction=direction, value=target(study.trials[3]))
        return FakeFigure()

    monkeypatch.setitem(plot.PLOTS, "history", history)
    code, out, err = _run(capsys, "plot", "history", "--storage", mo_store, "--target-index", "1",
                          "-o", str(tmp_path / "h.png"))
    assert code == 0, err
    assert seen == {"direction": "maximize", "value": 3.0}


def test_internal_error_is_one_line(store, capsys, monkeypatch):
    import hpopt.report

    def boom(*args, **kwargs):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(hpopt.report, "study_summary", boom)
    code, out, err = _run(capsys, "studies", "--storage", store)
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "first line second line" in err, err


def test_negative_seed_is_refused_before_anything_is_written(store, tmp_path, capsys):
    before = _files(tmp_path)
    code, out, err = _run(capsys, "report", "--storage", store, "-o", str(tmp_path / "r.html"),
                          "--seed", "-1", "--no-plots")
    assert code == 2 and "--seed" in err and ">= 0" in err, err
    assert _files(tmp_path) == before
    with pytest.raises(ValueError, match="`seed`"):
        render_report(_small_study(), plots=False, seed=-1)
    with pytest.raises(ValueError, match="`seed`"):
        write_report(_small_study(), tmp_path / "r.html", plots=False, seed=-1)
    assert _files(tmp_path) == before
