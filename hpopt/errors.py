"""Exceptions and warning categories raised by hpopt.

Every exception derives from :class:`HpoptError` and also from the builtin it resembles, so
``except ValueError`` keeps working for callers who do not know hpopt's hierarchy.
"""

from __future__ import annotations


class HpoptError(Exception):
    """Root of every error hpopt raises on purpose."""


class TrialFinishedError(HpoptError, RuntimeError):
    """A finished trial was asked to change (tell with another value, report, suggest, ...)."""


class DuplicatedStudyError(HpoptError, ValueError):
    """A study with this name already exists in the storage (pass ``load_if_exists=True``)."""


class StudyNotFoundError(HpoptError, KeyError):
    """No study of that name exists in the storage."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PluginError(HpoptError, ValueError):
    """A plugin name is unknown, claimed twice, or a plugin is malformed."""


class StorageError(HpoptError, RuntimeError):
    """The storage cannot be opened or read (corruption, unsupported schema, bad URL)."""


class TrialPruned(HpoptError):  # noqa: N818  (public name, like optuna.TrialPruned)
    """Raise inside an objective to mark the running trial PRUNED."""


class HpoptWarning(UserWarning):
    """Advisory about the user's input that hpopt corrected or worked around."""


class FailedTrialWarning(HpoptWarning):
    """A trial ended FAIL (NaN value, exception caught by ``catch``, bad return value)."""


class SamplerError(HpoptError, RuntimeError):
    """A sampler returned something unusable (a value outside its distribution, a missing name)."""


class SearchSpaceExhausted(HpoptError, RuntimeError):  # noqa: N818
    """The sampler has no unevaluated configuration left (e.g. every grid point was run)."""


class PluginLoadWarning(HpoptWarning):
    """An installed plugin failed to import; the others were loaded."""
