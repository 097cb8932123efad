"""Fixtures shared by several test files."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture
def quiet_hpopt() -> Iterator[None]:
    """hpopt's logger at WARNING and warnings ignored for one test; both restored after it."""
    logger = logging.getLogger("hpopt")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


@pytest.fixture
def hpopt_at_warning() -> Iterator[None]:
    """hpopt's logger at WARNING for one test (warnings still raised), its level restored after;
    unlike ``hpopt.log.set_verbosity``, this does not mark logging as configured by the user for
    the rest of the session."""
    logger = logging.getLogger("hpopt")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
