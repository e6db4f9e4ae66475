"""The training fields with their types, ranges and defaults, for ``zoo train --help`` and ``zoo info``.

Read from the pydantic :class:`~zoo.train.TrainConfig` itself, so the help never drifts from what ``--set``
accepts. Imported only when that help is shown or ``zoo info`` runs (building pydantic models costs start-up).
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel

from zoo._train_config import TrainConfig


def training_fields_help() -> str:
    """Every TrainConfig field with its type, range and default: what ``--set KEY=VALUE`` accepts."""
    lines = ["training fields (zoo train --set FIELD=VALUE; values are JSON, e.g. "
             "--set 'optimizer.betas=[0.5,0.999]'):"]
    lines += _field_lines(TrainConfig, "")
    lines.append("  optimizers.NETWORK.FIELD   the optimizer fields above for one network only (GANs: generator, "
                 "discriminator)")
    return "\n".join(lines)


def recipe_help(recipe: dict[str, Any]) -> str:
    """The training defaults an architecture's spec recommends, as the ``--set`` pairs that would give them."""
    if not recipe:
        return "recipe: none (the training defaults below apply)"
    pairs = " ".join(f"{key}={json.dumps(value, separators=(',', ':'))}" for key, value in _flat(recipe, ""))
    return f"recipe (training defaults of this architecture; --lr, --epochs, --set ... override them): {pairs}"


def _flat(values: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            pairs += _flat(value, f"{prefix}{key}.")
        else:
            pairs.append((prefix + key, value))
    return pairs


def train_epilog() -> str:
    """What ``zoo train --help`` shows after its examples."""
    return f"{training_fields_help()}\n\nmodel fields and their ranges: zoo info NAME"


def _field_lines(config_cls: type[BaseModel], prefix: str) -> list[str]:
    lines = []
    for name, info in config_cls.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines += _field_lines(annotation, f"{prefix}{name}.")
            continue
        if typing.get_origin(annotation) is dict:
            continue  # optimizers: described after the list
        default = info.default
        shown_default = json.dumps(default.model_dump(mode="json") if isinstance(default, BaseModel) else default,
                                   default=str)
        note = f"; {info.description}" if info.description else ""
        lines.append(f"  {prefix + name:26s} {_describe_type(annotation, info.metadata)}; default {shown_default}"
                     f"{note}")
    return lines


def _describe_type(annotation: Any, metadata: list[Any]) -> str:
    origin, members = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(str(m) for m in members)
    optional = ""
    if origin in (typing.Union, types.UnionType) and type(None) in members:
        optional = " or null"
        annotation = next(m for m in members if m is not type(None))
    bounds = []
    for item in metadata:
        for attribute, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, attribute, None)
            if value is not None:
                bounds.append(f"{symbol} {value}")
    name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
    if typing.get_origin(annotation) is tuple:
        name = "[" + ", ".join(getattr(a, "__name__", str(a)) for a in typing.get_args(annotation)) + "]"
    return name + (f" ({', '.join(bounds)})" if bounds else "") + optional
