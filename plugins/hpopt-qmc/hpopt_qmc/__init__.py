"""hpopt-qmc: a quasi-Monte-Carlo sampler (Sobol, Halton) plugged into hpopt by an entry point.

Example:
    >>> import hpopt
    >>> study = hpopt.create_study(sampler="qmc", seed=0)
    >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=32)
    >>> study.best_value < 0.5
    True
"""

from hpopt_qmc.sampler import QMC_TYPES, QMCSampler

__version__ = "0.1.0"
__all__ = ["QMCSampler", "QMC_TYPES", "__version__"]
