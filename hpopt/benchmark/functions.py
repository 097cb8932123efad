"""Classic continuous test functions, with an optional seeded shift and rotation.

Each function takes a 1-D numpy array and returns a float. Formulas, domains and optima follow the
Virtual Library of Simulation Experiments (Surjanovic & Bingham, sfu.ca/~ssurjano); the Hartmann
minimizers were polished to machine precision with scipy, so the stated optimum is the value at the
stated minimizer.

A function whose optimum sits at (or next to) the centre of its box would hand a free win to any
sampler biased towards the centre. :func:`continuous_problem` with ``shift_seed`` moves the
minimizer to a random point of the inner 80% of the box: ``g(x) = f(x_opt + R (x - c))`` with ``c``
the new minimizer and ``R`` a random rotation (``rotate=True``) or the identity. The functions
shifted this way are defined and have the same global minimum on all of R^d, so ``g`` keeps the
stated optimum.

Example:
    >>> from hpopt.benchmark.functions import continuous_problem
    >>> p = continuous_problem("rastrigin", 5, shift_seed=0)
    >>> abs(p.function(p.optimizer) - p.optimum) < 1e-9
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from hpopt.benchmark.problem import Problem
from hpopt.distributions import Float

__all__ = ["FUNCTIONS", "FunctionSpec", "continuous_problem", "SCALABLE_DIMS"]

#: Dimensions at which scalable functions are registered.
SCALABLE_DIMS = (2, 5, 10, 20)
# Share of the box (per side) kept free when a shifted minimizer is drawn.
_SHIFT_MARGIN = 0.1


def sphere(x: np.ndarray) -> float:
    """Sum of squares; minimum 0 at 0."""
    return float(np.dot(x, x))


def rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock's valley; minimum 0 at (1, ..., 1)."""
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def ackley(x: np.ndarray) -> float:
    """Ackley (a=20, b=0.2, c=2 pi); minimum 0 at 0."""
    d = x.size
    s1 = math.sqrt(float(np.dot(x, x)) / d)
    s2 = float(np.sum(np.cos(2.0 * math.pi * x))) / d
    # max(0, .) removes the -4e-16 that rounding leaves at the minimizer
    return max(0.0, -20.0 * math.exp(-0.2 * s1) - math.exp(s2) + 20.0 + math.e)


def rastrigin(x: np.ndarray) -> float:
    """Rastrigin; minimum 0 at 0."""
    return float(10.0 * x.size + np.sum(x * x - 10.0 * np.cos(2.0 * math.pi * x)))


def griewank(x: np.ndarray) -> float:
    """Griewank; minimum 0 at 0."""
    i = np.arange(1, x.size + 1)
    return float(np.dot(x, x) / 4000.0 - np.prod(np.cos(x / np.sqrt(i))) + 1.0)


def styblinski_tang(x: np.ndarray) -> float:
    """Styblinski-Tang; minimum -39.16616570377141 * d at x_i = -2.9035340277711783."""
    return float(0.5 * np.sum(x**4 - 16.0 * x**2 + 5.0 * x))


