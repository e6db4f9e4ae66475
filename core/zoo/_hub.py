"""Pushing models to, and pulling files from, the Hugging Face Hub (or any Hub-protocol server).

A zoo repository holds ``config.json``, ``model.safetensors``, a ``README.md`` model card and, when the run
has them, ``samples.png`` / ``reconstructions.png``. This module moves files; it knows neither the registry of
pretrained entries nor how a model is built (``zoo._resolve`` joins the two).

Downloads do not trust the server. Before any request the repository id and revision are validated; every
request has a timeout and every download an overall deadline and a size bound (a ``config.json`` is refused
from its announced size, before its body is read); the commit id and ETag the server sends are checked before a
file name is made of them, so nothing is written outside the cache; every file is checked against the content
hash the Hub lists for it (the LFS sha256 for weights, the git blob id for small files). Files land in
huggingface_hub's cache layout (``models--org--name/{blobs,snapshots,refs}``), so its tools and offline mode
see them.

Configuration is huggingface_hub's: ``HF_ENDPOINT``, ``HF_HOME`` / ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE`` and
``HF_TOKEN`` (or ``token=``). The functions also take ``endpoint=`` and ``cache_dir=``, because
huggingface_hub reads the environment once, when it is imported. huggingface_hub is imported lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urljoin, urlsplit

from zoo._files import atomic_destination
from zoo._text import shown
from zoo.errors import (
    ChecksumError,
    ConfigError,
    HubAuthError,
    HubError,
    HubNotFoundError,
    HubProtocolError,
    HubRedirectError,
    HubServerError,
    HubTimeoutError,
    LoadError,
    UnsafeWeightsError,
)

if TYPE_CHECKING:
    from huggingface_hub import HfApi

logger = logging.getLogger(__name__)

# The Hub's `library_name`: the distribution users `pip install` (the import name `zoo` is too generic to
# identify a library on the Hub, and the Hub keys library pages and code snippets by this name).
LIBRARY_NAME: Final = "genzoo"
DEFAULT_LICENSE: Final = "apache-2.0"
DEFAULT_REVISION: Final = "main"
CONFIG_FILE: Final = "config.json"
WEIGHTS_FILE: Final = "model.safetensors"
IMAGE_FILES: Final = ("samples.png", "reconstructions.png")
PICKLE_NAMES = ("pytorch_model.bin", "model.pt", "model.pth", "model.ckpt", "pytorch_model.pt")

# The Hub's names: letters, digits, '-', '_', '.'; no '--' or '..'; '-' and '.' neither start nor end one.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
REPO_ID_RE = re.compile(rf"(?:{_NAME}/)?{_NAME}")
COMMIT_RE = re.compile(r"[0-9a-f]{40}")
SHA_PREFIX_RE = re.compile(r"[0-9a-f]{7,40}")
ETAG_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # a git blob id (regular file) or a sha256 (LFS file)
REF_RE = re.compile(r"[A-Za-z0-9._/-]{1,128}")

# Bounds on what a download may cost. Module constants so that tests (and the brave) can tighten them.
REQUEST_TIMEOUT_S = 10.0  # connect, and each read: a server that says nothing for this long is timed out
DEADLINE_BASE_S = 60.0  # a download's overall deadline is this plus its size at MIN_RATE bytes per second
MIN_RATE = 256 * 1024
MAX_CONFIG_BYTES = 1_000_000  # the same bound as zoo._serialization.MAX_CONFIG_BYTES
MAX_WEIGHTS_BYTES = 16 * 1024**3
MAX_LISTING_BYTES = 8 * 1024 * 1024
MAX_REDIRECTS = 5
FILE_LIMITS = {CONFIG_FILE: MAX_CONFIG_BYTES, WEIGHTS_FILE: MAX_WEIGHTS_BYTES}


class MissingFileError(HubNotFoundError):
    """The repository and revision exist, but the file does not."""


# -- names -----------------------------------------------------------------------------------------------


def valid_revision(revision: str) -> bool:
    """A branch or tag name git allows, ``refs/pr/N``, or a (prefix of a) commit sha: safe as a file name."""
    if SHA_PREFIX_RE.fullmatch(revision) or re.fullmatch(r"refs/pr/[0-9]{1,9}", revision):
        return True
    if not REF_RE.fullmatch(revision):
        return False
    parts = revision.split("/")
    return not any(p in ("", ".", "..") or p.startswith(".") or p.endswith(".lock") for p in parts) and (
        ".." not in revision and not revision.endswith(".")
    )


def check_repo_id(repo_id: str, *, what: str = "Hub repository") -> str:
    if not isinstance(repo_id, str) or not REPO_ID_RE.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id:
        raise ConfigError(
            f"{shown(repo_id)!r} is not a {what}: expected org/name (letters, digits, '-', '_', '.'; no '--' or "
            "'..'), e.g. alice/dense-gan-mnist"
        )
    return repo_id


def check_revision(revision: str, *, what: str = "revision") -> str:
    if not isinstance(revision, str) or not valid_revision(revision):
        raise ConfigError(
            f"{shown(revision)!r} is not a valid {what}: use a branch or tag name (letters, digits, '-', '_', '.', "
            "'/', no '..') or a commit sha"
        )
    return revision


def parse_spec(spec: str) -> tuple[str, str]:
    """``org/repo[@revision]`` -> (repo_id, revision), both validated; the revision defaults to ``main``."""
    repo_id, sep, revision = spec.partition("@")
    try:
        check_repo_id(repo_id)
        if sep:
            check_revision(revision)
    except ConfigError:
        raise ConfigError(
            f"{shown(spec)!r} is not a Hub repository: expected org/name[@revision] (letters, digits, '-', '_', "
            "'.'), e.g. hf-hub:alice/dense-gan-mnist@main"
        ) from None
    return repo_id, revision or DEFAULT_REVISION


# -- HTTP ------------------------------------------------------------------------------------------------


def _endpoint(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")


def _has_token(token: str | bool | None) -> bool:
    if token is False:
        return False
    if isinstance(token, str):
        return bool(token)
    from huggingface_hub.utils import get_token

    return get_token() is not None


def _httpx() -> Any:
    """The HTTP library huggingface_hub's session belongs to (httpx2 in 2.x, httpx in 1.x)."""
    for name in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            return importlib.import_module(name)
    raise ImportError("huggingface_hub's HTTP library (httpx2 or httpx) is not installed")


