"""genzoo-conv's zoo plugin: the five convolutional architectures and the ``photos`` dataset, handed to zoo when
it calls the hooks. Registered through the ``zoo.plugins`` entry point, exactly as a third-party package is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

import zoo
from zoo_conv import photos
from zoo_conv._train import GAN_RECIPE, ae_objective, cgan_objective, dae_objective, gan_objective, vae_objective
from zoo_conv.ae import ConvAE, ConvAEConfig
from zoo_conv.cgan import ConvCGAN, ConvCGANConfig
from zoo_conv.dae import ConvDAE, ConvDAEConfig
from zoo_conv.dcgan import DCGAN, DCGANConfig
from zoo_conv.self_conditioned import SelfConditionedDCGAN
from zoo_conv.vae import ConvVAE, ConvVAEConfig


def _build_dcgan(config: DCGANConfig) -> nn.Module:
    return SelfConditionedDCGAN(config=config) if config.clusters else DCGAN(config=config)


def _builder(model_cls: Callable[..., nn.Module]) -> Callable[[Any], nn.Module]:
    # zoo calls build(config); the models take their config by keyword.
    def build(config: Any) -> nn.Module:
        return model_cls(config=config)

    return build


@zoo.hookimpl
def zoo_models() -> list[zoo.ModelSpec]:
    return [
        zoo.ModelSpec(
            name="dcgan",
            config=DCGANConfig,
            build=_build_dcgan,
            description="DCGAN: transposed-convolution generator, strided-convolution discriminator (batch norm, "
            "spectral norm, EMA generator as options)",
            objective=gan_objective,
            recipe=GAN_RECIPE,
            test_config={"data_shape": (1, 8, 8), "latent_dim": 4, "generator_channels": 4,
                         "discriminator_channels": 4},
            test_configs=(
                {"data_shape": (3, 16, 8), "stages": 3, "latent_dim": 4, "generator_channels": 2,
                 "discriminator_channels": 2, "discriminator_batchnorm": True, "spectral_norm": True,
                 "ema_decay": 0.9, "loss": "hinge", "augment_translation": 0.125, "minibatch_std": True},
                {"data_shape": (2, 4, 12), "stages": 1, "latent_dim": 3, "generator_channels": 3,
                 "discriminator_channels": 3, "generator_batchnorm": False, "loss": "wasserstein-gp"},
                {"data_shape": (3, 8, 8), "latent_dim": 4, "generator_channels": 2, "discriminator_channels": 2,
                 "clusters": 3, "cluster_steps": 2, "embedding_dim": 2, "ema_decay": 0.9, "spectral_norm": True,
                 "diversity_weight": 0.1, "classifier_weight": 1.0},
            ),
        ),
        zoo.ModelSpec(
            name="conv-cgan",
            config=ConvCGANConfig,
            build=_builder(ConvCGAN),
            kind="gan",
            description="class-conditional DCGAN: conditional batch norm generator, projection discriminator "
            "(sample(n, labels=...))",
            objective=cgan_objective,
            recipe=GAN_RECIPE,
            test_config={"data_shape": (1, 8, 8), "num_classes": 3, "latent_dim": 4, "embedding_dim": 2,
                         "generator_channels": 4, "discriminator_channels": 4},
            test_configs=(
                {"data_shape": (3, 8, 16), "num_classes": 2, "stages": 3, "latent_dim": 4, "embedding_dim": 3,
                 "generator_channels": 2, "discriminator_channels": 2, "spectral_norm": False, "ema_decay": 0.0,
                 "augment_translation": 0.0, "classifier_weight": 0.0, "minibatch_std": True,
                 "diversity_weight": 1.0},
            ),
        ),
        zoo.ModelSpec(
            name="conv-ae",
            config=ConvAEConfig,
            build=_builder(ConvAE),
            description="convolutional autoencoder (dense code, or a spatial code that makes it fully "
            "convolutional)",
            objective=ae_objective,
            test_config={"data_shape": (1, 8, 8), "channels": (4, 6), "latent_dim": 3},
            test_configs=(
                {"data_shape": (3, 8, 12), "channels": (4,), "bottleneck": "spatial", "latent_channels": 2,
                 "activation": "silu", "loss": "bce"},
            ),
        ),
        zoo.ModelSpec(
            name="conv-dae",
            config=ConvDAEConfig,
            build=_builder(ConvDAE),
            description="blind convolutional denoiser (DnCNN-style residual net; any image size; noise std "
            "drawn per image in noise_range)",
            objective=dae_objective,
            test_config={"data_shape": (1, 8, 8), "depth": 3, "width": 4},
            test_configs=({"data_shape": (3, 6, 10), "depth": 2, "width": 3, "batchnorm": False,
                           "noise_range": (0.1, 0.1)},),
        ),
        zoo.ModelSpec(
            name="conv-vae",
            config=ConvVAEConfig,
            build=_builder(ConvVAE),
            description="convolutional variational autoencoder with a prior or Gaussian-mixture sampler",
            objective=vae_objective,
            test_config={"data_shape": (1, 8, 8), "channels": (4, 6), "latent_dim": 2, "sampler_components": 3},
            test_configs=(
                {"data_shape": (3, 4, 8), "channels": (4,), "bottleneck": "spatial", "latent_channels": 2,
                 "sampler": "gmm-full", "sampler_components": 2, "reconstruction": "mse"},
                {"data_shape": (2, 8, 8), "channels": (3, 3, 3), "latent_dim": 3, "sampler": "prior",
                 "activation": "relu"},
            ),
        ),
    ]


@zoo.hookimpl
def zoo_datasets() -> list[zoo.DatasetSpec]:
    return [photos.dataset()]


@zoo.hookimpl
def zoo_weights() -> list[zoo.WeightsEntry]:
    # This distribution's pretrained entries, shipped inside it (package data) so zoo.load("conv-dae.photos")
    # works offline; a broken entry is logged by name and left out.
    return zoo.entries_from_folder(Path(__file__).parent / "weights")
