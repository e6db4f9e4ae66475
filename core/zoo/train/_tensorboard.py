"""``logger=tensorboard``: live training curves and pictures in TensorBoard, written into the run directory.

A callback like any other: it reads the loss means the trainer already hands to every callback once per logging
window (no host read of its own), computes each network's learning rate on the host from the schedule (a pure
function of the step), and draws the sample / reconstruction grid when a checkpoint is written. Callbacks run on
rank 0 only, so under ``torchrun`` one process writes. On ``--resume`` the writer purges whatever an interrupted
run logged after its checkpoint (``purge_step``), so the curves continue without duplicated steps.

A third-party logger (W&B, MLflow) takes the same slot: a plugin's ``zoo_callbacks(train_config)`` hook returns
its callback when ``train_config.logger`` names it, and the callback's ``logger_name`` claims the name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from zoo._images import image_grid
from zoo._rundir import TENSORBOARD_DIR
from zoo._specs import Data
from zoo.errors import ConfigError
from zoo.protocols import Autoencoder, sampler_of
from zoo.train._callbacks import Callback
from zoo.train._config import TrainConfig, lr_factor

if TYPE_CHECKING:
    from zoo.train._trainer import Trainer

logger = logging.getLogger("zoo.train")

TENSORBOARD_EXTRA = "pip install 'genzoo[tensorboard]'"
# Pictures drawn at each checkpoint: as many samples as the run's samples.png, reconstructions of 16 images.
SAMPLES, RECONSTRUCTIONS = 64, 16


def summary_writer_class() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``, or an ImportError that names the extra to install."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch imports the tensorboard package, which is optional
        raise ImportError(f"logger=tensorboard needs the tensorboard package: {TENSORBOARD_EXTRA}") from exc
    return SummaryWriter


def logger_callbacks(config: TrainConfig, images: torch.Tensor, others: Sequence[Callback]) -> list[Callback]:
    """The callbacks ``config.logger`` asks for, given the ``others`` (plugins', the caller's) the run has.

    "none" adds nothing, "tensorboard" a :class:`TensorBoardLogger`; any other name must be claimed by one of
    ``others`` (its ``logger_name``), or the run is refused before it starts, naming what is available.
    """
    if config.logger == "none":
        return []
    if config.logger == TensorBoardLogger.logger_name:
        return [TensorBoardLogger(images)]
    claimed = sorted({c.logger_name for c in others if c.logger_name is not None})
    if config.logger in claimed:
        return []
    others_named = f"; plugins here provide {', '.join(claimed)}" if claimed else ""
    raise ConfigError(f"logger={config.logger!r}: no installed plugin provides a logger of that name (built in: none, "
                      f"tensorboard{others_named}); install the package that does (its zoo_callbacks hook returns a "
                      f"callback with logger_name={config.logger!r}), or choose another --set logger=...")


class TensorBoardLogger(Callback):
    """Writes every logged loss and learning rate by step, evaluation results and checkpoint pictures.

    Tags: ``train/KEY`` for each key of the logged means as ``metrics.jsonl`` names it (``train/loss``,
    ``train/loss/generator``); ``lr/NETWORK``; ``eval/KEY`` for evaluations during training (early stopping's
    ``eval/test_loss/NETWORK``); ``samples`` and ``reconstructions`` (originals above, reconstructions below).
    ``images`` are the test images a run pictures (the reconstruction grid shows 16 spread through them).
    Raises ImportError naming the extra when tensorboard is not installed, so a run fails before it starts.
    """

    logger_name: ClassVar[str | None] = "tensorboard"

    def __init__(self, images: torch.Tensor, *, directory: str | Path | None = None) -> None:
        self._writer_class = summary_writer_class()
        self.images = images
        self.directory = None if directory is None else Path(directory)
        self.writer: Any = None
        self._pictured_step: int | None = None

    def on_train_start(self, trainer: Trainer) -> None:
        directory = self.directory or trainer.out / TENSORBOARD_DIR
        # Events past the checkpoint were written by the run that was interrupted, and will be written again.
        purge_step = trainer.step + 1 if trainer.step > 0 else None
        self.writer = self._writer_class(log_dir=str(directory), purge_step=purge_step)
        self._pictured_step = trainer.step if trainer.step > 0 else None  # pictured by the run being continued
        logger.info("TensorBoard events in %s (tensorboard --logdir %s)", directory, trainer.out.parent)

    def on_log(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        if self.writer is None:
            return
        for key, value in metrics.items():
            self.writer.add_scalar(f"train/{key}", value, step)
        config = trainer.config
        # The rate the window's last step used; the schedule is a pure function of the step: no device read.
        factor = lr_factor(config.lr_schedule, config.warmup_steps, step - 1, trainer.total_steps)
        for network in trainer.optimizers:
            self.writer.add_scalar(f"lr/{network}", config.optimizer_for(network).lr * factor, step)

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if self.writer is None:
            return
        for key, value in metrics.items():
            self.writer.add_scalar(f"eval/{key}", value, trainer.step)

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        if self.writer is None or trainer.step == self._pictured_step:  # the final checkpoint may repeat a step
            return
        self._pictured_step = trainer.step
        model = trainer.model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                sampler = sampler_of(model)
                if sampler is not None:
                    generator = torch.Generator(device=self.images.device).manual_seed(0)
                    self._add_grid("samples", sampler.sample(SAMPLES, generator=generator), trainer.step, nrow=8)
                if isinstance(model, Autoencoder):
                    originals = Data(self.images).spread(RECONSTRUCTIONS).images
                    pair = torch.cat([originals, model(originals).to(originals.dtype)])
                    self._add_grid("reconstructions", pair, trainer.step, nrow=len(originals))
        finally:
            model.train(was_training)
        self.writer.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _add_grid(self, tag: str, images: torch.Tensor, step: int, *, nrow: int) -> None:
        grid = np.asarray(image_grid(images.float().cpu().clamp(0, 1), nrow=nrow, scale=2))  # (H, W) or (H, W, 3)
        self.writer.add_image(tag, grid, step, dataformats="HW" if grid.ndim == 2 else "HWC")


__all__ = ["TENSORBOARD_EXTRA", "TensorBoardLogger", "logger_callbacks", "summary_writer_class"]
