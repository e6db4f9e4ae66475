"""The layout of a ``zoo train`` run directory, in one place: file names, paths and readers.

A run directory holds the loadable model (``config.json`` + ``model.safetensors``, written by ``zoo.save``),
what made it (``model_config.json``, ``train_config.json``), what happened (``metrics.jsonl``, picture grids,
``loss_curve.png``, ``snapshots/``), what an evaluation found (``metrics.json``) and how to continue it
(``checkpoint.safetensors``). Trainer, callbacks, evaluation and Hub code ask this module for paths and read
through it, so that the layout can change in one file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo._text import parse_json
from zoo.errors import ConfigError

MODEL_CONFIG_NAME = "model_config.json"
TRAIN_CONFIG_NAME = "train_config.json"
METRICS_LOG_NAME = "metrics.jsonl"
EVAL_METRICS_NAME = "metrics.json"
CHECKPOINT_NAME = "checkpoint.safetensors"
LOSS_CURVE_NAME = "loss_curve.png"
SNAPSHOTS_DIR = "snapshots"
# Run configs are a few hundred bytes; anything far larger is not one.
MAX_RUN_JSON_BYTES = 1_000_000


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory (nothing is created or read by building one)."""

    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def model_config(self) -> Path:
        return self.root / MODEL_CONFIG_NAME

    @property
    def train_config(self) -> Path:
        return self.root / TRAIN_CONFIG_NAME

    @property
    def metrics_log(self) -> Path:
        return self.root / METRICS_LOG_NAME

    @property
    def eval_metrics(self) -> Path:
        return self.root / EVAL_METRICS_NAME

    @property
    def checkpoint(self) -> Path:
        return self.root / CHECKPOINT_NAME

    @property
    def loss_curve(self) -> Path:
        return self.root / LOSS_CURVE_NAME

    @property
    def snapshots(self) -> Path:
        return self.root / SNAPSHOTS_DIR

    def read_train_config(self) -> dict[str, Any]:
        return read_json_object(self.train_config)

    def read_model_config(self) -> dict[str, Any]:
        return read_json_object(self.model_config)


def read_json_object(path: Path) -> dict[str, Any]:
    """A small JSON object from ``path``, or a :class:`ConfigError` naming the file and the problem."""
    if not path.is_file():
        raise ConfigError(f"{path} does not exist or is not a regular file")
    try:
        size = path.stat().st_size
        if size > MAX_RUN_JSON_BYTES:
            raise ConfigError(f"{path} is {size:,} bytes, too large for a run config")
        data = parse_json(path.read_bytes(), where=str(path), fix="restore it, or start a new run with another --out")
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def iter_metrics(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):  # JSONDecodeError, huge integers, deep nesting
                return  # a torn last line from a killed process, or damage: keep what came before
            if isinstance(record, dict):
                yield record


__all__ = [
    "CHECKPOINT_NAME",
    "EVAL_METRICS_NAME",
    "LOSS_CURVE_NAME",
    "METRICS_LOG_NAME",
    "MODEL_CONFIG_NAME",
    "SNAPSHOTS_DIR",
    "TRAIN_CONFIG_NAME",
    "RunDir",
    "iter_metrics",
    "read_json_object",
]
