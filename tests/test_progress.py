"""The progress bar of optimize(show_progress_bar=True) (hpopt.progress) and the logging setup
(hpopt.log)."""

from __future__ import annotations

import inspect
import io
import logging
import subprocess
import sys
import textwrap

import pytest

import hpopt
import hpopt.log as hlog
from hpopt.progress import ProgressBar, active_write

pytest.importorskip("tqdm")


@pytest.fixture(autouse=True)
def _fresh_logging():
    """Every test starts and ends with hpopt's logger untouched and no choice recorded."""
    logger = logging.getLogger("hpopt")
    level, propagate, handlers = logger.level, logger.propagate, list(logger.handlers)
    hlog.disable_default_handler()
    hlog._chosen = False
    yield
    hlog.disable_default_handler()
    hlog._chosen = False
    logger.setLevel(level)
    logger.propagate = propagate
    logger.handlers[:] = handlers


def _x(trial: hpopt.Trial) -> float:
    return (trial.suggest_float("x", -1, 1) - 0.25) ** 2


def test_trial_bar_counts_trials_and_shows_best_value():
    study = hpopt.create_study(sampler="random", seed=0)
    out = io.StringIO()
    bar = ProgressBar(study, n_trials=12, timeout=None, file=out)
    study.optimize(_x, n_trials=12, callbacks=[bar.update])
    bar.close()
    bar.close()  # idempotent
    text = out.getvalue()
    assert bar.n_done == 12
    assert "12/12" in text
    assert f"best={study.best_value:.6g}" in text


def test_bar_starts_from_the_studys_best_and_counts_threads():
    study = hpopt.create_study(sampler="random", seed=1)
    study.optimize(_x, n_trials=5)
    before = study.best_value
    out = io.StringIO()
    bar = ProgressBar(study, n_trials=20, timeout=None, file=out)
    assert bar._best == before
    study.optimize(_x, n_trials=20, n_jobs=2, callbacks=[bar.update])
    bar.close()
    assert bar.n_done == 20
    assert bar._best == study.best_value  # never worse than the best before this call
    assert "20/20" in out.getvalue()


def test_timeout_only_bar_counts_seconds():
    study = hpopt.create_study(sampler="random", seed=2)
    out = io.StringIO()
    bar = ProgressBar(study, n_trials=None, timeout=30.0, file=out)
    study.optimize(_x, n_trials=3, callbacks=[bar.update])
    bar.close()
    text = out.getvalue()
    assert "/30.0 s" in text and "best=" in text
    assert bar.n_done == 3


def test_multi_objective_bar_counts_complete_trials():
    study = hpopt.create_study(sampler="random", directions=["minimize", "maximize"], seed=3)
    out = io.StringIO()
    with ProgressBar(study, n_trials=4, timeout=None, file=out) as bar:
        study.optimize(lambda t: (t.suggest_float("a", 0, 1), 1.0), n_trials=4, callbacks=[bar.update])
    assert "complete=4" in out.getvalue()


def test_log_lines_go_above_an_active_bar():
    study = hpopt.create_study(sampler="random", seed=4)
    out = io.StringIO()
    assert active_write() is None
    with ProgressBar(study, n_trials=1, timeout=None, file=out):
        writer = active_write()
        assert writer is not None
        writer("hello from a log line")
    assert active_write() is None
    assert "hello from a log line" in out.getvalue()


def test_missing_tqdm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"hpopt\[progress\]"):
        ProgressBar(hpopt.create_study(), n_trials=1, timeout=None)


# -- optimize(show_progress_bar=...) ------------------------------------------------------------------
def test_optimize_draws_the_bar_on_stderr(capsys):
    assert "show_progress_bar" in inspect.signature(hpopt.Study.optimize).parameters
    study = hpopt.create_study(sampler="random", seed=5)
    study.optimize(_x, n_trials=7, show_progress_bar=True)
    err = capsys.readouterr().err
    assert "7/7" in err and "best=" in err


