"""The generic trainer: one loop for every variant; what differs lives in the objective.

The step itself (and its CUDA graph) is :class:`zoo.train._step.StepEngine`; the run directory's layout is
:mod:`zoo._rundir`, what it records for ``--resume`` is :mod:`zoo.train._resume`; everything else is a callback.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from zoo._rundir import RunDir
from zoo._specs import Data
from zoo.data import StreamedData
from zoo.errors import NonFiniteLossError, TrainingError
from zoo.train._callbacks import Callback
from zoo.train._checkpoint import TrainingState, load_checkpoint, save_checkpoint
from zoo.train._config import TrainConfig, lr_factor
from zoo.train._distributed import Distributed
from zoo.train._objectives import Objective
from zoo.train._resume import prepare_run
from zoo.train._step import StepEngine, build_optimizer, choose_mode

logger = logging.getLogger("zoo.train")

Status = Literal["completed", "early-stopped", "interrupted"]


@dataclass(frozen=True)
class RunResult:
    out: Path
    step: int
    status: Status
    signal: int | None = None


def resolve_device(choice: str, local_rank: int = 0) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise TrainingError("device 'cuda' was asked for but no CUDA device is available; use --set device=cpu")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


class Trainer:
    """Trains ``model`` on ``data`` (images float ``(N, C, H, W)`` in [0, 1], optional labels) with ``objective``.

    ``data`` is a :class:`zoo.Data` held in memory (moved to the device once; batches are index gathers) or a
    :class:`zoo.data.StreamedData` read from disk batch by batch. Batch order depends only on (seed, epoch),
    so a run resumes at the same data position.
    """

    def __init__(self, model: nn.Module, objective: Objective, config: TrainConfig, data: Any, *,
                 name: str = "model", callbacks: Sequence[Callback] = (), dist: Distributed | None = None) -> None:
        self.config = config
        self.name = name
        self.dist = dist or Distributed.from_environment(config.device)
        self.device = self.dist.device
        self.model = model.to(self.device)
        self.objective = objective
        self.streamed = not isinstance(data, Data)
        self.data = data if self.streamed else data.to(self.device)
        self.callbacks = list(callbacks) if self.dist.is_main else []
        self.run = RunDir(config.out)
        self.out = self.run.root
        self.updates = objective.updates(self.model)
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
        self.drop_last = config.drop_last if config.drop_last is not None else self.device.type == "cuda"
        self._set_epoch_length()
        self.step = 0
        self.network_steps = dict.fromkeys(self.optimizers, 0)
        self.checkpoint_step: int | None = None  # the step of the last checkpoint known to be good
        self.should_stop = False
        self._signal: int | None = None

    def _set_epoch_length(self) -> None:
        n, size = len(self.data), self.config.batch_size
        # Dropping the partial batch needs one full batch; a dataset smaller than a batch is one static batch.
        self.drop_last = self.drop_last and n >= size
        self.steps_per_epoch = n // size if self.drop_last else math.ceil(n / size)
        self.total_steps = self.config.total_steps(self.steps_per_epoch)
        _check_batch_norm(self.model, n, size, self.dist.world_size, self.drop_last)

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    # -- checkpoints --------------------------------------------------------------------------------------
    def _restore(self) -> None:
        state = load_checkpoint(self.run.checkpoint, model=self.model, optimizers=self.optimizers)
        self.step, self.network_steps = state.step, state.network_steps
        self.engine.load_window_state(state.window, state.window_steps)
        if state.drop_last is not None and state.drop_last != self.drop_last:
            self.drop_last = state.drop_last  # the data positions of the run being continued win
            self._set_epoch_length()
        self.checkpoint_step = self.step
        logger.info("resumed %s at step %d", self.out, self.step)

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
    def _orders(self) -> Iterator[torch.Tensor]:
        """Index batches from a per-epoch permutation that depends only on (seed, epoch): resumable by step."""
        n, size = len(self.data), self.config.batch_size
        end = self.steps_per_epoch * size
        step = self.step  # counted here: a DataLoader draws indices ahead of the training step
        while True:
            epoch, position = divmod(step, self.steps_per_epoch)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch))
            for start in range(position * size, min(n, end), size):
                yield order[start:start + size]
                step += 1

    def _batches(self) -> Iterator[Data]:
        if self.streamed:
            pin = self.device.type == "cuda"
            # Each process reads only its own rows of the global batch.
            local = (self.dist.shard_index(index) for index in self._orders())
            for batch in self.data.loader(local, workers=self.config.data_workers, pin_memory=pin):
                labels = None if batch.labels is None else batch.labels.to(self.device, non_blocking=pin)
                yield Data(batch.images.to(self.device, non_blocking=pin), labels)
        else:
            for index in self._orders():
                yield self.dist.shard(self.data[index.to(self.device)])

    def fit(self, *, resume: bool = False) -> RunResult:
        torch.manual_seed(self.config.seed)
        self.dist.broadcast_parameters(self.model)
        prepare_run(self.run, self.model, self.config, resume=resume, write=self.dist.is_main)
        if resume:
            self._restore()
        self.model.train()
        status: Status = "completed"
        for callback in self.callbacks:
            callback.on_train_start(self)
        scheduled = self.config.lr_schedule != "constant" or self.config.warmup_steps > 0
        window_start = self.step - self.engine.window_steps
        with self._signals():
            batches = self._batches()
            while self.step < self.total_steps:
                batch = next(batches)
                if scheduled:
                    self._set_learning_rates()
                position = self.step % self.steps_per_epoch
                self.engine.step(batch, global_size=min(self.config.batch_size,
                                                        len(self.data) - position * self.config.batch_size))
                self.step += 1
                for network, _, repeats in self.updates:
                    self.network_steps[network] += repeats
                checkpoint_due = bool(self.config.checkpoint_every) and self.step % self.config.checkpoint_every == 0
                if self.step % self.config.log_every == 0 or checkpoint_due or self.step == self.total_steps:
                    self._end_window(window_start, log=self.step % self.config.log_every == 0
                                     or self.step == self.total_steps)
                    window_start = self.step
                    self.should_stop = self.dist.any(self.should_stop)
                    if self.dist.any(self._signal is not None):
                        status = "interrupted"
                if self.step % self.steps_per_epoch == 0:
                    for callback in self.callbacks:
                        callback.on_epoch_end(self)
                    self.should_stop = self.dist.any(self.should_stop)
                if checkpoint_due:
                    self.save_checkpoint()
                if self.dist.world_size == 1 and self._signal is not None:
                    status = "interrupted"
                if status == "interrupted":
                    break
                if self.should_stop:
                    status = "early-stopped"
                    break
        if self.engine.window_steps and status != "interrupted":
            self._end_window(window_start, log=True)  # early stop: log the partial window
        elif self.engine.window_steps:
            self._check_window(window_start)  # never checkpoint a diverged model; the window stays open
        if status != "interrupted":
            self.model.eval()
            self.objective.finalize(self.model, self._finalize_data())
        self.save_checkpoint()
        self.model.eval()
        for callback in self.callbacks:
            callback.on_train_end(self)
        return RunResult(out=self.out, step=self.step, status=status, signal=self._signal)

    def _check_window(self, window_start: int) -> None:
        """Read the open window's loss sums (one host read) and raise if any is not finite; keep the window."""
        tensors, steps = self.engine.window_state()
        sums = {k[len("loss_sum/"):]: float(v) for k, v in tensors.items() if k.startswith("loss_sum/")}
        self._raise_if_non_finite(sums, window_start)

    def _end_window(self, window_start: int, *, log: bool) -> None:
        if not log:
            self._check_window(window_start)
            return
        means, sums, _ = self.engine.read_window()
        self._raise_if_non_finite(sums, window_start)
        for callback in self.callbacks:
            callback.on_step_end(self, means)

    def _raise_if_non_finite(self, sums: dict[str, float], window_start: int) -> None:
        for network, value in sums.items():
            if math.isfinite(value):
                continue
            first, last = window_start + 1, self.step
            when = f"at step {last}" if first == last else f"between steps {first} and {last}"
            if self.checkpoint_step is not None:
                kept = f"the last good checkpoint (step {self.checkpoint_step}) in {self.out} is kept"
            else:
                kept = (f"no checkpoint had been written yet (checkpoint_every={self.config.checkpoint_every}), so "
                        "there is nothing to resume")
            raise NonFiniteLossError(
                f"the {network} loss became {value} {when}; {kept}. Lower the learning rate, set grad_clip, or "
                "check the data for extreme values (log_every=1 finds the exact step)", path=self.out)

    def _finalize_data(self) -> Data:
        if not self.streamed:
            return self.data
        return self.data.spread(self.data.finalize_limit).to(self.device)

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
        network = self.updates[0][0]
        total = torch.zeros((), device=self.device)
        for start in range(0, len(data), self.config.batch_size):
            batch = data[start:start + self.config.batch_size].to(self.device)
            loss, _ = self.objective.loss(self.model, network, batch)
            total += loss.float() * len(batch)
        self.model.train(was_training)
        return float(total) / max(len(data), 1)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """Ctrl-C and SIGTERM finish the current step, save a checkpoint and return instead of dying."""
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._signal is not None:  # a second Ctrl-C means "now"
                raise KeyboardInterrupt
            self._signal = signum
            logger.warning("received %s: saving a checkpoint after this step", signal.Signals(signum).name)

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def _check_batch_norm(model: nn.Module, n: int, batch_size: int, world_size: int, drop_last: bool) -> None:
    """Batch normalisation needs two samples per batch; refuse a run that would hand it one."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    local = min(n, batch_size) // world_size
    last = 0 if drop_last or n <= batch_size else (n % batch_size) // world_size
    smallest = min(local, last) if last else local
    if smallest < 2:
        raise TrainingError(
            f"the model uses batch normalisation, which needs at least 2 images per batch and process, but this "
            f"run would give it {smallest} (dataset of {n} image(s), batch_size {batch_size}, {world_size} "
            f"process(es)); use more images, a batch size whose last batch is not 1 (or --set drop_last=true), "
            "or a model without batch normalisation"
        )


__all__ = ["RunResult", "Trainer", "build_optimizer"]
