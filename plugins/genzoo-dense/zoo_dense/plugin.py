"""genzoo-dense's zoo plugin: the four dense architectures and the digit classifier, handed to zoo when it calls
the hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

import zoo
from zoo_dense.ae import DenseAE, DenseAEConfig
from zoo_dense.cgan import DenseCGAN, DenseCGANConfig
from zoo_dense.classifier import DigitCNN, DigitCNNConfig
from zoo_dense.dae import DenseDAE, DenseDAEConfig
from zoo_dense.gan import DenseGAN, DenseGANConfig
from zoo_dense.vae import DenseVAE, DenseVAEConfig


def _builder(model_cls: Callable[..., nn.Module]) -> Callable[[Any], nn.Module]:
    # zoo calls build(config); the models take their config by keyword.
    def build(config: Any) -> nn.Module:
        return model_cls(config=config)

    return build


# zoo.train imports the trainer stack; import it only when a model is actually trained.
def _ae_objective(model: Any) -> Any:
    from zoo.train import Reconstruction

    return Reconstruction(loss=model.config.loss)


def _dae_objective(model: Any) -> Any:
    from zoo.train import Reconstruction

    return Reconstruction(
        loss=model.config.loss, corruption=model.corrupt, translate=model.config.augment_translation
    )


def _vae_objective(model: Any) -> Any:
    from zoo.train import ELBO

    config = model.config
    return ELBO(beta=config.beta, reconstruction=config.reconstruction, fit_sampler=config.sampler != "prior")


def _classifier_objective(model: Any) -> Any:
    from zoo.train import Classification

    return Classification()


def _cgan_objective(model: Any) -> Any:
    from zoo_dense.cgan import objective

    return objective(model)


def _gan_objective(model: Any) -> Any:
    from zoo.train import Adversarial

    config = model.config
    return Adversarial(
        loss=config.loss,
        d_steps=config.d_steps,
        gp_weight=config.gp_weight,
        ema_decay=config.ema_decay,
        translate=config.augment_translation,
    )


# The DCGAN paper's Adam settings, which both GANs' pretrained entries were trained with: with the trainer's
# defaults (1e-3, betas 0.9/0.999) the discriminator wins at once.
GAN_RECIPE: dict[str, Any] = {"optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]}}


@zoo.hookimpl
def zoo_models() -> list[zoo.ModelSpec]:
    return [
        zoo.ModelSpec(
            name="dense-ae",
            config=DenseAEConfig,
            build=_builder(DenseAE),
            description="fully connected autoencoder (default: 784-64-64-784, linear output)",
            objective=_ae_objective,
            test_config={"data_shape": (1, 6, 5), "encoder_hidden": (12,), "latent_dim": 3, "decoder_hidden": (12, 10)},
            test_configs=(
                {"data_shape": (3, 4, 4), "latent_dim": 5, "decoder_hidden": (), "latent_activation": "none",
                 "activation": "gelu", "loss": "bce", "output_activation": "sigmoid"},
            ),
        ),
        zoo.ModelSpec(
            name="dense-dae",
            config=DenseDAEConfig,
            build=_builder(DenseDAE),
            description="fully connected denoising autoencoder (gaussian or masking corruption)",
            objective=_dae_objective,
            test_config={"data_shape": (1, 6, 5), "latent_dim": 4, "decoder_hidden": (8,), "corruption": "masking",
                         "noise_level": 0.5},
        ),
        zoo.ModelSpec(
            name="dense-vae",
            config=DenseVAEConfig,
            build=_builder(DenseVAE),
            description="fully connected variational autoencoder with a prior or Gaussian-mixture sampler",
            objective=_vae_objective,
            test_config={"data_shape": (1, 6, 5), "encoder_hidden": (16,), "latent_dim": 2, "decoder_hidden": (16,),
                         "sampler": "gmm", "sampler_components": 3},
            test_configs=(
                {"data_shape": (2, 4, 4), "encoder_hidden": (), "latent_dim": 3, "decoder_hidden": (),
                 "activation": "silu", "reconstruction": "mse"},
            ),
        ),
        zoo.ModelSpec(
            name="dense-gan",
            config=DenseGANConfig,
            build=_builder(DenseGAN),
            description="fully connected GAN (loss non-saturating, hinge or wasserstein-gp; optional EMA generator)",
            objective=_gan_objective,
            recipe=GAN_RECIPE,
            test_config={"data_shape": (1, 6, 5), "latent_dim": 4, "generator_hidden": (16,),
                         "discriminator_hidden": (16,)},
            test_configs=(
                {"data_shape": (3, 4, 4), "latent_dim": 4, "generator_hidden": (16, 8), "discriminator_hidden": (8,),
                 "generator_batchnorm": True, "spectral_norm": True, "discriminator_dropout": 0.2,
                 "ema_decay": 0.99, "loss": "hinge"},
            ),
        ),
        zoo.ModelSpec(
            name="dense-cgan",
            config=DenseCGANConfig,
            build=_builder(DenseCGAN),
            kind="gan",
            description="fully connected class-conditional GAN (projection discriminator; sample(n, labels=...))",
            objective=_cgan_objective,
            recipe=GAN_RECIPE,
            test_config={"data_shape": (1, 6, 5), "num_classes": 3, "latent_dim": 4, "generator_hidden": (16,),
                         "discriminator_hidden": (16,)},
            test_configs=(
                {"data_shape": (3, 4, 4), "num_classes": 2, "latent_dim": 4, "generator_hidden": (16, 8),
                 "discriminator_hidden": (8,), "generator_batchnorm": False, "discriminator_dropout": 0.0,
                 "ema_decay": 0.0, "augment_translation": 0.0, "classifier_weight": 0.0},
            ),
        ),
        zoo.ModelSpec(
            name="digit-cnn",
            config=DigitCNNConfig,
            build=_builder(DigitCNN),
            test_config={"data_shape": (1, 8, 7), "channels": (4, 8), "feature_dim": 16, "num_classes": 3,
                         "dropout": 0.0},
            description="small LeNet-like digit classifier; its feature layer is the space `zoo eval` scores in",
            objective=_classifier_objective,
        ),
    ]


@zoo.hookimpl
def zoo_weights() -> list[zoo.WeightsEntry]:
    # The first-party pretrained entries: the catalogue in the repository's registry/ folder, shipped as the
    # zoo_registry package (so zoo.load("dense-gan") works offline on a fresh install). A broken entry is
    # logged by name and left out; the others still register.
    return zoo.entries_from_folder()
