"""``optimize(..., executor=...)``: objectives evaluated by any ``concurrent.futures.Executor``.

The caller keeps ``ask`` and ``tell`` (so the sampler sees every pending trial); workers — threads,
processes, a Dask cluster through ``Client.get_executor()`` — only run the objective. A worker gets
a :class:`RemoteTrial` carrying proposed values for every parameter the study knows (the sampler's
joint plan plus one independent draw per other known name). When the objective suggests a
parameter with no usable proposal, the worker stops and asks the caller for it; the caller samples
it with the full history and submits the trial again (only the first trials of a study, or a new
conditional branch, pay this round trip). Reports and user attributes made in the worker are
recorded when the result comes back; ``should_prune`` always answers False in a worker (a pruner
needs the study, which stays with the caller).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from hpopt.distributions import Categorical, Distribution, Float, Int
from hpopt.errors import SearchSpaceExhausted, TrialPruned
from hpopt.records import FrozenTrial, TrialState
from hpopt.samplers.base import TrialInfo
from hpopt.trial import check_name, json_value

if TYPE_CHECKING:
    from hpopt.study import Study, _Budget
    from hpopt.trial import Trial

__all__ = ["RemoteTrial", "RemoteError", "optimize_with_executor"]


class _NeedParam(Exception):  # noqa: N818  (internal control flow)
    def __init__(self, name: str, dist: Distribution) -> None:
        super().__init__(name)
        self.name, self.dist = name, dist


class RemoteTrial:
    """What an objective receives in an executor worker: the :class:`~hpopt.Trial` interface over
    values proposed by the caller.

    Attributes:
        number: The trial's number in the caller's study.
    """

    def __init__(self, number: int, proposals: Mapping[str, Any]) -> None:
        self.number = number
        self._proposals = dict(proposals)
        self.params: dict[str, Any] = {}
        self.distributions: dict[str, Distribution] = {}
        self.reports: list[tuple[int, Any]] = []
        self.user_attrs: dict[str, Any] = {}

    def suggest(self, name: str, distribution: Distribution) -> Any:
        """The proposed value of ``name`` (or a request to the caller for one)."""
        if name in self.distributions:
            if self.distributions[name] == distribution:
                return self.params[name]
            raise ValueError(
                f"parameter {name!r} was already suggested in trial {self.number} as "
                f"{self.distributions[name]!r}; it cannot be suggested again as {distribution!r}."
            )
        check_name("parameter", name)
        value = self._proposals.get(name, _MISSING)
        if value is _MISSING or not distribution.contains(value):
            raise _NeedParam(name, distribution)
        value = distribution.canonical(value)
        self.params[name] = value
        self.distributions[name] = distribution
        return value

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        """As :meth:`hpopt.Trial.suggest_float`."""
        return self.suggest(name, _build(name, Float, low, high, log=log, step=step))

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False, step: int = 1) -> int:
        """As :meth:`hpopt.Trial.suggest_int`."""
        return self.suggest(name, _build(name, Int, low, high, log=log, step=step))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        """As :meth:`hpopt.Trial.suggest_categorical`."""
        return self.suggest(name, _build(name, Categorical, choices))

    def report(self, value: Any, step: int) -> None:
        """Recorded with the trial when the result reaches the caller."""
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        """Always False in a worker (pruning needs the study, which stays with the caller)."""
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        """Recorded with the trial when the result reaches the caller."""
        check_name("user attribute", key)
        self.user_attrs[key] = json_value("user attribute", key, value)


_MISSING = object()


class RemoteError(RuntimeError):
    """An exception of the objective that cannot travel back from a worker as itself.

    An exception that does not pickle (it holds a lock, a socket, ...) or does not unpickle (a
    custom ``__init__`` with required arguments that ``args`` does not carry) would break the
    executor (a process pool dies of it). It comes back as this stand-in instead, which keeps the
    original's message and the qualified names of its classes, so that ``optimize(catch=...)``
    still decides as it would for the original.

    Attributes:
        type_name: The original exception's class name.
        message: ``str()`` of the original exception.
        mro: ``module.qualname`` of every class of the original exception.
    """

    def __init__(self, type_name: str, message: str, mro: tuple[str, ...]) -> None:
        super().__init__(type_name, message, mro)
        self.type_name, self.message, self.mro = type_name, message, tuple(mro)

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}"

    @classmethod
    def of(cls, exc: BaseException) -> RemoteError:
        """The stand-in for ``exc``."""
        return cls(type(exc).__name__, str(exc), tuple(_qualname(c) for c in type(exc).__mro__))


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _travels(exc: BaseException) -> bool:
    """Whether ``exc`` survives a pickle round trip (what a process or Dask worker does to it)."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001  (PicklingError, TypeError from __init__, AttributeError, ...)
        return False
    return True


def _caught(exc: BaseException, catch: tuple[type, ...]) -> bool:
    """``isinstance(exc, catch)``, also for a :class:`RemoteError` standing in for the original."""
    if isinstance(exc, catch):
        return True
    if isinstance(exc, RemoteError):
        return any(_qualname(c) in exc.mro for c in catch)
    return False


def _reason(exc: BaseException) -> str:
    """The fail reason a trial records (the original's type and message for a stand-in)."""
    return str(exc) if isinstance(exc, RemoteError) else f"{type(exc).__name__}: {exc}"


def _build(name: str, cls: type, *args: Any, **kwargs: Any) -> Distribution:
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"parameter {name!r}: {exc}") from None


