"""LightGBM integration (extra ``lightgbm``): prune a trial while its booster trains.

:class:`PruningCallback` is a LightGBM training callback. After each boosting round (every
``report_interval``-th) it reports one validation metric to the hpopt trial as
``trial.report(value, step=iteration)`` and raises :class:`hpopt.TrialPruned` when
``trial.should_prune()`` says so. LightGBM lets an exception other than its own early-stopping one
propagate out of ``lgb.train``/``lgb.cv``/``fit``, so the objective ends there and
``Study.optimize`` records the trial as PRUNED (its value is the last report).

It works with ``lgb.train(..., callbacks=[cb])``, ``lgb.cv(..., callbacks=[cb])`` (reports the mean
over the folds, the value ``lgb.cv`` returns as ``"valid <metric>-mean"``) and the scikit-learn API
(``LGBMRegressor().fit(X, y, eval_set=..., callbacks=[cb])``), with the live :class:`hpopt.Trial`
of ``optimize``/``ask`` and with :class:`hpopt.remote.RemoteTrial` in executor workers (pruning
there needs a study in a database, as any pruning in workers does; see :mod:`hpopt.remote`).

Choices:

* **Direction.** Pruners read reports in the study's direction, so a higher-is-better metric (AUC)
  in a study that minimizes, or a lower-is-better one (logloss) in a study that maximizes, would
  prune the best trials and keep the worst. The callback refuses that mismatch with a ValueError at
  the first round, before anything is reported, naming the metric, its direction (LightGBM's own
  flag, or ``is_higher_better`` of a custom metric) and the study's. It does not negate values to
  fit the study: the stored intermediate values would then differ from what LightGBM logs. In a
  worker whose study it cannot see (an in-memory study: no pruning in workers then), the check is
  skipped.
* **Which data set.** ``valid_name=None`` takes the one data set, other than the training data,
  that reports ``metric`` (the training data: the booster's train-set name, ``"training"`` by
  default, or ``"train"`` in ``lgb.cv``); several validation sets with that metric are ambiguous
  and refused (name one). Pruning on the training data is allowed only when named explicitly.
  An unknown metric or data set is refused at the first round, listing what LightGBM evaluates.
* **Steps.** ``step`` is LightGBM's 0-based ``iteration`` (absolute: a run continued from
  ``init_model`` goes on from its trees' count); with ``report_interval=k`` the rounds whose
  number ``iteration + 1`` is a multiple of k are reported, so trials report the same steps.
* **Single objective.** One metric is reported, so a multi-objective study is refused at
  construction.

Use one callback per training run: a second run in the same trial would report its steps again
(hpopt keeps the first value of a step and warns). For several folds, use ``lgb.cv``.

Process pools: LightGBM's OpenMP runtime (GNU libgomp) does not survive ``fork`` once it has run
threads, so ``executor="process"`` (a fork pool on Linux before Python 3.14) can hang its workers if
the calling process trained a booster with several threads first. Pass a pool that does not fork,
``ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("forkserver"))``, or keep
``num_threads=1`` in the caller.

Example:
    >>> import hpopt, lightgbm as lgb, numpy as np
    >>> from hpopt.integrations.lightgbm import PruningCallback
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = X[:, 0] + 0.1 * rng.normal(size=200)
    >>> def objective(trial):
    ...     params = {"objective": "regression", "metric": "l2", "verbose": -1,
    ...               "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True)}
    ...     dtrain = lgb.Dataset(X[:150], y[:150])
    ...     dvalid = lgb.Dataset(X[150:], y[150:], reference=dtrain)
    ...     booster = lgb.train(params, dtrain, num_boost_round=10, valid_sets=[dvalid],
    ...                         callbacks=[PruningCallback(trial, "l2")])
    ...     return booster.best_score["valid_0"]["l2"]
    >>> study = hpopt.create_study(pruner="median", seed=0)
    >>> study.optimize(objective, n_trials=3)
    >>> len(study.trials)
    3
"""

from __future__ import annotations

from typing import Any

try:
    import lightgbm
except ImportError as exc:  # depends on the environment (tested with lightgbm hidden)
    raise ImportError(
        'hpopt.integrations.lightgbm needs LightGBM: pip install "hpopt[lightgbm]"'
    ) from exc

from hpopt.errors import TrialPruned
from hpopt.integrations._trial import check_trial, single_direction

__all__ = ["PruningCallback"]

#: The name ``lgb.cv`` gives the training folds' results (``eval_train_metric=True``).
_CV_TRAIN_NAME = "train"


