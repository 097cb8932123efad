"""Hyperparameter importance: which parameters mattered in a study.

:func:`get_param_importances` explains a study's COMPLETE trials with one of two methods:

* ``"ped-anova"`` (default; Watanabe et al. 2023, :mod:`hpopt.importance.ped_anova`): how much the
  distribution of each parameter among the best ``gamma`` fraction of the trials differs from its
  distribution among all of them (a Pearson divergence). Local (it explains what it takes to be
  among the best), model-free and fast: milliseconds for thousands of trials.
* ``"fanova"`` (Hutter et al. 2014, :mod:`hpopt.importance.fanova`): fit a random forest to the
  objective and compute, exactly on each tree, the fraction of its variance over the whole space
  that each parameter explains on its own. Global, model-based, a fraction of a second to a
  second for a thousand trials.

Both handle log parameters (on the log scale), integers, categoricals and conditional parameters
(absence counts as a value of its own), and are deterministic given ``seed``.

PED-ANOVA compares the best trials with the trials *as they were sampled*. After an adaptive
sampler (TPE, the GP, the default ``"auto"``) has concentrated its trials where the objective is
good, the values of an important parameter are concentrated among all trials too, and its
importance is understated (on ``10 x**2 + y**2`` after 100 trials of the default sampler it ranks
``y`` first, fanova ``x``). Read it on random or quasi-random trials, or use ``method="fanova"``.

Example:
    >>> import hpopt
    >>> from hpopt.importance import get_param_importances
    >>> study = hpopt.create_study(sampler="random", seed=0)
    >>> space = {"x": hpopt.Float(-1, 1), "y": hpopt.Float(-1, 1)}
    >>> for _ in range(100):
    ...     t = study.ask(space)
    ...     _ = study.tell(t, 10 * t.params["x"] ** 2 + t.params["y"] ** 2)
    >>> imp = get_param_importances(study)
    >>> list(imp)
    ['x', 'y']
    >>> round(sum(imp.values()), 6)
    1.0
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from hpopt._checks import check_int, check_real
from hpopt.importance._encode import encode_trials
from hpopt.importance.fanova import fanova_importances
from hpopt.importance.ped_anova import ped_anova_importances
from hpopt.records import FrozenTrial, TrialState
from hpopt.rng import resolve_seed

__all__ = ["get_param_importances", "METHODS"]

#: Largest ``n_bins`` of ``"ped-anova"``: its kernel matrix has ``n_bins**2`` entries (8 MB at 1024).
MAX_BINS = 1024

#: The importance methods, with their settings and defaults.
METHODS: dict[str, dict[str, Any]] = {
    "ped-anova": {"gamma": 0.1, "region": 1.0, "n_bins": 64, "direction": None},
    "fanova": {"n_trees": 16, "max_depth": 16, "min_samples_leaf": 2, "max_features": 1.0},
}


def get_param_importances(
    study: Any,
    *,
    method: str = "ped-anova",
    params: Iterable[str] | None = None,
    target: Callable[[FrozenTrial], float] | None = None,
    seed: int | np.random.Generator | None = 0,
    **settings: Any,
) -> dict[str, float]:
    """Importance of each parameter of ``study``, from most to least important.

    Only COMPLETE trials count; a trial whose target is NaN or infinite is left out. A parameter
    that some trials do not have (a conditional one) is encoded as "inactive" in those trials.

    Args:
        study: An :class:`hpopt.Study` (a plain list of trials is not accepted: the study gives
            the directions and the name used in messages).
        method: ``"ped-anova"`` or ``"fanova"``.
        params: Names of the parameters to rank (default: every parameter of the COMPLETE
            trials). With ``"fanova"`` the forest is still fitted on all of them.
        target: ``target(frozen_trial) -> float``, what to explain; required for a
            multi-objective study (e.g. ``lambda t: t.values[0]``). Default: the objective value.
        seed: Seed of the random forest (``"fanova"``; None draws fresh entropy, so results then
            vary between calls); ``"ped-anova"`` uses no randomness.
        **settings: Method settings.
            ``"ped-anova"``: ``gamma`` (0.1, quantile of the best trials), ``region`` (1.0,
            quantile of the trials the top set is compared with, ``>= gamma``), ``n_bins`` (64,
            bins of a continuous parameter, at most 1024), ``direction`` ("minimize"/"maximize"; default: the
            study's direction, or "minimize" for a ``target`` of a multi-objective study).
            ``"fanova"``: ``n_trees`` (16), ``max_depth`` (16), ``min_samples_leaf`` (2),
            ``max_features`` (1.0, fraction of the parameters tried at each split).

    Returns:
        name -> importance, ordered from most to least important (ties keep the order in which
        the parameters first appear), non-negative and summing to 1, or all 0.0 when nothing
        can be explained (one trial, a constant target, parameters with a single value).

    Raises:
        TypeError: ``study`` is not a study, ``target`` is not callable or returns a non-number,
            ``params`` is a string, or a setting has the wrong type.
        ValueError: Unknown method or setting (the known ones are listed), a setting out of
            range, an unknown parameter (the study's are listed), no COMPLETE trial (or none with
            a finite target), or a multi-objective study without ``target``.

    Example:
        >>> import hpopt
        >>> study = hpopt.create_study(directions=["minimize", "minimize"], seed=0)
        >>> for _ in range(30):
        ...     t = study.ask({"a": hpopt.Float(0, 1), "b": hpopt.Int(1, 5)})
        ...     _ = study.tell(t, [t.params["a"], t.params["b"]])
        >>> list(get_param_importances(study, target=lambda t: t.values[1], method="fanova"))[0]
        'b'
    """
    if not (hasattr(study, "get_trials") and hasattr(study, "directions")):
        raise TypeError(
            f"`study` must be an hpopt Study (from hpopt.create_study or hpopt.load_study), but got "
            f"{type(study).__name__}."
        )
    name = _method(method)
    opts = _settings(name, settings)
    seed_int = resolve_seed(seed)
    if target is not None and not callable(target):
        raise TypeError(f"`target` must be a callable taking a FrozenTrial, but got {target!r}.")
    wanted = _param_list(params)
    directions = list(study.directions)
    if target is None and len(directions) != 1:
        raise ValueError(
            f"this study has {len(directions)} objectives ({directions}); pass `target=` to choose what "
            f"to explain, e.g. target=lambda t: t.values[0]."
        )

    trials = study.get_trials([TrialState.COMPLETE])
    if not trials:
        raise ValueError(
            f"study {study.study_name!r} has no COMPLETE trial; importance needs finished trials."
        )
    known: dict[str, None] = {}
    for t in trials:
        known.update(dict.fromkeys(t.params))
    if wanted is not None:
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} in `params`; the parameters of the study's COMPLETE "
                f"trials are {sorted(known)}."
            )

    values = np.array([_target_value(t, target) for t in trials], dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        raise ValueError(
            f"study {study.study_name!r} has no COMPLETE trial with a finite target value "
            f"({len(trials)} COMPLETE trial(s), all NaN or infinite)."
        )
    trials = [t for t, ok in zip(trials, finite) if ok]
    values = values[finite]
    report = list(known) if wanted is None else wanted
    if not report:
        return {}

    if name == "ped-anova":
        enc = encode_trials(trials, report, max_grid=opts["n_bins"])
        direction = opts["direction"] or (directions[0] if len(directions) == 1 else "minimize")
        raw = ped_anova_importances(
            enc,
            values,
            minimize=direction == "minimize",
            gamma=opts["gamma"],
            region=opts["region"],
            n_bins=opts["n_bins"],
        )
    else:
        names = list(known)  # the forest models every parameter; only `report` is returned
        enc = encode_trials(trials, names)
        fractions = fanova_importances(enc, values, seed=seed_int, **opts)
        raw = fractions[[names.index(p) for p in report]]
    raw = np.where(np.isfinite(raw) & (raw > 0), raw, 0.0)
    total = float(raw.sum())
    if total > 0:
        raw = raw / total
    order = np.argsort(-raw, kind="stable")
    return {report[i]: float(raw[i]) for i in order}


def _method(method: Any) -> str:
    """The canonical method name ("PED_ANOVA" and "pedanova" are accepted too)."""
    if isinstance(method, str):
        key = method.strip().lower().replace("_", "-")
        key = {"pedanova": "ped-anova", "f-anova": "fanova"}.get(key, key)
        if key in METHODS:
            return key
    raise ValueError(f"`method` must be one of {list(METHODS)}, but got {method!r}.")


def _settings(method: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The method's settings: defaults overridden by ``settings``, each checked."""
    allowed = METHODS[method]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown setting(s) {unknown} for method {method!r}; its settings are {sorted(allowed)}."
        )
    opts = {**allowed, **settings}
    if method == "ped-anova":
        gamma = check_real("gamma", opts["gamma"], low=0.0, low_open=True, high=1.0)
        region = check_real("region", opts["region"], low=0.0, low_open=True, high=1.0)
        if gamma > region:
            raise ValueError(f"`gamma <= region` must hold, but got gamma={gamma!r}, region={region!r}.")
        opts["gamma"], opts["region"] = gamma, region
        opts["n_bins"] = check_int("n_bins", opts["n_bins"], 2)
        if opts["n_bins"] > MAX_BINS:  # the smoothing kernel is an n_bins x n_bins matrix
            raise ValueError(
                f"`n_bins <= {MAX_BINS}` must hold (memory grows with n_bins**2), but got "
                f"n_bins={opts['n_bins']}."
            )
        direction = opts["direction"]
        if direction not in (None, "minimize", "maximize"):
            raise ValueError(f"`direction` must be 'minimize', 'maximize' or None, but got {direction!r}.")
    else:
        opts["n_trees"] = check_int("n_trees", opts["n_trees"], 1)
        opts["max_depth"] = check_int("max_depth", opts["max_depth"], 1)
        opts["min_samples_leaf"] = check_int("min_samples_leaf", opts["min_samples_leaf"], 1)
        opts["max_features"] = check_real(
            "max_features", opts["max_features"], low=0.0, low_open=True, high=1.0
        )
    return opts


def _param_list(params: Any) -> list[str] | None:
    """``params`` as a list of distinct names (None stays None)."""
    if params is None:
        return None
    if isinstance(params, str):
        raise TypeError(f"`params` must be a list of parameter names, not a string; use [{params!r}].")
    try:
        names = list(params)
    except TypeError:
        raise TypeError(f"`params` must be a list of parameter names, but got {params!r}.") from None
    for p in names:
        if not isinstance(p, str):
            raise TypeError(f"`params` must hold parameter names (str), but got {p!r}.")
    dup = sorted({p for p in names if names.count(p) > 1})
    if dup:
        raise ValueError(f"`params` names {dup} more than once.")
    return names


def _target_value(trial: FrozenTrial, target: Callable[[FrozenTrial], float] | None) -> float:
    if target is None:
        return float(trial.values[0])  # type: ignore[index]
    v = target(trial)
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"`target` must return a real number, but returned {v!r} for trial {trial.number}.")
    return float(v)
