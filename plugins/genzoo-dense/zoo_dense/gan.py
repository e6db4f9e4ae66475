"""A dense GAN: an MLP generator (noise -> data in [0, 1]) and an MLP discriminator (data -> one logit).

The training step lives in the trainer's adversarial objective; this file only holds the networks and an
optional exponential-moving-average copy of the generator that the objective updates.
"""

from __future__ import annotations

import math
from typing import Literal, Self

import torch
from pydantic import Field
from torch import Tensor, nn

import zoo
from zoo_dense._layers import Activation, DataShape, Hidden, flatten_data, mlp, mlp_parameter_count, randn


class DenseGANConfig(zoo.ModelConfig):
    data_shape: DataShape = Field((1, 28, 28), description="(channels, height, width) of the data")
    latent_dim: int = Field(64, ge=1, le=1024, description="size of the generator's noise input")
    generator_hidden: Hidden = Field((256, 512), description="hidden widths of the generator")
    discriminator_hidden: Hidden = Field((512, 256), description="hidden widths of the discriminator")
    generator_activation: Activation = "relu"
    discriminator_activation: Activation = "leaky_relu"
    generator_batchnorm: bool = Field(False, description="BatchNorm1d after each hidden generator layer")
    discriminator_dropout: float = Field(0.0, ge=0.0, le=0.9, description="dropout after hidden layers")
    spectral_norm: bool = Field(False, description="spectral normalization on every discriminator Linear")
    loss: Literal["non-saturating", "hinge", "wasserstein-gp"] = "non-saturating"
    d_steps: int = Field(1, ge=1, le=10, description="discriminator updates per generator update")
    gp_weight: float = Field(10.0, ge=0.0, le=1000.0, description="gradient-penalty weight (wasserstein-gp)")
    ema_decay: float = Field(
        0.0, ge=0.0, lt=1.0, description="decay of the generator's moving-average copy; 0 keeps no copy"
    )
    augment_translation: float = Field(
        0.0, ge=0.0, le=0.5, description="shift the discriminator's inputs by up to this fraction (0: off)"
    )

    @property
    def features(self) -> int:
        return math.prod(self.data_shape)

    def parameter_count(self) -> int:
        generator = mlp_parameter_count(
            [self.latent_dim, *self.generator_hidden, self.features], batchnorm=self.generator_batchnorm
        )
        discriminator = mlp_parameter_count([self.features, *self.discriminator_hidden, 1])
        copies = 2 if self.ema_decay > 0 else 1
        return copies * generator + discriminator


class DenseGenerator(nn.Module):
    """Noise ``(N, latent_dim)`` -> data ``(N, C, H, W)`` in [0, 1]."""

    def __init__(
        self,
        *,
        data_shape: tuple[int, int, int],
        latent_dim: int,
        hidden: tuple[int, ...],
        activation: str,
        batchnorm: bool,
    ) -> None:
        super().__init__()
        self.data_shape = data_shape
        self.latent_dim = latent_dim
        self.net = mlp([latent_dim, *hidden, math.prod(data_shape)], activation=activation, batchnorm=batchnorm)

    def forward(self, z: Tensor) -> Tensor:
        logits = self.net(z)  # (N, C*H*W)
        return logits.sigmoid().unflatten(1, self.data_shape)  # (N, C, H, W) in [0, 1]

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples from z ~ N(0, I); keeps the graph, since the trainer backpropagates through it."""
        weight = next(self.parameters())
        z = randn(n, self.latent_dim, device=weight.device, dtype=weight.dtype, generator=generator)
        return self(z)  # (n, C, H, W)


class DenseDiscriminator(nn.Module):
    """Data ``(N, C, H, W)`` -> one real/fake logit per sample ``(N,)``."""

    def __init__(
        self,
        *,
        data_shape: tuple[int, int, int],
        hidden: tuple[int, ...],
        activation: str,
        dropout: float,
        spectral_norm: bool,
    ) -> None:
        super().__init__()
        self.data_shape = data_shape
        self.net = mlp(
            [math.prod(data_shape), *hidden, 1], activation=activation, dropout=dropout, spectral_norm=spectral_norm
        )

    def forward(self, x: Tensor) -> Tensor:
        x = flatten_data(x, self.data_shape)  # (N, C, H, W) or (N, C*H*W) -> (N, C*H*W)
        return self.net(x).squeeze(1)  # (N,)


class DenseGAN(nn.Module):
    """``.generator`` and ``.discriminator``, plus ``.generator_ema`` (or None) when ``ema_decay > 0``."""

    def __init__(self, *, config: DenseGANConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = self._new_generator()
        self.discriminator = DenseDiscriminator(
            data_shape=config.data_shape,
            hidden=config.discriminator_hidden,
            activation=config.discriminator_activation,
            dropout=config.discriminator_dropout,
            spectral_norm=config.spectral_norm,
        )
        self.generator_ema: DenseGenerator | None = None
        if config.ema_decay > 0:
            # A submodule, so it is saved with the model; the objective moves it toward the generator.
            self.generator_ema = self._new_generator()
            self.generator_ema.load_state_dict(self.generator.state_dict())
            self.generator_ema.requires_grad_(False).eval()

    def _new_generator(self) -> DenseGenerator:
        return DenseGenerator(
            data_shape=self.config.data_shape,
            latent_dim=self.config.latent_dim,
            hidden=self.config.generator_hidden,
            activation=self.config.generator_activation,
            batchnorm=self.config.generator_batchnorm,
        )

    def train(self, mode: bool = True) -> Self:
        super().train(mode)
        if self.generator_ema is not None:
            self.generator_ema.eval()  # never trained: its BatchNorm (if any) always uses running statistics
        return self

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)  # (N, latent_dim) -> (N, C, H, W)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1], from the moving-average generator when there is one.

        Without autograd history: training draws its fakes from ``generator.sample``, which keeps the graph.
        """
        source = self.generator_ema if self.generator_ema is not None else self.generator
        return source.sample(n, generator=generator)
