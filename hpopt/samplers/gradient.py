"""Gradient-based tuning: Adam over the continuous parameters, with user or estimated gradients.

The sampler runs projected Adam (Kingma & Ba 2015: bias-corrected first and second moments) on the
continuous parameters — :class:`~hpopt.Float` without a ``step`` — in the unit box of
:class:`hpopt.SpaceTransform` (log scale for ``log=True``), with a step-size schedule. Each Adam
*iteration* ``k`` evaluates a small set of *points*:

* the **iterate** ``x_k`` itself (role 0), always;
* with **user gradients** nothing else: ``study.tell(trial, value, gradient={name: d value /
  d param})`` stores the derivative in the parameter's own units and the chain rule turns it into
  the unit-box gradient (``d/du = d/dx * dx/du``; ``dx/du = span`` for a linear parameter and
  ``x * log-span`` for a log one);
* with **SPSA** (Spall 1992) two more points ``m_k ± c_k Δ_k``, ``Δ_k`` Rademacher, giving
  ``g = (f+ - f-) / (2 c_k) * Δ_k``. ``m_k`` is the iterate moved at least ``c_k`` away from every
  face, so both points stay in the box and symmetric;
* with **finite differences** ``2 d`` more points ``m_k ± c_k e_i`` (central differences: forward
  ones carry an ``O(c)`` bias that stalls the descent short of the optimum).

``c_k = perturbation / (k + 1) ** perturbation_decay`` (default 0.101, Spall's recommended decay for
noisy objectives) for both estimators.
Since the iterate's value is measured each iteration, the momentum is *restarted* (first moment
reset) whenever it went up from the previous iterate's (O'Donoghue & Candes 2015, "Adaptive
restart for accelerated gradient schemes"); without it Adam's momentum keeps orbiting the optimum
(sphere-2d, SPSA, 5 seeds: median 73 trials to regret 1e-3 with restart, 196 without).

**Which estimator** (``estimator=``): ``"user"`` uses only the user's gradients (a missing entry
counts as 0: that coordinate does not move this iteration); ``"spsa"`` and ``"fd"`` always
estimate (user gradients are ignored); ``"auto"`` (default) uses the user's gradient when the
iterate's trial carries one for every continuous parameter, and otherwise adds the SPSA pair and
takes the estimate for the coordinates the user left out. SPSA is the default estimator because an
estimate costs two evaluations whatever the dimension, against ``2 d`` for finite differences, and
under Spall's conditions it reaches the same asymptotic accuracy as finite-difference descent with
``d`` times fewer evaluations (Spall 1992). Central finite differences are exact up to ``O(c^2)``
per coordinate and give a full-rank estimate each iteration, which can pay in 1-2 dimensions on
noise-free objectives.

**State rebuilt from the history.** Samplers write nothing, so the trajectory is a deterministic
function of the history, replayed at every ask:

1. The iterate starts at ``x0`` (default: the centre of the box). The points of iteration ``k`` are
   computed from the state after iteration ``k - 1`` and from ``trial_rng(seed, k, attempt)``.
2. A trial *is* a point when its parameters equal the decoded point exactly (the sampler proposed
   it; floats are compared bit for bit) and its other parameters equal the held values. Trials that
   match nothing (enqueued, other samplers', another space) are simply not part of the trajectory.
   Each trial serves one point once; a point takes the lowest-numbered unused COMPLETE finite
   match, else the lowest-numbered unused failed one.
3. When every point of iteration ``k`` has a value, the gradient is formed, Adam steps, the iterate
   is projected into the box and the replay moves on to ``k + 1``.
4. A point whose unused matching trials all FAILed (or were PRUNED, or gave ±inf) makes the
   iteration retry with ``attempt + 1``: a fresh ``Δ`` and half the perturbation size; if the
   iterate itself failed, it is moved halfway back to the previous iterate (all the way back when
   the halfway point decodes to the same parameters; the first iterate: to a seeded random point).
   The retry spends the failures that decided it: the lowest-numbered failed match among the
   points and, if the iterate failed, the iterate's (so the replay always ends). Any other failure
   stays for a later step at its point, and a later step back at a point that failed (the iterate
   returning there, or clipped to the same face) evaluates it again and retries on that new
   failure, instead of the earlier step counting it as its own. An iteration that succeeds at a
   point also spends the failures there numbered below its trial (superseded by the success).
5. The first iteration with a point still missing is the current one. The ask proposes the missing
   point that the fewest RUNNING trials are evaluating (lowest role first), so parallel workers
   spread over the pair; when all are running, it evaluates one of them again (a duplicate is
   harmless: the first value counts). So a RUNNING trial that never finishes is not waited for:
   its point is evaluated again once nothing else is left to propose. In ``"auto"`` mode, before
   the iterate's value is known, the SPSA pair is planned only while no trial of the study carries
   a user gradient.

So another worker's trials, late finishers and a process restart all lead to the same trajectory
(with a noisy objective, which of two duplicate evaluations counts can depend on what had
finished). A trial's role is not stored (samplers write nothing); it is what the replay matched it
to: role 0 the iterate, 1 and 2 the SPSA points ``m + cΔ`` and ``m - cΔ``, ``2i + 1`` and
``2i + 2`` the finite-difference points of coordinate ``i``. Each ask resumes the replay from the
previous ask's checkpoint (the start of the then current iteration), so its cost is an ``O(n)``
index of the trials plus the new iterations; a new trial that changes a replayed failing step (a
COMPLETE one where a failure decided it, any at an iterate that had no trial there) makes it
resume from a snapshot taken at the start of that step, and a late trial that could change another
replayed iteration (see ``_replay``) makes it replay from the start.

**Other parameters.** Integers, categoricals and stepped floats are *held*: at their value in
``x0`` when given (e.g. ``x0=study.best_params`` after a TPE run), otherwise at one seeded random
draw, for the whole trajectory — a gradient estimate needs them fixed. A space with no continuous
parameter, and parameters outside the joint space of a define-by-run study (the parameters every
COMPLETE trial has), are delegated to ``fallback_sampler`` (random search with the same seed unless
you pass another).

Example:
    >>> import hpopt
    >>> sampler = GradientSampler(lr=0.1, estimator="user", seed=0)
    >>> study = hpopt.create_study(sampler=sampler)
    >>> space = {"x": hpopt.Float(-5.0, 5.0)}
    >>> for _ in range(60):
    ...     t = study.ask(space)
    ...     x = t.params["x"]
    ...     _ = study.tell(t, (x - 1.3) ** 2, gradient={"x": 2 * (x - 1.3)})
    >>> abs(study.best_params["x"] - 1.3) < 1e-3
    True
"""

