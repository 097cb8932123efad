"""Samplers: the protocol (:mod:`hpopt.samplers.base`) and one module per sampler family."""

from hpopt.samplers.base import History, Sampler, TrialInfo
from hpopt.samplers.grid import GridSampler
from hpopt.samplers.random import RandomSampler

__all__ = ["Sampler", "History", "TrialInfo", "RandomSampler", "GridSampler"]
