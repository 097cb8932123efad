"""Pruners: the protocol (:mod:`hpopt.pruners.base`) and one module per pruner family.

Registered names (``create_study(pruner="median")``, ``hpopt.make_pruner(name, **settings)``):
``median``, ``percentile``, ``successive_halving``, ``hyperband``, ``threshold``, ``patient``,
``nop``, ``forecast``.
"""

from hpopt.pruners.asha import SuccessiveHalvingPruner
from hpopt.pruners.base import NopPruner, Pruner
from hpopt.pruners.forecast import ForecastPruner
from hpopt.pruners.hyperband import HyperbandPruner
from hpopt.pruners.percentile import MedianPruner, PercentilePruner
from hpopt.pruners.simple import PatientPruner, ThresholdPruner

__all__ = [
    "Pruner", "NopPruner", "MedianPruner", "PercentilePruner", "SuccessiveHalvingPruner",
    "HyperbandPruner", "ThresholdPruner", "PatientPruner", "ForecastPruner",
]
