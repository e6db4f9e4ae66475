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
        ├── HubAuthError               bad or missing token
        └── HubNotFoundError           repository, revision or file does not exist
"""

from __future__ import annotations

__all__ = [
    "AmbiguousModelError",
    "ChecksumError",
    "ConfigError",
    "DataError",
    "HubAuthError",
    "HubError",
    "HubNotFoundError",
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
    """Base class of every error raised by zoo."""


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
    """A request to the Hugging Face Hub failed."""


class HubAuthError(HubError):
    """The Hub refused the token (or none was given for a private repository)."""


class HubNotFoundError(HubError):
    """The Hub has no such repository, revision or file."""
