"""TrainConfig and its helpers, defined in :mod:`zoo._train_config` (below the registry, which validates a spec's
recipe against it) and re-exported here for the training package."""

from zoo._train_config import (
    DEFAULT_EPOCHS,
    RESUMABLE_KEYS,
    OptimizerConfig,
    TrainConfig,
    lr_factor,
)

__all__ = ["DEFAULT_EPOCHS", "RESUMABLE_KEYS", "OptimizerConfig", "TrainConfig", "lr_factor"]
