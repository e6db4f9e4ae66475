"""What a run directory records about how it was started, and the checks that let ``--resume`` continue it.

``model_config.json`` holds the model's config document, ``train_config.json`` the training config with its
duration resolved (never a null ``epochs``), so that ``zoo train --out DIR --resume`` needs nothing else.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import os
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from zoo._files import atomic_write_bytes, folder_lock, not_a_file
from zoo._rundir import (
    CHECKPOINT_NAME,
    DATA_FINGERPRINT_NAME,
    MODEL_CONFIG_NAME,
    RUN_LOCK_NAME,
    TRAIN_CONFIG_NAME,
    RunDir,
    read_json_object,
)
from zoo._serialization import config_document
from zoo._text import shown
from zoo.errors import ConfigError, ResumeMismatchError, TrainingError
from zoo.train._config import DEFAULT_EPOCHS, RESUMABLE_KEYS, TrainConfig

logger = logging.getLogger("zoo.train")

# Training data up to this size is hashed for the resume check; larger files are known by size and time.
FINGERPRINT_HASH_BYTES = 64 << 20
FINGERPRINT_MAX_FILES = 200_000


@dataclass(frozen=True)
class OptionNames:
    """How the caller spells the options a training error tells them to change: CLI flags or Python arguments."""

    resume: str
    overwrite: str
    out: str
    duration: str
    cli: bool

    def continue_with(self, out: Path | str) -> str:
        """How to continue the run in ``out`` with its recorded settings."""
        if self.cli:
            return f"`zoo train --out {shlex.quote(str(out))} --resume`"
        return f"train(..., TrainConfig(out={str(out)!r}, ...), resume=True) with the recorded settings"


CLI_OPTIONS = OptionNames(resume="--resume", overwrite="--overwrite", out="--out", duration="--epochs or --steps",
                          cli=True)
PYTHON_OPTIONS = OptionNames(resume="resume=True", overwrite="overwrite=True", out="TrainConfig.out",
                             duration="TrainConfig.epochs or .steps", cli=False)
_option_names: contextvars.ContextVar[OptionNames] = contextvars.ContextVar("zoo_train_options",
                                                                            default=PYTHON_OPTIONS)


def option_names() -> OptionNames:
    """The spelling of the current caller: Python arguments, unless inside :func:`cli_options`."""
    return _option_names.get()


@contextlib.contextmanager
def cli_options() -> Iterator[None]:
    """Within this block, training errors name the ``zoo train`` flags (the command line's handler uses it)."""
    token = _option_names.set(CLI_OPTIONS)
    try:
        yield
    finally:
        _option_names.reset(token)


def prepare_out(out: str, *, resume: bool, overwrite: bool) -> None:
    """Refuse an ``out`` that cannot be a run directory; with ``overwrite``, remove the zoo run already there."""
    names = option_names()
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{names.out} {out}: it is a file, not a folder; give the run directory to create, e.g. "
                          "runs/my-run")
    if overwrite and resume:
        raise ConfigError(f"{names.overwrite} and {names.resume} contradict each other: {names.resume} continues the "
                          f"run in {names.out}, {names.overwrite} replaces it; give one")
    if overwrite and path.is_dir() and _entries(path):
        if not (path / TRAIN_CONFIG_NAME).is_file():
            raise ConfigError(f"{names.overwrite}: {out} is not a zoo run directory (it has no {TRAIN_CONFIG_NAME}); "
                              f"zoo only deletes its own runs. Choose another {names.out} or empty the folder "
                              "yourself")
        with folder_lock(path, RUN_LOCK_NAME, what="a zoo train run is writing it"):  # never delete a live run
            shutil.rmtree(path)
    elif not resume and path.is_dir() and not (path / TRAIN_CONFIG_NAME).is_file():
        found = _entries(path)
        if found:
            shown_names = ", ".join(shown(name, limit=60) for name in found[:5]) + (", ..." if len(found) > 5 else "")
            raise ConfigError(f"{names.out} {out} already holds files that are not a zoo run ({shown_names}); a run "
                              "would write its files among them. Choose a new or empty folder")


def _entries(path: Path) -> list[str]:
    """The names in ``path``, less the run lock (left by a run that failed before recording its configs)."""
    return sorted(p.name for p in path.iterdir() if p.name != RUN_LOCK_NAME)


def recorded_train_config(config: TrainConfig) -> dict[str, Any]:
    """The training config as a run directory records it: no nulls, the duration always explicit."""
    values = config.model_dump(mode="json", exclude_none=True)
    if config.epochs is None and config.steps is None:
        values["epochs"] = DEFAULT_EPOCHS
    return values


