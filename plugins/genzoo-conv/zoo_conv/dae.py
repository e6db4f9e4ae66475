"""A blind convolutional denoiser in the style of DnCNN (Zhang et al. 2017): a residual net predicting the noise.

``depth`` 3x3 convolutions of ``width`` channels (ReLU between, optional BatchNorm) estimate the noise in the
input, and ``forward`` returns the input minus that estimate. Every layer is a stride-1 convolution, so the model
is fully convolutional: trained on 32x32 or 64x64 crops, it denoises a whole photograph of any size.
``data_shape`` only says which crops it trains and is evaluated on (and the channel count every input needs).

Training corrupts each clean image with Gaussian noise of a standard deviation drawn per image, uniformly in
``noise_range`` (blind denoising: one model for every level in it), and reconstructs the clean image (MSE);
``channel_shuffle`` reorders the channels of some training images first, so that colour is no prior.
The model has no bottleneck: its code (``encode``) is the denoised image itself, flattened, and ``decode``
reshapes it back, so that the tools made for autoencoders (``zoo reconstruct``, ``zoo eval``'s denoising
metrics) use it as they are.
"""

from __future__ import annotations

from typing import Annotated, Self

import pydantic
import torch
from pydantic import BeforeValidator, Field
from torch import Tensor, nn

import zoo
from zoo_conv._layers import DataShape, conv_count, norm_count, rand, randn

Sigma = Annotated[float, Field(ge=0.0, le=1.0)]


def _list_to_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


class ConvDAEConfig(zoo.ModelConfig):
    data_shape: DataShape = Field((1, 28, 28), description="(channels, height, width) of the training crops; any "
                                  "size is denoised")
    depth: int = Field(10, ge=2, le=64, description="3x3 convolutions in the residual net (DnCNN: 17 to 20)")
    width: int = Field(64, ge=1, le=512, description="channels of every hidden convolution")
    batchnorm: bool = Field(True, description="BatchNorm after every hidden convolution but the first")
    downscale: int = Field(1, ge=1, le=4, description="run the net on pixel-unshuffled s x s blocks (FFDNet): "
                           "s*s*C channels at 1/s the size, about 1/s^2 the compute per pixel and s times the "
                           "receptive field; other sizes are reflection-padded to a multiple of s")
    noise_range: Annotated[tuple[Sigma, Sigma], BeforeValidator(_list_to_tuple)] = Field(
        (5 / 255, 50 / 255), description="training noise: a Gaussian standard deviation drawn per image, "
        "uniformly in [low, high] (a blind denoiser); equal bounds train for one level"
    )
    channel_shuffle: float = Field(
        0.0, ge=0.0, le=1.0, description="training augmentation: the probability that an image's channels are put "
        "in a random order (target and input alike), so that a colour denoiser learns no colour prior from its "
        "few training photographs; no effect on 1-channel data"
    )

    @pydantic.model_validator(mode="after")
    def _check_noise_range(self) -> Self:
        low, high = self.noise_range
        if low > high:
            raise ValueError(f"noise_range ({low:g}, {high:g}): the low bound exceeds the high one; give "
                             f"({high:g}, {low:g})")
        return self

    def parameter_count(self) -> int:
        c, w, bn = self.data_shape[0] * self.downscale**2, self.width, self.batchnorm
        hidden = (self.depth - 2) * (conv_count(w, w, 3, bias=not bn) + (norm_count(w) if bn else 0))
        return conv_count(c, w, 3) + hidden + conv_count(w, c, 3)


class ConvDAE(nn.Module):
    """``forward``: noisy images ``(N, C, H, W)`` of any size -> denoised ``(N, C, H, W)``; ``corrupt`` adds the
    training noise."""

    def __init__(self, *, config: ConvDAEConfig) -> None:
        super().__init__()
        self.config = config
        c, w, bn = config.data_shape[0] * config.downscale**2, config.width, config.batchnorm
        layers: list[nn.Module] = [nn.Conv2d(c, w, 3, padding=1), nn.ReLU()]
        for _ in range(config.depth - 2):
            layers.append(nn.Conv2d(w, w, 3, padding=1, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.ReLU())
        layers.append(nn.Conv2d(w, c, 3, padding=1))
        self.noise = nn.Sequential(*layers)

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def nearest_size(self, height: int, width: int) -> tuple[int, int]:
        """Every size is taken: ``forward`` is stride-1 convolutions (zoo.FlexibleSize)."""
        return height, width

    def forward(self, x: Tensor) -> Tensor:
        channels = self.config.data_shape[0]
        if x.ndim != 4 or x.shape[1] != channels:
            raise ValueError(f"expected images of shape (N, {channels}, H, W) (any H, W), got {tuple(x.shape)}")
        out = x - self._noise_estimate(x)  # (N, C, H, W): the input less the estimated noise
        # Clipped outside training only: in training the loss sees the raw estimate, so saturated pixels still learn.
        return out if self.training else out.clamp(0.0, 1.0)

    def _noise_estimate(self, x: Tensor) -> Tensor:
        s = self.config.downscale
        if s == 1:
            return self.noise(x)
        height, width = x.shape[2], x.shape[3]
        pad_h, pad_w = -height % s, -width % s
        if pad_h or pad_w:  # reflection needs a pad smaller than the side; replicate covers tiny images
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        blocks = nn.functional.pixel_unshuffle(x, s)  # (N, C*s*s, H/s, W/s)
        return nn.functional.pixel_shuffle(self.noise(blocks), s)[:, :, :height, :width]

    def encode(self, x: Tensor) -> Tensor:
        return self(x).flatten(1)  # (N, C*H*W): the denoised image is the code

    def decode(self, z: Tensor) -> Tensor:
        return z.view(-1, *self.config.data_shape)  # (N, C, H, W)

    def shuffle_channels(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """``x`` ``(N, C, H, W)`` with each image's channels in a random order, with probability
        ``channel_shuffle`` per image (``Reconstruction``'s ``transform`` in training)."""
        n, c = x.shape[0], x.shape[1]
        if c < 2 or self.config.channel_shuffle == 0:
            return x
        order = rand(n, c, device=x.device, dtype=torch.float32, generator=generator).argsort(dim=1)  # (N, C)
        shuffled = x.gather(1, order.view(n, c, 1, 1).expand_as(x))
        chosen = rand(n, 1, 1, 1, device=x.device, dtype=torch.float32, generator=generator)
        return torch.where(chosen < self.config.channel_shuffle, shuffled, x)  # (N, C, H, W)

    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """``x`` ``(N, C, H, W)`` plus Gaussian noise of a per-image std drawn in ``noise_range``, clipped to [0, 1]."""
        low, high = self.config.noise_range
        sigma = low + (high - low) * rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype, generator=generator)
        noise = randn(*x.shape, device=x.device, dtype=x.dtype, generator=generator)
        return (x + sigma * noise).clamp(0.0, 1.0)  # (N, C, H, W)
