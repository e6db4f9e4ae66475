"""A dense class-conditional GAN: generator and discriminator both see the class label.

The generator maps noise and a one-hot label to an image; the discriminator reads the image with its one-hot
label and adds a projection term (Miyato & Koyama 2018): ``logit = w . h(x, y) + embed(y) . h(x, y)``, so it
scores whether an image fits its label.
Training uses :class:`ConditionalAdversarial`, defined here so that the core stays free of labels-aware GAN code;
it needs a labelled dataset (``batch.labels``).

``sample(n, labels=...)`` draws images of the given classes (uniformly random classes when ``labels`` is None),
from the moving-average generator when there is one, without autograd history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Self

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

import zoo
from zoo_dense._layers import Activation, DataShape, Hidden, flatten_data, mlp, mlp_parameter_count, randn

Labels = Tensor | int | None


class DenseCGANConfig(zoo.ModelConfig):
    data_shape: DataShape = Field((1, 28, 28), description="(channels, height, width) of the data")
    num_classes: int = Field(10, ge=2, le=1000, description="number of classes; labels are 0 .. num_classes-1")
    latent_dim: int = Field(64, ge=1, le=1024, description="size of the generator's noise input")
    generator_hidden: Hidden = Field((256, 512, 1024), description="hidden widths of the generator")
    discriminator_hidden: Hidden = Field((1024, 512, 256), description="hidden widths of the discriminator")
    generator_activation: Activation = "relu"
    discriminator_activation: Activation = "leaky_relu"
    generator_batchnorm: bool = Field(True, description="BatchNorm1d after each hidden generator layer")
    discriminator_dropout: float = Field(0.3, ge=0.0, le=0.9, description="dropout after hidden layers")
    ema_decay: float = Field(
        0.999, ge=0.0, lt=1.0, description="decay of the generator's moving-average copy; 0 keeps no copy"
    )
    augment_translation: float = Field(
        0.125, ge=0.0, le=0.5, description="shift the discriminator's inputs by up to this fraction (0: off)"
    )
    classifier_weight: float = Field(
        1.0, ge=0.0, le=100.0, description="weight of the auxiliary classification loss: the discriminator's "
        "class head learns the labels of real images, the generator to have its fakes read as their labels"
    )

    @property
    def features(self) -> int:
        return math.prod(self.data_shape)

    def parameter_count(self) -> int:
        generator = mlp_parameter_count(
            [self.latent_dim + self.num_classes, *self.generator_hidden, self.features],
            batchnorm=self.generator_batchnorm,
        )
        body = mlp_parameter_count([self.features + self.num_classes, *self.discriminator_hidden])
        width = self.discriminator_hidden[-1] if self.discriminator_hidden else self.features + self.num_classes
        classify = (width + 1) * self.num_classes if self.classifier_weight > 0 else 0  # the class head, if used
        discriminator = body + (width + 1) + self.num_classes * width + classify  # + real/fake head, label embedding
        copies = 2 if self.ema_decay > 0 else 1
        return copies * generator + discriminator


def _check_labels(labels: Labels, n: int, num_classes: int, device: torch.device,
                  generator: torch.Generator | None) -> Tensor:
    """``(n,)`` int64 labels on ``device``: drawn uniformly when None, repeated when an int, else checked."""
    if labels is None:
        source = generator.device if generator is not None else device
        return torch.randint(0, num_classes, (n,), generator=generator, device=source).to(device)
    if isinstance(labels, int) and not isinstance(labels, bool):
        labels = torch.full((n,), labels, dtype=torch.long)
    if not isinstance(labels, Tensor) or labels.shape != (n,) or labels.dtype.is_floating_point:
        raise ValueError(f"labels must be None, an int or an integer tensor of shape ({n},); got {labels!r:.60}")
    if n and not (0 <= int(labels.min()) and int(labels.max()) < num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}; got {int(labels.min())}..{int(labels.max())}")
    return labels.to(device=device, dtype=torch.long)


class ConditionalGeneratorNet(nn.Module):
    """Noise ``(N, latent_dim)`` and labels ``(N,)`` -> data ``(N, C, H, W)`` in [0, 1]."""

    def __init__(self, *, config: DenseCGANConfig) -> None:
        super().__init__()
        self.data_shape = config.data_shape
        self.num_classes = config.num_classes
        self.net = mlp(
            [config.latent_dim + config.num_classes, *config.generator_hidden, config.features],
            activation=config.generator_activation,
            batchnorm=config.generator_batchnorm,
        )

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        one_hot = F.one_hot(labels, self.num_classes).to(z.dtype)  # (N, classes)
        logits = self.net(torch.cat([z, one_hot], dim=1))  # (N, C*H*W)
        return logits.sigmoid().unflatten(1, self.data_shape)  # (N, C, H, W)


class ProjectionDiscriminator(nn.Module):
    """Data ``(N, C, H, W)`` and labels ``(N,)`` -> one real/fake logit per sample ``(N,)``."""

    def __init__(self, *, config: DenseCGANConfig) -> None:
        super().__init__()
        self.data_shape = config.data_shape
        self.num_classes = config.num_classes
        inputs = config.features + config.num_classes  # the image and its one-hot label
        width = config.discriminator_hidden[-1] if config.discriminator_hidden else inputs
        # The hidden stack ends in the activation too: the heads below read its features.
        self.body = mlp(
            [inputs, *config.discriminator_hidden],
            activation=config.discriminator_activation,
            final_activation=config.discriminator_activation,
            dropout=config.discriminator_dropout,
        )
        self.head = nn.Linear(width, 1)
        self.embed = nn.Embedding(config.num_classes, width)
        nn.init.normal_(self.embed.weight, std=0.02)
        # The auxiliary class head, only when the objective trains it.
        self.classify = nn.Linear(width, config.num_classes) if config.classifier_weight > 0 else None

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        return self.scores(x, labels)[0]  # (N,)

    def scores(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor | None]:
        """Real/fake logits ``(N,)`` and class logits ``(N, classes)`` (None without a class head) of images ``x``
        with their ``labels``."""
        x = flatten_data(x, self.data_shape)  # (N, C*H*W)
        one_hot = F.one_hot(labels, self.num_classes).to(x.dtype)  # (N, classes)
        h = self.body(torch.cat([x, one_hot], dim=1))  # (N, width)
        logits = self.head(h).squeeze(1) + (self.embed(labels) * h).sum(dim=1)  # (N,)
        return logits, None if self.classify is None else self.classify(h)  # (N,), (N, classes)


class DenseCGAN(nn.Module):
    """``.generator`` and ``.discriminator`` (both take labels), and ``.generator_ema`` (or None)."""

    def __init__(self, *, config: DenseCGANConfig) -> None:
        super().__init__()
        self.config = config
        self.num_classes = config.num_classes
        self.generator = ConditionalGeneratorNet(config=config)
        self.discriminator = ProjectionDiscriminator(config=config)
        self.generator_ema: ConditionalGeneratorNet | None = None
        if config.ema_decay > 0:
            # A submodule, so it is saved with the model; the objective moves it toward the generator.
            self.generator_ema = ConditionalGeneratorNet(config=config)
            self.generator_ema.load_state_dict(self.generator.state_dict())
            self.generator_ema.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> Self:
        super().train(mode)
        if self.generator_ema is not None:
            self.generator_ema.eval()  # never trained: its BatchNorm always uses running statistics
        return self

    def fakes(self, labels: Tensor) -> Tensor:
        """Training fakes ``(N, C, H, W)`` for ``labels`` ``(N,)`` from the live generator, with autograd history."""
        weight = next(self.generator.parameters())
        z = randn(len(labels), self.config.latent_dim, device=weight.device, dtype=weight.dtype)  # (N, latent_dim)
        return self.generator(z, labels)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.generator(z, labels)  # (N, latent_dim), (N,) -> (N, C, H, W)

    def sample(self, n: int, *, generator: torch.Generator | None = None, labels: Labels = None) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1] of classes ``labels`` (an int, ``(n,)`` ints, or None: uniform).

        Noise comes first from ``generator``, then the labels when drawn, so a seed fixes both.
        """
        source = self.generator_ema if self.generator_ema is not None else self.generator
        weight = next(source.parameters())
        with torch.no_grad():
            z = randn(n, self.config.latent_dim, device=weight.device, dtype=weight.dtype, generator=generator)
            classes = _check_labels(labels, n, self.num_classes, weight.device, generator)  # (n,)
            return source(z, classes)  # (n, C, H, W)


