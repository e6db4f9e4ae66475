"""Probe models: one tiny model per family, for the core tests that need *some* model rather than a plugin's.

The core knows no concrete model, so its tests must not borrow the first-party plugin's (genzoo-dense may be
blocked or missing). These probes are registered by the tests themselves, through ``zoo.register_plugin``,
with the ``probe_models`` fixture of ``tests/conftest.py``; they are built from the three-field contract
``zoo.ModelSpec(name, config, build)`` like any stranger's plugin, and name no kind; only the GAN names an
objective, to pass its loss, discriminator steps, moving-average decay and translation augmentation on
(``loss``, ``d_steps``, ``ema_decay`` and ``augment_translation``, with ``batchnorm`` and ``dropout``: the GAN
options the trainer's tests exercise).

The autoencoder is the shipped contract suite's probe (``zoo.testing.test_contract.ProbeAE``) at MNIST's shape;
the denoiser, variational autoencoder, GAN and classifier reuse its config and layer layout.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

import zoo
from zoo.testing.test_contract import ProbeAE, ProbeConfig
from zoo.train import Adversarial

PLUGIN = "zoo-test-probes"
AE, DAE, VAE, GAN, CLASSIFIER = "probe-ae", "probe-dae", "probe-vae", "probe-gan", "probe-classifier"
NAMES = (AE, DAE, VAE, GAN, CLASSIFIER)
# Python code that registers the probes in a child process: zoo.register_plugin holds for one process only.
REGISTER_IN_CHILD = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import zoo, _probe; "
                     "zoo.register_plugin(_probe.ProbePlugin(), name=_probe.PLUGIN)")


def zoo_command(*args: str) -> list[str]:
    """The argv of ``python -m zoo ARGS`` for a child process, with the probe models registered in it."""
    code = f"{REGISTER_IN_CHILD}; from zoo.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def _widths(sizes: list[int]) -> int:
    """Parameters of a chain of Linear layers through ``sizes``."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))


class ProbeAEConfig(ProbeConfig):
    """The contract probe's config at the shape of the core datasets' default, mnist-5k."""

    data_shape: tuple[int, int, int] = (1, 28, 28)


class ProbeDAEConfig(ProbeAEConfig):
    noise_std: float = Field(0.5, gt=0.0, le=2.0, description="std of the Gaussian noise corrupt() adds")


class ProbeDAE(ProbeAE):
    """The probe autoencoder, trained to undo Gaussian noise (zoo.Denoiser)."""

    config: ProbeDAEConfig

    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(x.shape, generator=generator).to(x)  # (N, C, H, W)
        return (x + self.config.noise_std * noise).clamp(0.0, 1.0)


class ProbeVAEConfig(ProbeAEConfig):
    def parameter_count(self) -> int:
        features = math.prod(self.data_shape)
        return _widths([features, *self.hidden, 2 * self.latent_dim]) + _widths([self.latent_dim, features])


class ProbeVAE(nn.Module):
    """A diagonal-Gaussian encoder and a sigmoid decoder (zoo.VariationalAutoencoder, zoo.Generator)."""

    def __init__(self, config: ProbeVAEConfig) -> None:
        super().__init__()
        self.config = config
        widths = [math.prod(config.data_shape), *config.hidden, 2 * config.latent_dim]
        self.encoder = nn.Sequential(*(nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False)))
        self.decoder = nn.Linear(config.latent_dim, math.prod(config.data_shape))

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def encode_distribution(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)  # (N, latent_dim) each
        return mean, logvar

    def reparameterize(self, mean: Tensor, logvar: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(mean.shape, generator=generator).to(mean)
        return mean + torch.exp(0.5 * logvar) * eps  # (N, latent_dim)

    def encode(self, x: Tensor) -> Tensor:
        return self.encode_distribution(x)[0]  # (N, latent_dim)

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.decoder(z)).unflatten(1, self.config.data_shape)  # (N, C, H, W)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        weight = self.decoder.weight
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(weight)  # (n, latent_dim)
        with torch.set_grad_enabled(self.training and torch.is_grad_enabled()):  # eval: plain tensors
            return self.decode(z)  # (n, C, H, W)


