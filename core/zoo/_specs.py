"""What plugins hand to zoo: descriptions of models and datasets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from zoo._names import NAME_PATTERN, check_name
from zoo.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel
    from torch import Tensor, nn

Split = Literal["train", "test"]


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One architecture a plugin provides; ``name``, ``config`` and ``build`` are all it needs.

    ``config`` is a pydantic model class that forbids extra keys (``zoo.ModelConfig`` adds a parameter
    budget); ``build(config)`` returns an untrained ``nn.Module``. The rest is optional:

    - ``objective``: how the generic trainer trains it, a callable ``(model) -> Objective``. When None the
      trainer derives it from the protocols the model implements (GAN: adversarial, variational autoencoder:
      ELBO, autoencoder: reconstruction, classifier: cross-entropy); a model of any other family must name one.
    - ``kind``: the family shown by ``zoo list`` and in model cards, any name such as ``"flow"``; when None the
      registry derives it from the protocols (``zoo.protocols.family_of``), or shows ``"model"``. To do so
      it builds the model once when the registry is built, on the meta device (allocating nothing); a spec
      that names both ``kind`` and ``objective`` is never built there.
    - ``test_config``: overrides that make a small instance, which the shipped contract tests build
      (``pytest --pyargs zoo.testing.test_contract``); give several in ``test_configs`` to reach optional layers.
    - ``recipe``: the training defaults this architecture recommends, a partial ``zoo.train.TrainConfig`` as
      nested dicts, e.g. ``{"optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]}}``. Checked against the training
      config when the plugin registers; shown by ``zoo info`` and ``zoo train NAME --help``; applied by
      ``zoo train`` and ``zoo.train.train()`` to every field the user leaves unset, and recorded in the run.
    """

    name: str
    config: type[BaseModel]
    build: Callable[[Any], nn.Module]
    kind: str | None = None
    description: str = ""
    objective: Callable[[Any], Any] | None = None
    # Dicts are unhashable: leave them out of the spec's hash.
    test_config: dict[str, Any] = field(default_factory=dict, hash=False)
    test_configs: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    recipe: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_name(self.name, "model")
        if self.kind is not None and (not isinstance(self.kind, str) or not NAME_PATTERN.match(self.kind)):
            raise ConfigError(
                f"model {self.name!r}: kind {self.kind!r} is not a family name; use lowercase letters, digits, "
                "'-' or '_' (e.g. 'flow'), or leave it out to have it derived from the model's protocols"
            )
        if not callable(self.build):
            raise ConfigError(f"model {self.name!r}: build must be callable as build(config), got {self.build!r}")
        if self.objective is not None and not callable(self.objective):
            raise ConfigError(f"model {self.name!r}: objective must be a callable (model) -> Objective, got "
                              f"{self.objective!r}")
        for overrides in (self.test_config, *self.test_configs):
            if not isinstance(overrides, dict) or not all(isinstance(k, str) for k in overrides):
                raise ConfigError(f"model {self.name!r}: test configs must be dicts of field overrides, got "
                                  f"{overrides!r}")
        if not isinstance(self.recipe, dict) or not all(isinstance(k, str) for k in self.recipe):
            raise ConfigError(f"model {self.name!r}: recipe must be a dict of training fields, e.g. "
                              f"{{'optimizer': {{'lr': 2e-4}}}}, got {self.recipe!r}")

    @property
    def small_configs(self) -> list[dict[str, Any]]:
        """The overrides the contract tests build: ``test_config`` first, then each of ``test_configs``."""
        return [dict(self.test_config), *(dict(c) for c in self.test_configs)]


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
    """One dataset a plugin provides; ``load(split)`` returns :class:`Data` for "train" or "test".

    ``classifier`` names the classifier (a source ``zoo.load`` takes, e.g. ``"digit-cnn.mnist5k"``) whose
    feature space evaluation scores generated samples of this dataset in; None: callers must pass one.
    ``augment`` is a random, shape-preserving transform of a batch of training images ``(N, C, H, W)`` (flips,
    shifts, crops of a padded image), on the training device; the trainer applies it to every training batch
    of this dataset, never to the test split or to evaluation. None: batches are used as they are.
    """

    name: str
    load: Callable[[Split], Data]
    description: str = ""
    classifier: str | None = None
    # The Hugging Face Hub dataset it comes from (e.g. "ylecun/mnist"), for model cards' `datasets:`; None if none.
    hub_dataset: str | None = None
    augment: Callable[[Tensor], Tensor] | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "dataset")
        if self.augment is not None and not callable(self.augment):
            raise ConfigError(f"dataset {self.name!r}: augment must be a callable (images) -> images, got "
                              f"{self.augment!r}")
        if self.classifier is not None and (not isinstance(self.classifier, str) or not self.classifier):
            raise ConfigError(f"dataset {self.name!r}: classifier must name a model source, got {self.classifier!r}")