@dataclass
class ConditionalAdversarial:
    """Non-saturating GAN training where both networks see the real batch's labels.

    The discriminator scores real images with their labels against fakes drawn for the same labels; the
    generator is then updated to make its fakes pass for their labels. With ``classifier_weight`` > 0 the
    discriminator's class head also learns the real images' labels (cross-entropy), and the generator is pushed
    to have its fakes classified as the labels it was asked for (an auxiliary classifier, as in AC-GAN, trained
    on real images only). ``translate`` shifts every image the
    discriminator sees (differentiable augmentation); ``ema_decay`` moves ``generator_ema`` after each
    generator update.
    """

    ema_decay: float = 0.0
    translate: float = 0.0
    classifier_weight: float = 0.0

    def updates(self, model: Any) -> list[tuple[str, nn.Module, int]]:
        return [("discriminator", model.discriminator, 1), ("generator", model.generator, 1)]

    def _critic(self, model: Any, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.translate > 0:
            images = zoo.train.translate_randomly(images, self.translate)
        return model.discriminator.scores(images, labels)  # (N,), (N, classes)

    def loss(self, model: Any, network: str, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        from zoo.errors import TrainingError

        if batch.labels is None:
            raise TrainingError("a class-conditional GAN needs labelled data; this dataset has no labels")
        real, labels = batch.images, batch.labels
        if network == "discriminator":
            with torch.no_grad():
                fake = model.fakes(labels)
            real_logits, real_classes = self._critic(model, real, labels)  # (N,), (N, classes)
            fake_logits, _ = self._critic(model, fake, labels)  # (N,)
            loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
            logs = {"loss/discriminator": loss.detach()}
            if self.classifier_weight > 0 and real_classes is not None:  # the class head learns from reals only
                classification = F.cross_entropy(real_classes, labels)
                loss = loss + self.classifier_weight * classification
                logs["classification/real"] = classification.detach()
            return loss, logs
        if network == "generator":
            fake_logits, fake_classes = self._critic(model, model.fakes(labels), labels)
            loss = F.softplus(-fake_logits).mean()
            logs = {"loss/generator": loss.detach()}
            if self.classifier_weight > 0 and fake_classes is not None:
                classification = F.cross_entropy(fake_classes, labels)
                loss = loss + self.classifier_weight * classification
                logs["classification/fake"] = classification.detach()
            return loss, logs
        raise TrainingError(f"ConditionalAdversarial has no network {network!r}")

    def after_update(self, model: Any, network: str) -> None:
        if network == "generator" and model.generator_ema is not None and self.ema_decay > 0:
            zoo.train.update_ema(model.generator_ema, model.generator, self.ema_decay)

    def finalize(self, model: Any, data: Any) -> None:
        return None


def objective(model: Any) -> ConditionalAdversarial:
    """The objective the ``dense-cgan`` spec names."""
    config = model.config
    return ConditionalAdversarial(
        ema_decay=config.ema_decay, translate=config.augment_translation, classifier_weight=config.classifier_weight
    )
