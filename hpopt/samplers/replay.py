"""What the population-based samplers (CMA-ES, DE, NSGA-II) share: state replayed from storage.

Such a sampler keeps no state that a fresh process could not rebuild: its population (or search
distribution) is *replayed* from the finished trials, in the order they finished, and cached per
search space. :class:`ReplaySampler` holds that cache — advanced incrementally over new trials,
rebuilt from scratch when a trial turns up that finished before the ones already replayed — and
the helpers the three samplers use for their settings and define-by-run joint space.

A subclass provides ``_new_run(space)``, returning an object with ``seen`` (numbers replayed),
``version``, ``last_key``, ``relevant(trial)`` and ``feed(trials, ...)``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hpopt.distributions import Categorical, Distribution
from hpopt.records import FrozenTrial, TrialState
from hpopt.samplers.base import DerivedCaches, History, Sampler, TrialInfo, unseen_trials
from hpopt.samplers.random import RandomSampler
from hpopt.samplers.tpe import TPESampler
from hpopt.transform import SpaceTransform

__all__ = [
    "ReplaySampler", "Intersection", "GroupedFallback", "check_fallback", "positive", "space_key",
    "order_key",
]

#: Replayed runs kept per sampler (one per search space); the oldest is dropped beyond this.
MAX_CACHES = 8


class Intersection:
    """The parameters every COMPLETE trial has, with equal distributions; updated incrementally."""

    def __init__(self) -> None:
        self.version = -1
        self.seen: set[int] = set()
        self.inter: dict[str, Distribution] | None = None

    def space(self, history: History, lock: threading.Lock) -> dict[str, Distribution] | None:
        """The intersection (None before any trial completed)."""
        version = history.version()
        fin = history.finished()
        with lock:
            if version != self.version:
                for t in unseen_trials(fin, self.seen):  # only the trials new since last time
                    self.seen.add(t.number)
                    if t.state is not TrialState.COMPLETE:
                        continue
                    dists = t.distributions
                    if self.inter is None:
                        self.inter = dict(dists)
                    else:
                        self.inter = {k: d for k, d in self.inter.items() if dists.get(k) == d}
                self.version = version
            return None if self.inter is None else dict(self.inter)


def check_fallback(fallback: Any, seed: int) -> Sampler:
    """The explicit fallback sampler: the given one, or RandomSampler with the same seed."""
    if fallback is not None and not isinstance(fallback, Sampler):
        raise TypeError(f"`fallback_sampler` must be an hpopt Sampler or None, but got {fallback!r}.")
    return fallback or RandomSampler(seed=seed)


def positive(name: str, value: Any) -> float:
    """``value`` as a float, refused unless finite and ``> 0`` (the message names ``name``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"`{name}` must be a finite real number, but got {value!r}.")
    if value <= 0:
        raise ValueError(f"`{name} > 0` must hold, but got {name}={value!r}.")
    return float(value)


def space_key(space: Mapping[str, Distribution]) -> tuple[tuple[str, Distribution], ...]:
    return tuple(sorted(space.items(), key=lambda kv: kv[0]))


def order_key(t: FrozenTrial) -> tuple[float, int]:
    return (t.finished if t.finished is not None else math.inf, t.number)


class MixedSpace:
    """A search space split for the population samplers: numeric parameters as unit-box columns
    (``tf``, over ``num_names``) and categorical ones as choice indices (``cat_names``, with
    ``cat_sizes`` choices each)."""

    def __init__(self, space: Mapping[str, Distribution]) -> None:
        self.space = dict(space)
        self.num_names = [k for k, d in space.items() if not isinstance(d, Categorical)]
        self.cat_names = [k for k, d in space.items() if isinstance(d, Categorical)]
        self.tf = SpaceTransform({k: space[k] for k in self.num_names})
        self.cat_sizes = np.array([len(space[k].choices) for k in self.cat_names], dtype=int)  # type: ignore[union-attr]


