"""DCGAN (Radford et al. 2016): a transposed-convolution generator and a strided-convolution discriminator.

With ``stages`` = s, the generator projects the noise to a ``(g * 2^(s-1), H / 2^s, W / 2^s)`` map and doubles
its size s times with 4x4 stride-2 transposed convolutions (BatchNorm + ReLU between, a sigmoid at the end);
the discriminator halves the image s times with 4x4 stride-2 convolutions (LeakyReLU 0.2, optional BatchNorm and
spectral norm) and ends in one linear logit. H and W must therefore be multiples of 2^s. The training step is
the trainer's adversarial objective; ``generator_ema`` is the optional moving-average copy it updates.
"""

from __future__ import annotations

from typing import Literal, Self

import pydantic
import torch
from pydantic import Field
from torch import Tensor, nn

import zoo
from zoo_conv._layers import (
    LEAKY_SLOPE,
    MAX_STAGES,
    DataShape,
    GANWithEMA,
    MinibatchStd,
    check_strided,
    conv_count,
    linear_count,
    maybe_spectral,
    norm_count,
    randn,
)
from zoo_conv.cgan import ConvCGANConfig


class DCGANConfig(zoo.ModelConfig):
    data_shape: DataShape = Field((1, 28, 28), description="(channels, height, width); H and W multiples of 2^stages")
    latent_dim: int = Field(64, ge=1, le=1024, description="size of the generator's noise input")
    stages: int = Field(2, ge=1, le=MAX_STAGES, description="stride-2 stages of each network (28x28: 2, 64x64: 3-4)")
    generator_channels: int = Field(
        64, ge=1, le=1024, description="channels of the generator's last stage; each earlier stage has twice as many"
    )
    discriminator_channels: int = Field(
        64, ge=1, le=1024, description="channels of the discriminator's first stage; each later stage doubles them"
    )
    generator_batchnorm: bool = Field(True, description="BatchNorm after the projection and each hidden stage")
    discriminator_batchnorm: bool = Field(False, description="BatchNorm after each discriminator stage but the first")
    spectral_norm: bool = Field(False, description="spectral normalization on every discriminator layer")
    minibatch_std: bool = Field(
        False, description="give the discriminator's last stage the batch's standard deviation as one more channel, "
        "so that it sees a batch's variety (against mode collapse)"
    )
    loss: Literal["non-saturating", "hinge", "wasserstein-gp"] = "non-saturating"
    d_steps: int = Field(1, ge=1, le=10, description="discriminator updates per generator update")
    gp_weight: float = Field(10.0, ge=0.0, le=1000.0, description="gradient-penalty weight (wasserstein-gp only)")
    ema_decay: float = Field(
        0.0, ge=0.0, lt=1.0, description="decay of the generator's moving-average copy; 0 keeps no copy"
    )
    augment_translation: float = Field(
        0.0, ge=0.0, le=0.5, description="shift the discriminator's inputs by up to this fraction (0: off)"
    )
    temperature: float = Field(
        1.0, gt=0.0, le=1.0, description="scale of the noise that sample() draws (the truncation trick of Brock "
        "et al. 2019): below 1 trades variety for fidelity. Training always draws at 1; with clusters, only the "
        "noise within a cluster is scaled, not the clusters' frequencies"
    )
    # Self-conditioning (Liu et al. 2020), no labels needed: see zoo_conv.self_conditioned.
    clusters: int = Field(
        0, ge=0, le=1000, description="self-conditioning: group the training images into this many clusters "
        "(mini-batch k-means on the pixels) and condition both networks on the cluster (conditional BatchNorm, "
        "projection discriminator); samples draw clusters at their frequency in the data. 0: off; else >= 2"
    )
    cluster_steps: int = Field(
        1000, ge=1, le=10_000_000, description="training steps during which the clusters move (self-conditioning)"
    )
    embedding_dim: int = Field(16, ge=1, le=1024, description="size of the cluster embedding (self-conditioning)")
    diversity_weight: float = Field(
        0.0, ge=0.0, le=100.0, description="weight of the mode-seeking term within a cluster, as conv-cgan's "
        "(self-conditioning)"
    )
    classifier_weight: float = Field(
        0.0, ge=0.0, le=100.0, description="weight of the discriminator's auxiliary cluster head, as conv-cgan's "
        "(self-conditioning)"
    )

    @pydantic.model_validator(mode="after")
    def _check_shape(self) -> Self:
        check_strided(self.data_shape, self.stages)
        return self

    @pydantic.field_validator("clusters")
    @classmethod
    def _check_clusters(cls, clusters: int) -> int:
        if clusters == 1:
            raise ValueError("clusters=1: give 0 (no self-conditioning) or at least 2 clusters")
        return clusters

    @pydantic.model_validator(mode="after")
    def _check_self_conditioning(self) -> Self:
        if self.clusters:
            # The conditional networks and their objective have one fixed form; refuse what they would ignore.
            ignored = {"loss": "non-saturating", "d_steps": 1, "generator_batchnorm": True,
                       "discriminator_batchnorm": False}
            changed = [f"{name}={getattr(self, name)!r}" for name, default in ignored.items()
                       if getattr(self, name) != default]
            if changed:
                raise ValueError(f"{', '.join(changed)} cannot be combined with clusters={self.clusters}: the "
                                 "self-conditioned networks train with the non-saturating loss, one discriminator "
                                 "update per step and conditional BatchNorm in the generator only; set clusters=0 "
                                 "or leave these at their defaults")
        return self

    def conditional(self) -> ConvCGANConfig:
        """The class-conditional networks' config, with the clusters as classes (``clusters`` > 0 only)."""
        return ConvCGANConfig(
            data_shape=self.data_shape, num_classes=self.clusters, latent_dim=self.latent_dim,
            embedding_dim=self.embedding_dim, stages=self.stages, generator_channels=self.generator_channels,
            discriminator_channels=self.discriminator_channels, spectral_norm=self.spectral_norm,
            minibatch_std=self.minibatch_std, ema_decay=self.ema_decay, augment_translation=self.augment_translation,
            diversity_weight=self.diversity_weight, classifier_weight=self.classifier_weight,
        )

    def generator_widths(self) -> list[int]:
        """Channels entering each generator stage, widest first."""
        return [self.generator_channels * 2 ** (self.stages - 1 - i) for i in range(self.stages)]

    def discriminator_widths(self) -> list[int]:
        """Channels leaving each discriminator stage."""
        return [self.discriminator_channels * 2**i for i in range(self.stages)]

    def bottom(self) -> tuple[int, int]:
        """Height and width of the smallest feature map, ``(H / 2^stages, W / 2^stages)``."""
        return self.data_shape[1] >> self.stages, self.data_shape[2] >> self.stages

    def generator_count(self) -> int:
        widths, (h, w), bn = self.generator_widths(), self.bottom(), self.generator_batchnorm
        count = linear_count(self.latent_dim, widths[0] * h * w, bias=not bn) + (norm_count(widths[0]) if bn else 0)
        outs = [*widths[1:], self.data_shape[0]]
        for i, (fan_in, fan_out) in enumerate(zip(widths, outs, strict=True)):
            last = i == self.stages - 1
            count += conv_count(fan_in, fan_out, 4, bias=last or not bn)
            count += 0 if last or not bn else norm_count(fan_out)
        return count

    def discriminator_count(self) -> int:
        widths, (h, w), bn = self.discriminator_widths(), self.bottom(), self.discriminator_batchnorm
        ins = [self.data_shape[0], *widths[:-1]]
        count = linear_count((widths[-1] + self.minibatch_std) * h * w, 1)
        for i, (fan_in, fan_out) in enumerate(zip(ins, widths, strict=True)):
            normed = bn and i > 0
            count += conv_count(fan_in, fan_out, 4, bias=not normed) + (norm_count(fan_out) if normed else 0)
        return count

    def parameter_count(self) -> int:
        if self.clusters:
            return self.conditional().parameter_count()
        copies = 2 if self.ema_decay > 0 else 1
        return copies * self.generator_count() + self.discriminator_count()


