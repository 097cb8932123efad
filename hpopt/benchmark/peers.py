"""Optimizers the runner can drive: hpopt samplers, and peer libraries side by side.

A sampler spec is a string:

* ``"random"``, ``"qmc"``: a registered hpopt sampler, built with
  ``hpopt.make_sampler(name, seed=seed, **settings)``;
* ``"optuna:tpe"``, ``"optuna:cmaes"``, ``"optuna:gp"``, ``"optuna:random"``,
  ``"hyperopt:tpe"``, ``"nevergrad:ngopt"``, ``"nevergrad:cma"``: a peer library (the ``bench``
  extra installs them; hpopt itself never imports them);
* settings in brackets, values as JSON or bare strings: ``"optuna:tpe[n_startup_trials=5]"``;
* a pruner after ``+``, from the same library: ``"random+median"``,
  ``"optuna:tpe+optuna:hyperband[min_resource=2]"``.

An optimizer drives its own loop and calls ``evaluate(params, trial)`` once per trial; the
runner times everything between two calls as sampler time. ``evaluate`` returns an
:class:`Outcome`; for a pruned trial the optimizer tells its library so.

Libraries without define-by-run (hyperopt, nevergrad) see a conditional problem's flat space and
the problem reads the parameters its branch uses.

Example:
    >>> spec = parse_spec("optuna:tpe[n_startup_trials=5]+optuna:median")
    >>> spec.name, dict(spec.settings), spec.pruner
    ('optuna:tpe', {'n_startup_trials': 5}, 'optuna:median')
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from hpopt.benchmark.problem import Problem
from hpopt.distributions import Categorical, Distribution, Float, Int

__all__ = ["SamplerSpec", "Outcome", "parse_spec", "split_specs", "PEERS", "PEER_PRUNERS",
           "available_peers", "check_spec", "make_optimizer", "UnsupportedProblem"]


class UnsupportedProblem(Exception):
    """The optimizer cannot handle this kind of problem (the run is recorded as skipped)."""


@attrs.frozen
class Outcome:
    """What ``evaluate`` returns to an optimizer: the values to tell, and whether it was pruned."""

    values: float | tuple[float, ...]
    pruned: bool = False


@attrs.frozen
class SamplerSpec:
    """A parsed sampler spec (see the module docstring).

    Example:
        >>> parse_spec("random+median").label
        'random+median'
    """

    name: str
    settings: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)
    pruner: str | None = None
    pruner_settings: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)
    label: str = ""

    @property
    def library(self) -> str:
        """``"hpopt"`` or the peer library name."""
        return self.name.split(":", 1)[0] if ":" in self.name else "hpopt"


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _name_settings(text: str, what: str) -> tuple[str, dict[str, Any]]:
    text = text.strip()
    if "[" not in text:
        return text, {}
    if not text.endswith("]"):
        raise ValueError(f"a {what} spec looks like 'name[key=value,...]', but got {text!r}.")
    name, _, body = text[:-1].partition("[")
    settings: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in _split(body, ","))):
        key, eq, val = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(
                f"each {what} setting looks like 'key=value', but got {item!r} in {text!r}."
            )
        settings[key.strip()] = _value(val.strip())
    return name.strip(), settings


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of specs, keeping commas inside brackets."""
    return [s.strip() for s in _split(text, ",") if s.strip()]


