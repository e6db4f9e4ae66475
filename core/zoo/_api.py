"""The public functions: list, create, load, save, info, evaluate."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from zoo._config import config_with_overrides
from zoo._registry import get_registry
from zoo._serialization import create_from_config
from zoo._serialization import save as _save


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the registered architectures matching the fnmatch ``pattern``."""
    return sorted(name for name in get_registry().models if fnmatch.fnmatchcase(name, pattern))


def create(name: str, **overrides: Any) -> nn.Module:
    """An untrained ``name`` model; keyword arguments override fields of its default config."""
    spec = get_registry().model(name)
    config = config_with_overrides(spec.config, None, overrides, where=f"zoo.create({name!r})")
    return create_from_config(name, config)


def save(model: nn.Module, directory: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` and ``model.safetensors`` for a zoo model into ``directory``."""
    return _save(model, directory)


def load(source: str | os.PathLike[str], *, token: str | bool | None = None,
         cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> nn.Module:
    """Load a model in eval mode.

    ``source`` is an architecture name (its default pretrained entry), ``name.tag`` (a registry entry),
    ``hf-hub:org/repo[@revision]``, or a directory written by :func:`save` given as a path (``runs/x``,
    ``./dense-gan``, a ``pathlib.Path``): a registered name always means the registry, even when a folder of
    that name exists. ``token``, ``cache_dir`` and ``endpoint`` apply to downloads from the Hub.
    """
    from zoo._resolve import load as _load

    return _load(source, token=token, cache_dir=cache_dir, endpoint=endpoint)


def info(name: str) -> dict[str, Any]:
    """Provider, kind, config JSON schema and pretrained tags of the architecture ``name``."""
    registry = get_registry()
    spec = registry.model(name)
    provider = registry.provider("model", name)
    return {
        "name": spec.name,
        "kind": spec.kind,
        "description": spec.description,
        "distribution": provider.distribution,
        "version": provider.version,
        "plugin": provider.plugin,
        "config_schema": spec.config.model_json_schema(),
        "pretrained": sorted(tag for tag in registry.weights if tag.split(".", 1)[0] == name),
    }


def evaluate(source_or_model: str | os.PathLike[str] | nn.Module, *, data: str | os.PathLike[str] = "mnist-5k",
             seeds: Sequence[int] = (0, 1, 2), num_samples: int = 1000,
             classifier: str | os.PathLike[str] | nn.Module | None = None) -> dict[str, Any]:
    """Metrics of a model on ``data``'s test split over ``seeds``; see :func:`zoo.eval.evaluate`.

    Imports the evaluation stack (torchmetrics, scikit-learn) only when called.
    """
    from zoo.eval import evaluate as _evaluate

    return _evaluate(source_or_model, data=data, seeds=seeds, num_samples=num_samples, classifier=classifier)