def _transport_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(module).TransportError)
    return tuple(errors)


@dataclass
class _Where:
    """What a request concerns, for messages: the repository, the revision and the server."""

    repo_id: str
    revision: str | None
    endpoint: str
    token: str | bool | None
    write: bool = False

    @property
    def at(self) -> str:
        return f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id

    @property
    def token_fix(self) -> str:
        access = "write" if self.write else "read"
        return f"pass token= (zoo CLI: HF_TOKEN or --token-file) with {access} access to {self.repo_id}"


def _status_error(status: int, headers: Any, where: _Where) -> HubError:
    """The zoo error for an HTTP error status: which it was, and what to do."""
    fields: dict[str, Any] = {"repo_id": where.repo_id, "status": status}
    code = headers.get("X-Error-Code")
    server = where.endpoint
    access = "write" if where.write else "read"
    if code == "RevisionNotFound":
        return HubNotFoundError(
            f"{where.repo_id} at {server} has no revision {shown(where.revision)!r}; use an existing branch, tag or "
            f"commit sha (hf-hub:{where.repo_id} loads the default branch)", **fields)
    if code == "EntryNotFound":
        return MissingFileError(f"{where.at} at {server} has no such file (HTTP 404)", **fields)
    if code == "GatedRepo":
        return HubAuthError(f"{where.repo_id} at {server} is gated (HTTP {status}): accept its conditions on the "
                            f"repository page, then {where.token_fix}", **fields)
    if code == "RepoNotFound" or (status == 404 and code is None and not where.revision):
        who = "the token given cannot see it" if _has_token(where.token) else "no token was given"
        return HubNotFoundError(
            f"repository {where.repo_id} was not found at {server} (HTTP 404): check the name; if it is private, "
            f"{who}: {where.token_fix}", **fields)
    if status == 401 and _has_token(where.token):
        return HubAuthError(
            f"the Hub at {server} refused the token for {where.repo_id} (HTTP 401): check it, or pass another with "
            f"token= (zoo CLI: HF_TOKEN or --token-file); for a {'push' if where.write else 'private repo'} the "
            f"token needs {access} access", **fields)
    if status == 401:
        return HubAuthError(f"the Hub at {server} needs a token for {where.repo_id} (HTTP 401): {where.token_fix}",
                            **fields)
    if status == 403:
        return HubAuthError(f"the Hub at {server} denied {access} access to {where.repo_id} (HTTP 403): "
                            f"{where.token_fix}", **fields)
    if status == 404:
        return HubNotFoundError(f"{where.at} was not found at {server} (HTTP 404)", **fields)
    if status >= 500:
        return HubServerError(f"the Hub at {server} answered HTTP {status} (a server error) for {where.at}; "
                              "retry later", **fields)
    message = headers.get("X-Error-Message")
    detail = f": {shown(message)}" if message else ""
    return HubError(f"the Hub at {server} answered HTTP {status} for {where.at}{detail}", **fields)


