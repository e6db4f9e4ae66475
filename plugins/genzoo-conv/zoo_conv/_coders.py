"""The convolutional encoder and decoder that ``conv-ae`` and ``conv-vae`` share, with their config fields.

Each of the ``len(channels)`` stages halves (encoder) or doubles (decoder) the image with a 4x4 stride-2
convolution followed by a 3x3 convolution, each followed by the activation. Between them sits the bottleneck:

- ``"dense"``: the last feature map is flattened to a ``latent_dim`` vector (a compact code, the best sampler
  for a VAE); the model then takes exactly ``data_shape``;
- ``"spatial"``: a 1x1 convolution to ``latent_channels`` maps of size ``(H / 2^s, W / 2^s)``; the code is that
  map flattened, and ``forward`` is fully convolutional: it reconstructs any image whose sides are multiples of
  ``2^s``, not only ``data_shape``.
"""

from __future__ import annotations

from typing import Literal, Self

import pydantic
from pydantic import Field
from torch import Tensor, nn

import zoo
from zoo_conv._layers import Activation, DataShape, Widths, activation_layer, check_strided, conv_count, linear_count


class ConvCoderConfig(zoo.ModelConfig):
    """The fields of the shared encoder and decoder; ``conv-ae`` and ``conv-vae`` add their own."""

    data_shape: DataShape = Field((1, 28, 28), description="(channels, height, width); H and W multiples of "
                                  "2^len(channels)")
    channels: Widths = Field((32, 64), description="channels of each stride-2 stage of the encoder (the decoder "
                             "mirrors them)")
    bottleneck: Literal["dense", "spatial"] = Field(
        "dense", description="a latent_dim vector, or latent_channels maps (fully convolutional)"
    )
    latent_dim: int = Field(32, ge=1, le=4096, description="size of the code (bottleneck 'dense')")
    latent_channels: int = Field(4, ge=1, le=1024, description="channels of the code (bottleneck 'spatial')")
    activation: Activation = Field("leaky_relu", description="activation after every hidden convolution")

    @pydantic.model_validator(mode="after")
    def _check_shape(self) -> Self:
        check_strided(self.data_shape, self.stages)
        return self

    @property
    def stages(self) -> int:
        return len(self.channels)

    def bottom(self) -> tuple[int, int, int]:
        """The encoder's last feature map ``(channels[-1], H / 2^s, W / 2^s)``."""
        return self.channels[-1], self.data_shape[1] >> self.stages, self.data_shape[2] >> self.stages

    def code_size(self) -> int:
        """Size of the flattened code ``encode`` returns."""
        _, h, w = self.bottom()
        return self.latent_dim if self.bottleneck == "dense" else self.latent_channels * h * w

    def encoder_count(self) -> int:
        ins = [self.data_shape[0], *self.channels[:-1]]
        return sum(conv_count(a, b, 4) + conv_count(b, b, 3) for a, b in zip(ins, self.channels, strict=True))

    def head_count(self) -> int:
        """One map from the last feature map to the code (a VAE has two: mean and log-variance)."""
        c, h, w = self.bottom()
        if self.bottleneck == "dense":
            return linear_count(c * h * w, self.latent_dim)
        return conv_count(c, self.latent_channels, 1)

    def decoder_count(self) -> int:
        c, h, w = self.bottom()
        entry = linear_count(self.latent_dim, c * h * w) if self.bottleneck == "dense" else conv_count(
            self.latent_channels, c, 1)
        ins, outs = _decoder_widths(self.channels)
        stages = sum(conv_count(a, b, 4) + conv_count(b, b, 3) for a, b in zip(ins, outs, strict=True))
        return entry + stages + conv_count(self.channels[0], self.data_shape[0], 3)


def _decoder_widths(channels: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """Input and output channels of each decoder stage: the encoder's widths in reverse."""
    reverse = list(reversed(channels))
    return reverse, [*reverse[1:], channels[0]]


class ConvEncoder(nn.Module):
    """Images ``(N, C, H, W)`` -> feature maps ``(N, channels[-1], H / 2^s, W / 2^s)``."""

    def __init__(self, config: ConvCoderConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip([config.data_shape[0], *config.channels[:-1]], config.channels, strict=True):
            layers += [nn.Conv2d(fan_in, fan_out, 4, stride=2, padding=1), activation_layer(config.activation),
                       nn.Conv2d(fan_out, fan_out, 3, padding=1), activation_layer(config.activation)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (N, channels[-1], H / 2^s, W / 2^s)


class ConvDecoder(nn.Module):
    """Feature maps ``(N, channels[-1], h, w)`` -> images ``(N, C, h 2^s, w 2^s)`` (no output activation)."""

    def __init__(self, config: ConvCoderConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(*_decoder_widths(config.channels), strict=True):
            layers += [nn.ConvTranspose2d(fan_in, fan_out, 4, stride=2, padding=1),
                       activation_layer(config.activation),
                       nn.Conv2d(fan_out, fan_out, 3, padding=1), activation_layer(config.activation)]
        layers.append(nn.Conv2d(config.channels[0], config.data_shape[0], 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)  # (N, C, h 2^s, w 2^s)


def code_head(config: ConvCoderConfig) -> nn.Module:
    """Last feature map -> code: flattened then linear (dense), or a 1x1 convolution to latent maps (spatial)."""
    c, h, w = config.bottom()
    if config.bottleneck == "dense":
        return nn.Sequential(nn.Flatten(1), nn.Linear(c * h * w, config.latent_dim))
    return nn.Conv2d(c, config.latent_channels, 1)


def code_entry(config: ConvCoderConfig) -> nn.Module:
    """Code -> the decoder's first feature map (with the activation)."""
    c, h, w = config.bottom()
    if config.bottleneck == "dense":
        return nn.Sequential(nn.Linear(config.latent_dim, c * h * w), activation_layer(config.activation),
                             nn.Unflatten(1, (c, h, w)))
    return nn.Sequential(nn.Conv2d(config.latent_channels, c, 1), activation_layer(config.activation))


def code_map_shape(config: ConvCoderConfig) -> tuple[int, ...]:
    """The shape of one code as the decoder's entry takes it: ``(latent_dim,)`` or ``(latent_channels, h, w)``."""
    _, h, w = config.bottom()
    return (config.latent_dim,) if config.bottleneck == "dense" else (config.latent_channels, h, w)