def identity(model: nn.Module, config: TrainConfig) -> dict[str, Any]:
    return {"model": config_document(model), "train": recorded_train_config(config)}


def check_and_record_run(run: RunDir, model: nn.Module, config: TrainConfig, *, resume: bool, write: bool) -> None:
    """Refuse to overwrite a run or to resume a different one; record the configs (rank 0 only writes)."""
    names = option_names()
    if resume:
        if run.checkpoint.exists() and not run.checkpoint.is_file():
            raise TrainingError(f"checkpoint {run.checkpoint}: it is not a regular file; remove it, or use another "
                                f"{names.out}", path=run.checkpoint)
        if not run.checkpoint.is_file():
            raise TrainingError(f"{names.resume}: {run.root} holds no {CHECKPOINT_NAME}; train without "
                                f"{names.resume}")
        check_same_run(run, model, config)
    elif run.checkpoint.exists():
        raise TrainingError(
            f"{run.root} already holds a training run; pass {names.resume} to continue it, {names.overwrite} to "
            f"replace it, or choose another {names.out}"
        )
    if write:
        run.root.mkdir(parents=True, exist_ok=True)
        fingerprint_path = run.root / DATA_FINGERPRINT_NAME
        if resume:
            warn_if_data_changed(fingerprint_path, config.data)
        else:
            fingerprint = data_fingerprint(config.data)
            if fingerprint is not None:
                atomic_write_bytes(fingerprint_path, (json.dumps(fingerprint, indent=2) + "\n").encode())
        recorded = identity(model, config)
        atomic_write_bytes(run.model_config, (json.dumps(recorded["model"], indent=2) + "\n").encode())
        atomic_write_bytes(run.train_config, (json.dumps(recorded["train"], indent=2) + "\n").encode())


def data_fingerprint(data: str) -> dict[str, Any] | None:
    """What identifies the training data ``data`` when it is a file or folder (None for a registered dataset):
    its size and modification time, and the sha256 of a file up to FINGERPRINT_HASH_BYTES."""
    path = Path(data)
    try:
        if path.is_file():
            info = path.stat()
            found: dict[str, Any] = {"size": info.st_size, "mtime_ns": info.st_mtime_ns}
            if info.st_size <= FINGERPRINT_HASH_BYTES:
                found["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            return {"data": data, **found}
        if path.is_dir():
            files = size = newest = 0
            for root, _, names in os.walk(path):
                for name in names:
                    info = os.stat(os.path.join(root, name), follow_symlinks=False)
                    files, size, newest = files + 1, size + info.st_size, max(newest, info.st_mtime_ns)
                if files > FINGERPRINT_MAX_FILES:
                    return None  # too many to look at on every resume
            return {"data": data, "files": files, "size": size, "mtime_ns": newest}
    except OSError:
        return None
    return None


def warn_if_data_changed(recorded_path: Path, data: str) -> None:
    """Log a warning when ``data`` is not what it was when the run began (recorded in ``recorded_path``)."""
    try:
        recorded = read_json_object(recorded_path)
    except ConfigError:
        return  # a run begun by an older zoo records no fingerprint
    now = data_fingerprint(data)
    if now is None or recorded.get("data") != data:
        return
    if "sha256" in recorded and "sha256" in now:
        changed = recorded["sha256"] != now["sha256"]
    else:
        changed = any(recorded.get(key) != now.get(key) for key in ("size", "files", "mtime_ns"))
    if changed:
        logger.warning("the training data %s changed since this run began (%s); the run continues on the data as "
                       "it is now. If that is not meant, restore the data, or start a new run with another --out",
                       shown(data), _what_changed(recorded, now))


def _what_changed(before: dict[str, Any], now: dict[str, Any]) -> str:
    if before.get("size") != now.get("size"):
        return f"{before.get('size')} bytes then, {now.get('size')} now"
    if before.get("files") != now.get("files"):
        return f"{before.get('files')} files then, {now.get('files')} now"
    return "same size, other content" if "sha256" in now else "modified since"


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
        names = option_names()
        raise ResumeMismatchError(
            f"cannot resume {run.root}: the config differs in {', '.join(differing)}; run "
            f"{names.continue_with(run.root)} to continue with the recorded settings ({TRAIN_CONFIG_NAME} and "
            f"{MODEL_CONFIG_NAME} there), or start a new run with another {names.out}",
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


__all__ = ["CLI_OPTIONS", "PYTHON_OPTIONS", "OptionNames", "check_same_run", "cli_options", "identity", "option_names",
           "prepare_out", "check_and_record_run", "read_json_object", "recorded_run", "recorded_train_config"]
