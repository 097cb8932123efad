"""hpopt: hyperparameter optimization with an ask/tell Study, pluggable samplers and pruners, and
durable storage.

Example:
    >>> import hpopt
    >>> study = hpopt.create_study(seed=0)
    >>> study.optimize(lambda t: (t.suggest_float("x", -10, 10) - 2) ** 2, n_trials=30)
    >>> study.best_value < 5
    True
"""

from hpopt.distributions import Categorical, Distribution, Float, Int, distribution_from_json
from hpopt.errors import (
    DuplicatedStudyError,
    FailedTrialWarning,
    HpoptError,
    HpoptWarning,
    PluginError,
    PluginLoadWarning,
    SamplerError,
    SearchSpaceExhausted,
    StorageError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialPruned,
)

__version__ = "0.1.0"

from hpopt import log  # noqa: E402,F401  (hpopt.log.set_verbosity)
from hpopt.create import copy_study, create_study, delete_study, load_study, study_names  # noqa: E402
from hpopt.fixed import FixedTrial, create_trial  # noqa: E402
from hpopt.importance import get_param_importances  # noqa: E402
from hpopt.plugins import (  # noqa: E402  (plugins read __version__)
    Provider,
    available_problems,
    available_pruners,
    available_samplers,
    hookimpl,
    make_pruner,
    make_sampler,
)
from hpopt.pruners import (  # noqa: E402
    ForecastPruner,
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    PatientPruner,
    PercentilePruner,
    Pruner,
    SuccessiveHalvingPruner,
    ThresholdPruner,
)
from hpopt.records import FrozenTrial, TrialState  # noqa: E402
from hpopt.refine import RefinedSpace, refined_space, warm_start  # noqa: E402
from hpopt.samplers import (  # noqa: E402
    AutoSampler,
    CmaEsSampler,
    DESampler,
    GPSampler,
    GradientSampler,
    GridSampler,
    History,
    NSGAIISampler,
    RandomSampler,
    Sampler,
    TPESampler,
    TrialInfo,
)
from hpopt.storage import JournalBackend, Storage  # noqa: E402
from hpopt.study import Study  # noqa: E402
from hpopt.terminator import Terminator  # noqa: E402
from hpopt.transform import SpaceTransform  # noqa: E402
from hpopt.trial import Trial  # noqa: E402

__all__ = [
    "__version__",
    # distributions
    "Float", "Int", "Categorical", "Distribution", "distribution_from_json",
    # study and trials
    "create_study", "load_study", "delete_study", "study_names", "copy_study", "Study", "Trial",
    "FrozenTrial",
    "TrialState", "RefinedSpace", "refined_space", "warm_start", "get_param_importances",
    "FixedTrial", "create_trial",
    # samplers, pruners, plugins
    "Sampler", "History", "TrialInfo", "RandomSampler", "GridSampler", "TPESampler", "CmaEsSampler",
    "DESampler", "NSGAIISampler", "GPSampler", "GradientSampler", "AutoSampler", "Terminator",
    "Pruner", "NopPruner",
    "MedianPruner", "PercentilePruner", "SuccessiveHalvingPruner", "HyperbandPruner",
    "ThresholdPruner", "PatientPruner", "ForecastPruner",
    "SpaceTransform", "hookimpl", "make_sampler", "make_pruner", "available_samplers",
    "available_pruners", "available_problems", "Provider",
    # storage
    "Storage", "JournalBackend",
    # errors and warnings
    "HpoptError", "TrialFinishedError", "DuplicatedStudyError", "StudyNotFoundError",
    "PluginError", "StorageError", "SamplerError", "SearchSpaceExhausted", "TrialPruned",
    "HpoptWarning", "FailedTrialWarning", "PluginLoadWarning",
]
