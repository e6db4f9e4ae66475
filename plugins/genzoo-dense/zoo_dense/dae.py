"""A dense denoising autoencoder: the dense autoencoder trained to undo a corruption of its input.

``forward`` reconstructs its input as given; the training objective corrupts the input with
:meth:`DenseDAE.corrupt` and scores the reconstruction against the clean data.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from zoo_dense._layers import rand, randn
from zoo_dense.ae import DenseAE, DenseAEConfig


class DenseDAEConfig(DenseAEConfig):
    corruption: Literal["gaussian", "masking"] = Field(
        "gaussian", description="add Gaussian noise, or zero out input values at random"
    )
    noise_level: float = Field(
        0.3, ge=0.0, le=1.0, description="noise std (gaussian) or probability a value is dropped (masking)"
    )
    augment_translation: float = Field(
        0.0, ge=0.0, le=0.25, description="in training, shift each clean image by up to this fraction of its "
        "size (2/28 = +-2 pixels) before corrupting it; the shifted image is the target"
    )


class DenseDAE(DenseAE):
    """Same layers as :class:`DenseAE`, plus :meth:`corrupt` for training."""

    config: DenseDAEConfig

    def __init__(self, *, config: DenseDAEConfig) -> None:
        super().__init__(config=config)

    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """A corrupted copy of ``x`` ``(N, C, H, W)``, clipped to [0, 1]."""
        noise_level = self.config.noise_level
        if self.config.corruption == "gaussian":
            noise = randn(*x.shape, device=x.device, dtype=x.dtype, generator=generator)
            return (x + noise_level * noise).clamp(0.0, 1.0)
        keep = rand(*x.shape, device=x.device, dtype=x.dtype, generator=generator) >= noise_level
        return (x * keep).clamp(0.0, 1.0)
