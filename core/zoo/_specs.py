"""What plugins hand to zoo: descriptions of models and datasets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from zoo.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor, nn

    from zoo._config import ModelConfig

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ModelKind = Literal["autoencoder", "gan", "classifier"]
Split = Literal["train", "test"]


def check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{what} name {name!r} is invalid: use 1-64 lowercase letters, digits, '-' or '_' "
            "(a '.' separates an architecture from a pretrained tag)"
        )


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One architecture a plugin provides.

    ``build(config)`` returns an untrained ``nn.Module`` whose ``.config`` is ``config``. ``objective`` names
    how the generic trainer trains it (a callable ``(model) -> Objective``); when None the trainer derives it
    from the protocols the model implements (autoencoder: reconstruction, GAN: adversarial).
    """

    name: str
    config: type[ModelConfig]
    build: Callable[[Any], nn.Module]
    kind: ModelKind
    description: str = ""
    objective: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "model")
        if self.kind not in ("autoencoder", "gan", "classifier"):
            raise ConfigError(f"model {self.name!r}: kind {self.kind!r} must be 'autoencoder', 'gan' or 'classifier'")


@dataclass(frozen=True)
class Data:
    """A split of a dataset: ``images`` float32 ``(N, C, H, W)`` in [0, 1], ``labels`` int64 ``(N,)`` or None."""

    images: Tensor
    labels: Tensor | None = None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: Any) -> Data:
        """Rows of both images and labels (an index tensor or a slice)."""
        return Data(self.images[index], None if self.labels is None else self.labels[index])

    def spread(self, n: int) -> Data:
        """``n`` rows evenly spaced through the split (datasets such as mnist-5k are sorted by class)."""
        import torch

        return self[torch.linspace(0, len(self) - 1, min(n, len(self))).long()]

    def to(self, device: Any) -> Data:
        return Data(self.images.to(device), None if self.labels is None else self.labels.to(device))


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """One dataset a plugin provides; ``load(split)`` returns :class:`Data` for "train" or "test"."""

    name: str
    load: Callable[[Split], Data]
    description: str = ""

    def __post_init__(self) -> None:
        check_name(self.name, "dataset")
