"""TrainConfig: every training knob, validated once at the edge; and a model's recipe, the training defaults its
spec recommends.

Plain pydantic (no torch), below the registry, which checks every spec's recipe and config fields against it
when a plugin registers. :mod:`zoo.train` re-exports it.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
from collections.abc import Mapping
from typing import Any, Literal, Self

import pydantic
from pydantic import Field

from zoo._config import FrozenModel as _Frozen
from zoo._config import validate_config
from zoo.errors import ConfigError


class OptimizerConfig(_Frozen):
    """One network's optimizer."""

    name: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = Field(1e-3, gt=0, le=10)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0, le=1)
    momentum: float = Field(0.0, ge=0, lt=1)

    @pydantic.field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must each be in [0, 1), got {betas}")
        return betas


class TrainConfig(_Frozen):
    """How to train: data, duration, optimizers, numerics, checkpoints and output directory.

    ``optimizer`` applies to every network; ``optimizers`` overrides it per network name (for GANs:
    ``generator`` and ``discriminator``). Exactly one of ``epochs`` and ``steps`` sets the duration; it may be
    extended when a run is resumed.
    """

    data: str = "mnist-5k"
    epochs: int | None = Field(None, ge=1, le=100_000)
    steps: int | None = Field(None, ge=1, le=100_000_000)
    batch_size: int = Field(64, ge=1, le=65_536)
    optimizer: OptimizerConfig = OptimizerConfig()
    optimizers: dict[str, OptimizerConfig] = {}
    seed: int = Field(0, ge=0, le=2**63 - 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"
    lr_schedule: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = Field(0, ge=0, le=1_000_000)
    grad_clip: float | None = Field(None, gt=0)
    checkpoint_every: int = Field(500, ge=0, le=100_000_000)
    # Losses are summed on the device and read (and checked for NaN) once per log_every steps.
    log_every: int = Field(50, ge=1, le=1_000_000)
    sample_every: int = Field(0, ge=0, le=100_000_000)
    early_stopping_patience: int = Field(0, ge=0, le=1_000_000)
    # None: drop an epoch's partial last batch on CUDA (static shapes for the CUDA graph), keep it on CPU.
    drop_last: bool | None = None
    cuda_graphs: bool = True
    # Layout of every 4-D parameter and buffer while training; tensors of any other rank are untouched. Measured
    # on the 2-core CPU for dcgan (docs/benchmarks.md), channels_last did not make the trainer faster.
    memory_format: Literal["contiguous", "channels_last"] = "contiguous"
    # DataLoader worker processes for data streamed from disk (ignored for data held in memory).
    data_workers: int = Field(0, ge=0, le=64)
    # Where losses, learning rates and pictures go live besides metrics.jsonl: "none", "tensorboard" (the
    # tensorboard extra), or a logger a plugin's zoo_callbacks hook provides under that name (e.g. "wandb").
    logger: str = Field("none", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
                        description="live logging: none, tensorboard, or a logger a plugin provides")
    # Fine-tuning: the weights training starts from (a run directory, a pretrained entry or hf-hub:org/repo) in
    # place of a fresh initialisation; they must have the model's tensors, names and shapes. Optimizers start fresh.
    init_from: str | None = Field(None, min_length=1, max_length=4096,
                                  description="start from these weights (fine-tuning): a run directory, an "
                                  "entry name.tag or hf-hub:org/repo with the model's tensors")
    out: str = "runs/run"

    @pydantic.model_validator(mode="after")
    def _one_duration(self) -> Self:
        if self.epochs is not None and self.steps is not None:
            raise ValueError(f"give epochs or steps, not both (got epochs={self.epochs}, steps={self.steps})")
        return self

    def optimizer_for(self, network: str) -> OptimizerConfig:
        return self.optimizers.get(network, self.optimizer)

    def total_steps(self, steps_per_epoch: int) -> int:
        if self.steps is not None:
            return self.steps
        return (self.epochs if self.epochs is not None else DEFAULT_EPOCHS) * steps_per_epoch


DEFAULT_EPOCHS = 10
# Keys that may differ between a run and its resumption: how long it runs, where and how fast, where it reports.
RESUMABLE_KEYS = frozenset({"epochs", "steps", "out", "device", "log_every", "sample_every", "checkpoint_every",
                            "cuda_graphs", "memory_format", "data_workers", "logger"})


def lr_factor(schedule: str, warmup_steps: int, step: int, total_steps: int) -> float:
    """Multiplier of the base learning rate at ``step``; a pure function of the step, so resuming is exact."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "cosine":
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return 1.0


# A recipe says how to train an architecture, not where: the run directory is the caller's alone.
NOT_IN_RECIPE = frozenset({"out"})


def training_field_names() -> frozenset[str]:
    """The top-level TrainConfig fields (what ``zoo train --set FIELD=...`` reaches besides the model's fields)."""
    return frozenset(TrainConfig.model_fields)


def check_recipe(recipe: object, *, where: str) -> dict[str, Any]:
    """``recipe`` as plain JSON values, after checking that it is a partial TrainConfig.

    Nested models are nested dicts (``{"optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]}}``); an unknown field,
    a wrong type or an out-of-range value is a ConfigError naming it and the fix.
    """
    if not isinstance(recipe, Mapping) or not all(isinstance(key, str) for key in recipe):
        raise ConfigError(f"{where}: recipe must be a dict of training fields, e.g. "
                          f"{{'optimizer': {{'lr': 2e-4, 'betas': [0.5, 0.999]}}}}, got {recipe!r}")
    fields = sorted(training_field_names() - NOT_IN_RECIPE)
    for key in recipe:
        if key in NOT_IN_RECIPE:
            raise ConfigError(f"{where}: recipe sets {key!r}, which is the caller's choice, not a training default; "
                              f"remove it from the recipe (a recipe may set {', '.join(fields)})")
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{where}: recipe field {key!r} is not a training field; {hint}a recipe may set "
                              f"{', '.join(fields)} (learning rate and betas go under 'optimizer', e.g. "
                              "{'optimizer': {'lr': 2e-4, 'betas': [0.5, 0.999]}})")
    try:
        text = json.dumps(recipe)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{where}: recipe values must be JSON-like ({str(exc)[:200]})") from None
    validate_config(TrainConfig, text, where=f"the recipe of {where}")
    return dict(json.loads(text))


def with_recipe(config: TrainConfig, recipe: Mapping[str, Any]) -> TrainConfig:
    """``config`` with ``recipe``'s values for the fields the caller left unset: explicit values always win.

    "Set" is pydantic's ``model_fields_set``, recursively: ``TrainConfig(optimizer=OptimizerConfig(lr=1e-3))``
    sets the learning rate and keeps the recipe's betas. A duration given (``epochs`` or ``steps``) replaces the
    recipe's duration, whichever of the two it is.
    """
    if not recipe:
        return config
    explicit = config.model_dump(mode="json", exclude_unset=True)
    values = copy.deepcopy(dict(recipe))
    if "epochs" in explicit or "steps" in explicit:
        values.pop("epochs", None)
        values.pop("steps", None)
    _merge(values, explicit)
    return validate_config(TrainConfig, json.dumps(values), where="the training config with the model's recipe")


def _merge(target: dict[str, Any], values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
