"""Checkpoints: one safetensors file holding weights, optimizer states, RNG states and the open loss window.

The file is written to a temporary name and renamed over the previous checkpoint, so a process killed while
writing leaves the previous checkpoint intact; the temporary files such a process leaves behind are removed by
the next successful write. Everything read back is validated (keys, shapes, dtypes, counters, RNG state
sizes) before anything is restored, and a bad checkpoint raises :class:`TrainingError` naming what is wrong.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import torch
from safetensors import SafetensorError, safe_open
from torch import Tensor, nn

from zoo._files import not_a_file, refuse_symlink
from zoo._rundir import CHECKPOINT_NAME
from zoo._serialization import save_tensors
from zoo.errors import TrainingError
from zoo.train._run_records import option_names

logger = logging.getLogger("zoo.train")

__all__ = ["CHECKPOINT_NAME", "TrainingState", "load_checkpoint", "save_checkpoint"]

IMPLEMENTATION_KEYS = ("fused", "foreach", "capturable", "differentiable")
# A checkpoint is weights plus a few states of the same size; this only stops absurd metadata.
MAX_METADATA_CHARS = 10_000_000


@dataclass
class TrainingState:
    """The counters a checkpoint restores besides tensors."""

    step: int
    network_steps: dict[str, int]
    window_steps: int = 0
    drop_last: bool | None = None
    window: dict[str, Tensor] = field(default_factory=dict)


def _scalar(value: Any) -> Any:
    return float(value) if isinstance(value, Tensor) else value


def _optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], Any]:
    state = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}/{index}/{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    # Learning rates live on the device as tensors; the file records their values.
    groups = [{k: _scalar(v) for k, v in group.items()} for group in state["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def save_checkpoint(path: Path, *, model: nn.Module, optimizers: dict[str, torch.optim.Optimizer],
                    state: TrainingState) -> None:
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    optim_meta = {}
    for name, optimizer in optimizers.items():
        opt_tensors, optim_meta[name] = _optimizer_tensors(f"optim/{name}", optimizer)
        tensors.update(opt_tensors)
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng/cuda"] = torch.cuda.get_rng_state()
    tensors.update({f"window/{k}": v for k, v in state.window.items()})
    counters = {"step": state.step, "network_steps": state.network_steps, "window_steps": state.window_steps,
                "drop_last": state.drop_last}
    metadata = {"state": json.dumps(counters), "optimizers": json.dumps(optim_meta)}
    try:
        save_tensors(tensors, path, metadata=metadata)
    except OSError as exc:
        names = option_names()
        raise TrainingError(
            f"cannot write the checkpoint {path} ({exc.strerror or exc}); free some disk space or choose another "
            f"{names.out}, then continue with {names.continue_with(path.parent)}; the previous checkpoint is kept",
            path=path,
        ) from None
    for stale in path.parent.glob(f".{path.stem}.*.tmp{path.suffix}"):
        stale.unlink(missing_ok=True)  # left by a write that was killed; this one has succeeded
        logger.info("removed %s, left by an interrupted checkpoint write", stale.name)


def load_checkpoint(path: Path, *, model: nn.Module, optimizers: dict[str, torch.optim.Optimizer]) -> TrainingState:
    """Validate, then restore everything saved by :func:`save_checkpoint`; returns the counters."""
    refuse_symlink(path)  # the run's own file, never one elsewhere
    try:
        kind = not_a_file(path, path.stat().st_mode)  # a FIFO or device in its place would block or never end
        if kind is not None:
            raise _bad(path, f"it is not a regular file but {kind}")
        most_keys, most_bytes = _bounds(model, optimizers)
        with open(path, "rb") as raw:  # safetensors parses the whole header: bound it first
            length = int.from_bytes(raw.read(8), "little")
        if length > 65_536 + 512 * most_keys:
            raise _bad(path, f"its header is {length:,} bytes, far more than this model's checkpoint needs")
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
            keys = list(fh.keys())
            if len(keys) > most_keys:
                raise _bad(path, f"it holds {len(keys):,} tensors; this model's checkpoint holds at most {most_keys:,}")
            announced = sum(math.prod(fh.get_slice(key).get_shape()) * _ITEM_BYTES.get(fh.get_slice(key).get_dtype(), 8)
                            for key in keys)
            if announced > most_bytes:  # checked from the header, before any tensor is read
                raise _bad(path, f"its tensors take {announced:,} bytes; this model's checkpoint takes at most "
                                 f"{most_bytes:,}")
            tensors = {key: fh.get_tensor(key) for key in keys}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _bad(path, f"it is unreadable ({exc})") from None
    state, optim_meta = _validate(path, tensors, metadata, model, optimizers)
    try:
        _restore(tensors, optim_meta, model, optimizers)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise _bad(path, f"restoring it failed ({type(exc).__name__}: {str(exc)[:300]})") from None
    state.window = {k[len("window/"):]: v for k, v in tensors.items() if k.startswith("window/")}
    return state


_ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def _bounds(model: nn.Module, optimizers: dict[str, torch.optim.Optimizer]) -> tuple[int, int]:
    """The most tensors and bytes a checkpoint of ``model`` can hold: its state, up to four optimizer states
    per parameter (Adam with amsgrad keeps three and a step), the RNG states and the loss window."""
    state = model.state_dict()
    parameters = sum(len(group["params"]) for optimizer in optimizers.values() for group in optimizer.param_groups)
    model_bytes = sum(t.numel() * t.element_size() for t in state.values())
    most_keys = len(state) + 4 * parameters + 64
    return most_keys, 5 * model_bytes + 8 * most_keys + (1 << 20)


def _restore(tensors: dict[str, Tensor], optim_meta: dict[str, Any], model: nn.Module,
             optimizers: dict[str, torch.optim.Optimizer]) -> None:
    device = next(iter(model.parameters())).device
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")}, strict=True)
    for name, optimizer in optimizers.items():
        prefix = f"optim/{name}/"
        per_param: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith(prefix):
                index, field_name = key[len(prefix):].split("/", 1)
                per_param.setdefault(int(index), {})[field_name] = value if field_name == "step" else value.to(device)
        for index, scalars in optim_meta[name]["scalars"].items():
            per_param.setdefault(int(index), {}).update(scalars)
        lrs = [group["lr"] for group in optimizer.param_groups]
        # How the optimizer runs (fused, capturable on a GPU) belongs to this process, not to the file: a run
        # saved on a CPU may continue in a CUDA graph.
        kernels = [{k: group[k] for k in IMPLEMENTATION_KEYS if k in group} for group in optimizer.param_groups]
        groups = [{**saved, **kernel} for saved, kernel in zip(optim_meta[name]["param_groups"], kernels, strict=True)]
        optimizer.load_state_dict({"state": per_param, "param_groups": groups})  # moves "step" where fused wants it
        for group, lr in zip(optimizer.param_groups, lrs, strict=True):
            if isinstance(lr, Tensor):  # load_state_dict puts back the recorded float; keep the device tensor
                lr.fill_(float(group["lr"]))
                group["lr"] = lr
    torch.set_rng_state(tensors["rng/torch"])
    if "rng/cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng/cuda"])


def _bad(path: Path, what: str) -> TrainingError:
    return TrainingError(f"checkpoint {path}: {what}; it was not written by this run's zoo train, or is damaged. "
                         "Delete it (or use another --out) to start over", path=path)


def _json_object(path: Path, metadata: dict[str, str], key: str) -> dict[str, Any]:
    text = metadata.get(key)
    if text is None:
        raise _bad(path, f"its metadata has no {key!r} entry")
    if len(text) > MAX_METADATA_CHARS:
        raise _bad(path, f"its {key!r} metadata is {len(text):,} characters long")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _bad(path, f"its {key!r} metadata is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise _bad(path, f"its {key!r} metadata is a {type(value).__name__}, not an object")
    return value


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62


def _validate(path: Path, tensors: dict[str, Tensor], metadata: dict[str, str], model: nn.Module,
              optimizers: dict[str, torch.optim.Optimizer]) -> tuple[TrainingState, dict[str, Any]]:
    state = _json_object(path, metadata, "state")
    optim_meta = _json_object(path, metadata, "optimizers")
    # -- counters
    step = state.get("step")
    if not _count(step):
        raise _bad(path, f"its step counter is {step!r}, not a non-negative integer")
    network_steps = state.get("network_steps")
    if not isinstance(network_steps, dict) or set(network_steps) != set(optimizers):
        found = sorted(network_steps) if isinstance(network_steps, dict) else network_steps
        raise _bad(path, f"it counts steps for networks {found!r}, but this model trains {sorted(optimizers)}")
    for name, count in network_steps.items():
        if not _count(count):
            raise _bad(path, f"its step counter of {name!r} is {count!r}, not a non-negative integer")
    window_steps = state.get("window_steps", 0)
    if not _count(window_steps):
        raise _bad(path, f"its window_steps counter is {window_steps!r}")
    drop_last = state.get("drop_last")
    if drop_last is not None and not isinstance(drop_last, bool):
        raise _bad(path, f"its drop_last is {drop_last!r}, not true, false or null")
    # -- model tensors
    expected = model.state_dict()
    saved = {k[6:]: v for k, v in tensors.items() if k.startswith("model/")}
    missing, unexpected = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    if missing or unexpected:
        raise _bad(path, f"its model tensors differ from this model's (missing {missing[:5]}, unexpected "
                         f"{unexpected[:5]})")
    for key, value in saved.items():
        want = expected[key]
        if value.shape != want.shape or value.dtype != want.dtype:
            raise _bad(path, f"model tensor {key!r} is {value.dtype} {tuple(value.shape)}, but this model has "
                             f"{want.dtype} {tuple(want.shape)}")
    # -- optimizer states
    if set(optim_meta) != set(optimizers):
        raise _bad(path, f"it holds optimizers {sorted(optim_meta)}, but this model trains {sorted(optimizers)}")
    params: dict[str, list[Tensor]] = {}
    for name, optimizer in optimizers.items():
        meta = optim_meta[name]
        groups = meta.get("param_groups") if isinstance(meta, dict) else None
        scalars = meta.get("scalars") if isinstance(meta, dict) else None
        if not isinstance(groups, list) or not isinstance(scalars, dict):
            raise _bad(path, f"the {name!r} optimizer metadata lacks param_groups or scalars")
        if len(groups) != len(optimizer.param_groups) or any(
                not isinstance(g, dict) or not isinstance(g.get("params"), list)
                or len(g["params"]) != len(mine["params"])
                for g, mine in zip(groups, optimizer.param_groups, strict=True)):
            raise _bad(path, f"the {name!r} optimizer's parameter groups do not match this model's")
        for group in groups:
            lr = group.get("lr")
            if not isinstance(lr, int | float) or isinstance(lr, bool) or not math.isfinite(lr) or lr < 0:
                raise _bad(path, f"the {name!r} optimizer's learning rate is {lr!r}")
        params[name] = [p for group in optimizer.param_groups for p in group["params"]]
        for index, values in scalars.items():
            if not (isinstance(index, str) and index.isdigit() and int(index) < len(params[name])) or not isinstance(
                    values, dict):
                raise _bad(path, f"the {name!r} optimizer holds a state for parameter {index!r}, which it lacks")
    for key, value in tensors.items():
        kind = key.split("/", 1)[0]
        if kind == "optim":
            _check_optimizer_tensor(path, key, value, params)
        elif kind == "rng":
            _check_rng(path, key, value)
        elif kind == "window":
            if value.shape != () or value.dtype != torch.float32:
                raise _bad(path, f"{key!r} is {value.dtype} {tuple(value.shape)}, not a float32 scalar")
        elif kind != "model":
            raise _bad(path, f"it holds an unknown tensor {key!r}")
    if "rng/torch" not in tensors:
        raise _bad(path, "it holds no random number generator state ('rng/torch')")
    return TrainingState(step=step, network_steps=dict(network_steps), window_steps=window_steps,
                         drop_last=drop_last), optim_meta


def _check_optimizer_tensor(path: Path, key: str, value: Tensor, params: dict[str, list[Tensor]]) -> None:
    parts = key.split("/")
    if len(parts) != 4 or parts[1] not in params or not parts[2].isdigit() or int(parts[2]) >= len(params[parts[1]]):
        raise _bad(path, f"it holds an optimizer tensor {key!r} that matches no parameter of this model")
    param = params[parts[1]][int(parts[2])]
    if parts[3] == "step":
        if value.numel() != 1 or value.dtype == torch.bool:
            raise _bad(path, f"{key!r} is {value.dtype} {tuple(value.shape)}, not a step count")
        if not math.isfinite(float(value)) or float(value) < 0:
            raise _bad(path, f"{key!r} is {float(value)}, not a step count")
    elif value.shape != param.shape or not value.is_floating_point():
        raise _bad(path, f"{key!r} is {value.dtype} {tuple(value.shape)}, but its parameter is "
                         f"{param.dtype} {tuple(param.shape)}")


def _check_rng(path: Path, key: str, value: Tensor) -> None:
    if key == "rng/torch":
        expected = torch.get_rng_state()
    elif key == "rng/cuda":
        if not torch.cuda.is_available():
            return  # restored only on CUDA machines
        expected = torch.cuda.get_rng_state()
    else:
        raise _bad(path, f"it holds an unknown random number generator state {key!r}")
    if value.dtype != torch.uint8 or value.shape != expected.shape:
        raise _bad(path, f"the random number generator state {key!r} is {value.dtype} {tuple(value.shape)}, "
                         f"expected uint8 {tuple(expected.shape)}")
