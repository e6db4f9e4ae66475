"""A class-conditional DCGAN: conditional BatchNorm in the generator, a projection discriminator.

The generator is the DCGAN generator whose noise is joined by a learned class embedding and whose BatchNorm
layers take a per-class scale and shift (conditional BatchNorm, de Vries et al. 2017). The discriminator is the
DCGAN discriminator whose logit adds a projection term (Miyato & Koyama 2018): ``logit = w . h(x) +
embed(y) . h(x)``, so it scores whether an image fits its label; an optional auxiliary class head (AC-GAN)
sharpens the labels. Training uses :class:`zoo_conv._train.ConditionalAdversarial` (labelled data needed).

``sample(n, labels=...)`` draws images of the given classes (uniformly random classes when ``labels`` is None),
from the moving-average generator when there is one, without autograd history.
"""

from __future__ import annotations

from typing import Self

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
    randint,
    randn,
)

Labels = Tensor | int | None


class ConvCGANConfig(zoo.ModelConfig):
    data_shape: DataShape = Field((1, 28, 28), description="(channels, height, width); H and W multiples of 2^stages")
    num_classes: int = Field(10, ge=2, le=1000, description="number of classes; labels are 0 .. num_classes-1")
    latent_dim: int = Field(64, ge=1, le=1024, description="size of the generator's noise input")
    embedding_dim: int = Field(16, ge=1, le=1024, description="size of the class embedding joined to the noise")
    stages: int = Field(2, ge=1, le=MAX_STAGES, description="stride-2 stages of each network (28x28: 2, 64x64: 3-4)")
    generator_channels: int = Field(
        64, ge=1, le=1024, description="channels of the generator's last stage; each earlier stage has twice as many"
    )
    discriminator_channels: int = Field(
        64, ge=1, le=1024, description="channels of the discriminator's first stage; each later stage doubles them"
    )
    spectral_norm: bool = Field(True, description="spectral normalization on every discriminator layer")
    minibatch_std: bool = Field(
        False, description="give the discriminator's last stage the batch's standard deviation as one more channel, "
        "so that it sees a batch's variety (against mode collapse)"
    )
    ema_decay: float = Field(
        0.999, ge=0.0, lt=1.0, description="decay of the generator's moving-average copy; 0 keeps no copy"
    )
    # Off by default: with it, conv-cgan.mnist5k's recipe measured 4.65x the floor FD instead of 1.54x.
    augment_translation: float = Field(
        0.0, ge=0.0, le=0.5, description="shift the discriminator's inputs by up to this fraction (0: off)"
    )
    # On by default: without it the generator collapses within each class (15.5x the floor FD, recall 0.007).
    diversity_weight: float = Field(
        0.1, ge=0.0, le=100.0, description="weight of the mode-seeking term (Mao et al. 2019): pairs of fakes of one "
        "label are pushed apart in proportion to how far apart their noise is, against a generator that ignores "
        "its noise (0: off)"
    )
    classifier_weight: float = Field(
        1.0, ge=0.0, le=100.0, description="weight of the auxiliary classification loss: the discriminator's class "
        "head learns the labels of real images, the generator to have its fakes read as their labels (0: no head)"
    )

    @pydantic.model_validator(mode="after")
    def _check_shape(self) -> Self:
        check_strided(self.data_shape, self.stages)
        return self

    def generator_widths(self) -> list[int]:
        return [self.generator_channels * 2 ** (self.stages - 1 - i) for i in range(self.stages)]

    def discriminator_widths(self) -> list[int]:
        return [self.discriminator_channels * 2**i for i in range(self.stages)]

    def bottom(self) -> tuple[int, int]:
        return self.data_shape[1] >> self.stages, self.data_shape[2] >> self.stages

    def features(self) -> int:
        """Size of the discriminator's flattened last feature map, what its heads read."""
        h, w = self.bottom()
        return (self.discriminator_widths()[-1] + self.minibatch_std) * h * w

    def generator_count(self) -> int:
        widths, (h, w), k = self.generator_widths(), self.bottom(), self.num_classes
        count = k * self.embedding_dim + linear_count(self.latent_dim + self.embedding_dim, widths[0] * h * w,
                                                      bias=False)
        count += k * 2 * widths[0]  # the projection's conditional BatchNorm
        outs = [*widths[1:], self.data_shape[0]]
        for i, (fan_in, fan_out) in enumerate(zip(widths, outs, strict=True)):
            last = i == self.stages - 1
            count += conv_count(fan_in, fan_out, 4, bias=last) + (0 if last else k * 2 * fan_out)
        return count

    def discriminator_count(self) -> int:
        widths = self.discriminator_widths()
        ins = [self.data_shape[0], *widths[:-1]]
        count = sum(conv_count(a, b, 4) for a, b in zip(ins, widths, strict=True))
        features = self.features()
        count += linear_count(features, 1) + self.num_classes * features
        if self.classifier_weight > 0:
            count += linear_count(features, self.num_classes)
        return count

    def parameter_count(self) -> int:
        copies = 2 if self.ema_decay > 0 else 1
        return copies * self.generator_count() + self.discriminator_count()


