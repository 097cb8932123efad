"""The examples in hpopt's docstrings run and print what they say (they are documentation users copy)."""

from __future__ import annotations

import doctest
import importlib
import logging
import pkgutil

import pytest

import hpopt

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(hpopt.__path__, "hpopt.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    logger = logging.getLogger("hpopt")
    level = logger.level
    logger.setLevel(logging.WARNING)  # no per-trial lines (restored below)
    try:
        module = importlib.import_module(name)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    finally:
        logger.setLevel(level)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (see above)"


def test_modules_were_found() -> None:
    assert "hpopt.study" in MODULES and len(MODULES) > 40
