"""Publishing to the Hub: ``zoo.push`` (a model or a run directory) and ``zoo publish`` (a registry entry).

Both stage the repository's files in a temporary folder, write the model card there and upload it in one commit.
What is staged is what gets published, so it is checked there: a run directory's files are copied without
following symbolic links (a link could publish a file from anywhere, a token say), and the staged config and
weights must load together (a save that was cut off, or is still being written, is refused).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo._entries import Metrics, WeightsEntry, read_metrics
from zoo._registry import get_registry
from zoo._rundir import CONFIG_NAME, IMAGE_NAMES, MODEL_CARD_NAME, WEIGHTS_NAME, RunDir
from zoo._serialization import load_directory, read_config_document
from zoo._serialization import save as save_model
from zoo._text import shown
from zoo.errors import ConfigError, LoadError
from zoo.hub._card import model_card
from zoo.hub._push import PushResult, upload_folder

if TYPE_CHECKING:
    from torch import nn

DEFAULT_LICENSE = "apache-2.0"


def push(model_or_run_dir: nn.Module | str | os.PathLike[str], repo_id: str, *, token: str | bool | None = None,
         private: bool | None = None, branch: str | None = None, tag: str | None = None,
         commit_message: str | None = None, license: str = DEFAULT_LICENSE, endpoint: str | None = None
         ) -> PushResult:
    """Publish a zoo model (or a run directory written by ``zoo train``) to the Hub in one commit.

    Creates ``repo_id`` if needed (``private`` applies only then) and ``branch`` if it is new (from main), then
    uploads ``config.json``, ``model.safetensors``, a ``README.md`` model card and the run's picture grids in
    one commit, and tags that commit ``tag`` when given. Returns a :class:`zoo.PushResult`: ``.oid`` is the
    commit to pin with ``hf-hub:org/repo@<sha>``; ``.changed`` is False when the repository already held exactly
    these files (then no commit is made).
    """
    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        staging = Path(tmp)
        training: dict[str, Any] = {}
        metrics: Metrics | None = None
        if isinstance(model_or_run_dir, str | os.PathLike):
            run = Path(model_or_run_dir)
            if not run.is_dir():
                raise LoadError(f"{run} is not a directory; push a model or a run directory from `zoo train`",
                                path=run)
            load_directory(run)  # what does not load is refused with the loader's own message
            for name in (CONFIG_NAME, WEIGHTS_NAME, *IMAGE_NAMES):
                _copy_regular_file(run / name, staging / name, required=name in (CONFIG_NAME, WEIGHTS_NAME))
            model = _load_staged(staging, run)
            training = _training_summary(run)
            metrics = read_metrics(run)
            if metrics is not None and metrics.dataset not in get_registry().datasets:
                # Evaluated on a file: name it by its base name, never by a local path.
                metrics = metrics.model_copy(update={"dataset": Path(metrics.dataset).name or "custom"})
        else:
            model = model_or_run_dir
            save_model(model, staging)
        document = read_config_document(staging / CONFIG_NAME)
        dataset = training.get("data")
        card = model_card(
            repo_id=repo_id, document=document, model=model, dataset=dataset if isinstance(dataset, str) else None,
            metrics=metrics, license=license, images=[n for n in IMAGE_NAMES if (staging / n).is_file()],
            training=training,
        )
        card.save(staging / MODEL_CARD_NAME)
        return upload_folder(staging, repo_id, token=token, private=private, branch=branch, tag=tag,
                             endpoint=endpoint,
                             commit_message=commit_message or f"Upload {document['architecture']} with zoo")


def _copy_regular_file(source: Path, destination: Path, *, required: bool) -> None:
    """Copy ``source`` only if it is a regular file of its folder: a symbolic link is refused, never followed."""
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        if required:
            raise LoadError(f"{source} is missing; save the model again (zoo.save), then push", path=source) from None
        return
    except OSError:
        if source.is_symlink():
            raise LoadError(
                f"{source} is a symbolic link; zoo push publishes only the folder's own regular files (a link "
                "could publish a file from elsewhere): replace it with the file itself, or remove it",
                path=source) from None
        raise
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            raise LoadError(f"{source} is not a regular file; zoo push publishes only regular files", path=source)
        with open(destination, "wb") as dst:
            shutil.copyfileobj(src, dst)


def _load_staged(staging: Path, run: Path) -> nn.Module:
    """The staged pair must load by itself: the folder may hold a save that was cut off between its files."""
    try:
        return load_directory(staging)
    except LoadError as exc:
        raise LoadError(
            f"{run} does not hold one complete save: its {CONFIG_NAME} and {WEIGHTS_NAME} do not load together "
            f"({shown(str(exc).replace(str(staging), str(run)), 300)}); a save was cut off or is still running: "
            "wait for it, or save the model again (zoo.save), then push", path=run) from None


def publish_entry(entry: WeightsEntry, files: Mapping[str, Path], repo_id: str, *, token: str | bool | None = None,
                  private: bool | None = None, branch: str | None = None, tag: str | None = None,
                  commit_message: str | None = None, license: str = DEFAULT_LICENSE,
                  endpoint: str | None = None) -> PushResult:
    """Push a registry entry's files (``files``: each of ``entry.files`` at a verified local path, as
    ``zoo._resolve.entry_files`` gives them) with a card from its record, in one commit."""
    missing = sorted(set(entry.files) - set(files))
    if missing:
        raise LoadError(f"pretrained entry {entry.name!r}: no local copy of {', '.join(missing)}; resolve it first")
    with tempfile.TemporaryDirectory(prefix="zoo-publish-") as tmp:
        staging = Path(tmp)
        for name in entry.files:
            shutil.copyfile(files[name], staging / name)
        model = load_directory(staging)
        document = read_config_document(staging / CONFIG_NAME)
        training = {"command": entry.command, "seed": entry.seed, "data": entry.dataset, "split": entry.split}
        card = model_card(
            repo_id=repo_id, document=document, model=model, dataset=entry.dataset, metrics=entry.metrics,
            license=license, images=[n for n in IMAGE_NAMES if n in entry.files], training=training, entry=entry,
        )
        card.save(staging / MODEL_CARD_NAME)
        return upload_folder(staging, repo_id, token=token, private=private, branch=branch, tag=tag,
                             endpoint=endpoint,
                             commit_message=commit_message or f"Publish zoo registry entry {entry.name}")


def _training_summary(run: Path) -> dict[str, Any]:
    """The run's training settings for the card, minus anything machine-local (output path, device)."""
    try:
        data = RunDir(run).read_train_config()
    except ConfigError:  # none, or not a run config: the card goes without
        return {}
    summary = {k: v for k, v in data.items() if k not in ("out", "device")}
    # A dataset given as a file path would leak a local path into a public card: keep registered names only.
    if summary.get("data") not in get_registry().datasets:
        summary.pop("data", None)
    return summary


__all__ = ["DEFAULT_LICENSE", "publish_entry", "push"]
