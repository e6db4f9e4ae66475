"""The public functions: list, create, load, save, info, evaluate (``create`` is defined in :mod:`zoo._resolve`,
below the trainer that uses it)."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from zoo._registry import get_registry
from zoo._resolve import create
from zoo._resolve import load as _load
from zoo._serialization import save as _save
from zoo.eval import NOISE_STD
from zoo.eval import evaluate as _evaluate


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the registered architectures matching the fnmatch ``pattern``."""
    return sorted(name for name in get_registry().models if fnmatch.fnmatchcase(name, pattern))


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
    return _load(source, token=token, cache_dir=cache_dir, endpoint=endpoint)


def info(name: str) -> dict[str, Any]:
    """Provider, kind, config JSON schema, training recipe and pretrained tags of the architecture ``name``."""
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
        # Training defaults the architecture recommends (a partial TrainConfig); explicit values override them.
        "recipe": dict(spec.recipe),
        "pretrained": sorted(tag for tag in registry.weights if tag.split(".", 1)[0] == name),
    }


def evaluate(source_or_model: str | os.PathLike[str] | nn.Module, *, data: str | os.PathLike[str] = "mnist-5k",
             seeds: Sequence[int] = (0, 1, 2), num_samples: int = 1000,
             classifier: str | os.PathLike[str] | nn.Module | None = None,
             noise_std: float = NOISE_STD) -> dict[str, Any]:
    """Metrics of a model on ``data``'s test split over ``seeds``; see :func:`zoo.eval.evaluate`.

    The optional evaluation extras (torchmetrics, scikit-learn) are imported only when a metric needs them.
    """
    return _evaluate(source_or_model, data=data, seeds=seeds, num_samples=num_samples, classifier=classifier,
                     noise_std=noise_std)


__all__ = ["create", "evaluate", "info", "list_models", "load", "save"]
