"""The ``auto`` sampler: picks a registered sampler for each trial from the study's shape and size.

:class:`AutoSampler` delegates every trial to one of hpopt's samplers, chosen from what the history
shows at ``ask`` (the search space seen in finished trials, the number of objectives, how many
trials finished) and the budget when you give it (``n_trials=``; ``Study.optimize`` does not pass
its ``n_trials`` to samplers, so say it here if you know it). The rules, in order (the first that
applies decides):

1. **No finished trial yet** -> the space is not known, so the first point is a random one either
   way; it is drawn by the delegate that runs the study's most common shape from its second trial
   on: ``gp`` for a single objective (its random first point, then its Sobol design), ``tpe`` for
   several objectives or when the GP is not available. A study whose space turns out to be
   conditional or categorical loses nothing: its first point was random anyway.
2. **Several objectives** -> ``tpe`` while fewer than ``MO_SWITCH`` (300) trials finished, then
   ``nsga2``. NSGA-II advances one generation (50 trials) at a time and needs many generations;
   at small budgets the model-based multi-objective TPE is the more sample-efficient choice.
   NSGA-II evolves only the parameters every COMPLETE trial has; in a conditional space (as in
   rule 3) the others (each branch's) come from its fallback, which here is the ``tpe`` delegate
   (multi-objective TPE, modelling them from the trials that have them) instead of NSGA-II's
   default random search (measured on eight two-objective and three-objective conditional
   problems, see benchmarks/RESULTS.md). A static space never reaches the fallback.
3. **Conditional space** (the COMPLETE trials do not all have the same parameter names: the
   define-by-run space depends on earlier choices) -> ``tpe``, whose groups model each branch
   from the trials that have it; the others optimize only the intersection of all trials.
4. **No free parameter** (every parameter has a single value) -> ``random``: there is nothing to
   model.
5. **Up to ``GP_MAX_DIM`` (50) GP columns, GP affordable** (one column per numeric parameter and
   one per choice of a categorical one, the GP's one-hot input: its cost per ask grows with them;
   mostly categorical spaces included: on four held-out ones the GP beat TPE on three and tied on
   the fourth, see benchmarks/RESULTS.md)
   -> ``gp`` while fewer trials finished than the GP limit: the GP is the most sample-efficient
   model on small spaces, but its cost per ask grows with the cube of the number of trials. The
   limit is the budget when it is known and at most ``GP_MAX_BUDGET`` (500) trials (the whole
   cost is then bounded and paid
   for sample efficiency); otherwise ``GP_SWITCH`` (200) trials, to keep the cost per ask flat in
   long or open-ended studies. **All-continuous spaces** (every free parameter a ``Float``
   without ``step``) hand over earlier, to ``cmaes`` with its lq surrogate, once the finished
   trials are enough for that surrogate to fit a full quadratic in the ``d`` parameters
   (``ceil(1.1 * (d + 1)(d + 2) / 2 / 0.75)``: 9 trials at d = 2, 31 at d = 5, 97 at d = 10;
   :func:`~hpopt.samplers.cma_surrogate.points_for_full_model`): the GP's trials explore and
   seed the model, lq-CMA-ES then converges much further per trial than our GP does (measured
   on held-out problems, see benchmarks/RESULTS.md). That CMA-ES is warm-started (WS-CMA-ES,
   Nomura et al. 2021) from the COMPLETE trials among the first ``h`` finished ones (the GP's),
   so it starts where the GP found good points instead of from the centre of the box; the
   decision carries ``warm_start = h`` and records it as ``auto:warm_start``. With integers,
   steps or categoricals the surrogate is off, and the GP keeps its limit.
6. **Otherwise** (after the GP phase, or larger spaces): ``cmaes`` when every parameter is numeric
   and at least ``max(CMA_MIN_TRIALS, CMA_TRIALS_PER_DIM * d)`` trials finished (CMA-ES needs a
   few generations of data; before that its first generations are near-random) or the GP handed
   over on an all-continuous space, else ``tpe``. TPE keeps handling mixed spaces with
   categoricals at every size.

When the ``gp`` sampler is not available (not registered and :mod:`hpopt.samplers.gp` not
importable), rule 5 is skipped. Switching is seamless: every candidate reads the whole history,
so the trials already run keep informing the next sampler.

**Recording.** The choice for a trial is made once, in :meth:`annotate`, and written into the
trial's system attributes (``auto:sampler`` and ``auto:reason``); the change of choice (not each
trial) is logged at INFO on the ``"hpopt"`` logger. ``joint_space``, ``sample_joint`` and
``sample`` use that trial's choice: it is kept in memory by trial number, and when missing (e.g. the
sampler was copied to another process between ``ask`` and a define-by-run ``suggest``), read back
from the running trial's notes, else recomputed from the history (a pure function of the history
the trial was asked with). Each delegate is built once per name, with this sampler's seed, and
reused, so its caches work.

Example:
    >>> import hpopt
    >>> study = hpopt.create_study(sampler=AutoSampler(seed=0, n_trials=20))
    >>> def objective(trial):
    ...     c = trial.suggest_categorical("c", ["a", "b", "c"])
    ...     k = trial.suggest_categorical("k", ["u", "v"])
    ...     return (c == "b") + (k == "v") + trial.suggest_float("x", 0, 1)
    >>> study.optimize(objective, n_trials=20)
    >>> study.trials[-1].system_attrs["auto:sampler"]
    'gp'
    >>> study.trials[-1].system_attrs["auto:reason"]
    '1 numeric + 2 categorical parameters <= 50, 19 trials (budget 20 <= 500): GP'
"""