def test_optimize_with_executor_draws_the_bar(capsys):
    from concurrent.futures import ThreadPoolExecutor

    study = hpopt.create_study(sampler="random", seed=6)
    with ThreadPoolExecutor(2) as pool:
        study.optimize(_x, n_trials=6, executor=pool, n_jobs=2, show_progress_bar=True)
    assert "6/6" in capsys.readouterr().err
    assert len(study.trials) == 6


def test_optimize_refuses_a_bad_flag_and_missing_tqdm_before_any_trial(monkeypatch):
    study = hpopt.create_study()
    with pytest.raises(TypeError, match="show_progress_bar"):
        study.optimize(_x, n_trials=1, show_progress_bar="yes")
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"hpopt\[progress\]"):
        study.optimize(_x, n_trials=1, show_progress_bar=True)
    assert study.trials == []


# -- logging --------------------------------------------------------------------------------------------
def test_default_handler_prints_one_line_per_trial_and_can_be_silenced():
    study = hpopt.create_study(sampler="random", seed=7)
    out = io.StringIO()
    hlog.enable_default_handler(out)
    study.optimize(_x, n_trials=3)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert all("INFO" in line and "Trial" in line and "Best is trial" in line for line in lines)
    hlog.set_verbosity("WARNING")
    study.optimize(_x, n_trials=2)
    assert len(out.getvalue().splitlines()) == 3
    hlog.set_verbosity(logging.INFO)
    study.optimize(_x, n_trials=1)
    assert len(out.getvalue().splitlines()) == 4
    hlog.disable_default_handler()
    assert logging.getLogger("hpopt").propagate is True
    study.optimize(_x, n_trials=1)
    assert len(out.getvalue().splitlines()) == 4


def test_auto_handler_only_when_logging_is_unconfigured(monkeypatch, capsys):
    # a fresh process's state (another test module's set_verbosity marks logging as chosen)
    monkeypatch.setattr(hlog, "_chosen", False)
    monkeypatch.setattr(hlog, "_handler", None)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [logging.NullHandler()])
    hlog.auto_default_handler()  # the program configured logging: hands off
    assert hlog._handler is None
    monkeypatch.setattr(root, "handlers", [])
    hlog.auto_default_handler()
    assert hlog._handler is not None
    logging.getLogger("hpopt").info("visible")
    assert "visible" in capsys.readouterr().err
    hlog.disable_default_handler()
    hlog.auto_default_handler()  # the user chose: never again
    assert hlog._handler is None


def test_bad_verbosity_names_the_rule():
    with pytest.raises(ValueError, match="logging level"):
        hlog.set_verbosity("LOUD")
    with pytest.raises(TypeError, match="level"):
        hlog.set_verbosity(True)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_a_plain_script_prints_trial_lines_and_can_silence_them():
    """Like Optuna: a script that configured no logging sees one INFO line per trial on stderr;
    set_verbosity("WARNING") silences them; a script with its own logging setup is left alone."""
    body = """
        import hpopt, hpopt.log
        study = hpopt.create_study(sampler="random", seed=0)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
        hpopt.log.set_verbosity("WARNING")
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    """
    out = _run(body)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("Trial ") == 4 and "INFO" in out.stderr
    own = _run("import logging\nlogging.basicConfig(level=logging.WARNING)\n" + textwrap.dedent(body))
    assert own.returncode == 0 and "Trial " not in own.stderr, own.stderr


def test_bar_best_skips_trials_that_violate_their_stored_constraints():
    """The bar's best is the study's best feasible value, not an infeasible trial's."""
    sampler = hpopt.make_sampler("gp", seed=0, n_startup_trials=3,
                                 constraints_func=lambda t: [0.1 - t.params["x"]])  # feasible: x >= 0.1
    study = hpopt.create_study(sampler=sampler)
    out = io.StringIO()
    bar = ProgressBar(study, n_trials=12, timeout=None, file=out)
    study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=12, callbacks=[bar.update])
    bar.close()
    infeasible = [t for t in study.trials if t.params["x"] < 0.1]
    assert infeasible and min(t.values[0] for t in infeasible) < study.best_value  # the case matters
    assert bar._best == study.best_value
