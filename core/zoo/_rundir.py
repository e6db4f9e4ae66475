"""The layout of a model folder and a ``zoo train`` run directory, in one place: file names, paths and readers.

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
from typing import Any, Final

from zoo._files import open_in_folder, refuse_symlink
from zoo._text import parse_json
from zoo.errors import ConfigError

# A loadable model folder (zoo.save, a run directory, a Hub repository, a registry entry).
CONFIG_NAME: Final = "config.json"
WEIGHTS_NAME: Final = "model.safetensors"
SAMPLES_NAME: Final = "samples.png"
RECONSTRUCTIONS_NAME: Final = "reconstructions.png"
IMAGE_NAMES: Final = (SAMPLES_NAME, RECONSTRUCTIONS_NAME)
# Pickle-based weights that zoo refuses to load (it names them in the refusal).
PICKLE_NAMES: Final = ("pytorch_model.bin", "model.pt", "model.pth", "model.ckpt", "pytorch_model.pt")
# A registry entry's description (registry/<name>/entry.json) and a Hub repository's model card.
ENTRY_NAME: Final = "entry.json"
MODEL_CARD_NAME: Final = "README.md"
# config.json is small; refusing huge files keeps a hostile one from exhausting memory while parsing.
MAX_CONFIG_BYTES: Final = 1_000_000
# The loader's bound on a weights file (the parameter budget in float64 is 512 MB); downloads check it first.
MAX_WEIGHTS_BYTES: Final = 2 * 1024**3

# A run directory, besides the model folder's files.
MODEL_CONFIG_NAME = "model_config.json"
TRAIN_CONFIG_NAME = "train_config.json"
METRICS_LOG_NAME = "metrics.jsonl"
EVAL_METRICS_NAME = "metrics.json"
CHECKPOINT_NAME = "checkpoint.safetensors"
LOSS_CURVE_NAME = "loss_curve.png"
SNAPSHOTS_DIR = "snapshots"
RUN_LOCK_NAME = ".zoo-train.lock"  # flock-ed by the one process training into the folder
DATA_FINGERPRINT_NAME = "data_fingerprint.json"  # what the training data was when the run began
TENSORBOARD_DIR = "tensorboard"  # logger=tensorboard's event files
# Run configs are a few hundred bytes; anything far larger is not one.
MAX_RUN_JSON_BYTES = 1_000_000
# A metrics.jsonl record is a step, an epoch and a few losses: about a hundred bytes.
MAX_METRICS_LINE_BYTES = 1_000_000


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
    refuse_symlink(path)  # a run folder's files are its own: never read one elsewhere through a symlink
    if not path.is_file():
        raise ConfigError(f"{path} does not exist or is not a regular file")
    try:
        with os.fdopen(open_in_folder(path, "r"), "rb") as fh:
            raw = fh.read(MAX_RUN_JSON_BYTES + 1)
        if len(raw) > MAX_RUN_JSON_BYTES:
            raise ConfigError(f"{path} is over {MAX_RUN_JSON_BYTES:,} bytes, too large for a run config")
        data = parse_json(raw, where=str(path), fix="restore it, or start a new run with another --out")
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def iter_metrics(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a run's ``metrics.jsonl``, up to the first torn, damaged or overlong line.

    Read line by line, each line bounded before it is read (a one-line file of 600 MB costs 1 MB), and never
    through a symlink (see :func:`zoo._files.open_in_folder`).
    """
    if not path.is_file() and not path.is_symlink():
        return
    with os.fdopen(open_in_folder(path, "r"), "rb") as fh:
        while line := fh.readline(MAX_METRICS_LINE_BYTES + 1):
            if len(line) > MAX_METRICS_LINE_BYTES:
                return  # no loss record is this long: damage; keep what came before
            try:
                record = json.loads(line.decode("utf-8", errors="replace"))
            except (ValueError, RecursionError):  # JSONDecodeError, huge integers, deep nesting
                return  # a torn last line from a killed process, or damage: keep what came before
            if isinstance(record, dict):
                yield record


__all__ = [
    "CHECKPOINT_NAME",
    "CONFIG_NAME",
    "DATA_FINGERPRINT_NAME",
    "ENTRY_NAME",
    "EVAL_METRICS_NAME",
    "IMAGE_NAMES",
    "LOSS_CURVE_NAME",
    "MAX_CONFIG_BYTES",
    "MAX_WEIGHTS_BYTES",
    "METRICS_LOG_NAME",
    "MODEL_CARD_NAME",
    "MODEL_CONFIG_NAME",
    "PICKLE_NAMES",
    "RECONSTRUCTIONS_NAME",
    "SAMPLES_NAME",
    "RUN_LOCK_NAME",
    "SNAPSHOTS_DIR",
    "TENSORBOARD_DIR",
    "TRAIN_CONFIG_NAME",
    "WEIGHTS_NAME",
    "RunDir",
    "iter_metrics",
    "read_json_object",
]
