"""The structural protocols that models implement; the trainer and tools depend on these alone."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class Encoder(Protocol):
    """Maps data ``(N, *data_shape)`` to latents ``(N, latent_dim)``."""

    def encode(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class Decoder(Protocol):
    """Maps latents ``(N, latent_dim)`` to data ``(N, *data_shape)`` (a linear output may leave [0, 1])."""

    def decode(self, z: Tensor) -> Tensor: ...


@runtime_checkable
class Generator(Protocol):
    """Draws ``n`` samples of shape ``(n, *data_shape)`` in the data range [0, 1]."""

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class Discriminator(Protocol):
    """Maps data ``(N, *data_shape)`` to one logit per sample, ``(N,)``."""

    def __call__(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class Autoencoder(Encoder, Decoder, Protocol):
    """An encoder and decoder whose ``forward(x)`` reconstructs ``x``."""

    def __call__(self, x: Tensor) -> Tensor: ...


def is_gan(model: object) -> bool:
    """True when ``model`` exposes a ``.generator`` and a ``.discriminator`` submodule."""
    return isinstance(getattr(model, "generator", None), Generator) and callable(
        getattr(model, "discriminator", None)
    )
