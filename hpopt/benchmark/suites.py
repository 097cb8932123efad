"""The built-in problem suites beyond plain continuous functions.

* ``mixed``: integer, stepped and log-scaled floats and categorical parameters together;
* ``conditional``: a categorical choice decides which other parameters exist;
* ``noisy``: Gaussian observation noise (regret is measured on the noise-free value);
* ``high-dim``: 50 parameters of which only a few matter;
* ``multi-objective``: ZDT1-3 (2 objectives, 30 variables) and DTLZ2 (3 objectives, 12
  variables), scored by hypervolume against a reference point; the stated optimum is the
  hypervolume of the true Pareto front;
* ``curves``: see :mod:`hpopt.benchmark.curves`.

Every problem states its optimum and a point that reaches it; a test checks them.

Example:
    >>> problems = builtin_problems()
    >>> sorted(problems["mixed-quadratic"].tags)
    ['mixed']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from hpopt.benchmark.functions import (
    continuous_problem,
    continuous_suite,
    hartmann6,
    styblinski_tang,
)
from hpopt.benchmark.problem import Problem
from hpopt.distributions import Categorical, Float, Int

__all__ = ["builtin_problems", "mixed_problems", "conditional_problems", "noisy_problems",
           "high_dim_problems", "multi_objective_problems"]


# -- mixed -------------------------------------------------------------------------------------
_CAT_OFFSET = {"adam": 0.0, "sgd": 0.6, "rmsprop": 0.3, "adagrad": 1.0}


def _mixed_quadratic(p: Mapping[str, Any]) -> float:
    return (
        (p["x0"] - 1.3) ** 2 + (p["x1"] + 2.1) ** 2
        + 0.05 * (p["n"] - 13) ** 2
        + 0.5 * (math.log2(p["batch"]) - 6.0) ** 2
        + 4.0 * (p["frac"] - 0.7) ** 2
        + 0.5 * (math.log10(p["lr"]) + 2.0) ** 2
        + _CAT_OFFSET[p["opt"]]
        + (0.0 if p["nesterov"] else 0.25)
    )


def _mixed_24d(p: Mapping[str, Any]) -> float:
    total = 0.0
    for i in range(8):
        total += (p[f"f{i}"] - _M24_F[i]) ** 2
    for i in range(6):
        total += 0.1 * (p[f"i{i}"] - _M24_I[i]) ** 2
    for i in range(4):
        total += 2.0 * (p[f"s{i}"] - _M24_S[i]) ** 2
    for i in range(2):
        total += 0.3 * (math.log10(p[f"l{i}"]) - _M24_L[i]) ** 2
    for i in range(4):
        total += {"a": 0.0, "b": 0.3, "c": 1.0}[p[f"c{i}"]] if i % 2 == 0 else {
            "a": 1.0, "b": 0.0, "c": 0.3}[p[f"c{i}"]]
    return total


_M24_F = (1.5, -2.5, 0.5, 3.0, -1.0, 2.2, -3.3, 0.7)
_M24_I = (3, -7, 12, 0, 5, -2)
_M24_S = (0.3, 0.8, 0.1, 0.6)
_M24_L = (-3.0, -1.5)


def mixed_problems() -> dict[str, Problem]:
    """The ``mixed`` suite: 8 and 24 parameters of every kind; optimum 0 off the box centre."""
    quad_space = {
        "x0": Float(-5.0, 5.0), "x1": Float(-5.0, 5.0), "n": Int(0, 20),
        "batch": Int(1, 1024, log=True), "frac": Float(0.0, 1.0, step=0.1),
        "lr": Float(1e-5, 1.0, log=True), "opt": Categorical(tuple(_CAT_OFFSET)),
        "nesterov": Categorical((True, False)),
    }
    space24: dict[str, Any] = {}
    space24.update({f"f{i}": Float(-5.0, 5.0) for i in range(8)})
    space24.update({f"i{i}": Int(-20, 20) for i in range(6)})
    space24.update({f"s{i}": Float(0.0, 1.0, step=0.05) for i in range(4)})
    space24.update({f"l{i}": Float(1e-5, 1.0, log=True) for i in range(2)})
    space24.update({f"c{i}": Categorical(("a", "b", "c")) for i in range(4)})
    opt24: dict[str, Any] = {f"f{i}": v for i, v in enumerate(_M24_F)}
    opt24.update({f"i{i}": v for i, v in enumerate(_M24_I)})
    opt24.update({f"s{i}": v for i, v in enumerate(_M24_S)})
    opt24.update({f"l{i}": 10.0**v for i, v in enumerate(_M24_L)})
    opt24.update({f"c{i}": "a" if i % 2 == 0 else "b" for i in range(4)})
    return {
        "mixed-quadratic": Problem(
            name="mixed-quadratic", space=quad_space, function=_mixed_quadratic, optimum=0.0,
            optimizer={"x0": 1.3, "x1": -2.1, "n": 13, "batch": 64, "frac": 0.7, "lr": 0.01,
                       "opt": "adam", "nesterov": True},
            tags={"mixed"},
            description="2 floats, an int, a log int, a stepped float, a log float, 2 categoricals",
        ),
        "mixed-24d": Problem(
            name="mixed-24d", space=space24, function=_mixed_24d, optimum=0.0, optimizer=opt24,
            tags={"mixed"},
            description="8 floats, 6 ints, 4 stepped floats, 2 log floats, 4 categoricals",
        ),
    }


# -- conditional -------------------------------------------------------------------------------
def _define_models(trial: Any) -> dict[str, Any]:
    kind = trial.suggest_categorical("kind", ["linear", "tree", "net"])
    p: dict[str, Any] = {"kind": kind}
    if kind == "linear":
        p["lin_C"] = trial.suggest_float("lin_C", 1e-4, 1e2, log=True)
        p["lin_penalty"] = trial.suggest_categorical("lin_penalty", ["l1", "l2"])
    elif kind == "tree":
        p["tree_depth"] = trial.suggest_int("tree_depth", 1, 20)
        p["tree_min_leaf"] = trial.suggest_int("tree_min_leaf", 1, 64, log=True)
    else:
        p["net_lr"] = trial.suggest_float("net_lr", 1e-5, 1e-1, log=True)
        p["net_layers"] = trial.suggest_int("net_layers", 1, 5)
        p["net_width"] = trial.suggest_int("net_width", 8, 512, log=True)
        p["net_dropout"] = trial.suggest_float("net_dropout", 0.0, 0.5, step=0.05)
    return p


def _models(p: Mapping[str, Any]) -> float:
    kind = p["kind"]
    if kind == "linear":
        penalty = 0.05 if p["lin_penalty"] == "l1" else 0.0
        return 0.3 + 0.05 * math.log10(p["lin_C"]) ** 2 + penalty
    if kind == "tree":
        leaf = math.log2(p["tree_min_leaf"] / 4)
        return 0.15 + 0.005 * (p["tree_depth"] - 8) ** 2 + 0.05 * leaf**2
    return (
        0.1 * (math.log10(p["net_lr"]) + 3.0) ** 2 + 0.05 * (p["net_layers"] - 3) ** 2
        + 0.025 * (math.log2(p["net_width"]) - 7.0) ** 2 + 2.0 * (p["net_dropout"] - 0.1) ** 2
    )


_LAYER_TARGET = (0.7, -1.2, 2.1, 0.4)
_LAYER_PENALTY = {1: 0.8, 2: 0.4, 3: 0.0, 4: 0.2}


def _define_layers(trial: Any) -> dict[str, Any]:
    k = trial.suggest_int("n_layers", 1, 4)
    p: dict[str, Any] = {"n_layers": k}
    for i in range(k):
        p[f"u{i}"] = trial.suggest_float(f"u{i}", -3.0, 3.0)
    return p


def _layers(p: Mapping[str, Any]) -> float:
    k = p["n_layers"]
    return _LAYER_PENALTY[k] + sum((p[f"u{i}"] - _LAYER_TARGET[i]) ** 2 for i in range(k))


def conditional_problems() -> dict[str, Problem]:
    """The ``conditional`` suite: a model choice with its own parameters; a variable depth."""
    models_flat = {
        "kind": Categorical(("linear", "tree", "net")),
        "lin_C": Float(1e-4, 1e2, log=True), "lin_penalty": Categorical(("l1", "l2")),
        "tree_depth": Int(1, 20), "tree_min_leaf": Int(1, 64, log=True),
        "net_lr": Float(1e-5, 1e-1, log=True), "net_layers": Int(1, 5),
        "net_width": Int(8, 512, log=True), "net_dropout": Float(0.0, 0.5, step=0.05),
    }
    layers_flat: dict[str, Any] = {"n_layers": Int(1, 4)}
    layers_flat.update({f"u{i}": Float(-3.0, 3.0) for i in range(4)})
    return {
        "conditional-models": Problem(
            name="conditional-models", define=_define_models, flat_space=models_flat,
            function=_models, optimum=0.0,
            optimizer={"kind": "net", "net_lr": 1e-3, "net_layers": 3, "net_width": 128,
                       "net_dropout": 0.1},
            tags={"conditional"},
            description="linear (floor 0.3) / tree (floor 0.15) / net (floor 0) with own params",
        ),
        "conditional-layers": Problem(
            name="conditional-layers", define=_define_layers, flat_space=layers_flat,
            function=_layers, optimum=0.0,
            optimizer={"n_layers": 3, "u0": 0.7, "u1": -1.2, "u2": 2.1},
            tags={"conditional"},
            description="1-4 layers, one float per layer; 3 layers best",
        ),
    }


# -- noisy -------------------------------------------------------------------------------------
def noisy_problems() -> dict[str, Problem]:
    """The ``noisy`` suite: Gaussian observation noise on Branin, Hartmann6 and a shifted sphere."""
    out = {}
    for base, sd in ((continuous_problem("branin"), 2.0), (continuous_problem("hartmann6"), 0.2),
                     (continuous_problem("sphere", 5, shift_seed=1), 1.0)):
        name = f"noisy-{base.name}"
        out[name] = attrs.evolve(
            base, name=name, noise_sd=sd, tags={"noisy"},
            description=f"{base.description}, Gaussian noise sd {sd}",
        )
    return out


# -- high-dimensional, low effective dimension ------------------------------------------------
def _embedded(name: str, base_fn: Any, n_eff: int, d: int, box: tuple[float, float],
              x_eff: np.ndarray, optimum: float, seed: int) -> Problem:
    chosen = np.random.default_rng(seed).choice(d, n_eff, replace=False)
    active = tuple(int(i) for i in np.sort(chosen))
    names = tuple(f"x{i}" for i in range(d))

    def function(p: Mapping[str, Any]) -> float:
        return base_fn(np.array([p[names[i]] for i in active]))

    optimizer = {n: 0.5 * (box[0] + box[1]) for n in names}
    optimizer.update({names[i]: float(v) for i, v in zip(active, x_eff)})
    return Problem(
        name=name, space={n: Float(*box) for n in names}, function=function, optimum=optimum,
        optimizer=optimizer, tags={"high-dim"},
        description=f"{d} parameters, {n_eff} effective (indices {list(active)})",
    )


def high_dim_problems() -> dict[str, Problem]:
    """The ``high-dim`` suite: Hartmann6 and 5-D Styblinski-Tang hidden among 50 parameters."""
    h6 = continuous_problem("hartmann6")
    st = continuous_problem("styblinski-tang", 5)
    return {
        "embedded-hartmann6-50d": _embedded(
            "embedded-hartmann6-50d", hartmann6, 6, 50, (0.0, 1.0),
            np.array(list(h6.optimizer.values())), h6.optimum, seed=11),
        "embedded-styblinski-tang-50d": _embedded(
            "embedded-styblinski-tang-50d", styblinski_tang, 5, 50, (-5.0, 5.0),
            np.array(list(st.optimizer.values())), st.optimum, seed=12),
    }


# -- multi-objective ---------------------------------------------------------------------------
def _zdt(kind: int, n: int) -> Any:
    names = tuple(f"x{i}" for i in range(n))

    def function(p: Mapping[str, Any]) -> tuple[float, float]:
        x = np.array([p[k] for k in names])
        f1 = float(x[0])
        g = 1.0 + 9.0 * float(np.sum(x[1:])) / (n - 1)
        r = f1 / g
        if kind == 1:
            h = 1.0 - math.sqrt(r)
        elif kind == 2:
            h = 1.0 - r * r
        else:
            h = 1.0 - math.sqrt(r) - r * math.sin(10.0 * math.pi * f1)
        return f1, g * h

    return names, function


def _dtlz2(m: int, n: int) -> Any:
    names = tuple(f"x{i}" for i in range(n))

    def function(p: Mapping[str, Any]) -> tuple[float, ...]:
        x = np.array([p[k] for k in names])
        g = float(np.sum((x[m - 1:] - 0.5) ** 2))
        ang = x[: m - 1] * (math.pi / 2.0)
        f = []
        for i in range(m):
            v = 1.0 + g
            v *= float(np.prod(np.cos(ang[: m - 1 - i])))
            if i > 0:
                v *= math.sin(ang[m - 1 - i])
            f.append(v)
        return tuple(f)

    return names, function


#: Reference points: (11, 11) for ZDT (Zitzler et al.) and (2, 2, 2) for DTLZ2, far enough out that
#: random points of a 100-trial budget already score (with (1.1, 1.1) almost none does).
ZDT_REFERENCE = (11.0, 11.0)
DTLZ2_REFERENCE = (2.0, 2.0, 2.0)
#: Hypervolume of the true fronts: ZDT1 121 - 1/3 and ZDT2 121 - 2/3 (the box minus the area under
#: the front), DTLZ2 8 - pi/6 (the box minus the unit-ball octant); ZDT3's disconnected front
#: integrated numerically (checked by a test).
TRUE_HV = {
    "zdt1": 121.0 - 1.0 / 3.0,
    "zdt2": 121.0 - 2.0 / 3.0,
    "zdt3": 128.77811613069,
    "dtlz2": 8.0 - math.pi / 6.0,
}


def multi_objective_problems() -> dict[str, Problem]:
    """The ``multi-objective`` suite: ZDT1-3 (30 variables) and DTLZ2 (3 objectives)."""
    out = {}
    for kind in (1, 2, 3):
        names, fn = _zdt(kind, 30)
        opt = {n: 0.0 for n in names}
        opt["x0"] = 0.25 if kind != 3 else 0.0
        name = f"zdt{kind}"
        out[name] = Problem(
            name=name, space={n: Float(0.0, 1.0) for n in names}, function=fn,
            optimum=TRUE_HV[name], optimizer=opt, n_objectives=2, reference_point=ZDT_REFERENCE,
            tags={"multi-objective"}, description=f"ZDT{kind}, 30 variables, hypervolume",
        )
    names, fn = _dtlz2(3, 12)
    opt = {n: 0.5 for n in names}
    out["dtlz2"] = Problem(
        name="dtlz2", space={n: Float(0.0, 1.0) for n in names}, function=fn,
        optimum=TRUE_HV["dtlz2"], optimizer=opt, n_objectives=3,
        reference_point=DTLZ2_REFERENCE, tags={"multi-objective"},
        description="DTLZ2, 3 objectives, 12 variables, hypervolume",
    )
    return out


def builtin_problems() -> dict[str, Problem]:
    """Every built-in problem by name (registered through :func:`hpopt.builtin.hpopt_problems`)."""
    from hpopt.benchmark.curves import curve_problems

    out: dict[str, Problem] = {}
    for part in (continuous_suite(), mixed_problems(), conditional_problems(), noisy_problems(),
                 high_dim_problems(), multi_objective_problems(), curve_problems()):
        out.update(part)
    return out