@contextlib.contextmanager
def _transport(where: _Where, url: str) -> Iterator[None]:
    """Map connection failures and timeouts to zoo errors that say which."""
    httpx = _httpx()
    try:
        yield
    except httpx.TimeoutException:
        raise HubTimeoutError(
            f"the Hub at {where.endpoint} did not answer within {REQUEST_TIMEOUT_S:g} s for {where.at}; retry "
            "later, or check HF_ENDPOINT and any proxy settings", repo_id=where.repo_id) from None
    except _transport_errors() as exc:
        raise _Unreachable(
            f"could not reach the Hub at {where.endpoint} for {where.repo_id} ({type(exc).__name__}); check the "
            "connection, HF_ENDPOINT and any proxy settings", repo_id=where.repo_id) from None


class _Unreachable(HubError):
    """No answer at all: nothing listens, DNS fails, the connection is refused (a cached copy may be used)."""


def _headers(token: str | bool | None) -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    import zoo

    headers: dict[str, str] = build_hf_headers(token=token, library_name=LIBRARY_NAME,
                                               library_version=zoo.__version__)
    return headers


def _same_origin(a: str, b: str) -> bool:
    x, y = urlsplit(a), urlsplit(b)
    return (x.scheme, x.netloc) == (y.scheme, y.netloc)


@contextlib.contextmanager
def _open(method: str, url: str, where: _Where, headers: dict[str, str]) -> Iterator[tuple[Any, Any]]:
    """Send ``method url``, following at most MAX_REDIRECTS redirects by hand (auth only to the Hub's origin).

    Yields ``(meta, final)``: the last answer from the Hub's own origin (its headers name the commit, ETag and
    size; a CDN's do not) and the final response, whose body is not read yet. Error statuses raise zoo errors.
    A HEAD stops at a redirect that already names the commit (the Hub's pin of a branch, or its hop to a CDN).
    """
    from huggingface_hub.utils import get_session

    session = get_session()
    meta: Any = None
    seen = {url}
    with contextlib.ExitStack() as stack:
        for _ in range(MAX_REDIRECTS + 1):
            hub_origin = _same_origin(url, where.endpoint)
            send = headers if hub_origin else {k: v for k, v in headers.items() if k.lower() != "authorization"}
            with _transport(where, url):
                response = stack.enter_context(session.stream(method, url, headers=send, timeout=REQUEST_TIMEOUT_S,
                                                              follow_redirects=False))
            if hub_origin or meta is None:
                meta = response
            status = response.status_code
            if status >= 400:
                raise _status_error(status, response.headers, where)
            if status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                if method == "HEAD" and response.headers.get("X-Repo-Commit"):
                    yield response, response
                    return
                url = urljoin(url, response.headers["Location"])
                if url in seen:
                    raise HubRedirectError(f"the Hub at {where.endpoint} redirected {where.at} in a loop (back to "
                                           f"{shown(url)}); report it to the server's operators",
                                           repo_id=where.repo_id, status=status)
                seen.add(url)
                continue
            yield meta, response
            return
        raise HubRedirectError(f"the Hub at {where.endpoint} redirected {where.at} more than {MAX_REDIRECTS} "
                               "times; report it to the server's operators", repo_id=where.repo_id)