class ProbeGANConfig(ProbeAEConfig):
    batchnorm: bool = Field(False, description="BatchNorm1d after each hidden generator layer")
    ema_decay: float = Field(0.0, ge=0.0, lt=1.0, description="keep a moving-average generator copy (0: none)")
    augment_translation: float = Field(0.0, ge=0.0, le=0.5, description="shift what the discriminator sees by up "
                                       "to this fraction of the image (zoo.train.Adversarial's translate)")
    dropout: float = Field(0.0, ge=0.0, le=0.9, description="dropout after each hidden discriminator layer")
    loss: Literal["non-saturating", "hinge", "wasserstein-gp"] = Field("non-saturating",
                                                                       description="zoo.train.Adversarial's loss")
    d_steps: int = Field(1, ge=1, le=10, description="discriminator updates per generator update")

    def parameter_count(self) -> int:
        features = math.prod(self.data_shape)
        generator = _widths([self.latent_dim, *self.hidden, features]) + (2 * sum(self.hidden) if self.batchnorm else 0)
        return (2 if self.ema_decay > 0 else 1) * generator + _widths([features, *self.hidden, 1])


class ProbeGenerator(nn.Module):
    """Noise ``(N, latent_dim)`` -> data ``(N, C, H, W)`` in [0, 1]."""

    def __init__(self, config: ProbeGANConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.latent_dim, *config.hidden, math.prod(config.data_shape)]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
            layers.append(nn.Linear(a, b))
            if config.batchnorm and i < len(widths) - 2:
                layers.append(nn.BatchNorm1d(b))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.net(z)).unflatten(1, self.config.data_shape)  # (N, C, H, W)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        weight = self.net[0].weight
        return self(torch.randn(n, self.config.latent_dim, generator=generator).to(weight))


class ProbeGAN(nn.Module):
    """``.generator`` that samples and ``.discriminator`` that gives one logit per sample (zoo.GAN), and
    ``.generator_ema`` (zoo.EMAGenerator), a moving-average copy of the generator when ``ema_decay > 0``."""

    def __init__(self, config: ProbeGANConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = ProbeGenerator(config)
        self.generator_ema: ProbeGenerator | None = None
        if config.ema_decay > 0:
            self.generator_ema = ProbeGenerator(config).requires_grad_(False)
            self.generator_ema.load_state_dict(self.generator.state_dict())
        widths = [math.prod(config.data_shape), *config.hidden, 1]
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
            layers.append(nn.Linear(a, b))
            if config.dropout > 0 and i < len(widths) - 2:
                layers.append(nn.Dropout(config.dropout))
        self.discriminator = nn.Sequential(*layers, nn.Flatten(0))  # (N, C, H, W) -> (N,)

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape


class ProbeClassifierConfig(ProbeAEConfig):
    num_classes: int = Field(10, ge=2, le=1000)

    def parameter_count(self) -> int:
        return _widths([math.prod(self.data_shape), *self.hidden, self.latent_dim]) + _widths(
            [self.latent_dim, self.num_classes]
        )


class ProbeClassifier(nn.Module):
    """Features ``(N, latent_dim)`` and class logits ``(N, num_classes)`` (zoo.Classifier)."""

    def __init__(self, config: ProbeClassifierConfig) -> None:
        super().__init__()
        self.config = config
        widths = [math.prod(config.data_shape), *config.hidden, config.latent_dim]
        self.body = nn.Sequential(*(nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False)))
        self.head = nn.Linear(config.latent_dim, config.num_classes)

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def features(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x.flatten(1)))  # (N, latent_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))  # (N, num_classes)


def _gan_objective(model: ProbeGAN) -> Adversarial:
    """The adversarial objective, told the config's loss, steps, moving-average decay and translation (it cannot
    derive them)."""
    config = model.config
    return Adversarial(config.loss, d_steps=config.d_steps, ema_decay=config.ema_decay,
                       translate=config.augment_translation)


class ProbePlugin:
    """The test suite's own plugin: the three-field spec of each probe, no kind, no objective; and, once the
    ``probe_pretrained`` fixture has trained them, pretrained entries ``probe-*.probe`` of some probes."""

    def __init__(self) -> None:
        self.entries: list[zoo.WeightsEntry] = []

    @zoo.hookimpl
    def zoo_weights(self) -> list[zoo.WeightsEntry]:
        return list(self.entries)

    @zoo.hookimpl
    def zoo_models(self) -> list[zoo.ModelSpec]:
        return [
            zoo.ModelSpec(name=AE, config=ProbeAEConfig, build=ProbeAE),
            zoo.ModelSpec(name=DAE, config=ProbeDAEConfig, build=ProbeDAE),
            zoo.ModelSpec(name=VAE, config=ProbeVAEConfig, build=ProbeVAE),
            zoo.ModelSpec(name=GAN, config=ProbeGANConfig, build=ProbeGAN, objective=_gan_objective),
            zoo.ModelSpec(name=CLASSIFIER, config=ProbeClassifierConfig, build=ProbeClassifier),
        ]
