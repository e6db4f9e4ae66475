"""Downloads from the Hub into huggingface_hub's cache, trusting nothing the server says.

Why zoo keeps its own download path instead of calling ``huggingface_hub.hf_hub_download`` (huggingface_hub 2.4,
``file_download.py``; see also upstream issue #4815 and PR #1428):

* **The server's answers become file names unchecked there.** The ETag is only stripped of ``W/`` and quotes before
  ``blobs/<etag>`` is built from it (an absolute or ``../`` ETag leaves the cache), and the commit in
  ``X-Repo-Commit`` goes unchecked into ``snapshots/<commit>`` and ``.no_exist/<commit>``. Here both are checked
  (a 40-hex commit; a git blob id or a sha256 as ETag) before any path is made of them.
* **Content is not verified there**, only its length. Here every file is checked against the content hash the Hub
  lists for it (the LFS sha256 for weights, the git blob id for small files), and nothing unverified is kept.
* **Sizes are not bounded before the download there.** Here a file announced over the loader's own limit
  (``config.json``: 1 MB, weights: the loader's bound) is refused from its headers, before its body is read.
* **Time is not bounded there**: its client waits forever by default. Here every request has a per-read timeout
  and an overall deadline that counts the whole request, so a server that trickles bytes cannot hold a load.
* **A thin wrapper cannot close these gaps.** ``hf_hub_download`` makes its own HEAD request, so a check made
  before it may see another answer than the one it uses; the only hook that runs before the path is built is
  ``set_client_factory``, which is process-global and not a library's to change.

What is kept from huggingface_hub: its configuration (``HF_ENDPOINT``, ``HF_HOME`` / ``HF_HUB_CACHE``,
``HF_HUB_OFFLINE``, ``HF_TOKEN``) and its cache layout, so its tools and offline mode see zoo's downloads. The
functions also take ``endpoint=`` and ``cache_dir=``, because huggingface_hub reads the environment once, when it
is imported. Requests go through a client of zoo's own (``_http.request``), with httpx's proxy settings.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from zoo._names import COMMIT_RE, DEFAULT_REVISION, check_repo_id, check_revision, parse_spec
from zoo._rundir import CONFIG_NAME, MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES, PICKLE_NAMES, WEIGHTS_NAME
from zoo._text import shown
from zoo.errors import (
    ChecksumError,
    ConfigError,
    HubError,
    HubNotFoundError,
    HubProtocolError,
    LoadError,
    MissingFileError,
    UnsafeWeightsError,
)
from zoo.hub import _http
from zoo.hub._cache import cached_file, inside, link, storage, write_ref
from zoo.hub._http import Unreachable, Where, endpoint_url, get_json, request, transport

logger = logging.getLogger("zoo.hub")

ETAG_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # a git blob id (regular file) or a sha256 (LFS file)
FILE_LIMITS = {CONFIG_NAME: MAX_CONFIG_BYTES, WEIGHTS_NAME: MAX_WEIGHTS_BYTES}


@dataclass(frozen=True)
class HubFile:
    """One downloaded file: its path in the cache and the commit it belongs to."""

    path: Path
    commit: str


def download_file(repo_id: str, filename: str, *, revision: str, token: str | bool | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None,
                  max_bytes: int | None = None) -> HubFile:
    """One file of ``repo_id`` at ``revision`` through the Hugging Face cache, verified against its content hash.

    At a commit sha already cached: no request. At a branch or tag: one ``HEAD`` to learn its commit, then a
    ``GET`` at that commit unless the file is cached. Offline (``HF_HUB_OFFLINE``): the cache only. When the
    Hub cannot be reached at all, the commit a branch last resolved to is used from the cache; any answer from the
    Hub (401, 403, 404, 5xx) is reported, never papered over with a cached copy.
    """
    from huggingface_hub import constants

    check_repo_id(repo_id)
    check_revision(revision)
    if not all(part and part not in (".", "..") for part in filename.split("/")):
        raise ConfigError(f"{shown(filename)!r} is not a file name inside a repository")
    where = Where(repo_id, revision, endpoint_url(endpoint), token)
    limit = max_bytes if max_bytes is not None else FILE_LIMITS.get(filename, MAX_WEIGHTS_BYTES)
    folder = storage(repo_id, cache_dir)
    commit = revision if COMMIT_RE.fullmatch(revision) else None
    if commit is not None and (folder / "snapshots" / commit / filename).is_file():
        return HubFile(folder / "snapshots" / commit / filename, commit)
    if constants.is_offline_mode():
        cached = cached_file(folder, revision, filename)
        if cached is not None:
            return HubFile(*cached)
        raise HubError(f"{where.at} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; connect and "
                       "retry (unset HF_HUB_OFFLINE), or load a revision that was downloaded before",
                       repo_id=repo_id)
    if commit is None:
        url = f"{where.endpoint}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(filename)}"
        try:
            commit = _head_commit(url, where, token)
        except Unreachable as exc:
            cached = cached_file(folder, revision, filename)
            if cached is not None:
                logger.warning("%s; using the cached commit %s of %s", exc, cached[1], where.at)
                return HubFile(*cached)
            raise HubError(f"{where.at} is not in the local Hugging Face cache and the Hub at {where.endpoint} "
                           "could not be reached; connect and retry (check HF_ENDPOINT and any proxy settings)",
                           repo_id=repo_id) from None
        if commit != revision:
            write_ref(folder, revision, commit)
    pointer = inside(folder / "snapshots" / commit / filename, folder)
    if pointer.is_file():
        return HubFile(pointer, commit)
    url = f"{where.endpoint}/{repo_id}/resolve/{commit}/{quote(filename)}"
    try:
        _fetch_blob(url, where, token, folder, pointer, commit=commit, limit=limit, filename=filename)
    except Unreachable as exc:
        raise HubError(f"{where.at} is not in the local Hugging Face cache and the Hub at {where.endpoint} could "
                       f"not be reached ({exc})", repo_id=repo_id) from None
    return HubFile(pointer, commit)


def _head_commit(url: str, where: Where, token: str | bool | None) -> str:
    """The commit a branch or tag names: the Hub pins it with a redirect that carries ``X-Repo-Commit``, which is
    enough; any other redirect is followed (by httpx) to the answer that names it."""
    with request("HEAD", url, where, token, follow=False) as answer:
        if not (answer.response.is_redirect and not answer.response.headers.get("X-Repo-Commit")):
            return _commit_header(answer.response, where)
    with request("HEAD", url, where, token) as answer:
        return _commit_header(answer.meta, where)


def _commit_header(response: Any, where: Where) -> str:
    commit = response.headers.get("X-Repo-Commit", "")
    if not COMMIT_RE.fullmatch(commit):
        raise HubProtocolError(
            f"the Hub at {where.endpoint} named commit {shown(commit, 80)!r} for {where.at}, which is not a 40-hex "
            "commit id; refusing to use it", repo_id=where.repo_id)
    return str(commit)


def _fetch_blob(url: str, where: Where, token: str | bool | None, folder: Path, pointer: Path, *, commit: str,
                limit: int, filename: str) -> None:
    with request("GET", url, where, token) as answer:
        meta, response = answer.meta, answer.response
        if meta.headers.get("X-Repo-Commit") not in (None, commit):
            raise HubProtocolError(f"the Hub at {where.endpoint} answered {where.at} with another commit "
                                   f"({shown(meta.headers['X-Repo-Commit'], 80)!r}, asked for {commit})",
                                   repo_id=where.repo_id)
        etag = (meta.headers.get("X-Linked-Etag") or meta.headers.get("ETag") or "").removeprefix("W/").strip('"')
        if not ETAG_RE.fullmatch(etag):
            raise HubProtocolError(
                f"the Hub at {where.endpoint} sent ETag {shown(etag, 80)!r} for {filename} of {where.at}, which is "
                "not a content hash (a git blob id or a sha256); refusing to use it", repo_id=where.repo_id)
        announced = meta.headers.get("X-Linked-Size") or response.headers.get("Content-Length")
        if announced is None or not str(announced).isdigit():
            raise HubProtocolError(f"the Hub at {where.endpoint} did not announce the size of {filename} of "
                                   f"{where.at}; refusing an unbounded download", repo_id=where.repo_id)
        size = int(announced)
        if size > limit:  # before a byte of the body is read
            raise HubProtocolError(
                f"{filename} of {where.at} is announced as {size:,} bytes, more than the {limit:,} bytes zoo "
                "accepts for it; refusing to download it", repo_id=where.repo_id)
        blob = inside(folder / "blobs" / etag, folder)
        if blob.is_file() and blob.stat().st_size == size:
            link(blob, pointer)
            return
        blob.parent.mkdir(parents=True, exist_ok=True)
        answer.deadline.extend(size / _http.MIN_RATE)
        sha256 = hashlib.sha256()
        git = hashlib.sha1(b"blob %d\0" % size)
        received = 0
        fd, name = tempfile.mkstemp(dir=blob.parent, prefix=f".{etag[:16]}.", suffix=".incomplete")
        temporary = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, transport(where, answer.deadline, filename):
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > size:
                        raise HubProtocolError(f"the Hub at {where.endpoint} sent more than the announced {size:,} "
                                               f"bytes of {filename} of {where.at}", repo_id=where.repo_id)
                    out.write(chunk)
                    sha256.update(chunk)
                    git.update(chunk)
            if received != size:
                raise HubProtocolError(f"the Hub at {where.endpoint} sent {received:,} of the announced {size:,} bytes "
                                       f"of {filename} of {where.at}; retry", repo_id=where.repo_id)
            actual = sha256.hexdigest() if len(etag) == 64 else git.hexdigest()
            if actual != etag:
                kind = "sha256 the Hub lists for its LFS object" if len(etag) == 64 else "git blob id the Hub lists"
                raise ChecksumError(
                    f"{filename} of {where.at} from {where.endpoint} does not match the {kind} ({etag}, got "
                    f"{actual}): the download is corrupt or was tampered with; nothing was kept",
                    repo_id=where.repo_id)
            os.replace(temporary, blob)
        finally:
            temporary.unlink(missing_ok=True)
    link(blob, pointer)


def list_files(repo_id: str, revision: str, *, token: str | bool | None = None,
               endpoint: str | None = None) -> list[str]:
    """The file paths of ``repo_id`` at ``revision`` (one bounded, timed request)."""
    check_repo_id(repo_id)
    check_revision(revision)
    where = Where(repo_id, revision, endpoint_url(endpoint), token)
    url = f"{where.endpoint}/api/models/{repo_id}/tree/{quote(revision, safe='')}?recursive=true"
    items = get_json(url, where, token)
    if not isinstance(items, list):
        raise HubProtocolError(f"the Hub at {where.endpoint} sent a listing of {where.at} that is not a list",
                               repo_id=repo_id)
    return [str(i["path"]) for i in items if isinstance(i, dict) and i.get("type") == "file" and "path" in i]


@dataclass(frozen=True)
class HubFiles:
    """A zoo model's two files in the local Hub cache, at the commit ``revision`` that ``requested`` resolved to."""

    repo_id: str
    revision: str
    requested: str
    config: Path
    weights: Path | None = None

    @property
    def source(self) -> dict[str, str]:
        """What a loaded model's ``zoo_source`` attribute records."""
        return {"repo_id": self.repo_id, "revision": self.revision, "requested_revision": self.requested}


