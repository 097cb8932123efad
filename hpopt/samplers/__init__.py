"""Samplers: the protocol (:mod:`hpopt.samplers.base`) and one module per sampler family."""

from hpopt.samplers.auto import AutoSampler
from hpopt.samplers.base import History, Sampler, TrialInfo
from hpopt.samplers.cmaes import CmaEsSampler
from hpopt.samplers.de import DESampler
from hpopt.samplers.gp import GPSampler
from hpopt.samplers.gradient import GradientSampler
from hpopt.samplers.grid import GridSampler
from hpopt.samplers.nsga2 import NSGAIISampler
from hpopt.samplers.random import RandomSampler
from hpopt.samplers.tpe import TPESampler

__all__ = [
    "Sampler", "History", "TrialInfo", "RandomSampler", "GridSampler", "TPESampler", "CmaEsSampler",
    "DESampler", "NSGAIISampler", "GPSampler", "GradientSampler", "AutoSampler",
]
