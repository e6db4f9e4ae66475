"""Trainer callbacks: everything beyond the optimisation loop itself."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from zoo import _images
from zoo._files import not_a_file, open_in_folder, refuse_symlink
from zoo._rundir import METRICS_LOG_NAME, iter_metrics
from zoo._serialization import save
from zoo._specs import Data
from zoo.errors import TrainingError
from zoo.protocols import Autoencoder, sampler_of
from zoo.train._run_records import option_names

if TYPE_CHECKING:
    from zoo.data import StreamedData
    from zoo.train._trainer import Trainer

logger = logging.getLogger("zoo.train")

METRICS_NAME = METRICS_LOG_NAME


class Callback:
    """Base class: override the events you need. Only rank 0 runs callbacks that write files."""

    # The TrainConfig.logger value this callback answers to (e.g. "wandb" for a plugin's W&B logger), or None.
    logger_name: ClassVar[str | None] = None

    def on_train_start(self, trainer: Trainer) -> None: ...

    def on_log(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        """Once per logging window: every ``log_every`` steps (and at the last one), with ``step`` the window's last
        step and ``metrics`` each loss's mean over the window's steps."""

    def on_epoch_end(self, trainer: Trainer) -> None: ...

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        """After an evaluation during training (:meth:`Trainer.evaluate`, e.g. early stopping's test loss)."""

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...


class MetricsLog(Callback):
    """Logged losses in ``metrics.jsonl``; lines past a resumed step are dropped so the log stays exact."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._pending: list[str] = []

    def on_train_start(self, trainer: Trainer) -> None:
        path = trainer.run.metrics_log
        self.records = []
        refuse_symlink(path)  # rewritten below: a symlink would make zoo truncate a file outside the run
        if path.exists() or path.is_symlink():
            kind = not_a_file(path, path.stat().st_mode) if path.exists() else "a broken symlink"
            if kind is not None:  # a FIFO would block the write below forever
                raise TrainingError(f"{path} is {kind}, not a regular file; remove it (zoo writes the run's loss "
                                    "log there) or choose another --out", path=path)
        if trainer.step > 0:
            self.records = [r for r in iter_metrics(path) if _step_of(r) <= trainer.step]
        with _writing(path), os.fdopen(open_in_folder(path, "w"), "w", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in self.records))

    def on_log(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        record = {"step": step, "epoch": trainer.epoch, **metrics}
        self.records.append(record)
        self._pending.append(json.dumps(record) + "\n")

    def flush(self, trainer: Trainer) -> None:
        if self._pending:
            with _writing(trainer.run.metrics_log), os.fdopen(open_in_folder(trainer.run.metrics_log, "a"), "a",
                                                              encoding="utf-8") as fh:
                fh.writelines(self._pending)
            self._pending.clear()

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        self.flush(trainer)

    def on_train_end(self, trainer: Trainer) -> None:
        self.flush(trainer)


class Progress(Callback):
    """A tqdm bar with live losses on a terminal; plain log lines otherwise or when quiet."""

    def __init__(self, *, quiet: bool = False, interval_s: float = 10.0) -> None:
        self.quiet = quiet
        self.interval_s = interval_s
        self._bar: Any = None
        self._last = 0.0

    def on_train_start(self, trainer: Trainer) -> None:
        if not self.quiet and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", dynamic_ncols=True)
        self._last = time.monotonic()
        if trainer.step == 0:
            logger.info("training %s for %d steps into %s", trainer.name, trainer.total_steps, trainer.out)
        elif trainer.step < trainer.total_steps:
            logger.info("training %s from step %d to step %d (%d more) in %s", trainer.name, trainer.step,
                        trainer.total_steps, trainer.total_steps - trainer.step, trainer.out)
        else:
            logger.warning("%s in %s is already at step %d of %d: nothing to train; to train longer, give "
                           "%s with %s", trainer.name, trainer.out, trainer.step, trainer.total_steps,
                           option_names().duration, option_names().resume)

    def on_log(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        logs = metrics
        if self.quiet:
            return
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(trainer.step - self._bar.n)
            if now - self._last >= 0.5:  # formatting every step would cost more than a small model's step
                self._last = now
                self._bar.set_postfix_str(_format(logs), refresh=False)
        elif now - self._last >= self.interval_s:
            self._last = now
            logger.info("step %d/%d epoch %d %s", trainer.step, trainer.total_steps, trainer.epoch, _format(logs))

    def on_train_end(self, trainer: Trainer) -> None:
        if self._bar is not None:
            self._bar.n = trainer.step
            self._bar.close()


def _format(logs: dict[str, float]) -> str:
    return " ".join(f"{key.rsplit('/', 1)[-1]}={value:.4g}" for key, value in logs.items())


class EarlyStopping(Callback):
    """Stops when the first loss on the test split has not improved for ``patience`` epochs."""

    def __init__(self, test_data: Data | StreamedData, *, patience: int) -> None:
        self.test_data = test_data
        self.patience = patience
        self.best = math.inf
        self.bad_epochs = 0

    def on_epoch_end(self, trainer: Trainer) -> None:
        value = trainer.evaluate(self.test_data)
        if value < self.best:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                logger.info("early stopping at epoch %d: test loss %.5g, best %.5g", trainer.epoch, value, self.best)
                trainer.should_stop = True


def _pictures(model: torch.nn.Module, images: torch.Tensor, out: Path, stem: str) -> None:
    with torch.no_grad():
        sampler = sampler_of(model)  # the model, or a GAN's generator when only that samples
        if sampler is not None:
            generator = torch.Generator(device=images.device).manual_seed(0)
            _images.save_image_grid(sampler.sample(64, generator=generator).float().cpu(), out / f"{stem}samples.png",
                                    nrow=8, scale=2)
        if isinstance(model, Autoencoder):
            originals = Data(images).spread(16).images
            _images.reconstruction_grid(originals.cpu(), model(originals).float().cpu(),
                                        out / f"{stem}reconstructions.png")


class SampleSnapshots(Callback):
    """Writes a sample (or reconstruction) grid to ``snapshots/`` once every ``every`` steps.

    Called on logged steps only, it draws at the first logged step at or after each multiple of ``every``.
    """

    def __init__(self, images: torch.Tensor, *, every: int) -> None:
        self.images = images
        self.every = every
        self._last: int | None = None

    def on_train_start(self, trainer: Trainer) -> None:
        self._last = trainer.step

    def on_log(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        last = trainer.step if self._last is None else self._last
        if trainer.step // self.every > last // self.every:
            model = trainer.model
            was_training = model.training
            model.eval()
            refuse_symlink(trainer.run.snapshots)  # a symlinked folder would put the grids elsewhere
            with _writing(trainer.run.snapshots):
                _pictures(model, self.images, trainer.run.snapshots, f"step-{trainer.step:08d}-")
            model.train(was_training)
        self._last = trainer.step


class RunArtifacts(Callback):
    """At the end: the loadable model (config.json + model.safetensors), picture grids and the loss curve."""

    def __init__(self, images: torch.Tensor, metrics: MetricsLog) -> None:
        self.images = images
        self.metrics = metrics

    def on_train_end(self, trainer: Trainer) -> None:
        model = trainer.model.eval()
        with _writing(trainer.out):
            save(model, trainer.out)
            _pictures(model, self.images, trainer.out, "")
            if self.metrics.records:
                _images.save_loss_curve(self.metrics.records, trainer.run.loss_curve)


def _step_of(record: dict[str, Any]) -> float:
    step = record.get("step", 0)
    return step if isinstance(step, int | float) else math.inf


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a failed write (a full disk, a read-only folder) into one clear TrainingError."""
    try:
        yield
    except OSError as exc:
        raise TrainingError(f"cannot write {exc.filename or path} ({exc.strerror or exc}); free some disk space or "
                            "choose another --out", path=path) from None
