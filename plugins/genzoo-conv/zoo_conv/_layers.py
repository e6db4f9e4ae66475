"""Pieces the convolutional models share: the bounded image-shape field, the stride check that names the nearest
valid size, parameter counts of the layers used, and noise drawn where a ``torch.Generator`` lives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, Self

import torch
from pydantic import BeforeValidator, Field
from torch import Tensor, nn

Activation = Literal["relu", "leaky_relu", "gelu", "silu"]

LEAKY_SLOPE = 0.2
# Sizes every conv model accepts: any channel count up to 64 (RGB, RGBA, multispectral), sides up to 1024.
MAX_CHANNELS = 64
MAX_SIDE = 1024
MAX_STAGES = 6


def _list_to_tuple(value: Any) -> Any:
    # config.json and CLI overrides carry JSON arrays; strict mode would otherwise refuse them for tuples.
    return tuple(value) if isinstance(value, list) else value


Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]
DataShape = Annotated[
    tuple[Annotated[int, Field(ge=1, le=MAX_CHANNELS)], Side, Side],
    BeforeValidator(_list_to_tuple),
]
Width = Annotated[int, Field(ge=1, le=1024)]
Widths = Annotated[tuple[Width, ...], BeforeValidator(_list_to_tuple), Field(min_length=1, max_length=MAX_STAGES)]


def check_strided(shape: tuple[int, int, int], stages: int) -> None:
    """Refuse a ``(C, H, W)`` that ``stages`` stride-2 stages cannot halve exactly, naming the nearest valid sides.

    Raises ValueError (zoo turns it into a ConfigError): ``data_shape (3, 30, 32): height 30 is not a multiple of
    4 = 2^2 (each stride-2 stage halves it): use 28 or 32; or change the number of stages``.
    """
    step = 2**stages
    problems = []
    for axis, side in (("height", shape[1]), ("width", shape[2])):
        if side % step:
            lower, upper = side - side % step, side - side % step + step
            nearest = f"{lower} or {upper}" if lower >= step else f"{upper}"
            problems.append(f"{axis} {side} is not a multiple of {step} = 2^{stages} (each stride-2 stage halves "
                            f"it): use {nearest}")
    if problems:
        raise ValueError(f"data_shape {tuple(shape)}: {'; '.join(problems)}; or change the number of stages")


class GANWithEMA(nn.Module):
    """The shell both conv GANs share: ``.generator``, ``.discriminator`` and ``.generator_ema`` (a frozen copy of
    the generator that the objective moves toward it, or None when ``ema_decay`` is 0), built by ``make_generator``
    and ``make_discriminator`` from ``config``."""

    def __init__(self, config: Any, make_generator: Callable[[], nn.Module],
                 make_discriminator: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.config = config
        self.generator = make_generator()
        self.discriminator = make_discriminator()
        self.generator_ema: nn.Module | None = None
        if config.ema_decay > 0:
            # A submodule, so it is saved with the model; the objective moves it toward the generator.
            self.generator_ema = make_generator()
            self.generator_ema.load_state_dict(self.generator.state_dict())
            self.generator_ema.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> Self:
        super().train(mode)
        if self.generator_ema is not None:
            self.generator_ema.eval()  # never trained: its BatchNorm always uses the running statistics
        return self

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return tuple(self.config.data_shape)

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator samples come from: the moving-average copy when there is one."""
        return self.generator_ema if self.generator_ema is not None else self.generator


class MinibatchStd(nn.Module):
    """Appends one channel holding the batch's mean per-feature standard deviation (Karras et al. 2018), so that
    the discriminator sees how varied a batch is and a generator that collapses to a few images is caught.

    ``(N, C, H, W)`` -> ``(N, C + 1, H, W)``. Real and fake batches go through the discriminator in separate
    calls, so each is compared with its own spread; a batch of one has spread 0.
    """

    def forward(self, x: Tensor) -> Tensor:
        spread = x.std(dim=0, unbiased=False).mean()  # scalar; 0 for a batch of one
        return torch.cat([x, spread.expand(len(x), 1, *x.shape[2:])], dim=1)


def activation_layer(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_SLOPE)
    if name == "gelu":
        return nn.GELU()
    if name == "silu":
        return nn.SiLU()
    raise ValueError(f"unknown activation {name!r}; expected one of relu, leaky_relu, gelu, silu")


def maybe_spectral(layer: nn.Module, enabled: bool) -> nn.Module:
    """``layer`` with spectral normalization of its weight when ``enabled`` (no extra parameters, two buffers)."""
    return nn.utils.parametrizations.spectral_norm(layer) if enabled else layer


# Parameter counts of the layers above, so that configs can refuse an over-budget model before building it.
def conv_count(fan_in: int, fan_out: int, kernel: int, *, bias: bool = True) -> int:
    return fan_in * fan_out * kernel * kernel + (fan_out if bias else 0)


def linear_count(fan_in: int, fan_out: int, *, bias: bool = True) -> int:
    return fan_in * fan_out + (fan_out if bias else 0)


def norm_count(channels: int) -> int:
    return 2 * channels  # BatchNorm's weight and bias


def randn(*size: int, device: torch.device, dtype: torch.dtype, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise on ``device``, drawn where ``generator`` lives, so that a CPU generator seeds a model
    on any device with the same numbers."""
    source = generator.device if generator is not None else device
    return torch.randn(size, generator=generator, device=source, dtype=dtype).to(device)


def rand(*size: int, device: torch.device, dtype: torch.dtype, generator: torch.Generator | None = None) -> Tensor:
    """Uniform [0, 1) noise on ``device``, drawn where ``generator`` lives (see :func:`randn`)."""
    source = generator.device if generator is not None else device
    return torch.rand(size, generator=generator, device=source, dtype=dtype).to(device)


def randint(high: int, n: int, *, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """``n`` integers uniform in ``0 .. high - 1`` on ``device``, drawn where ``generator`` lives."""
    source = generator.device if generator is not None else device
    return torch.randint(0, high, (n,), generator=generator, device=source).to(device)