from __future__ import annotations

import logging
import numbers
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hpopt.distributions import Categorical, Distribution, Float
from hpopt.records import FrozenTrial, TrialState
from hpopt.rng import resolve_seed
from hpopt.samplers.base import History, Sampler, TrialInfo, unseen_trials
from hpopt.samplers.cma_surrogate import points_for_full_model
from hpopt.samplers.replay import order_key, space_key

__all__ = ["AutoSampler", "Decision"]

_log = logging.getLogger("hpopt")

SAMPLER_KEY = "auto:sampler"
REASON_KEY = "auto:reason"
WARM_START_KEY = "auto:warm_start"

#: Several objectives: TPE below this many finished trials, NSGA-II from there on.
MO_SWITCH = 300
#: The GP handles spaces with up to this many parameters (at 100 trials it beat TPE and CMA-ES on
#: 7 and 8 of 9 problems with 20 and 50 parameters; its ask then costs ~0.1 s, see RESULTS.md).
GP_MAX_DIM = 50
#: Unknown (or larger) budget: hand over from the GP at this many finished trials.
GP_SWITCH = 200
#: A known budget up to this many trials keeps the GP to the end.
GP_MAX_BUDGET = 500
#: CMA-ES takes over from TPE on all-numeric spaces beyond the GP's reach after this many trials...
CMA_MIN_TRIALS = 100
#: ... or this many per parameter, whichever is more.
CMA_TRIALS_PER_DIM = 10

_MAX_CHOICES = 4096  # choices remembered by trial number (oldest dropped first)
_MAX_STUDIES = 4  # studies whose summaries are kept


class Decision:
    """One choice: the sampler's registered ``name``, a one-line ``reason`` a person can read and,
    for the GP's hand-over to CMA-ES, ``warm_start``: the delegate starts from the first this many
    finished trials (WS-CMA-ES); 0 for a plain delegate."""

    __slots__ = ("name", "reason", "warm_start")

    def __init__(self, name: str, reason: str, warm_start: int = 0) -> None:
        self.name, self.reason, self.warm_start = name, reason, warm_start

    def __repr__(self) -> str:
        ws = f", warm_start={self.warm_start}" if self.warm_start else ""
        return f"Decision({self.name!r}, {self.reason!r}{ws})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and (self.name, self.reason, self.warm_start) == (
            other.name, other.reason, other.warm_start)

    def __hash__(self) -> int:
        return hash((self.name, self.reason, self.warm_start))


