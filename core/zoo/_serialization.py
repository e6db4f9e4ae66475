"""Saving and loading a model as ``config.json`` + ``model.safetensors`` (never pickle)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from zoo._config import ModelConfig, validate_config
from zoo._files import atomic_destination, atomic_write_bytes
from zoo._registry import Registry, get_registry
from zoo.errors import (
    ConfigError,
    LoadError,
    MissingArchitectureError,
    UnknownModelError,
    UnsafeWeightsError,
    WeightsMismatchError,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PICKLE_NAMES = ("pytorch_model.bin", "model.pt", "model.pth", "model.ckpt", "pytorch_model.pt")
# config.json is small; refusing huge files keeps a hostile one from exhausting memory while parsing.
MAX_CONFIG_BYTES = 1_000_000


def architecture_of(model: nn.Module) -> str:
    name = getattr(model, "architecture", None)
    if not isinstance(name, str):
        raise ConfigError(
            f"{type(model).__name__} has no `architecture` attribute; build models with zoo.create(...) or "
            "zoo.load(...) so zoo knows which registered architecture they are"
        )
    return name


def config_document(model: nn.Module, registry: Registry | None = None) -> dict[str, Any]:
    """The ``config.json`` content describing ``model``."""
    registry = registry or get_registry()
    architecture = architecture_of(model)
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"model {architecture!r} has no validated `.config`; build it with zoo.create()")
    provider = registry.provider("model", architecture)
    return {
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "provider": {"distribution": provider.distribution, "version": provider.version},
        "config": config.model_dump(mode="json"),
    }


def save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Atomically write a safetensors file."""
    with atomic_destination(path) as temporary:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, temporary, metadata=metadata)


def save(model: nn.Module, directory: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` and ``model.safetensors`` for ``model`` into ``directory``."""
    directory = Path(directory)
    document = config_document(model)
    state = {k: v.clone() if _shares_storage(v) else v for k, v in model.state_dict().items()}
    save_tensors(state, directory / WEIGHTS_NAME, metadata={"format": "pt"})
    atomic_write_bytes(directory / CONFIG_NAME, (json.dumps(document, indent=2) + "\n").encode())
    logger.info("saved %s to %s", document["architecture"], directory)
    return directory


def _shares_storage(tensor: torch.Tensor) -> bool:
    # safetensors refuses tensors that alias another; views are rare here, copy them rather than fail.
    return tensor.untyped_storage().nbytes() != tensor.numel() * tensor.element_size()


def read_config_document(path: Path) -> dict[str, Any]:
    """Read and check the envelope of a ``config.json`` (not yet the model config itself)."""
    if not path.is_file():
        raise LoadError(f"{path} does not exist; a saved model directory holds {CONFIG_NAME} and {WEIGHTS_NAME}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path} is {path.stat().st_size:,} bytes, larger than any zoo config; refusing it")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); re-save the model with zoo.save()") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a JSON object, found {type(document).__name__}")
    allowed = {"format_version", "architecture", "provider", "config"}
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise ConfigError(f"{path} has unknown keys {unknown}; allowed: {sorted(allowed)}")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise ConfigError(
            f"{path} has format_version {version!r}; this zoo reads version {FORMAT_VERSION}. "
            "Upgrade zoo or re-save the model"
        )
    if not isinstance(document.get("architecture"), str) or not isinstance(document.get("config"), dict):
        raise ConfigError(f"{path} must name an 'architecture' (string) and hold a 'config' (object)")
    provider = document.get("provider", {})
    if not isinstance(provider, dict) or not all(isinstance(v, str) for v in provider.values()):
        raise ConfigError(f"{path}: 'provider' must be an object of strings")
    return document


def build_from_document(document: dict[str, Any], *, where: str, registry: Registry | None = None) -> nn.Module:
    """Validate the config in ``document`` and build the (untrained) model it describes."""
    registry = registry or get_registry()
    architecture = document["architecture"]
    try:
        spec = registry.model(architecture)
    except UnknownModelError:
        provider = document.get("provider", {})
        dist = provider.get("distribution", "the plugin that provides it")
        version = provider.get("version")
        pin = f"=={version}" if version and dist != "the plugin that provides it" else ""
        raise MissingArchitectureError(
            f"{where} needs architecture {architecture!r}, which no installed plugin provides; "
            f"install it with `pip install {dist}{pin}`"
        ) from None
    # Validate in JSON mode, as the document came from JSON: strict mode takes arrays for tuple fields only there.
    config = validate_config(spec.config, json.dumps(document["config"]), where=where)
    return create_from_config(spec.name, config, registry=registry)


def create_from_config(name: str, config: ModelConfig, *, registry: Registry | None = None) -> nn.Module:
    registry = registry or get_registry()
    spec = registry.model(name)
    model = spec.build(config)
    # The registry, not the plugin, stamps identity, so every model zoo hands out can be saved.
    setattr(model, "architecture", spec.name)  # noqa: B010 (nn.Module's __setattr__ is typed for tensors)
    if getattr(model, "config", None) is not config:
        setattr(model, "config", config)  # noqa: B010
    return model


def require_weights_file(path: Path) -> None:
    """Raise UnsafeWeightsError (pickle weights only) or LoadError unless the safetensors file ``path`` exists."""
    if not path.is_file():
        found = [p.name for p in path.parent.iterdir()] if path.parent.is_dir() else []
        pickles = [n for n in found if n in PICKLE_NAMES]
        if pickles:
            raise UnsafeWeightsError(
                f"{path.parent} holds only pickle weights ({', '.join(pickles)}); zoo never loads pickle. "
                f"Convert them to {WEIGHTS_NAME} with safetensors in a trusted environment"
            )
        raise LoadError(f"{path.parent} has no {WEIGHTS_NAME} (found: {', '.join(sorted(found)) or 'nothing'})")


def load_weights(model: nn.Module, path: Path) -> None:
    """Strictly load a safetensors file into ``model``: every tensor present, expected and of the right shape."""
    require_weights_file(path)
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoadError(f"{path} is corrupt or truncated ({exc}); re-download or re-save it") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(
        f"{k}: file {tuple(tensors[k].shape)} {tensors[k].dtype}, model {tuple(v.shape)} {v.dtype}"
        for k, v in expected.items()
        if k in tensors and (tensors[k].shape != v.shape or tensors[k].dtype != v.dtype)
    )
    if missing or unexpected or wrong:
        parts = [f"missing: {missing}"] if missing else []
        parts += [f"unexpected: {unexpected}"] if unexpected else []
        parts += [f"wrong shape or dtype: {wrong}"] if wrong else []
        raise WeightsMismatchError(
            f"{path} does not match the model its config describes ({'; '.join(parts)}); the weights and "
            "config.json must come from the same zoo.save()"
        )
    model.load_state_dict(tensors, strict=True)


def load_directory(directory: str | os.PathLike[str], *, registry: Registry | None = None) -> nn.Module:
    """Load a model saved by :func:`save` (eval mode)."""
    directory = Path(directory)
    # Weights first: a directory of pickle weights (no config.json either) should say so, not "no config".
    require_weights_file(directory / WEIGHTS_NAME)
    document = read_config_document(directory / CONFIG_NAME)
    model = build_from_document(document, where=str(directory / CONFIG_NAME), registry=registry)
    load_weights(model, directory / WEIGHTS_NAME)
    return model.eval()