class PruningCallback:
    """A LightGBM callback that reports a validation metric to an hpopt trial and prunes it.

    Args:
        trial: The running trial: an :class:`hpopt.Trial` or an executor worker's
            :class:`hpopt.remote.RemoteTrial` (anything with ``report`` and ``should_prune``).
        metric: The metric's name as LightGBM reports it (``"l2"``, ``"binary_logloss"``,
            ``"auc"``, a custom ``feval``'s name); an alias given in ``params`` (``"mse"``) is
            reported under its canonical name (``"l2"``), which is the one to pass here.
        valid_name: The data set to read ``metric`` from (``"valid_0"``, a name from
            ``valid_names``; ``"valid"`` in ``lgb.cv``). None: the only non-training data set
            that reports ``metric``.
        report_interval: Report (and ask the pruner) every this many rounds (an int ``>= 1``).

    Raises:
        TypeError: ``trial`` lacks ``report``/``should_prune``; ``metric``/``valid_name`` not a
            str; ``report_interval`` not an int.
        ValueError: An empty name, ``report_interval < 1``, or a multi-objective study.

    Calling it (LightGBM does, after each round) raises:
        ValueError: No evaluation results (no ``valid_sets``/``eval_set``), ``metric`` or
            ``valid_name`` not among them (the message lists those available), an ambiguous
            data set, or a metric direction opposite to the study's.
        hpopt.TrialPruned: The pruner stops the trial.
    """

    def __init__(
        self, trial: Any, metric: str, valid_name: str | None = None, report_interval: int = 1
    ) -> None:
        check_trial(trial)
        _check_name("metric", metric)
        if valid_name is not None:
            _check_name("valid_name", valid_name)
        direction = single_direction(trial, report_interval)
        self._trial = trial
        self.metric = metric
        self.valid_name = valid_name
        self.report_interval = int(report_interval)
        self._direction = direction
        self._data_name: str | None = None  # the data set chosen at the first round
        # LightGBM reads these attributes (it sets ``order`` itself from the list position).
        self.before_iteration = False

    def __repr__(self) -> str:
        return (
            f"PruningCallback(trial={getattr(self._trial, 'number', '?')}, metric={self.metric!r}, "
            f"valid_name={self.valid_name!r}, report_interval={self.report_interval})"
        )

    def __call__(self, env: Any) -> None:
        """Called by LightGBM after each boosting round with its ``CallbackEnv``."""
        results = _entries(env.evaluation_result_list)
        if self._data_name is None:
            self._data_name = self._choose(results, env.model)
        iteration = int(env.iteration)
        if (iteration + 1) % self.report_interval:
            return
        value = _value(results, self._data_name, self.metric)
        self._trial.report(value, step=iteration)
        if self._trial.should_prune():
            raise TrialPruned(
                f"pruned at iteration {iteration}: {self._data_name}'s {self.metric} = {value:g}."
            )

    def _choose(self, results: list[_Entry], model: Any) -> str:
        """The data set to read ``metric`` from, after checking the metric's direction (first round)."""
        if not results:
            raise ValueError(
                "PruningCallback found no evaluation results: pass validation data (`valid_sets` "
                "to lgb.train, `eval_set` or `eval_X`/`eval_y` to fit; lgb.cv evaluates its folds)."
            )
        available = [(r[0], r[1]) for r in results]
        with_metric = [d for d, m in available if m == self.metric]
        listed = ", ".join(f"{d}'s {m}" for d, m in available)
        if not with_metric:
            raise ValueError(
                f"`metric` {self.metric!r} is not among the evaluation results ({listed}); pass one of "
                f"the metric names there (set it with params['metric'] or eval_metric)."
            )
        if self.valid_name is not None:
            if self.valid_name not in with_metric:
                raise ValueError(
                    f"`valid_name` {self.valid_name!r} has no {self.metric!r} among the evaluation "
                    f"results ({listed}); data sets with it: {', '.join(with_metric)}."
                )
            name = self.valid_name
        else:
            train = _CV_TRAIN_NAME if isinstance(model, lightgbm.CVBooster) else getattr(
                model, "_train_data_name", "training")
            valid = [d for d in with_metric if d != train]
            if not valid:
                raise ValueError(
                    f"only the training data ({train!r}) reports {self.metric!r} ({listed}); pass "
                    f"validation data, or valid_name={train!r} to prune on the training data."
                )
            if len(valid) > 1:
                raise ValueError(
                    f"several data sets report {self.metric!r} ({', '.join(valid)}); choose one "
                    f"with `valid_name`."
                )
            name = valid[0]
        higher = next(r[3] for r in results if r[0] == name and r[1] == self.metric)
        if self._direction is not None and higher != (self._direction == "maximize"):
            better = "higher" if higher else "lower"
            raise ValueError(
                f"{name}'s {self.metric!r} is {better}-is-better, but the study's direction is "
                f"{self._direction!r}: the pruner would stop the best trials. Create the study with "
                f"direction={'maximize' if higher else 'minimize'!r}, or prune on a metric that "
                f"agrees (a custom metric sets is_higher_better)."
            )
        return name


def _check_name(what: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"`{what}` must be a str, but got {name!r} ({type(name).__name__}).")
    if not name:
        raise ValueError(f"`{what}` must not be empty.")


#: One evaluation result: (data set, metric, value, higher is better).
_Entry = tuple[str, str, float, bool]


def _entries(results: Any) -> list[_Entry]:
    """LightGBM's ``evaluation_result_list`` as (data set, metric, value, higher is better).

    Entries are ``EvalResult`` named tuples from lightgbm 4.7 and plain 4- or 5-tuples before (the
    fifth item: the standard deviation over ``lgb.cv``'s folds). Before 4.6, ``lgb.cv`` names its
    entries ``("cv_agg", "valid l2", ...)``; they are split into ``("valid", "l2", ...)`` as later
    versions give them, so one ``valid_name`` works with every version.
    """
    out = []
    for r in results or ():
        data, metric = str(r[0]), str(r[1])
        if data == "cv_agg" and " " in metric:
            data, metric = metric.split(" ", 1)
        out.append((data, metric, float(r[2]), bool(r[3])))
    return out


def _value(results: list[_Entry], data_name: str, metric: str) -> float:
    """``metric``'s value on ``data_name`` this round (the mean over folds in ``lgb.cv``)."""
    for r in results:
        if r[0] == data_name and r[1] == metric:
            return r[2]
    listed = ", ".join(f"{r[0]}'s {r[1]}" for r in results)
    raise ValueError(f"{data_name}'s {metric!r} is no longer among the evaluation results ({listed}).")

