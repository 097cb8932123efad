"""XGBoost integration (extra ``xgboost``): prune a trial while its booster trains.

:class:`PruningCallback` is an ``xgboost.callback.TrainingCallback``. After each boosting round
(every ``report_interval``-th) it reports one evaluation result to the hpopt trial as
``trial.report(value, step=epoch)`` and raises :class:`hpopt.TrialPruned` when
``trial.should_prune()`` says so. XGBoost calls its callbacks from its Python training loop and does
not catch their exceptions, so the exception leaves ``xgb.train``/``xgb.cv``/``fit`` unchanged and
``Study.optimize`` records the trial as PRUNED (its value is the last report).

It works with ``xgb.train(..., evals=[(dvalid, "validation")], callbacks=[cb])``, ``xgb.cv(...,
callbacks=[cb])`` (reports the mean over the folds, the value ``xgb.cv`` returns as
``"test-<metric>-mean"``) and the scikit-learn API (``XGBRegressor(callbacks=[cb], eval_metric=...)``
then ``fit(X, y, eval_set=[...])``), with the live :class:`hpopt.Trial` of ``optimize``/``ask`` and
with :class:`hpopt.remote.RemoteTrial` in executor workers (pruning there needs a study in a
database, as any pruning in workers does; see :mod:`hpopt.remote`).

Choices:

* **What to report: one key.** ``observation_key`` is ``"<data set>-<metric>"``, the name XGBoost
  prints in its log and uses in ``evals_result()``: ``"validation-logloss"`` for
  ``evals=[(dvalid, "validation")]``, ``"validation_1-auc"`` for the second ``eval_set`` of the
  scikit-learn API, ``"test-rmse"`` in ``xgb.cv`` (its folds' held-out parts; ``"train"`` is the
  rest). XGBoost forbids ``"-"`` in data-set names and splits the name at the first ``"-"``, so the
  key is unambiguous even for metrics that hold one (``"valid-cox-nloglik"``, ``"valid-ndcg@5-"``).
  There is no default data set: the data set is always named, the training data included. An
  unknown data set or metric is refused at the first round, listing the keys XGBoost evaluates.
* **Direction.** Pruners read reports in the study's direction, so a higher-is-better metric
  (``auc``) in a study that minimizes, or a lower-is-better one (``logloss``) in a study that
  maximizes, would prune the best trials and keep the worst. The callback refuses that mismatch with a
  ValueError at the first round, before anything is reported, naming the metric, its direction and
  the study's. XGBoost's own metrics have a known direction (higher is better for ``auc``,
  ``aucpr``, ``pre``, ``map``, ``ndcg`` with their ``@k`` and ``-`` forms, and
  ``interval-regression-accuracy``; lower for the others). A custom metric (``custom_metric`` of
  ``xgb.train``, a callable ``eval_metric``) has an unknown direction: say it with
  ``maximize=True``/``False``, or the first round is a ValueError. ``maximize`` that contradicts a
  built-in metric's direction is refused too. Values are never negated to fit the study: the stored
  intermediate values are those XGBoost logs. In a worker whose study it cannot see (an in-memory
  study: no pruning in workers then), the comparison with the study is skipped.
* **Steps.** ``step`` is XGBoost's 0-based ``epoch``. XGBoost restarts it at 0 when training
  continues from ``xgb_model`` (unlike LightGBM's iteration), so such a run reports steps 0, 1, ...
  again. With ``report_interval=k`` the rounds whose number ``epoch + 1`` is a multiple of k are
  reported, so trials report the same steps.
* **Single objective.** One metric is reported, so a multi-objective study is refused at
  construction.

Use one callback per training run: a second run in the same trial would report its steps again
(hpopt keeps the first value of a step and warns). For several folds, use ``xgb.cv``. scikit-learn's
``clone`` deep-copies an estimator's ``callbacks``, and with them the trial (refused for an in-memory
study); build the estimator with its callback inside the objective instead.

Process pools: XGBoost's OpenMP runtime does not survive ``fork`` once it has run threads, so
``executor="process"`` (a fork pool on Linux before Python 3.14) can hang its workers if the calling
process used XGBoost with several threads first; building a ``DMatrix`` counts (its ``nthread``
defaults to every core), not only training. Pass a pool that does not fork,
``ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("forkserver"))``, or keep
``nthread=1`` for every ``DMatrix`` and booster in the caller.

Example:
    >>> import hpopt, numpy as np, xgboost as xgb
    >>> from hpopt.integrations.xgboost import PruningCallback
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = X[:, 0] + 0.1 * rng.normal(size=200)
    >>> dtrain, dvalid = xgb.DMatrix(X[:150], y[:150]), xgb.DMatrix(X[150:], y[150:])
    >>> def objective(trial):
    ...     params = {"objective": "reg:squarederror", "eval_metric": "rmse", "nthread": 1,
    ...               "eta": trial.suggest_float("eta", 0.01, 0.3, log=True)}
    ...     log = {}
    ...     xgb.train(params, dtrain, num_boost_round=10, evals=[(dvalid, "validation")],
    ...               evals_result=log, verbose_eval=False,
    ...               callbacks=[PruningCallback(trial, "validation-rmse")])
    ...     return log["validation"]["rmse"][-1]
    >>> study = hpopt.create_study(pruner="median", seed=0)
    >>> study.optimize(objective, n_trials=3)
    >>> len(study.trials)
    3
"""

