"""Every capability the zoo's tools rely on, as a structural protocol (public; re-exported by ``zoo``).

This module and :mod:`zoo.hookspecs` are the two files a plugin author reads. A model implements whichever
protocols fit; the trainer, evaluation and the command line check these (``isinstance(model, Encoder)``) and
nothing else: no model names, no class checks, no attribute names looked up elsewhere.

- :class:`Encoder` ``encode(x) -> z``, :class:`Decoder` ``decode(z) -> x``, :class:`Autoencoder` both, with a
  reconstructing ``forward(x)``: the Reconstruction objective, ``zoo encode``/``reconstruct``, reconstruction metrics;
- :class:`VariationalAutoencoder` ``encode_distribution(x)`` and ``reparameterize``: the ELBO and its metric;
- :class:`LatentSampler` ``fit_sampler(latents)``, fitted after training: ``ELBO(fit_sampler=True)``;
- :class:`Denoiser` ``corrupt(x, generator=)``: reconstruction from corrupted input, denoising metrics;
- :class:`Generator` ``sample(n, generator=)`` in [0, 1]: ``zoo sample``, sample grids, generator metrics;
  :class:`ConditionalGenerator` also ``num_classes`` and ``sample(..., labels=)``: ``zoo sample --label``;
- :class:`GAN` ``.generator`` and ``.discriminator`` modules, sampling with ``generator.sample(n)`` or its own
  ``sample(n)`` (:func:`is_gan`): the Adversarial objective; :class:`EMAGenerator` ``.generator_ema`` (or None),
  moved toward the generator after each update;
- :class:`FeatureExtractor` ``features(x)``, :class:`Classifier` also logits from ``forward(x)``: the
  Classification objective, the feature space generator metrics are computed in;
- :class:`DataShaped` ``data_shape``, the ``(C, H, W)`` of one sample: data is checked against it;
  :class:`FlexibleSize` ``nearest_size(height, width)``: ``forward`` also takes other heights and widths (a fully
  convolutional model), so ``zoo reconstruct`` runs it on whole photographs of any size it accepts.

:func:`family_of` names the family a model's protocols imply (the ``kind`` shown by ``zoo list`` when a
spec gives none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # a plain module: importing it (zoo list, the registry) loads no torch
    import torch
    from torch import Tensor, nn


@runtime_checkable
class Encoder(Protocol):
    """Maps data ``(N, *data_shape)`` (or flat ``(N, D)``, if the model says so) to latents ``(N, latent_dim)``."""

    def encode(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class Decoder(Protocol):
    """Maps latents ``(N, latent_dim)`` to data ``(N, *data_shape)`` (a linear output may leave [0, 1])."""

    def decode(self, z: Tensor) -> Tensor: ...


@runtime_checkable
class Autoencoder(Encoder, Decoder, Protocol):
    """An encoder and decoder whose ``forward(x)`` reconstructs ``x``."""

    def __call__(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class VariationalAutoencoder(Autoencoder, Protocol):
    """An autoencoder whose encoder gives a diagonal Gaussian ``q(z|x)``.

    ``encode_distribution(x)`` returns ``(mean, logvar)``, each ``(N, latent_dim)``; ``reparameterize`` draws
    ``z = mean + exp(logvar / 2) * eps`` with gradients; ``encode(x)`` is the mean.
    """

    def encode_distribution(self, x: Tensor) -> tuple[Tensor, Tensor]: ...

    def reparameterize(self, mean: Tensor, logvar: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        ...


@runtime_checkable
class LatentSampler(Protocol):
    """A latent sampler fitted once after training to the encoded training set ``(N, latent_dim)``."""

    def fit_sampler(self, latents: Tensor) -> None: ...


@runtime_checkable
class Denoiser(Protocol):
    """Corrupts clean data (same shape, clipped to [0, 1]); training reconstructs the clean data from it."""

    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class Generator(Protocol):
    """Draws ``n`` samples of shape ``(n, *data_shape)`` in the data range [0, 1]."""

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class ConditionalGenerator(Generator, Protocol):
    """A generator that also draws samples of given classes: ``labels`` is an int, ``(n,)`` ints in
    ``0 .. num_classes - 1``, or None (classes drawn uniformly)."""

    num_classes: int

    def sample(self, n: int, *, generator: torch.Generator | None = None,
               labels: Tensor | int | None = None) -> Tensor: ...


@runtime_checkable
class Discriminator(Protocol):
    """Maps data ``(N, *data_shape)`` to one logit per sample, ``(N,)``."""

    def __call__(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class GAN(Protocol):
    """A generator network and a discriminator network (both ``nn.Module``).

    Fakes come from ``generator.sample(n)`` when the generator implements :class:`Generator`, else from the
    model's own ``sample(n)``; either must keep the autograd graph in training mode (the generator's loss is
    backpropagated through it). Check with :func:`is_gan`, which also checks how it samples.
    """

    generator: nn.Module
    discriminator: nn.Module


@runtime_checkable
class EMAGenerator(Protocol):
    """A GAN with a moving-average copy of its generator (None when it keeps none)."""

    generator_ema: nn.Module | None


@runtime_checkable
class FeatureExtractor(Protocol):
    """Maps data ``(N, *data_shape)`` to features ``(N, F)``; evaluation compares images in this space."""

    def features(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class Classifier(FeatureExtractor, Protocol):
    """A feature extractor whose ``forward(x)`` gives class logits ``(N, num_classes)``."""

    def __call__(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class DataShaped(Protocol):
    """Declares the shape of one sample it takes, ``(C, H, W)``."""

    @property
    def data_shape(self) -> tuple[int, ...]: ...


@runtime_checkable
class FlexibleSize(Protocol):
    """Its ``forward(x)`` takes images of other heights and widths than ``data_shape`` (a fully convolutional net);
    an autoencoder's reconstruction then has the size of its input.

    ``nearest_size(height, width)`` returns ``(height, width)`` itself when ``forward`` takes images of that size,
    else the nearest size it does take, e.g. both sides rounded to a multiple of 8 (the error for a refused size
    names it). The channel count is always ``data_shape[0]``, and ``encode``, ``decode`` and ``sample`` keep to
    ``data_shape``. A model whose config makes it fixed-size (a dense bottleneck) returns ``data_shape[1:]``.
    Check a size with :func:`takes_size`.
    """

    def nearest_size(self, height: int, width: int) -> tuple[int, int]: ...


def takes_size(model: FlexibleSize, height: int, width: int) -> tuple[bool, tuple[int, int]]:
    """Whether ``model.forward`` takes images ``height`` x ``width``, and the nearest size it takes (that size when
    it does); a ``nearest_size`` that returns anything but two positive ints is a bug in the model (TypeError)."""
    nearest = model.nearest_size(height, width)
    if not (isinstance(nearest, tuple) and len(nearest) == 2
            and all(isinstance(side, int) and not isinstance(side, bool) and side >= 1 for side in nearest)):
        raise TypeError(f"{type(model).__name__}.nearest_size({height}, {width}) returned {nearest!r}; expected a "
                        "(height, width) tuple of positive ints (zoo.protocols.FlexibleSize)")
    return nearest == (height, width), nearest


def is_gan(model: object) -> bool:
    """True when ``model`` has ``.generator`` and ``.discriminator`` modules and can draw fakes."""
    if not isinstance(model, GAN):
        return False
    from torch import nn  # the model exists, so torch is loaded already

    return isinstance(model.discriminator, nn.Module) and isinstance(model.generator, nn.Module) and (
        isinstance(model.generator, Generator) or isinstance(model, Generator)
    )


def gan_fakes(model: GAN, n: int) -> Tensor:
    """``n`` fakes for training, with the graph back to the generator's parameters."""
    if isinstance(model.generator, Generator):
        return model.generator.sample(n)
    if isinstance(model, Generator):
        return model.sample(n)
    raise TypeError(f"{type(model).__name__} is a GAN that cannot sample: give it or its generator sample(n)")


