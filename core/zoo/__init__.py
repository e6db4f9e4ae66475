"""zoo: a plugin-based model zoo for PyTorch: autoencoders, GANs and any family a plugin brings.

>>> import zoo
>>> zoo.list_models()                      # every installed architecture
>>> model = zoo.create("dense-ae", latent_dim=32)
>>> zoo.save(model, "runs/ae")
>>> zoo.load("runs/ae")
>>> zoo.push("runs/ae", "alice/dense-ae")             # to the Hugging Face Hub
>>> zoo.load("hf-hub:alice/dense-ae")
"""

from zoo import errors
from zoo._api import create, evaluate, info, list_models, load, save
from zoo._config import ModelConfig
from zoo._protocols import (
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
    Generator,
    LatentSampler,
    VariationalAutoencoder,
)
from zoo._publish import push
from zoo._registry import register_plugin, reload_registry, unregister_plugin
from zoo._resolve import pull
from zoo._specs import Data, DatasetSpec, ModelSpec
from zoo._weights import WeightsEntry
from zoo.hookspecs import hookimpl

__version__ = "0.1.0"

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
    "GAN",
    "Generator",
    "LatentSampler",
    "ModelConfig",
    "ModelSpec",
    "VariationalAutoencoder",
    "WeightsEntry",
    "__version__",
    "create",
    "errors",
    "evaluate",
    "hookimpl",
    "info",
    "list_models",
    "load",
    "pull",
    "push",
    "register_plugin",
    "reload_registry",
    "save",
    "unregister_plugin",
]
