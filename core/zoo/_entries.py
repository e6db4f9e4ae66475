"""The schema of a pretrained weights entry (``architecture.tag``) and the file checks every load runs.

An entry records everything needed to trust and reproduce a set of weights: the architecture and its config,
the sha256 of every file, the data it was trained on, the exact command and seed, metrics, and where it is
published on the Hub. ``registry/README.md`` documents every field.

A plain module, as timm's ``_pretrained.py``: it imports neither torch, the registry nor the Hub code, so that the
registry is typed with :class:`WeightsEntry` and ``zoo list`` reads entries without loading torch. Every load
checks every file against its recorded sha256 (:func:`verify_file`).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from pathlib import Path
from typing import Final, Literal, Self

import pydantic
from pydantic import Field, JsonValue, PrivateAttr

from zoo._config import FrozenModel, validate_config
from zoo._names import (
    COMMIT_PATTERN,
    ENTRY_NAME_PATTERN,
    METRIC_NAME_PATTERN,
    NAME_PATTERN,
    OWNED_REPO_ID_PATTERN,
    valid_repo_id,
)
from zoo._rundir import CONFIG_NAME, ENTRY_NAME, WEIGHTS_NAME, RunDir
from zoo.errors import ChecksumError, ConfigError

SCHEMA_VERSION: Final = 1
# The only file names an entry may list: nothing else is ever fetched or written for an entry (zoo._rundir's names).
FileName = Literal["config.json", "model.safetensors", "samples.png", "reconstructions.png"]
REQUIRED_FILES: Final = (CONFIG_NAME, WEIGHTS_NAME)
MAX_FILE_BYTES: Final = 4 * 1024**3


class FileDigest(FrozenModel):
    """The sha256 and size of one file of an entry."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=MAX_FILE_BYTES)


class HubLocation(FrozenModel):
    """Where an entry is published: a Hub repository and the commit sha (never a branch) holding its files."""

    repo_id: str = Field(pattern=OWNED_REPO_ID_PATTERN, description="owner/name, by the Hub's rule (zoo._names)")
    revision: str = Field(pattern=COMMIT_PATTERN, description="40-hex commit sha; a branch could move")

    @pydantic.field_validator("repo_id")
    @classmethod
    def _hub_rule(cls, repo_id: str) -> str:
        if not valid_repo_id(repo_id, owner=True):  # the pattern cannot say "no '--' or '..'"
            raise ValueError(f"repo id {repo_id!r} must not hold '--' or '..' (the Hub refuses such names)")
        return repo_id


class Metrics(FrozenModel):
    """Evaluation results, the format of a run directory's ``metrics.json``."""

    dataset: str = Field(min_length=1, max_length=200)
    split: Literal["train", "test"]
    metrics: dict[str, float] = Field(max_length=100)

    @pydantic.field_validator("metrics")
    @classmethod
    def _finite_named(cls, metrics: dict[str, float]) -> dict[str, float]:
        for name, value in metrics.items():
            if not re.fullmatch(METRIC_NAME_PATTERN, name):
                raise ValueError(f"metric name {name!r} must be 1-64 letters, digits, '_', '.', '/' or '-'")
            if not math.isfinite(value):
                raise ValueError(f"metric {name!r} is {value}, not a finite number")
        return metrics