def _check_labels(labels: Labels, n: int, num_classes: int, device: torch.device,
                  generator: torch.Generator | None) -> Tensor:
    """``(n,)`` int64 labels on ``device``: drawn uniformly when None, repeated when an int, else checked."""
    if labels is None:
        return randint(num_classes, n, device=device, generator=generator)
    if isinstance(labels, int) and not isinstance(labels, bool):
        labels = torch.full((n,), labels, dtype=torch.long)
    if not isinstance(labels, Tensor) or labels.shape != (n,) or labels.dtype.is_floating_point:
        raise ValueError(f"labels must be None, an int or an integer tensor of shape ({n},); got {labels!r:.60}")
    if n and not (0 <= int(labels.min()) and int(labels.max()) < num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}; got {int(labels.min())}..{int(labels.max())}")
    return labels.to(device=device, dtype=torch.long)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine map, followed by a per-class scale and shift: ``(N, C, H, W)``, ``(N,)``."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.affine = nn.Embedding(num_classes, 2 * channels)
        with torch.no_grad():  # start as the identity map: scale 1, shift 0
            self.affine.weight[:, :channels].fill_(1.0)
            self.affine.weight[:, channels:].zero_()

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        scale, shift = self.affine(labels).unsqueeze(2).unsqueeze(3).chunk(2, dim=1)  # (N, C, 1, 1) each
        return self.norm(x) * scale + shift  # (N, C, H, W)


class ConditionalConvGenerator(nn.Module):
    """Noise ``(N, latent_dim)`` and labels ``(N,)`` -> images ``(N, C, H, W)`` in [0, 1]."""

    def __init__(self, *, config: ConvCGANConfig) -> None:
        super().__init__()
        self.data_shape = config.data_shape
        self.latent_dim = config.latent_dim
        widths, (h, w), k = config.generator_widths(), config.bottom(), config.num_classes
        self.start = (widths[0], h, w)
        self.embed = nn.Embedding(k, config.embedding_dim)
        self.project = nn.Linear(config.latent_dim + config.embedding_dim, widths[0] * h * w, bias=False)
        self.project_norm = ConditionalBatchNorm2d(widths[0], k)
        outs = [*widths[1:], config.data_shape[0]]
        self.convs = nn.ModuleList(
            nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=i == config.stages - 1)
            for i, (a, b) in enumerate(zip(widths, outs, strict=True))
        )
        self.norms = nn.ModuleList(ConditionalBatchNorm2d(b, k) for b in outs[:-1])
        self.act = nn.ReLU()

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        x = self.project(torch.cat([z, self.embed(labels)], dim=1)).unflatten(1, self.start)  # (N, g 2^(s-1), h, w)
        x = self.act(self.project_norm(x, labels))
        for conv, norm in zip(self.convs[:-1], self.norms, strict=True):
            x = self.act(norm(conv(x), labels))  # each stage doubles H and W
        return self.convs[-1](x).sigmoid()  # (N, C, H, W) in [0, 1]


