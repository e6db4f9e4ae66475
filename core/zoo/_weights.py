"""Pretrained weight entries (``architecture.tag``): the schema, the first-party entries and loading them.

An entry records everything needed to trust and reproduce a set of weights: the architecture and its config,
the sha256 of every file, the data it was trained on, the exact command and seed, metrics, and where it is
published on the Hub. First-party entries live in ``registry/<name>/`` of the source tree (``entry.json``
plus the files it lists), ship inside the ``genzoo`` distribution as the ``zoo_registry`` package and load
offline. The first-party plugin (genzoo-dense) registers them through its ``zoo_weights()`` hook, as every plugin
registers its entries; a plugin's files may also be downloaded from the Hub at the pinned commit sha the
entry names. Every load checks every file against its recorded sha256.

This module imports neither torch nor huggingface_hub at import time: ``zoo list`` reads the entries. It knows
nothing of the Hub: ``zoo._resolve`` downloads a plugin entry's files and checks them with :func:`verify_file`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Self

import pydantic
from pydantic import BaseModel, ConfigDict, Field, JsonValue, PrivateAttr

from zoo._rundir import RunDir
from zoo._specs import NAME_PATTERN
from zoo._text import shown
from zoo.errors import ChecksumError, ConfigError, LoadError

if TYPE_CHECKING:

    from zoo._registry import Registry

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
ENTRY_FILE = "entry.json"
# The same names as zoo._serialization's CONFIG_NAME / WEIGHTS_NAME (not imported: that module imports torch).
CONFIG_FILE: Final = "config.json"
WEIGHTS_FILE: Final = "model.safetensors"
IMAGE_FILES: Final = ("samples.png", "reconstructions.png")
# The only file names an entry may list: nothing else is ever fetched or written for an entry.
FileName = Literal["config.json", "model.safetensors", "samples.png", "reconstructions.png"]
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE)
MAX_FILE_BYTES = 4 * 1024**3
ENTRY_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}\.[a-z0-9][a-z0-9_-]{0,63}$"
REPO_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"
COMMIT_PATTERN = r"^[0-9a-f]{40}$"
METRIC_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$"
TRAIN_LOSS_WINDOW = 20


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class FileDigest(_Frozen):
    """The sha256 and size of one file of an entry."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=MAX_FILE_BYTES)


class HubLocation(_Frozen):
    """Where an entry is published: a Hub repository and the commit sha (never a branch) holding its files."""

    repo_id: str = Field(pattern=REPO_ID_PATTERN)
    revision: str = Field(pattern=COMMIT_PATTERN, description="40-hex commit sha; a branch could move")


class Metrics(_Frozen):
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


class WeightsEntry(_Frozen):
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
        from zoo._config import validate_config

        entry: WeightsEntry = validate_config(cls, text, where=where)
        return entry

    @classmethod
    def from_directory(cls, directory: str | os.PathLike[str]) -> WeightsEntry:
        """Read ``directory/entry.json``; the entry's files are then read from ``directory``."""
        directory = Path(directory)
        path = directory / ENTRY_FILE
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


# -- first-party entries ---------------------------------------------------------------------------


def registry_root() -> Path:
    """The installed ``registry/`` folder (the ``zoo_registry`` package of the genzoo distribution)."""
    try:
        import zoo_registry
    except ImportError:
        raise LoadError(
            "the first-party weights registry (package zoo_registry) is not installed; reinstall genzoo "
            "(`pip install --force-reinstall genzoo`, or `pip install -e .` in a checkout)"
        ) from None
    return Path(zoo_registry.__file__).parent


def first_party_entries(root: Path | None = None) -> list[WeightsEntry]:
    """Every valid ``<root>/<name>/entry.json``. An invalid one is logged by name and left out, so it cannot
    hide the others; loading it by name then says what is wrong with it (:func:`entry_problem`)."""
    root = registry_root() if root is None else root
    entries = []
    for path in sorted(root.glob(f"*/{ENTRY_FILE}")):
        try:
            entries.append(WeightsEntry.from_directory(path.parent))
        except ConfigError as exc:
            logger.warning("pretrained entry %s is broken and is left out: %s", shown(path.parent.name), exc)
    return entries


