"""Refine and repeat: narrow a search space around the best trials, and warm-start a new study.

After a first look at a search, practitioners narrow the ranges around what worked and search
again. Two helpers make that step explicit and reproducible:

* :func:`refined_space` proposes a narrowed space from the best ``top`` fraction of a study's
  COMPLETE trials, and explains every change (``print(refined)``);
* :func:`warm_start` starts a new study from an earlier one's trials, so that nothing evaluated is
  wasted: ``mode="copy"`` records them in the new study as finished trials, ``mode="enqueue"``
  queues the best configurations to be evaluated again.

Example:
    >>> import hpopt
    >>> from hpopt.refine import refined_space, warm_start
    >>> space = {"x": hpopt.Float(-10, 10), "kind": hpopt.Categorical(["a", "b", "c"])}
    >>> def f(t):
    ...     return (t.suggest("x", space["x"]) - 2) ** 2 + (t.suggest("kind", space["kind"]) != "a")
    >>> first = hpopt.create_study(seed=0)
    >>> first.optimize(f, n_trials=40)
    >>> refined = refined_space(first, top=0.2)
    >>> refined["x"].high - refined["x"].low < 20
    True
    >>> second = hpopt.create_study(seed=1)
    >>> copied = warm_start(second, first, space=refined)  # the old trials inside the new space
    >>> len(second.trials) == copied
    True
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hpopt.distributions import Categorical, Distribution, Float, Int
from hpopt.records import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hpopt.study import Study

__all__ = ["RefinedSpace", "refined_space", "warm_start", "rank_trials", "WARM_START_KEY"]

#: User attribute recording where a warm-started trial came from: ``{"study": name, "trial": number}``.
WARM_START_KEY = "warm_start_from"


# -- selecting the best trials ------------------------------------------------------------------
def _costs(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> np.ndarray:
    """Objective values as an (n, d) array, every objective turned into one to minimize."""
    signs = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    return np.array([t.values for t in trials], dtype=float).reshape(len(trials), len(directions)) * signs


def rank_trials(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> np.ndarray:
    """Rank of each COMPLETE trial, 0 = best (lower is better).

    Single objective: the position after a stable sort by value (ties keep trial order), so
    ranks are distinct. Several objectives: the non-dominated sorting front (0 = Pareto front,
    1 = the front once the first is removed, ...), so trials of one front share a rank.
    """
    from hpopt.study import pareto_front_mask

    n = len(trials)
    costs = _costs(trials, directions)
    if costs.shape[1] == 1:
        ranks = np.empty(n, dtype=int)
        ranks[np.argsort(costs[:, 0], kind="stable")] = np.arange(n)
        return ranks
    ranks = np.full(n, -1, dtype=int)
    left = np.arange(n)
    front = 0
    while left.size:
        mask = pareto_front_mask(costs[left])
        ranks[left[mask]] = front
        left = left[~mask]
        front += 1
    return ranks


def _select_top(
    trials: Sequence[FrozenTrial], directions: Sequence[str], top: float | int
) -> list[FrozenTrial]:
    """The best ``top`` trials (a fraction in (0, 1], or a count), best first.

    With several objectives whole fronts are taken, from the Pareto front on, until at least the
    requested number is reached (a front is never split: its trials are equally good).
    """
    n = len(trials)
    k = _top_count(top, n)
    ranks = rank_trials(trials, directions)
    order = np.lexsort((np.array([t.number for t in trials]), ranks))
    if len(directions) > 1:
        k = int(np.count_nonzero(ranks <= ranks[order[k - 1]]))
    return [trials[i] for i in order[:k]]


def _top_count(top: Any, n: int) -> int:
    """``top`` as a number of trials out of ``n`` (at least one)."""
    if isinstance(top, (bool, np.bool_)) or not isinstance(top, numbers.Real):
        raise TypeError(f"`top` must be a fraction in (0, 1] or a count >= 1, but got {top!r}.")
    if isinstance(top, numbers.Integral) and top >= 1:
        return min(int(top), n)
    t = float(top)
    if not 0.0 < t <= 1.0:
        raise ValueError(f"`top` must be a fraction in (0, 1] or an integer count >= 1, but got top={top!r}.")
    return max(1, min(n, math.ceil(t * n - 1e-9)))


def _study_parts(source: Any) -> tuple[str, tuple[str, ...], list[FrozenTrial]]:
    """(name, directions, COMPLETE trials) of a Study."""
    from hpopt.study import Study

    if not isinstance(source, Study):
        raise TypeError(f"expected an hpopt Study, but got {source!r}.")
    trials = source.get_trials([TrialState.COMPLETE])
    return source.study_name, tuple(source.directions), trials


def _feasible_only(trials: Sequence[FrozenTrial], study: Study | None) -> list[FrozenTrial]:
    """``trials`` without those known to violate their constraints (the values stored with each
    trial at tell time; with ``study``, also its sampler's ``constraints_func`` for trials stored
    without them). Why: a "best" trial the user declared infeasible must not steer a refinement."""
    from hpopt.study import feasibility

    verdicts = feasibility(trials, study)
    if verdicts is None:
        return list(trials)
    return [t for t, v in zip(trials, verdicts) if v is not False]


# -- the refined space ------------------------------------------------------------------------
class RefinedSpace(Mapping[str, Distribution]):
    """A narrowed search space (a mapping name -> distribution) with the reasons for each change.

    Attributes:
        original: The space it was refined from (name -> distribution).
        notes: name -> one line explaining what changed for that parameter and why.
        selected: Numbers of the trials the refinement is based on (best first).
        n_complete: How many COMPLETE trials were ranked (the feasible ones when the trials carry
            constraint values).
        top, margin: The settings used.
    """

    def __init__(
        self,
        space: dict[str, Distribution],
        original: dict[str, Distribution],
        notes: dict[str, str],
        selected: list[int],
        n_complete: int,
        top: float | int,
        margin: float,
        header: str,
    ) -> None:
        self._space = dict(space)
        self.original = dict(original)
        self.notes = dict(notes)
        self.selected = list(selected)
        self.n_complete = n_complete
        self.top = top
        self.margin = margin
        self._header = header

    def __getitem__(self, name: str) -> Distribution:
        return self._space[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._space)

    def __len__(self) -> int:
        return len(self._space)

    def __repr__(self) -> str:
        return f"RefinedSpace({self._space!r})"

    def changed(self) -> list[str]:
        """Names whose distribution differs from the original one."""
        return [n for n in self._space if self._space[n] != self.original[n]]

    def summary(self) -> str:
        """A readable explanation of every parameter: old -> new and why."""
        width = max((len(n) for n in self._space), default=0)
        lines = [self._header]
        for name in self._space:
            old, new = self.original[name], self._space[name]
            change = f"{old!r} -> {new!r}" if old != new else f"{old!r} (unchanged)"
            lines.append(f"  {name:<{width}}  {change}")
            lines.append(f"  {'':<{width}}    {self.notes[name]}")
        return "\n".join(lines)

    __str__ = summary


def refined_space(
    study: Study,
    top: float | int = 0.2,
    *,
    min_trials: int = 10,
    margin: float = 0.1,
    space: Mapping[str, Distribution] | None = None,
) -> RefinedSpace:
    """Propose a narrowed search space from the best trials of ``study``.

    The best ``top`` COMPLETE trials are selected (by value; with several objectives, whole
    non-dominated fronts from the Pareto front on, until at least ``top`` of the trials). Trials
    that violate their constraints (values stored when they were told with a sampler that has a
    ``constraints_func``) are left out first: ``top`` and ``min_trials`` count feasible trials.
    Then, for each parameter:

    * numbers (:class:`~hpopt.Float`, :class:`~hpopt.Int`): the range shrinks to the span of the
      selected trials' values plus ``margin`` times the original width on each side, measured in
      log space for ``log=True``, clipped to the original bounds. Bounds are rounded outward to 4
      significant digits for readability; a ``step`` grid stays aligned (the new bounds are points
      of the old grid); ``log`` and ``step`` are kept. A Float range never collapses to a point
      unless it was one (the margin keeps it open even when all selected values are equal);
    * categories: choices no selected trial used are dropped (the used ones keep their order);
    * conditional parameters (present in only some trials) are refined from the selected trials
      that have them; if none has them, they are left unchanged (their branch was not among the
      best, and a dropped choice of the parent categorical may already exclude it).

    The result always lies inside the original space and contains every selected trial's value.
    Dropped choices change a categorical's choice list, which hpopt refuses within one study:
    use the refined space in a *new* study (see :func:`warm_start`).

    Args:
        study: The study to learn from.
        top: The fraction (in (0, 1]) of COMPLETE trials to keep, or a count (an int >= 1).
        min_trials: Refuse to refine from fewer COMPLETE trials than this.
        margin: Added on each side, as a fraction of the original range width (>= 0).
        space: The original space (name -> distribution). Default: each parameter's distribution
            in the latest COMPLETE trial that has it. Values of selected trials outside a given
            ``space`` are ignored (and said so in the notes).

    Returns:
        A :class:`RefinedSpace`; ``print(it)`` explains every change.

    Raises:
        TypeError: ``study`` is not a Study, or a bad argument type.
        ValueError: Fewer than ``min_trials`` COMPLETE trials, ``margin < 0``, ``top`` outside
            (0, 1] (for a fraction), or a ``space`` entry that is not a distribution.
    """
    if isinstance(min_trials, (bool, np.bool_)) or not isinstance(min_trials, numbers.Integral):
        raise TypeError(f"`min_trials` must be an int, but got {min_trials!r}.")
    if min_trials < 1:
        raise ValueError(f"`min_trials >= 1` must hold, but got min_trials={min_trials}.")
    if isinstance(margin, (bool, np.bool_)) or not isinstance(margin, numbers.Real):
        raise TypeError(f"`margin` must be a real number, but got {margin!r}.")
    margin = float(margin)
    if not 0.0 <= margin < math.inf:
        raise ValueError(f"`margin >= 0` must hold (a fraction of the range width), but got {margin!r}.")
    _top_count(top, 1)  # validate before reading the study
    if space is not None:
        if not isinstance(space, Mapping):
            raise TypeError(f"`space` must be a dict of name -> distribution, but got {space!r}.")
        for name, dist in space.items():
            if not isinstance(dist, (Float, Int, Categorical)):
                raise ValueError(f"`space[{name!r}]` must be an hpopt distribution, but got {dist!r}.")
    name, directions, done = _study_parts(study)
    ranked = _feasible_only(done, study)
    n_bad = len(done) - len(ranked)
    if len(ranked) < min_trials:
        bad = f", {n_bad} of them infeasible (violating their constraints)" if n_bad else ""
        raise ValueError(
            f"study {name!r} has {len(done)} COMPLETE trial(s){bad}; refining needs at least "
            f"min_trials={min_trials}{' feasible ones' if n_bad else ''} (run more trials, or lower "
            "min_trials)."
        )
    best = _select_top(ranked, directions, top)
    original = dict(space) if space is not None else _inferred_space(done)
    new: dict[str, Distribution] = {}
    notes: dict[str, str] = {}
    for pname, dist in original.items():
        have = [t for t in best if pname in t.params]
        values = [t.params[pname] for t in have]
        inside = [v for v in values if dist.contains(v)]
        note = ""
        if len(inside) < len(values):
            note = f"{len(values) - len(inside)} selected value(s) outside the original range ignored; "
        if len(have) < len(best):
            note += f"conditional: set in {len(have)} of the {len(best)} selected trials; "
        if not inside:
            new[pname] = dist
            notes[pname] = note + "no selected trial has a value for it: left unchanged."
            continue
        refined, why = _refine_one(dist, inside, margin)
        new[pname] = refined
        notes[pname] = note + why
    kind = "Pareto fronts of" if len(directions) > 1 else "best"
    pool = f"{len(ranked)} feasible COMPLETE trials ({n_bad} infeasible left out)" if n_bad else \
        f"{len(done)} COMPLETE trials"
    header = (
        f"Refined space from the {kind} {len(best)} of {pool} of study {name!r} "
        f"({', '.join(directions)}; top={top!r}, margin={margin!r}):"
    )
    return RefinedSpace(
        new, original, notes, [t.number for t in best], len(ranked), top, margin, header
    )


def _inferred_space(trials: Sequence[FrozenTrial]) -> dict[str, Distribution]:
    """Each parameter's distribution in the latest trial that has it (names in first-seen order)."""
    space: dict[str, Distribution] = {}
    for t in trials:  # sorted by number: a later trial's distribution replaces an earlier one
        space.update(t.distributions)
    return space


