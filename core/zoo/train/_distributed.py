"""Data-parallel training under torchrun: gloo on CPU, NCCL on GPUs; a no-op in a single process.

This does what DistributedDataParallel does (same initial weights on every rank, gradients averaged after
each backward) with explicit collectives, because objectives call submodule methods such as
``model.generator.sample`` that a DDP wrapper's ``forward`` would not see.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import nn

from zoo._specs import Data
from zoo.errors import TrainingError


def resolve_device(choice: str, local_rank: int = 0) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise TrainingError("device 'cuda' was asked for but no CUDA device is available; use --set device=cpu")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @classmethod
    def from_environment(cls, device_choice: str) -> Distributed:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = resolve_device(device_choice, local_rank)
        if world_size > 1 and not torch_dist.is_initialized():
            # The first optimizer imports torch._dynamo, which keeps references to the process group that exists
            # then: destroy_process_group would free nothing, and gloo's threads still running at interpreter exit
            # abort the process ("terminate called without an active exception"). Imported before the group
            # exists, it holds none.
            import torch._dynamo

            if device.type == "cuda":
                torch.cuda.set_device(device)
            torch_dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        rank = torch_dist.get_rank() if world_size > 1 else 0
        return cls(rank=rank, world_size=world_size, device=device)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: Data) -> Data:
        """This rank's slice of the global batch."""
        if self.world_size == 1:
            return batch
        index = torch.arange(len(batch), device=batch.images.device).tensor_split(self.world_size)[self.rank]
        return batch[index]

    def shard_index(self, index: torch.Tensor) -> torch.Tensor:
        """This rank's part of a global batch's indices (the same rows :meth:`shard` keeps), before reading."""
        if self.world_size == 1:
            return index
        return index.tensor_split(self.world_size)[self.rank]

    def loss_scale(self, local_batch: int, global_batch: int) -> float:
        """Scale making the averaged gradient equal the gradient of the mean loss over the global batch."""
        if self.world_size == 1:
            return 1.0
        return local_batch * self.world_size / global_batch

    def average_gradients(self, module: nn.Module) -> None:
        if self.world_size == 1:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch_dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def broadcast_parameters(self, model: nn.Module) -> None:
        if self.world_size == 1:
            return
        for tensor in list(model.parameters()) + list(model.buffers()):
            torch_dist.broadcast(tensor.data, src=0)

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any (so all ranks stop at the same step)."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch_dist.all_reduce(value)
        return bool(value.item() > 0)

    def close(self, *, wait: bool = False) -> None:
        """Leave the process group; with ``wait``, first wait for every rank (rank 0 saves the run at the end, and
        a rank that exits earlier makes torchrun stop the others)."""
        if self.world_size > 1 and torch_dist.is_initialized():
            if wait:
                torch_dist.barrier()
            torch_dist.destroy_process_group()
