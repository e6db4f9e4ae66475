"""A convolutional variational autoencoder with a prior or a fitted Gaussian-mixture latent sampler.

The encoder and decoder are those of ``conv-ae`` (:mod:`zoo_conv._coders`); two heads give the mean and
log-variance of ``q(z|x)``. ``fit_sampler`` fits a Gaussian mixture to the encoded training set after training
(the ELBO objective calls it when ``sampler`` is not "prior"), so that ``sample`` follows the aggregate
posterior, which gives much better samples than the prior.
"""

from __future__ import annotations

from typing import Literal, Self

import pydantic
import torch
from pydantic import Field
from torch import Tensor, nn

from zoo.sampling import fit_mixture, register_mixture, sample_mixture
from zoo_conv._coders import ConvCoderConfig, ConvDecoder, ConvEncoder, code_entry, code_head, code_map_shape
from zoo_conv._layers import randn
from zoo_conv.ae import check_input, nearest_size

# The sampler's tables are buffers, outside the parameter budget: bound the code they are sized by.
MAX_CODE = 16_384
MAX_FULL_COVARIANCE_CODE = 512


class ConvVAEConfig(ConvCoderConfig):
    latent_dim: int = Field(16, ge=1, le=1024, description="size of the code (bottleneck 'dense')")
    beta: float = Field(1.0, ge=0.0, le=1000.0, description="weight of the KL term in the ELBO")
    reconstruction: Literal["bce", "mse"] = Field("bce", description="reconstruction term of the ELBO")
    sampler: Literal["prior", "gmm", "gmm-full"] = Field(
        "gmm", description="sample() draws latents from N(0, I), or from a Gaussian mixture fitted by "
        "fit_sampler(): diagonal (gmm) or full-covariance (gmm-full) components"
    )
    sampler_components: int = Field(10, ge=1, le=64, description="mixture components of the gmm sampler")
    sampler_temperature: float = Field(
        1.0, gt=0.0, le=2.0, description="scales the random deviation of every sampled latent (below 1: samples "
        "nearer the modes, sharper but less varied)"
    )

    @pydantic.model_validator(mode="after")
    def _check_code_size(self) -> Self:
        code, limit = self.code_size(), MAX_FULL_COVARIANCE_CODE if self.sampler == "gmm-full" else MAX_CODE
        if code > limit:
            raise ValueError(f"the code has {code:,} values, above the {limit:,} the {self.sampler!r} sampler "
                             "takes; use fewer latent_channels or more stages (or the 'dense' bottleneck)")
        return self

    def parameter_count(self) -> int:
        return self.encoder_count() + 2 * self.head_count() + self.decoder_count()


class ConvVAE(nn.Module):
    """``encode_distribution``: images -> ``(mean, logvar)`` ``(N, code_size)``; ``decode``: codes -> images."""

    sampler_weights: Tensor  # (K,) mixture weights
    sampler_means: Tensor  # (K, code_size)
    sampler_logvars: Tensor  # (K, code_size) diagonal log-variances
    sampler_scale_tril: Tensor  # (K, code_size, code_size) Cholesky factors; only with sampler "gmm-full"

    def __init__(self, *, config: ConvVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ConvEncoder(config)
        self.mean = code_head(config)
        self.logvar = code_head(config)
        self.from_code = code_entry(config)
        self.decoder = ConvDecoder(config)
        self._code_shape = code_map_shape(config)
        # Always present with a fixed shape so strict loading works for either sampler; starts as the prior.
        register_mixture(self, components=config.sampler_components, dim=config.code_size(),
                         full=config.sampler == "gmm-full")

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def nearest_size(self, height: int, width: int) -> tuple[int, int]:
        return nearest_size(self.config, height, width)  # a spatial bottleneck's forward takes other sizes

    def encode_distribution(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_input(x, self.config, any_size=False)
        h = self.encoder(x)  # (N, channels[-1], H / 2^s, W / 2^s)
        return self.mean(h).flatten(1), self.logvar(h).flatten(1)  # (N, code_size) each

    def encode(self, x: Tensor) -> Tensor:
        return self.encode_distribution(x)[0]  # (N, code_size)

    def reparameterize(self, mean: Tensor, logvar: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        eps = randn(*mean.shape, device=mean.device, dtype=mean.dtype, generator=generator)
        return mean + torch.exp(0.5 * logvar) * eps  # (N, code_size)

    def decode(self, z: Tensor) -> Tensor:
        h = self.from_code(z.view(-1, *self._code_shape))  # (N, channels[-1], H / 2^s, W / 2^s)
        return self.decoder(h).sigmoid()  # (N, C, H, W) in [0, 1]

    def forward(self, x: Tensor) -> Tensor:
        if self.config.bottleneck == "spatial":  # fully convolutional: any multiple of 2^s
            check_input(x, self.config, any_size=True)
            h = self.encoder(x)
            mean = self.mean(h)  # (N, latent_channels, h, w)
            z = self.reparameterize(mean, self.logvar(h)) if self.training else mean
            return self.decoder(self.from_code(z)).sigmoid()  # (N, C, H, W)
        mean, logvar = self.encode_distribution(x)  # (N, code_size) each
        z = self.reparameterize(mean, logvar) if self.training else mean
        return self.decode(z)  # (N, C, H, W)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1], latents drawn as ``config.sampler`` says (no autograd history)."""
        means = self.sampler_means
        eps = randn(n, means.shape[1], device=means.device, dtype=means.dtype, generator=generator)
        eps = eps * self.config.sampler_temperature  # (n, code_size)
        if self.config.sampler == "prior":
            return self.decode(eps)
        z = sample_mixture(self, eps, full=self.config.sampler == "gmm-full", generator=generator)
        return self.decode(z)

    @torch.no_grad()
    def fit_sampler(self, latents: Tensor) -> None:
        """Fit the sampler's Gaussian mixture (diagonal for "gmm", full-covariance for "gmm-full") to encoded
        training latents ``(N, code_size)``; only the ``sampler_*`` buffers change."""
        fit_mixture(self, latents, full=self.config.sampler == "gmm-full")
