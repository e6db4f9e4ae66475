"""TrainConfig: every training knob, validated once at the edge."""

from __future__ import annotations

import math
from typing import Literal, Self

import pydantic
from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


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
    # DataLoader worker processes for data streamed from disk (ignored for data held in memory).
    data_workers: int = Field(0, ge=0, le=64)
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
                            "cuda_graphs", "data_workers"})


def lr_factor(schedule: str, warmup_steps: int, step: int, total_steps: int) -> float:
    """Multiplier of the base learning rate at ``step``; a pure function of the step, so resuming is exact."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "cosine":
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return 1.0