def _refine_one(dist: Distribution, values: list[Any], margin: float) -> tuple[Distribution, str]:
    """The narrowed distribution for one parameter, and the reason (one line)."""
    if isinstance(dist, Categorical):
        used = {dist.index(v) for v in values}
        keep = [c for i, c in enumerate(dist.choices) if i in used]
        if len(keep) == len(dist.choices):
            return dist, "every choice is used by the selected trials: kept."
        dropped = [c for i, c in enumerate(dist.choices) if i not in used]
        return Categorical(keep), f"dropped {dropped!r} (no selected trial used them)."
    if dist.single():
        return dist, "a single value already: kept."
    vals = np.array([float(v) for v in values])
    lo_v, hi_v = float(vals.min()), float(vals.max())
    internal = np.log if dist.log else (lambda x: x)
    lo_i, hi_i = float(internal(lo_v)), float(internal(hi_v))
    width = float(internal(dist.high) - internal(dist.low))
    pad = margin * width
    lo_n, hi_n = lo_i - pad, hi_i + pad
    if dist.log:
        lo_n, hi_n = math.exp(lo_n), math.exp(hi_n)
    lo_n, hi_n = max(lo_n, dist.low), min(hi_n, dist.high)
    shown = f"{_fmt(lo_v)}..{_fmt(hi_v)}" if lo_v != hi_v else f"all {_fmt(lo_v)}"
    if isinstance(dist, Int):
        out = _refine_int(dist, lo_n, hi_n, int(lo_v), int(hi_v))
    else:
        out = _refine_float(dist, lo_n, hi_n, lo_v, hi_v)
    if out == dist:
        return dist, f"selected values {shown}: with the margin they span the whole range: kept."
    new_width = float(internal(out.high) - internal(out.low))
    scale = " of the log range" if dist.log else ""
    return out, f"selected values {shown}; shrunk to {100 * new_width / width:.3g}%{scale}."