def parse_spec(spec: str | SamplerSpec) -> SamplerSpec:
    """Parse ``"name[settings]+pruner[settings]"`` (see the module docstring).

    Raises:
        ValueError: A malformed spec, shown in the message.
    """
    if isinstance(spec, SamplerSpec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a sampler spec must be a non-empty str, but got {spec!r}.")
    parts = _split(spec.strip(), "+")
    if len(parts) > 2:
        raise ValueError(f"a sampler spec has at most one '+pruner', but got {spec!r}.")
    name, settings = _name_settings(parts[0], "sampler")
    pruner, psettings = (_name_settings(parts[1], "pruner") if len(parts) == 2 else (None, {}))
    if not name or (len(parts) == 2 and not pruner):
        raise ValueError(f"malformed sampler spec {spec!r}.")
    return SamplerSpec(name, settings, pruner, psettings, label=spec.strip())


# -- peers ---------------------------------------------------------------------------------------
#: Peer samplers: spec name -> (modules it needs, factory(problem, seed, settings, pruner)).
PEERS: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {}
#: Peer pruners: spec name -> (library, class name in that library's pruner module).
PEER_PRUNERS: dict[str, tuple[str, str]] = {
    "optuna:median": ("optuna", "MedianPruner"),
    "optuna:percentile": ("optuna", "PercentilePruner"),
    "optuna:successive_halving": ("optuna", "SuccessiveHalvingPruner"),
    "optuna:hyperband": ("optuna", "HyperbandPruner"),
    "optuna:threshold": ("optuna", "ThresholdPruner"),
    "optuna:patient": ("optuna", "PatientPruner"),
    "optuna:nop": ("optuna", "NopPruner"),
}


def available_peers() -> dict[str, bool]:
    """Every peer sampler name -> whether the libraries it needs are installed."""
    return {
        name: all(importlib.util.find_spec(m) is not None for m in mods)
        for name, (mods, _) in PEERS.items()
    }


def check_spec(spec: SamplerSpec) -> None:
    """Refuse an unknown or uninstalled sampler or pruner before anything runs.

    Raises:
        ValueError: Naming the spec and listing what is available.
    """
    from hpopt.plugins import available_pruners, available_samplers

    if spec.library == "hpopt":
        names = available_samplers()
        if spec.name not in names:
            peers = sorted(PEERS)
            raise ValueError(
                f"unknown sampler {spec.name!r}; hpopt samplers: {sorted(names)}; peers: {peers}."
            )
        if spec.pruner is not None and spec.pruner not in available_pruners():
            raise ValueError(
                f"unknown hpopt pruner {spec.pruner!r} in {spec.label!r}; available: "
                f"{sorted(available_pruners())} (a peer's pruner only works with that peer)."
            )
        provider = names[spec.name]
        _check_settings(spec, provider.factory, spec.settings, "sampler", seed=0)
        if provider.plugin == "hpopt":
            _try_build(spec, provider.factory, spec.settings, "sampler", seed=0)
        if spec.pruner is not None:
            provider = available_pruners()[spec.pruner]
            _check_settings(spec, provider.factory, spec.pruner_settings, "pruner")
            if provider.plugin == "hpopt":
                _try_build(spec, provider.factory, spec.pruner_settings, "pruner")
        return
    if spec.name not in PEERS:
        raise ValueError(
            f"unknown peer sampler {spec.name!r}; peers: {sorted(PEERS)}; hpopt samplers: "
            f"{sorted(available_samplers())}."
        )
    modules = PEERS[spec.name][0]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"sampler {spec.name!r} needs the package(s) {missing}; install them (pip install "
            f"'hpopt[bench]' installs optuna, hyperopt, nevergrad and cmaes; optuna:gp needs "
            "torch)."
        )
    if spec.pruner is not None:
        lib = PEER_PRUNERS.get(spec.pruner, ("", ""))[0]
        if lib != spec.library:
            choices = sorted(p for p, (lb, _) in PEER_PRUNERS.items() if lb == spec.library)
            raise ValueError(
                f"pruner {spec.pruner!r} cannot drive {spec.name!r}; pruners for "
                f"{spec.library}: {choices or 'none'}."
            )


def _check_settings(spec: SamplerSpec, factory: Callable[..., Any], settings: Mapping[str, Any],
                    what: str, **given: Any) -> None:
    """Refuse settings the factory's signature cannot take (an unknown or missing keyword, a
    ``seed``) before anything runs, instead of failing every run with the same error.

    Only the signature is checked here (see :func:`_try_build` for hpopt's own factories).
    """
    if set(given) & set(settings):
        raise ValueError(f"{spec.label!r}: {sorted(set(given) & set(settings))} cannot be a "
                         f"{what} setting (the runner sets it for every run).")
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a callable without an introspectable signature
        return
    try:
        signature.bind(**given, **settings)
    except TypeError as exc:
        raise ValueError(
            f"{spec.label!r}: the {what} {getattr(factory, '__name__', factory)!r} cannot take "
            f"the settings {dict(settings)}: {exc}."
        ) from None