from __future__ import annotations

import bisect
import math
import numbers
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from hpopt.distributions import Distribution, Float
from hpopt.records import FrozenTrial, TrialState
from hpopt.rng import resolve_seed, trial_rng
from hpopt.samplers.base import (
    DerivedCaches,
    History,
    Sampler,
    TrialInfo,
    running_params,
    unseen_trials,
)
from hpopt.samplers.replay import Intersection, IntersectionSpace, check_fallback, space_key
from hpopt.transform import SpaceTransform

__all__ = ["GradientSampler"]

ESTIMATORS = ("auto", "user", "spsa", "fd")
SCHEDULES = ("constant", "inverse_sqrt", "exponential", "cosine")
#: The trial system attribute ``Study.tell(..., gradient=)`` writes (``hpopt.study.GRADIENT_KEY``; not
#: imported from there: ``hpopt.study`` imports the samplers package, which would make a cycle).
GRADIENT_KEY = "gradient"
_C_DECAY = 0.101  # Spall (1998): gamma = 0.101 for the perturbation size c_k = c / (k + 1) ** gamma
_HELD_STREAM = 1  # trial_rng(seed, 0, stream): the held parameters' draw
_ATTEMPT_STREAM = 16  # trial_rng(seed, k, stream + attempt): Δ and restarts of iteration k
_MAX_CACHES = 8
#: How many snapshots (replay states at the start of a failing step) a layout keeps to resume from.
_MAX_SNAPS = 8
#: Largest gradient entry Adam is fed, so ``g * g`` stays finite (a larger one made the second
#: moment inf, and every later step 0 or NaN); an entry beyond it counts by its sign only.
_G_MAX = 1e150


def _tame(g: np.ndarray) -> np.ndarray:
    """A gradient Adam can take: non-finite entries (an overflowed difference of two values, say
    1e308 and -1e308) become 0, and magnitudes are capped at ``_G_MAX``. Unchanged below 1e150."""
    return np.clip(np.where(np.isfinite(g), g, 0.0), -_G_MAX, _G_MAX)


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, but got {value!r} ({type(value).__name__}).")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"`{name}` must be finite, but got {name}={value!r}.")
    return v