class IntersectionSpace:
    """Mixin: the joint space is the parameters of every COMPLETE trial with equal distributions
    (``self._inter``, an :class:`Intersection`, guarded by ``self._lock``); any other parameter is
    drawn by ``self.fallback_sampler``."""

    _inter: Intersection
    _lock: Any
    fallback_sampler: Sampler

    def joint_space(self, history: History) -> dict[str, Distribution]:
        """Parameters of every COMPLETE trial, with equal distributions."""
        return self._inter.space(history, self._lock) or {}

    def sample(self, history: History, trial: TrialInfo, name: str, distribution: Distribution) -> Any:
        """A parameter outside the joint space: drawn by ``fallback_sampler``."""
        return self.fallback_sampler.sample(history, trial, name, distribution)


class ReplaySampler(IntersectionSpace, DerivedCaches, Sampler):
    """Base of samplers whose state is replayed from the finished trials (see the module doc)."""

    _derived = ("_runs", "_inter")

    def _init_replay(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[Any, Any] = {}
        self._inter = Intersection()


    def _new_run(self, space: Mapping[str, Distribution]) -> Any:
        raise NotImplementedError

    def _propose(self, run: Any, number: int) -> tuple[np.ndarray, np.ndarray]:
        """Trial ``number``'s point: unit-box numeric coordinates and categorical indices."""
        raise NotImplementedError

    def state(self, history: History, space: Mapping[str, Distribution]) -> Any:
        """The replayed run for ``space``, brought up to date with the history."""
        raise NotImplementedError

    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        if not space:
            return {}
        run = self.state(history, space)
        with self._lock:
            x, cats = self._propose(run, trial.number)
        return self._decode(run, space, x, cats)

    @staticmethod
    def _decode(
        run: Any, space: Mapping[str, Distribution], x: np.ndarray, cats: np.ndarray
    ) -> dict[str, Any]:
        """Parameter values of a proposal: unit-box numeric coordinates and categorical indices."""
        out = run.tf.decode(x) if run.num_names else {}
        for name, c in zip(run.cat_names, cats.tolist()):
            out[name] = space[name].choices[c]
        return out

    def _replayed(
        self,
        history: History,
        space: Mapping[str, Distribution],
        feed: Callable[[Any, list[FrozenTrial]], None],
    ) -> Any:
        """The run for ``space``, brought up to date with the history (``feed(run, new_trials)``)."""
        version = history.version()
        fin = history.finished()
        key = space_key(space)
        with self._lock:
            entry = self._runs.get(key)
            if entry is None:
                if len(self._runs) >= MAX_CACHES:
                    self._runs.pop(next(iter(self._runs)))
                entry = self._runs[key] = (self._new_run(space), set())
            run, checked = entry
            if run.version == version:
                return run
            # Finished trials never change, so each is checked for relevance once (a branch's run
            # sees only some of the trials; rescanning the others at every ask would cost O(n)).
            unseen = unseen_trials(fin, checked)
            checked.update(t.number for t in unseen)
            new = sorted((t for t in unseen if run.relevant(t)), key=order_key)
            if new and order_key(new[0]) < run.last_key:  # finished "in the past": replay all
                run = self._new_run(space)
                self._runs[key] = (run, checked)
                new = sorted((t for t in fin if run.relevant(t)), key=order_key)
            try:
                feed(run, new)
            except BaseException:
                # A half-fed run (e.g. ``constraints_func`` refused a trial) must not be reused: it
                # would skip that trial from now on, unlike a fresh process. Rebuild it next time.
                self._runs.pop(key, None)
                raise
            run.version = version
            return run


class _Membership:
    """For each parameter, the COMPLETE trials that have it; updated incrementally."""

    def __init__(self) -> None:
        self.version = -1
        self.seen: set[int] = set()  # every finished trial read so far, whatever its state
        self.trials: dict[str, set[int]] = {}

    def update(self, version: int, finished: Sequence[FrozenTrial]) -> None:
        """Read the trials of ``finished`` not seen yet (``version``: the history's, read with it)."""
        if version == self.version:
            return
        for t in unseen_trials(finished, self.seen):
            self.seen.add(t.number)
            if t.state is TrialState.COMPLETE:
                for name in t.params:
                    self.trials.setdefault(name, set()).add(t.number)
        self.version = version


class GroupedFallback:
    """Mixin for the replay samplers: the fallback samples each conditional group jointly.

    The sampler's own model covers the intersection of the COMPLETE trials' parameters (its joint
    space); the parameters outside it (conditional branches) are the fallback's. When the trial
    suggests the first parameter of a *group* — the parameters that the same COMPLETE trials have
    (a branch of a conditional space) — the fallback samples the whole group with
    ``sample_joint``, and the group's other parameters take those values when suggested. So a
    model-based fallback such as TPE treats each branch as one multivariate problem, and only the
    branches a trial takes are sampled. A parameter no COMPLETE trial has yet, or whose
    distribution changed, is sampled alone with ``sample``; a fallback without a joint model
    (``RandomSampler``) gives the plain per-parameter fallback.
    """

    fallback_sampler: Sampler
    _derived = ("_runs", "_inter", "_members", "_group_values")
    _GROUP_CACHE = 64  # trials whose group values are kept (several workers ask at once)

    def _init_groups(
        self, fallback_sampler: Sampler | None, seed: int,
        default: Callable[[int], Sampler] | None = None,
    ) -> None:
        """Set ``fallback_sampler`` (the given one, else ``default(seed)``, else TPE with ``seed``)
        and the group state."""
        if fallback_sampler is None:
            fallback_sampler = default(seed) if default is not None else TPESampler(seed=seed)
        self.fallback_sampler = check_fallback(fallback_sampler, seed)
        self._members = _Membership()
        self._group_values: dict[tuple[int, str], dict[str, Any]] = {}

    def _group(self, history: History, name: str, dist: Distribution) -> dict[str, Distribution]:
        """``name`` and the parameters outside the intersection that the same trials have."""
        inter = self._inter.space(history, self._lock) or {}  # type: ignore[attr-defined]
        # Read the history before taking the sampler's lock: ``sample`` runs outside the storage's
        # transaction (define-by-run ``suggest``), while ``ask`` calls the sampler inside it, so
        # reading the storage under the sampler's lock here could deadlock with another worker's ask.
        version, finished = history.version(), history.finished()
        with self._lock:  # type: ignore[attr-defined]
            self._members.update(version, finished)
            trials = self._members.trials
            mine = trials.get(name)
            if not mine:
                return {name: dist}
            names = [k for k, ts in trials.items() if k != name and k not in inter and ts == mine]
        group = {name: dist}
        for k in names:
            known = history.known_distribution(k)
            if known is not None:
                group[k] = known
        return group

    def sample(self, history: History, trial: TrialInfo, name: str, distribution: Distribution) -> Any:
        """A parameter outside the joint space: from its group's joint fallback sample."""
        group = self._group(history, name, distribution)
        if len(group) == 1:
            return self.fallback_sampler.sample(history, trial, name, distribution)
        key = (trial.number, "\x00".join(sorted(group)))
        with self._lock:  # type: ignore[attr-defined]
            values = self._group_values.get(key)
        if values is None:
            values = self.fallback_sampler.sample_joint(history, trial, group)
            with self._lock:  # type: ignore[attr-defined]
                if len(self._group_values) >= self._GROUP_CACHE:
                    self._group_values.pop(next(iter(self._group_values)))
                self._group_values[key] = values
        value = values.get(name)
        if value is None or not distribution.contains(value):
            return self.fallback_sampler.sample(history, trial, name, distribution)
        return value
