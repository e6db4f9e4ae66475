"""``zoo.train.train``: from a name (or model) and a TrainConfig to a finished run directory."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from zoo._registry import call_hook, get_registry
from zoo._resolve import create
from zoo._resolve import load as load_model
from zoo._serialization import tensor_differences
from zoo._specs import Data
from zoo._train_config import with_recipe
from zoo.data import StreamedData, check_compatible, load_dataset
from zoo.data._load import training_augment
from zoo.errors import ConfigError, DataError, LoadError, ZooError
from zoo.protocols import ConditionalGenerator, data_shape_of, sampler_of
from zoo.train._callbacks import Callback, EarlyStopping, MetricsLog, Progress, RunArtifacts, SampleSnapshots
from zoo.train._config import TrainConfig
from zoo.train._distributed import Distributed
from zoo.train._objectives import Classification, objective_for
from zoo.train._run_records import prepare_out
from zoo.train._tensorboard import logger_callbacks
from zoo.train._trainer import RunResult, Trainer

logger = logging.getLogger("zoo.train")


def label_classes(model: nn.Module, objective: object, sample: Data) -> int | None:
    """How many classes the labels of the training data may name: a conditional generator's ``num_classes``, a
    classifier's logits (one forward pass of one image); None when the model does not read labels."""
    sampler = sampler_of(model)
    if isinstance(sampler, ConditionalGenerator):
        return int(sampler.num_classes)
    if isinstance(objective, Classification):
        with torch.no_grad():
            logits = model(sample.images[:1].to(next(model.parameters()).device))  # (1, classes)
        return int(logits.shape[-1]) if logits.ndim == 2 else None
    return None


def check_label_range(model: nn.Module, objective: object, *splits: Data | StreamedData, where: str) -> None:
    """A DataError before training, instead of an IndexError inside the loss at some step, when a label is out of
    the model's range."""
    labelled = [split.labels for split in splits if split.labels is not None and len(split.labels)]
    if not labelled:
        return
    classes = label_classes(model, objective, splits[0][:1])
    if classes is None:
        return
    top = max(int(labels.max()) for labels in labelled)
    if top >= classes:
        raise DataError(f"{where}: the labels go up to {top}, but the model has {classes} classes (labels 0 to "
                        f"{classes - 1}); build it for {top + 1} classes (e.g. --set num_classes={top + 1}), or fix "
                        "the labels")


def start_from(model: nn.Module, source: str) -> None:
    """Copy the weights of ``source`` (``TrainConfig.init_from``: a run directory, an entry or a Hub id) into ``model``.

    Every tensor must match by name and shape; anything else is a ConfigError listing the first differences,
    since a partial copy would fine-tune a model that is silently part random.
    """
    try:
        theirs = load_model(source).state_dict()
    except LoadError as exc:  # the same error, saying which option named the source
        raise type(exc)(f"init_from={source!r}: {exc.message}", **exc.fields()) from None
    missing, unexpected, wrong = tensor_differences(model.state_dict(), theirs, source=source)
    if missing or unexpected or wrong:
        parts = [f"{label}: {names[:5]}" + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                 for label, names in (("missing", missing), ("unexpected", unexpected),
                                      ("wrong shape or dtype", wrong)) if names]
        raise ConfigError(f"init_from={source!r}: its weights do not fit this model: {'; '.join(parts)}; start "
                          "from weights of the same architecture and sizes (the model config fields that shape "
                          "tensors must match), or leave init_from unset")
    model.load_state_dict(theirs)
    logger.info("starting from the weights of %s", source)


def plugin_callbacks(config: TrainConfig) -> list[Callback]:
    """Callbacks from every plugin's ``zoo_callbacks(train_config)`` hook.

    A hook that raises or returns anything but a list of :class:`zoo.train.Callback` is skipped with a warning
    naming the plugin and the hook, and marks the plugin broken; fatal with ``ZOO_STRICT_PLUGINS=1``.
    """
    return call_hook("zoo_callbacks", Callback, consequence="; training continues without its callbacks",
                     train_config=config)


def train(model: nn.Module | str, config: TrainConfig | None = None, *, resume: bool = False,
          overwrite: bool = False, quiet: bool = False, callbacks: Sequence[Callback] = (),
          **model_overrides: Any) -> RunResult:
    """Train ``model`` (a zoo model, or an architecture name built with ``model_overrides``) per ``config``.

    The architecture's recipe (``ModelSpec.recipe``) fills every training field ``config`` leaves unset, and
    the run records the result. ``resume=True`` continues the run in ``config.out``; ``overwrite=True``
    replaces the zoo run there (a folder that holds no zoo run is never deleted).
    """
    config = config or TrainConfig()
    if model_overrides and not isinstance(model, str):
        raise TypeError("model overrides apply only when the model is given by name")
    registry = get_registry()
    name = model if isinstance(model, str) else getattr(model, "architecture", type(model).__name__)
    spec = registry.model(name) if isinstance(model, str) else (
        registry.models.get(name) if isinstance(name, str) else None)
    if spec is not None:
        config = with_recipe(config, spec.recipe)  # the architecture's training defaults, under explicit values
    if isinstance(model, str):
        torch.manual_seed(config.seed)  # the initial weights are part of what the seed reproduces
        model = create(model, **model_overrides)
    if config.init_from is not None and not resume:  # a resumed run takes its weights from the checkpoint
        start_from(model, config.init_from)
    prepare_out(config.out, resume=resume, overwrite=overwrite)
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
    check_label_range(model, objective, train_data, test_data, where=config.data)

    dist = Distributed.from_environment(config.device)
    pictured = test_data.spread(64).images.to(dist.device)
    metrics = MetricsLog()
    everything: list[Callback] = [metrics, Progress(quiet=quiet)]
    if config.sample_every:
        everything.append(SampleSnapshots(pictured, every=config.sample_every))
    if config.early_stopping_patience:
        everything.append(EarlyStopping(test_data, patience=config.early_stopping_patience))
    others = [*plugin_callbacks(config), *callbacks]
    everything += [*logger_callbacks(config, pictured, others), *others, RunArtifacts(pictured, metrics)]
    trainer = Trainer(model, objective, config, train_data, name=str(name), callbacks=everything, dist=dist,
                      augment=training_augment(config.data))
    finished = False
    try:
        result = trainer.fit(resume=resume)
        finished = True
        return result
    finally:
        dist.close(wait=finished)  # every rank leaves after rank 0 has written the run
