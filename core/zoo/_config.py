"""Model configs: the optional :class:`ModelConfig` base, and the check every config class passes at registration.

A config is any pydantic model class that forbids extra keys; :class:`ModelConfig` adds frozen, strict
validation and a parameter budget checked before anything is allocated.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Self

import pydantic
from pydantic import BaseModel, ConfigDict

from zoo.errors import ConfigError

# A hostile config.json must not make the process allocate gigabytes: 64M float32 parameters is 256 MB.
MAX_PARAMETERS = 64_000_000


class FrozenModel(BaseModel):
    """Frozen, closed and strict: the base of zoo's own documents (entries, training configs)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ModelConfig(BaseModel):
    """Frozen, strict base for model configs.

    Subclasses declare bounded fields (``Field(ge=1, le=...)``) and may override
    :meth:`parameter_count` so that the parameter budget is enforced before anything is allocated.
    """

    # defer_build: schemas are built on first validation, so `zoo list` pays nothing for unused configs.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=True, defer_build=True)

    max_parameters: ClassVar[int] = MAX_PARAMETERS

    def parameter_count(self) -> int:
        """Number of parameters the model built from this config holds (0 when unknown)."""
        return 0

    @pydantic.model_validator(mode="after")
    def _check_parameter_budget(self) -> Self:
        count = self.parameter_count()
        if count > self.max_parameters:
            raise ValueError(
                f"this config describes {count:,} parameters, above the limit of {self.max_parameters:,}; "
                "reduce the layer sizes"
            )
        return self


def check_config_class(config_cls: object, *, model: str) -> None:
    """Raise ConfigError unless ``config_cls`` is a pydantic model class that forbids extra keys."""
    if not isinstance(config_cls, type) or not issubclass(config_cls, BaseModel):
        raise ConfigError(
            f"model {model!r}: its config {config_cls!r} is not a pydantic model class; derive it from "
            "zoo.ModelConfig (or pydantic.BaseModel with model_config = ConfigDict(extra='forbid'))",
            architecture=model,
        )
    if config_cls.model_config.get("extra") != "forbid":
        raise ConfigError(
            f"model {model!r}: its config {config_cls.__name__} accepts unknown keys (extra="
            f"{config_cls.model_config.get('extra', 'ignore')!r}), so a typo in a config would pass silently; set "
            "model_config = ConfigDict(extra='forbid') on it, or derive it from zoo.ModelConfig",
            architecture=model,
        )


def validate_config(config_cls: type[BaseModel], data: Any, *, where: str) -> Any:
    """Validate ``data`` (a mapping, or a JSON string) against ``config_cls``, raising ConfigError."""
    try:
        if isinstance(data, str | bytes):
            return config_cls.model_validate_json(data)
        return config_cls.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {_message(err)}"
            + (f" (got {err['input']!r})" if err["type"] != "missing" and _short(err.get("input")) else "")
            for err in exc.errors()
        )
        raise ConfigError(
            f"invalid {config_cls.__name__} in {where}: {problems}. "
            f"Run `zoo info` on the architecture to see the accepted fields and ranges."
        ) from None


def _message(err: Any) -> str:
    """pydantic's message, without the "Value error, " it puts before a validator's own words."""
    message = str(err["msg"])
    return message.removeprefix("Value error, ") if err["type"] == "value_error" else message


def _short(value: Any) -> bool:
    try:
        return len(json.dumps(value, default=str)) <= 80
    except (TypeError, ValueError):
        return False


def config_with_overrides(config_cls: type[BaseModel], base: BaseModel | None, overrides: dict[str, Any], *,
                          where: str) -> Any:
    """A new validated config: ``base`` (or defaults) with ``overrides`` applied."""
    data = base.model_dump(mode="json") if base is not None else {}
    data.update(overrides)
    # Through JSON so that Python callers and config files are validated identically (lists become tuples).
    try:
        text = json.dumps(data)
    except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nesting too deep to be a config
        raise ConfigError(f"invalid {config_cls.__name__} in {where}: values must be JSON-like "
                          f"({str(exc)[:200]})") from None
    return validate_config(config_cls, text, where=where)
