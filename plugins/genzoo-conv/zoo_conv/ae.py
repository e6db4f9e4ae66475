"""A convolutional autoencoder: strided-convolution encoder, transposed-convolution decoder.

With ``bottleneck="spatial"`` it is fully convolutional: ``forward`` reconstructs an image of any size whose
sides are multiples of ``2^len(channels)`` (``nearest_size`` says so to the tools: ``zoo reconstruct`` runs it on
whole photographs); ``encode`` and ``decode`` work on ``data_shape`` (see :mod:`zoo_conv._coders`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor, nn

from zoo_conv._coders import ConvCoderConfig, ConvDecoder, ConvEncoder, code_entry, code_head, code_map_shape


class ConvAEConfig(ConvCoderConfig):
    loss: Literal["mse", "bce"] = Field("mse", description="reconstruction loss used in training")

    def parameter_count(self) -> int:
        return self.encoder_count() + self.head_count() + self.decoder_count()


def check_input(x: Tensor, config: ConvCoderConfig, *, any_size: bool) -> None:
    """Refuse an input the model cannot take, naming the shape it needs."""
    step = 2**config.stages
    channels = config.data_shape[0]
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"expected images of shape (N, {channels}, H, W), got {tuple(x.shape)}")
    if any_size:
        if x.shape[2] % step or x.shape[3] % step:
            raise ValueError(f"image sides must be multiples of {step} ({config.stages} stride-2 stages); got "
                             f"{x.shape[2]}x{x.shape[3]}: crop or pad them")
    elif tuple(x.shape[1:]) != tuple(config.data_shape):
        raise ValueError(f"expected images of shape (N, {', '.join(map(str, config.data_shape))}), got "
                         f"{tuple(x.shape)} (a 'spatial' bottleneck takes any multiple of {step})")


def nearest_size(config: ConvCoderConfig, height: int, width: int) -> tuple[int, int]:
    """The size ``forward`` takes nearest to ``height`` x ``width`` (zoo.FlexibleSize): ``data_shape``'s with a dense
    bottleneck, else each side rounded to the nearest multiple of ``2^stages`` (one at least)."""
    if config.bottleneck == "dense":
        return config.data_shape[1], config.data_shape[2]
    step = 2**config.stages
    return max(step, (height + step // 2) // step * step), max(step, (width + step // 2) // step * step)


class ConvAE(nn.Module):
    """``encode``: images ``(N, C, H, W)`` -> codes ``(N, code_size)``; ``decode``: codes -> images in [0, 1]."""

    def __init__(self, *, config: ConvAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ConvEncoder(config)
        self.to_code = code_head(config)
        self.from_code = code_entry(config)
        self.decoder = ConvDecoder(config)
        self._code_shape = code_map_shape(config)

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def nearest_size(self, height: int, width: int) -> tuple[int, int]:
        return nearest_size(self.config, height, width)

    def encode(self, x: Tensor) -> Tensor:
        check_input(x, self.config, any_size=False)
        return self.to_code(self.encoder(x)).flatten(1)  # (N, code_size)

    def decode(self, z: Tensor) -> Tensor:
        h = self.from_code(z.view(-1, *self._code_shape))  # (N, channels[-1], H / 2^s, W / 2^s)
        return self.decoder(h).sigmoid()  # (N, C, H, W) in [0, 1]

    def forward(self, x: Tensor) -> Tensor:
        if self.config.bottleneck == "dense":
            return self.decode(self.encode(x))  # (N, C, H, W)
        check_input(x, self.config, any_size=True)
        return self.decoder(self.from_code(self.to_code(self.encoder(x)))).sigmoid()  # (N, C, H, W), any H, W
