"""genzoo-conv: convolutional GANs (DCGAN, class-conditional), autoencoders (plain, denoising, variational) and a
colour-photograph dataset for zoo.

Installing the distribution registers ``dcgan``, ``conv-cgan``, ``conv-ae``, ``conv-dae`` and ``conv-vae`` and the
``photos`` dataset through the ``zoo.plugins`` entry point; use them with ``zoo.create("dcgan", latent_dim=32)``.
"""

from zoo_conv.ae import ConvAE, ConvAEConfig
from zoo_conv.cgan import ConvCGAN, ConvCGANConfig
from zoo_conv.dae import ConvDAE, ConvDAEConfig
from zoo_conv.dcgan import DCGAN, ConvDiscriminator, ConvGenerator, DCGANConfig
from zoo_conv.vae import ConvVAE, ConvVAEConfig

__all__ = [
    "DCGAN",
    "ConvAE",
    "ConvAEConfig",
    "ConvCGAN",
    "ConvCGANConfig",
    "ConvDAE",
    "ConvDAEConfig",
    "ConvDiscriminator",
    "ConvGenerator",
    "ConvVAE",
    "ConvVAEConfig",
    "DCGANConfig",
]