def _evaluate(
    func: Callable[[Any], Any], number: int, proposals: dict[str, Any]
) -> tuple[str, Any, RemoteTrial]:
    """Run the objective in a worker; never raises (the outcome says what happened)."""
    trial = RemoteTrial(number, proposals)
    try:
        result = func(trial)
    except _NeedParam as need:
        return "need", (need.name, need.dist), trial
    except TrialPruned:
        return "pruned", None, trial
    except Exception as exc:  # noqa: BLE001  (travels back to the caller, which decides)
        # A round trip, not only dumps: an exception that pickles but does not unpickle would
        # otherwise break the executor in the caller (a process pool dies of it).
        return "error", (exc if _travels(exc) else RemoteError.of(exc)), trial
    return "value", result, trial


def _proposals(study: Study, trial: Trial) -> dict[str, Any]:
    """Values for every parameter the study knows: the trial's plan, plus independent draws."""
    proposals = dict(trial._plan)
    proposals.update(trial._fixed)
    proposals.update(trial._params)
    known = study._storage._study(study._sid).dists
    info = TrialInfo(trial.number, {}, {}, trial._fixed)
    for name, dist in list(known.items()):
        if name not in proposals:
            try:
                proposals[name] = study.sampler.sample(study._history, info, name, dist)
            except ValueError:
                continue  # e.g. the grid has no such name: the worker will ask if it needs it
    return proposals


def resolve_executor(executor: Any, n_jobs: int) -> tuple[Executor, bool]:
    """An Executor for ``executor`` ("process" builds a ProcessPoolExecutor); whether we own it."""
    if executor == "process":
        return ProcessPoolExecutor(max_workers=n_jobs), True
    if isinstance(executor, Executor) or (hasattr(executor, "submit") and hasattr(executor, "shutdown")):
        return executor, False
    raise TypeError(
        f"`executor` must be a concurrent.futures.Executor (e.g. Dask's Client.get_executor()) or "
        f"'process', but got {executor!r}."
    )


def optimize_with_executor(
    study: Study,
    func: Callable[[Any], Any],
    budget: _Budget,
    catch: tuple[type, ...],
    callbacks: list[Callable[[Study, FrozenTrial], None]],
    executor: Executor,
    max_pending: int,
) -> None:
    """The caller's loop: keep ``max_pending`` trials in flight, tell each as it comes back."""
    if isinstance(executor, ProcessPoolExecutor):  # refused before any trial is asked (G6)
        from multiprocessing.reduction import ForkingPickler

        try:
            ForkingPickler.dumps(func)
        except Exception as exc:  # noqa: BLE001  (PicklingError, AttributeError, TypeError, ...)
            raise TypeError(
                f"`func` must be picklable to run in a process pool (a module-level function, not a "
                f"lambda or a local function), but pickling {func!r} failed: {exc}"
            ) from None
    pending: dict[Future, tuple[Trial, dict[str, Any]]] = {}
    exhausted = False
    try:
        while True:
            while not exhausted and not study._stop_flag and len(pending) < max_pending and budget.take():
                study._storage.sync()
                if study._exhausted():
                    exhausted = True
                    break
                try:
                    trial = study.ask()
                except SearchSpaceExhausted:
                    if study._exhausted():
                        exhausted = True
                        break
                    continue  # an enqueued trial the sampler could not complete was failed
                proposals = _proposals(study, trial)
                pending[executor.submit(_evaluate, func, trial.number, proposals)] = (trial, proposals)
            if not pending:
                return
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                trial, proposals = pending.pop(fut)
                try:
                    kind, payload, remote = fut.result()
                except BaseException as exc:  # SystemExit/KeyboardInterrupt in the worker, a dead
                    # process pool, a cancelled future: the trial is no longer in `pending`, so
                    # fail it here (G6: optimize never leaves a trial RUNNING), then stop.
                    reason = f"{type(exc).__name__}: {exc}"
                    study._finish(trial.number, trial, TrialState.FAIL, None, reason, True)
                    raise
                if kind == "need":
                    name, dist = payload
                    try:
                        proposals[name] = trial.suggest(name, dist)
                    except (ValueError, TypeError) as exc:
                        ft = _record(study, trial, remote, "error", exc, catch)
                    else:
                        pending[executor.submit(_evaluate, func, trial.number, proposals)] = (
                            trial, proposals
                        )
                        continue
                else:
                    ft = _record(study, trial, remote, kind, payload, catch)
                for cb in callbacks:
                    cb(study, ft)
    except BaseException:
        study._stop_flag = True
        for fut, (trial, _) in pending.items():
            fut.cancel()
            study._finish(trial.number, trial, TrialState.FAIL, None, "optimize() was interrupted", True)
        raise


def _record(
    study: Study, trial: Trial, remote: RemoteTrial, kind: str, payload: Any, catch: tuple[type, ...]
) -> FrozenTrial:
    """Replay what the worker did on the caller's trial, then tell the outcome."""
    try:
        for name, dist in remote.distributions.items():
            trial._plan[name] = remote.params[name]
            trial.suggest(name, dist)
        for key, value in remote.user_attrs.items():
            trial.set_user_attr(key, value)
        for step, value in remote.reports:
            trial.report(value, step)
    except (ValueError, TypeError) as exc:  # what the objective did was invalid: as if it raised
        kind, payload = "error", exc
    if kind == "error":
        exc = payload
        study._finish(trial.number, trial, TrialState.FAIL, None, _reason(exc), True)
        if not _caught(exc, catch):
            raise exc
        return study._storage.trial(study._sid, trial.number)
    if kind == "pruned":
        return study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
    return study._conclude(trial, payload)


def default_pending(executor: Executor, n_jobs: int) -> int:
    """How many trials to keep in flight: n_jobs, else the executor's worker count, else CPUs."""
    if n_jobs > 1:
        return n_jobs
    workers = getattr(executor, "_max_workers", None)
    return int(workers) if workers else (os.cpu_count() or 1)