def entry_problem(name: str, root: Path | None = None) -> str | None:
    """Why the first-party entry ``name`` is not registered (its ``entry.json`` is invalid), or None."""
    try:
        root = registry_root() if root is None else root
    except LoadError:
        return None
    if not re.fullmatch(ENTRY_NAME_PATTERN, name) or not (root / name / ENTRY_FILE).exists():
        return None
    try:
        WeightsEntry.from_directory(root / name)
    except ConfigError as exc:
        return str(exc)
    return None


def default_entry_name(registry: Registry, architecture: str) -> str | None:
    """The entry ``zoo.load(architecture)`` uses: first-party entries first, then by name."""
    names = [name for name in registry.weights if name.split(".", 1)[0] == architecture]

    def rank(name: str) -> tuple[bool, str]:
        return (getattr(registry.weights[name], "local_dir", None) is None, name)

    return min(names, key=rank) if names else None


# -- loading ---------------------------------------------------------------------------------------


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


# -- making entries (maintainers) ------------------------------------------------------------------


def make_entry(run_dir: str | os.PathLike[str], name: str, *, command: str, note: str,
               root: str | os.PathLike[str], hub: HubLocation | None = None, overwrite: bool = False
               ) -> WeightsEntry:
    """Turn a ``zoo train`` run directory into the first-party entry ``root/name/`` and return it.

    Copies ``config.json``, ``model.safetensors`` and the picture grids, records their sha256, and reads the
    dataset and seed from ``train_config.json``. Metrics come from the run's ``metrics.json`` when an
    evaluation wrote one, else they are the mean training losses of the last 20 logged steps (split "train",
    names prefixed ``train_``).
    """
    from zoo._serialization import load_directory, read_config_document

    run = Path(run_dir)
    document = read_config_document(run / CONFIG_FILE)
    load_directory(run)  # the run must load before it becomes an entry
    train_config = _read_json(RunDir(run).train_config)
    seed, dataset = train_config.get("seed"), train_config.get("data")
    if not isinstance(seed, int) or not isinstance(dataset, str):
        raise ConfigError(f"{run / 'train_config.json'} must hold an integer 'seed' and a dataset name 'data'")
    prefix = f"zoo train {document['architecture']} "
    if not command.startswith(prefix):
        raise ConfigError(f"command {command!r} must be the `{prefix.strip()} ...` invocation that made {run}")
    target = Path(root) / name
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    files = [CONFIG_FILE, WEIGHTS_FILE, *(n for n in IMAGE_FILES if (run / n).is_file())]
    entry = WeightsEntry.model_validate({
        "name": name,
        "architecture": document["architecture"],
        "config": document["config"],
        "files": {n: FileDigest(sha256=sha256_file(run / n), size=(run / n).stat().st_size) for n in files},
        "dataset": dataset,
        "split": "train",
        "command": command,
        "seed": seed,
        "metrics": _run_metrics(run, dataset),
        "hub": hub,
        "note": note,
    })
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for n in files:
        shutil.copyfile(run / n, target / n)
    (target / ENTRY_FILE).write_text(entry.to_json(), encoding="utf-8")
    logger.info("wrote registry entry %s to %s", name, target)
    return WeightsEntry.from_directory(target)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def read_metrics(run_dir: Path) -> Metrics | None:
    """The run's ``metrics.json`` (written by an evaluation), validated; None when there is none."""
    from zoo._config import validate_config

    path = RunDir(run_dir).eval_metrics
    if not path.is_file():
        return None
    metrics: Metrics = validate_config(Metrics, path.read_bytes(), where=str(path))
    return metrics


def _run_metrics(run: Path, dataset: str) -> Metrics | None:
    evaluated = read_metrics(run)
    if evaluated is not None:
        return evaluated
    records = []
    log = RunDir(run).metrics_log
    if log.is_file():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except (ValueError, RecursionError):  # a torn or damaged line: keep what came before
                break
    if not records:
        return None
    tail = records[-TRAIN_LOSS_WINDOW:]
    keys = [k for k, v in tail[-1].items() if k not in ("step", "epoch") and isinstance(v, int | float)]
    means = {f"train_{k.replace('/', '_')}": sum(float(r[k]) for r in tail if k in r) / len(tail) for k in keys}
    return Metrics(dataset=dataset, split="train", metrics=means)
