"""A dense (fully connected) autoencoder.

The default config is the reference design: encoder ``Linear(784, 64) + ReLU``, decoder
``Linear(64, 64) + ReLU -> Linear(64, 784)`` with a linear output (``output_activation="sigmoid"`` keeps
reconstructions inside [0, 1], and is required for the binary cross-entropy loss).
"""

from __future__ import annotations

import math
from typing import Literal, Self

import pydantic
from pydantic import Field
from torch import Tensor, nn

import zoo
from zoo_dense._layers import (
    Activation,
    DataShape,
    Hidden,
    Width,
    flatten_data,
    like_input,
    mlp,
    mlp_parameter_count,
)


class DenseAEConfig(zoo.ModelConfig):
    data_shape: DataShape = Field((1, 28, 28), description="(channels, height, width) of the data")
    encoder_hidden: Hidden = Field((), description="hidden widths between the input and the latent")
    latent_dim: Width = 64
    latent_activation: Activation | Literal["none"] = Field("relu", description="applied to the latent code")
    decoder_hidden: Hidden = Field((64,), description="hidden widths between the latent and the output")
    activation: Activation = Field("relu", description="activation of the hidden layers")
    loss: Literal["mse", "bce"] = Field("mse", description="reconstruction loss used in training")
    output_activation: Literal["none", "sigmoid"] = Field(
        "none", description="after the last decoder layer; 'none' is the reference's linear output"
    )
    initialization: Literal["glorot", "pytorch"] = Field(
        "glorot", description="initial weights: Glorot-uniform with zero biases (the reference, Keras' default) "
        "or nn.Linear's own"
    )

    @property
    def features(self) -> int:
        return math.prod(self.data_shape)

    @pydantic.model_validator(mode="after")
    def _bce_needs_probabilities(self) -> Self:
        if self.loss == "bce" and self.output_activation != "sigmoid":
            raise ValueError("loss 'bce' needs outputs in [0, 1]: set output_activation to 'sigmoid'")
        return self

    def parameter_count(self) -> int:
        encoder = mlp_parameter_count([self.features, *self.encoder_hidden, self.latent_dim])
        decoder = mlp_parameter_count([self.latent_dim, *self.decoder_hidden, self.features])
        return encoder + decoder


class DenseAE(nn.Module):
    """``encode``: data ``(N, C, H, W)`` or flat ``(N, C*H*W)`` -> ``(N, latent_dim)``; ``decode`` back to
    ``(N, C, H, W)``; ``forward`` reconstructs in the caller's layout (flat in, flat out)."""

    def __init__(self, *, config: DenseAEConfig) -> None:
        super().__init__()
        self.config = config
        latent_activation = None if config.latent_activation == "none" else config.latent_activation
        self.encoder = mlp(
            [config.features, *config.encoder_hidden, config.latent_dim],
            activation=config.activation,
            final_activation=latent_activation,
            initialization=config.initialization,
        )
        self.decoder = mlp(
            [config.latent_dim, *config.decoder_hidden, config.features],
            activation=config.activation,
            initialization=config.initialization,
        )

    def encode(self, x: Tensor) -> Tensor:
        x = flatten_data(x, self.config.data_shape)  # (N, C*H*W)
        return self.encoder(x)  # (N, latent_dim)

    def decode(self, z: Tensor) -> Tensor:
        out = self.decoder(z)  # (N, C*H*W)
        if self.config.output_activation == "sigmoid":
            out = out.sigmoid()
        return out.unflatten(1, self.config.data_shape)  # (N, C, H, W)

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def forward(self, x: Tensor) -> Tensor:
        return like_input(self.decode(self.encode(x)), x)  # (N, C, H, W), or (N, C*H*W) for flat x