class ConvGenerator(nn.Module):
    """Noise ``(N, latent_dim)`` -> images ``(N, C, H, W)`` in [0, 1]."""

    def __init__(self, *, config: DCGANConfig) -> None:
        super().__init__()
        self.data_shape = config.data_shape
        self.latent_dim = config.latent_dim
        self.temperature = config.temperature
        widths, (h, w), bn = config.generator_widths(), config.bottom(), config.generator_batchnorm
        self.start = (widths[0], h, w)
        self.project = nn.Linear(config.latent_dim, widths[0] * h * w, bias=not bn)
        self.project_norm = nn.BatchNorm2d(widths[0]) if bn else nn.Identity()
        layers: list[nn.Module] = [nn.ReLU()]
        outs = [*widths[1:], config.data_shape[0]]
        for i, (fan_in, fan_out) in enumerate(zip(widths, outs, strict=True)):
            last = i == config.stages - 1
            layers.append(nn.ConvTranspose2d(fan_in, fan_out, 4, stride=2, padding=1, bias=last or not bn))
            if not last:
                layers += [nn.BatchNorm2d(fan_out), nn.ReLU()] if bn else [nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """The map samples are drawn with (and that export traces): the noise is scaled by ``temperature``."""
        return self.synthesize(self.temperature * z)

    def synthesize(self, z: Tensor) -> Tensor:
        """Noise ``(N, latent_dim)`` -> images ``(N, C, H, W)``, unscaled (training's map)."""
        x = self.project(z).view(-1, *self.start)  # (N, g 2^(s-1), H/2^s, W/2^s)
        x = self.net(self.project_norm(x))  # (N, C, H, W), doubling the sides s times
        return x.sigmoid()  # (N, C, H, W) in [0, 1]

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` training fakes from z ~ N(0, I), at temperature 1; keeps the graph, since the trainer
        backpropagates through it."""
        return self.synthesize(self.noise(n, generator))  # (n, C, H, W)

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``(n, latent_dim)`` standard normal noise on the generator's device."""
        weight = self.project.weight
        return randn(n, self.latent_dim, device=weight.device, dtype=weight.dtype, generator=generator)


class ConvDiscriminator(nn.Module):
    """Images ``(N, C, H, W)`` -> one real/fake logit per image ``(N,)``."""

    def __init__(self, *, config: DCGANConfig) -> None:
        super().__init__()
        self.data_shape = config.data_shape
        widths, (h, w), sn = config.discriminator_widths(), config.bottom(), config.spectral_norm
        layers: list[nn.Module] = []
        ins = [config.data_shape[0], *widths[:-1]]
        for i, (fan_in, fan_out) in enumerate(zip(ins, widths, strict=True)):
            normed = config.discriminator_batchnorm and i > 0
            layers.append(maybe_spectral(nn.Conv2d(fan_in, fan_out, 4, stride=2, padding=1, bias=not normed), sn))
            if normed:
                layers.append(nn.BatchNorm2d(fan_out))
            layers.append(nn.LeakyReLU(LEAKY_SLOPE))
        if config.minibatch_std:
            layers.append(MinibatchStd())
        self.net = nn.Sequential(*layers)
        self.head = maybe_spectral(nn.Linear((widths[-1] + config.minibatch_std) * h * w, 1), sn)

    def forward(self, x: Tensor) -> Tensor:
        h = self.net(x)  # (N, d 2^(s-1) (+1 with minibatch_std), H/2^s, W/2^s)
        return self.head(h.flatten(1)).squeeze(1)  # (N,)


class DCGAN(GANWithEMA):
    """``.generator`` and ``.discriminator``, plus ``.generator_ema`` (or None) when ``ema_decay > 0``."""

    generator: ConvGenerator

    def __init__(self, *, config: DCGANConfig) -> None:
        super().__init__(config, lambda: ConvGenerator(config=config), lambda: ConvDiscriminator(config=config))

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)  # (N, latent_dim) -> (N, C, H, W)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1] at ``temperature``, from the moving-average generator when there
        is one.

        Without autograd history: training draws its fakes from ``generator.sample``, which keeps the graph.
        """
        source: ConvGenerator = self.sampling_generator  # type: ignore[assignment]
        return source(source.noise(n, generator))  # at ``temperature``
