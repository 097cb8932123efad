"""The README's Python examples run as printed (with smaller trial budgets, to keep the suite fast).

Blocks that need a cluster, a database server or the user's own training code (``train_one_epoch``,
``train_and_validate``) are skipped; the others run in order in one namespace, as a reader would
paste them.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
#: What only the user's environment provides: a block that names one is not run here.
_ELSEWHERE = ("train_one_epoch", "train_and_validate", ".example")


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_python_examples() -> None:
    assert len(_blocks()) >= 5


def test_readme_examples_run(tmp_path, monkeypatch) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    pytest.importorskip("tqdm")
    pytest.importorskip("lightgbm")
    monkeypatch.chdir(tmp_path)  # ridge.db, history.png
    logger = logging.getLogger("hpopt")
    level = logger.level
    namespace: dict[str, object] = {"__name__": "readme"}
    ran = 0
    try:
        for block in _blocks():
            if any(name in block for name in _ELSEWHERE):
                continue
            code = re.sub(r"n_trials=\d+", "n_trials=3", block)
            exec(compile(code, f"README block {ran}", "exec"), namespace)  # noqa: S102
            ran += 1
    finally:
        logger.setLevel(level)  # a block may silence hpopt's log
    assert ran >= 5  # the main example, ask(space), SearchCV, the inspection and the terminator blocks
    study = namespace["study"]
    assert len(study.trials) >= 3 and study.best_value >= 0  # type: ignore[attr-defined]
    assert Path("history.png").exists()