class WeightsEntry(FrozenModel):
    """One published set of pretrained weights, named ``architecture.tag`` (e.g. ``dense-gan.mnist5k``).

    Frozen, strict and closed (unknown keys are an error). ``registry/README.md`` documents every field.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(pattern=ENTRY_NAME_PATTERN, description="architecture.tag")
    architecture: str = Field(pattern=NAME_PATTERN.pattern)
    config: dict[str, JsonValue] = Field(description="the model config, equal to config.json's 'config'")
    files: dict[FileName, FileDigest] = Field(description="file name -> sha256 and size")
    dataset: str = Field(pattern=NAME_PATTERN.pattern, description="registered dataset trained on")
    split: Literal["train", "test"] = "train"
    command: str = Field(min_length=1, max_length=2000, description="the exact command that trained it")
    seed: int = Field(ge=0, le=2**63 - 1)
    metrics: Metrics | None = None
    hub: HubLocation | None = Field(None, description="where it is published; required for plugin entries")
    note: str = Field("", max_length=2000)

    # Where the files are on disk: set for first-party entries only (by from_directory), never read from JSON.
    _local_dir: Path | None = PrivateAttr(None)

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.name.split(".", 1)[0] != self.architecture:
            raise ValueError(
                f"entry name {self.name!r} must start with its architecture {self.architecture!r} and a '.'"
            )
        missing = [name for name in REQUIRED_FILES if name not in self.files]
        if missing:
            raise ValueError(f"files must list {' and '.join(REQUIRED_FILES)}; missing {missing}")
        return self

    @property
    def local_dir(self) -> Path | None:
        """The directory holding a first-party entry's files; None when they come from the Hub."""
        return self._local_dir

    @property
    def summary(self) -> str:
        """One line for ``zoo list --pretrained``."""
        parts = [f"{self.dataset}/{self.split}, seed {self.seed}"]
        if self.metrics:
            parts += [f"{k}={v:.4g}" for k, v in list(self.metrics.metrics.items())[:2]]
        if self.hub:
            parts.append(f"hub {self.hub.repo_id}@{self.hub.revision[:7]}")
        text = ", ".join(parts)
        if self.note:
            text += " - " + self.note.split(";")[0].split(". ")[0].strip().rstrip(".")
        return text

    @classmethod
    def from_json(cls, text: str | bytes, *, where: str) -> WeightsEntry:
        """Validate an ``entry.json`` document, raising ConfigError that names ``where``."""
        entry: WeightsEntry = validate_config(cls, text, where=where)
        return entry

    @classmethod
    def from_directory(cls, directory: str | os.PathLike[str]) -> WeightsEntry:
        """Read ``directory/entry.json``; the entry's files are then read from ``directory``."""
        directory = Path(directory)
        path = directory / ENTRY_NAME
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read registry entry {path}: {exc}") from None
        entry = cls.from_json(text, where=str(path))
        if entry.name != directory.name:
            raise ConfigError(f"{path} describes {entry.name!r} but lives in {directory.name!r}; rename one")
        entry._local_dir = directory
        return entry

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(entry: WeightsEntry, name: FileName, path: Path) -> None:
    """Raise ChecksumError unless ``path`` has the size and sha256 the entry records for ``name``."""
    expected = entry.files[name]
    size = path.stat().st_size
    actual = sha256_file(path) if size == expected.size else None
    if actual != expected.sha256:
        found = f"sha256 {actual}" if actual else f"{size:,} bytes (expected {expected.size:,})"
        fix = (
            "reinstall genzoo (`pip install --force-reinstall genzoo`)" if entry.local_dir is not None else
            f"delete {path} from the Hugging Face cache to download it again, and tell the plugin's authors if it "
            "persists"
        )
        raise ChecksumError(
            f"{name} of pretrained entry {entry.name!r} has {found}, but the entry records sha256 "
            f"{expected.sha256}: the file is corrupt or was modified. {fix}"
        )


def read_metrics(run_dir: str | os.PathLike[str]) -> Metrics | None:
    """The run's ``metrics.json`` (written by an evaluation), validated; None when there is none."""
    path = RunDir(run_dir).eval_metrics
    if not path.is_file():
        return None
    metrics: Metrics = validate_config(Metrics, path.read_bytes(), where=str(path))
    return metrics


__all__ = [
    "MAX_FILE_BYTES",
    "REQUIRED_FILES",
    "SCHEMA_VERSION",
    "FileDigest",
    "FileName",
    "HubLocation",
    "Metrics",
    "WeightsEntry",
    "read_metrics",
    "sha256_file",
    "verify_file",
]
