"""A dense variational autoencoder with a prior or a fitted Gaussian-mixture latent sampler."""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

import zoo
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
        k, d = config.sampler_components, config.latent_dim
        self.register_buffer("sampler_weights", torch.full((k,), 1.0 / k))
        self.register_buffer("sampler_means", torch.zeros(k, d))
        self.register_buffer("sampler_logvars", torch.zeros(k, d))
        if config.sampler == "gmm-full":
            self.register_buffer("sampler_scale_tril", torch.eye(d).repeat(k, 1, 1))

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
        source = generator.device if generator is not None else means.device
        component = torch.multinomial(self.sampler_weights.to(source), n, replacement=True, generator=generator)
        component = component.to(means.device)  # (n,)
        if self.config.sampler == "gmm-full":
            z = means[component] + (self.sampler_scale_tril[component] @ eps.unsqueeze(2)).squeeze(2)
        else:
            z = means[component] + torch.exp(0.5 * self.sampler_logvars[component]) * eps  # (n, latent_dim)
        return self.decode(z)

    @torch.no_grad()
    def fit_sampler(self, latents: Tensor) -> None:
        """Fit the sampler's Gaussian mixture (diagonal for "gmm", full-covariance for "gmm-full") to encoded
        training latents ``(N, latent_dim)``.

        Only the ``sampler_*`` buffers change; ``sample()`` uses them when ``config.sampler`` is not "prior".
        """
        try:
            from sklearn.mixture import GaussianMixture
        except ImportError as exc:
            raise ImportError(
                "DenseVAE.fit_sampler needs scikit-learn; install it with `pip install scikit-learn` "
                "(or `pip install genzoo[eval]`)"
            ) from exc
        k, d = self.sampler_means.shape
        if latents.ndim != 2 or latents.shape[1] != d:
            raise ValueError(f"fit_sampler expects latents of shape (N, {d}), got {tuple(latents.shape)}")
        if latents.shape[0] < k:
            raise ValueError(
                f"fit_sampler needs at least sampler_components={k} latents, got {latents.shape[0]}; "
                "encode more of the training set"
            )
        if not torch.isfinite(latents).all():
            raise ValueError("fit_sampler got latents holding NaN or Inf")
        full = self.config.sampler == "gmm-full"
        gmm = GaussianMixture(n_components=k, covariance_type="full" if full else "diag", random_state=0)
        gmm.fit(latents.detach().to("cpu", torch.float64).numpy())
        self.sampler_weights.copy_(torch.from_numpy(gmm.weights_))
        self.sampler_means.copy_(torch.from_numpy(gmm.means_))
        covariances = torch.from_numpy(gmm.covariances_)  # (K, d, d) full, (K, d) diagonal
        if full:
            self.sampler_scale_tril.copy_(torch.linalg.cholesky(covariances))
            self.sampler_logvars.copy_(covariances.diagonal(dim1=1, dim2=2).log())
        else:
            self.sampler_logvars.copy_(covariances.log())
