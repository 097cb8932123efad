"""Five new learning-curve tasks for judging pruners (none of the families of
benchmarks/pruners_compare.py or benchmarks/pruners_heldout.py).

Each task has: a search space (2-5 parameters), a number of steps, a direction and a curve
generator ``curve(params, rng)`` that yields one validation value per step (computed step by step;
for ``mlp-digits`` by really training a scikit-learn MLPClassifier with ``partial_fit``).

* ``mlp-digits`` (a): sklearn MLPClassifier (solver sgd) on load_digits, 30 epochs,
  loss = 1 - validation accuracy. Parameters lr, alpha, hidden, momentum.
* ``long-noisy`` (b): 100 steps, power-law decay with AR(1) validation noise whose sd
  (0.02-0.04) is comparable to the improvement over the last 20-40 steps. Parameters lr, wd,
  batch, dropout; small batches generalize better but are noisier.
* ``diverge`` (c): 40 steps; learning rates above a critical value (which depends on batch and
  warmup) learn fastest at first, then blow up exponentially (to 1e3, then NaN). The best
  configurations sit just below the critical learning rate. Parameters lr, batch, warmup, wd.
* ``lr-drop`` (d): 50 steps, a step schedule: the learning rate is multiplied by ``drop`` at
  step 30 (60% of the run). Before the drop the loss sits on a noise floor that grows with the
  effective learning rate (low lr looks best); after it the floor collapses and the high-lr runs,
  which generalize better, end best (trials reorder). Parameters lr, momentum, wd, drop.
* ``finetune-acc`` (e): maximize validation accuracy (2000 examples: binomial noise), 25
  steps; warmup delays the rise but protects high learning rates from forgetting; too-high lr
  rises fastest and ends lower. Parameters lr, warmup, label_smoothing, dropout.

Objectives: :func:`make_objective` builds ``objective(trial)`` for hpopt or Optuna (the same
code; ``report`` / ``should_prune`` / ``TrialPruned`` have the same shape). The configuration of
trial N is pre-drawn with numpy (:func:`configs`) and enqueued, so both libraries evaluate the
same configurations in the same order whatever their sampler; the objective checks that what it
suggested equals ``configs[trial.number]``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "float", "int", "cat"
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] = ()


@dataclass
class Task:
    name: str
    tid: int
    params: list[Param]
    n_steps: int
    direction: str
    curve: Callable[[dict[str, Any], np.random.Generator], Iterator[float]]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# (a) a real small model: sklearn MLPClassifier + partial_fit on digits
@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    xtr, xva, ytr, yva = train_test_split(x, y, test_size=600, random_state=0, stratify=y)
    return xtr, xva, ytr, yva


def _mlp_digits(p: dict[str, Any], rng: np.random.Generator) -> Iterator[float]:
    from sklearn.neural_network import MLPClassifier

    xtr, xva, ytr, yva = _digits()
    classes = np.unique(ytr)
    clf = MLPClassifier(hidden_layer_sizes=(int(p["hidden"]),), solver="sgd",
                        learning_rate_init=p["lr"], alpha=p["alpha"], momentum=p["momentum"],
                        batch_size=64, shuffle=True, random_state=int(rng.integers(2**31)))
    for _ in range(30):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                clf.partial_fit(xtr, ytr, classes=classes)
                acc = float(clf.score(xva, yva))
            except ValueError:  # weights became NaN/inf: sklearn refuses to go on
                acc = float("nan")
        yield 1.0 - acc if math.isfinite(acc) else 0.9  # a diverged net guesses: chance level


# ----------------------------------------------------------------------------------------------
# (b) long (100 steps) noisy curves
def _long_noisy(p: dict[str, Any], rng: np.random.Generator) -> Iterator[float]:
    u_lr = (math.log10(p["lr"]) + 4.0) / 3.0          # [0, 1]
    u_wd = (math.log10(p["wd"]) + 6.0) / 4.0          # [0, 1]
    b = int(p["batch"])
    plateau = (0.30 + 0.35 * (u_lr - 0.6) ** 2 + 0.15 * (u_wd - 0.6) ** 2
               + 0.012 * math.log2(b / 32) + 0.2 * (p["dropout"] - 0.2) ** 2)
    tau = (4.0 + 60.0 * (1.0 - u_lr) ** 2) * (b / 128) ** 0.3
    sd = 0.015 + 0.02 * math.sqrt(64 / b)              # 0.043 (b=32) .. 0.022 (b=512)
    e = sd * float(rng.standard_normal())
    for t in range(1, 101):
        e = 0.6 * e + sd * 0.8 * float(rng.standard_normal())  # AR(1), marginal sd = sd
        yield plateau + 1.0 * (1.0 + t / tau) ** -0.8 + e


# ----------------------------------------------------------------------------------------------
# (c) divergence for high learning rates after a good start
def _diverge(p: dict[str, Any], rng: np.random.Generator) -> Iterator[float]:
    lr, b, warm = p["lr"], int(p["batch"]), int(p["warmup"])
    lr_crit = 0.03 * math.sqrt(b / 32) * (1.0 + 0.15 * warm)
    u_wd = (math.log10(p["wd"]) + 6.0) / 4.0
    # stable runs: the closer to lr_crit (from below), the better they end
    r = math.log10(lr / (0.7 * lr_crit))
    plateau = 0.15 + 0.05 * r * r + 0.1 * (u_wd - 0.5) ** 2
    tau = 1.2 * math.sqrt(0.1 / lr)
    t_div = math.inf if lr <= lr_crit else 4.0 + warm + 25.0 * (lr_crit / lr) ** 1.5
    blown = False
    for t in range(1, 41):
        te = max(t - 0.5 * warm, 0.0)
        y = plateau + 2.0 * math.exp(-te / tau)
        y *= 1.0 + 0.01 * float(rng.standard_normal())
        if t > t_div:
            y += 0.05 * math.exp(0.8 * (t - t_div))
        if blown or y > 1e3:
            blown = True
            y = math.nan
        yield y


# ----------------------------------------------------------------------------------------------
# (d) a learning-rate drop at 60% of the run that reorders trials
_DROP_AT = 30


def _lr_drop(p: dict[str, Any], rng: np.random.Generator) -> Iterator[float]:
    eff = p["lr"] / (1.0 - p["momentum"])           # effective step size, ~1e-3 .. 100
    le = math.log10(eff)
    u_wd = (math.log10(p["wd"]) + 5.0) / 3.0
    base = 0.12 + 0.05 * (le - 0.6) ** 2 + 0.08 * (u_wd - 0.55) ** 2   # what it generalizes to
    floor = 0.45 * eff / (eff + 2.0)                  # SGD noise floor: grows with the step size
    tau = min(3.0 + 8.0 * math.sqrt(0.1 / eff), 80.0)
    y_drop = 0.0
    for t in range(1, 51):
        if t <= _DROP_AT:
            y = base + floor + 1.5 * math.exp(-t / tau)
            if t == _DROP_AT:
                y_drop = y
        else:
            target = base + floor * p["drop"]
            y = target + (y_drop - target) * math.exp(-(t - _DROP_AT) / 2.0)
        yield y + 0.01 * float(rng.standard_normal())


# ----------------------------------------------------------------------------------------------
# (e) maximize: fine-tuning accuracy, 25 steps
def _finetune_acc(p: dict[str, Any], rng: np.random.Generator) -> Iterator[float]:
    ll = math.log10(p["lr"])                          # [-5, -2]
    warm = int(p["warmup"])
    forget = 0.035 * max(ll + 3.3, 0.0) ** 2 * 10 * (1.0 - warm / 12.0)  # high lr forgets
    acc_max = (0.93 - 0.02 * (ll + 3.3) ** 2 - forget - 0.15 * (p["label_smoothing"] - 0.1) ** 2
               - 0.1 * (p["dropout"] - 0.25) ** 2)
    acc_max = max(acc_max, 0.3)
    tau = 0.8 + 2.5 * (10 ** -3 / p["lr"]) ** 0.45
    for t in range(1, 26):
        te = max(t - 0.7 * warm, 0.0)
        acc = 0.1 + (acc_max - 0.1) * (1.0 - math.exp(-te / tau))
        yield float(rng.binomial(2000, acc)) / 2000.0


TASKS: dict[str, Task] = {
    "mlp-digits": Task("mlp-digits", 201, [
        Param("lr", "float", 1e-4, 1.0, log=True), Param("alpha", "float", 1e-6, 1e-1, log=True),
        Param("hidden", "int", 8, 128, log=True), Param("momentum", "float", 0.0, 0.99)],
        30, "minimize", _mlp_digits, "sklearn MLPClassifier sgd, digits, 1 - val acc"),
    "long-noisy": Task("long-noisy", 202, [
        Param("lr", "float", 1e-4, 1e-1, log=True), Param("wd", "float", 1e-6, 1e-2, log=True),
        Param("batch", "cat", choices=(32, 64, 128, 256, 512)), Param("dropout", "float", 0.0, 0.5)],
        100, "minimize", _long_noisy, "power law + AR(1) noise sd 0.02-0.04, 100 steps"),
    "diverge": Task("diverge", 203, [
        Param("lr", "float", 1e-4, 1.0, log=True), Param("batch", "cat", choices=(16, 32, 64, 128)),
        Param("warmup", "int", 0, 10), Param("wd", "float", 1e-6, 1e-2, log=True)],
        40, "minimize", _diverge, "lr > crit: fast start then explodes to 1e3, then NaN"),
    "lr-drop": Task("lr-drop", 204, [
        Param("lr", "float", 1e-3, 1.0, log=True), Param("momentum", "float", 0.0, 0.99),
        Param("wd", "float", 1e-5, 1e-2, log=True), Param("drop", "cat", choices=(0.1, 0.3))],
        50, "minimize", _lr_drop, "lr x drop at step 30 of 50: noise floor collapses, order flips"),
    "finetune-acc": Task("finetune-acc", 205, [
        Param("lr", "float", 1e-5, 1e-2, log=True), Param("warmup", "int", 0, 8),
        Param("label_smoothing", "float", 0.0, 0.3), Param("dropout", "float", 0.0, 0.5)],
        25, "maximize", _finetune_acc, "maximize accuracy, warmup delays the rise"),
}


def configs(task: Task, seed: int, n: int = 100) -> list[dict[str, Any]]:
    """The n configurations of one seed, drawn with numpy (uniform / log-uniform / uniform
    choice), identical for every pruner and library."""
    rng = np.random.default_rng([seed, task.tid])
    out = []
    for _ in range(n):
        c: dict[str, Any] = {}
        for p in task.params:
            if p.kind == "cat":
                c[p.name] = p.choices[int(rng.integers(len(p.choices)))]
            elif p.kind == "int":
                if p.log:
                    v = math.exp(rng.uniform(math.log(p.low - 0.5 + 1e-9), math.log(p.high + 0.5)))
                else:
                    v = rng.uniform(p.low - 0.5, p.high + 0.5)
                c[p.name] = int(min(max(round(v), p.low), p.high))
            elif p.log:
                c[p.name] = float(math.exp(rng.uniform(math.log(p.low), math.log(p.high))))
            else:
                c[p.name] = float(rng.uniform(p.low, p.high))
        out.append(c)
    return out


class LazyCurve:
    """A curve computed step by step on demand and kept (every pruner replays the same values,
    noise and training randomness included; the first run really computes them)."""

    def __init__(self, gen: Iterator[float]) -> None:
        self._gen = gen
        self.values: list[float] = []
        self.compute_s = 0.0

    def __getitem__(self, i: int) -> float:
        while len(self.values) <= i:
            t0 = time.perf_counter()
            self.values.append(float(next(self._gen)))
            self.compute_s += time.perf_counter() - t0
        return self.values[i]


_CURVES: dict[tuple[str, int, int], LazyCurve] = {}


def curve(task: Task, seed: int, number: int, cfg: dict[str, Any]) -> LazyCurve:
    key = (task.name, seed, number)
    if key not in _CURVES:
        rng = np.random.default_rng([seed, number, task.tid, 7])
        _CURVES[key] = LazyCurve(task.curve(cfg, rng))
    return _CURVES[key]


def suggest(trial: Any, p: Param) -> Any:
    if p.kind == "float":
        return trial.suggest_float(p.name, p.low, p.high, log=p.log)
    if p.kind == "int":
        return trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
    return trial.suggest_categorical(p.name, list(p.choices))


def make_objective(task: Task, seed: int, cfgs: list[dict[str, Any]], pruned_exc: type,
                   log: dict[str, Any]) -> Callable[[Any], float]:
    """objective(trial) for hpopt or Optuna: suggest, then report a value per step and prune.

    ``log`` collects: steps used, the last step of each trial, should_prune wall times, finals
    (the value at the last step of every trial that reached it)."""
    last = task.n_steps

    def objective(trial: Any) -> float:
        params = {p.name: suggest(trial, p) for p in task.params}
        want = cfgs[trial.number]
        assert params == want, (trial.number, params, want)
        c = curve(task, seed, trial.number, want)
        value = math.nan
        for step in range(1, last + 1):
            value = c[step - 1]
            trial.report(value, step)
            log["steps"] += 1
            log["reached"][trial.number] = step
            if step == last and math.isfinite(value):
                log["finals"][trial.number] = value
            t0 = time.perf_counter()
            prune = trial.should_prune()
            dt = time.perf_counter() - t0
            log["sp_times"].append(dt)
            if prune:
                log["pruned_at"][trial.number] = step
                raise pruned_exc()
        return value

    return objective
