"""The generic trainer: one loop for every variant; what differs lives in the objective.

The step itself (and its CUDA graph) is :mod:`zoo.train._step`, the batch order :mod:`zoo.train._batches`, the
run directory's layout :mod:`zoo._rundir` and what it records for ``--resume`` :mod:`zoo.train._run_records`;
everything else is a callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from zoo._files import folder_lock
from zoo._rundir import RUN_LOCK_NAME, RunDir
from zoo._signals import graceful_signals
from zoo._specs import Data
from zoo.data import StreamedData
from zoo.errors import TrainingError
from zoo.train._batches import Schedule, batches
from zoo.train._callbacks import Callback
from zoo.train._checkpoint import TrainingState, load_checkpoint, save_checkpoint
from zoo.train._config import TrainConfig, lr_factor
from zoo.train._distributed import Distributed, resolve_device
from zoo.train._objectives import Objective, Update
from zoo.train._run_records import check_and_record_run
from zoo.train._step import (
    StepEngine,
    build_optimizer,
    check_batch_norm,
    choose_mode,
    raise_if_non_finite,
    to_channels_last,
    wants_channels_last,
)

logger = logging.getLogger("zoo.train")

Status = Literal["completed", "early-stopped", "interrupted"]


@dataclass(frozen=True)
class RunResult:
    out: Path
    step: int
    status: Status
    signal: int | None = None


class Trainer:
    """Trains ``model`` on ``data`` (images float ``(N, C, H, W)`` in [0, 1], optional labels) with ``objective``.

    ``data`` is a :class:`zoo.Data` held in memory (moved to the device once; batches are index gathers) or a
    :class:`zoo.data.StreamedData` read from disk batch by batch. ``augment`` (the dataset's
    ``DatasetSpec.augment``) transforms the images of every training batch.
    """

    def __init__(self, model: nn.Module, objective: Objective, config: TrainConfig, data: Data | StreamedData, *,
                 name: str = "model", callbacks: Sequence[Callback] = (), dist: Distributed | None = None,
                 augment: Callable[[Tensor], Tensor] | None = None) -> None:
        self.config = config
        self.augment = augment
        self.name = name
        self.dist = dist or Distributed.from_environment(config.device)
        self.device = self.dist.device
        self.model = model.to(self.device)
        if wants_channels_last(config, self.device):
            to_channels_last(self.model)  # before the optimizers, whose states follow the parameters' layout
        self.objective = objective
        self.data = data.to(self.device)
        self.callbacks = list(callbacks) if self.dist.is_main else []
        for callback in self.callbacks:
            if callable(getattr(callback, "on_step_end", None)):  # the hook's name until issue 18: say so, once
                logger.warning("callback %s defines on_step_end(), which zoo no longer calls; rename it "
                               "on_log(trainer, step, metrics) (called once per logging window)",
                               type(callback).__name__)
        self.run = RunDir(config.out)
        self.out = self.run.root
        self.updates = [Update(*update) for update in objective.updates(self.model)]
        mode, reason = choose_mode(config, self.dist)
        self.optimizers = {
            network: build_optimizer(config.optimizer_for(network), [p for p in module.parameters() if p.requires_grad],
                                     device=self.device, capturable=mode == "graph")
            for network, module, _ in self.updates
        }
        unknown = sorted(set(config.optimizers) - set(self.optimizers))
        if unknown:
            raise TrainingError(f"optimizers given for {unknown}, but this model trains {sorted(self.optimizers)}")
        self.engine = StepEngine(model=self.model, objective=objective, updates=self.updates,
                                 optimizers=self.optimizers, config=config, dist=self.dist, mode=mode,
                                 fallback_reason=reason, full_size=min(config.batch_size, len(self.data)))
        # Static shapes for the CUDA graph: drop each epoch's partial batch on CUDA unless told otherwise.
        self._schedule(config.drop_last if config.drop_last is not None else self.device.type == "cuda")
        self.step = 0
        self.network_steps = dict.fromkeys(self.optimizers, 0)
        self.checkpoint_step: int | None = None  # the step of the last checkpoint known to be good
        self.should_stop = False
        self._signal: int | None = None

    def _schedule(self, drop_last: bool) -> None:
        n, size = len(self.data), self.config.batch_size
        self.schedule = Schedule(n, size, self.config.seed, drop_last and n >= size)  # n < size: one static batch
        self.drop_last = self.schedule.drop_last
        self.steps_per_epoch = self.schedule.steps_per_epoch
        self.total_steps = self.config.total_steps(self.steps_per_epoch)
        check_batch_norm(self.model, n, size, self.dist.world_size, self.drop_last)

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    # -- checkpoints --------------------------------------------------------------------------------------
    def _restore(self) -> None:
        state = load_checkpoint(self.run.checkpoint, model=self.model, optimizers=self.optimizers)
        self.step, self.network_steps = state.step, state.network_steps
        self.engine.load_window_state(state.window, state.window_steps)
        if state.drop_last is not None and state.drop_last != self.drop_last:
            self._schedule(state.drop_last)  # the data positions of the run being continued win
        self.checkpoint_step = self.step

    def save_checkpoint(self) -> None:
        if not self.dist.is_main:
            return
        window, window_steps = self.engine.window_state()
        state = TrainingState(step=self.step, network_steps=self.network_steps, window_steps=window_steps,
                              drop_last=self.drop_last, window=window)
        save_checkpoint(self.run.checkpoint, model=self.model, optimizers=self.optimizers, state=state)
        self.checkpoint_step = self.step
        for callback in self.callbacks:
            callback.on_checkpoint(self, self.run.checkpoint)

    # -- the loop -------------------------------------------------------------------------------------------
    def fit(self, *, resume: bool = False) -> RunResult:
        """Train into the run directory, which no other process may write meanwhile (rank 0 holds its lock)."""
        if not self.dist.is_main:
            return self._fit(resume=resume)
        self.run.root.mkdir(parents=True, exist_ok=True)
        with folder_lock(self.run.root, RUN_LOCK_NAME, what="a zoo train run is writing it"):
            return self._fit(resume=resume)

    def _fit(self, *, resume: bool) -> RunResult:
        torch.manual_seed(self.config.seed)
        self.dist.broadcast_parameters(self.model)
        check_and_record_run(self.run, self.model, self.config, resume=resume, write=self.dist.is_main)
        if resume:
            self._restore()
        self.model.train()
        status: Status = "completed"
        for callback in self.callbacks:
            callback.on_train_start(self)
        scheduled = self.config.lr_schedule != "constant" or self.config.warmup_steps > 0
        window_start = self.step - self.engine.window_steps
        config = self.config
        with graceful_signals(lambda: self._signal, self._record_signal):
            stream = batches(self.data, self.schedule, self.step, dist=self.dist, workers=config.data_workers)
            if self.augment is not None:
                stream = (Data(self.augment(batch.images), batch.labels) for batch in stream)
            while self.step < self.total_steps:
                if scheduled:
                    self._set_learning_rates()
                self.engine.step(next(stream), global_size=self.schedule.global_size(self.step))
                self.step += 1
                for update in self.updates:
                    self.network_steps[update.network] += update.steps
                log = self.step % config.log_every == 0 or self.step == self.total_steps
                checkpoint_due = bool(config.checkpoint_every) and self.step % config.checkpoint_every == 0
                if log or checkpoint_due:  # the only places the host waits for the device
                    self._end_window(window_start, log=log)
                    window_start = self.step if log else window_start
                    self.should_stop = self.dist.any(self.should_stop)
                    status = "interrupted" if self.dist.any(self._signal is not None) else status
                if self.step % self.steps_per_epoch == 0:
                    for callback in self.callbacks:
                        callback.on_epoch_end(self)
                    self.should_stop = self.dist.any(self.should_stop)
                if checkpoint_due:
                    self.save_checkpoint()
                if self.dist.world_size == 1 and self._signal is not None:
                    status = "interrupted"
                if status == "interrupted" or self.should_stop:
                    status = "early-stopped" if status != "interrupted" else status
                    break
        if self.engine.window_steps:  # an early stop logs its partial window; an interrupted run keeps it open
            self._end_window(window_start, log=status != "interrupted")
        if status != "interrupted":
            self.model.eval()
            self.objective.finalize(self.model, self._finalize_data())
        self.save_checkpoint()
        self.model.eval()
        for callback in self.callbacks:
            callback.on_train_end(self)
        return RunResult(out=self.out, step=self.step, status=status, signal=self._signal)

    def _record_signal(self, signum: int) -> None:
        self._signal = signum

    def _end_window(self, window_start: int, *, log: bool) -> None:
        """Check the loss sums since ``window_start`` (never checkpoint a diverged model); when ``log``, hand their
        means to the callbacks and start a new window."""
        if log:
            means, sums, _ = self.engine.read_window()
        else:
            tensors, _ = self.engine.window_state()
            sums = {k[len("loss_sum/"):]: float(v) for k, v in tensors.items() if k.startswith("loss_sum/")}
        raise_if_non_finite(sums, first=window_start + 1, last=self.step, checkpoint_step=self.checkpoint_step,
                            out=self.out, checkpoint_every=self.config.checkpoint_every)
        if log:
            for callback in self.callbacks:
                callback.on_log(self, self.step, means)

    def _finalize_data(self) -> Data:
        if isinstance(self.data, Data):
            return self.data
        if not getattr(self.objective, "needs_finalize_data", True):  # read nothing from disk for nothing
            return Data(torch.empty((0, *self.data.shape[1:]), device=self.device))
        return self.data.spread(self.data.finalize_count()).to(self.device)

    def _set_learning_rates(self) -> None:
        factor = lr_factor(self.config.lr_schedule, self.config.warmup_steps, self.step, self.total_steps)
        for network, optimizer in self.optimizers.items():
            base = self.config.optimizer_for(network).lr
            for group in optimizer.param_groups:
                group["lr"].fill_(base * factor)  # a device tensor: no host read, and a graph sees the new value

    @torch.no_grad()
    def evaluate(self, data: Data | StreamedData) -> float:
        """Mean of the first network's loss over ``data`` (used by early stopping); one host read."""
        was_training = self.model.training
        self.model.eval()
        network = self.updates[0].network
        total = torch.zeros((), device=self.device)
        for start in range(0, len(data), self.config.batch_size):
            batch = data[start:start + self.config.batch_size].to(self.device)
            loss, _ = self.objective.loss(self.model, network, batch)
            total += loss.float() * len(batch)
        self.model.train(was_training)
        value = float(total) / max(len(data), 1)
        for callback in self.callbacks:
            callback.on_evaluate(self, {f"test_loss/{network}": value})
        return value


__all__ = ["RunResult", "Trainer", "build_optimizer", "resolve_device"]
