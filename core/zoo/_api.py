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
from zoo._serialization import create_from_config, load_directory
from zoo._serialization import save as _save
from zoo.errors import LoadError, UnknownModelError

HUB_PREFIX = "hf-hub:"


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


def load(source: str | os.PathLike[str], **kwargs: Any) -> nn.Module:
    """Load a model in eval mode.

    ``source`` is a directory written by :func:`save`, an architecture name (its default pretrained entry),
    ``name.tag`` (a registry entry), or ``hf-hub:org/repo[@revision]``. Keyword arguments are passed to the
    Hub download (``token``, ``cache_dir``, ...).
    """
    text = os.fspath(source)
    if text.startswith(HUB_PREFIX):
        from zoo._hub import load_from_hub

        return load_from_hub(text[len(HUB_PREFIX):], **kwargs)
    path = Path(text)
    if path.is_dir():
        if kwargs:
            raise TypeError(f"zoo.load() of a local directory takes no options, got {sorted(kwargs)}")
        return load_directory(path)
    if path.exists():
        raise LoadError(f"{path} is a file; zoo.load() takes the directory holding config.json and model.safetensors")
    return _load_pretrained(text, **kwargs)


def _load_pretrained(name: str, **kwargs: Any) -> nn.Module:
    from zoo._weights import default_entry_name, load_entry

    registry = get_registry()
    if "." not in name:
        if name not in registry.models:
            registry.model(name)  # raises UnknownModelError with close matches
            raise UnknownModelError(name)
        entry_name = default_entry_name(registry, name)
        if entry_name is None:
            raise LoadError(
                f"architecture {name!r} has no pretrained weights yet; train some with `zoo train {name}` and "
                "load the run directory, or create an untrained one with zoo.create()"
            )
        name = entry_name
    return load_entry(registry.weights_entry(name), **kwargs)


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