class _Summary:
    """What the rules read from one study's finished trials, updated incrementally.

    Per finished trial: its state and (COMPLETE trials) its parameter names; the latest
    distribution of each parameter. New trials are found from the end of the finished view, so an
    ask costs the new trials only.
    """

    def __init__(self, history: History) -> None:
        self.history = history  # held so that its id cannot be reused by another study
        self.seen: set[int] = set()
        self.n_finished = 0
        self.n_complete = 0
        self.n_fail = 0
        self.name_sets: Counter[frozenset[str]] = Counter()
        self.warm: dict[int, Sampler] = {}  # the warm-started CMA-ES of each hand-over size
        # The finish-order key of the last trial each warm-started CMA-ES was built from: a trial
        # seen later that finished before it (``Study.add_trial`` keeps a trial's own, earlier
        # times; clocks of workers differ) changes "the first ones in finish order", so the
        # CMA-ES is built again, as a resumed process builds it.
        self.warm_last: dict[int, tuple[float, int]] = {}
        self.latest: dict[str, tuple[int, Distribution]] = {}
        self.version = -1

    def sync(self, fin: Sequence[FrozenTrial]) -> None:
        if len(fin) == len(self.seen):
            return
        for t in unseen_trials(fin, self.seen):
            self.seen.add(t.number)
            self.n_finished += 1
            if self.warm_last:
                key = order_key(t)
                for size in [k for k, last in self.warm_last.items() if key < last]:
                    self.warm.pop(size, None)
                    del self.warm_last[size]
            if t.state is TrialState.FAIL:
                self.n_fail += 1
                continue  # a crash may stop before every parameter was suggested
            if t.state is TrialState.COMPLETE:
                self.n_complete += 1
                self.name_sets[frozenset(t.params)] += 1
            for name, dist in t.distributions.items():
                old = self.latest.get(name)
                if old is None or old[0] < t.number:
                    self.latest[name] = (t.number, dist)

    def space(self) -> dict[str, Distribution]:
        return {name: dist for name, (_, dist) in self.latest.items()}


def _gp_factory() -> Any:
    """The GP sampler's constructor: the registered ``gp``, else :mod:`hpopt.samplers.gp`, else None."""
    from hpopt.plugins import available_samplers

    if "gp" in available_samplers():
        return "gp"
    try:
        from hpopt.samplers.gp import GPSampler  # type: ignore[import-not-found]
    except ImportError:
        return None
    return GPSampler


