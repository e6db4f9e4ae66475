"""Checkpoints: one safetensors file holding weights, optimizer states and RNG states; JSON metadata.

The file is written to a temporary name and renamed over the previous checkpoint, so a process killed while
writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from zoo._serialization import save_tensors
from zoo.errors import TrainingError

CHECKPOINT_NAME = "checkpoint.safetensors"


def _optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}/{index}/{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def save_checkpoint(path: Path, *, model: nn.Module, optimizers: dict[str, torch.optim.Optimizer],
                    state: dict[str, Any]) -> None:
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    optim_meta = {}
    for name, optimizer in optimizers.items():
        opt_tensors, optim_meta[name] = _optimizer_tensors(f"optim/{name}", optimizer)
        tensors.update(opt_tensors)
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng/cuda"] = torch.cuda.get_rng_state()
    metadata = {"state": json.dumps(state), "optimizers": json.dumps(optim_meta)}
    save_tensors(tensors, path, metadata=metadata)


def load_checkpoint(path: Path, *, model: nn.Module, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore everything saved by :func:`save_checkpoint`; returns the training state."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
        state = json.loads(metadata["state"])
        optim_meta = json.loads(metadata["optimizers"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as exc:
        raise TrainingError(f"checkpoint {path} is unreadable ({exc}); delete it to start over") from None
    device = next(iter(model.parameters())).device
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")}, strict=True)
    for name, optimizer in optimizers.items():
        prefix = f"optim/{name}/"
        per_param: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith(prefix):
                index, field = key[len(prefix):].split("/", 1)
                per_param.setdefault(int(index), {})[field] = value.to(device) if field != "step" else value
        for index, scalars in optim_meta[name]["scalars"].items():
            per_param.setdefault(int(index), {}).update(scalars)
        optimizer.load_state_dict({"state": per_param, "param_groups": optim_meta[name]["param_groups"]})
    torch.set_rng_state(tensors["rng/torch"])
    if "rng/cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng/cuda"])
    return state
