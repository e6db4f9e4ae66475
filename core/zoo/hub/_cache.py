"""huggingface_hub's cache layout, ``models--org--name/{blobs,snapshots,refs}``, so that its tools and offline mode
see what zoo downloads. Every path is built from validated names and checked to stay inside the cache."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from zoo._files import atomic_destination
from zoo._names import COMMIT_RE
from zoo.errors import HubProtocolError


def storage(repo_id: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    """The cache folder of ``repo_id`` (under ``cache_dir``, else ``HF_HUB_CACHE``)."""
    from huggingface_hub import constants

    root = Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)
    return root / f"models--{repo_id.replace('/', '--')}"


def cached_commit(folder: Path, revision: str) -> str | None:
    """The commit ``revision`` last resolved to (a sha is its own), or None."""
    if COMMIT_RE.fullmatch(revision):
        return revision
    try:
        commit = (folder / "refs" / revision).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if COMMIT_RE.fullmatch(commit) else None


def cached_file(folder: Path, revision: str, filename: str) -> tuple[Path, str] | None:
    """``(path, commit)`` of ``filename`` at ``revision`` when the cache holds it."""
    commit = cached_commit(folder, revision)
    if commit is not None and (folder / "snapshots" / commit / filename).is_file():
        return folder / "snapshots" / commit / filename, commit
    return None


def write_ref(folder: Path, revision: str, commit: str) -> None:
    ref = inside(folder / "refs" / revision, folder)
    ref.parent.mkdir(parents=True, exist_ok=True)
    with atomic_destination(ref) as temporary:
        temporary.write_text(commit, encoding="ascii")


def inside(path: Path, root: Path) -> Path:
    """``path``, after checking that it cannot leave ``root`` (the names are validated; this is the backstop)."""
    if not os.path.abspath(path).startswith(os.path.abspath(root) + os.sep):
        raise HubProtocolError(f"refusing to write {path}: it would leave the cache folder {root}")
    return path


def link(blob: Path, pointer: Path) -> None:
    """Point ``pointer`` (a snapshot file) at ``blob``: a relative symlink, or a copy where there are none."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    temporary = pointer.with_name(f".{pointer.name}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.symlink_to(os.path.relpath(blob, pointer.parent))
    except OSError:  # no symlinks (some Windows setups): a copy, as huggingface_hub does
        shutil.copyfile(blob, temporary)
    os.replace(temporary, pointer)


__all__ = ["cached_commit", "cached_file", "inside", "link", "storage", "write_ref"]
