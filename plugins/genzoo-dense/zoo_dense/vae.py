"""A dense variational autoencoder with a prior or a fitted Gaussian-mixture latent sampler."""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

import zoo
from zoo.sampling import fit_mixture, register_mixture, sample_mixture
from zoo_dense._layers import (
    Activation,
    DataShape,
    Hidden,
    flatten_data,
    like_input,
    mlp,
    mlp_parameter_count,
    randn,
)


class DenseVAEConfig(zoo.ModelConfig):
    data_shape: DataShape = Field((1, 28, 28), description="(channels, height, width) of the data")
    encoder_hidden: Hidden = Field((512, 256), description="hidden widths before the mean and logvar heads")
    latent_dim: int = Field(16, ge=1, le=1024)
    decoder_hidden: Hidden = Field((256, 512), description="hidden widths between the latent and the output")
    activation: Activation = Field("relu", description="activation of the hidden layers")
    beta: float = Field(1.0, ge=0.0, le=1000.0, description="weight of the KL term in the ELBO")
    reconstruction: Literal["bce", "mse"] = Field("bce", description="reconstruction term of the ELBO")
    sampler: Literal["prior", "gmm", "gmm-full"] = Field(
        "prior", description="sample() draws latents from N(0, I), or from a Gaussian mixture fitted by "
        "fit_sampler(): diagonal (gmm) or full-covariance (gmm-full) components"
    )
    sampler_components: int = Field(10, ge=1, le=64, description="mixture components of the gmm sampler")
    sampler_temperature: float = Field(
        1.0, gt=0.0, le=2.0, description="scales the random deviation of every sampled latent (below 1: digits "
        "nearer the modes, sharper but less varied)"
    )

    @property
    def features(self) -> int:
        return math.prod(self.data_shape)

    def parameter_count(self) -> int:
        trunk = [self.features, *self.encoder_hidden]
        heads = 2 * (trunk[-1] * self.latent_dim + self.latent_dim)
        decoder = [self.latent_dim, *self.decoder_hidden, self.features]
        return mlp_parameter_count(trunk) + heads + mlp_parameter_count(decoder)


class DenseVAE(nn.Module):
    """``encode_distribution``: data -> ``(mean, logvar)``; ``decode``: latents -> data in [0, 1]."""

    sampler_weights: Tensor  # (K,) mixture weights
    sampler_means: Tensor  # (K, latent_dim)
    sampler_logvars: Tensor  # (K, latent_dim) diagonal log-variances
    sampler_scale_tril: Tensor  # (K, latent_dim, latent_dim) Cholesky factors; only with sampler "gmm-full"

    def __init__(self, *, config: DenseVAEConfig) -> None:
        super().__init__()
        self.config = config
        trunk = [config.features, *config.encoder_hidden]
        # Activation after every trunk layer: the heads read features, not logits.
        self.encoder = mlp(trunk, activation=config.activation, final_activation=config.activation)
        self.mean = nn.Linear(trunk[-1], config.latent_dim)
        self.logvar = nn.Linear(trunk[-1], config.latent_dim)
        self.decoder = mlp([config.latent_dim, *config.decoder_hidden, config.features], activation=config.activation)
        # Always present with a fixed shape so strict loading works for either sampler; starts as the prior.
        register_mixture(self, components=config.sampler_components, dim=config.latent_dim,
                         full=config.sampler == "gmm-full")

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def encode_distribution(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(flatten_data(x, self.config.data_shape))  # (N, hidden)
        return self.mean(h), self.logvar(h)  # (N, latent_dim) each

    def encode(self, x: Tensor) -> Tensor:
        return self.encode_distribution(x)[0]  # (N, latent_dim)

    def reparameterize(self, mean: Tensor, logvar: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        eps = randn(*mean.shape, device=mean.device, dtype=mean.dtype, generator=generator)
        return mean + torch.exp(0.5 * logvar) * eps  # (N, latent_dim)

    def decode(self, z: Tensor) -> Tensor:
        logits = self.decoder(z)  # (N, C*H*W)
        return logits.sigmoid().unflatten(1, self.config.data_shape)  # (N, C, H, W) in [0, 1]

    def forward(self, x: Tensor) -> Tensor:
        mean, logvar = self.encode_distribution(x)  # (N, latent_dim) each
        z = self.reparameterize(mean, logvar) if self.training else mean
        return like_input(self.decode(z), x)  # (N, C, H, W), or (N, C*H*W) for flat x

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1], latents drawn as ``config.sampler`` says (no autograd history)."""
        means = self.sampler_means
        eps = randn(n, self.config.latent_dim, device=means.device, dtype=means.dtype, generator=generator)
        eps = eps * self.config.sampler_temperature  # (n, latent_dim)
        if self.config.sampler == "prior":
            return self.decode(eps)
        z = sample_mixture(self, eps, full=self.config.sampler == "gmm-full", generator=generator)
        return self.decode(z)

    @torch.no_grad()
    def fit_sampler(self, latents: Tensor) -> None:
        """Fit the sampler's Gaussian mixture (diagonal for "gmm", full-covariance for "gmm-full") to encoded
        training latents ``(N, latent_dim)``.

        Only the ``sampler_*`` buffers change; ``sample()`` uses them when ``config.sampler`` is not "prior".
        """
        fit_mixture(self, latents, full=self.config.sampler == "gmm-full")
