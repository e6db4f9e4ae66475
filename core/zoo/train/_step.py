"""One training step, written so that the whole of it can be captured in a CUDA graph.

A step runs every network's updates in the objective's order (forward, backward, gradient averaging, clipping,
optimizer step, ``after_update`` such as an EMA), and adds each loss to device-side sums. Nothing in it reads a
value back to the host: learning rates are tensors the optimizers read on the device, the optimizers are fused
(or capturable), and losses are only read by :meth:`StepEngine.read_window`, which the trainer calls every
``log_every`` steps. That is what makes the step fast on a CPU (no per-step synchronisation or Python
formatting) and capturable on a GPU.

Modes:

- ``eager``: the step runs as written. CPU runs, and CUDA runs that cannot be captured.
- ``static``: batches are copied into fixed buffers and the step reads only those, gradients are zeroed in
  place rather than freed: everything a capture needs except the capture. The graph mode's warm-up steps run
  it; on CPU it exists so that tests run the exact code a graph would replay. A partial batch (an epoch's
  last, unless ``drop_last``) runs outside the buffers and the graph, with gradients still zeroed in place.
- ``graph``: after ``WARMUP_STEPS`` static steps on a side stream, the static step of a full batch is captured
  once in a ``torch.cuda.CUDAGraph`` and every later full batch replays it. When capture fails (a model with
  data-dependent control flow, a host read inside ``forward``), the engine logs why, once, and goes on eagerly.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from zoo._specs import Data
from zoo.errors import NonFiniteLossError, TrainingError
from zoo.train._config import OptimizerConfig, TrainConfig
from zoo.train._distributed import Distributed
from zoo.train._objectives import Objective, Update

logger = logging.getLogger("zoo.train")

Mode = Literal["eager", "static", "graph"]
WARMUP_STEPS = 3
FUSED = frozenset({"adam", "adamw", "sgd"})


def build_optimizer(config: OptimizerConfig, params: list[nn.Parameter], *, device: torch.device,
                    capturable: bool = False) -> torch.optim.Optimizer:
    """The optimizer for one network, with its learning rate as a tensor on ``device``.

    Adam, AdamW and SGD use the fused kernels (one kernel for every parameter, no host read of the step count);
    RMSprop has none and is made capturable on CUDA instead.
    """
    lr = torch.tensor(config.lr, dtype=torch.float32, device=device)
    fused = config.name in FUSED and bool(params) and all(p.is_floating_point() for p in params)
    extra: dict[str, Any] = {"fused": True} if fused else {}
    if capturable and not fused:
        extra["capturable"] = True
    elif capturable and config.name in ("adam", "adamw"):
        extra["capturable"] = True  # the capture health check asks for it even with fused kernels
    if config.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=config.betas, weight_decay=config.weight_decay, **extra)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=config.betas, weight_decay=config.weight_decay, **extra)
    if config.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay,
                                   **extra)
    return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay, **extra)


def wants_channels_last(config: TrainConfig, device: torch.device) -> bool:
    """Whether this run keeps 4-D parameters and buffers channels-last (``memory_format``, on any device)."""
    return config.memory_format == "channels_last"


@torch.no_grad()
def to_channels_last(module: nn.Module) -> None:
    """Every 4-D parameter and buffer of ``module`` in the channels-last layout, in place.

    The tensors stay the same objects (their ``.data`` is replaced), so references to them stay valid; values,
    shapes and saved files are unchanged (files are written contiguous). Tensors of any other rank are untouched.
    """
    for tensor in [*module.parameters(), *module.buffers()]:
        if tensor.dim() == 4 and not tensor.is_contiguous(memory_format=torch.channels_last):
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)


def choose_mode(config: TrainConfig, dist: Distributed) -> tuple[Mode, str]:
    """The step mode for this run and, when it is not the fastest one available, why."""
    if dist.device.type != "cuda":
        return "eager", ""
    if not config.cuda_graphs:
        return "eager", "cuda_graphs=false in the training config"
    if dist.world_size > 1:
        return "eager", "gradients are averaged across processes, which is not captured"
    return "graph", ""


class StepEngine:
    """Runs training steps and keeps their loss sums on the device until :meth:`read_window`."""

    def __init__(self, *, model: nn.Module, objective: Objective, updates: list[Update],
                 optimizers: dict[str, torch.optim.Optimizer], config: TrainConfig, dist: Distributed,
                 mode: Mode, fallback_reason: str = "", full_size: int | None = None) -> None:
        self.model = model
        self.objective = objective
        self.updates = updates
        self.optimizers = optimizers
        self.config = config
        self.dist = dist
        self.device = dist.device
        self.mode: Mode = mode
        self.full_size = full_size or config.batch_size  # the global batch size of every full (static) batch
        if fallback_reason:
            logger.info("training step runs eagerly: %s", fallback_reason)
        # While one network updates, the others' parameters need no gradient: a GAN's generator step then skips
        # the discriminator's weight gradients (which its own next update would discard anyway).
        trainable = {id(p): p for _, module, _ in updates for p in module.parameters() if p.requires_grad}
        own = {network: {id(p) for p in module.parameters()} for network, module, _ in updates}
        self.others = {network: [p for key, p in trainable.items() if key not in own[network]]
                       for network, _, _ in updates}
        self.sums: dict[str, Tensor] = {}  # key -> running sum of its logged value over the window
        self.loss_sums: dict[str, Tensor] = {network: self._zero() for network, _, _ in updates}
        self.window_steps = 0
        self._static: Data | None = None
        self._graph: Any = None
        self._adds: dict[str, int] = {}
        self._scale = 1.0
        self._static_steps = 0

    def _zero(self) -> Tensor:
        return torch.zeros((), dtype=torch.float32, device=self.device)

    # -- one step -----------------------------------------------------------------------------------------
    def step(self, batch: Data, *, global_size: int) -> None:
        """One training step on ``batch``, this process's part of a global batch of ``global_size`` samples.

        A partial batch (the end of an epoch, unless ``drop_last``) runs outside the static buffers and the
        graph, on the same parameters and optimizer states.
        """
        self.window_steps += 1
        self._scale = self.dist.loss_scale(len(batch), global_size)
        if self.mode == "eager":
            self._run(batch, zero_in_place=False)
        elif global_size != self.full_size:
            self._run(batch, zero_in_place=True)
        elif self.mode == "static":
            self._run(self._copy_to_static(batch), zero_in_place=True)
        else:
            self._run_graph(batch)

    def _run(self, batch: Data, *, zero_in_place: bool) -> None:
        # The autocast cache would hold casts across replays of a graph; it must be off inside one.
        autocast: contextlib.AbstractContextManager[Any] = (
            torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=self.mode == "eager")
            if self.config.precision == "bf16" else contextlib.nullcontext())
        adds: dict[str, int] = {}
        scale = self._scale
        for network, module, repeats in self.updates:
            optimizer = self.optimizers[network]
            others = self.others[network]
            for _ in range(repeats):
                with autocast, _frozen(others) if others else contextlib.nullcontext():
                    loss, logs = self.objective.loss(self.model, network, batch)
                # In place, gradients keep their addresses, which a replayed graph needs.
                optimizer.zero_grad(set_to_none=not zero_in_place)
                (loss * scale if scale != 1.0 else loss).backward()
                self.dist.average_gradients(module)
                if self.config.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip, foreach=True)
                optimizer.step()
                self.objective.after_update(self.model, network)
                self.loss_sums[network].add_(loss.detach().float())
                for key, value in logs.items():
                    total = self.sums.get(key)
                    if total is None:
                        total = self.sums[key] = self._zero()
                    total.add_(value.detach().float())
                    adds[key] = adds.get(key, 0) + 1
        self._adds = adds  # the same every step: a graph replays exactly these additions

    def _copy_to_static(self, batch: Data) -> Data:
        if self._static is None:
            self._static = Data(torch.empty_like(batch.images),
                                None if batch.labels is None else torch.empty_like(batch.labels))
        static = self._static
        static.images.copy_(batch.images, non_blocking=True)
        if static.labels is not None and batch.labels is not None:
            static.labels.copy_(batch.labels, non_blocking=True)
        return static

    def _run_graph(self, batch: Data) -> None:
        static = self._copy_to_static(batch)  # on the current stream, before any side stream touches it
        if self._graph is not None:
            self._graph.replay()
            return
        if self._static_steps < WARMUP_STEPS:
            # Warm-up on a side stream, as torch.cuda.graphs asks: kernels and allocator settle before capture.
            self._static_steps += 1
            with self._side_stream():
                self._run(static, zero_in_place=True)
            return
        self._capture(static)

    @contextlib.contextmanager
    def _side_stream(self) -> Iterator[None]:
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            yield
        torch.cuda.current_stream(self.device).wait_stream(stream)

    def _capture(self, static: Data) -> None:
        """Record the step of a full batch once, then replay it for this batch (capture itself runs nothing)."""
        rng = torch.cuda.get_rng_state(self.device)
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: a DataLoader's pinning thread may call CUDA while this thread captures.
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                self._run(static, zero_in_place=True)
        except Exception as exc:  # capture fails in many library-specific ways; each means "run eagerly"
            first_line = (str(exc).splitlines() or [""])[0][:200]
            self.fall_back(f"CUDA graph capture failed ({type(exc).__name__}: {first_line})")
            torch.cuda.set_rng_state(rng, self.device)
            self._run(static, zero_in_place=True)
            return
        self._graph = graph
        graph.replay()
        logger.info("captured the training step in a CUDA graph")

    def fall_back(self, reason: str) -> None:
        """Run every later step eagerly, and say why once."""
        logger.warning("training step runs eagerly from now on: %s", reason)
        self.mode = "eager"
        self._graph = None

    # -- reading the window -------------------------------------------------------------------------------
    def read_window(self) -> tuple[dict[str, float], dict[str, float], int]:
        """``(mean of each logged value, each network's loss sum, steps)`` over the window; starts a new one.

        This is the only place the host waits for the device: one transfer for every value together.
        """
        keys = list(self.sums)
        networks = list(self.loss_sums)
        steps = self.window_steps
        if steps == 0:
            return {}, {}, 0
        stacked = torch.stack([self.sums[k] for k in keys] + [self.loss_sums[n] for n in networks])
        values = stacked.tolist()
        for tensor in [*self.sums.values(), *self.loss_sums.values()]:
            tensor.zero_()
        self.window_steps = 0
        means = {k: v / (steps * self._adds.get(k, 1)) for k, v in zip(keys, values[:len(keys)], strict=True)}
        return means, dict(zip(networks, values[len(keys):], strict=True)), steps

    # -- checkpoints ----------------------------------------------------------------------------------------
    def window_state(self) -> tuple[dict[str, Tensor], int]:
        tensors = {f"sum/{k}": v for k, v in self.sums.items()}
        tensors.update({f"loss_sum/{k}": v for k, v in self.loss_sums.items()})
        return tensors, self.window_steps

    def load_window_state(self, tensors: dict[str, Tensor], steps: int) -> None:
        for key, value in tensors.items():
            kind, _, name = key.partition("/")
            target = self.sums if kind == "sum" else self.loss_sums
            if name not in target:
                target[name] = self._zero()
            target[name].copy_(value)
        self.window_steps = steps


@contextlib.contextmanager
def _frozen(params: list[nn.Parameter]) -> Iterator[None]:
    """``params`` without ``requires_grad`` for the block (the graph is built inside it), then restored."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def raise_if_non_finite(loss_sums: dict[str, float], *, first: int, last: int, checkpoint_step: int | None,
                        out: Path, checkpoint_every: int) -> None:
    """Name the network whose loss sum over steps ``first..last`` is NaN or infinite, and what was kept."""
    for network, value in loss_sums.items():
        if math.isfinite(value):
            continue
        when = f"at step {last}" if first == last else f"between steps {first} and {last}"
        if checkpoint_step is not None:
            kept = f"the last good checkpoint (step {checkpoint_step}) in {out} is kept"
        else:
            kept = (f"no checkpoint had been written yet (checkpoint_every={checkpoint_every}), so there is nothing "
                    "to resume")
        raise NonFiniteLossError(
            f"the {network} loss became {value} {when}; {kept}. Lower the learning rate, set grad_clip, or check "
            "the data for extreme values (log_every=1 finds the exact step)", path=out)


def check_batch_norm(model: nn.Module, count: int, batch_size: int, world_size: int, drop_last: bool) -> None:
    """Batch normalisation needs two samples per batch; refuse a run that would hand it one."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    local = min(count, batch_size) // world_size
    last = 0 if drop_last or count <= batch_size else (count % batch_size) // world_size
    smallest = min(local, last) if last else local
    if smallest < 2:
        raise TrainingError(
            f"the model uses batch normalisation, which needs at least 2 images per batch and process, but this "
            f"run would give it {smallest} (dataset of {count} image(s), batch_size {batch_size}, {world_size} "
            f"process(es)); use more images, a batch size whose last batch is not 1 (or --set drop_last=true), "
            "or a model without batch normalisation"
        )
