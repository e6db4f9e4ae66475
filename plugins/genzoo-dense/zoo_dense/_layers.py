"""Pieces the dense models share: bounded config field types, an MLP builder and its parameter count."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Annotated, Any, Literal

import torch
from pydantic import AfterValidator, BeforeValidator, Field
from torch import Tensor, nn

Activation = Literal["relu", "leaky_relu", "gelu", "silu"]

# A dense layer over C*H*W inputs: 4x64x64 or 1x128x128 fit, larger images belong to a conv model.
MAX_FEATURES = 16_384
MAX_HIDDEN_LAYERS = 8
LEAKY_SLOPE = 0.2


def _list_to_tuple(value: Any) -> Any:
    # config.json and CLI overrides carry JSON arrays; strict mode would otherwise refuse them for tuples.
    return tuple(value) if isinstance(value, list) else value


def _check_features(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    features = math.prod(shape)
    if features > MAX_FEATURES:
        raise ValueError(
            f"data_shape {shape} flattens to {features:,} values, above the {MAX_FEATURES:,} a dense model "
            "takes; use smaller images or a convolutional model"
        )
    return shape


Width = Annotated[int, Field(ge=1, le=4096)]
Hidden = Annotated[tuple[Width, ...], BeforeValidator(_list_to_tuple), Field(max_length=MAX_HIDDEN_LAYERS)]
DataShape = Annotated[
    tuple[Annotated[int, Field(ge=1, le=4)], Annotated[int, Field(ge=1, le=256)], Annotated[int, Field(ge=1, le=256)]],
    BeforeValidator(_list_to_tuple),
    AfterValidator(_check_features),
]


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


def mlp(
    widths: Sequence[int],
    *,
    activation: str,
    final_activation: str | None = None,
    batchnorm: bool = False,
    dropout: float = 0.0,
    spectral_norm: bool = False,
    initialization: str = "pytorch",
) -> nn.Sequential:
    """Linear layers through ``widths``; hidden layers get [BatchNorm] + activation [+ Dropout].

    ``final_activation`` (or none) follows the last layer. One width gives an empty (identity) Sequential.
    ``initialization`` "glorot" gives Glorot-uniform weights and zero biases (Keras' default), "pytorch"
    keeps ``nn.Linear``'s own.
    """
    layers: list[nn.Module] = []
    last = len(widths) - 2
    for i, (fan_in, fan_out) in enumerate(pairwise(widths)):
        hidden = i < last
        # BatchNorm's shift makes a bias before it redundant.
        linear = nn.Linear(fan_in, fan_out, bias=not (batchnorm and hidden))
        if initialization == "glorot":
            nn.init.xavier_uniform_(linear.weight)
            if linear.bias is not None:
                nn.init.zeros_(linear.bias)
        layers.append(nn.utils.parametrizations.spectral_norm(linear) if spectral_norm else linear)
        if hidden:
            if batchnorm:
                layers.append(nn.BatchNorm1d(fan_out))
            layers.append(activation_layer(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        elif final_activation is not None:
            layers.append(activation_layer(final_activation))
    return nn.Sequential(*layers)


def mlp_parameter_count(widths: Sequence[int], *, batchnorm: bool = False) -> int:
    """Parameters of ``mlp(widths, batchnorm=...)`` (spectral norm and dropout add none)."""
    last = len(widths) - 2
    count = 0
    for i, (fan_in, fan_out) in enumerate(pairwise(widths)):
        hidden = i < last
        count += fan_in * fan_out
        count += 2 * fan_out if batchnorm and hidden else fan_out  # BatchNorm weight+bias, or the Linear bias
    return count


def flatten_data(x: Tensor, data_shape: tuple[int, int, int]) -> Tensor:
    """``(N, C, H, W)`` or flat ``(N, C*H*W)`` -> ``(N, C*H*W)``, refusing other shapes with a readable error."""
    features = math.prod(data_shape)
    if x.ndim == 2 and x.shape[1] == features:
        return x
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(data_shape):
        raise ValueError(f"expected input of shape (N, {', '.join(map(str, data_shape))}) or flat (N, {features}), "
                         f"got {tuple(x.shape)}")
    return x.flatten(1)


def like_input(out: Tensor, x: Tensor) -> Tensor:
    """``out`` ``(N, C, H, W)`` in the caller's layout: flat ``(N, C*H*W)`` when the input ``x`` was flat."""
    return out.flatten(1) if x.ndim == 2 else out


def randn(*size: int, device: torch.device, dtype: torch.dtype, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise on ``device``, drawn where ``generator`` lives.

    Drawing on the generator's device lets a CPU generator seed a model on any device, with the same numbers.
    """
    source = generator.device if generator is not None else device
    return torch.randn(size, generator=generator, device=source, dtype=dtype).to(device)


def rand(*size: int, device: torch.device, dtype: torch.dtype, generator: torch.Generator | None = None) -> Tensor:
    """Uniform [0, 1) noise on ``device``, drawn where ``generator`` lives (see :func:`randn`)."""
    source = generator.device if generator is not None else device
    return torch.rand(size, generator=generator, device=source, dtype=dtype).to(device)
