"""The :class:`Study`: ask for parameters, tell results; ``create_study`` and ``load_study``.

A study holds no state of its own beyond a storage handle, a sampler and a pruner: everything it
knows is in the storage, so many processes can share one study.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from hpopt._checks import CONSTRAINTS_KEY, check_bool, constraint_values, stored_constraints
from hpopt._frozendict import EMPTY, FrozenDict, deep_freeze
from hpopt.distributions import Categorical, Distribution, Float, Int, check_compatible
from hpopt.errors import (
    FailedTrialWarning,
    SamplerError,
    SearchSpaceExhausted,
    TrialFinishedError,
    TrialPruned,
)
from hpopt.heartbeat import Beater
from hpopt.pruners.base import Pruner
from hpopt.records import FrozenTrial, TrialState
from hpopt.samplers.base import PLAN_KEY, History, Sampler, TrialInfo
from hpopt.storage import Storage
from hpopt.storage.journal import GRACE_KEY, redact_url
from hpopt.trial import Trial, _as_list, check_name, checked_gradient, json_value, real_value

if TYPE_CHECKING:
    from hpopt.refine import RefinedSpace

__all__ = ["Study", "pareto_front_mask"]

_log = logging.getLogger("hpopt")
FAIL_REASON = "fail_reason"
GRADIENT_KEY = "gradient"


class Study:
    """A study: a named set of trials in a storage, with a sampler and a pruner.

    Create one with :func:`create_study` or :func:`load_study`, not directly.

    Example (ask/tell in your own loop):
        >>> import hpopt
        >>> study = hpopt.create_study(seed=0)
        >>> for _ in range(20):
        ...     trial = study.ask()
        ...     x = trial.suggest_float("x", -10, 10)
        ...     study.tell(trial, (x - 2) ** 2)  # doctest: +ELLIPSIS
        FrozenTrial(...)
        ...
        >>> study.best_params["x"] > -10
        True
    """

    def __init__(
        self,
        storage: Storage,
        sid: int,
        sampler: Sampler,
        pruner: Pruner,
        heartbeat_interval: float | None = None,
    ) -> None:
        self._storage = storage
        self._sid = sid
        self.sampler = sampler
        self.pruner = pruner
        self._history = History(storage, sid)
        # Trials asked here and not yet told, held until told: their unwritten suggestions must
        # reach the store even when the caller keeps only the number (``tell(number, ...)``), and
        # the heartbeat beats them while this process lives.
        self._live: dict[int, Trial] = {}
        # constraints_func -> trial number -> feasible (finished trials never change)
        self._feasible_cache: dict[Any, dict[int, bool]] = {}
        # constraints_func (or None) -> the best feasible COMPLETE trial so far, folded in once per
        # finished trial (see _best_feasible); its own lock: n_jobs threads log after each tell.
        self._best_scan: dict[Any, _BestScan] = {}
        self._best_lock = threading.Lock()
        self._n_constraints: int | None = None  # constraint values per trial, once known
        self._stop_flag = False
        self._beater = Beater(self, heartbeat_interval) if heartbeat_interval else None

    def __repr__(self) -> str:
        return f"<Study {self.study_name!r} in {redact_url(self._storage.url)}>"

    # -- identity ---------------------------------------------------------------------------------
    @property
    def study_name(self) -> str:
        """The study's name."""
        return self._history.study_name

    @property
    def directions(self) -> list[str]:
        """One of "minimize"/"maximize" per objective."""
        return list(self._history.directions)

    @property
    def direction(self) -> str:
        """The direction of a single-objective study.

        Raises:
            RuntimeError: The study has several objectives (use ``directions``).
        """
        self._single("direction")
        return self._history.directions[0]

    @property
    def storage(self) -> Storage:
        """The storage the study lives in."""
        return self._storage

    @property
    def user_attrs(self) -> dict[str, Any]:
        """A copy of the study's user attributes."""
        return self._storage.study_attrs(self._sid, "user")

    @property
    def system_attrs(self) -> dict[str, Any]:
        """A copy of the study's system attributes."""
        return self._storage.study_attrs(self._sid, "sys")

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable value to the study (written at once)."""
        check_name("user attribute", key)
        self._storage.set_study_attr(self._sid, "user", key, json_value("user attribute", key, value))

    # -- ask / tell -------------------------------------------------------------------------------
    def ask(self, space: Mapping[str, Distribution] | None = None) -> Trial:
        """Start a trial. Enqueued trials come first.

        Args:
            space: None for define-by-run (call ``trial.suggest_*``), or a dict of name ->
                distribution: those parameters are sampled jointly now and are in ``trial.params``.

        Raises:
            TypeError, ValueError: An invalid ``space``, or one that gives a parameter of the study
                another type, log flag or choice list (nothing is written).
            SearchSpaceExhausted: The sampler has nothing left (e.g. every grid point was taken).
        """
        if space is not None:
            space = _check_space(space)
            for name, dist in space.items():  # as a define-by-run suggest checks it (no extra read)
                known = self._storage.known_distribution(self._sid, name)
                if known is not None:
                    check_compatible(name, known, dist)
        sampler, history = self.sampler, self._history
        planned: dict[str, Any] = {}

        def plan(number: int, fixed: Mapping[str, Any]) -> tuple[dict, dict, dict]:
            info = TrialInfo(number, {}, {}, fixed)
            notes = _notes(sampler, history, info)
            if space is not None:
                todo = {n: d for n, d in space.items() if n not in fixed}
                values = sampler.sample_joint(history, info, todo) if todo else {}
                params = {n: _planned_value(sampler, n, d, fixed, values) for n, d in space.items()}
                return params, dict(space), notes
            joint = sampler.joint_space(history)
            todo = {n: d for n, d in joint.items() if n not in fixed}
            if not todo:
                return {}, {}, notes
            values = sampler.sample_joint(history, info, todo)
            planned.update({n: _planned_value(sampler, n, d, {}, values) for n, d in todo.items()})
            return {}, {}, {**notes, PLAN_KEY: dict(planned)}

        if self._storage._study(self._sid).sys.get(GRACE_KEY):
            self._storage.reap(self._sid)
        number, params, fixed = self._storage.ask(self._sid, plan)
        # An enqueued (or retried) trial carries user attributes from the queue: the objective
        # reads them through ``trial.user_attrs`` (as in Optuna), e.g. to tell a manual trial apart.
        queued = self._storage._trial(self._sid, number).user
        trial = Trial(self, number, params, dict(space) if space else {}, dict(fixed), planned,
                      user=dict(queued) if queued else None)
        self._live[number] = trial
        if self._beater is not None:
            self._storage.beat(self._sid, number)
            self._beater.ensure_running()
        return trial

    def tell(
        self,
        trial: Trial | int,
        values: float | Sequence[float] | None = None,
        *,
        state: TrialState | str | None = None,
        skip_if_finished: bool = False,
        gradient: Mapping[str, float] | None = None,
    ) -> FrozenTrial:
        """Finish a trial with its objective value(s) and return its record.

        Args:
            trial: The :class:`Trial` from ``ask`` or its number. A number that another handle or
                process asked is finished with the parameters written so far: a handle writes its
                suggestions with each ``report``, heartbeat or ``trial.beat()``, and its own
                ``tell`` (call ``trial.beat()`` before handing the number on).
            values: One real number per objective. NaN marks the trial FAIL (with a warning).
            state: ``"complete"`` (default), ``"pruned"`` (values default to the last report; a
                NaN value, given or reported, leaves the pruned trial without values) or
                ``"fail"`` (no values).
            skip_if_finished: Return the record of an already finished trial instead of raising.
            gradient: For a COMPLETE trial of a single-objective study, ``{name: d value / d param}``
                for some of the trial's float parameters, in the parameter's own units (not log
                units). Stored in the trial's system attributes under ``"gradient"``; the
                ``gradient`` sampler uses it.

        With a sampler that has a ``constraints_func`` (``nsga2``, ``gp``), a COMPLETE trial's
        constraint values are computed here, once (the function sees the trial as it will be
        stored: COMPLETE, with its values, parameters and attributes), and stored with it under
        the system attribute ``"constraints"``, in the same write.

        Raises:
            TypeError: A value that is not a real number (bool, str, None, complex, ...), or a
                ``constraints_func`` result that is not a sequence of real numbers.
            ValueError: The wrong number of values, an unknown trial, a trial of another study, a
                gradient that names a parameter the trial has not or that is not a float, or has
                a non-finite entry, or a ``constraints_func`` result with a NaN or another count
                of values than the study's earlier trials (the trial is left unchanged).
            Exception: Whatever ``constraints_func`` raised (nothing is written: the trial stays
                RUNNING, to be told again or with ``state="fail"``).
            TrialFinishedError: The trial finished with another outcome already (the identical
                outcome again is a no-op, so a retry after a lost connection is safe).
        """
        check_bool("skip_if_finished", skip_if_finished)
        number, live = self._resolve(trial)
        st = TrialState.COMPLETE if state is None else TrialState.parse(state)
        if not st.is_finished():
            raise ValueError(f"`state` must be complete, pruned or fail, but got {st.name}.")
        reason = None
        grad = None
        if gradient is not None:
            if st is not TrialState.COMPLETE:
                raise ValueError(f"`gradient` is only taken with a COMPLETE trial, not a {st.name} one.")
            grad = self._gradient(number, live, gradient)
        if st is TrialState.COMPLETE:
            vals = self._values(values)
            if any(math.isnan(v) for v in vals):
                reason = f"objective value is NaN ({list(vals)})"
                warnings.warn(f"trial {number} failed: {reason}.", FailedTrialWarning, stacklevel=2)
                st, vals, grad = TrialState.FAIL, None, None
        elif st is TrialState.PRUNED:
            vals = self._values(values) if values is not None else self._last_report(number, live)
            if vals is not None and any(math.isnan(v) for v in vals):
                vals = None  # as for a NaN last report: a pruned trial without a usable value
        else:
            if values is not None:
                raise ValueError(f"`values` must be None for a FAIL trial, but got {values!r}.")
            vals = None
        cons = None
        if st is TrialState.COMPLETE:
            pending = self._constraints_input(number, live, vals, grad)
            if pending is not None:
                func, view = pending
                try:
                    raw = func(view)
                except Exception as exc:
                    if hasattr(exc, "add_note"):
                        exc.add_note(f"(raised by constraints_func at tell: nothing was written, trial "
                                     f"{number} is still RUNNING)")
                    raise
                try:
                    cons = self._checked_constraints(raw, view)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"{exc} Nothing was written: trial {number} is still RUNNING (tell "
                                    "it again, or with state='fail').") from None
        return self._finish(number, live, st, vals, reason, skip_if_finished, grad, cons)

    def _tell_copy(
        self, trial: Trial, values: Sequence[float], constraints: np.ndarray | None
    ) -> FrozenTrial:
        """``tell(trial, values)`` for a trial copied from another study (``warm_start``): without
        a ``constraints_func`` of its own, this handle stores the ``constraints`` the original
        trial had, so the copy's feasibility is not lost (an infeasible trial must not become the
        new study's best).

        When this handle's ``constraints_func`` fails on the copy (it raises, or returns unusable
        values), the copy is failed with the reason before the error propagates: ``tell`` leaves a
        trial RUNNING for its caller to tell again, but no one would finish a copy (a RUNNING trial
        for good, which also holds back ``HyperbandPruner(max_resource="auto")``)."""
        if constraints is None or self._constraints_func() is not None:
            try:
                return self.tell(trial, values)
            except BaseException as exc:
                number, live = self._resolve(trial)
                self._finish(number, live, TrialState.FAIL, None,
                             f"warm_start: {type(exc).__name__}: {exc}", True)
                raise
        number, live = self._resolve(trial)
        vals = self._values(values)
        return self._finish(number, live, TrialState.COMPLETE, vals, None, False, None,
                            [float(c) for c in constraints])

    def add_trial(self, trial: FrozenTrial) -> FrozenTrial:
        """Store a finished trial obtained elsewhere (built with :func:`hpopt.create_trial`, or a
        trial of another study) as a new trial of this study, and return the stored record.

        The sampler sees it as any other finished trial. It gets this study's next number; its
        state, values, parameters, distributions, intermediate values, user attributes and start
        and finish times are kept (missing times are now). Of its system attributes only a FAIL
        trial's ``"fail_reason"`` and a COMPLETE trial's ``"gradient"`` (single objective) and
        stored ``"constraints"`` are kept; the others are notes of the sampler that proposed it.

        Constraints: when this study's sampler has a ``constraints_func``, a COMPLETE trial's
        constraint values are computed by it, as ``tell`` does (it sees the trial as it will be
        stored, numbered with the number it is expected to get); otherwise the constraint values
        stored with the trial, if any, are kept.

        Everything is checked before anything is written, and the trial is written in one
        storage write (it is never seen RUNNING, and enqueued trials are left alone).

        Args:
            trial: A COMPLETE, PRUNED or FAIL :class:`~hpopt.FrozenTrial`.

        Returns:
            The stored record, with its number in this study.

        Raises:
            TypeError: ``trial`` is not a FrozenTrial, its state is not a TrialState, or it holds a
                value of the wrong type.
            ValueError: A trial that is not finished, another number of values than the study has
                objectives, a parameter value outside its distribution, a parameter this study
                has with another type, log flag or choice list, constraint values of another count
                than this study's other trials, or any check of :func:`hpopt.create_trial`.
            Exception: Whatever ``constraints_func`` raised (nothing is written).

        Example:
            >>> import hpopt
            >>> study = hpopt.create_study(direction="maximize", seed=0)
            >>> ft = hpopt.create_trial(params={"n": 3}, distributions={"n": hpopt.Int(1, 5)}, value=0.9)
            >>> stored = study.add_trial(ft)
            >>> stored.number, stored.state.name, study.best_value
            (0, 'COMPLETE', 0.9)
        """
        from hpopt.fixed import _Record
        from hpopt.refine import _check_copy_space

        if not isinstance(trial, FrozenTrial):
            raise TypeError(
                f"`trial` must be an hpopt.FrozenTrial (see hpopt.create_trial), but got {trial!r}."
            )
        if not isinstance(trial.state, TrialState):
            raise TypeError(
                f"`trial.state` must be an hpopt.TrialState (TrialState.COMPLETE, PRUNED or FAIL), but "
                f"trial {trial.number} has {trial.state!r} ({type(trial.state).__name__}); "
                "hpopt.create_trial(state='complete', ...) builds a trial from a state's name."
            )
        if not trial.state.is_finished():
            raise ValueError(
                f"only a finished (COMPLETE, PRUNED or FAIL) trial can be added, but trial "
                f"{trial.number} is {getattr(trial.state, 'name', trial.state)!r}."
            )
        vals = trial.values
        if vals is not None:
            items = _as_list(vals)
            if items is None:
                raise TypeError(f"`trial.values` must be None or a tuple of floats, but got {vals!r}.")
            vals = tuple(real_value(f"`values[{i}]`", v) for i, v in enumerate(items))
        self._storage.sync()
        rec = _Record.check(
            state=trial.state, values=vals, params=trial.params, distributions=trial.distributions,
            intermediate=trial.intermediate_values, user=trial.user_attrs, system=trial.system_attrs,
            n_objectives=len(self._history.directions), started=trial.started, finished=trial.finished,
        )
        sys = dict(rec.system)
        _check_copy_space(self, [(trial, rec.distributions)])  # as warm_start's copies are checked
        func = self._constraints_func()
        if rec.state is TrialState.COMPLETE and func is not None:
            sys.pop(CONSTRAINTS_KEY, None)
            view = rec.frozen(self._storage.n_trials(self._sid), sys)
            try:
                raw = func(view)
            except Exception as exc:
                if hasattr(exc, "add_note"):
                    exc.add_note("(raised by constraints_func in add_trial: nothing was written)")
                raise
            try:
                sys[CONSTRAINTS_KEY] = self._checked_constraints(raw, view)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{exc} Nothing was written.") from None
        elif CONSTRAINTS_KEY in sys:
            count = self._constraint_count()
            if count is not None and len(sys[CONSTRAINTS_KEY]) != count:
                raise ValueError(
                    f"the trial's stored constraint values {sys[CONSTRAINTS_KEY]} must have the same "
                    f"count as those of study {self.study_name!r} ({count}). Nothing was written."
                )
            self._n_constraints = len(sys[CONSTRAINTS_KEY])
        number = self._storage._transact(lambda: self._added_ops(rec, sys))
        ft = self._storage._trial(self._sid, number).freeze()
        if _log.isEnabledFor(logging.INFO):
            _log.info("Added t%s", self._describe(ft)[1:])  # "Added trial 3 complete with ..."
        return ft

    def _added_ops(self, rec: Any, sys: dict[str, Any]) -> tuple[list[dict[str, Any]], Callable]:
        """The journal operations of :meth:`add_trial` (a trial created and finished in one write),
        built inside the storage's write lock: the number is the study's next one, and the
        distributions are checked once more against the caught-up study (a racing process may have
        given a parameter another type since the checks)."""
        st = self._storage._study(self._sid)
        for name, dist in rec.distributions.items():
            known = st.dists.get(name)
            if known is not None:
                check_compatible(name, known, dist)
        number = len(st.trials)
        fin: dict[str, Any] = {"op": "fin", "s": self._sid, "n": number, "state": rec.state.name,
                               "values": None if rec.values is None else list(rec.values),
                               "t": rec.finished}
        if rec.params:
            fin["params"] = dict(rec.params)
            fin["dists"] = dict(rec.distributions)
        if rec.user:
            fin["user"] = dict(rec.user)
        if sys:
            fin["sys"] = dict(sys)
        if rec.intermediate:
            fin["rep"] = [[s, list(v) if isinstance(v, tuple) else v] for s, v in rec.intermediate.items()]
        ops = [{"op": "trial", "s": self._sid, "state": "RUNNING", "t": rec.started}, fin]

        def finalize(results: list[Any]) -> int:
            if results[0] != number:  # pragma: no cover - the model numbers trials as counted here
                raise RuntimeError(f"add_trial: expected trial number {number}, got {results[0]}.")
            return number

        return ops, finalize

    def _gradient(self, number: int, live: Trial | None, gradient: Any) -> dict[str, float]:
        if len(self._history.directions) != 1:
            raise ValueError("`gradient` is only taken in a single-objective study.")
        if not isinstance(gradient, Mapping):
            raise TypeError(f"`gradient` must be a mapping {{name: float}}, but got {gradient!r}.")
        dists = live.distributions if live is not None else dict(
            self._storage.trial(self._sid, number).distributions
        )
        return checked_gradient(gradient, dists, what="`gradient`", owner=f"trial {number}")

    def _finish(
        self,
        number: int,
        live: Trial | None,
        state: TrialState,
        values: tuple[float, ...] | None,
        reason: str | None,
        skip_if_finished: bool,
        gradient: dict[str, float] | None = None,
        constraints: list[float] | None = None,
    ) -> FrozenTrial:
        payload = live._take_payload() if live is not None and not live._finished else {}
        sys: dict[str, Any] = {}
        if reason:
            sys[FAIL_REASON] = reason
        if gradient:
            sys[GRADIENT_KEY] = gradient
        if constraints is not None:
            sys[CONSTRAINTS_KEY] = constraints  # in the write that completes the trial
        try:
            ft = self._storage.finish(
                self._sid, number, state, values,
                sys=sys or None,
                skip_if_finished=skip_if_finished,
                **payload,
            )
        except BaseException as exc:
            if live is not None and isinstance(exc, TrialFinishedError):
                # Finished in the store by someone else (e.g. failed as stale): this handle is
                # closed too, so the heartbeat thread stops beating (and writing) for it.
                live._finished = True
                self._live.pop(number, None)
            elif live is not None and payload.get("params"):  # keep them for a retried tell
                with live._lock:
                    live._pending = {**payload["params"], **live._pending}
            raise
        if live is not None:
            live._finished = True
            self._live.pop(number, None)
        if _log.isEnabledFor(logging.INFO):
            _log.info("%s", self._describe(ft))
        return ft

    def _constraints_input(
        self, number: int, live: Trial | None, values: tuple[float, ...], gradient: dict[str, float] | None
    ) -> tuple[Callable[[FrozenTrial], Any], FrozenTrial] | None:
        """The sampler's ``constraints_func`` and the trial as it will read once told COMPLETE with
        ``values`` (None without a function, or when the trial is finished already: the storage
        then makes the tell a no-op or refuses it).

        Why a built view: the values are stored in the write that completes the trial, so the
        function must see the completed trial before that write. It sees what the samplers saw
        when they called it on the stored trial: state, values, parameters (the unwritten ones of
        this handle too), attributes and reports; only ``finished`` is this moment, not the write's.
        """
        func = self._constraints_func()
        if func is None:
            return None
        if live is not None and live._study is not self:
            # A trial asked through another handle on the same store: this handle's model may not
            # have it yet (a trial number is checked against a synced model in _resolve).
            self._storage.sync()
        rec = self._storage._trial(self._sid, number)
        if rec.state.is_finished():
            return None
        base = rec.freeze()
        params, dists, user = dict(base.params), dict(base.distributions), dict(base.user_attrs)
        if live is not None:
            with live._lock:
                params.update(live._params)
                dists.update(live._dists)
                user.update({k: deep_freeze(v) for k, v in live._user.items()})
        sys = dict(base.system_attrs)
        sys.pop(CONSTRAINTS_KEY, None)
        if gradient:
            sys[GRADIENT_KEY] = deep_freeze(dict(gradient))
        view = FrozenTrial(
            number=number,
            state=TrialState.COMPLETE,
            values=tuple(values),
            params=FrozenDict(params) if params else EMPTY,
            distributions=FrozenDict(dists) if dists else EMPTY,
            intermediate_values=base.intermediate_values,
            user_attrs=FrozenDict(user) if user else EMPTY,
            system_attrs=FrozenDict(sys) if sys else EMPTY,
            started=base.started,
            finished=time.time(),
        )
        return func, view

    def _checked_constraints(self, raw: Any, view: FrozenTrial) -> list[float]:
        """``raw`` (what ``constraints_func`` returned for ``view``) as the list of floats to store.

        Raises:
            TypeError: Not a sequence of real numbers.
            ValueError: A NaN, or another count of values than the study's other trials have (the
                ``gp`` sampler fits one model per constraint; a changing count is a bug).
        """
        values = constraint_values(lambda _trial: raw, view)
        count = self._constraint_count()
        if count is not None and len(values) != count:
            raise ValueError(
                f"`constraints_func` must return the same number of values for every trial, but "
                f"returned {len(values)} ({values.tolist()!r}) for trial {view.number} where earlier "
                f"trials have {count}."
            )
        self._n_constraints = len(values)
        return [float(v) for v in values]

    def _constraint_count(self) -> int | None:
        """How many constraint values this study's trials have (None before any is stored).

        Learnt once per handle from the latest stored trial (a backwards scan that stops at the
        first hit), then kept from each tell.
        """
        if self._n_constraints is None:
            for t in reversed(self._storage.trials(self._sid, frozenset({TrialState.COMPLETE}))):
                stored = stored_constraints(t)
                if stored is not None:
                    self._n_constraints = len(stored)
                    break
        return self._n_constraints

    def _describe(self, ft: FrozenTrial) -> str:
        text = f"Trial {ft.number} {ft.state.name.lower()}"
        if ft.values is not None:
            text += f" with values {list(ft.values)}"
        text += f" and params {dict(ft.params)}."
        best = None
        if len(self._history.directions) == 1:
            try:  # the best feasible trial, as best_trial says (None while no trial is feasible)
                best = self.best_trial
            except ValueError:
                best = None
        if best is not None:
            text += f" Best is trial {best.number} with value {best.values[0]}."
        return text

    def _resolve(self, trial: Trial | int) -> tuple[int, Trial | None]:
        if isinstance(trial, Trial):
            other = trial._study
            same_store = other._storage is self._storage or (
                "://" in self._storage.url and other._storage.url == self._storage.url
            )  # two storage objects opened on one URL are one store
            if other is not self and not (same_store and other._sid == self._sid):
                raise ValueError(
                    f"trial {trial.number} belongs to study {other.study_name!r} in "
                    f"{redact_url(other._storage.url)}, not to study {self.study_name!r} in "
                    f"{redact_url(self._storage.url)}."
                )
            return trial.number, trial
        if isinstance(trial, (bool, np.bool_)) or not isinstance(trial, numbers.Integral):
            raise TypeError(f"`trial` must be a Trial or a trial number, but got {trial!r}.")
        number = int(trial)
        self._storage.sync()
        self._storage._trial(self._sid, number)  # raises ValueError for an unknown number
        return number, self._live.get(number)

    def _values(self, values: Any) -> tuple[float, ...]:
        n = len(self._history.directions)
        if values is None:
            raise TypeError(
                f"a COMPLETE trial needs {n} objective value(s), but got None "
                "(pass state='fail' or state='pruned' otherwise)."
            )
        items = _as_list(values)
        if items is None:
            items = [values]
        if len(items) != n:
            raise ValueError(
                f"the study has {n} objective(s) ({self.directions}), but {len(items)} value(s) "
                f"were given: {values!r}."
            )
        return tuple(real_value("an objective value", v) for v in items)

    def _last_report(self, number: int, live: Trial | None) -> tuple[float, ...] | None:
        if live is not None:
            inter = live._inter
        else:
            inter = self._storage.trial(self._sid, number).intermediate_values
        if not inter:
            return None
        last = inter[max(inter)]
        vals = tuple(last) if isinstance(last, (tuple, list)) else (last,)
        return None if any(math.isnan(v) for v in vals) else vals

    # -- optimize ---------------------------------------------------------------------------------
    def optimize(
        self,
        func: Callable[[Trial], Any],
        n_trials: int | None = None,
        timeout: float | None = None,
        catch: Iterable[type[Exception]] | type[Exception] = (),
        callbacks: Iterable[Callable[[Study, FrozenTrial], None]] = (),
        n_jobs: int = 1,
        executor: Any = None,
        show_progress_bar: bool = False,
    ) -> None:
        """Run ``func(trial)`` for ``n_trials`` trials or ``timeout`` seconds (or until ``stop``,
        or until the sampler is exhausted).

        ``func`` returns the objective value(s). It may ``raise hpopt.TrialPruned()``. An exception
        listed in ``catch`` marks the trial FAIL and the study goes on; any other exception
        (KeyboardInterrupt and SystemExit included) marks it FAIL and is re-raised. A return value
        that is not a real number (or the wrong count) marks the trial FAIL with a warning.

        Args:
            func: The objective.
            n_trials: How many trials this call runs (None: until timeout/stop/exhaustion).
            timeout: Seconds after which no new trial is started.
            catch: Exception classes that fail the trial without stopping the study.
            callbacks: ``callback(study, frozen_trial)`` after every trial.
            n_jobs: Trials run in parallel (-1: one per CPU); threads unless ``executor`` is set.
            executor: ``"process"`` (a process pool of ``n_jobs`` workers) or any
                ``concurrent.futures.Executor`` — e.g. Dask's ``Client.get_executor()``. Workers
                only evaluate the objective (it receives a :class:`hpopt.remote.RemoteTrial`, and must
                be picklable for processes); this process keeps ask/tell, so the sampler sees every
                pending trial.
            show_progress_bar: Draw a tqdm progress bar (extra ``progress``) on stderr: finished trials
                out of ``n_trials`` (elapsed seconds out of ``timeout`` when only a timeout is given)
                and the best value so far.

        One INFO line per finished trial goes to the ``"hpopt"`` logger; when the program has
        configured no logging, the first ``optimize`` prints them on stderr (see :mod:`hpopt.log`
        to silence them: ``hpopt.log.set_verbosity("WARNING")``).

        Raises:
            TypeError, ValueError: Invalid arguments (before any trial starts).
            ImportError: ``show_progress_bar=True`` without tqdm installed (before any trial starts).
        """
        if not callable(func):
            raise TypeError(f"`func` must be callable, but got {func!r}.")
        n_trials = _opt_count("n_trials", n_trials)
        if timeout is not None:
            timeout = real_value("`timeout`", timeout)
            if not timeout > 0:
                raise ValueError(f"`timeout > 0` must hold, but got timeout={timeout!r}.")
        catch = _catch_tuple(catch)
        if callable(callbacks) or isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
            raise TypeError(
                "`callbacks` must be a list of callables callback(study, frozen_trial), "
                f"but got {callbacks!r}."
            )
        callbacks = list(callbacks)
        if not all(callable(cb) for cb in callbacks):
            raise TypeError("every callback must be callable as callback(study, frozen_trial).")
        if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0 \
                or n_jobs < -1:
            raise ValueError(f"`n_jobs` must be a positive int or -1, but got {n_jobs!r}.")
        n_jobs = int(n_jobs)
        if not isinstance(show_progress_bar, (bool, np.bool_)):
            raise TypeError(f"`show_progress_bar` must be True or False, but got {show_progress_bar!r}.")
        if n_jobs == -1:
            n_jobs = os.cpu_count() or 1
        bar = None
        if show_progress_bar:
            from hpopt.progress import ProgressBar

            bar = ProgressBar(self, n_trials, timeout)
            callbacks.insert(0, bar.update)
        from hpopt.log import auto_default_handler

        auto_default_handler()
        try:
            self._optimize(func, n_trials, timeout, catch, callbacks, n_jobs, executor)
        finally:
            if bar is not None:
                bar.close()

    def _optimize(
        self,
        func: Callable[[Trial], Any],
        n_trials: int | None,
        timeout: float | None,
        catch: tuple[type, ...],
        callbacks: list[Callable[[Study, FrozenTrial], None]],
        n_jobs: int,
        executor: Any,
    ) -> None:
        """The trial loop of :meth:`optimize`, with validated arguments."""
        self._stop_flag = False
        budget = _Budget(n_trials, timeout)
        if executor is not None:
            from hpopt.remote import default_pending, optimize_with_executor, resolve_executor

            pool, owned = resolve_executor(executor, n_jobs)
            try:
                optimize_with_executor(
                    self, func, budget, catch, callbacks, pool, default_pending(pool, n_jobs)
                )
            finally:
                if owned:
                    pool.shutdown(wait=True, cancel_futures=True)
            return

        def worker() -> None:
            try:
                while not self._stop_flag and budget.take():
                    self._storage.sync()
                    if self._exhausted():
                        return
                    try:
                        trial = self.ask()
                    except SearchSpaceExhausted:
                        if self._exhausted():
                            return
                        continue  # an enqueued trial the sampler could not complete was failed
                    ft = self._run(func, trial, catch)
                    for cb in callbacks:
                        cb(self, ft)
            except BaseException:
                # A callback, ask or tell that raises ends this worker: the other threads must
                # start no new trial either (else optimize runs on, forever without n_trials).
                self._stop_flag = True
                raise

        if n_jobs == 1:
            worker()
            return
        with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="hpopt") as pool:
            futures = [pool.submit(worker) for _ in range(n_jobs)]
            try:
                for f in futures:
                    f.result()
            except BaseException:
                self._stop_flag = True
                raise

    def _fail_warned(self, trial: Trial, reason: str, end: str = "") -> FrozenTrial:
        """FAIL an objective's trial with ``reason``, and say so in a FailedTrialWarning (the study
        goes on): an exception listed in ``catch``, or a result that cannot be recorded."""
        warnings.warn(f"trial {trial.number} failed: {reason}{end}", FailedTrialWarning, stacklevel=4)
        return self._finish(trial.number, trial, TrialState.FAIL, None, reason, True)

    def _run(self, func: Callable[[Trial], Any], trial: Trial, catch: tuple[type, ...]) -> FrozenTrial:
        try:
            result = func(trial)
        except TrialPruned:
            return self.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
        except catch as exc:
            return self._fail_warned(trial, f"{type(exc).__name__}: {exc}")
        except BaseException as exc:
            self._stop_flag = True
            reason = f"{type(exc).__name__}: {exc}"
            self._finish(trial.number, trial, TrialState.FAIL, None, reason, True)
            raise
        return self._conclude(trial, result, catch)

    def _conclude(self, trial: Trial, result: Any, catch: tuple[type, ...] = ()) -> FrozenTrial:
        """Tell an objective's return value: COMPLETE, or FAIL (with a warning) if unusable.

        The sampler's ``constraints_func`` runs here as part of the trial's evaluation, and its
        failures are treated as the objective's: an exception it raises fails the trial and is
        re-raised unless listed in ``catch`` (then a warning, and the study goes on); a result that
        is not a sequence of real numbers (or has a NaN, or another count of values than the
        other trials) fails the trial with a warning, as an unusable objective value does.
        """
        try:
            values = self._values(result)
        except (TypeError, ValueError) as exc:
            return self._fail_warned(trial, f"the objective returned {result!r}: {exc}")
        if any(math.isnan(v) for v in values):
            return self._fail_warned(trial, f"objective value is NaN ({list(values)})", ".")
        cons = None
        pending = self._constraints_input(trial.number, trial, values, None)
        if pending is not None:
            func, view = pending
            try:
                raw = func(view)
            except catch as exc:
                return self._fail_warned(trial, f"constraints_func raised {type(exc).__name__}: {exc}")
            except BaseException as exc:
                self._stop_flag = True
                reason = f"constraints_func raised {type(exc).__name__}: {exc}"
                self._finish(trial.number, trial, TrialState.FAIL, None, reason, True)
                raise
            try:
                cons = self._checked_constraints(raw, view)
            except (TypeError, ValueError) as exc:
                return self._fail_warned(trial, str(exc))
        return self._finish(trial.number, trial, TrialState.COMPLETE, values, None, False, None, cons)

    def refined_space(
        self, top: float | int = 0.2, *, min_trials: int = 10, margin: float = 0.1,
        space: Mapping[str, Distribution] | None = None,
    ) -> RefinedSpace:
        """A narrowed search space around the best ``top`` COMPLETE trials (ranges shrunk, unused
        categories dropped), with a printed explanation: ``print(study.refined_space())``.
        Start a new study on it with :func:`hpopt.warm_start` so no evaluation is wasted.
        See :func:`hpopt.refine.refined_space`."""
        from hpopt.refine import refined_space

        return refined_space(self, top, min_trials=min_trials, margin=margin, space=space)

    def fail_stale_trials(self) -> list[int]:
        """Fail RUNNING trials whose worker sent no heartbeat within the study's grace period
        (retrying their parameters up to ``max_retry`` times). ``ask`` does this by itself; call
        it to clean up without starting a trial. Returns the numbers failed by this call.
        """
        return self._storage.reap(self._sid)

    def stop(self) -> None:
        """Ask a running ``optimize`` to start no new trial (e.g. from a callback)."""
        self._stop_flag = True

    # -- queue ------------------------------------------------------------------------------------
    def enqueue_trial(
        self, params: Mapping[str, Any], *, user_attrs: Mapping[str, Any] | None = None,
        skip_if_exists: bool = False,
    ) -> int | None:
        """Queue a trial with fixed parameter values; the next ``ask`` returns it first.

        Values are checked against their distribution when the objective suggests them
        (a value outside it fails that trial with a clear reason).

        Args:
            params: name -> value (None, bool, int, float or str).
            user_attrs: Attributes to attach to the queued trial (the objective sees them in
                ``trial.user_attrs``).
            skip_if_exists: Do nothing (return None) when some trial, in any state, already has
                every one of these parameters with an equal value (as enqueued or as suggested);
                its other parameters are not compared. So a partial configuration such as
                ``{"optimizer": "adam"}`` is skipped once any trial used ``"adam"`` (Optuna
                skips only when a trial has exactly these parameter names).

        Returns:
            The queued trial's number, or None when skipped.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"`params` must be a dict of name -> value, but got {params!r}.")
        check_bool("skip_if_exists", skip_if_exists)
        if user_attrs is not None and not isinstance(user_attrs, Mapping):
            raise TypeError(f"`user_attrs` must be None or a dict of name -> value, but got {user_attrs!r}.")
        fixed = {}
        for name, value in params.items():
            check_name("parameter", name)
            if isinstance(value, np.bool_):
                value = bool(value)
            if not (value is None or isinstance(value, (bool, str))):
                value = real_value(f"enqueued value of {name!r}", value) if not isinstance(
                    value, numbers.Integral) else int(value)
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"enqueued value of {name!r} must be finite, but got {value!r}.")
            fixed[name] = value
        user = {}
        for key, value in (user_attrs or {}).items():
            check_name("user attribute", key)
            user[key] = json_value("user attribute", key, value)
        return self._storage.enqueue(self._sid, fixed, user, skip_if_exists=bool(skip_if_exists))

    def _exhausted(self) -> bool:
        """The sampler has nothing left to propose and no enqueued trial waits (an enqueued trial
        still runs after a grid is exhausted)."""
        if not self.sampler.is_exhausted(self._history):
            return False
        return not self._storage.trials(self._sid, frozenset({TrialState.WAITING}))

    # -- reading ----------------------------------------------------------------------------------
    @property
    def trials(self) -> list[FrozenTrial]:
        """All trials ordered by number (a fresh list of immutable records)."""
        return self._storage.trials(self._sid)

    def get_trials(self, states: Iterable[TrialState | str] | None = None) -> list[FrozenTrial]:
        """Trials whose state is in ``states`` (all when None; one state alone is also taken),
        ordered by number."""
        if isinstance(states, (str, TrialState)):
            states = [states]
        wanted = None if states is None else frozenset(TrialState.parse(s) for s in states)
        return self._storage.trials(self._sid, wanted)

    def _constraints_func(self) -> Callable[[FrozenTrial], Any] | None:
        """The sampler's ``constraints_func`` (nsga2, gp), or None for an unconstrained study."""
        func = getattr(self.sampler, "constraints_func", None)
        return func if callable(func) else None

    def _verdict(self, trial: FrozenTrial) -> bool | None:
        """Whether ``trial`` satisfies its constraints: from the values stored when it was told;
        for a COMPLETE trial stored without them (told before constraints were stored, or by a
        handle without the function), from this handle's ``constraints_func``; None when unknown.
        """
        stored = stored_constraints(trial)
        if stored is not None:
            return bool((stored <= 0.0).all())
        func = self._constraints_func()
        if func is None or trial.state is not TrialState.COMPLETE:
            return None
        # A finished trial never changes: its verdict is computed once per function (the log
        # line asks after every trial, which would otherwise cost O(n) calls of the function each).
        verdicts = self._feasible_cache.setdefault(func, {})
        ok = verdicts.get(trial.number)
        if ok is None:
            ok = verdicts[trial.number] = bool((constraint_values(func, trial) <= 0.0).all())
        return ok

    def _feasible(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        """``trials`` that are not known to violate a constraint (see :meth:`_verdict`).

        Why: without this filter ``best_trial`` and ``best_trials`` could return a trial the user
        declared infeasible. A trial whose feasibility is unknown (no stored values and no function)
        is kept, as Optuna does: an unconstrained study is unchanged.
        """
        if not trials:
            return trials
        return [t for t in trials if self._verdict(t) is not False]

    @property
    def best_trial(self) -> FrozenTrial:
        """The best COMPLETE trial of a single-objective study.

        Infeasible trials are left out: those whose constraint values, stored when they were told
        with a sampler that has a ``constraints_func`` (``nsga2``, ``gp``), are not all ``<= 0``;
        so a study loaded without that sampler knows them too. Trials stored without values are
        judged by this handle's ``constraints_func`` if it has one, else taken as feasible.

        Raises:
            RuntimeError: The study has several objectives (use ``best_trials``).
            ValueError: No trial is COMPLETE yet, or none of them satisfies the constraints.
        """
        self._single("best_trial")
        best = self._storage.best(self._sid)
        if best is None:
            raise ValueError(f"study {self.study_name!r} has no COMPLETE trial yet.")
        if self._verdict(best) is not False:  # the best of all is feasible: the best feasible
            return best
        feasible, n_complete = self._best_feasible()
        if feasible is None:
            raise ValueError(
                f"study {self.study_name!r} has {n_complete} COMPLETE trials but none satisfies its "
                "constraints (every value of `constraints_func`, as stored with the trial, <= 0)."
            )
        return feasible

    def _best_feasible(self) -> tuple[FrozenTrial | None, int]:
        """The best feasible COMPLETE trial (the lowest number among equal values; None when none
        is feasible) and how many COMPLETE trials there are, as of the storage's last sync.

        Why incremental: the log line asks for the best trial after every tell, and once the best
        of all trials is infeasible a scan of every COMPLETE trial per tell made a study quadratic
        (10 ms per tell at 2,000 trials). Finished trials never change and are only ever added
        (sorted by number, new ones near the end), so each is folded in once: O(new + running).
        """
        finished = self._storage.finished_view(self._sid)
        sign = 1.0 if self._history.directions[0] == "minimize" else -1.0
        with self._best_lock:
            scan = self._best_scan.get(self._constraints_func())
            if scan is None:
                scan = self._best_scan[self._constraints_func()] = _BestScan()
            need, i = len(finished) - len(scan.seen), len(finished) - 1
            while need > 0 and i >= 0:
                t = finished[i]
                i -= 1
                if t.number in scan.seen:
                    continue
                if t.state is TrialState.COMPLETE:
                    # may call constraints_func, which may raise: the trial then stays unseen
                    ok = self._verdict(t) is not False
                    scan.n_complete += 1
                    cur = scan.best
                    if ok and (cur is None or sign * t.values[0] < sign * cur.values[0] or (
                        t.values[0] == cur.values[0] and t.number < cur.number
                    )):
                        scan.best = t
                scan.seen.add(t.number)
                need -= 1
            return scan.best, scan.n_complete

    @property
    def best_value(self) -> float:
        """The best objective value (single objective).

        Raises:
            RuntimeError: The study has several objectives (use ``best_trials``).
            ValueError: No trial is COMPLETE yet.
        """
        self._single("best_value")
        return self.best_trial.values[0]

    @property
    def best_params(self) -> dict[str, Any]:
        """The parameters of the best trial (single objective).

        Raises:
            RuntimeError: The study has several objectives (use ``best_trials``).
            ValueError: No trial is COMPLETE yet.
        """
        self._single("best_params")
        return dict(self.best_trial.params)

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front: COMPLETE trials no other COMPLETE trial dominates (by number).

        Only feasible trials take part, as in ``best_trial`` (stored constraint values first, then
        this handle's ``constraints_func``).
        """
        done = self._feasible(self._storage.trials(self._sid, frozenset({TrialState.COMPLETE})))
        if not done:
            return []
        signs = np.array([1.0 if d == "minimize" else -1.0 for d in self._history.directions])
        front = pareto_front_mask(np.array([t.values for t in done]) * signs)
        return [t for t, keep in zip(done, front) if keep]

    # -- export -----------------------------------------------------------------------------------
    def to_records(
        self,
        *,
        states: Iterable[TrialState | str] | None = None,
        intermediate: bool = False,
        system_attrs: bool = True,
    ) -> list[dict[str, Any]]:
        """One flat dict per trial (number, state, value or values_0.., datetime_start/complete,
        duration in seconds, params_<name>, user_attrs_<key>, system_attrs_<key>, optionally
        intermediate_<step>); see :func:`hpopt.export.to_records`."""
        from hpopt.export import to_records

        return to_records(self, states=states, intermediate=intermediate, system_attrs=system_attrs)

    def to_dataframe(
        self,
        *,
        states: Iterable[TrialState | str] | None = None,
        intermediate: bool = False,
        system_attrs: bool = True,
    ) -> Any:
        """The records of :meth:`to_records` as a pandas DataFrame (extra ``dataframe``); see
        :func:`hpopt.export.to_dataframe`.

        Raises:
            ImportError: pandas is not installed (``pip install 'hpopt[dataframe]'``).
        """
        from hpopt.export import to_dataframe

        return to_dataframe(self, states=states, intermediate=intermediate, system_attrs=system_attrs)

    def _single(self, what: str) -> None:
        if len(self._history.directions) != 1:
            raise RuntimeError(
                f"`{what}` is for single-objective studies; this one has directions "
                f"{self.directions} (use best_trials / directions)."
            )

    # -- pickling ---------------------------------------------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as a way back to the study, not as its state: the storage URL, the study's name,
        id and creation time, the sampler, the pruner and the heartbeat interval.

        Why: a study's trials live in its storage, so another process (a Dask or joblib worker, a
        ``ProcessPoolExecutor`` task: ``client.submit(study.optimize, f, n_trials=10)``) reopens the
        storage and continues the same study. The open trials of this handle, its caches, locks and
        heartbeat thread stay here; the copy starts its own. A study in memory is refused: no other
        process can see that store.

        Raises:
            TypeError: The study lives in memory (or in a store no URL reopens), or its sampler or
                pruner does not pickle (named, with the reason).
        """
        from hpopt.remote import _worker_url

        url = _worker_url(self._storage)
        if url is None:
            raise TypeError(
                f"cannot pickle study {self.study_name!r}: it lives in {redact_url(self._storage.url)}, "
                "a store only this process sees, so another process could not continue it. Create it "
                "with a storage URL (storage='sqlite:///study.db', or a PostgreSQL URL) to share it "
                "with other processes, or keep the study here and evaluate the objective in workers "
                "with study.optimize(..., executor='process' or e.g. Dask's client.get_executor())."
            )
        for label, part in (("sampler", self.sampler), ("pruner", self.pruner)):
            _check_picklable(self.study_name, label, part)
        state = {
            "url": url,
            "study_name": self.study_name,
            "sid": self._sid,
            "created": self._storage._study(self._sid).created,
            "sampler": self.sampler,
            "pruner": self.pruner,
            "heartbeat_interval": self._beater.interval if self._beater is not None else None,
        }
        from hpopt.storage.sqlite import SQLiteBackend

        backend = self._storage._backend
        if isinstance(backend, SQLiteBackend):
            # The file itself, not only the URL: a path with '#' or '?' (a relative URL opened in a
            # folder such as "run#3") does not survive "sqlite:///" + path -> urlsplit.
            state["sqlite"] = (backend.path, backend.synchronous)
        return _unpickle_study, (type(self), state)


class _BestScan:
    """Where :meth:`Study._best_feasible` stands: the finished trials folded in so far (by
    number), how many of them are COMPLETE, and the best feasible one."""

    __slots__ = ("seen", "n_complete", "best")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.n_complete = 0
        self.best: FrozenTrial | None = None


def _check_picklable(study_name: str, label: str, part: Any) -> None:
    """Raise a TypeError naming the study's ``label`` (sampler or pruner) when ``part`` pickles
    neither with :mod:`pickle` nor (where installed) with cloudpickle, which Dask and joblib use
    and which also takes lambdas (a ``constraints_func``, say).

    Why pickle it once more here: the error the pickler itself raises for a part ("cannot pickle
    '_thread.lock' object") does not say which part of the study holds it."""
    import pickle

    try:
        pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
        return
    except Exception as exc:  # noqa: BLE001  (PicklingError, TypeError, AttributeError, ...)
        error: Exception = exc
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = None
    if cloudpickle is not None:
        try:
            cloudpickle.dumps(part)
            return  # an outer cloudpickle (Dask, joblib) will manage; plain pickle would not
        except Exception as exc:  # noqa: BLE001
            error = exc
    raise TypeError(
        f"cannot pickle study {study_name!r}: its {label} {part!r} does not pickle "
        f"({type(error).__name__}: {error}). Give the study a {label} that pickles (settings and "
        "functions defined at module level) to send it to another process."
    ) from error


def _unpickle_study(cls: type[Study], state: dict[str, Any]) -> Study:
    """Rebuild a pickled :class:`Study`: reopen its storage by URL and load the same study (same
    id, name and creation time), with the pickled sampler, pruner and heartbeat interval.

    Raises:
        StudyNotFoundError: The storage or the study is gone (deleted, or made again under the
            same name since the study was pickled: a new study is not the pickled one).
    """
    from hpopt.create import _missing_store
    from hpopt.errors import StudyNotFoundError
    from hpopt.storage import open_storage

    url, name, sid = state["url"], state["study_name"], state["sid"]
    where = redact_url(url)
    sqlite = state.get("sqlite")
    if sqlite is not None:  # opened by its path: see Study.__reduce__
        path = sqlite[0]
        why = None if os.path.exists(path) else f"there is no SQLite storage at {path!r}"
    else:
        why = _missing_store(url)  # a missing SQLite file is not created (that would be a new, empty store)
    if why is not None:
        raise StudyNotFoundError(f"cannot unpickle study {name!r}: {why} (here, in process {os.getpid()}).")
    if sqlite is not None:
        from hpopt.storage.sqlite import SQLiteBackend

        store = Storage(SQLiteBackend(sqlite[0], synchronous=sqlite[1]))
    else:
        store = open_storage(url)
    store.sync()
    rec = store._model.studies.get(sid)
    if rec is None or rec.name != name or rec.created != state["created"]:
        now = store._model.by_name.get(name)
        store.close()
        again = "" if now is None else " (a study of that name there now is another one, made since)"
        raise StudyNotFoundError(
            f"cannot unpickle study {name!r}: it no longer exists in {where}{again}; it was deleted "
            "after it was pickled."
        )
    return cls(store, sid, state["sampler"], state["pruner"], heartbeat_interval=state["heartbeat_interval"])


def feasibility(trials: Sequence[FrozenTrial], study: Study | None = None) -> list[bool | None] | None:
    """Per trial, True/False when its feasibility is known, else None; None for the whole list
    when no trial's is known (an unconstrained study: readers then show and use every trial as
    before).

    Known means: constraint values stored with the trial at tell time, or (with ``study``) computed
    by that handle's sampler's ``constraints_func`` for a COMPLETE trial stored without them.
    """
    if study is not None:
        out = [study._verdict(t) for t in trials]
    else:
        out = []
        for t in trials:
            stored = stored_constraints(t)
            out.append(None if stored is None else bool((stored <= 0.0).all()))
    return out if any(v is not None for v in out) else None


def pareto_front_mask(costs: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``costs`` (all objectives minimized).

    Rows that are exact duplicates of a front member stay on the front. Distinct rows are sorted
    lexicographically: with two objectives a row is on the front when its second cost is below
    every earlier row's (a sort and a running minimum, O(n log n)); with more, the smallest
    remaining row is on the front and removes everything it dominates (one vectorized pass per
    front member).
    """
    costs = np.asarray(costs, dtype=float)
    n, d = costs.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    uniq, inverse = np.unique(costs, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if d == 1:
        keep = np.zeros(len(uniq), dtype=bool)
        keep[0] = True
    elif d == 2:
        prev_min = np.concatenate([[np.inf], np.minimum.accumulate(uniq[:-1, 1])])
        keep = uniq[:, 1] < prev_min
        keep[0] = True  # the lexicographically first row is never dominated (even with cost +inf)
    else:
        keep = np.zeros(len(uniq), dtype=bool)
        alive = np.arange(len(uniq))
        while alive.size:
            first = alive[0]  # lexicographically smallest remaining row: nothing remaining beats it
            keep[first] = True
            dominated = np.all(uniq[first] <= uniq[alive[1:]], axis=1)  # rows distinct: one is strict
            alive = alive[1:][~dominated]
    return keep[inverse]


class _Budget:
    """Shared trial counter and deadline for ``optimize`` workers."""

    def __init__(self, n_trials: int | None, timeout: float | None) -> None:
        self._left = n_trials
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return False
            if self._left is None:
                return True
            if self._left <= 0:
                return False
            self._left -= 1
            return True


def _notes(sampler: Sampler, history: History, info: TrialInfo) -> dict[str, Any]:
    """The sampler's :meth:`~hpopt.Sampler.annotate` notes, checked to be storable."""
    notes = sampler.annotate(history, info)
    if not notes:
        return {}
    if not isinstance(notes, Mapping):
        raise SamplerError(f"{type(sampler).__name__}.annotate must return a mapping, not {notes!r}.")
    out = {}
    for key, value in notes.items():
        try:
            out[check_name("system attribute key", key)] = json_value("system attribute", key, value)
        except (TypeError, ValueError) as exc:
            raise SamplerError(f"{type(sampler).__name__}.annotate returned a bad note: {exc}") from exc
    for reserved in (PLAN_KEY, CONSTRAINTS_KEY):
        if reserved in out:
            raise SamplerError(f"{type(sampler).__name__}.annotate may not set {reserved!r}.")
    return out


def _planned_value(
    sampler: Sampler, name: str, dist: Distribution, fixed: Mapping[str, Any], values: Mapping[str, Any]
) -> Any:
    if name in fixed:
        value = fixed[name]
        if not dist.contains(value):
            raise ValueError(f"the enqueued value {value!r} of parameter {name!r} lies outside {dist!r}.")
        return dist.canonical(value)
    if name not in values:
        raise SamplerError(f"{type(sampler).__name__}.sample_joint returned no value for {name!r}.")
    value = values[name]
    if not dist.contains(value):
        raise SamplerError(
            f"{type(sampler).__name__} returned {value!r} for {name!r}, which lies outside {dist!r}."
        )
    return dist.canonical(value)


def _check_space(space: Any) -> dict[str, Distribution]:
    if not isinstance(space, Mapping):
        raise TypeError(f"`space` must be a dict of name -> distribution, but got {space!r}.")
    out = {}
    for name, dist in space.items():
        check_name("parameter", name)
        if not isinstance(dist, (Float, Int, Categorical)):
            raise TypeError(
                f"the distribution of {name!r} must be hpopt.Float, Int or Categorical, but got {dist!r}."
            )
        out[name] = dist
    return out


def _opt_count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int or None, but got {value!r}.")
    if value < 0:
        raise ValueError(f"`{name} >= 0` must hold, but got {name}={value}.")
    return int(value)


def _catch_tuple(catch: Any) -> tuple[type, ...]:
    if isinstance(catch, type):
        catch = (catch,)
    if isinstance(catch, (str, bytes)) or not isinstance(catch, Iterable):
        raise TypeError(f"`catch` must be an exception class or a tuple of them, but got {catch!r}.")
    catch = tuple(catch)
    for c in catch:
        if not (isinstance(c, type) and issubclass(c, BaseException)):
            raise TypeError(f"`catch` must hold exception classes, but got {c!r}.")
    return catch