def _refine_int(dist: Int, lo: float, hi: float, lo_v: int, hi_v: int) -> Int:
    step = dist.step
    k_lo = math.floor((lo - dist.low) / step + 1e-9)
    k_hi = math.ceil((hi - dist.low) / step - 1e-9)
    new_lo = min(dist.low + max(k_lo, 0) * step, lo_v)
    new_hi = max(min(dist.low + k_hi * step, dist.high), hi_v)
    return Int(new_lo, new_hi, log=dist.log, step=step)


def _refine_float(dist: Float, lo: float, hi: float, lo_v: float, hi_v: float) -> Float:
    if dist.step is not None:
        step = dist.step
        n_max = round((dist.high - dist.low) / step)
        k_lo = max(0, math.floor((lo - dist.low) / step + 1e-9))
        k_hi = min(n_max, math.ceil((hi - dist.low) / step - 1e-9))
        k_lo = min(k_lo, round((lo_v - dist.low) / step))
        k_hi = max(k_hi, round((hi_v - dist.low) / step))
        if k_lo == k_hi:  # margin 0 and equal values: open to the neighbouring grid points
            if n_max == 0:  # the original grid has one point
                return dist
            k_lo, k_hi = max(0, k_lo - 1), min(n_max, k_hi + 1)
        new_lo = dist.from_internal(dist.low + k_lo * step)
        new_hi = dist.from_internal(dist.low + k_hi * step)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the bounds are grid points: a lowered high is a bug
            return Float(new_lo, new_hi, step=step)
    new_lo = max(dist.low, min(_round_out(lo, down=True), lo_v))
    new_hi = min(dist.high, max(_round_out(hi, down=False), hi_v))
    if new_lo >= new_hi:  # margin 0 and equal values: open a small interval inside the bounds
        eps = max(abs(new_lo), 1.0) * 1e-6 if not dist.log else new_lo * 1e-6
        new_lo, new_hi = max(dist.low, new_lo - eps), min(dist.high, new_hi + eps)
    return Float(new_lo, new_hi, log=dist.log)


