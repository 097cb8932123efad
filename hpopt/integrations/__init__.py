"""Integrations with training libraries, each in its own module behind its own extra.

Importing this package imports none of them; import the module you use:

* :mod:`hpopt.integrations.lightgbm` (extra ``lightgbm``): its ``PruningCallback``,
  which reports a LightGBM validation metric every boosting round and prunes the trial.
* :mod:`hpopt.integrations.xgboost` (extra ``xgboost``): its ``PruningCallback``, an XGBoost
  ``TrainingCallback`` that reports an evaluation result every boosting round and prunes the trial.
"""

__all__: list[str] = []
