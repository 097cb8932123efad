""":class:`SearchCV`: scikit-learn's ``GridSearchCV`` interface over an hpopt study.

Each candidate is one trial of an hpopt study (direction ``maximize``: scikit-learn scores are
greater-is-better). The trial's value is the mean cross-validated test score of the metric that
``refit`` names (the first metric when ``refit`` is a callable or False); its per-fold scores and
times are kept in the trial's user attribute ``"sklearn_cv"``, so ``cv_results_`` can be rebuilt
from any storage and a search can be resumed.

Design decisions (where scikit-learn has no counterpart):

- ``n_jobs`` parallelizes the folds of one candidate through joblib, like scikit-learn; candidates
  run one after another so that the sampler sees every result before it proposes the next one.
- With a pruner, the running mean of the test score is reported after each fold (step = fold
  index) and the trial stops when ``trial.should_prune()``. With ``n_jobs > 1`` folds run in
  batches of ``n_jobs`` and the pruner is asked after each batch. A pruned candidate stays in
  ``cv_results_`` with the folds it ran and NaN for the others: its mean is NaN, so it ranks last
  and is never ``best_`` (when every candidate was pruned, ``fit`` raises a ValueError).
- ``study``: None creates an in-memory study in ``fit``; an :class:`hpopt.Study` (any storage) is
  continued: ``n_trials`` more candidates are run and ``cv_results_`` covers every finished trial of
  the study that a ``SearchCV`` evaluated with the same number of splits and scorers. The study's
  own sampler and pruner are then used (leave ``sampler``, ``pruner`` and ``seed`` at their
  defaults). A study whose values another scorer measured is refused before any fit (its values,
  its sampler's model and ``best_`` would mix two metrics).
- ``param_space`` is a dict (name -> hpopt distribution or list of choices) or a callable
  ``space(trial) -> dict of estimator parameters`` (define-by-run) for conditional spaces.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from traceback import format_exc
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring, get_scorer
from sklearn.model_selection import check_cv
from sklearn.utils.metaestimators import _safe_split, available_if
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, indexable

from hpopt.distributions import Categorical, Distribution
from hpopt.errors import SearchSpaceExhausted
from hpopt.pruners.base import NopPruner, Pruner
from hpopt.records import FrozenTrial, TrialState
from hpopt.samplers.base import Sampler
from hpopt.sklearn.results import CandidateResult, build_cv_results
from hpopt.study import Study

__all__ = ["SearchCV", "RECORD_KEY"]

#: The trial user attribute holding a candidate's per-fold scores and times.
RECORD_KEY = "sklearn_cv"
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


# -- the search space ------------------------------------------------------------------------------
def _primitive(value: Any) -> Any:
    """A numpy scalar as its Python value; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _is_choice(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _valid_names(estimator: Any) -> set[str]:
    return set(estimator.get_params(deep=True))


def _check_names(names: Sequence[str], estimator: Any, where: str) -> None:
    """Every name must be a parameter of ``estimator`` (``step__param`` included), or a nested
    parameter of a step that ``names`` itself replaces."""
    valid = _valid_names(estimator)
    given = set(names)
    bad = [n for n in names if n not in valid and n.split("__", 1)[0] not in given - {n}]
    if bad:
        raise ValueError(
            f"{where}: unknown parameter name(s) {bad} for {type(estimator).__name__}; "
            f"valid names are {sorted(valid)}."
        )


class _FixedTrial:
    """Replays a finished trial's parameters through a define-by-run space callable."""

    def __init__(self, params: Mapping[str, Any], number: int) -> None:
        self._params = dict(params)
        self.number = number

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def _get(self, name: str) -> Any:
        if name not in self._params:
            raise ValueError(
                f"the param_space callable asks for {name!r}, which trial {self.number} of the study "
                f"does not have (it has {sorted(self._params)}); was the study searched with another "
                "param_space?"
            )
        return self._params[name]

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._get(name)

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._get(name)

    def suggest_categorical(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._get(name)

    def suggest(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._get(name)


class _Space:
    """``param_space`` resolved: hpopt distributions for the study and the way back to estimator
    parameters.

    A list whose choices are not all None/bool/int/float/str (estimators, tuples, ...) becomes a
    categorical over string labels (their ``repr`` when unique), mapped back in :meth:`params`.
    """

    def __init__(self, param_space: Any, estimator: Any) -> None:
        self.fn: Callable[[Any], Mapping[str, Any]] | None = None
        self.dists: dict[str, Distribution] | None = None
        self.labels: dict[str, dict[Any, Any]] = {}
        self.estimator = estimator
        if isinstance(param_space, Mapping):
            self._from_dict(param_space)
        elif callable(param_space):
            self.fn = param_space
        else:
            raise TypeError(
                "param_space must be a dict {name: hpopt distribution or list of choices} or a callable "
                f"space(trial) -> dict of estimator parameters, but got {param_space!r}."
            )

    def _from_dict(self, space: Mapping[str, Any]) -> None:
        if not space:
            raise ValueError("param_space is empty: give at least one parameter to search.")
        dists: dict[str, Distribution] = {}
        for name, value in space.items():
            if not isinstance(name, str):
                raise TypeError(f"param_space keys must be parameter names (str), but got {name!r}.")
            if isinstance(value, Distribution):
                dists[name] = value
                continue
            if isinstance(value, np.ndarray):
                value = list(value)
            if not isinstance(value, (list, tuple)):
                raise TypeError(
                    f"param_space[{name!r}] must be an hpopt distribution (hpopt.Float, hpopt.Int, "
                    f"hpopt.Categorical) or a non-empty list of choices, but got {value!r}."
                )
            if not value:
                raise ValueError(f"param_space[{name!r}] is an empty list: give at least one choice.")
            choices = [_primitive(v) for v in value]
            if all(_is_choice(c) for c in choices):
                try:
                    dists[name] = Categorical(choices)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"param_space[{name!r}]: {exc}") from None
                continue
            reprs = [repr(c) for c in choices]
            if len(set(reprs)) != len(reprs) or any(len(r) > 200 for r in reprs):
                reprs = [f"{i}:{r[:60]}" for i, r in enumerate(reprs)]
            dists[name] = Categorical(reprs)
            self.labels[name] = dict(zip(reprs, value))
        _check_names(list(dists), self.estimator, "param_space")
        self.dists = dists

    def params(self, trial_params: Mapping[str, Any], number: int | None = None, live: Any = None) -> dict:
        """Estimator parameters of a trial: decoded labels (dict space) or the callable's dict."""
        if self.fn is None:
            return {
                n: self.labels[n][v] if n in self.labels and v in self.labels[n] else v
                for n, v in trial_params.items()
            }
        out = self.fn(live if live is not None else _FixedTrial(trial_params, number))
        if not isinstance(out, Mapping):
            raise TypeError(
                f"the param_space callable must return a dict of estimator parameters, but returned {out!r}."
            )
        out = dict(out)
        if not out:
            raise ValueError("the param_space callable returned an empty dict of parameters.")
        _check_names([str(k) for k in out], self.estimator, "the param_space callable's result")
        return out


# -- one fold --------------------------------------------------------------------------------------
def _index_fit_param(value: Any, indices: np.ndarray, n_samples: int) -> Any:
    """Sample-aligned fit parameters (length n_samples) are split like X; others pass as they are."""
    from sklearn.utils import _safe_indexing

    if isinstance(value, (str, bytes, Mapping)):
        return value
    n = None
    if hasattr(value, "shape") and getattr(value, "ndim", 0) >= 1:
        n = value.shape[0]
    elif isinstance(value, (list, tuple)):
        n = len(value)
    return _safe_indexing(value, indices) if n == n_samples else value


def _score_all(
    estimator: Any, X: Any, y: Any, scorers: Mapping[str, Callable], error_score: Any
) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, scorer in scorers.items():
        try:
            value = scorer(estimator, X) if y is None else scorer(estimator, X, y)
        except Exception:
            if error_score == "raise":
                raise
            warnings.warn(
                "Scoring failed. The score on this train-test partition for these parameters will be "
                f"set to {error_score}. Details: \n{format_exc()}",
                UserWarning,
                stacklevel=2,
            )
            value = error_score
        if hasattr(value, "item"):
            try:
                value = value.item()
            except ValueError:
                pass
        if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
            raise ValueError(
                f"scoring must return a number, got {value!r} ({type(value).__name__}) instead. "
                f"(scorer={name})"
            )
        out[name] = float(value)
    return out


def _fit_and_score(
    estimator: Any,
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    params: Mapping[str, Any],
    fit_params: Mapping[str, Any],
    scorers: Mapping[str, Callable],
    error_score: Any,
    return_train_score: bool,
    n_samples: int,
) -> dict[str, Any]:
    """Fit a clone with ``params`` on ``train`` and score it on ``test`` (and ``train``)."""
    est = clone(estimator).set_params(**clone(dict(params), safe=False))
    X_train, y_train = _safe_split(est, X, y, train)
    X_test, y_test = _safe_split(est, X, y, test, train)
    fp = {k: _index_fit_param(v, train, n_samples) for k, v in fit_params.items()}
    start = time.perf_counter()
    try:
        if y_train is None:
            est.fit(X_train, **fp)
        else:
            est.fit(X_train, y_train, **fp)
    except Exception:
        if error_score == "raise":
            raise
        fail = float(error_score)
        return {
            "fit_time": time.perf_counter() - start,
            "score_time": 0.0,
            "test": {n: fail for n in scorers},
            "train": {n: fail for n in scorers} if return_train_score else {},
            "error": format_exc(),
        }
    fit_time = time.perf_counter() - start
    test_scores = _score_all(est, X_test, y_test, scorers, error_score)
    score_time = time.perf_counter() - start - fit_time
    train_scores = _score_all(est, X_train, y_train, scorers, error_score) if return_train_score else {}
    return {"fit_time": fit_time, "score_time": score_time, "test": test_scores, "train": train_scores,
            "error": None}


# -- the per-trial record (JSON: NaN/inf encoded, they are not portable JSON) ---------------------------
def _enc(values: Sequence[float]) -> list[Any]:
    return [None if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else v for v in values]


def _dec(values: Sequence[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _scorer_identity(scoring: Any, estimator: Any) -> str:
    """What a scorer measures, as a string that is the same in every process: ``score`` with the
    estimator's class, a function's qualified name, or a scorer object's repr without memory
    addresses (a scorer name stands for the scorer object it names)."""
    if scoring is None:
        cls = type(estimator)
        return f"{cls.__module__}.{cls.__qualname__}.score"
    if isinstance(scoring, str):
        scoring = get_scorer(scoring)  # a name and the scorer it names are one scorer
    qualname = getattr(scoring, "__qualname__", None)
    if isinstance(qualname, str):
        return f"{getattr(scoring, '__module__', '')}.{qualname}"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(scoring))


def _record(
    folds: list[dict[str, Any] | None], scorer_ids: Mapping[str, str], target: str, train: bool
) -> dict[str, Any]:
    scorer_names = list(scorer_ids)

    def col(get: Callable[[dict[str, Any]], float]) -> list[Any]:
        return _enc([math.nan if f is None else get(f) for f in folds])

    rec: dict[str, Any] = {
        "n_splits": len(folds),
        "fit_time": col(lambda f: f["fit_time"]),
        "score_time": col(lambda f: f["score_time"]),
        "test": {s: col(lambda f, s=s: f["test"][s]) for s in scorer_names},
        "scoring": dict(scorer_ids),
        "value_scoring": scorer_ids[target],  # what the trial's value measures
    }
    if train:
        rec["train"] = {s: col(lambda f, s=s: f["train"][s]) for s in scorer_names}
    return rec


def _other_scorer(rec: Mapping[str, Any], scorer_ids: Mapping[str, str]) -> tuple[str, str] | None:
    """``(metric, what the record measured)`` for the first metric of ``scorer_ids`` that a
    candidate's record measured with another scorer (None when all agree or it does not say)."""
    recorded = rec.get("scoring")
    if not isinstance(recorded, Mapping):
        return None  # recorded before scorers were: taken as it is
    for name, ident in scorer_ids.items():
        if name in recorded and recorded[name] != ident:
            return name, str(recorded[name])
    return None


def _check_study_scoring(study: Study, scorer_ids: Mapping[str, str], target: str) -> None:
    """Refuse to continue a study whose candidates' values are another metric than ``target``'s
    scorer: the study's values, its sampler's model and ``best_`` would mix two metrics."""
    mine = scorer_ids[target]
    for ft in study.get_trials(_FINISHED):
        rec = ft.user_attrs.get(RECORD_KEY)
        theirs = rec.get("value_scoring") if isinstance(rec, Mapping) else None
        if theirs is not None and theirs != mine:
            raise ValueError(
                f"study {study.study_name!r} holds candidates whose value was scored by {theirs!r} "
                f"(trial {ft.number}), but this SearchCV's values are scored by {mine!r} (metric "
                f"{target!r}): the study's values would mix two metrics. Continue it with the same "
                "scoring and refit metric, or use a new study."
            )


# -- pickling a study -----------------------------------------------------------------------------------
class _StudyPickle:
    """What a pickled :class:`SearchCV` keeps of a study (an hpopt Study holds locks and threads).

    A study in a database is reopened by name and URL; an in-memory one carries a copy of its
    storage's records. The same study referenced twice (``study`` and ``study_``) comes back as one
    object.
    """

    def __init__(self, study: Study) -> None:
        self.name = study.study_name
        self.url = study.storage.url
        self.sampler = study.sampler
        self.pruner = study.pruner
        self.sid = study._sid
        self.model = study.storage._model if self.url == "memory" else None
        self._opened: Study | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_opened"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._opened = None

    def open(self) -> Study:
        if self._opened is None:
            if self.model is not None:
                from hpopt.storage import MemoryBackend, Storage

                storage = Storage(MemoryBackend())
                storage._model = self.model
                self._opened = Study(storage, self.sid, self.sampler, self.pruner)
            else:
                from hpopt.create import load_study

                self._opened = load_study(self.name, self.url, sampler=self.sampler, pruner=self.pruner)
        return self._opened


# -- delegation helpers (as scikit-learn's searches do) --------------------------------------------------
def _check_refit(search: SearchCV, attr: str) -> None:
    if not search.refit:
        raise AttributeError(
            f"This {type(search).__name__} instance was initialized with `refit=False`. {attr} is "
            "available only after refitting on the best parameters. You can refit an estimator "
            "manually using the `best_params_` attribute"
        )


def _estimator_has(attr: str) -> Callable[[SearchCV], bool]:
    def check(self: SearchCV) -> bool:
        _check_refit(self, attr)
        if hasattr(self, "best_estimator_"):
            getattr(self.best_estimator_, attr)
            return True
        getattr(self.estimator, attr)
        return True

    return check


class SearchCV(MetaEstimatorMixin, BaseEstimator):
    """Hyperparameter search with cross-validation, driven by an hpopt sampler.

    A drop-in for scikit-learn's ``GridSearchCV``/``RandomizedSearchCV``: same ``fit``, same
    ``cv_results_`` keys and dtypes, same ``best_*`` attributes and delegated methods; the candidates
    come from an hpopt sampler that learns from the scores so far.

    Args:
        estimator: The scikit-learn estimator (or pipeline) to tune.
        param_space: Either a dict ``{name: hpopt.Float/Int/Categorical or list of choices}``
            (pipeline parameters as ``step__param``; a list of any objects, estimators included, is
            a categorical), or a callable ``space(trial) -> dict of estimator parameters`` that calls
            ``trial.suggest_float/int/categorical`` (define-by-run: conditional parameters, e.g. a
            categorical picks the model and each model has its own parameters). Use a module-level
            function to keep the search picklable. The callable is called again with a replaying
            trial to rebuild ``cv_results_["params"]``, so it must be deterministic.
        sampler: A registered sampler name (built with ``seed``) or an :class:`hpopt.Sampler`
            instance (copied in ``fit``). Default ``"auto"``.
        n_trials: Candidates evaluated by each ``fit`` (>= 1).
        timeout: Seconds after which ``fit`` starts no new candidate (None: no limit); the first
            candidate always runs.
        scoring: None (the estimator's ``score``), a scorer name or callable, or for several
            metrics a list of names or a dict ``{name: scorer name or callable}``.
        cv: Anything ``sklearn.model_selection.check_cv`` takes (int, splitter, iterable).
        n_jobs: Folds of a candidate fitted in parallel through joblib (candidates are sequential).
        refit: Refit the best candidate on all the data: bool, a metric name (several metrics), or a
            callable ``refit(cv_results) -> index``.
        error_score: ``"raise"``, or the score a failed fit gets (with a ``FitFailedWarning``).
        return_train_score: Also compute the scores on the training folds.
        pruner: A registered pruner name or an :class:`hpopt.Pruner`; folds are its steps.
        study: None, or an :class:`hpopt.Study` (direction ``maximize``) to continue.
        seed: Seeds a sampler chosen by name.

    Attributes:
        cv_results_: scikit-learn's results dict, one row per candidate (trial order).
        best_estimator_: The refit estimator (when ``refit``).
        best_index_, best_params_, best_score_: The best candidate (``best_score_`` not with a
            callable ``refit``).
        scorer_: The scorer, or a dict of scorers for several metrics.
        multimetric_: Whether several metrics were used.
        n_splits_: The number of cross-validation splits.
        refit_time_: Seconds spent refitting the best candidate.
        study_: The :class:`hpopt.Study` holding the trials (the ``study`` given, or the in-memory
            one ``fit`` created). A pickled search carries it: an in-memory study as a copy of its
            records, a stored one by name and URL (reopened with ``hpopt.load_study`` on unpickling).

    Example:
        >>> import hpopt
        >>> from hpopt.sklearn import SearchCV
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.svm import SVC
        >>> X, y = load_iris(return_X_y=True)
        >>> search = SearchCV(SVC(), {"C": hpopt.Float(1e-2, 1e2, log=True)}, sampler="tpe",
        ...                   n_trials=5, cv=3, seed=0).fit(X, y)
        >>> sorted(search.best_params_)
        ['C']
    """

    def __init__(
        self,
        estimator: Any,
        param_space: Mapping[str, Any] | Callable[[Any], Mapping[str, Any]],
        *,
        sampler: str | Sampler = "auto",
        n_trials: int = 10,
        timeout: float | None = None,
        scoring: Any = None,
        cv: Any = 5,
        n_jobs: int | None = None,
        refit: bool | str | Callable[[dict[str, Any]], int] = True,
        error_score: float | str = np.nan,
        return_train_score: bool = False,
        pruner: str | Pruner | None = None,
        study: Study | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.estimator = estimator
        self.param_space = param_space
        self.sampler = sampler
        self.n_trials = n_trials
        self.timeout = timeout
        self.scoring = scoring
        self.cv = cv
        self.n_jobs = n_jobs
        self.refit = refit
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.pruner = pruner
        self.study = study
        self.seed = seed

    # -- scikit-learn plumbing ------------------------------------------------------------------------
    def __sklearn_clone__(self) -> SearchCV:
        """Clone every parameter but ``study``, which the clone shares (a study is a handle on a
        storage, not a setting to copy)."""
        params = self.get_params(deep=False)
        study = params.pop("study")
        new = type(self)(**{k: clone(v, safe=False) for k, v in params.items()}, study=study)
        # what scikit-learn's own clone carries over besides the parameters
        for attr in ("_sklearn_output_config", "_metadata_request"):
            if attr in self.__dict__:
                setattr(new, attr, copy.deepcopy(self.__dict__[attr]))
        return new

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = copy.deepcopy(sub.classifier_tags)
        tags.regressor_tags = copy.deepcopy(sub.regressor_tags)
        # Unlike GridSearchCV, also the target and transformer tags: a search over a multi-output
        # model or a transformer is one (transform is delegated).
        tags.target_tags = copy.deepcopy(sub.target_tags)
        tags.transformer_tags = copy.deepcopy(sub.transformer_tags)
        tags.input_tags.pairwise = sub.input_tags.pairwise
        tags.input_tags.sparse = sub.input_tags.sparse
        return tags

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        handles: dict[int, _StudyPickle] = {}
        for key in ("study", "study_"):
            value = state.get(key)
            if isinstance(value, Study):
                state[key] = handles.setdefault(id(value), _StudyPickle(value))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        for key in ("study", "study_"):
            if isinstance(state.get(key), _StudyPickle):
                state[key] = state[key].open()
        super().__setstate__(state)

    # -- settings --------------------------------------------------------------------------------------
    def _check_settings(self) -> tuple[int, float | None]:
        n = self.n_trials
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n_trials must be an int >= 1, but got {n!r}.")
        timeout = self.timeout
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0:
                raise ValueError(f"timeout must be None or a number > 0 (seconds), but got {timeout!r}.")
            timeout = float(timeout)
        es = self.error_score
        if not (isinstance(es, str) and es == "raise") and (
            isinstance(es, (bool, np.bool_)) or not isinstance(es, numbers.Real)
        ):
            raise ValueError(f"error_score must be 'raise' or a number (a real one), but got {es!r}.")
        if not (isinstance(self.refit, (bool, str)) or callable(self.refit)):
            raise TypeError(f"refit must be a bool, a metric name or a callable, but got {self.refit!r}.")
        return int(n), timeout

    def _scoring_ids(self) -> dict[str, str]:
        """Metric name -> what that metric measures (recorded with each candidate)."""
        scoring = self.scoring
        if scoring is None or isinstance(scoring, str) or callable(scoring):
            return {"score": _scorer_identity(scoring, self.estimator)}
        if isinstance(scoring, Mapping):
            return {name: _scorer_identity(s, self.estimator) for name, s in scoring.items()}
        return {name: name for name in scoring}

    def _scorers(self) -> tuple[dict[str, Callable], bool, str]:
        """(name -> scorer, multimetric, the metric the study maximizes)."""
        scoring = self.scoring
        if scoring is None or isinstance(scoring, str) or callable(scoring):
            return {"score": check_scoring(self.estimator, scoring)}, False, "score"
        if isinstance(scoring, Mapping):
            if not scoring:
                raise ValueError("scoring is an empty dict: give at least one metric.")
            scorers = {}
            for name, s in scoring.items():
                if not isinstance(name, str):
                    raise ValueError(f"scoring dict keys must be str, but got {name!r}.")
                scorers[name] = get_scorer(s) if isinstance(s, str) else s
                if not callable(scorers[name]):
                    raise ValueError(f"scoring[{name!r}] must be a scorer name or callable, but got {s!r}.")
        elif isinstance(scoring, (list, tuple, set, frozenset)):
            names = list(scoring)
            if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
                raise ValueError(
                    f"scoring as a list must hold distinct scorer names (str), but got {scoring!r}."
                )
            scorers = {n: get_scorer(n) for n in names}
        else:
            raise ValueError(
                "scoring must be None, a scorer name or callable, a list of names or a dict, "
                f"but got {scoring!r}."
            )
        refit = self.refit
        if refit is not False and not callable(refit) and not (isinstance(refit, str) and refit in scorers):
            raise ValueError(
                "For multi-metric scoring, the parameter refit must be set to a scorer key or a callable "
                "to refit an estimator with the best parameter setting on the whole data and make the "
                "best_* attributes available for that metric. If this is not needed, refit should be "
                f"set to False explicitly. {refit!r} was passed."
            )
        target = refit if isinstance(refit, str) else next(iter(scorers))
        return scorers, True, target

    def _open_study(self) -> Study:
        from hpopt.create import create_study

        if self.study is not None:
            if not isinstance(self.study, Study):
                raise TypeError(f"study must be None or an hpopt.Study, but got {self.study!r}.")
            if self.study.directions != ["maximize"]:
                raise ValueError(
                    "study must have direction 'maximize' (scikit-learn scores are greater-is-better), "
                    f"but has {self.study.directions}."
                )
            if not (isinstance(self.sampler, str) and self.sampler == "auto") or self.pruner is not None \
                    or self.seed is not None:
                raise ValueError(
                    "with study=..., the study's own sampler and pruner are used: leave sampler, pruner "
                    "and seed at their defaults and set them when creating or loading the study."
                )
            return self.study
        sampler = self.sampler
        if isinstance(sampler, str):
            from hpopt.plugins import make_sampler

            settings = {} if self.seed is None else {"seed": self.seed}
            sampler = make_sampler(sampler, **settings)
        elif isinstance(sampler, Sampler):
            if self.seed is not None:
                raise ValueError("seed seeds a sampler chosen by name; seed the sampler instance itself.")
            sampler = copy.deepcopy(sampler)
        else:
            raise TypeError(f"sampler must be a registered name or an hpopt.Sampler, but got {sampler!r}.")
        pruner = self.pruner
        if isinstance(pruner, Pruner):
            pruner = copy.deepcopy(pruner)
        elif not (pruner is None or isinstance(pruner, str)):
            raise TypeError(f"pruner must be None, a registered name or an hpopt.Pruner, but got {pruner!r}.")
        return create_study(direction="maximize", sampler=sampler, pruner=pruner)

    # -- fit -------------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, groups: Any = None, **fit_params: Any) -> SearchCV:
        """Run ``n_trials`` candidates with cross-validation, then refit the best on all the data.

        Args:
            X, y: Training data (``y`` None for unsupervised estimators).
            groups: Group labels for group splitters (e.g. ``GroupKFold``).
            **fit_params: Passed to the estimator's ``fit`` in every fold (sample-aligned arrays
                are split like ``X``) and in the refit.

        Raises:
            ValueError, TypeError: Invalid settings or parameter names (before any fit), or every
                fit failed (as scikit-learn).
        """
        n_trials, timeout = self._check_settings()
        scorers, multimetric, target = self._scorers()
        space = _Space(self.param_space, self.estimator)
        if y is None and _requires_y(self.estimator):
            raise ValueError(
                f"{type(self.estimator).__name__} requires y to be passed, but the target y is None."
            )
        X, y, groups = indexable(X, y, groups)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        n_splits = cv.get_n_splits(X, y, groups)
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y, groups)]
        if len(splits) != n_splits:
            raise ValueError(
                f"cv.split and cv.get_n_splits returned inconsistent results: {len(splits)} vs {n_splits}."
            )
        study = self._open_study()  # last check: only now is anything created
        ids = self._scoring_ids()
        _check_study_scoring(study, ids, target)
        n_samples = len(X) if not hasattr(X, "shape") else X.shape[0]
        base = self.estimator
        prune = not isinstance(study.pruner, NopPruner)
        from joblib import effective_n_jobs

        batch = max(1, effective_n_jobs(self.n_jobs)) if prune else n_splits
        errors: list[str] = []
        n_fits = 0
        started = time.monotonic()
        with Parallel(n_jobs=self.n_jobs) as parallel:
            for i in range(n_trials):
                if timeout is not None and i > 0 and time.monotonic() - started >= timeout:
                    break
                try:
                    trial = study.ask(space.dists) if space.dists is not None else study.ask()
                except SearchSpaceExhausted:
                    break
                try:
                    params = space.params(trial.params, trial.number, live=trial)
                    folds: list[dict[str, Any] | None] = [None] * n_splits
                    pruned = False
                    for lo in range(0, n_splits, batch):
                        idx = list(range(lo, min(lo + batch, n_splits)))
                        out = parallel(
                            delayed(_fit_and_score)(
                                base, X, y, splits[k][0], splits[k][1], params, fit_params, scorers,
                                self.error_score, self.return_train_score, n_samples,
                            )
                            for k in idx
                        )
                        for k, res in zip(idx, out):
                            folds[k] = res
                            n_fits += 1
                            if res["error"] is not None:
                                errors.append(res["error"])
                        scores = np.array([folds[k]["test"][target] for k in range(idx[-1] + 1)])
                        running = np.cumsum(scores) / np.arange(1, scores.size + 1)
                        for k in idx:
                            trial.report(float(running[k]), step=k)
                        if prune and idx[-1] < n_splits - 1 and trial.should_prune():
                            pruned = True
                            break
                    trial.set_user_attr(RECORD_KEY, _record(folds, ids, target, self.return_train_score))
                    if pruned:
                        study.tell(trial, state=TrialState.PRUNED)
                        continue
                    value = float(np.mean([f["test"][target] for f in folds]))
                    if math.isfinite(value):
                        study.tell(trial, value)
                    else:
                        study.tell(trial, state=TrialState.FAIL)
                except BaseException:
                    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                    raise
        _warn_or_raise_fit_failures(errors, n_fits, self.error_score)

        candidates, pruned_rows = self._candidates(study, space, ids, n_splits)
        if not candidates:
            raise ValueError(
                "the search ended without any evaluated candidate (the sampler was exhausted or the "
                "timeout passed before the first one)."
            )
        results = build_cv_results(candidates, list(scorers), n_splits, self.return_train_score)
        means = np.asarray(results[f"mean_test_{target}"])
        bad = ~np.isfinite(means)
        bad[pruned_rows] = False
        if bad.any():
            warnings.warn(
                f"One or more of the test scores are non-finite: {means}", category=UserWarning, stacklevel=2
            )
        self.study_ = study
        self.cv_results_ = results
        self.multimetric_ = multimetric
        self.scorer_ = scorers if multimetric else scorers["score"]
        self.n_splits_ = n_splits
        if self.refit or not multimetric:
            self.best_index_ = self._best_index(results, target, pruned_rows)
            if not callable(self.refit):
                self.best_score_ = float(results[f"mean_test_{target}"][self.best_index_])
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            est = clone(base).set_params(**clone(self.best_params_, safe=False))
            start = time.perf_counter()
            if y is not None:
                est.fit(X, y, **fit_params)
            else:
                est.fit(X, **fit_params)
            self.refit_time_ = time.perf_counter() - start
            self.best_estimator_ = est
            if hasattr(est, "feature_names_in_"):
                self.feature_names_in_ = est.feature_names_in_
        return self

    def _best_index(self, results: dict[str, Any], target: str, pruned: np.ndarray) -> int:
        """The refit callable's choice, else the best rank; a pruned candidate is never chosen
        (all means NaN tie at one rank, so ``argmin`` alone could pick a pruned row)."""
        if callable(self.refit):
            best = self.refit(results)
            if isinstance(best, bool) or not isinstance(best, numbers.Integral):
                raise TypeError("best_index_ returned is not an integer")
            if best < 0 or best >= len(results["params"]):
                raise IndexError("best_index_ index out of range")
            return int(best)
        if pruned.all():
            raise ValueError(
                f"every one of the {pruned.size} candidate(s) was pruned: none was scored on all "
                "folds, so there is no best candidate to report or refit (loosen the pruner or run "
                "more trials; cv_results_ and study_ hold the pruned ones)."
            )
        ranks = np.asarray(results[f"rank_test_{target}"], dtype=np.int64).copy()
        ranks[pruned] = np.iinfo(np.int64).max
        return int(ranks.argmin())

    def _candidates(
        self, study: Study, space: _Space, scorer_ids: Mapping[str, str], n_splits: int
    ) -> tuple[list[CandidateResult], np.ndarray]:
        """Every finished trial with a matching per-fold record, in trial order."""
        candidates, pruned, skipped = [], [], 0
        scorer_names = list(scorer_ids)
        for ft in study.get_trials(_FINISHED):
            rec = ft.user_attrs.get(RECORD_KEY)
            if not isinstance(rec, Mapping):
                continue
            if (
                rec.get("n_splits") != n_splits
                or not set(scorer_names) <= set(rec.get("test", {}))
                or _other_scorer(rec, scorer_ids) is not None
            ):
                skipped += 1
                continue
            candidates.append(_candidate(ft, rec, space, scorer_names))
            pruned.append(ft.state is TrialState.PRUNED)
        if skipped:
            warnings.warn(
                f"{skipped} trial(s) of study {study.study_name!r} were evaluated with another number of "
                "splits or other scorers and are left out of cv_results_.",
                UserWarning,
                stacklevel=3,
            )
        return candidates, np.asarray(pruned, dtype=bool)

    # -- delegated methods -------------------------------------------------------------------------------
    @property
    def n_features_in_(self) -> int:
        """Number of features seen during fit (only with ``refit``)."""
        try:
            check_is_fitted(self)
        except Exception as exc:
            raise AttributeError(f"{type(self).__name__} object has no n_features_in_ attribute.") from exc
        return self.best_estimator_.n_features_in_

    @property
    def classes_(self) -> np.ndarray:
        """Class labels (only with ``refit`` and a classifier)."""
        _estimator_has("classes_")(self)
        return self.best_estimator_.classes_

    def score(self, X: Any, y: Any = None, **params: Any) -> float:
        """Score of the refit best estimator on ``X``, ``y`` with ``scorer_`` (the refit metric)."""
        _check_refit(self, "score")
        check_is_fitted(self)
        scorer = self.scorer_[self.refit] if self.multimetric_ else self.scorer_
        return scorer(self.best_estimator_, X, y, **params)

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X: Any) -> np.ndarray:
        """``best_estimator_.score_samples(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.score_samples(X)

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any) -> np.ndarray:
        """``best_estimator_.predict(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        """``best_estimator_.predict_proba(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``best_estimator_.predict_log_proba(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        """``best_estimator_.decision_function(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X: Any) -> Any:
        """``best_estimator_.transform(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.transform(X)

    @available_if(_estimator_has("transform"))
    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """``fit`` then ``transform(X)`` with the refit best estimator (a search over a transformer
        is a transformer; needs ``refit``)."""
        return self.fit(X, y, **fit_params).transform(X)

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        """``best_estimator_.inverse_transform(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.inverse_transform(X)


def _requires_y(estimator: Any) -> bool:
    try:
        from sklearn.utils import get_tags
    except ImportError:  # scikit-learn < 1.6: let the estimator's fit complain
        return False
    try:
        return bool(get_tags(estimator).target_tags.required)
    except Exception:  # an estimator whose tags cannot be read
        return False


def _candidate(
    ft: FrozenTrial, rec: Mapping[str, Any], space: _Space, scorer_names: list[str]
) -> CandidateResult:
    return CandidateResult(
        space.params(ft.params, ft.number),
        _dec(rec["fit_time"]),
        _dec(rec["score_time"]),
        {s: _dec(rec["test"][s]) for s in scorer_names},
        {s: _dec(rec["train"][s]) for s in scorer_names if s in rec.get("train", {})},
    )


def _warn_or_raise_fit_failures(errors: list[str], n_fits: int, error_score: Any) -> None:
    """scikit-learn's rule: every fit failed -> ValueError; some failed -> FitFailedWarning."""
    if not errors:
        return
    counts = Counter(errors)
    summary = "\n".join(
        f"--------------------------------------------------------------------------------\n"
        f"{n} fits failed with the following error:\n{err}"
        for err, n in counts.items()
    )
    if len(errors) == n_fits:
        raise ValueError(
            f"\nAll the {n_fits} fits failed.\nIt is very likely that your model is misconfigured.\n"
            "You can try to debug the error by setting error_score='raise'.\n\n"
            f"Below are more details about the failures:\n{summary}"
        )
    warnings.warn(
        f"\n{len(errors)} fits failed out of a total of {n_fits}.\nThe score on these train-test "
        f"partitions for these parameters will be set to {error_score}.\nIf these failures are not "
        "expected, you can try to debug them by setting error_score='raise'.\n\n"
        f"Below are more details about the failures:\n{summary}",
        FitFailedWarning,
        stacklevel=3,
    )
