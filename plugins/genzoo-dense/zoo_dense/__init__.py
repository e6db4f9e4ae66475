"""genzoo-dense: dense autoencoders (plain, denoising, variational), a dense GAN and a digit classifier for zoo.

Installing the distribution registers ``dense-ae``, ``dense-dae``, ``dense-vae``, ``dense-gan`` and ``digit-cnn``
through the ``zoo.plugins`` entry point; use them with ``zoo.create("dense-vae", latent_dim=8)``.
"""

from zoo_dense.ae import DenseAE, DenseAEConfig
from zoo_dense.classifier import DigitCNN, DigitCNNConfig
from zoo_dense.dae import DenseDAE, DenseDAEConfig
from zoo_dense.gan import DenseDiscriminator, DenseGAN, DenseGANConfig, DenseGenerator
from zoo_dense.vae import DenseVAE, DenseVAEConfig

__all__ = [
    "DenseAE",
    "DenseAEConfig",
    "DenseDAE",
    "DenseDAEConfig",
    "DenseDiscriminator",
    "DenseGAN",
    "DenseGANConfig",
    "DenseGenerator",
    "DenseVAE",
    "DenseVAEConfig",
    "DigitCNN",
    "DigitCNNConfig",
]
