"""Training: one generic trainer, objectives for each family of models, and callbacks."""

from zoo.train._callbacks import Callback, EarlyStopping, MetricsLog, Progress, RunArtifacts, SampleSnapshots
from zoo.train._config import OptimizerConfig, TrainConfig
from zoo.train._objectives import (
    ELBO,
    Adversarial,
    Classification,
    Objective,
    Reconstruction,
    Update,
    objective_for,
    translate_randomly,
    update_ema,
)
from zoo.train._run import train
from zoo.train._trainer import RunResult, Trainer

__all__ = [
    "ELBO",
    "Adversarial",
    "Callback",
    "Classification",
    "EarlyStopping",
    "MetricsLog",
    "Objective",
    "OptimizerConfig",
    "Progress",
    "Reconstruction",
    "RunArtifacts",
    "RunResult",
    "SampleSnapshots",
    "TrainConfig",
    "Trainer",
    "Update",
    "objective_for",
    "train",
    "translate_randomly",
    "update_ema",
]
