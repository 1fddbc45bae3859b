"""Typed exceptions: every user-facing failure is one of these, with a one-line message that
names the problem and the fix. The CLI prints the message and exits non-zero."""

from __future__ import annotations

__all__ = [
    "CoupleError",
    "ValueNameError",
    "ObjectiveError",
    "ValueSystemError",
    "SCMError",
    "CycleError",
    "NotPositiveDefiniteError",
    "SingularSystemError",
    "ModelFileError",
    "DownloadError",
    "EngineError",
    "UnsupportedArchitectureError",
    "ControlVectorError",
    "OutputFileError",
]


class CoupleError(Exception):
    """Base class of all couple-lite errors."""


class ValueNameError(CoupleError, KeyError):
    """A value name that the value system does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ObjectiveError(CoupleError, ValueError):
    """A malformed objective, profile or priority string."""


class ValueSystemError(CoupleError, ValueError):
    """A malformed value-system definition."""


class SCMError(CoupleError, ValueError):
    """A structural causal model that cannot be built or solved."""


class CycleError(SCMError):
    """The value graph has a directed cycle; an SCM needs a DAG."""


class NotPositiveDefiniteError(SCMError):
    """A covariance matrix that is not symmetric positive definite."""


class SingularSystemError(SCMError):
    """A linear system too ill-conditioned to solve reliably."""


class ModelFileError(CoupleError, FileNotFoundError):
    """A model file that is missing, truncated or not GGUF."""


class DownloadError(CoupleError, RuntimeError):
    """Fetching a registered model failed; nothing partial is left behind."""


class EngineError(CoupleError, RuntimeError):
    """llama.cpp refused an operation."""


class UnsupportedArchitectureError(EngineError):
    """The model's architecture ignores control vectors."""


class ControlVectorError(CoupleError, ValueError):
    """A control vector or control-vector file that does not fit the model or is corrupt."""


class OutputFileError(CoupleError, OSError):
    """An output file that cannot be written whole; the old file, if any, is left as it was."""


class MissingExtraError(CoupleError, ImportError):
    """A feature whose optional extra (e.g. ``server``) is not installed; the message says how."""