def conditional_fakes(generator: ConditionalConvGenerator, labels: Tensor, noise: Tensor | None = None) -> Tensor:
    """Fakes ``(N, C, H, W)`` of ``generator`` for ``labels`` ``(N,)``, with autograd history; ``noise``
    ``(N, latent_dim)`` is drawn when None."""
    weight = generator.project.weight
    if noise is None:
        noise = randn(len(labels), generator.latent_dim, device=weight.device, dtype=weight.dtype)
    return generator(noise, labels)


class ProjectionDiscriminator(nn.Module):
    """Images ``(N, C, H, W)`` and labels ``(N,)`` -> one real/fake logit per image ``(N,)``."""

    def __init__(self, *, config: ConvCGANConfig) -> None:
        super().__init__()
        self.data_shape = config.data_shape
        widths, sn = config.discriminator_widths(), config.spectral_norm
        ins = [config.data_shape[0], *widths[:-1]]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(ins, widths, strict=True):
            conv = nn.Conv2d(fan_in, fan_out, 4, stride=2, padding=1)
            layers += [maybe_spectral(conv, sn), nn.LeakyReLU(LEAKY_SLOPE)]
        if config.minibatch_std:
            layers.append(MinibatchStd())
        self.body = nn.Sequential(*layers)
        features = config.features()
        self.head = maybe_spectral(nn.Linear(features, 1), sn)
        embed = nn.Embedding(config.num_classes, features)
        nn.init.normal_(embed.weight, std=0.02)
        self.embed = maybe_spectral(embed, sn)
        # The auxiliary class head, only when the objective trains it.
        self.classify = nn.Linear(features, config.num_classes) if config.classifier_weight > 0 else None

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        return self.scores(x, labels)[0]  # (N,)

    def scores(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor | None]:
        """Real/fake logits ``(N,)`` and class logits ``(N, classes)`` (None without a class head)."""
        h = self.body(x).flatten(1)  # (N, features)
        logits = self.head(h).squeeze(1) + (self.embed(labels) * h).sum(dim=1)  # (N,)
        return logits, None if self.classify is None else self.classify(h)


class ConvCGAN(GANWithEMA):
    """``.generator`` and ``.discriminator`` (both take labels), and ``.generator_ema`` (or None)."""

    generator: ConditionalConvGenerator

    def __init__(self, *, config: ConvCGANConfig) -> None:
        super().__init__(config, lambda: ConditionalConvGenerator(config=config),
                         lambda: ProjectionDiscriminator(config=config))
        self.num_classes = config.num_classes

    def fakes(self, labels: Tensor, noise: Tensor | None = None) -> Tensor:
        """Training fakes ``(N, C, H, W)`` for ``labels`` ``(N,)`` from the live generator, with autograd history;
        ``noise`` ``(N, latent_dim)`` is drawn when None."""
        return conditional_fakes(self.generator, labels, noise)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.generator(z, labels)  # (N, latent_dim), (N,) -> (N, C, H, W)

    def sample(self, n: int, *, generator: torch.Generator | None = None, labels: Labels = None) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1] of classes ``labels`` (an int, ``(n,)`` ints, or None: uniform).

        The noise is drawn first from ``generator``, then the labels when drawn, so a seed fixes both.
        """
        source: ConditionalConvGenerator = self.sampling_generator  # type: ignore[assignment]
        weight = source.project.weight
        with torch.no_grad():
            z = randn(n, self.config.latent_dim, device=weight.device, dtype=weight.dtype, generator=generator)
            classes = _check_labels(labels, n, self.num_classes, weight.device, generator)  # (n,)
            return source(z, classes)  # (n, C, H, W)
