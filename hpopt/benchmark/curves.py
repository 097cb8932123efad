"""Learning-curve problems for pruners: one loss per step, the final loss is the objective.

* ``curves-synthetic``: parametric curves that converge to a known final loss, with observation
  noise. A larger learning rate converges faster to a *worse* final loss, so curves cross and a
  pruner that trusts early steps too much drops the best configurations.
  ``L(t) = L_inf + (L_0 - L_inf) * g(t)`` with
  ``g(t) = (exp(-t / tau) - exp(-T / tau)) / (1 - exp(-T / tau))``, so ``L(T) = L_inf`` exactly.
* ``curves-mlp``: a real training loop, a one-hidden-layer MLP trained by mini-batch SGD with
  momentum in numpy on a fixed synthetic classification set; one step is one epoch and the
  value is the validation cross-entropy. Its optimum is unknown.

Example:
    >>> import numpy as np
    >>> p = curve_problems()["curves-synthetic"]
    >>> losses = list(p.steps(p.optimizer, np.random.default_rng(0)))
    >>> len(losses) == p.n_steps
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from hpopt.benchmark.problem import Problem
from hpopt.distributions import Categorical, Float, Int

__all__ = ["curve_problems", "synthetic_final_loss", "mlp_curve"]

_T_SYN = 50
_L0 = 2.5
_SYN_NOISE = 0.02
_BEST_LR = {"adam": -3.0, "sgd": -1.5}


def synthetic_final_loss(p: Mapping[str, Any]) -> float:
    """The final (step ``T``) noise-free loss of ``curves-synthetic``; minimum 0.05."""
    u = math.log10(p["lr"])
    return (
        0.05 + 0.08 * (u - _BEST_LR[p["optimizer"]]) ** 2
        + 0.1 * (math.log2(p["width"]) - 8.0) ** 2 / 9.0
        + 0.3 * (p["dropout"] - 0.2) ** 2
        + (0.02 if p["optimizer"] == "sgd" else 0.0)
    )


def _tau(p: Mapping[str, Any]) -> float:
    # steps to converge: 1 step at lr=1, 40 at lr=1e-4; adam converges 1.5x faster
    tau = 40.0 * (1e-4 / p["lr"]) ** 0.4
    return tau / 1.5 if p["optimizer"] == "adam" else tau


def synthetic_curve(p: Mapping[str, Any], rng: np.random.Generator, *, noise: bool = True
                    ) -> Iterator[float]:
    """Yield the losses at steps 1..T (with Gaussian noise unless ``noise=False``)."""
    l_inf = synthetic_final_loss(p)
    tau = _tau(p)
    end = math.exp(-_T_SYN / tau)
    for t in range(1, _T_SYN + 1):
        g = (math.exp(-t / tau) - end) / (1.0 - end)
        value = l_inf + (_L0 - l_inf) * g
        yield value + (_SYN_NOISE * float(rng.standard_normal()) if noise else 0.0)


# -- a real training loop ----------------------------------------------------------------------
_MLP_EPOCHS = 20
_N_TRAIN, _N_VAL, _N_FEAT = 600, 400, 8


@lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed non-linear binary task with 10% label noise (same data in every process)."""
    rng = np.random.default_rng(20240601)
    x = rng.standard_normal((_N_TRAIN + _N_VAL, _N_FEAT))
    w = rng.standard_normal(_N_FEAT)
    score = np.sin(1.5 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.5 * x @ w / math.sqrt(_N_FEAT)
    y = (score > 0).astype(float)
    flip = rng.random(len(y)) < 0.1
    y[flip] = 1.0 - y[flip]
    return x[:_N_TRAIN], y[:_N_TRAIN], x[_N_TRAIN:], y[_N_TRAIN:]


def _xent(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1.0 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def mlp_curve(p: Mapping[str, Any], rng: np.random.Generator) -> Iterator[float]:
    """Train the MLP for ``20`` epochs; yield the validation cross-entropy after each epoch."""
    xtr, ytr, xva, yva = _dataset()
    h, lr, l2, mom, bs = p["hidden"], p["lr"], p["l2"], p["momentum"], int(p["batch_size"])
    w1 = rng.standard_normal((_N_FEAT, h)) * math.sqrt(1.0 / _N_FEAT)
    b1 = np.zeros(h)
    w2 = rng.standard_normal(h) * math.sqrt(1.0 / h)
    b2 = 0.0
    vel = [np.zeros_like(w1), np.zeros_like(b1), np.zeros_like(w2), 0.0]
    for _ in range(_MLP_EPOCHS):
        order = rng.permutation(_N_TRAIN)
        for start in range(0, _N_TRAIN, bs):
            idx = order[start:start + bs]
            xb, yb = xtr[idx], ytr[idx]
            a = np.tanh(xb @ w1 + b1)
            out = 1.0 / (1.0 + np.exp(-np.clip(a @ w2 + b2, -30, 30)))
            d_out = (out - yb) / len(idx)  # gradient of the mean cross-entropy wrt the logit
            gw2 = a.T @ d_out + l2 * w2
            gb2 = float(d_out.sum())
            d_a = np.outer(d_out, w2) * (1.0 - a * a)
            gw1 = xb.T @ d_a + l2 * w1
            gb1 = d_a.sum(axis=0)
            for k, g in enumerate((gw1, gb1, gw2, gb2)):
                vel[k] = mom * vel[k] - lr * g
            w1, b1, w2, b2 = w1 + vel[0], b1 + vel[1], w2 + vel[2], b2 + vel[3]
        pred = 1.0 / (1.0 + np.exp(-np.clip(np.tanh(xva @ w1 + b1) @ w2 + b2, -30, 30)))
        loss = _xent(pred, yva)
        yield loss if math.isfinite(loss) else 10.0


def _mlp_final(p: Mapping[str, Any]) -> float:
    """The final validation loss of one fixed-seed training run (the 'noise-free' reference)."""
    *_, last = mlp_curve(p, np.random.default_rng(0))
    return last


def curve_problems() -> dict[str, Problem]:
    """The ``curves`` suite."""
    syn_space = {
        "lr": Float(1e-4, 1.0, log=True), "width": Int(16, 1024, log=True),
        "dropout": Float(0.0, 0.8), "optimizer": Categorical(("adam", "sgd")),
    }
    mlp_space = {
        "hidden": Int(2, 64, log=True), "lr": Float(1e-3, 1.0, log=True),
        "l2": Float(1e-6, 1e-1, log=True), "momentum": Float(0.0, 0.95),
        "batch_size": Categorical((16, 32, 64, 128)),
    }
    return {
        "curves-synthetic": Problem(
            name="curves-synthetic", space=syn_space, function=synthetic_final_loss, optimum=0.05,
            optimizer={"lr": 1e-3, "width": 256, "dropout": 0.2, "optimizer": "adam"},
            tags={"curves", "noisy"}, curve=synthetic_curve, n_steps=_T_SYN,
            description=f"crossing parametric curves over {_T_SYN} steps, noise sd {_SYN_NOISE}",
        ),
        "curves-mlp": Problem(
            name="curves-mlp", space=mlp_space, function=_mlp_final, optimum=None, optimizer=None,
            tags={"curves"}, curve=mlp_curve, n_steps=_MLP_EPOCHS,
            description=f"numpy MLP trained by SGD, {_MLP_EPOCHS} epochs, validation cross-entropy",
        ),
    }