def _in_range(name: str, value: Any, lo: float, hi: float, *, lo_open: bool, hi_open: bool) -> float:
    v = _real(name, value)
    if (v <= lo if lo_open else v < lo) or (v >= hi if hi_open else v > hi):
        rule = f"{lo} {'<' if lo_open else '<='} {name} {'<' if hi_open else '<='} {hi}"
        raise ValueError(f"`{rule}` must hold, but got {name}={value!r}.")
    return v


def _continuous(dist: Distribution) -> bool:
    """Whether ``dist`` is a Float without step and with a non-empty range (what Adam moves)."""
    return isinstance(dist, Float) and dist.step is None and dist.high > dist.low


class _Layout:
    """One search space split into continuous (moved) and held parameters, with their encodings."""

    def __init__(self, sampler: GradientSampler, space: Mapping[str, Distribution]) -> None:
        self.space = dict(space)
        self.cont = [n for n, d in space.items() if _continuous(d)]
        self.held_names = [n for n in space if n not in self.cont]
        self.tf = SpaceTransform({n: space[n] for n in self.cont})
        self.d = len(self.cont)
        self.span = self.tf.span.copy()
        self.log = np.array([bool(space[n].log) for n in self.cont], dtype=bool)  # type: ignore[union-attr]
        x0 = sampler.x0 or {}
        for name, value in x0.items():
            if name in self.space and not self.space[name].contains(value):
                raise ValueError(f"`x0[{name!r}]` = {value!r} is not a value of {self.space[name]!r}.")
        held_space = {n: space[n] for n in self.held_names}
        draw = SpaceTransform(held_space).decode(
            trial_rng(sampler.seed, 0, _HELD_STREAM).random(len(held_space))
        ) if held_space else {}
        self.held = {
            n: self.space[n].canonical(x0[n]) if n in x0 else draw[n] for n in self.held_names
        }
        start = {n: x0.get(n, 0.5 * (d.low + d.high) if not d.log else math.sqrt(d.low * d.high))  # type: ignore[union-attr]
                 for n, d in self.tf.space.items()}
        self.x0 = np.clip(self.tf.encode(start), 0.0, 1.0) if self.d else np.zeros(0)
        # trial number -> (key of its continuous values, state, loss, user gradient) for matching trials
        self.trials: dict[int, tuple[tuple[float, ...], int, float, dict[str, float] | None]] = {}
        self.skipped: set[int] = set()
        # Kept up to date as trials are indexed (not rebuilt per ask, which cost O(all trials) of
        # Python work each time): the indexed numbers per key in increasing order, the COMPLETE
        # finite ones and the others (failed, pruned, infinite) apart, every number indexed or
        # skipped, and whether some indexed trial has a user gradient.
        self.ok_by_key: dict[tuple[float, ...], list[int]] = {}
        self.bad_by_key: dict[tuple[float, ...], list[int]] = {}
        self.seen: set[int] = set()
        self.user_seen = False
        self.version = -1
        self.checkpoint: _State | None = None
        # failing-step ordinal -> the replay's state at the start of that step (the latest few)
        self.snaps: dict[int, _State] = {}

    @property
    def by_key(self) -> dict[tuple[float, ...], list[int]]:
        """Every indexed number per key, in increasing order (a merged view of the two indexes, built
        on demand: the replay reads ``ok_by_key`` and ``bad_by_key``)."""
        keys = self.ok_by_key.keys() | self.bad_by_key.keys()
        return {k: sorted(self.ok_by_key.get(k, []) + self.bad_by_key.get(k, [])) for k in keys}

    def key_of(self, params: Mapping[str, Any]) -> tuple[float, ...] | None:
        """The trial's continuous values as a key, or None when it is not a point of this layout."""
        try:
            if any(params[n] != v or type(params[n]) is not type(v) for n, v in self.held.items()):
                return None
            return tuple(float(params[n]) for n in self.cont)
        except (KeyError, TypeError, ValueError):  # absent, or not a number (another space's value)
            return None

    def keys(self, u: np.ndarray) -> list[tuple[float, ...]]:
        """Unit-box points -> the exact parameter tuples they decode to."""
        vals = self.tf.to_values(u)
        cols = [vals[n].tolist() for n in self.cont]
        return [tuple(row) for row in zip(*cols)]


