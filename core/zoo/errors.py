"""Every error that ``zoo`` raises, under one base class.

Each message says what went wrong, with the offending value, and what to do about it. The tree, with the fields
each class carries (a subclass has its parent's)::

    ZooError
    ├── ConfigError            a config is malformed, has unknown keys or out-of-range values    path, architecture
    ├── UnknownNameError       no dataset / registry entry / ... of that name (suggests close ones)          name
    │   └── UnknownModelError          no architecture of that name                                architecture
    ├── AmbiguousModelError    two installed distributions register the same name                      architecture
    ├── PluginError            a plugin failed to import or its hook raised           plugin, hook, architecture
    │                          (fatal with ZOO_STRICT_PLUGINS=1)
    ├── LoadError              a saved model cannot be read                           path, architecture, repo_id
    │   ├── MissingArchitectureError   the architecture is not installed (names the distribution)
    │   ├── WeightsMismatchError       missing, unexpected or wrongly shaped tensors
    │   ├── ChecksumError              a file's sha256 differs from the one recorded
    │   └── UnsafeWeightsError         only pickle weights were offered
    ├── DataError              a dataset is missing, empty, wrongly shaped or holds NaN
    ├── TrainingError          training cannot start or continue                                           path
    │   ├── ResumeMismatchError        resuming with a changed config
    │   └── NonFiniteLossError         a loss became NaN or Inf
    ├── ExportError            a model cannot be exported to ONNX                        architecture, operation
    └── HubError               talking to the Hugging Face Hub failed                               repo_id, status
        ├── HubAuthError               bad or missing token (HTTP 401 / 403)
        ├── HubNotFoundError           repository, revision or file does not exist (HTTP 404)
        │   └── MissingFileError               the repository and revision exist, the file does not
        ├── HubServerError             the Hub answered a server error (HTTP 5xx)
        ├── HubTimeoutError            a request timed out or a download ran past its deadline
        ├── HubRedirectError           the Hub redirected in a loop (or too many times)
        └── HubProtocolError           the Hub's answer is malformed or unsafe (bad commit id, ETag, size)

Callers read what an error concerns from its fields, not from its message, as httpx's exceptions carry their
request: ``path`` (a file or directory), ``architecture``, ``name`` (the name asked for), ``repo_id`` (a Hub
repository), ``status`` (an HTTP status), ``plugin`` (the entry-point name) and ``hook`` (a plugin hook). Each
field lives on the classes that use it, as listed above; a field is None when it does not apply to this error,
and ``fields()`` returns those that are set::

    try:
        zoo.load("runs/ae")
    except zoo.errors.MissingArchitectureError as exc:
        print(f"pip install a plugin providing {exc.architecture}")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "AmbiguousModelError",
    "ChecksumError",
    "ConfigError",
    "DataError",
    "ExportError",
    "HubAuthError",
    "HubError",
    "HubNotFoundError",
    "HubProtocolError",
    "HubRedirectError",
    "HubServerError",
    "HubTimeoutError",
    "LoadError",
    "MissingArchitectureError",
    "MissingFileError",
    "NonFiniteLossError",
    "PluginError",
    "ResumeMismatchError",
    "TrainingError",
    "UnknownModelError",
    "UnknownNameError",
    "UnsafeWeightsError",
    "WeightsMismatchError",
    "ZooError",
]


class ZooError(Exception):
    """Base class of every error raised by zoo; the keyword fields (see ``FIELDS``) say what the error concerns."""

    # The keyword fields this class takes, fields() reports and pickling keeps; a subclass extends its parent's.
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, message: str = "", **fields: Any) -> None:
        unknown = sorted(set(fields) - set(self.FIELDS))
        if unknown:
            raise TypeError(f"{type(self).__name__} takes no field {', '.join(unknown)}; its fields are "
                            f"{', '.join(self.FIELDS) or 'none'}")
        super().__init__(message)
        self.message = message
        for name in self.FIELDS:
            value = fields.get(name)
            setattr(self, name, Path(value) if name == "path" and value is not None else value)

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

    FIELDS = ("path", "architecture")
    path: Path | None
    architecture: str | None


class UnknownNameError(ZooError, LookupError):
    """No dataset, pretrained entry (or, as :class:`UnknownModelError`, architecture) of the given name."""

    FIELDS: ClassVar[tuple[str, ...]] = ("name",)
    name: str | None


class UnknownModelError(UnknownNameError):
    """No architecture of the given name is registered (nor a pretrained entry, for ``zoo.load(name)``)."""

    FIELDS = (*UnknownNameError.FIELDS, "architecture")
    architecture: str | None


class AmbiguousModelError(ZooError, LookupError):
    """Two distributions register the same name; zoo refuses to pick one silently."""

    FIELDS = ("architecture",)
    architecture: str | None


class PluginError(ZooError):
    """A plugin could not be imported or one of its hooks raised."""

    FIELDS = ("plugin", "hook", "architecture")
    plugin: str | None
    hook: str | None
    architecture: str | None


class LoadError(ZooError):
    """A saved model (directory, registry entry or Hub repo) cannot be loaded."""

    FIELDS = ("path", "architecture", "repo_id")
    path: Path | None
    architecture: str | None
    repo_id: str | None


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

    FIELDS = ("path",)
    path: Path | None


class ResumeMismatchError(TrainingError):
    """A run is resumed with a configuration that differs from the one it was started with."""


class NonFiniteLossError(TrainingError):
    """A loss became NaN or infinite."""


class ExportError(ZooError):
    """A model cannot be exported (to ONNX): ``operation`` names the operation the exporter refused, if one."""

    FIELDS = ("architecture", "operation")
    architecture: str | None
    operation: str | None


class HubError(ZooError):
    """A request to the Hugging Face Hub failed; ``status`` is the HTTP status when the Hub answered one."""

    FIELDS = ("repo_id", "status")
    repo_id: str | None
    status: int | None


class HubAuthError(HubError):
    """The Hub refused the token (or none was given for a private repository)."""


class HubNotFoundError(HubError):
    """The Hub has no such repository, revision or file."""


class MissingFileError(HubNotFoundError):
    """The repository and revision exist, but the file does not."""


class HubServerError(HubError):
    """The Hub answered with a server error (HTTP 5xx)."""


class HubTimeoutError(HubError):
    """A Hub request timed out, or a download did not finish within its deadline."""


class HubRedirectError(HubError):
    """The Hub redirected in a loop, or more times than zoo follows."""


class HubProtocolError(HubError):
    """The Hub's answer is malformed or unsafe: a commit id, ETag or size that zoo refuses to use."""
