"""The objectives the conv models' specs name, and the training recipe of the GANs.

Only zoo's public API is used (``zoo.train``, ``zoo.errors``), as a third-party plugin would; ``zoo.train`` is
imported inside the factories and methods so that ``zoo list`` never loads the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Adam with a learning rate of 2e-4 and beta1 = 0.5 (Radford et al. 2016): with the trainer's defaults
# (1e-3, 0.9) a DCGAN's discriminator wins at once. zoo train applies it to every field the user leaves unset.
GAN_RECIPE: dict[str, Any] = {"optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]}}


@dataclass
class ConditionalAdversarial:
    """Non-saturating GAN training where both networks see the real batch's labels.

    The discriminator scores real images with their labels against fakes drawn for the same labels (projection
    discriminator); the generator is then updated to make its fakes pass for their labels. With
    ``classifier_weight`` > 0 the discriminator's class head also learns the real images' labels, and the
    generator is pushed to have its fakes read as the labels it was asked for (an auxiliary classifier, trained
    on real images only). ``translate`` shifts every image the discriminator sees (differentiable
    augmentation); ``ema_decay`` moves ``generator_ema`` after each generator update. With ``diversity_weight``
    > 0 the generator's batch is drawn in pairs of one label and the mode-seeking term ``weight / (|G(z1) - G(z2)|
    / |z1 - z2|)`` (Mao et al. 2019) is added, so that a generator ignoring its noise pays for it.
    """

    ema_decay: float = 0.0
    translate: float = 0.0
    classifier_weight: float = 0.0
    diversity_weight: float = 0.0

    def updates(self, model: Any) -> list[tuple[str, nn.Module, int]]:
        return [("discriminator", model.discriminator, 1), ("generator", model.generator, 1)]

    def _critic(self, model: Any, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.translate > 0:
            from zoo.train import translate_randomly

            images = translate_randomly(images, self.translate)
        return model.discriminator.scores(images, labels)  # (N,), (N, classes) or None

    def loss(self, model: Any, network: str, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        from zoo.errors import TrainingError

        if batch.labels is None:
            raise TrainingError("a class-conditional GAN needs labelled data (mnist-5k, digits, an image folder "
                                "with class subfolders, or an .npz with labels); this dataset has none")
        return self.labelled_loss(model, network, batch.images, batch.labels)

    def labelled_loss(self, model: Any, network: str, real: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """:meth:`loss` for real images ``(N, C, H, W)`` and their labels ``(N,)``."""
        from zoo.errors import TrainingError

        if network == "discriminator":
            with torch.no_grad():
                fake = model.fakes(labels)
            real_logits, real_classes = self._critic(model, real, labels)
            fake_logits, _ = self._critic(model, fake, labels)
            loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
            logs = {"loss/discriminator": loss.detach()}
            if real_classes is not None and self.classifier_weight > 0:
                classification = F.cross_entropy(real_classes, labels)
                loss = loss + self.classifier_weight * classification
                logs["classification/real"] = classification.detach()
            return loss, logs
        if network == "generator":
            half = len(labels) // 2 if self.diversity_weight > 0 else 0
            if half:  # pairs (i, half + i) share a label
                labels = torch.cat([labels[:half], labels[:half], labels[2 * half :]])
            weight = next(model.generator.parameters())  # its device and dtype
            noise = torch.randn(len(labels), model.config.latent_dim, device=weight.device, dtype=weight.dtype)
            fake = model.fakes(labels, noise)
            fake_logits, fake_classes = self._critic(model, fake, labels)
            loss = F.softplus(-fake_logits).mean()
            logs = {"loss/generator": loss.detach()}
            if half:
                apart = (fake[:half] - fake[half : 2 * half]).abs().flatten(1).mean(1)  # (half,)
                noise_apart = (noise[:half] - noise[half : 2 * half]).abs().mean(1)  # (half,)
                spread = (apart / noise_apart).mean()
                loss = loss + self.diversity_weight / (spread + 1e-5)
                logs["diversity"] = spread.detach()
            if fake_classes is not None and self.classifier_weight > 0:
                classification = F.cross_entropy(fake_classes, labels)
                loss = loss + self.classifier_weight * classification
                logs["classification/fake"] = classification.detach()
            return loss, logs
        raise TrainingError(f"ConditionalAdversarial has no network {network!r}")

    def after_update(self, model: Any, network: str) -> None:
        if network == "generator" and model.generator_ema is not None and self.ema_decay > 0:
            from zoo.train import update_ema

            update_ema(model.generator_ema, model.generator, self.ema_decay)

    def finalize(self, model: Any, data: Any) -> None:
        return None


class SelfConditionedAdversarial(ConditionalAdversarial):
    """:class:`ConditionalAdversarial` whose labels are the clusters the discriminator assigns the real images
    to (``dcgan`` with ``clusters`` > 0); the discriminator's update also moves the clusters (while they move),
    and the end of training fits the frequency at which samples draw them."""

    def loss(self, model: Any, network: str, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        if network == "discriminator" and model.training:  # not while the trainer evaluates a test split
            model.discriminator.update_clusters(batch.images)
        return self.labelled_loss(model, network, batch.images, model.discriminator.assign(batch.images))

    def finalize(self, model: Any, data: Any) -> None:
        model.fit_cluster_frequency(data.images)


def gan_objective(model: Any) -> Any:
    from zoo.train import Adversarial

    config = model.config
    if config.clusters:
        return SelfConditionedAdversarial(ema_decay=config.ema_decay, translate=config.augment_translation,
                                          classifier_weight=config.classifier_weight,
                                          diversity_weight=config.diversity_weight)
    return Adversarial(loss=config.loss, d_steps=config.d_steps, gp_weight=config.gp_weight,
                       ema_decay=config.ema_decay, translate=config.augment_translation)


def cgan_objective(model: Any) -> ConditionalAdversarial:
    config = model.config
    return ConditionalAdversarial(ema_decay=config.ema_decay, translate=config.augment_translation,
                                  classifier_weight=config.classifier_weight,
                                  diversity_weight=config.diversity_weight)


def ae_objective(model: Any) -> Any:
    from zoo.train import Reconstruction

    return Reconstruction(loss=model.config.loss)


def dae_objective(model: Any) -> Any:
    from zoo.train import Reconstruction

    return Reconstruction(loss="mse", corruption=model.corrupt, transform=model.shuffle_channels)


def vae_objective(model: Any) -> Any:
    from zoo.train import ELBO

    config = model.config
    return ELBO(beta=config.beta, reconstruction=config.reconstruction, fit_sampler=config.sampler != "prior")
