"""genzoo-dense's zoo plugin: the four dense architectures and the digit classifier, handed to zoo when it calls
the hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

import zoo
from zoo_dense.ae import DenseAE, DenseAEConfig
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

    return Reconstruction(loss=model.config.loss, corruption=model.corrupt)


def _vae_objective(model: Any) -> Any:
    from zoo.train import ELBO

    config = model.config
    return ELBO(beta=config.beta, reconstruction=config.reconstruction, fit_sampler=config.sampler == "gmm")


def _classifier_objective(model: Any) -> Any:
    from zoo.train import Classification

    return Classification()


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


@zoo.hookimpl
def zoo_models() -> list[zoo.ModelSpec]:
    return [
        zoo.ModelSpec(
            name="dense-ae",
            config=DenseAEConfig,
            build=_builder(DenseAE),
            kind="autoencoder",
            description="fully connected autoencoder (default: 784-64-64-784, sigmoid output)",
            objective=_ae_objective,
        ),
        zoo.ModelSpec(
            name="dense-dae",
            config=DenseDAEConfig,
            build=_builder(DenseDAE),
            kind="autoencoder",
            description="fully connected denoising autoencoder (gaussian or masking corruption)",
            objective=_dae_objective,
        ),
        zoo.ModelSpec(
            name="dense-vae",
            config=DenseVAEConfig,
            build=_builder(DenseVAE),
            kind="autoencoder",
            description="fully connected variational autoencoder with a prior or Gaussian-mixture sampler",
            objective=_vae_objective,
        ),
        zoo.ModelSpec(
            name="dense-gan",
            config=DenseGANConfig,
            build=_builder(DenseGAN),
            kind="gan",
            description="fully connected GAN (non-saturating, hinge or WGAN-GP loss; optional EMA generator)",
            objective=_gan_objective,
        ),
        zoo.ModelSpec(
            name="digit-cnn",
            config=DigitCNNConfig,
            build=_builder(DigitCNN),
            kind="classifier",
            description="small LeNet-like digit classifier; its feature layer is the space `zoo eval` scores in",
            objective=_classifier_objective,
        ),
    ]