def decide(
    *,
    n_objectives: int,
    n_finished: int,
    space: Mapping[str, Distribution],
    conditional: bool,
    n_trials: int | None,
    gp_available: bool,
) -> Decision:
    """The rules of :class:`AutoSampler` as a pure function (see the module docstring).

    Args:
        n_objectives: Objectives of the study.
        n_finished: COMPLETE and PRUNED trials (FAIL ones tell nothing about the objective).
        space: The latest distribution of every parameter seen in a finished trial.
        conditional: Whether the COMPLETE trials have different parameter names.
        n_trials: The budget when known.
        gp_available: Whether a ``gp`` sampler can be built.
    """
    n = n_finished
    if n == 0 or not space:
        if n_objectives == 1 and gp_available:
            return Decision("gp", "no finished trial yet (search space unknown): GP's random first point")
        return Decision("tpe", "no finished trial yet (search space unknown): TPE, random start-up")
    if n_objectives > 1:
        if n < MO_SWITCH:
            return Decision("tpe", f"{n_objectives} objectives, {n} trials < {MO_SWITCH}: MO TPE")
        if conditional:
            return Decision("nsga2", f"{n_objectives} objectives, conditional space ({len(space)} parameters "
                            f"in several combinations), {n} trials >= {MO_SWITCH}: NSGA-II on the shared "
                            "parameters, MO TPE for the branch parameters")
        return Decision("nsga2", f"{n_objectives} objectives, {n} trials >= {MO_SWITCH}: NSGA-II")
    if conditional:
        return Decision("tpe", f"conditional space ({len(space)} parameters in several combinations): TPE")
    free = {k: d for k, d in space.items() if not d.single()}
    n_cat = sum(isinstance(d, Categorical) for d in free.values())
    n_num = len(free) - n_cat
    d = len(free)
    if d == 0:
        return Decision("random", "every parameter has a single value: random")
    kinds = f"{n_num} numeric + {n_cat} categorical parameters" if n_cat else f"{n_num} numeric parameters"
    # where CMA-ES runs its surrogate: every parameter (single-valued ones too) a Float without step
    continuous = all(isinstance(v, Float) and v.step is None for v in space.values())
    # The GP's input columns: one per numeric parameter, one per choice (one-hot). Its cost per ask
    # grows with them: 25 floats + 25 categoricals of 20 choices (525 columns) took 3-7 s per ask
    # at 300 trials, against under 1 s for 50 numeric parameters.
    width = n_num + sum(len(v.choices) for v in free.values() if isinstance(v, Categorical))
    handed_over = False
    if gp_available and width <= GP_MAX_DIM:
        if n_trials is not None and n_trials <= GP_MAX_BUDGET:
            limit, why = n_trials, f"budget {n_trials} <= {GP_MAX_BUDGET}"
        else:
            limit, why = GP_SWITCH, "budget unknown" if n_trials is None else f"budget {n_trials}"
            why += f", GP up to {GP_SWITCH}"
        if continuous and points_for_full_model(d) < limit:
            limit, handed_over = points_for_full_model(d), True
            why = "all continuous: lq-CMA-ES once its surrogate can fit a full quadratic"
        if n < limit:
            return Decision("gp", f"{kinds} <= {GP_MAX_DIM}, {n} trials ({why}): GP")
        gp_done = f"{n} trials >= GP limit {limit} ({why}); "
    else:
        if not gp_available:
            gp_done = "GP unavailable; "
        elif d > GP_MAX_DIM:
            gp_done = f"{d} > {GP_MAX_DIM} parameters; "
        else:
            gp_done = f"{width} GP columns (one per choice) > {GP_MAX_DIM}; "
    if handed_over:
        return Decision("cmaes", f"{kinds}, {gp_done}lq-CMA-ES warm-started from the GP's trials",
                        warm_start=limit)
    cma_from = max(CMA_MIN_TRIALS, CMA_TRIALS_PER_DIM * d)
    if n_cat == 0 and n >= cma_from:
        return Decision("cmaes", f"{kinds}, {gp_done}{n} trials >= {cma_from}: CMA-ES")
    if n_cat:
        return Decision("tpe", f"{kinds}, {gp_done}categoricals present: TPE")
    return Decision("tpe", f"{kinds}, {gp_done}{n} trials < {cma_from} (CMA-ES start): TPE")


