"""A dataset's ``augment`` (``zoo.DatasetSpec``) is applied by the trainer to every training batch, and only there.

The generic hook the ``photos`` dataset needs for its training-time crops and flips; checked here on a dataset of
this module's own, so that it needs no scikit-image.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import Tensor

import zoo

pytestmark = pytest.mark.conv

CALLS: list[tuple[int, ...]] = []


def _augment(images: Tensor) -> Tensor:
    CALLS.append(tuple(images.shape))
    return images.flip(3)


def _load(split: str) -> zoo.Data:
    return zoo.Data(images=torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(0)))


@zoo.hookimpl
def zoo_datasets() -> list[zoo.DatasetSpec]:
    return [zoo.DatasetSpec(name="augmented-probe", load=_load, augment=_augment)]


@pytest.fixture
def registered() -> Iterator[None]:
    zoo.register_plugin(sys.modules[__name__], name="augmented-probe")
    CALLS.clear()
    try:
        yield
    finally:
        zoo.unregister_plugin("augmented-probe")


def test_the_trainer_augments_every_training_batch(registered: None, tmp_path: Path) -> None:
    from zoo.train import TrainConfig, train

    train("conv-ae", TrainConfig(data="augmented-probe", steps=3, batch_size=4, out=str(tmp_path / "run")),
          quiet=True, data_shape=(1, 8, 8), channels=(2,), latent_dim=2)
    assert CALLS == [(4, 1, 8, 8)] * 3  # training batches only: evaluation and pictures are never augmented


def test_augment_must_be_callable() -> None:
    with pytest.raises(zoo.errors.ConfigError, match="augment"):
        zoo.DatasetSpec(name="x", load=_load, augment="flip")  # type: ignore[arg-type]
