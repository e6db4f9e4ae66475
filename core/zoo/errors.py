"""Every error that ``zoo`` raises, under one base class.

Each message says what went wrong, with the offending value, and what to do about it::

    ZooError
    ├── ConfigError            a config is malformed, has unknown keys or out-of-range values
    ├── UnknownModelError      no architecture / dataset / registry entry of that name (suggests close ones)
    ├── AmbiguousModelError    two installed distributions register the same name
    ├── PluginError            a plugin failed to import or its hook raised (fatal with ZOO_STRICT_PLUGINS=1)
    ├── LoadError              a saved model cannot be read
    │   ├── MissingArchitectureError   the architecture is not installed (names the distribution)
    │   ├── WeightsMismatchError       missing, unexpected or wrongly shaped tensors
    │   ├── ChecksumError              a file's sha256 differs from the one recorded
    │   └── UnsafeWeightsError         only pickle weights were offered
    ├── DataError              a dataset is missing, empty, wrongly shaped or holds NaN
    ├── TrainingError          training cannot start or continue
    │   ├── ResumeMismatchError        resuming with a changed config
    │   └── NonFiniteLossError         a loss became NaN or Inf
    └── HubError               talking to the Hugging Face Hub failed
        ├── HubAuthError               bad or missing token (HTTP 401 / 403)
        ├── HubNotFoundError           repository, revision or file does not exist (HTTP 404)
        ├── HubServerError             the Hub answered a server error (HTTP 5xx)
        ├── HubTimeoutError            a request timed out or a download ran past its deadline
        ├── HubRedirectError           the Hub redirected in a loop (or too many times)
        └── HubProtocolError           the Hub's answer is malformed or unsafe (bad commit id, ETag, size)

Callers read what an error concerns from its fields, not from its message, as httpx's exceptions carry their
request: ``path`` (a file or directory), ``architecture``, ``repo_id`` (a Hub repository), ``plugin`` (the
entry-point name) and ``hook`` (a plugin hook). A field is None when it does not apply::

    try:
        zoo.load("runs/ae")
    except zoo.errors.MissingArchitectureError as exc:
        print(f"pip install a plugin providing {exc.architecture}")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "AmbiguousModelError",
    "ChecksumError",
    "ConfigError",
    "DataError",
    "HubAuthError",
    "HubError",
    "HubNotFoundError",
    "HubProtocolError",
    "HubRedirectError",
    "HubServerError",
    "HubTimeoutError",
    "LoadError",
    "MissingArchitectureError",
    "NonFiniteLossError",
    "PluginError",
    "ResumeMismatchError",
    "TrainingError",
    "UnknownModelError",
    "UnsafeWeightsError",
    "WeightsMismatchError",
    "ZooError",
]


class ZooError(Exception):
    """Base class of every error raised by zoo; the keyword fields say what the error concerns."""

    # The fields fields() reports (and pickling keeps); a subclass with more fields extends it.
    FIELDS: tuple[str, ...] = ("path", "architecture", "repo_id", "plugin", "hook")

    def __init__(self, message: str = "", *, path: str | os.PathLike[str] | None = None,
                 architecture: str | None = None, repo_id: str | None = None, plugin: str | None = None,
                 hook: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path: Path | None = Path(path) if path is not None else None
        self.architecture = architecture
        self.repo_id = repo_id
        self.plugin = plugin
        self.hook = hook

    def fields(self) -> dict[str, Any]:
        """The fields that are set, e.g. ``{"path": Path("runs/ae"), "architecture": "dense-ae"}``."""
        return {name: getattr(self, name) for name in self.FIELDS if getattr(self, name, None) is not None}

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword fields survive pickling (e.g. an error raised in a worker process).
        return (_rebuild, (type(self), self.message, self.fields()))


def _rebuild(cls: type[ZooError], message: str, fields: dict[str, Any]) -> ZooError:
    return cls(message, **fields)


class ConfigError(ZooError, ValueError):
    """A model, training or registry config is invalid."""


class UnknownModelError(ZooError, LookupError):
    """No architecture, dataset or pretrained entry of the given name is registered."""


class AmbiguousModelError(ZooError, LookupError):
    """Two distributions register the same name; zoo refuses to pick one silently."""


class PluginError(ZooError):
    """A plugin could not be imported or one of its hooks raised."""


class LoadError(ZooError):
    """A saved model (directory, registry entry or Hub repo) cannot be loaded."""


class MissingArchitectureError(LoadError):
    """The saved architecture is not provided by any installed plugin."""


class WeightsMismatchError(LoadError):
    """The weights file does not match the model built from its config."""


class ChecksumError(LoadError):
    """A file's sha256 differs from the checksum recorded for it."""


class UnsafeWeightsError(LoadError):
    """Only pickle-based weights are available; zoo loads safetensors only."""


class DataError(ZooError, ValueError):
    """A dataset cannot be used for training or evaluation."""


class TrainingError(ZooError):
    """Training cannot start or continue."""


class ResumeMismatchError(TrainingError):
    """A run is resumed with a configuration that differs from the one it was started with."""


class NonFiniteLossError(TrainingError):
    """A loss became NaN or infinite."""


class HubError(ZooError):
    """A request to the Hugging Face Hub failed; ``status`` is the HTTP status when the Hub answered one."""

    FIELDS = (*ZooError.FIELDS, "status")

    def __init__(self, message: str = "", *, status: int | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.status = status


class HubAuthError(HubError):
    """The Hub refused the token (or none was given for a private repository)."""


class HubNotFoundError(HubError):
    """The Hub has no such repository, revision or file."""


class HubServerError(HubError):
    """The Hub answered with a server error (HTTP 5xx)."""


class HubTimeoutError(HubError):
    """A Hub request timed out, or a download did not finish within its deadline."""


class HubRedirectError(HubError):
    """The Hub redirected in a loop, or more times than zoo follows."""


class HubProtocolError(HubError):
    """The Hub's answer is malformed or unsafe: a commit id, ETag or size that zoo refuses to use."""