def _round_out(v: float, *, down: bool, digits: int = 4) -> float:
    """``v`` rounded to ``digits`` significant digits, toward -inf (``down``) or +inf."""
    if v == 0.0 or not math.isfinite(v):
        return v
    exp = math.floor(math.log10(abs(v))) - digits + 1
    scale = 10.0 ** exp
    if scale == 0.0:  # a subnormal v (e.g. 5e-324): 10**exp underflows, there is nothing to round
        return v
    r = (math.floor if down else math.ceil)(v / scale) * scale
    r = float(f"{r:.{digits + 2}g}")
    if (down and r > v) or (not down and r < v):
        return v
    return r


def _fmt(v: float) -> str:
    return f"{v:.4g}"


# -- warm starts --------------------------------------------------------------------------------
def warm_start(
    new_study: Study,
    source: Study | Sequence[FrozenTrial],
    *,
    mode: str = "copy",
    top: float | int | None = None,
    space: Mapping[str, Distribution] | None = None,
    source_name: str | None = None,
    reports: bool = True,
) -> int:
    """Start ``new_study`` from the trials of an earlier study, so nothing evaluated is wasted.

    Modes:

    * ``"copy"``: each selected COMPLETE trial is added to ``new_study`` as a COMPLETE trial with
      the same parameters, values, intermediate values and user attributes. The sampler of the new study then
      learns from them as from its own trials. Use it when the objective is unchanged.
    * ``"enqueue"``: the selected configurations are queued in ``new_study`` and evaluated again
      by the next trials (a configuration already present there is not queued twice). Use it
      when the objective changed (more data, another CV split) but the old best are good starts.

    Every added trial carries the user attribute ``"warm_start_from"`` =
    ``{"study": <old study name>, "trial": <old trial number>}``.

    Constraints: the best ``top`` (and ``"enqueue"``'s default best 10) are chosen among the
    feasible trials only (constraint values stored at tell time). A copied trial gets its
    constraint values from ``new_study``'s ``constraints_func`` when its sampler has one, else
    keeps those stored with the original, so its feasibility is not lost.

    With ``space`` (e.g. a :class:`RefinedSpace`), copied trials record ``space``'s distributions
    (so the new study sees one consistent space), and an old trial is **skipped** when one of its
    parameters is not in ``space`` or its value lies outside it. Without ``space`` the old
    distributions are kept.

    Copying uses the public ``enqueue_trial`` + ``ask`` + ``tell``: run it before workers start
    on ``new_study``, and on a study with no WAITING trial (checked).

    Args:
        new_study: The study to fill.
        source: The earlier study, or a sequence of its FrozenTrials (only COMPLETE ones are used).
        mode: ``"copy"`` or ``"enqueue"``.
        top: Only the best ``top`` trials (a fraction in (0, 1] or a count); None: all COMPLETE
            trials for ``"copy"``, the best 10 for ``"enqueue"``.
        space: The new study's space; see above.
        source_name: Provenance name when ``source`` is a list of trials (default ``"trials"``).
        reports: With ``"copy"``, also copy the intermediate values (what pruners compare a running
            trial with); one write per reported step.

    Returns:
        How many trials were copied or enqueued.

    Raises:
        TypeError, ValueError: Bad arguments, a different number of objectives, the source being
            the new study itself, or (for ``"copy"``) WAITING trials in ``new_study`` or a
            parameter that ``new_study`` already has with another type, log flag or choice list
            (e.g. a refined categorical), or (``"copy"`` into a study without a
            ``constraints_func``) stored constraint values of different counts. Nothing is
            written when these are raised.
        Exception: With ``"copy"``, whatever ``new_study``'s ``constraints_func`` raised on a copy
            (that copy is failed with the reason; the earlier copies stay).
    """
    from hpopt._checks import stored_constraints
    from hpopt.study import Study, _check_space

    if not isinstance(new_study, Study):
        raise TypeError(f"`new_study` must be an hpopt Study, but got {new_study!r}.")
    if mode not in ("copy", "enqueue"):
        raise ValueError(f"`mode` must be 'copy' or 'enqueue', but got mode={mode!r}.")
    if space is not None:
        space = _check_space(space)
    directions = tuple(new_study.directions)
    if isinstance(source, Study):
        if source.storage is new_study.storage and source.study_name == new_study.study_name:
            raise ValueError("`source` is `new_study` itself; warm-start a new study from an earlier one.")
        name, old_dirs, done = _study_parts(source)
        if len(old_dirs) != len(directions):
            raise ValueError(
                f"study {name!r} has {len(old_dirs)} objective(s) {list(old_dirs)}, the new study "
                f"{len(directions)} {list(directions)}: their values cannot be shared."
            )
        if old_dirs != directions:
            raise ValueError(
                f"study {name!r} has directions {list(old_dirs)}, the new study {list(directions)}; "
                "a warm start needs the same directions."
            )
    else:
        if isinstance(source, (str, bytes)) or not isinstance(source, Sequence):
            raise TypeError(f"`source` must be a Study or a list of FrozenTrials, but got {source!r}.")
        if not all(isinstance(t, FrozenTrial) for t in source):
            raise TypeError("`source` must hold FrozenTrial records only.")
        name = source_name if source_name is not None else "trials"
        done = [t for t in source if t.state is TrialState.COMPLETE]
        for t in done:
            if t.values is None or len(t.values) != len(directions):
                raise ValueError(
                    f"trial {t.number} has values {t.values}, but the new study has "
                    f"{len(directions)} objective(s)."
                )
    ranked = _feasible_only(done, source if isinstance(source, Study) else None)
    if top is None:
        chosen = list(done) if mode == "copy" else _select_top(ranked, directions, 10) if ranked else []
    else:
        _top_count(top, 1)
        chosen = _select_top(ranked, directions, top) if ranked else []
    if mode == "copy":
        chosen.sort(key=lambda t: t.number)
        if new_study.get_trials([TrialState.WAITING]):
            raise ValueError(
                f"study {new_study.study_name!r} has WAITING (enqueued) trials; copy into it first, "
                "then enqueue (the copy relies on the queue being empty)."
            )
    planned = []
    for t in chosen:
        dists = _trial_space(t, space)
        if dists is not None:
            planned.append((t, dists))
    if mode == "copy":
        _check_copy_space(new_study, planned)
        _check_copy_constraints(new_study, name, [t for t, _ in planned])
    count = 0
    for t, dists in planned:
        attrs = {**dict(t.user_attrs), WARM_START_KEY: {"study": name, "trial": t.number}}
        params = {p: dists[p].canonical(v) for p, v in t.params.items()}
        if mode == "enqueue":
            if new_study.enqueue_trial(params, user_attrs=attrs, skip_if_exists=True) is not None:
                count += 1
            continue
        number = new_study.enqueue_trial(params, user_attrs=attrs)
        trial = new_study.ask(dists)
        if trial.number != number:  # another worker's queued trial came first: give it back failed
            new_study.tell(trial, state="fail")
            raise RuntimeError(
                f"warm_start copy into {new_study.study_name!r} raced with another worker; "
                f"{count} trial(s) were copied before."
            )
        if reports:
            for step in sorted(t.intermediate_values):
                trial.report(t.intermediate_values[step], step)
        new_study._tell_copy(trial, list(t.values), stored_constraints(t))
        count += 1
    return count