from __future__ import annotations

from typing import Any

try:
    import xgboost
except ImportError as exc:  # depends on the environment (tested with xgboost hidden)
    raise ImportError(
        'hpopt.integrations.xgboost needs XGBoost: pip install "hpopt[xgboost]"'
    ) from exc

from hpopt.errors import TrialPruned
from hpopt.integrations._trial import check_trial, single_direction

__all__ = ["PruningCallback"]

#: XGBoost's built-in metrics where higher is better (read without ``@k`` and a trailing ``-``);
#: the same set xgboost.callback.EarlyStopping maximizes, plus the AFT objective's accuracy.
_HIGHER_IS_BETTER = frozenset({"auc", "aucpr", "pre", "map", "ndcg", "interval-regression-accuracy"})
#: XGBoost's built-in metrics where lower is better (``error@0.7``, ``tweedie-nloglik@1.5``: the base).
_LOWER_IS_BETTER = frozenset({
    "rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss", "quantile",
    "poisson-nloglik", "gamma-nloglik", "gamma-deviance", "cox-nloglik", "tweedie-nloglik", "aft-nloglik",
})


class PruningCallback(xgboost.callback.TrainingCallback):
    """An XGBoost callback that reports an evaluation result to an hpopt trial and prunes it.

    Args:
        trial: The running trial: an :class:`hpopt.Trial` or an executor worker's
            :class:`hpopt.remote.RemoteTrial` (anything with ``report`` and ``should_prune``).
        observation_key: ``"<data set>-<metric>"`` as XGBoost names it in its log and in
            ``evals_result()``: ``"validation-logloss"`` (``evals=[(dvalid, "validation")]``),
            ``"validation_0-rmse"`` (the scikit-learn API's first ``eval_set``), ``"test-auc"``
            (``xgb.cv``).
        maximize: Whether higher values of the metric are better. None: known for XGBoost's own
            metrics, required (True or False) for a custom metric.
        report_interval: Report (and ask the pruner) every this many rounds (an int ``>= 1``).

    Raises:
        TypeError: ``trial`` lacks ``report``/``should_prune``; ``observation_key`` not a str;
            ``maximize`` not a bool or None; ``report_interval`` not an int.
        ValueError: ``observation_key`` not of the form ``"<data set>-<metric>"``,
            ``report_interval < 1``, or a multi-objective study.

    XGBoost calling it after each round raises:
        ValueError: No evaluation results (no ``evals``/``eval_set``), ``observation_key`` not among
            them (the message lists those available), a custom metric without ``maximize``, or a
            metric direction opposite to ``maximize`` or to the study's.
        hpopt.TrialPruned: The pruner stops the trial.
    """

    def __init__(
        self,
        trial: Any,
        observation_key: str,
        *,
        maximize: bool | None = None,
        report_interval: int = 1,
    ) -> None:
        check_trial(trial)
        if not isinstance(observation_key, str):
            raise TypeError(
                f"`observation_key` must be a str, but got {observation_key!r} "
                f"({type(observation_key).__name__})."
            )
        data_name, _, metric = observation_key.partition("-")
        if not data_name or not metric:
            raise ValueError(
                "`observation_key` must be '<data set>-<metric>' as XGBoost names it (e.g. "
                "'validation-logloss' for evals=[(dvalid, 'validation')], 'validation_0-rmse' in the "
                f"scikit-learn API, 'test-rmse' in xgb.cv), but got {observation_key!r}."
            )
        if maximize is not None and not isinstance(maximize, bool):
            raise TypeError(
                f"`maximize` must be True, False or None, but got {maximize!r} ({type(maximize).__name__})."
            )
        direction = single_direction(trial, report_interval)
        super().__init__()
        self._trial = trial
        self.observation_key = observation_key
        self.data_name = data_name
        self.metric = metric
        self.maximize = maximize
        self.report_interval = int(report_interval)
        self._direction = direction
        self._checked = False  # the key and the direction are checked at the first round

    def __repr__(self) -> str:
        return (
            f"PruningCallback(trial={getattr(self._trial, 'number', '?')}, "
            f"observation_key={self.observation_key!r}, maximize={self.maximize!r}, "
            f"report_interval={self.report_interval})"
        )

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        """Called by XGBoost after each round; returns False (XGBoost's "go on"), or raises."""
        if not self._checked:
            self._check(evals_log)
            self._checked = True
        epoch = int(epoch)
        if (epoch + 1) % self.report_interval:
            return False
        value = _value(evals_log, self.data_name, self.metric)
        self._trial.report(value, step=epoch)
        if self._trial.should_prune():
            raise TrialPruned(f"pruned at epoch {epoch}: {self.observation_key} = {value:g}.")
        return False

    def _check(self, evals_log: Any) -> None:
        """The key is among the results and its direction agrees with ``maximize`` and the study."""
        if not evals_log:
            raise ValueError(
                "PruningCallback found no evaluation results: pass validation data (`evals` to "
                "xgb.train, `eval_set` to fit; xgb.cv evaluates its folds)."
            )
        metrics = evals_log.get(self.data_name)
        if metrics is None or self.metric not in metrics:
            raise ValueError(
                f"`observation_key` {self.observation_key!r} is not among the evaluation results; "
                f"XGBoost evaluates {', '.join(_keys(evals_log))} (data set names from `evals` or "
                f"`eval_set` as validation_0, ...; metrics from eval_metric)."
            )
        builtin = _builtin_direction(self.metric)
        if builtin is None and self.maximize is None:
            raise ValueError(
                f"{self.metric!r} is not one of XGBoost's metrics (a custom metric?), so its direction "
                f"is unknown: pass maximize=True if higher values are better, maximize=False if lower."
            )
        if builtin is not None and self.maximize is not None and builtin != self.maximize:
            raise ValueError(
                f"XGBoost's {self.metric!r} is {_better(builtin)}-is-better, but `maximize` is "
                f"{self.maximize}: leave maximize=None for XGBoost's own metrics."
            )
        higher = builtin if builtin is not None else self.maximize
        if self._direction is not None and higher != (self._direction == "maximize"):
            raise ValueError(
                f"{self.observation_key!r}: {self.metric!r} is {_better(higher)}-is-better, but the "
                f"study's direction is {self._direction!r}: the pruner would stop the best trials. "
                f"Create the study with direction={'maximize' if higher else 'minimize'!r}, or prune on "
                f"a metric that agrees."
            )


