"""The :class:`Problem` a benchmark runs: a search space, an objective and what is known about it.

A problem is a value object: its name, its search space (a static dict of hpopt distributions, or a
define-by-run function for conditional spaces), its noise-free objective, the known optimum and the
point that reaches it, and tags (``continuous``, ``mixed``, ``conditional``, ``noisy``,
``high-dim``, ``multi-objective``, ``curves``) by which suites are selected.

Conventions:

* every problem is minimized;
* ``function(params)`` is the noise-free value; :meth:`Problem.evaluate` adds the observation noise;
* multi-objective problems return a tuple and are measured by the hypervolume of the observed
  front against ``reference_point``; their ``optimum`` is the hypervolume of the true front;
* curve problems yield one value per step (:meth:`Problem.steps`); their final value is the
  objective.

Example:
    >>> import hpopt
    >>> from hpopt.benchmark import Problem
    >>> p = Problem(
    ...     name="bowl", space={"x": hpopt.Float(-1.0, 1.0)},
    ...     function=lambda params: (params["x"] - 0.5) ** 2,
    ...     optimum=0.0, optimizer={"x": 0.5}, tags=frozenset({"continuous"}))
    >>> p.evaluate({"x": 0.5})
    0.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import numpy as np

from hpopt.distributions import Categorical, Distribution, Float, Int
from hpopt.fixed import FixedTrial  # the stand-in trial of params_from_flat (re-exported here)

__all__ = ["Problem", "FixedTrial", "TAGS"]

#: The tags the built-in problems use (plugins may add others).
TAGS = (
    "continuous", "mixed", "conditional", "noisy", "high-dim", "multi-objective", "curves",
)


def _tags(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


@attrs.frozen(eq=False, kw_only=True)
class Problem:
    """A benchmark problem (always minimized).

    Args:
        name: Unique name, e.g. ``"sphere-5d"``.
        space: Name -> distribution for a static space; None when ``define`` is given.
        function: Noise-free objective of a params dict: a float, or a tuple of floats for
            several objectives.
        optimum: The minimum of ``function`` (for several objectives: the hypervolume of the true
            Pareto front), or None when unknown.
        optimizer: Params at which ``function`` equals ``optimum`` (a point on the front for
            several objectives), or None.
        tags: Suite names the problem belongs to.
        define: For conditional spaces: ``define(trial) -> params`` calling ``trial.suggest_*``
            (works with an hpopt or an Optuna trial).
        flat_space: For conditional spaces: the union of every branch's parameters, for libraries
            without define-by-run (values of unused parameters are ignored).
        noise_sd: Standard deviation of the Gaussian observation noise.
        n_objectives: Number of objectives.
        reference_point: Hypervolume reference point (several objectives).
        curve: For learning-curve problems: ``curve(params, rng)`` yields one (noisy) loss per
            step, ``n_steps`` of them; the noise-free final loss is ``function(params)``.
        n_steps: Steps of a curve.
        description: One line for listings.

    Raises:
        ValueError: Inconsistent fields (no space, several objectives without a reference point,
            a curve without ``n_steps``, ...), naming the field.

    Example:
        >>> from hpopt.benchmark import get_problem
        >>> p = get_problem("branin")
        >>> round(p.function(p.optimizer), 6) == round(p.optimum, 6)
        True
    """

    name: str
    space: Mapping[str, Distribution] | None = None
    function: Callable[[Mapping[str, Any]], Any]
    optimum: float | None = None
    optimizer: Mapping[str, Any] | None = None
    tags: frozenset[str] = attrs.field(converter=_tags, factory=frozenset)
    define: Callable[[Any], dict[str, Any]] | None = None
    flat_space: Mapping[str, Distribution] | None = None
    noise_sd: float = 0.0
    n_objectives: int = 1
    reference_point: tuple[float, ...] | None = None
    curve: Callable[[Mapping[str, Any], np.random.Generator], Iterator[float]] | None = None
    n_steps: int | None = None
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty str, but got {self.name!r}.")
        if self.space is None and self.define is None:
            raise ValueError(f"problem {self.name!r}: give `space` or `define`.")
        if self.define is not None and self.flat_space is None:
            raise ValueError(
                f"problem {self.name!r}: a define-by-run problem needs `flat_space` (the union of "
                "its branches) for libraries without define-by-run."
            )
        if self.n_objectives < 1:
            raise ValueError(f"`n_objectives >= 1` must hold, but got {self.n_objectives!r}.")
        if self.n_objectives > 1 and (
            self.reference_point is None or len(self.reference_point) != self.n_objectives
        ):
            raise ValueError(
                f"problem {self.name!r}: `reference_point` needs {self.n_objectives} coordinates, "
                f"but got {self.reference_point!r}."
            )
        if self.curve is not None and (self.n_steps is None or self.n_steps < 1):
            raise ValueError(
                f"problem {self.name!r}: a curve needs `n_steps >= 1`, but got {self.n_steps!r}."
            )
        if self.noise_sd < 0:
            raise ValueError(f"`noise_sd >= 0` must hold, but got {self.noise_sd!r}.")

    def __repr__(self) -> str:
        return f"Problem({self.name!r}, tags={sorted(self.tags)})"

    @property
    def multi_objective(self) -> bool:
        """True when the problem has several objectives (scored by hypervolume)."""
        return self.n_objectives > 1

    @property
    def search_space(self) -> Mapping[str, Distribution]:
        """The static space, or the flat union space of a conditional problem."""
        space = self.space if self.space is not None else self.flat_space
        return space if space is not None else {}  # never empty: __attrs_post_init__ checks

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Draw the params through ``trial.suggest_*`` (an hpopt or Optuna trial)."""
        if self.define is not None:
            return dict(self.define(trial))
        return {name: _suggest(trial, name, dist) for name, dist in self.space.items()}

    def params_from_flat(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """The params a conditional problem uses, read from a value for every flat parameter."""
        if self.define is None:
            return dict(flat)
        return dict(self.define(FixedTrial(flat)))

    def evaluate(self, params: Mapping[str, Any], rng: np.random.Generator | None = None) -> Any:
        """The observed value: ``function(params)`` plus noise drawn from ``rng`` (if noisy)."""
        value = self.function(params)
        if self.noise_sd > 0.0:
            if rng is None:
                rng = np.random.default_rng()
            if self.multi_objective:
                return tuple(float(v) + self.noise_sd * rng.standard_normal() for v in value)
            return float(value) + self.noise_sd * float(rng.standard_normal())
        if self.multi_objective:
            return tuple(float(v) for v in value)
        return float(value)

    def steps(self, params: Mapping[str, Any], rng: np.random.Generator) -> Iterator[float]:
        """The losses of a curve problem, one per step.

        Raises:
            ValueError: The problem has no curve.
        """
        if self.curve is None:
            raise ValueError(f"problem {self.name!r} has no learning curve.")
        return self.curve(params, rng)


def _suggest(trial: Any, name: str, dist: Distribution) -> Any:
    """Suggest through the API both hpopt and Optuna trials share."""
    if isinstance(dist, Float):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, Int):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, Categorical):
        return trial.suggest_categorical(name, list(dist.choices))
    raise TypeError(f"parameter {name!r}: unsupported distribution {dist!r}.")