def _get_json(url: str, where: _Where, token: str | bool | None) -> Any:
    """A bounded JSON answer (listings), with the request timeout and an overall deadline."""
    deadline = time.monotonic() + DEADLINE_BASE_S
    with _open("GET", url, where, _headers(token)) as (_, response):
        body = bytearray()
        with _transport(where, url):
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_LISTING_BYTES:
                    raise HubProtocolError(f"the Hub at {where.endpoint} sent more than {MAX_LISTING_BYTES:,} "
                                           f"bytes listing {where.at}; refusing it", repo_id=where.repo_id)
                _check_deadline(deadline, where, "the file listing")
    try:
        return json.loads(bytes(body))
    except ValueError:
        raise HubProtocolError(f"the Hub at {where.endpoint} sent a listing of {where.at} that is not JSON",
                               repo_id=where.repo_id) from None


def _check_deadline(deadline: float, where: _Where, what: str) -> None:
    if time.monotonic() > deadline:
        raise HubTimeoutError(
            f"downloading {what} of {where.at} from {where.endpoint} ran past its deadline (the server is too slow "
            "or trickles); retry later", repo_id=where.repo_id)


# -- the cache (huggingface_hub's layout) ---------------------------------------------------------------


def _storage(repo_id: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    from huggingface_hub import constants

    root = Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)
    return root / f"models--{repo_id.replace('/', '--')}"


def _cached_commit(storage: Path, revision: str) -> str | None:
    if COMMIT_RE.fullmatch(revision):
        return revision
    try:
        commit = (storage / "refs" / revision).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if COMMIT_RE.fullmatch(commit) else None


def _inside(path: Path, root: Path) -> Path:
    """``path``, after checking that it cannot leave ``root`` (the names are validated; this is the backstop)."""
    if not os.path.abspath(path).startswith(os.path.abspath(root) + os.sep):
        raise HubProtocolError(f"refusing to write {path}: it would leave the cache folder {root}")
    return path


