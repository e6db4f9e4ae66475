"""What a run directory records about how it was started, and the checks that let ``--resume`` continue it.

``model_config.json`` holds the model's config document, ``train_config.json`` the training config with its
duration resolved (never a null ``epochs``), so that ``zoo train --out DIR --resume`` needs nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from torch import nn

from zoo._files import atomic_write_bytes, not_a_file
from zoo._rundir import CHECKPOINT_NAME, MODEL_CONFIG_NAME, TRAIN_CONFIG_NAME, RunDir, read_json_object
from zoo._serialization import config_document
from zoo.errors import ConfigError, ResumeMismatchError, TrainingError
from zoo.train._config import DEFAULT_EPOCHS, RESUMABLE_KEYS, TrainConfig


def recorded_train_config(config: TrainConfig) -> dict[str, Any]:
    """The training config as a run directory records it: no nulls, the duration always explicit."""
    values = config.model_dump(mode="json", exclude_none=True)
    if config.epochs is None and config.steps is None:
        values["epochs"] = DEFAULT_EPOCHS
    return values


def identity(model: nn.Module, config: TrainConfig) -> dict[str, Any]:
    return {"model": config_document(model), "train": recorded_train_config(config)}


def prepare_run(run: RunDir, model: nn.Module, config: TrainConfig, *, resume: bool, write: bool) -> None:
    """Refuse to overwrite a run or to resume a different one; record the configs (rank 0 only writes)."""
    if resume:
        if run.checkpoint.exists() and not run.checkpoint.is_file():
            raise TrainingError(f"checkpoint {run.checkpoint}: it is not a regular file; remove it, or use another "
                                "--out", path=run.checkpoint)
        if not run.checkpoint.is_file():
            raise TrainingError(f"--resume: {run.root} holds no {CHECKPOINT_NAME}; train without --resume")
        check_same_run(run, model, config)
    elif run.checkpoint.exists():
        raise TrainingError(
            f"{run.root} already holds a training run; pass --resume to continue it, or choose another --out"
        )
    if write:
        run.root.mkdir(parents=True, exist_ok=True)
        recorded = identity(model, config)
        atomic_write_bytes(run.model_config, (json.dumps(recorded["model"], indent=2) + "\n").encode())
        atomic_write_bytes(run.train_config, (json.dumps(recorded["train"], indent=2) + "\n").encode())


def check_same_run(run: RunDir, model: nn.Module, config: TrainConfig) -> None:
    try:
        saved = {"model": run.read_model_config(), "train": run.read_train_config()}
    except ConfigError as exc:
        raise TrainingError(f"cannot read the configs of the run in {run.root} ({exc})") from None
    now = identity(model, config)
    saved_model = saved["model"].get("config", {})
    differing = [f"model.{k}" for k in _diff(saved_model, now["model"]["config"])]
    if saved["model"].get("architecture") != now["model"]["architecture"]:
        differing.insert(0, "architecture")
    saved_train = dict(saved["train"])
    if saved_train.get("epochs") is None and saved_train.get("steps") is None:
        saved_train["epochs"] = DEFAULT_EPOCHS  # written by an older zoo, which recorded a null duration
    train_keys = _diff({k: v for k, v in saved_train.items() if v is not None}, now["train"])
    differing += [f"train.{k}" for k in train_keys if k.split(".")[0] not in RESUMABLE_KEYS]
    if differing:
        raise ResumeMismatchError(
            f"cannot resume {run.root}: the config differs in {', '.join(differing)}; run `zoo train --out "
            f"{run.root} --resume` alone to continue with the recorded settings ({TRAIN_CONFIG_NAME} and "
            f"{MODEL_CONFIG_NAME} there), or start a new run with another --out",
            path=run.root,
        )


def recorded_run(out: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(architecture, model config, training config)`` recorded in the run directory ``out``."""
    run = RunDir(out)
    if run.root.exists() and not run.root.is_dir():
        raise TrainingError(f"--resume: {run.root} is a file, not a run directory; give the --out of an earlier run",
                            path=out)
    if not run.root.is_dir():
        raise TrainingError(f"--resume: no such directory {run.root}; give the --out of an earlier run", path=out)
    if (run.checkpoint.exists() or run.checkpoint.is_symlink()) and not run.checkpoint.is_file():
        kind = not_a_file(run.checkpoint, run.checkpoint.stat().st_mode) if run.checkpoint.exists() else (
            "a broken symlink")
        raise TrainingError(f"--resume: {run.checkpoint} is {kind}, not a checkpoint file; replace it with the "
                            "checkpoint, or train without --resume", path=out)
    if not run.checkpoint.is_file():
        raise TrainingError(f"--resume: {run.root} holds no {CHECKPOINT_NAME}, so there is nothing to continue; "
                            "train without --resume", path=out)
    try:
        model, train = run.read_model_config(), run.read_train_config()
    except ConfigError as exc:
        raise TrainingError(f"--resume: cannot read the configs of the run in {run.root} ({exc})", path=out) from None
    architecture, model_config = model.get("architecture"), model.get("config")
    if not isinstance(architecture, str) or not isinstance(model_config, dict):
        raise TrainingError(f"--resume: {run.model_config} names no architecture and config; it was not written "
                            "by zoo train", path=out)
    return architecture, model_config, train


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


__all__ = ["check_same_run", "identity", "prepare_run", "read_json_object", "recorded_run", "recorded_train_config"]