def sampler_of(model: object) -> Generator | None:
    """What draws samples of ``model``: the model itself when it is a :class:`Generator`, else a GAN's generator."""
    if isinstance(model, Generator):
        return model
    if is_gan(model) and isinstance(model.generator, Generator):  # type: ignore[attr-defined]
        return model.generator  # type: ignore[attr-defined]
    return None


def ema_generator_of(model: object) -> nn.Module | None:
    """The moving-average copy of a GAN's generator, or None."""
    return model.generator_ema if isinstance(model, EMAGenerator) else None


def data_shape_of(model: object) -> tuple[int, ...] | None:
    """The ``(C, H, W)`` a model takes: its ``data_shape`` (:class:`DataShaped`), else its config's, else None."""
    if isinstance(model, DataShaped):
        return tuple(int(d) for d in model.data_shape)
    config_shape = getattr(getattr(model, "config", None), "data_shape", None)
    if isinstance(config_shape, tuple | list) and all(isinstance(d, int) for d in config_shape):
        return tuple(config_shape)
    return None


FAMILIES = ("gan", "variational-autoencoder", "autoencoder", "generator", "classifier")
# Families the trainer has an objective for when a spec names none (zoo.train.objective_for); a model of any
# other family (a flow, an energy model, a plain generator) must name its objective.
DEFAULT_OBJECTIVE_FAMILIES = ("gan", "variational-autoencoder", "autoencoder", "classifier")


def family_of(model: object) -> str | None:
    """The family the protocols of ``model`` imply (first match in :data:`FAMILIES`), or None."""
    if is_gan(model):
        return "gan"
    if isinstance(model, VariationalAutoencoder):
        return "variational-autoencoder"
    if isinstance(model, Autoencoder):
        return "autoencoder"
    if isinstance(model, Generator):
        return "generator"
    if isinstance(model, Classifier):
        return "classifier"
    return None


__all__ = [
    "DEFAULT_OBJECTIVE_FAMILIES",
    "FAMILIES",
    "GAN",
    "Autoencoder",
    "Classifier",
    "ConditionalGenerator",
    "DataShaped",
    "Decoder",
    "Denoiser",
    "Discriminator",
    "EMAGenerator",
    "Encoder",
    "FeatureExtractor",
    "FlexibleSize",
    "Generator",
    "LatentSampler",
    "VariationalAutoencoder",
    "data_shape_of",
    "ema_generator_of",
    "family_of",
    "gan_fakes",
    "is_gan",
    "sampler_of",
    "takes_size",
]
