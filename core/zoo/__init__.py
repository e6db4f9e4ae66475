"""zoo: a plugin-based model zoo for PyTorch: autoencoders, GANs and any family a plugin brings.

>>> import zoo
>>> zoo.list_models()                      # every installed architecture
>>> model = zoo.create("dense-ae", latent_dim=32)
>>> zoo.save(model, "runs/ae")
>>> zoo.load("runs/ae")
>>> zoo.push("runs/ae", "alice/dense-ae")             # to the Hugging Face Hub
>>> zoo.load("hf-hub:alice/dense-ae")

Every name below is imported on first use (PEP 562, as huggingface_hub does): ``import zoo`` and ``import
zoo.errors`` load no torch, so ``zoo --help`` starts fast. ``_SUBMOD_ATTRS`` maps each defining module to the
names it provides; the ``TYPE_CHECKING`` block lets type checkers and editors see them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zoo._version import __version__

_SUBMOD_ATTRS: dict[str, list[str]] = {
    "zoo._api": ["create", "evaluate", "info", "list_models", "load", "save"],
    "zoo._config": ["ModelConfig"],
    "zoo._entries": ["WeightsEntry"],
    "zoo._registry": ["entries_from_folder", "register_plugin", "reload_registry", "unregister_plugin"],
    "zoo._resolve": ["pull"],
    "zoo._specs": ["Data", "DatasetSpec", "ModelSpec"],
    "zoo.export": ["export_onnx"],
    "zoo.hookspecs": ["hookimpl"],
    "zoo.hub": ["PushResult", "push"],
    "zoo.protocols": [
        "GAN",
        "Autoencoder",
        "Classifier",
        "ConditionalGenerator",
        "DataShaped",
        "Decoder",
        "Denoiser",
        "Discriminator",
        "EMAGenerator",
        "Encoder",
        "FeatureExtractor",
        "FlexibleSize",
        "Generator",
        "LatentSampler",
        "VariationalAutoencoder",
    ],
}
# Submodules reachable as attributes (``zoo.errors.ZooError``, ``zoo.train.Callback`` after a bare ``import zoo``);
# the first three are also in __all__.
_SUBMODULES = ("errors", "hookspecs", "protocols", "data", "eval", "export", "hub", "sampling", "testing", "train")
_ATTR_TO_MODULE = {name: module for module, names in _SUBMOD_ATTRS.items() for name in names}

__all__ = [
    "Autoencoder",
    "Classifier",
    "ConditionalGenerator",
    "Data",
    "DataShaped",
    "DatasetSpec",
    "Decoder",
    "Denoiser",
    "Discriminator",
    "EMAGenerator",
    "Encoder",
    "FeatureExtractor",
    "FlexibleSize",
    "GAN",
    "Generator",
    "LatentSampler",
    "ModelConfig",
    "ModelSpec",
    "PushResult",
    "VariationalAutoencoder",
    "WeightsEntry",
    "__version__",
    "create",
    "entries_from_folder",
    "errors",
    "evaluate",
    "export_onnx",
    "hookimpl",
    "hookspecs",
    "info",
    "list_models",
    "load",
    "protocols",
    "pull",
    "push",
    "register_plugin",
    "reload_registry",
    "save",
    "unregister_plugin",
]


def __getattr__(name: str) -> Any:
    if name in _ATTR_TO_MODULE:
        value = getattr(importlib.import_module(_ATTR_TO_MODULE[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"zoo.{name}")
    else:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what the names above are, for mypy and editors; never run
    from zoo import errors, hookspecs, protocols
    from zoo._api import create, evaluate, info, list_models, load, save
    from zoo._config import ModelConfig
    from zoo._entries import WeightsEntry
    from zoo._registry import entries_from_folder, register_plugin, reload_registry, unregister_plugin
    from zoo._resolve import pull
    from zoo._specs import Data, DatasetSpec, ModelSpec
    from zoo.export import export_onnx
    from zoo.hookspecs import hookimpl
    from zoo.hub import PushResult, push
    from zoo.protocols import (
        GAN,
        Autoencoder,
        Classifier,
        ConditionalGenerator,
        DataShaped,
        Decoder,
        Denoiser,
        Discriminator,
        EMAGenerator,
        Encoder,
        FeatureExtractor,
        FlexibleSize,
        Generator,
        LatentSampler,
        VariationalAutoencoder,
    )