def _check_copy_constraints(new_study: Study, name: str, trials: list[FrozenTrial]) -> None:
    """Refuse, before the first write, copies whose stored constraint values ``new_study`` would
    keep with another count of values than its other trials (each other's, or its own).

    Why: without a ``constraints_func`` of its own, ``new_study`` stores the originals' values as
    they are; ``tell`` refuses a changing count, so mixed counts would make every later constrained
    tell fail (and the ``gp`` sampler fits one model per constraint). With a ``constraints_func``
    the copies' values are computed and checked at tell instead.
    """
    from hpopt._checks import stored_constraints

    if new_study._constraints_func() is not None:
        return
    counts: dict[int, int] = {}  # count -> a trial number with it
    for t in trials:
        stored = stored_constraints(t)
        if stored is not None:
            counts.setdefault(len(stored), t.number)
    have = new_study._constraint_count()
    if have is not None and have not in counts and counts:
        counts.setdefault(have, -1)
    if len(counts) > 1:
        where = ", ".join(
            f"{k} (study {new_study.study_name!r})" if n < 0 else f"{k} (trial {n} of {name!r})"
            for k, n in sorted(counts.items())
        )
        raise ValueError(
            f"the copied trials' constraint values must have the same count as each other and as "
            f"those of study {new_study.study_name!r}, but the counts are {where}. Nothing was copied."
        )