class _State:
    """The replay's state at the start of an iteration (a checkpoint the next ask can resume from)."""

    def __init__(self, x0: np.ndarray, user_seen: bool) -> None:
        self.k, self.attempt = 0, 0
        self.x, self.x_prev = x0.copy(), x0.copy()
        self.m, self.v = np.zeros(x0.size), np.zeros(x0.size)
        self.last = math.inf  # the previous iterate's value
        # key -> (COMPLETE matches spent, failed matches spent): each kind is spent in increasing
        # number order, so the spent trials of a key are a prefix of each of its two lists
        self.spent: dict[tuple[float, ...], tuple[int, int]] = {}
        self.resolved: set[tuple[float, ...]] = set()  # keys of the points of resolved iterations
        # key of a point whose failure decided a failing step -> ordinal of the first such step: a
        # new COMPLETE trial there changes that step
        self.failed_at: dict[tuple[float, ...], int] = {}
        # key of an iterate that had no trial in a failing step -> ordinal of the first such step: a
        # new trial there, even a failed one, changes that step
        self.open_at: dict[tuple[float, ...], int] = {}
        self.nfail = 0  # failing steps so far (their ordinals are 0, 1, ...)
        self.known: set[int] = set()  # trials indexed when the checkpoint was taken
        self.user_seen = user_seen

    def copy(self) -> _State:
        out = _State.__new__(_State)
        out.__dict__.update(self.__dict__)
        out.spent, out.resolved, out.known = dict(self.spent), set(self.resolved), set(self.known)
        out.failed_at, out.open_at = dict(self.failed_at), dict(self.open_at)
        return out


class _Plan:
    """The replay's outcome: the current iteration and the point to evaluate next."""

    __slots__ = ("k", "x", "point", "role")

    def __init__(self, k: int, x: np.ndarray, point: np.ndarray, role: int) -> None:
        self.k, self.x, self.point, self.role = k, x, point, role