def _link(blob: Path, pointer: Path) -> None:
    pointer.parent.mkdir(parents=True, exist_ok=True)
    temporary = pointer.with_name(f".{pointer.name}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.symlink_to(os.path.relpath(blob, pointer.parent))
    except OSError:  # no symlinks (some Windows setups): a copy, as huggingface_hub does
        shutil.copyfile(blob, temporary)
    os.replace(temporary, pointer)


# -- download ----------------------------------------------------------------------------------------------


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
    where = _Where(repo_id, revision, _endpoint(endpoint), token)
    limit = max_bytes if max_bytes is not None else FILE_LIMITS.get(filename, MAX_WEIGHTS_BYTES)
    storage = _storage(repo_id, cache_dir)
    commit = revision if COMMIT_RE.fullmatch(revision) else None
    if commit is not None and (storage / "snapshots" / commit / filename).is_file():
        return HubFile(storage / "snapshots" / commit / filename, commit)
    if constants.is_offline_mode():
        cached = _cached_commit(storage, revision)
        if cached is not None and (storage / "snapshots" / cached / filename).is_file():
            return HubFile(storage / "snapshots" / cached / filename, cached)
        raise HubError(f"{where.at} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; connect and "
                       "retry (unset HF_HUB_OFFLINE), or load a revision that was downloaded before",
                       repo_id=repo_id)
    headers = _headers(token)
    if commit is None:
        url = f"{where.endpoint}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(filename)}"
        try:
            with _open("HEAD", url, where, headers) as (meta, _):
                commit = _commit_header(meta, where)
        except _Unreachable as exc:
            cached = _cached_commit(storage, revision)
            if cached is not None and (storage / "snapshots" / cached / filename).is_file():
                logger.warning("%s; using the cached commit %s of %s", exc, cached, where.at)
                return HubFile(storage / "snapshots" / cached / filename, cached)
            raise HubError(f"{where.at} is not in the local Hugging Face cache and the Hub at {where.endpoint} "
                           "could not be reached; connect and retry (check HF_ENDPOINT and any proxy settings)",
                           repo_id=repo_id) from None
        if commit != revision:
            ref = _inside(storage / "refs" / revision, storage)
            ref.parent.mkdir(parents=True, exist_ok=True)
            with atomic_destination(ref) as temporary:
                temporary.write_text(commit, encoding="ascii")
    pointer = _inside(storage / "snapshots" / commit / filename, storage)
    if pointer.is_file():
        return HubFile(pointer, commit)
    url = f"{where.endpoint}/{repo_id}/resolve/{commit}/{quote(filename)}"
    try:
        _fetch_blob(url, where, headers, storage, pointer, commit=commit, limit=limit, filename=filename)
    except _Unreachable as exc:
        raise HubError(f"{where.at} is not in the local Hugging Face cache and the Hub at {where.endpoint} could "
                       f"not be reached ({exc})", repo_id=repo_id) from None
    return HubFile(pointer, commit)


def _commit_header(response: Any, where: _Where) -> str:
    commit = response.headers.get("X-Repo-Commit", "")
    if not COMMIT_RE.fullmatch(commit):
        raise HubProtocolError(
            f"the Hub at {where.endpoint} named commit {shown(commit, 80)!r} for {where.at}, which is not a 40-hex "
            "commit id; refusing to use it", repo_id=where.repo_id)
    return str(commit)


def _fetch_blob(url: str, where: _Where, headers: dict[str, str], storage: Path, pointer: Path, *, commit: str,
                limit: int, filename: str) -> None:
    with _open("GET", url, where, headers) as (meta, response):
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
        if size > limit:
            raise HubProtocolError(
                f"{filename} of {where.at} is announced as {size:,} bytes, more than the {limit:,} bytes zoo "
                "accepts for it; refusing to download it", repo_id=where.repo_id)
        blob = _inside(storage / "blobs" / etag, storage)
        if blob.is_file() and blob.stat().st_size == size:
            _link(blob, pointer)
            return
        blob.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + DEADLINE_BASE_S + size / MIN_RATE
        sha256 = hashlib.sha256()
        git = hashlib.sha1(b"blob %d\0" % size)
        received = 0
        fd, name = tempfile.mkstemp(dir=blob.parent, prefix=f".{etag[:16]}.", suffix=".incomplete")
        temporary = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, _transport(where, url):
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > size:
                        raise HubProtocolError(f"the Hub at {where.endpoint} sent more than the announced {size:,} "
                                               f"bytes of {filename} of {where.at}", repo_id=where.repo_id)
                    out.write(chunk)
                    sha256.update(chunk)
                    git.update(chunk)
                    _check_deadline(deadline, where, filename)
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
    _link(blob, pointer)


def list_files(repo_id: str, revision: str, *, token: str | bool | None = None,
               endpoint: str | None = None) -> list[str]:
    """The file paths of ``repo_id`` at ``revision`` (one bounded, timed request)."""
    check_repo_id(repo_id)
    check_revision(revision)
    where = _Where(repo_id, revision, _endpoint(endpoint), token)
    url = f"{where.endpoint}/api/models/{repo_id}/tree/{quote(revision, safe='')}?recursive=true"
    items = _get_json(url, where, token)
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
        config = download_file(repo_id, CONFIG_FILE, revision=requested, token=token, cache_dir=cache_dir,
                               endpoint=endpoint)
    except MissingFileError:
        _refuse_pickle(repo_id, requested, token=token, endpoint=endpoint)
        raise HubNotFoundError(
            f"{repo_id}@{requested} has no {CONFIG_FILE}, so it is not a zoo model; zoo repos hold {CONFIG_FILE} "
            f"and {WEIGHTS_FILE}, as written by `zoo push`", repo_id=repo_id) from None
    return HubFiles(repo_id=repo_id, revision=config.commit, requested=requested, config=config.path)


def fetch_weights(files: HubFiles, *, token: str | bool | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> HubFiles:
    """The weights at the very commit the config came from, so the two always match."""
    try:
        weights = download_file(files.repo_id, WEIGHTS_FILE, revision=files.revision, token=token,
                                cache_dir=cache_dir, endpoint=endpoint)
    except MissingFileError:
        _refuse_pickle(files.repo_id, files.revision, token=token, endpoint=endpoint)
        raise HubNotFoundError(f"{files.repo_id}@{files.revision} has no {WEIGHTS_FILE}; push one with `zoo push`",
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
            f"which can run arbitrary code. Ask the owner to publish {WEIGHTS_FILE} (safetensors)", repo_id=repo_id)


def copy_files(files: HubFiles, out: str | os.PathLike[str]) -> Path:
    """Copy the two files into ``out`` (created if needed), each atomically."""
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target} is a file; give a directory", path=target)
    assert files.weights is not None
    target.mkdir(parents=True, exist_ok=True)
    for name, source in ((CONFIG_FILE, files.config), (WEIGHTS_FILE, files.weights)):
        with atomic_destination(target / name) as temporary:
            shutil.copyfile(source, temporary)
    return target


def check_safetensors(path: Path) -> None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            fh.keys()
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoadError(f"{path} is not a readable safetensors file ({shown(exc)}); delete it and pull again",
                        path=path) from None


# -- push --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    """What a push did: the commit now at the head of ``branch``, and whether this push made it."""

    repo_id: str
    oid: str
    commit_url: str
    branch: str
    changed: bool
    tag: str | None = None
    created_branch: bool = False


@contextlib.contextmanager
def _translate(where: _Where) -> Iterator[None]:
    """Map huggingface_hub's exceptions (raised by HfApi during a push) to zoo's. Never shows a token."""
    from huggingface_hub import errors as hf

    try:
        yield
    except hf.HfHubHTTPError as exc:
        response = exc.response
        if response is None:
            raise HubError(f"the Hub at {where.endpoint} failed for {where.at}: {shown(exc)}",
                           repo_id=where.repo_id) from None
        raise _status_error(response.status_code, response.headers, where) from None
    except hf.OfflineModeIsEnabled:
        raise HubError(f"cannot push to {where.repo_id} at {where.endpoint}: HF_HUB_OFFLINE is set; unset it",
                       repo_id=where.repo_id) from None
    except _httpx().TimeoutException:
        raise HubTimeoutError(f"the Hub at {where.endpoint} timed out during the push to {where.at}; retry",
                              repo_id=where.repo_id) from None
    except _transport_errors() as exc:
        raise HubError(f"could not reach the Hub at {where.endpoint} for {where.repo_id} ({type(exc).__name__}); "
                       "check the connection, HF_ENDPOINT and any proxy settings", repo_id=where.repo_id) from None


def upload_folder(staging: Path, repo_id: str, *, token: str | bool | None, private: bool | None,
                  branch: str | None, tag: str | None, endpoint: str | None, commit_message: str) -> PushResult:
    """Upload ``staging`` to ``repo_id`` in one commit on ``branch`` (created from main when new), then ``tag`` it.

    A push that changes nothing makes no commit (``changed`` is False). An existing tag is an error, checked
    before anything is uploaded.
    """
    from huggingface_hub import HfApi

    if "@" in repo_id:
        raise ConfigError(f"push to {shown(repo_id)!r}: give the branch with branch= (zoo push --branch), not @")
    check_repo_id(repo_id)
    for name, what in ((branch, "branch name"), (tag, "tag name")):
        if name is not None and (COMMIT_RE.fullmatch(name) or not valid_revision(name) or name.startswith("refs/")):
            raise ConfigError(f"{shown(name)!r} is not a valid {what}: letters, digits, '-', '_', '.', '/', no '..'")
    api: HfApi = HfApi(endpoint=endpoint, token=token, library_name=LIBRARY_NAME)
    where = _Where(repo_id, branch, _endpoint(endpoint), token, write=True)
    with _translate(where):
        full_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        refs = api.list_repo_refs(full_id)
        branches = {ref.name: ref.target_commit for ref in refs.branches}
        if tag is not None and tag in {ref.name for ref in refs.tags}:
            raise HubError(f"{full_id} already has a tag {tag!r}; tags never move: choose another name, or delete "
                           "it on the Hub first", repo_id=full_id)
        target = branch or DEFAULT_REVISION
        created = target not in branches
        if created:
            api.create_branch(full_id, branch=target, exist_ok=True)
            branches[target] = branches.get(DEFAULT_REVISION, "")  # a new branch starts at main's head
        # Zoo-managed pictures that this push does not include are deleted, so the card never shows stale ones.
        info = api.upload_folder(
            repo_id=full_id, folder_path=staging, commit_message=commit_message, revision=target,
            delete_patterns=[n for n in IMAGE_FILES if not (staging / n).exists()],
        )
        changed = info.oid != branches.get(target)
        if tag is not None:
            api.create_tag(full_id, tag=tag, revision=info.oid)
    if changed:
        logger.info("pushed %s to %s@%s (commit %s)", ", ".join(sorted(p.name for p in staging.iterdir())),
                    full_id, target, info.oid)
    else:
        logger.info("%s@%s already holds these files (commit %s); nothing was pushed", full_id, target, info.oid)
    return PushResult(repo_id=full_id, oid=info.oid, commit_url=info.commit_url, branch=target, changed=changed,
                      tag=tag, created_branch=created)