def fetch_config(spec: str, *, token: str | bool | None = None, cache_dir: str | os.PathLike[str] | None = None,
                 endpoint: str | None = None) -> HubFiles:
    """``config.json`` of ``org/repo[@revision]`` (weights not yet fetched): the first half of a load."""
    repo_id, requested = parse_spec(spec)
    try:
        config = download_file(repo_id, CONFIG_NAME, revision=requested, token=token, cache_dir=cache_dir,
                               endpoint=endpoint)
    except MissingFileError:
        _refuse_pickle(repo_id, requested, token=token, endpoint=endpoint)
        raise HubNotFoundError(
            f"{repo_id}@{requested} has no {CONFIG_NAME}, so it is not a zoo model; zoo repos hold {CONFIG_NAME} "
            f"and {WEIGHTS_NAME}, as written by `zoo push`", repo_id=repo_id) from None
    return HubFiles(repo_id=repo_id, revision=config.commit, requested=requested, config=config.path)


def fetch_weights(files: HubFiles, *, token: str | bool | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> HubFiles:
    """The weights at the very commit the config came from, so the two always match."""
    try:
        weights = download_file(files.repo_id, WEIGHTS_NAME, revision=files.revision, token=token,
                                cache_dir=cache_dir, endpoint=endpoint)
    except MissingFileError:
        _refuse_pickle(files.repo_id, files.revision, token=token, endpoint=endpoint)
        raise HubNotFoundError(f"{files.repo_id}@{files.revision} has no {WEIGHTS_NAME}; push one with `zoo push`",
                               repo_id=files.repo_id) from None
    return HubFiles(repo_id=files.repo_id, revision=files.revision, requested=files.requested, config=files.config,
                    weights=weights.path)


def _refuse_pickle(repo_id: str, revision: str, *, token: str | bool | None, endpoint: str | None) -> None:
    """Raise UnsafeWeightsError when the repo offers pickle weights instead of safetensors."""
    names = list_files(repo_id, revision, token=token, endpoint=endpoint)
    pickles = sorted(shown(n) for n in names if n.rsplit("/", 1)[-1] in PICKLE_NAMES)
    if pickles:
        raise UnsafeWeightsError(
            f"{repo_id}@{revision} holds only pickle weights ({', '.join(pickles)}); zoo never loads pickle, "
            f"which can run arbitrary code. Ask the owner to publish {WEIGHTS_NAME} (safetensors)", repo_id=repo_id)


def copy_files(files: HubFiles, out: str | os.PathLike[str]) -> Path:
    """Put the two files in the folder ``out`` as one unit: they are copied into a new folder beside it, which
    then takes its place. A failure at any point leaves ``out`` as it was (an older model there still loads)."""
    target = Path(out)
    if files.weights is None:
        raise LoadError(f"{files.repo_id}@{files.revision}: the weights were not downloaded; pull again")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ConfigError(f"--out {target} is a file or a symbolic link; give a directory", path=target)
    if target.is_dir():
        others = sorted(shown(p.name) for p in target.iterdir()
                        if p.name not in (CONFIG_NAME, WEIGHTS_NAME) and not p.name.startswith("."))
        if others:
            raise ConfigError(f"--out {target} holds other files than a zoo model ({', '.join(others[:5])}); "
                              "pull into a new or empty folder, or into one that holds only a pulled model",
                              path=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.pull-"))
    try:
        for name, source in ((CONFIG_NAME, files.config), (WEIGHTS_NAME, files.weights)):
            shutil.copyfile(source, staging / name)
            with open(staging / name, "rb") as fh:
                os.fsync(fh.fileno())
        os.chmod(staging, 0o755)  # mkdtemp's folder is private; a pulled model is not
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:12]}")
            os.replace(target, old)
            try:
                os.replace(staging, target)
            except BaseException:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def check_safetensors(path: Path) -> None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            fh.keys()
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoadError(f"{path} is not a readable safetensors file ({shown(exc)}); delete it and pull again",
                        path=path) from None


__all__ = [
    "DEFAULT_REVISION",
    "HubFile",
    "HubFiles",
    "check_safetensors",
    "copy_files",
    "download_file",
    "fetch_config",
    "fetch_weights",
    "list_files",
]