class GradientSampler(IntersectionSpace, DerivedCaches, Sampler):
    """Projected Adam over the continuous parameters, with user, SPSA or finite-difference gradients.

    Args:
        lr: Base step size in the unit box (each Adam step moves a coordinate by about ``lr_k``);
            default 0.1.
        learning_rate: Alias of ``lr`` (give one of them).
        betas: Adam's moment decays ``(beta1, beta2)``, each in ``[0, 1)``.
        eps: Adam's denominator guard, ``> 0``.
        schedule: ``"constant"``; ``"inverse_sqrt"`` (``lr / sqrt(1 + k / decay_steps)``);
            ``"exponential"`` (``lr * 0.5 ** (k / decay_steps)``: ``decay_steps`` is the half-life);
            ``"cosine"`` (from ``lr`` down to ``lr * min_lr_ratio`` over ``decay_steps`` iterations,
            then constant). ``k`` counts Adam iterations, not trials.
        decay_steps: Time scale of the schedule, in iterations (``> 0``); default ``20 + 5 d`` for
            ``d`` continuous parameters (SPSA estimates get noisier with ``d``, so the steps
            shrink more slowly).
        min_lr_ratio: Floor of the schedule as a fraction of ``lr``, in ``[0, 1]``.
        estimator: ``"auto"``, ``"user"``, ``"spsa"`` or ``"fd"`` (see the module doc).
        perturbation: SPSA perturbation / finite-difference step ``c`` in the unit box, in
            ``(0, 0.5]``; it decays as ``c / (k + 1) ** perturbation_decay``.
        perturbation_decay: The exponent ``gamma`` of that decay, in ``[0, 1]``. The default 0.101
            is Spall's practical choice, robust to noisy objectives; noise-free objectives gain
            from a faster decay (0.3-0.6), which shrinks the ``O(c^2)`` bias of the estimate.
        restart: Reset Adam's first moment when the iterate's value went up from the previous
            iterate's (adaptive restart, O'Donoghue & Candes 2015): it stops the momentum
            overshooting around the optimum.
        x0: Start point and held values, ``{name: value}`` (e.g. ``study.best_params``); missing
            continuous parameters start at the centre (geometric centre for log ones).
        fallback_sampler: Sampler for parameters the trajectory does not cover (default:
            :class:`~hpopt.RandomSampler` with the same seed).
        seed: An int, a numpy Generator or None.

    Raises:
        TypeError, ValueError: A setting out of range (nothing is built).
    """

    _derived = ("_layouts", "_inter")

    supports_multi_objective = False

    def __init__(
        self,
        *,
        lr: float | None = None,
        learning_rate: float | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        schedule: str = "exponential",
        decay_steps: float | None = None,
        min_lr_ratio: float = 0.0,
        estimator: str = "auto",
        perturbation: float = 0.02,
        perturbation_decay: float = _C_DECAY,
        restart: bool = True,
        x0: Mapping[str, Any] | None = None,
        fallback_sampler: Sampler | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if lr is not None and learning_rate is not None:
            raise ValueError("give `lr` or its alias `learning_rate`, not both.")
        rate = lr if lr is not None else learning_rate
        name = "lr" if learning_rate is None else "learning_rate"
        self.lr = 0.1 if rate is None else _in_range(name, rate, 0.0, math.inf, lo_open=True, hi_open=True)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise TypeError(f"`betas` must be a pair (beta1, beta2), but got {betas!r}.")
        self.betas = (
            _in_range("betas[0]", betas[0], 0.0, 1.0, lo_open=False, hi_open=True),
            _in_range("betas[1]", betas[1], 0.0, 1.0, lo_open=False, hi_open=True),
        )
        self.eps = _in_range("eps", eps, 0.0, math.inf, lo_open=True, hi_open=True)
        if schedule not in SCHEDULES:
            raise ValueError(f"`schedule` must be one of {list(SCHEDULES)}, but got {schedule!r}.")
        self.schedule = schedule
        self.decay_steps = None if decay_steps is None else _in_range(
            "decay_steps", decay_steps, 0.0, math.inf, lo_open=True, hi_open=True
        )
        self.min_lr_ratio = _in_range("min_lr_ratio", min_lr_ratio, 0.0, 1.0, lo_open=False, hi_open=False)
        if estimator not in ESTIMATORS:
            raise ValueError(f"`estimator` must be one of {list(ESTIMATORS)}, but got {estimator!r}.")
        self.estimator = estimator
        self.perturbation = _in_range("perturbation", perturbation, 0.0, 0.5, lo_open=True, hi_open=False)
        self.perturbation_decay = _in_range(
            "perturbation_decay", perturbation_decay, 0.0, 1.0, lo_open=False, hi_open=False
        )
        if x0 is not None and (not isinstance(x0, Mapping) or not all(isinstance(k, str) for k in x0)):
            raise TypeError(f"`x0` must be a mapping {{name: value}} or None, but got {x0!r}.")
        self.x0 = dict(x0) if x0 is not None else None
        if not isinstance(restart, bool):
            raise TypeError(f"`restart` must be a bool, but got {restart!r}.")
        self.restart = restart
        self.seed = resolve_seed(seed)
        self.fallback_sampler = check_fallback(fallback_sampler, self.seed)
        self._lock = threading.Lock()
        self._inter = Intersection()
        self._layouts: dict[Any, _Layout] = {}

    def __repr__(self) -> str:
        return (
            f"GradientSampler(lr={self.lr}, estimator={self.estimator!r}, schedule={self.schedule!r}, "
            f"perturbation={self.perturbation}, seed={self.seed})"
        )


    # -- schedule -----------------------------------------------------------------------------------
    def step_size(self, k: int, dim: int = 1) -> float:
        """The schedule's step size at iteration ``k`` (0-based) for ``dim`` continuous parameters."""
        lo = self.lr * self.min_lr_ratio
        scale = self.decay_steps if self.decay_steps is not None else 20.0 + 5.0 * dim
        if self.schedule == "constant":
            return self.lr
        if self.schedule == "inverse_sqrt":
            r = 1.0 / math.sqrt(1.0 + k / scale)
        elif self.schedule == "exponential":
            r = 0.5 ** (k / scale)
        else:
            r = 0.5 * (1.0 + math.cos(math.pi * min(k, scale) / scale))
        return lo + (self.lr - lo) * r

    def _c(self, k: int) -> float:
        return self.perturbation / (k + 1) ** self.perturbation_decay

    # -- sampler protocol ---------------------------------------------------------------------------
    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        if not space:
            return {}
        layout = self._layout(history, space)
        if layout.d == 0:  # nothing to descend: the fallback samples everything
            return self.fallback_sampler.sample_joint(history, trial, space)
        plan = self._replay(history, layout)
        out = layout.tf.decode(plan.point)
        out.update(layout.held)
        return out

    # -- replay -------------------------------------------------------------------------------------
    def _layout(self, history: History, space: Mapping[str, Distribution]) -> _Layout:
        """The layout of ``space`` with every finished trial of the history indexed (incrementally)."""
        version = history.version()
        fin = history.finished()
        key = space_key(space)
        with self._lock:
            layout = self._layouts.get(key)
            if layout is None:
                if len(self._layouts) >= _MAX_CACHES:
                    self._layouts.pop(next(iter(self._layouts)))
                layout = self._layouts[key] = _Layout(self, space)
            if layout.version == version or layout.d == 0:
                return layout
            sign = -1.0 if history.directions[0] == "maximize" else 1.0
            for t in unseen_trials(fin, layout.seen):  # only the trials new since last time
                layout.seen.add(t.number)
                entry = self._entry(layout, t, sign)
                if entry is None:
                    layout.skipped.add(t.number)
                else:
                    layout.trials[t.number] = entry
                    index = layout.ok_by_key if entry[1] else layout.bad_by_key
                    bisect.insort(index.setdefault(entry[0], []), t.number)
                    layout.user_seen = layout.user_seen or bool(entry[3])
            layout.version = version
            return layout

    @staticmethod
    def _entry(
        layout: _Layout, t: FrozenTrial, sign: float
    ) -> tuple[tuple[float, ...], int, float, dict[str, float] | None] | None:
        dists = t.distributions
        if any(dists.get(n) != d for n, d in layout.space.items()):
            return None
        key = layout.key_of(t.params)
        if key is None:
            return None
        loss = math.nan
        ok = t.state is TrialState.COMPLETE and t.values is not None and len(t.values) == 1
        if ok:
            loss = sign * float(t.values[0])  # type: ignore[index]
            ok = math.isfinite(loss)
        grad = t.system_attrs.get(GRADIENT_KEY) if ok else None
        if grad is not None:
            grad = {n: sign * float(g) for n, g in grad.items() if n in layout.space}
        return key, 1 if ok else 0, loss, grad

    def _points(
        self, layout: _Layout, k: int, attempt: int, x: np.ndarray, kind: str
    ) -> np.ndarray:
        """The points of iteration ``k``: the iterate, then the estimator's (``kind``) points."""
        if kind == "none":
            return x[None, :]
        c = self._c(k) * 0.5**attempt  # a failed point may lie in a crash region: come closer
        m = np.clip(x, c, 1.0 - c) if c < 0.5 else np.full_like(x, 0.5)
        if kind == "fd":  # rows: x, then m + c e_i and m - c e_i in turn for each coordinate i
            steps = np.repeat(np.eye(layout.d) * c, 2, axis=0) * np.tile([1.0, -1.0], layout.d)[:, None]
            return np.vstack([x[None, :], m[None, :] + steps])
        rng = trial_rng(self.seed, k, _ATTEMPT_STREAM + attempt)
        delta = rng.integers(0, 2, size=layout.d) * 2.0 - 1.0
        return np.vstack([x, m + c * delta, m - c * delta])

    def _replay(self, history: History, layout: _Layout) -> _Plan:
        """Replay the trajectory over the indexed trials; return the point to evaluate next.

        The replay resumes from the checkpoint of the previous ask (the start of the iteration that
        was then current) unless a trial added since could change a resolved iteration. A trial
        numbered above every indexed one changes nothing before the first failing step it changes
        (a failing step is decided before every point is evaluated; steps that succeeded took a
        lower-numbered COMPLETE match of each point, and spent only failures numbered below those):
        for a COMPLETE trial, the first failing step that its point's failure decided, or where its
        point was the iterate and had no trial; for a failed one, only the latter (it is not a
        step's earliest failure, and no other failure decides anything). The replay then resumes
        from the snapshot taken at the start of that step, the earliest such step over the new
        trials (see ``_resume``). So a new match of a point that succeeded (an iterate that did not
        move), and a new failure at a point whose failure was spent, change nothing before the
        checkpoint.
        A lower-numbered new match of a resolved point (a lower number would have been chosen), the
        first user gradient, or a snapshot no longer kept make it start over (same result, more work).
        """
        running: dict[tuple[float, ...], int] = {}
        for t in history.running():  # read before the lock (the storage may hold its own)
            params = running_params(t)
            key = layout.key_of(params)
            if key is not None:
                running[key] = running.get(key, 0) + 1
        with self._lock:  # the replay reads the layout's index in place, so it holds the lock
            return self._replay_locked(layout, running)

    def _replay_locked(self, layout: _Layout, running: Mapping[tuple[float, ...], int]) -> _Plan:
        trials, ok_by_key, bad_by_key = layout.trials, layout.ok_by_key, layout.bad_by_key
        empty: list[int] = []
        ck = layout.checkpoint
        user_seen = layout.user_seen
        st = None
        if ck is not None and ck.user_seen == user_seen and ck.known.issubset(trials):
            st = self._resume(layout, ck)
        if st is None:
            layout.snaps.clear()
            st = _State(layout.x0, user_seen)
        b1, b2 = self.betas
        d = layout.d
        while True:
            # the iterate first: its value and gradient decide the other points (mode "auto")
            k, x = st.k, st.x
            centre_key = layout.keys(x)[0]
            spent = st.spent
            centre = self._first(layout, spent, centre_key)
            kind = self._kind(centre, trials, layout, user_seen)
            pts = self._points(layout, k, st.attempt, x, kind)
            keys = [centre_key, *layout.keys(pts[1:])] if len(pts) > 1 else [centre_key]
            firsts = [centre] + [self._first(layout, spent, key) for key in keys[1:]]
            failed = [i for i, f in enumerate(firsts) if f is not None and trials[f][1] == 0]
            if failed:
                layout.snaps[st.nfail] = st.copy()
                if len(layout.snaps) > _MAX_SNAPS:
                    layout.snaps.pop(min(layout.snaps))
                st.resolved.update(keys)
                # The step is decided by its earliest failure (the lowest-numbered failed first) and,
                # when the iterate failed, by the iterate's failure (it moves the iterate back): only
                # those are spent, once per point. Another point's failure decides nothing; it stays
                # for a later step at that point, like a point's late trial: a later step at a point
                # of this one (the iterate back at a point that failed, clipped to the same face)
                # fails on its own evidence and retries, instead of this step swallowing it.
                decided = {trials[min(f for f in firsts if f is not None and not trials[f][1])][0]}
                if centre is None:  # a late trial of the iterate could make it fail here
                    st.open_at.setdefault(centre_key, st.nfail)
                elif 0 in failed:
                    decided.add(centre_key)
                for key in decided:  # a COMPLETE trial there would make the point pass here
                    st.failed_at.setdefault(key, st.nfail)
                    i_ok, i_bad = spent.get(key, (0, 0))
                    spent[key] = (i_ok, i_bad + 1)
                st.nfail += 1
                st.attempt += 1
                if 0 in failed:
                    if k == 0:
                        st.x = trial_rng(self.seed, 0, _ATTEMPT_STREAM + st.attempt).random(d)
                    else:
                        back = st.x_prev + 0.5 * (x - st.x_prev)
                        # Halving stalls one rounding step from the previous iterate (the midpoint of
                        # two neighbouring floats rounds to one of them), which retried the same
                        # failing point forever: then go back to the previous iterate itself.
                        st.x = back if layout.keys(back)[0] != centre_key else st.x_prev.copy()
                continue
            missing = [i for i, f in enumerate(firsts) if f is None]
            if missing:
                st.known = set(trials)
                layout.checkpoint = st
                role = min(missing, key=lambda i: (running.get(keys[i], 0), i))
                return _Plan(k, x, pts[role], role)
            st.resolved.update(keys)
            # Each point spends its COMPLETE match, and the failures there numbered below it: they are
            # superseded (left unspent, they would pile up as failures of whichever later step at
            # that point first finds no COMPLETE match left).
            for key, f in zip(keys, firsts):
                i_ok, i_bad = spent.get(key, (0, 0))
                if i_ok < len(ok_by_key[key]) and ok_by_key[key][i_ok] == f:  # not yet (coinciding points)
                    spent[key] = (i_ok + 1, max(i_bad, bisect.bisect_left(bad_by_key.get(key, empty), f)))
            values = np.array([trials[f][2] for f in firsts])  # type: ignore[index]
            g = self._gradient(layout, kind, k, x, pts, values, trials[firsts[0]][3])  # type: ignore[index]
            if self.restart and values[0] > st.last:  # the value went up: restart the momentum
                st.m = np.zeros(d)
            st.last = values[0]
            t = k + 1
            st.m = b1 * st.m + (1.0 - b1) * g
            st.v = b2 * st.v + (1.0 - b2) * g * g
            step = self.step_size(k, d) * (st.m / (1.0 - b1**t)) / (np.sqrt(st.v / (1.0 - b2**t)) + self.eps)
            st.x_prev, st.x = x, np.clip(x - step, 0.0, 1.0)
            st.k, st.attempt = k + 1, 0

    @staticmethod
    def _resume(layout: _Layout, ck: _State) -> _State | None:
        """The state to resume the replay from given the trials indexed since ``ck``, or None (start over).

        The state is a copy of the checkpoint, or of the snapshot at the start of the earliest failing
        step that a new trial changes (later snapshots are dropped: they are replayed again). A new
        trial numbered above every indexed one changes a failing step only where it is a match of
        the iterate, which had no trial there (a failure moves the iterate back; in ``"auto"`` mode
        a value can change which points the step has), or a COMPLETE match of a point whose
        failure decided the step. Anywhere else it is not the step's earliest failure, and a
        failure that is neither the earliest nor the iterate's decides nothing and is not spent.
        See ``_replay`` for why no other step can change.
        """
        trials = layout.trials
        top = max(ck.known, default=-1)
        need = ck.nfail
        for n in trials.keys() - ck.known:
            key = trials[n][0]
            if n < top and key in ck.resolved:
                return None
            need = min(need, ck.open_at.get(key, need))
            if trials[n][1]:
                need = min(need, ck.failed_at.get(key, need))
        if need == ck.nfail:
            return ck.copy()
        snap = layout.snaps.get(need)
        if snap is None:  # no longer kept
            return None
        for i in [i for i in layout.snaps if i >= need]:  # replayed again (step `need` may pass now)
            del layout.snaps[i]
        return snap.copy()

    @staticmethod
    def _first(
        layout: _Layout, spent: Mapping[tuple[float, ...], tuple[int, int]], key: tuple[float, ...]
    ) -> int | None:
        """The point's deciding trial: the first unused COMPLETE match, else the first unused failed one."""
        i_ok, i_bad = spent.get(key, (0, 0))
        ok = layout.ok_by_key.get(key)
        if ok is not None and i_ok < len(ok):
            return ok[i_ok]
        bad = layout.bad_by_key.get(key)
        return bad[i_bad] if bad is not None and i_bad < len(bad) else None

    def _kind(self, centre: int | None, trials: Mapping[int, Any], layout: _Layout, user_seen: bool) -> str:
        """Which extra points iteration needs: "none", "spsa" or "fd"."""
        est = self.estimator
        if est in ("spsa", "fd"):
            return est
        if est == "user":
            return "none"
        if centre is None or not trials[centre][1]:  # value not known yet
            return "none" if user_seen else "spsa"
        grad = trials[centre][3] or {}
        return "none" if all(n in grad for n in layout.cont) else "spsa"

    def _gradient(
        self,
        layout: _Layout,
        kind: str,
        k: int,
        x: np.ndarray,
        pts: np.ndarray,
        values: np.ndarray,
        user: dict[str, float] | None,
    ) -> np.ndarray:
        """The unit-box gradient at the iterate from the points' values (and the user's entries)."""
        g = np.zeros(layout.d)
        if kind == "fd":
            diff = (pts[1::2] - pts[2::2]).diagonal()  # 2 c per coordinate
            with np.errstate(over="ignore", invalid="ignore"):  # values near +-1.8e308
                return _tame((values[1::2] - values[2::2]) / diff)
        if kind == "spsa":
            diff = pts[1] - pts[2]  # 2 c Δ
            with np.errstate(over="ignore", invalid="ignore"):
                g = (values[1] - values[2]) / diff
            if self.estimator in ("spsa", "fd"):
                return _tame(g)
        if user:
            have = np.array([n in user for n in layout.cont])
            gx = np.array([user.get(n, 0.0) for n in layout.cont])
            # chain rule: d/du = d/dx * dx/du; dx/du = span (linear) or x * span (log: x = exp(lo + u span))
            xv = np.array([float(v) for v in layout.keys(x)[0]])
            with np.errstate(over="ignore", invalid="ignore"):
                gu = gx * layout.span * np.where(layout.log, xv, 1.0)
            g = np.where(have, gu, g)
        return _tame(g)
