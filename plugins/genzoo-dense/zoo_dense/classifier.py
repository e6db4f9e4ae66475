"""A small LeNet-like digit classifier: the feature space that ``zoo eval`` scores generated images in.

``conv 3x3 -> ReLU -> conv 3x3 -> ReLU -> max-pool 2 -> dropout -> dense (the feature layer) -> ReLU -> dropout
-> dense (logits)``. :meth:`DigitCNN.features` returns the feature layer's activations, which the Fréchet
distance and precision/recall are computed on.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BeforeValidator, Field
from torch import Tensor, nn

import zoo
from zoo_dense._layers import _list_to_tuple

KERNEL = 3
POOL = 2
# Two unpadded 3x3 convolutions take 4 pixels off each side length, and pooling must leave at least 1.
MIN_SIDE = 2 * (KERNEL - 1) + POOL

ConvShape = Annotated[
    tuple[
        Annotated[int, Field(ge=1, le=4)],
        Annotated[int, Field(ge=MIN_SIDE, le=256)],
        Annotated[int, Field(ge=MIN_SIDE, le=256)],
    ],
    BeforeValidator(_list_to_tuple),
]
Channels = Annotated[
    tuple[Annotated[int, Field(ge=1, le=512)], Annotated[int, Field(ge=1, le=512)]],
    BeforeValidator(_list_to_tuple),
]


class DigitCNNConfig(zoo.ModelConfig):
    data_shape: ConvShape = Field((1, 28, 28), description="(channels, height, width) of the data")
    channels: Channels = Field((32, 64), description="output channels of the two 3x3 convolutions")
    feature_dim: int = Field(128, ge=1, le=4096, description="width of the feature layer (the penultimate one)")
    num_classes: int = Field(10, ge=2, le=1000)
    dropout: float = Field(0.25, ge=0.0, le=0.9, description="dropout after pooling")
    feature_dropout: float = Field(0.5, ge=0.0, le=0.9, description="dropout after the feature layer")

    @property
    def pooled_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` after the convolutions and the pooling."""
        _, height, width = self.data_shape
        shrink = 2 * (KERNEL - 1)
        return self.channels[1], (height - shrink) // POOL, (width - shrink) // POOL

    def parameter_count(self) -> int:
        c_in = self.data_shape[0]
        c1, c2 = self.channels
        convs = (c_in * KERNEL * KERNEL + 1) * c1 + (c1 * KERNEL * KERNEL + 1) * c2
        dense = (math.prod(self.pooled_shape) + 1) * self.feature_dim + (self.feature_dim + 1) * self.num_classes
        return convs + dense


class DigitCNN(nn.Module):
    """``forward``: images ``(N, C, H, W)`` -> logits ``(N, num_classes)``; ``features``: ``(N, feature_dim)``."""

    def __init__(self, *, config: DigitCNNConfig) -> None:
        super().__init__()
        self.config = config
        c_in = config.data_shape[0]
        c1, c2 = config.channels
        self.trunk = nn.Sequential(
            nn.Conv2d(c_in, c1, KERNEL),
            nn.ReLU(),
            nn.Conv2d(c1, c2, KERNEL),
            nn.ReLU(),
            nn.MaxPool2d(POOL),
            nn.Dropout(config.dropout),
            nn.Flatten(),
        )
        self.feature = nn.Linear(math.prod(config.pooled_shape), config.feature_dim)
        self.head = nn.Sequential(nn.Dropout(config.feature_dropout), nn.Linear(config.feature_dim, config.num_classes))

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def features(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.config.data_shape:
            shape = ", ".join(map(str, self.config.data_shape))
            raise ValueError(f"expected input of shape (N, {shape}), got {tuple(x.shape)}")
        h = self.trunk(x)  # (N, c2 * H' * W'), H' = (H - 4) // 2
        return self.feature(h).relu()  # (N, feature_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))  # (N, num_classes)
