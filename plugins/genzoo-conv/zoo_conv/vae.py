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
        k, d = config.sampler_components, config.code_size()
        self.register_buffer("sampler_weights", torch.full((k,), 1.0 / k))
        self.register_buffer("sampler_means", torch.zeros(k, d))
        self.register_buffer("sampler_logvars", torch.zeros(k, d))
        if config.sampler == "gmm-full":
            self.register_buffer("sampler_scale_tril", torch.eye(d).repeat(k, 1, 1))

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
        source = generator.device if generator is not None else means.device
        component = torch.multinomial(self.sampler_weights.to(source), n, replacement=True, generator=generator)
        component = component.to(means.device)  # (n,)
        if self.config.sampler == "gmm-full":
            z = means[component] + (self.sampler_scale_tril[component] @ eps.unsqueeze(2)).squeeze(2)
        else:
            z = means[component] + torch.exp(0.5 * self.sampler_logvars[component]) * eps  # (n, code_size)
        return self.decode(z)

    @torch.no_grad()
    def fit_sampler(self, latents: Tensor) -> None:
        """Fit the sampler's Gaussian mixture (diagonal for "gmm", full-covariance for "gmm-full") to encoded
        training latents ``(N, code_size)``; only the ``sampler_*`` buffers change."""
        try:
            from sklearn.mixture import GaussianMixture
        except ImportError as exc:
            raise ImportError("ConvVAE.fit_sampler needs scikit-learn; install it with `pip install scikit-learn` "
                              "(or `pip install genzoo[eval]`)") from exc
        k, d = self.sampler_means.shape
        if latents.ndim != 2 or latents.shape[1] != d:
            raise ValueError(f"fit_sampler expects latents of shape (N, {d}), got {tuple(latents.shape)}")
        if latents.shape[0] < k:
            raise ValueError(f"fit_sampler needs at least sampler_components={k} latents, got {latents.shape[0]}; "
                             "encode more of the training set")
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