def _better(higher: bool | None) -> str:
    return "higher" if higher else "lower"


def _builtin_direction(metric: str) -> bool | None:
    """True/False when ``metric`` is one of XGBoost's own (higher/lower is better), else None.

    ``ndcg@5-``, ``map-`` (a trailing ``-``: a query without relevant documents scores 0) and the
    parameters after ``@`` (``error@0.7``, ``pre@3``, ``tweedie-nloglik@1.5``) keep the base's
    direction.
    """
    base = metric.removesuffix("-").split("@", 1)[0]
    if base in _HIGHER_IS_BETTER:
        return True
    if base in _LOWER_IS_BETTER:
        return False
    return None


def _keys(evals_log: Any) -> list[str]:
    return [f"{data}-{metric}" for data, metrics in evals_log.items() for metric in metrics]


def _value(evals_log: Any, data_name: str, metric: str) -> float:
    """This round's value: the last entry of the history; in ``xgb.cv`` a ``(mean, std)`` pair,
    whose mean over the folds is reported."""
    try:
        last = evals_log[data_name][metric][-1]
    except (KeyError, IndexError):
        raise ValueError(
            f"'{data_name}-{metric}' is no longer among the evaluation results "
            f"({', '.join(_keys(evals_log))})."
        ) from None
    if isinstance(last, tuple):
        last = last[0]
    return float(last)

