"""``zoo.train.train``: from a name (or model) and a TrainConfig to a finished run directory."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

from zoo._protocols import data_shape_of
from zoo._registry import get_registry
from zoo._specs import Data
from zoo.errors import ZooError
from zoo.train._callbacks import Callback, EarlyStopping, MetricsLog, Progress, RunArtifacts, SampleSnapshots
from zoo.train._config import TrainConfig
from zoo.train._distributed import Distributed
from zoo.train._objectives import objective_for
from zoo.train._trainer import RunResult, Trainer

logger = logging.getLogger("zoo.train")


def plugin_callbacks(config: TrainConfig) -> list[Callback]:
    """Callbacks contributed by plugins' ``zoo_callbacks`` hook; a raising or mistyped hook is logged and skipped
    (fatal with ZOO_STRICT_PLUGINS=1), see :func:`zoo._registry.plugin_callbacks`."""
    from zoo._registry import plugin_callbacks as from_plugins

    return cast(list[Callback], from_plugins(config))


def train(model: nn.Module | str, config: TrainConfig | None = None, *, resume: bool = False, quiet: bool = False,
          callbacks: Sequence[Callback] = (), **model_overrides: Any) -> RunResult:
    """Train ``model`` (a zoo model, or an architecture name built with ``model_overrides``) per ``config``."""
    import zoo
    from zoo.data import check_compatible, load_dataset

    config = config or TrainConfig()
    if isinstance(model, str):
        torch.manual_seed(config.seed)  # the initial weights are part of what the seed reproduces
        model = zoo.create(model, **model_overrides)
    elif model_overrides:
        raise TypeError("model overrides apply only when the model is given by name")
    name = getattr(model, "architecture", type(model).__name__)
    spec = get_registry().model(name) if isinstance(name, str) and name in get_registry().models else None
    objective = objective_for(model, spec.objective if spec else None)

    train_data = load_dataset(config.data, "train", stream=None)  # streamed from disk when too large for memory
    data_shape = data_shape_of(model)
    if data_shape is not None:
        check_compatible(data_shape, train_data.images if isinstance(train_data, Data) else train_data,
                         where=config.data)
    try:
        test_data = load_dataset(config.data, "test", stream=None)
    except ZooError:
        test_data = train_data[:64]

    dist = Distributed.from_environment(config.device)
    pictured = test_data.spread(64).images.to(dist.device)
    metrics = MetricsLog()
    everything: list[Callback] = [metrics, Progress(quiet=quiet)]
    if config.sample_every:
        everything.append(SampleSnapshots(pictured, every=config.sample_every))
    if config.early_stopping_patience:
        everything.append(EarlyStopping(test_data, patience=config.early_stopping_patience))
    everything += [*plugin_callbacks(config), *callbacks, RunArtifacts(pictured, metrics)]
    trainer = Trainer(model, objective, config, train_data, name=str(name), callbacks=everything, dist=dist)
    try:
        return trainer.fit(resume=resume)
    finally:
        dist.close()
