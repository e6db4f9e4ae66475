"""The generic trainer: one loop for every variant; what differs lives in the objective."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from zoo._files import atomic_write_bytes
from zoo._serialization import config_document
from zoo._specs import Data
from zoo.errors import NonFiniteLossError, ResumeMismatchError, TrainingError
from zoo.train._callbacks import Callback
from zoo.train._checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from zoo.train._config import RESUMABLE_KEYS, OptimizerConfig, TrainConfig, lr_factor
from zoo.train._distributed import Distributed
from zoo.train._objectives import Objective

logger = logging.getLogger("zoo.train")

TRAIN_CONFIG_NAME = "train_config.json"
MODEL_CONFIG_NAME = "model_config.json"


@dataclass(frozen=True)
class RunResult:
    out: Path
    step: int
    status: Literal["completed", "early-stopped", "interrupted"]
    signal: int | None = None


def build_optimizer(config: OptimizerConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    if config.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def resolve_device(choice: str, local_rank: int = 0) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise TrainingError("device 'cuda' was asked for but no CUDA device is available; use --set device=cpu")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


class Trainer:
    """Trains ``model`` on ``data`` (images float ``(N, C, H, W)`` in [0, 1], optional labels) with ``objective``.

    The loop per step: for each network the objective names, in order, compute its loss, backpropagate,
    average gradients across processes, clip, step its optimizer. Everything else is a callback.
    """

    def __init__(self, model: nn.Module, objective: Objective, config: TrainConfig, data: Data, *,
                 name: str = "model", callbacks: Sequence[Callback] = (), dist: Distributed | None = None) -> None:
        self.config = config
        self.name = name
        self.dist = dist or Distributed.from_environment(config.device)
        self.device = self.dist.device
        self.model = model.to(self.device)
        self.objective = objective
        self.data = data.to(self.device)
        self.callbacks = list(callbacks) if self.dist.is_main else []
        self.out = Path(config.out)
        self.updates = objective.updates(self.model)
        self.optimizers = {
            network: build_optimizer(config.optimizer_for(network), [p for p in module.parameters() if p.requires_grad])
            for network, module, _ in self.updates
        }
        unknown = sorted(set(config.optimizers) - set(self.optimizers))
        if unknown:
            raise TrainingError(f"optimizers given for {unknown}, but this model trains {sorted(self.optimizers)}")
        self.steps_per_epoch = math.ceil(len(self.data) / config.batch_size)
        self.total_steps = config.total_steps(self.steps_per_epoch)
        self.step = 0
        self.network_steps = dict.fromkeys(self.optimizers, 0)
        self.should_stop = False
        self._signal: int | None = None

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    # -- run directory --------------------------------------------------------------------------------------
    def _identity(self) -> dict[str, Any]:
        return {"model": config_document(self.model), "train": self.config.model_dump(mode="json")}

    def _prepare_out(self, resume: bool) -> None:
        checkpoint = self.out / CHECKPOINT_NAME
        if resume:
            if not checkpoint.exists():
                raise TrainingError(f"--resume: {self.out} holds no {CHECKPOINT_NAME}; train without --resume")
            self._check_same_run()
            state = load_checkpoint(checkpoint, model=self.model, optimizers=self.optimizers)
            self.step, self.network_steps = state["step"], state["network_steps"]
            logger.info("resumed %s at step %d", self.out, self.step)
        elif checkpoint.exists():
            raise TrainingError(
                f"{self.out} already holds a training run; pass --resume to continue it, or choose another --out"
            )
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            identity = self._identity()
            atomic_write_bytes(self.out / MODEL_CONFIG_NAME, (json.dumps(identity["model"], indent=2) + "\n").encode())
            atomic_write_bytes(self.out / TRAIN_CONFIG_NAME, (json.dumps(identity["train"], indent=2) + "\n").encode())

    def _check_same_run(self) -> None:
        try:
            saved = {
                "model": json.loads((self.out / MODEL_CONFIG_NAME).read_text()),
                "train": json.loads((self.out / TRAIN_CONFIG_NAME).read_text()),
            }
        except (OSError, json.JSONDecodeError) as exc:
            raise TrainingError(f"cannot read the configs of the run in {self.out} ({exc})") from None
        now = self._identity()
        differing = [f"model.{k}" for k in _diff(saved["model"].get("config", {}), now["model"]["config"])]
        if saved["model"].get("architecture") != now["model"]["architecture"]:
            differing.insert(0, "architecture")
        train_keys = _diff(saved["train"], now["train"])
        differing += [f"train.{k}" for k in train_keys if k.split(".")[0] not in RESUMABLE_KEYS]
        if differing:
            raise ResumeMismatchError(
                f"cannot resume {self.out}: the config differs in {', '.join(differing)}; resume with the original "
                f"settings (see {TRAIN_CONFIG_NAME} and {MODEL_CONFIG_NAME} there) or start a new run with another "
                "--out"
            )

    def save_checkpoint(self) -> None:
        if not self.dist.is_main:
            return
        path = self.out / CHECKPOINT_NAME
        save_checkpoint(path, model=self.model, optimizers=self.optimizers,
                        state={"step": self.step, "network_steps": self.network_steps})
        for callback in self.callbacks:
            callback.on_checkpoint(self, path)

    # -- the loop -----------------------------------------------------------------------------------------------
    def _batches(self) -> Iterator[Data]:
        """Batches from a per-epoch permutation that depends only on (seed, epoch): resumable by step count."""
        n, size = len(self.data), self.config.batch_size
        while True:
            epoch, position = divmod(self.step, self.steps_per_epoch)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch))
            order = order.to(self.device)
            for start in range(position * size, n, size):
                yield self.dist.shard(self.data[order[start:start + size]])

    def _update(self, network: str, module: nn.Module, batch: Data) -> dict[str, Tensor]:
        optimizer = self.optimizers[network]
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16"):
            loss, logs = self.objective.loss(self.model, network, batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"the {network} loss became {value} at step {self.step + 1}; the last good checkpoint in {self.out} "
                "is kept. Lower the learning rate, set grad_clip, or check the data for extreme values"
            )
        optimizer.zero_grad(set_to_none=True)
        (loss * self.dist.loss_scale(len(batch))).backward()
        self.dist.average_gradients(module)
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip)
        optimizer.step()
        self.network_steps[network] += 1
        self.objective.after_update(self.model, network)
        return logs

    def fit(self, *, resume: bool = False) -> RunResult:
        torch.manual_seed(self.config.seed)
        self.dist.broadcast_parameters(self.model)
        self._prepare_out(resume)
        self.model.train()
        status: Literal["completed", "early-stopped", "interrupted"] = "completed"
        for callback in self.callbacks:
            callback.on_train_start(self)
        with self._signals():
            batches = self._batches()
            scheduled = self.config.lr_schedule != "constant" or self.config.warmup_steps > 0
            while self.step < self.total_steps:
                batch = next(batches)
                if scheduled:
                    self._set_learning_rates()
                logs: dict[str, Tensor] = {}
                for network, module, repeats in self.updates:
                    for _ in range(repeats):
                        logs.update(self._update(network, module, batch))
                self.step += 1
                if self.step % self.config.log_every == 0 and self.callbacks:
                    values = {k: float(v) for k, v in logs.items()}
                    for callback in self.callbacks:
                        callback.on_step_end(self, values)
                if self.step % self.steps_per_epoch == 0:
                    for callback in self.callbacks:
                        callback.on_epoch_end(self)
                    self.should_stop = self.dist.any(self.should_stop)
                if self.config.checkpoint_every and self.step % self.config.checkpoint_every == 0:
                    self.save_checkpoint()
                if self.dist.any(self._signal is not None):
                    status = "interrupted"
                    break
                if self.should_stop:
                    status = "early-stopped"
                    break
        if status != "interrupted":
            self.model.eval()
            self.objective.finalize(self.model, self.data)
        self.save_checkpoint()
        self.model.eval()
        for callback in self.callbacks:
            callback.on_train_end(self)
        return RunResult(out=self.out, step=self.step, status=status, signal=self._signal)

    def _set_learning_rates(self) -> None:
        factor = lr_factor(self.config.lr_schedule, self.config.warmup_steps, self.step, self.total_steps)
        for network, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = self.config.optimizer_for(network).lr * factor

    @torch.no_grad()
    def evaluate(self, data: Data) -> float:
        """Mean of the first network's loss over ``data`` (used by early stopping)."""
        was_training = self.model.training
        self.model.eval()
        network = self.updates[0][0]
        total, count = 0.0, 0
        for start in range(0, len(data), self.config.batch_size):
            batch = data[start:start + self.config.batch_size].to(self.device)
            loss, _ = self.objective.loss(self.model, network, batch)
            total += float(loss) * len(batch)
            count += len(batch)
        self.model.train(was_training)
        return total / max(count, 1)

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


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


__all__ = ["RunResult", "Trainer", "build_optimizer"]
