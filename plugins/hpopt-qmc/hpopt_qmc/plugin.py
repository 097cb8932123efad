"""The module the ``hpopt`` entry point names: it implements hpopt's plugin hooks.

hpopt loads it at the first registry lookup and calls :func:`hpopt_samplers`; the names it returns
become valid for ``hpopt.create_study(sampler="qmc")`` and ``hpopt.make_sampler("qmc", ...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hpopt


@hpopt.hookimpl
def hpopt_samplers() -> dict[str, Callable[..., Any]]:
    """Offer the QMC sampler as ``"qmc"``; its settings are ``QMCSampler``'s arguments."""
    from hpopt_qmc.sampler import QMCSampler  # imported on use: discovery stays cheap

    return {"qmc": QMCSampler}