def _try_build(spec: SamplerSpec, factory: Callable[..., Any], settings: Mapping[str, Any],
               what: str, **given: Any) -> None:
    """Build one of hpopt's own samplers or pruners once (cheap, no side effects: nothing is
    sampled) so that a setting's value it refuses (``popsize=1``, ``sigma0=-1``) stops the
    benchmark before any run, instead of failing every run with the same error. Third-party
    plugins' factories are only signature-checked: they are built in the worker processes alone."""
    try:
        factory(**given, **settings)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{spec.label!r}: the {what} settings {dict(settings)} are refused: {exc}") from None


def make_optimizer(spec: SamplerSpec, problem: Problem, seed: int) -> Any:
    """Build the optimizer for one run (imports the peer library only here).

    Raises:
        UnsupportedProblem: The optimizer cannot handle the problem (e.g. several objectives).
    """
    if spec.library == "hpopt":
        return _HpoptOptimizer(spec, seed)
    return PEERS[spec.name][1](spec, problem, seed)


class _HpoptOptimizer:
    def __init__(self, spec: SamplerSpec, seed: int) -> None:
        self.spec, self.seed = spec, seed

    def run(self, problem: Problem, n_trials: int, evaluate: Callable[..., Outcome]) -> None:
        import hpopt

        sampler = hpopt.make_sampler(self.spec.name, seed=self.seed, **self.spec.settings)
        pruner = (hpopt.make_pruner(self.spec.pruner, **self.spec.pruner_settings)
                  if self.spec.pruner else None)
        study = hpopt.create_study(
            sampler=sampler, pruner=pruner, directions=["minimize"] * problem.n_objectives
        )
        space = dict(problem.space) if problem.space is not None else None
        for _ in range(n_trials):
            trial = study.ask(space)
            params = trial.params if space is not None else problem.suggest(trial)
            out = evaluate(params, trial)
            if out.pruned:
                study.tell(trial, state="pruned")
            else:
                study.tell(trial, out.values)


# -- optuna ----------------------------------------------------------------------------------------
def _optuna_distribution(dist: Distribution) -> Any:
    import optuna.distributions as od

    if isinstance(dist, Float):
        return od.FloatDistribution(dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, Int):
        return od.IntDistribution(dist.low, dist.high, log=dist.log, step=dist.step)
    return od.CategoricalDistribution(list(dist.choices))


