"""Stored schema versions (T17): a released store stays readable; newer ones are refused clearly."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import hpopt
from hpopt import TrialState

GOLDEN = Path(__file__).parent / "golden" / "schema_v1.db"


def _copy(tmp_path: Path) -> str:
    target = tmp_path / "store.db"
    shutil.copy(GOLDEN, target)
    return f"sqlite:///{target}"


def _set_version(url: str, version: int) -> None:
    conn = sqlite3.connect(url[len("sqlite:///"):])
    conn.execute("UPDATE hpopt_meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.commit()
    conn.close()


def _contents(url: str) -> list:
    study = hpopt.load_study("golden", url)
    return [(t.number, t.state, t.values, dict(t.params), dict(t.intermediate_values), dict(t.user_attrs))
            for t in study.trials]


def test_golden_v1_store_reads_back(tmp_path):
    """The schema-1 store written by hpopt 0.1 opens with every trial, value and attribute."""
    url = _copy(tmp_path)
    study = hpopt.load_study("golden", url)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3 + [TrialState.FAIL, TrialState.COMPLETE,
                                                                     TrialState.WAITING]
    assert trials[4].values == (4.0, -4.0) and trials[4].intermediate_values == {1: (4.0, -4.0)}
    assert trials[2].user_attrs == {"i": 2} and trials[5].params == {}
    assert set(trials[0].params) == {"x", "n", "c"}
    assert study.user_attrs == {"about": "golden store of schema version 1"}
    assert [t.number for t in study.best_trials] == [0]  # (0, -0) dominates (i, -i)


def test_upgrade_of_a_current_store_changes_nothing(tmp_path):
    """`hpopt storage upgrade` on a current store reports it and leaves the contents equal."""
    url = _copy(tmp_path)
    before = _contents(url)
    out = subprocess.run([sys.executable, "-m", "hpopt.cli", "storage", "upgrade", url],
                         capture_output=True, text=True, check=True)
    assert "is current" in out.stdout
    assert _contents(url) == before


def test_newer_store_is_refused_naming_both_versions(tmp_path):
    """A store written by a newer hpopt is refused, naming its version and ours; upgrade refuses too."""
    url = _copy(tmp_path)
    _set_version(url, 2)
    with pytest.raises(hpopt.StorageError, match=r"schema version 2.*1"):
        hpopt.load_study("golden", url)
    out = subprocess.run([sys.executable, "-m", "hpopt.cli", "storage", "upgrade", url],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "newer" in out.stderr and "Traceback" not in out.stderr


def test_older_store_names_the_upgrade_command(tmp_path):
    """A store with an older schema is refused with the command that upgrades it."""
    url = _copy(tmp_path)
    _set_version(url, 0)
    with pytest.raises(hpopt.StorageError, match="hpopt storage upgrade"):
        hpopt.load_study("golden", url)