class AutoSampler(Sampler):
    """Chooses a registered sampler for each trial; see :mod:`hpopt.samplers.auto` for the rules.

    Args:
        seed: Seed of every delegate (int, numpy Generator or None for fresh entropy).
        n_trials: The study's budget, when known (``Study.optimize(n_trials=...)`` does not tell
            samplers); it lets the GP phase run to the end of budgets up to ``GP_MAX_BUDGET``.
        settings: ``{sampler name: {setting: value}}`` passed to a delegate when it is built,
            e.g. ``{"tpe": {"n_startup_trials": 5}}``; those delegates are built (and their
            settings checked) here. ``constraints_func`` is refused: only some delegates take
            it, so the constraints would be dropped silently at a hand-over (use ``gp`` or
            ``nsga2`` directly for a constrained study).

    Raises:
        TypeError, ValueError: A setting out of range (named in the message).
    """

    supports_multi_objective = True

    def __init__(
        self,
        *,
        seed: int | np.random.Generator | None = None,
        n_trials: int | None = None,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if n_trials is not None:
            if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral):
                raise TypeError(f"`n_trials` must be an int or None, but got {n_trials!r}.")
            if n_trials < 1:
                raise ValueError(f"`n_trials >= 1` must hold, but got n_trials={n_trials!r}.")
            n_trials = int(n_trials)
        if settings is None:
            settings = {}
        if not isinstance(settings, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Mapping) and "seed" not in v for k, v in settings.items()
        ):
            raise TypeError(
                "`settings` must map sampler names to mappings of settings (without 'seed'), "
                f"but got {settings!r}."
            )
        constrained = sorted(k for k, v in settings.items() if "constraints_func" in v)
        if constrained:
            raise ValueError(
                f"`settings` may not give `constraints_func` (to {constrained}): the auto sampler hands "
                "over to samplers that ignore constraints (tpe, cmaes), so they would be dropped "
                "after the first trials. Use sampler='gp' (one objective) or 'nsga2' with "
                "constraints_func instead."
            )
        self.seed = resolve_seed(seed)
        self.n_trials = n_trials
        self.settings = {k: dict(v) for k, v in settings.items()}
        self._lock = threading.RLock()
        self._local = threading.local()
        self._delegates: dict[str, Sampler] = {}
        self._choices: OrderedDict[tuple[int, int], Decision] = OrderedDict()
        self._summaries: OrderedDict[int, _Summary] = OrderedDict()
        self._last_logged: dict[int, str] = {}
        self._gp: Any = _gp_factory()
        for name in self.settings:
            self.delegate(name)  # unknown names and bad settings are refused now

    def __repr__(self) -> str:
        return f"AutoSampler(seed={self.seed}, n_trials={self.n_trials})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_lock", "_local", "_summaries", "_choices", "_last_logged"):
            del state[key]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._choices = OrderedDict()
        self._summaries = OrderedDict()
        self._last_logged = {}

    # -- the choice -------------------------------------------------------------------------------
    def _summary(self, history: History) -> _Summary:
        # The history is read before taking this sampler's lock: ``sample`` (define-by-run
        # ``suggest``) runs outside the storage's transaction and ``ask`` calls samplers inside
        # it, so reading the storage under this lock could deadlock with another worker's ask.
        version = history.version()
        fin = history.finished()
        with self._lock:
            key = id(history)
            s = self._summaries.get(key)
            if s is None:
                s = self._summaries[key] = _Summary(history)
                while len(self._summaries) > _MAX_STUDIES:
                    self._summaries.popitem(last=False)
            if s.version != version:
                s.sync(fin)
                s.version = version
            return s

    def decide(self, history: History) -> Decision:
        """The choice for a trial asked now on ``history`` (a pure function of the history)."""
        s = self._summary(history)
        with self._lock:
            return decide(
                n_objectives=history.n_objectives,
                n_finished=s.n_finished - s.n_fail,
                space=s.space(),
                conditional=len(s.name_sets) > 1,
                n_trials=self.n_trials,
                gp_available=self._gp is not None,
            )

    def delegate(self, name: str) -> Sampler:
        """The delegate for ``name``, built once (with this sampler's seed) and reused.

        ``nsga2``'s ``fallback_sampler`` (the parameters outside its joint space: a conditional
        space's branches) is the ``tpe`` delegate unless ``settings`` give one."""
        with self._lock:
            sampler = self._delegates.get(name)
            if sampler is None:
                extra = self.settings.get(name, {})
                if name == "nsga2" and "fallback_sampler" not in extra:
                    extra = {**extra, "fallback_sampler": self.delegate("tpe")}
                if name == "gp" and not isinstance(self._gp, str) and self._gp is not None:
                    sampler = self._gp(seed=self.seed, **extra)
                else:
                    from hpopt.plugins import make_sampler

                    sampler = make_sampler(name, seed=self.seed, **extra)
                self._delegates[name] = sampler
            return sampler

    def _delegate_for(self, history: History, d: Decision) -> Sampler:
        """The delegate that runs ``d``: the one named, or for the GP's hand-over a CMA-ES
        warm-started (WS-CMA-ES, Nomura et al. 2021) from the COMPLETE trials among the first
        ``d.warm_start`` finished ones in finish order: a pure function of the history, so every
        worker and a resumed process build the same. The GP's trials seed the distribution (mean
        and covariance from the best of them) instead of CMA-ES starting again from the centre."""
        if not d.warm_start:
            return self.delegate(d.name)
        summary = self._summary(history)
        with self._lock:
            sampler = summary.warm.get(d.warm_start)
        if sampler is not None:
            return sampler
        first = sorted(history.finished(), key=order_key)[: d.warm_start]  # read outside the lock
        source = [t for t in first if t.state is TrialState.COMPLETE]
        extra = self.settings.get(d.name, {})
        if not source or "warm_start_trials" in extra:
            return self.delegate(d.name)
        from hpopt.plugins import make_sampler

        try:
            sampler = make_sampler(d.name, seed=self.seed, **{**extra, "warm_start_trials": source})
        except (TypeError, ValueError):  # e.g. the first trials do not share one search space
            return self.delegate(d.name)
        if len(first) < d.warm_start:  # not all finished yet (cannot happen after decide's count)
            return sampler
        with self._lock:  # kept per study until a trial that finished earlier arrives (see _Summary)
            kept = summary.warm.setdefault(d.warm_start, sampler)
            if kept is sampler:
                summary.warm_last[d.warm_start] = order_key(first[-1])
            return kept

    def _remember(self, history: History, number: int, decision: Decision) -> None:
        with self._lock:
            key = (id(history), number)
            self._choices[key] = decision
            self._choices.move_to_end(key)
            while len(self._choices) > _MAX_CHOICES:
                self._choices.popitem(last=False)

    def _choice(self, history: History, number: int) -> Decision:
        """The decision recorded for trial ``number`` (memory, its notes, or recomputed)."""
        with self._lock:
            d = self._choices.get((id(history), number))
        if d is not None:
            return d
        for t in history.running():
            if t.number == number and t.system_attrs.get(SAMPLER_KEY) is not None:
                d = Decision(str(t.system_attrs[SAMPLER_KEY]), str(t.system_attrs.get(REASON_KEY, "")),
                             int(t.system_attrs.get(WARM_START_KEY, 0)))
                break
        else:
            d = self.decide(history)
        self._remember(history, number, d)
        return d

    # -- the protocol -----------------------------------------------------------------------------
    def annotate(self, history: History, trial: TrialInfo) -> Mapping[str, Any]:
        """Make and record the choice for ``trial``: ``auto:sampler`` and ``auto:reason``."""
        d = self.decide(history)
        self._remember(history, trial.number, d)
        self._local.current = (id(history), history.version(), d)
        with self._lock:
            changed = self._last_logged.get(id(history)) != d.name
            self._last_logged[id(history)] = d.name
        if changed:
            _log.info("auto sampler: trial %d uses %s (%s)", trial.number, d.name, d.reason)
        inner = self._delegate_for(history, d).annotate(history, trial)
        notes = {**inner, SAMPLER_KEY: d.name, REASON_KEY: d.reason}
        if d.warm_start:
            notes[WARM_START_KEY] = d.warm_start
        return notes

    def _current(self, history: History) -> Decision:
        """The choice of the trial being asked in this thread (``joint_space`` has no trial)."""
        cur = getattr(self._local, "current", None)
        if cur is not None and cur[0] == id(history) and cur[1] == history.version():
            return cur[2]
        return self.decide(history)

    def joint_space(self, history: History) -> dict[str, Distribution]:
        """The chosen delegate's joint space."""
        return self._delegate_for(history, self._current(history)).joint_space(history)

    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        """Values from the delegate chosen for ``trial``."""
        d = self._choice(history, trial.number)
        sampler = self._delegate_for(history, d)
        warm = getattr(sampler, "warm_start_trials", None) if d.warm_start else None
        if warm and space_key(warm[0].distributions) != space_key(space):
            # The space moved on after the hand-over (a parameter added, removed or changed): the
            # GP's trials no longer describe it, so the plain CMA-ES delegate runs this space.
            sampler = self.delegate(d.name)
        return sampler.sample_joint(history, trial, space)

    def sample(self, history: History, trial: TrialInfo, name: str, distribution: Distribution) -> Any:
        """One value from the delegate chosen for ``trial`` (the same one as its annotate)."""
        return self._delegate_for(history, self._choice(history, trial.number)).sample(
            history, trial, name, distribution
        )

    def is_exhausted(self, history: History) -> bool:
        """Never: the delegates chosen here (not ``grid``) always have something to propose."""
        return False