def _check_copy_space(new_study: Study, planned: list[tuple[FrozenTrial, dict[str, Distribution]]]) -> None:
    """Refuse, before the first write, a copy whose distributions ``new_study`` would refuse.

    Each copy enqueues a trial and then asks it with the old distributions; a parameter that
    ``new_study`` (or an earlier copied trial) already has with another type, log flag or choice
    list would make that ``ask`` raise after the enqueue, leaving a WAITING trial behind (which
    the next ``optimize`` would run, and which blocks the next ``warm_start``).
    """
    from hpopt.distributions import check_compatible

    latest: dict[str, Distribution] = {}
    for _, dists in planned:
        for pname, dist in dists.items():
            old = latest.get(pname)
            if old is None:
                old = new_study.storage.known_distribution(new_study._sid, pname)
            if old is not None:
                check_compatible(pname, old, dist)
            latest[pname] = dist


def _trial_space(
    trial: FrozenTrial, space: Mapping[str, Distribution] | None
) -> dict[str, Distribution] | None:
    """The distributions to record for ``trial``'s parameters, or None when it must be skipped."""
    if space is None:
        return dict(trial.distributions)
    out = {}
    for pname, value in trial.params.items():
        dist = space.get(pname)
        if dist is None or not dist.contains(value):
            return None
        out[pname] = dist
    return out