def levy(x: np.ndarray) -> float:
    """Levy; minimum 0 at (1, ..., 1)."""
    w = 1.0 + (x - 1.0) / 4.0
    head = math.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(math.pi * w[:-1] + 1.0) ** 2))
    tail = (w[-1] - 1.0) ** 2 * (1.0 + math.sin(2.0 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


_BRANIN_B = 5.1 / (4.0 * math.pi**2)
_BRANIN_C = 5.0 / math.pi
_BRANIN_T = 1.0 / (8.0 * math.pi)


def branin(x: np.ndarray) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; minimum 5 / (4 pi) at (pi, 2.275) and two more points."""
    x1, x2 = float(x[0]), float(x[1])
    bowl = (x2 - _BRANIN_B * x1**2 + _BRANIN_C * x1 - 6.0) ** 2
    return bowl + 10.0 * (1.0 - _BRANIN_T) * math.cos(x1) + 10.0


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H6_A = np.array([
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
])
_H6_P = 1e-4 * np.array([
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
])
_H3_XOPT = (0.11458888122541287, 0.5556488954739371, 0.8525469842172746)
_H6_XOPT = (
    0.20168950909365746, 0.15001069354111374, 0.4768739729250998,
    0.2753324275220782, 0.3116516172395686, 0.6573005345536702,
)


def hartmann3(x: np.ndarray) -> float:
    """Hartmann 3-D on [0, 1]^3; minimum -3.862779787332663."""
    return float(-np.dot(_H_ALPHA, np.exp(-np.sum(_H3_A * (x - _H3_P) ** 2, axis=1))))


def hartmann6(x: np.ndarray) -> float:
    """Hartmann 6-D on [0, 1]^6; minimum -3.3223680114155147."""
    return float(-np.dot(_H_ALPHA, np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


_ST_X = -2.9035340277711783


@attrs.frozen
class FunctionSpec:
    """A test function with its box, minimizer and minimum as functions of the dimension.

    Attributes:
        function: ``f(x) -> float``.
        bounds: ``(low, high)`` for every coordinate.
        minimizer: ``d -> x_opt``.
        minimum: ``d -> f(x_opt)``.
        dims: Dimensions at which it is registered.
        centred: The minimizer sits at or near the box centre (shifted in the registered suite).
    """

    function: Callable[[np.ndarray], float]
    bounds: tuple[float, float] | tuple[tuple[float, float], ...]
    minimizer: Callable[[int], np.ndarray]
    minimum: Callable[[int], float]
    dims: tuple[int, ...]
    centred: bool


def _const(v: float) -> Callable[[int], np.ndarray]:
    return lambda d: np.full(d, v)


def _zero(d: int) -> float:
    return 0.0


#: Name -> specification of every built-in continuous function.
FUNCTIONS: dict[str, FunctionSpec] = {
    "sphere": FunctionSpec(sphere, (-5.12, 5.12), _const(0.0), _zero, SCALABLE_DIMS, True),
    "rosenbrock": FunctionSpec(rosenbrock, (-5.0, 10.0), _const(1.0), _zero, SCALABLE_DIMS, False),
    "ackley": FunctionSpec(ackley, (-32.768, 32.768), _const(0.0), _zero, SCALABLE_DIMS, True),
    "rastrigin": FunctionSpec(rastrigin, (-5.12, 5.12), _const(0.0), _zero, SCALABLE_DIMS, True),
    "griewank": FunctionSpec(griewank, (-600.0, 600.0), _const(0.0), _zero, SCALABLE_DIMS, True),
    "styblinski-tang": FunctionSpec(
        styblinski_tang, (-5.0, 5.0), _const(_ST_X),
        lambda d: d * styblinski_tang(np.array([_ST_X])), SCALABLE_DIMS, False,
    ),
    # Levy's minimizer (1, ..., 1) lies 5% from the centre of [-10, 10]: shifted like the others.
    "levy": FunctionSpec(levy, (-10.0, 10.0), _const(1.0), _zero, SCALABLE_DIMS, True),
    "branin": FunctionSpec(
        branin, ((-5.0, 10.0), (0.0, 15.0)), lambda d: np.array([math.pi, 2.275]),
        lambda d: 5.0 / (4.0 * math.pi), (2,), False,
    ),
    "hartmann3": FunctionSpec(
        hartmann3, (0.0, 1.0), lambda d: np.array(_H3_XOPT),
        lambda d: hartmann3(np.array(_H3_XOPT)), (3,), False,
    ),
    "hartmann6": FunctionSpec(
        hartmann6, (0.0, 1.0), lambda d: np.array(_H6_XOPT),
        lambda d: hartmann6(np.array(_H6_XOPT)), (6,), False,
    ),
}

#: Functions defined on all of R^d with their global minimum at the minimizer: safe to shift.
_SHIFTABLE = frozenset(
    {"sphere", "rosenbrock", "ackley", "rastrigin", "griewank", "styblinski-tang", "levy"}
)


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random orthogonal ``d x d`` matrix (QR of a Gaussian, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _box(spec: FunctionSpec, d: int) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(spec.bounds, dtype=float)
    if b.ndim == 1:
        b = np.tile(b, (d, 1))
    return b[:, 0], b[:, 1]


def continuous_problem(
    family: str,
    dim: int | None = None,
    *,
    shift_seed: int | None = None,
    rotate: bool = False,
    name: str | None = None,
    extra_tags: tuple[str, ...] = (),
) -> Problem:
    """Build the :class:`Problem` of a continuous test function.

    Args:
        family: A key of :data:`FUNCTIONS` (``"sphere"``, ``"branin"``, ...).
        dim: Dimension (default: the smallest registered one).
        shift_seed: Move the minimizer to a random point drawn with this seed (shiftable
            functions only).
        rotate: Also rotate the coordinates randomly (needs ``shift_seed``).
        name: Problem name (default ``"{family}-{dim}d"``, ``-shifted``/``-rotated`` appended).
        extra_tags: Tags added to ``continuous``.

    Raises:
        ValueError: Unknown family, a dimension it is not defined at, or a shift of a function
            that cannot be shifted.

    Example:
        >>> continuous_problem("sphere", 2).optimum
        0.0
    """
    spec = FUNCTIONS.get(family)
    if spec is None:
        raise ValueError(f"`family` must be one of {sorted(FUNCTIONS)}, but got {family!r}.")
    d = spec.dims[0] if dim is None else int(dim)
    scalable = len(spec.dims) > 1
    if (scalable and d < 2) or (not scalable and d != spec.dims[0]):
        rule = ">= 2" if scalable else f"== {spec.dims[0]}"
        raise ValueError(f"`dim {rule}` must hold for {family!r}, but got dim={dim!r}.")
    if (shift_seed is not None or rotate) and family not in _SHIFTABLE:
        raise ValueError(
            f"{family!r} cannot be shifted or rotated; shiftable: {sorted(_SHIFTABLE)}."
        )
    if rotate and shift_seed is None:
        raise ValueError("`rotate=True` needs a `shift_seed` (the rotation is drawn with it).")
    lo, hi = _box(spec, d)
    x_opt = spec.minimizer(d).astype(float)
    f = spec.function
    names = [f"x{i}" for i in range(d)]
    suffix = ""
    if shift_seed is not None:
        rng = np.random.default_rng([int(shift_seed), d, 7919])
        width = hi - lo
        centre = lo + width * (_SHIFT_MARGIN + (1.0 - 2.0 * _SHIFT_MARGIN) * rng.random(d))
        rot = random_rotation(d, rng) if rotate else None
        base_opt, base_f = x_opt, f

        def f(x: np.ndarray, _c=centre, _r=rot, _o=base_opt, _f=base_f) -> float:
            z = x - _c
            return _f(_o + (z if _r is None else _r @ z))

        x_opt = centre
        suffix = "-rotated" if rotate else "-shifted"
    dims_part = f"-{d}d" if scalable else ""
    pname = name or f"{family}{dims_part}{suffix}"

    def function(params: Any, _f=f, _names=tuple(names)) -> float:
        return _f(np.fromiter((params[n] for n in _names), dtype=float, count=len(_names)))

    return Problem(
        name=pname,
        space={n: Float(float(a), float(b)) for n, a, b in zip(names, lo, hi)},
        function=function,
        optimum=float(spec.minimum(d)),
        optimizer={n: float(v) for n, v in zip(names, x_opt)},
        tags=frozenset({"continuous", family, *extra_tags}),
        description=f"{family} in {d} dimensions"
        + (f", minimizer moved (seed {shift_seed})" if shift_seed is not None else "")
        + (", rotated" if rotate else ""),
    )


def continuous_suite() -> dict[str, Problem]:
    """The registered continuous suite: every function at every dimension it is defined at.

    Functions whose minimizer sits at or near the box centre are registered shifted (seed 0)
    under their plain name, so the suite gives no free win to centre-biased samplers.
    """
    out: dict[str, Problem] = {}
    for family, spec in FUNCTIONS.items():
        for d in spec.dims:
            seed = 0 if spec.centred else None
            p = continuous_problem(family, d, shift_seed=seed)
            # registered under the plain name; the description says it is shifted
            name = f"{family}-{d}d" if len(spec.dims) > 1 else family
            out[name] = attrs.evolve(p, name=name)
    return out