class _OptunaOptimizer:
    _SAMPLERS = {"tpe": "TPESampler", "cmaes": "CmaEsSampler", "gp": "GPSampler",
                 "random": "RandomSampler", "nsga2": "NSGAIISampler"}

    def __init__(self, spec: SamplerSpec, problem: Problem, seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        kind = spec.name.split(":", 1)[1]
        if problem.multi_objective and kind == "cmaes":
            raise UnsupportedProblem("optuna's CmaEsSampler handles one objective only.")
        self.sampler = getattr(optuna.samplers, self._SAMPLERS[kind])(seed=seed, **spec.settings)
        self.pruner = None
        if spec.pruner is not None:
            cls = getattr(optuna.pruners, PEER_PRUNERS[spec.pruner][1])
            self.pruner = cls(**spec.pruner_settings)

    def run(self, problem: Problem, n_trials: int, evaluate: Callable[..., Outcome]) -> None:
        import optuna

        study = optuna.create_study(
            sampler=self.sampler, pruner=self.pruner,
            directions=["minimize"] * problem.n_objectives,
        )
        dists = ({n: _optuna_distribution(d) for n, d in problem.space.items()}
                 if problem.space is not None else None)
        for _ in range(n_trials):
            trial = study.ask(dists)
            params = dict(trial.params) if dists is not None else problem.suggest(trial)
            out = evaluate(params, trial)
            if out.pruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(trial, out.values)


for _kind in ("tpe", "random", "cmaes", "gp", "nsga2"):
    _mods = {"cmaes": ("optuna", "cmaes"), "gp": ("optuna", "torch")}.get(_kind, ("optuna",))
    PEERS[f"optuna:{_kind}"] = (_mods, _OptunaOptimizer)


# -- flat-space helpers for hyperopt and nevergrad -----------------------------------------------
def _n_grid(dist: Float | Int) -> int:
    return int(round((dist.high - dist.low) / dist.step)) + 1


def _snap(dist: Distribution, value: Any) -> Any:
    """Map a peer's raw value (an index for grids) back into ``dist``."""
    if isinstance(dist, Categorical):
        return value
    if isinstance(dist, Float) and dist.step is None:
        return float(min(max(float(value), dist.low), dist.high))
    if isinstance(dist, Int) and dist.log:
        return int(min(max(math.floor(float(value)), dist.low), dist.high))
    k = min(max(int(round(float(value))), 0), _n_grid(dist) - 1)
    return dist.canonical(dist.low + k * dist.step)


def _single_objective(problem: Problem, library: str) -> None:
    if problem.multi_objective:
        raise UnsupportedProblem(f"the {library} adapter handles one objective only.")


# -- hyperopt --------------------------------------------------------------------------------------
class _HyperoptOptimizer:
    def __init__(self, spec: SamplerSpec, problem: Problem, seed: int) -> None:
        _single_objective(problem, "hyperopt")
        if spec.pruner is not None:
            raise UnsupportedProblem("hyperopt has no pruners.")
        self.spec, self.seed = spec, seed

    def run(self, problem: Problem, n_trials: int, evaluate: Callable[..., Outcome]) -> None:
        import hyperopt
        from hyperopt import hp

        logging.getLogger("hyperopt").setLevel(logging.ERROR)
        flat = problem.search_space
        space = {}
        for name, d in flat.items():
            if isinstance(d, Categorical):
                space[name] = hp.choice(name, list(d.choices))
            elif isinstance(d, Float) and d.step is None:
                space[name] = (hp.loguniform(name, math.log(d.low), math.log(d.high)) if d.log
                               else hp.uniform(name, d.low, d.high))
            elif isinstance(d, Int) and d.log:
                space[name] = hp.loguniform(name, math.log(d.low), math.log(d.high + 1))
            else:
                space[name] = hp.quniform(name, -0.49, _n_grid(d) - 0.51, 1)

        def fn(raw: Mapping[str, Any]) -> float:
            params = problem.params_from_flat({n: _snap(flat[n], v) for n, v in raw.items()})
            return float(evaluate(params, None).values)

        hyperopt.fmin(
            fn, space, algo=hyperopt.tpe.suggest, max_evals=n_trials, trials=hyperopt.Trials(),
            rstate=np.random.default_rng(self.seed), show_progressbar=False, **self.spec.settings,
        )


PEERS["hyperopt:tpe"] = (("hyperopt",), _HyperoptOptimizer)


# -- nevergrad -------------------------------------------------------------------------------------
class _NevergradOptimizer:
    _NAMES = {"ngopt": "NGOpt", "cma": "CMA"}

    def __init__(self, spec: SamplerSpec, problem: Problem, seed: int) -> None:
        _single_objective(problem, "nevergrad")
        if spec.pruner is not None:
            raise UnsupportedProblem("nevergrad has no pruners.")
        self.spec, self.seed = spec, seed

    def run(self, problem: Problem, n_trials: int, evaluate: Callable[..., Outcome]) -> None:
        import nevergrad as ng

        flat = problem.search_space
        fixed: dict[str, Any] = {}
        params_ng: dict[str, Any] = {}
        for name, d in flat.items():
            if isinstance(d, Categorical):
                if len(d.choices) == 1:
                    fixed[name] = d.choices[0]
                else:
                    params_ng[name] = ng.p.Choice(list(d.choices))
            elif d.single():
                fixed[name] = d.low
            elif isinstance(d, Float) and d.step is None:
                params_ng[name] = (ng.p.Log(lower=d.low, upper=d.high) if d.log
                                   else ng.p.Scalar(lower=d.low, upper=d.high))
            elif isinstance(d, Int) and d.log:
                params_ng[name] = ng.p.Log(lower=d.low, upper=d.high + 0.999)
            else:
                params_ng[name] = ng.p.Scalar(lower=-0.49, upper=_n_grid(d) - 0.51)
        parametrization = ng.p.Dict(**params_ng)
        parametrization.random_state = np.random.RandomState(self.seed)
        kind = self.spec.name.split(":", 1)[1]
        opt = ng.optimizers.registry[self._NAMES[kind]](
            parametrization=parametrization, budget=n_trials, num_workers=1, **self.spec.settings
        )
        for _ in range(n_trials):
            cand = opt.ask()
            raw = {**fixed, **{n: _snap(flat[n], v) for n, v in cand.value.items()}}
            out = evaluate(problem.params_from_flat(raw), None)
            opt.tell(cand, float(out.values))


for _kind in ("ngopt", "cma"):
    PEERS[f"nevergrad:{_kind}"] = (("nevergrad",), _NevergradOptimizer)
