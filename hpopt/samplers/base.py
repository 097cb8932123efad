"""The sampler protocol: what a sampler sees (:class:`History`, :class:`TrialInfo`) and implements.

A sampler turns a study's history into parameters. Two levels, so that a ten-line plugin and a joint
model both fit:

* :meth:`Sampler.sample` — one parameter on its own. Required; a minimal sampler implements only
  this.
* :meth:`Sampler.joint_space` + :meth:`Sampler.sample_joint` — several parameters together at the
  start of a trial. ``ask(space)`` with a static space always calls ``sample_joint`` on that space
  (the default loops over ``sample``); in define-by-run, ``joint_space`` says which parameters to
  plan ahead (default: none). Planned values are used when the objective suggests those names
  with a distribution that contains them.

The core does the bookkeeping: it counts trials, validates every returned value against its
distribution, converts numpy scalars to Python values and writes. Samplers never see the study or
its storage, only a read-only :class:`History`.

Example (a complete plugin sampler):
    >>> import hpopt
    >>> class Lowest(hpopt.Sampler):
    ...     '''Always the lower bound (or first choice).'''
    ...     def sample(self, history, trial, name, distribution):
    ...         return distribution.from_internal(distribution.internal_bounds[0])
    >>> study = hpopt.create_study(sampler=Lowest())
    >>> study.ask().suggest_float("x", 2.0, 3.0)
    2.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpopt.distributions import Distribution
from hpopt.records import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hpopt.storage.journal import Storage

__all__ = ["Sampler", "History", "TrialInfo"]

#: System attribute holding a RUNNING define-by-run trial's planned (not yet suggested) values.
PLAN_KEY = "hpopt.plan"


def running_params(trial: FrozenTrial) -> dict[str, Any]:
    """A RUNNING trial's values so far: its plan (planned at ask, not yet suggested) and its
    suggested parameters (which win). What samplers count as taken by the workers still running."""
    plan = trial.system_attrs.get(PLAN_KEY)
    return {**plan, **trial.params} if plan else dict(trial.params)


def unseen_trials(finished: Sequence[FrozenTrial], seen: set[int]) -> list[FrozenTrial]:
    """The trials of ``finished`` whose numbers are not in ``seen`` (every number seen is finished).

    Trials that finished since the last call are usually at the end, so the scan stops at the first
    trial already seen; when that does not account for every new trial (one finished "in the past"
    of the order), the whole list is scanned.
    """
    new: list[FrozenTrial] = []
    for t in reversed(finished):
        if t.number in seen:
            break
        new.append(t)
    if len(new) != len(finished) - len(seen):
        new = [t for t in finished if t.number not in seen]
    return new


class History:
    """A read-only view of one study for samplers and pruners.

    Reads cost no I/O: the view shows the storage as of the moment the current trial was asked
    (or ``should_prune`` was called), finished *and* running trials of every worker included.
    """

    __slots__ = ("_storage", "_sid", "directions", "study_name")

    def __init__(self, storage: Storage, sid: int) -> None:
        self._storage = storage
        self._sid = sid
        self.directions: tuple[str, ...] = storage.directions(sid)
        self.study_name: str = storage.study_name(sid)

    @property
    def n_objectives(self) -> int:
        """Number of objectives of the study."""
        return len(self.directions)

    def finished(self) -> Sequence[FrozenTrial]:
        """COMPLETE, PRUNED and FAIL trials, sorted by number."""
        return self._storage.finished_view(self._sid)

    def trials(self, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        """Finished trials in ``states`` (default: COMPLETE only), sorted by number."""
        wanted = frozenset(states) if states is not None else frozenset({TrialState.COMPLETE})
        return [t for t in self.finished() if t.state in wanted]

    def running(self) -> list[FrozenTrial]:
        """Trials other workers (and this one) are evaluating now."""
        return self._storage.running_view(self._sid)

    def version(self) -> int:
        """Grows with every change to the study: a cache key for derived models."""
        return self._storage.version(self._sid)

    def known_distribution(self, name: str) -> Distribution | None:
        """The latest distribution used for ``name`` anywhere in the study."""
        return self._storage.known_distribution(self._sid, name)


class TrialInfo:
    """What a sampler knows about the trial being sampled: its number and what it has so far.

    Attributes:
        number: The trial's number (use it with the seed for reproducible randomness).
        params: Parameters suggested so far in this trial (read-only).
        distributions: Their distributions (read-only).
        fixed: Values enqueued for this trial with ``enqueue_trial`` (read-only).
    """

    __slots__ = ("number", "params", "distributions", "fixed")

    def __init__(
        self,
        number: int,
        params: Mapping[str, Any],
        distributions: Mapping[str, Distribution],
        fixed: Mapping[str, Any],
    ) -> None:
        self.number = number
        self.params = params
        self.distributions = distributions
        self.fixed = fixed


class DerivedCaches:
    """Mixin: a sampler whose caches are derived from the history pickles without them.

    ``_derived`` names the attributes that hold such caches; each is replaced by an empty one of
    the same type, and the ``_lock`` (a ``threading.Lock``) is dropped and made anew on unpickling.
    """

    _derived: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock", None)
        for key in self._derived:
            state[key] = type(state[key])()  # rebuilt from the history on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import threading

        self.__dict__.update(state)
        self._lock = threading.Lock()


class Sampler:
    """Base class of every sampler. Subclass it and implement :meth:`sample` at least.

    A sampler must be reproducible from its seed and the trial number, and must derive any state
    from the history (so it stays right when other workers add trials). Settings are keyword
    arguments of ``__init__`` validated there; ``hpopt.make_sampler(name, **settings)`` passes them.
    """

    #: Whether the sampler handles studies with several objectives.
    supports_multi_objective: bool = True

    def sample(self, history: History, trial: TrialInfo, name: str, distribution: Distribution) -> Any:
        """Return a value for one parameter (inside ``distribution``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement sample()")

    def joint_space(self, history: History) -> dict[str, Distribution]:
        """Parameters to plan jointly at the start of a define-by-run trial (default: none)."""
        return {}

    def sample_joint(
        self, history: History, trial: TrialInfo, space: Mapping[str, Distribution]
    ) -> dict[str, Any]:
        """Return values for all of ``space`` at once (default: :meth:`sample` per parameter)."""
        return {name: self.sample(history, trial, name, dist) for name, dist in space.items()}

    def annotate(self, history: History, trial: TrialInfo) -> Mapping[str, Any]:
        """Notes to record in the new trial's system attributes at ``ask`` (default: none).

        Called once per trial before any sampling, inside the same write as the trial itself; the
        values must be JSON-serializable. The ``auto`` sampler records its choice this way.
        """
        return {}

    def is_exhausted(self, history: History) -> bool:
        """True when the sampler has nothing new to propose (``optimize`` then stops)."""
        return False

    def check_study(self, directions: Sequence[str]) -> None:
        """Refuse a study the sampler cannot handle (called by ``create_study``).

        Raises:
            ValueError: e.g. several objectives for a single-objective sampler.
        """
        if len(directions) > 1 and not self.supports_multi_objective:
            raise ValueError(
                f"{type(self).__name__} handles one objective, but the study has "
                f"{len(directions)} ({list(directions)})."
            )
