"""A local, stdlib-only server for the Hugging Face Hub HTTP API subset that `huggingface_hub` uses.

It speaks enough of the Hub protocol for the real client to push (create_repo, upload_file/folder,
create_commit, the LFS batch upload), manage refs (create/delete branches and tags, list refs and commits) and
pull (model_info with ``cardData``, list_repo_files/tree, get_paths_info, hf_hub_download, snapshot_download)
against 127.0.0.1. Routing follows the real Hub (see /work/shared/hub-protocol.md, sections 1-8):

* ``preupload`` answers ``lfs`` for files the Hub's default ``.gitattributes`` tracks (``*.safetensors``, ...),
  for files of 10 MB or more and for binary samples, ``regular`` for the rest. The client then uploads LFS
  files through ``POST /{repo}.git/info/lfs/objects/batch`` and a ``PUT`` to the one-time URL it returns,
  and its commit references the object by sha256. The real Hub stores through Xet, which cannot be served
  offline: run the client with ``HF_HUB_DISABLE_XET=1`` (set before importing huggingface_hub) so it takes the
  LFS batch path.
* Namespaces belong to their owner: a user writes to its own namespace and to organisations it is a member of
  (``orgs={"acme": ["alice"]}``); repository names are checked as the Hub checks them; request bodies larger
  than ``max_body_bytes`` get 413 without being read.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["HubServer"]

logger = logging.getLogger("zoo.testing.hub")

_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# The Hub's rule: letters, digits, '-', '_', '.'; no '--' or '..'; '-' and '.' neither start nor end it; 96 max.
_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
_SHA_PREFIX_RE = re.compile(r"[0-9a-f]{7,40}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_REF_RE = re.compile(r"[A-Za-z0-9._/-]{1,200}")
_INVALID_TOKEN = "Invalid credentials in Authorization header"
LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub stores files of 10 MB or more through LFS
DEFAULT_MAX_BODY = 256 * 1024 * 1024
# The Hub's default .gitattributes (G14): the client never asks for it, but real repos have it.
_LFS_PATTERNS = (
    "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.mlmodel *.model *.msgpack *.npy *.npz"
    " *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors saved_model/**/* *.tar.* *.tar"
    " *.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents*"
).split()
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in _LFS_PATTERNS).encode()


def git_blob_sha1(data: bytes) -> str:
    """The git blob id the client compares against (preupload `oid`, tree `oid`, ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def valid_repo_name(name: object) -> bool:
    """True when ``name`` is a repository or namespace name the Hub accepts."""
    return (
        isinstance(name, str)
        and _NAME_RE.fullmatch(name) is not None
        and "--" not in name
        and ".." not in name
        and not name.endswith(".git")
    )


def valid_ref_name(name: object) -> bool:
    """A branch or tag name as git allows it (the subset the Hub accepts)."""
    if not isinstance(name, str) or not _REF_RE.fullmatch(name):
        return False
    parts = name.split("/")
    return not (
        any(p in ("", ".", "..") or p.startswith(".") or p.endswith(".lock") for p in parts)
        or ".." in name
        or name.endswith(".")
        or name.startswith("refs/")
        or re.fullmatch(r"[0-9a-f]{40}", name)
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _clean_path(path: object) -> str:
    """Normalise a path inside a repo, rejecting anything that could escape it."""
    if not isinstance(path, str) or not path or "\\" in path or "\0" in path or path.startswith("/"):
        raise _HTTPError(400, f"Invalid path in repo: {path!r}")
    parts = path.split("/")
    if any(p in ("", ".", "..", ".git") for p in parts) or any(ord(c) < 32 for c in path):
        raise _HTTPError(400, f"Invalid path in repo: {path!r}")
    return path


def _is_lfs(path: str, size: int, sample: bytes) -> bool:
    """The real Hub's choice: .gitattributes LFS patterns, 10 MB or more, or binary content."""
    if size <= 0:
        return False  # the client forces empty files to "regular" anyway
    name = path.rsplit("/", 1)[-1]
    if any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(path, p) for p in _LFS_PATTERNS):
        return True
    return size >= LFS_THRESHOLD or b"\0" in sample


# -- a YAML subset, enough for the front matter huggingface_hub writes (block style, PyYAML's dump) ---------


class _YAMLError(ValueError):
    pass


def _yaml_scalar(text: str) -> Any:
    text = text.strip()
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise _YAMLError(f"unterminated string {text!r}")
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            raise _YAMLError(f"bad string {text!r}") from None
    if text.startswith("[") and text.endswith("]"):
        return [_yaml_scalar(part) for part in text[1:-1].split(",") if part.strip()]
    if re.fullmatch(r"[-+]?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", text):
        return float(text)
    if text in (".nan", ".NaN", ".inf", "-.inf", ".Inf", "-.Inf"):
        return float(text.replace(".", "", 1).lower())
    if text[0] in "&*!|>{@`%":
        raise _YAMLError(f"unsupported YAML {text!r}")
    return text


def _yaml_key(text: str) -> tuple[str, str] | None:
    match = re.match(r"""('(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^'"#:][^:#]*?)\s*:(?:\s+(.*)|$)""", text)
    if match is None:
        return None
    key = _yaml_scalar(match.group(1))
    return str(key), (match.group(2) or "").strip()


def parse_front_matter(text: str) -> dict[str, Any] | None:
    """The README's YAML front matter as JSON-able data (the Hub's ``cardData``); None when there is none."""
    if not text.startswith("---"):
        return None
    end = re.search(r"^---\s*$", text[3:], flags=re.MULTILINE)
    if end is None:
        return None
    lines = [
        (len(line) - len(line.lstrip(" ")), line.strip())
        for line in text[3 : 3 + end.start()].splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return {}
    value, index = _yaml_block(lines, 0, lines[0][0])
    if index != len(lines) or not isinstance(value, dict):
        raise _YAMLError("the front matter is not one YAML mapping")
    return value


def _yaml_block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1] == "-" or lines[i][1].startswith("- "):
        items: list[Any] = []
        while i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
            rest = lines[i][1][1:].lstrip()
            if not rest:
                if i + 1 >= len(lines) or lines[i + 1][0] <= indent:
                    items.append(None)
                    i += 1
                else:
                    value, i = _yaml_block(lines, i + 1, lines[i + 1][0])
                    items.append(value)
            elif _yaml_key(rest) is not None:
                inner = indent + len(lines[i][1]) - len(rest)
                lines[i] = (inner, rest)
                value, i = _yaml_block(lines, i, inner)
                items.append(value)
            else:
                items.append(_yaml_scalar(rest))
                i += 1
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        pair = _yaml_key(lines[i][1])
        if pair is None:
            raise _YAMLError(f"expected 'key: value', got {lines[i][1]!r}")
        key, rest = pair
        i += 1
        if rest:
            mapping[key] = _yaml_scalar(rest)
        elif i < len(lines) and (
            lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("-"))
        ):
            mapping[key], i = _yaml_block(lines, i, lines[i][0])
        else:
            mapping[key] = None
    if i < len(lines) and lines[i][0] > indent:
        raise _YAMLError(f"unexpected indentation at {lines[i][1]!r}")
    return mapping, i


# -- errors and storage ----------------------------------------------------------------------------------------


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, **headers: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def _repo_not_found(repo_id: str) -> _HTTPError:
    return _HTTPError(404, f"Repository not found: {repo_id}", "RepoNotFound")


def _rev_not_found(rev: str) -> _HTTPError:
    return _HTTPError(404, f"Invalid rev id: {rev}", "RevisionNotFound")


class _Store:
    """On-disk repos: `objects/<sha256>` blobs plus one JSON document per repo."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "objects").mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def _repo_file(self, repo_type: str, repo_id: str) -> Path:
        ns, _, name = repo_id.partition("/")
        if not (valid_repo_name(ns) and valid_repo_name(name)):
            raise _repo_not_found(repo_id)
        return self.root / "repos" / repo_type / ns / f"{name}.json"

    def load(self, repo_type: str, repo_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._repo_file(repo_type, repo_id).read_text("utf-8"))
        except FileNotFoundError:
            return None
        data.setdefault("tags", {})
        return data

    def save(self, repo_type: str, repo_id: str, repo: dict[str, Any]) -> None:
        path = self._repo_file(repo_type, repo_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(repo), "utf-8")
        os.replace(tmp, path)

    def object_path(self, sha256: str) -> Path:
        if not _SHA256_RE.fullmatch(sha256):
            raise _HTTPError(400, f"Invalid object id {sha256!r}")
        return self.root / "objects" / sha256

    def put_object(self, data: bytes, *, lfs: bool = False) -> dict[str, Any]:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.object_path(sha256)
        if not path.exists():
            tmp = path.with_name(f".{sha256}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return self.entry(sha256, len(data), lfs=lfs, data=None if lfs else data)

    @staticmethod
    def entry(sha256: str, size: int, *, lfs: bool, data: bytes | None = None) -> dict[str, Any]:
        """A tree entry: regular files are identified by their git blob id, LFS files by their pointer's."""
        if lfs:
            pointer = _lfs_pointer(sha256, size)
            return {"sha256": sha256, "size": size, "oid": git_blob_sha1(pointer), "lfs": True,
                    "pointerSize": len(pointer)}
        assert data is not None
        return {"sha256": sha256, "oid": git_blob_sha1(data), "size": size}

    def create(self, repo_type: str, repo_id: str, owner: str, private: bool, author: str) -> bool:
        """Create a repo with an initial `.gitattributes` commit; False if it already exists."""
        with self.lock:
            if self.load(repo_type, repo_id) is not None:
                return False
            repo: dict[str, Any] = {"private": private, "owner": owner, "created": _now(), "refs": {}, "tags": {},
                                    "commits": {}}
            files = {".gitattributes": self.put_object(GITATTRIBUTES)}
            self._commit(repo, "main", files, "initial commit", "", None, author)
            self.save(repo_type, repo_id, repo)
            return True

    def commit(
        self,
        repo_type: str,
        repo_id: str,
        branch: str,
        ops: list[tuple[str, str, dict[str, Any] | None]],
        summary: str,
        *,
        description: str = "",
        parent: str | None = None,
        create_branch: bool = False,
        author: str = "",
    ) -> str:
        """Apply ("add"|"del"|"deldir", path, entry) ops on top of `branch`; returns the new commit sha."""
        with self.lock:
            repo = self.load(repo_type, repo_id)
            if repo is None:
                raise _repo_not_found(repo_id)
            if branch not in repo["refs"]:
                if not create_branch:
                    raise _rev_not_found(branch)
                repo["refs"][branch] = repo["refs"]["main"]
            head = repo["refs"][branch]
            if parent is not None and not head.startswith(str(parent).lower()):
                raise _HTTPError(412, f"Parent commit {parent} is not the head of {branch} ({head})")
            files = dict(repo["commits"][head]["files"])
            for kind, path, entry in ops:
                if kind == "add":
                    files[path] = entry
                elif kind == "del":
                    if files.pop(path, None) is None:
                        raise _HTTPError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                else:
                    doomed = [p for p in files if p.startswith(path + "/")]
                    if not doomed:
                        raise _HTTPError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                    for p in doomed:
                        del files[p]
            sha = self._commit(repo, branch, files, summary, description, head, author)
            self.save(repo_type, repo_id, repo)
            return sha

    @staticmethod
    def _commit(repo: dict[str, Any], branch: str, files: dict[str, Any], summary: str, description: str,
                parent: str | None, author: str) -> str:
        tree = json.dumps(sorted((p, e["oid"]) for p, e in files.items()))
        seed = f"{parent}\n{tree}\n{summary}\n{time.time_ns()}\n{len(repo['commits'])}"
        sha = hashlib.sha1(seed.encode()).hexdigest()
        repo["commits"][sha] = {"parent": parent, "files": files, "summary": summary, "description": description,
                                "author": author, "date": _now()}
        repo["refs"][branch] = sha
        return sha


def _resolve_rev(repo: dict[str, Any], rev: str) -> str | None:
    """A branch or tag name (optionally as refs/heads/x, refs/tags/x), a full sha or a unique sha prefix (7+)."""
    if rev.startswith("refs/heads/"):
        return repo["refs"].get(rev.removeprefix("refs/heads/"))
    if rev.startswith("refs/tags/"):
        return repo["tags"].get(rev.removeprefix("refs/tags/"))
    if rev in repo["refs"]:
        return str(repo["refs"][rev])
    if rev in repo["tags"]:
        return str(repo["tags"][rev])
    if _SHA_PREFIX_RE.fullmatch(rev):
        matches = [sha for sha in repo["commits"] if sha.startswith(rev)]
        if len(matches) == 1:
            return matches[0]
    return None


class _BodyTooLarge(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    timeout = 60  # idle keep-alive connections must not pin handler threads forever
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: _Server

    # -- plumbing -----------------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        with self.server.hub._conns_lock:
            self.server.hub._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.hub._conns_lock:
            self.server.hub._conns.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        limit = self.server.hub.max_body_bytes
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while size := int(self.rfile.readline(100).split(b";")[0].strip() or b"0", 16):
                total += size
                if total > limit:
                    raise _BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline(100)
            while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > limit:
            raise _BodyTooLarge
        return self.rfile.read(length)

    def _send(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        hdrs = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
        for key, value in hdrs.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _dispatch(self) -> None:
        hub = self.server.hub
        url = urlsplit(self.path)
        hub._log(self.command, url.path)
        try:
            # Read the whole body before any answer, so errors leave the keep-alive stream in sync (G11).
            self.body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True  # the unread body is still on the wire: this stream cannot be reused
            message = f"Request body larger than {hub.max_body_bytes} bytes"
            self._json({"error": message}, 413, {"Connection": "close", "X-Error-Message": message})
            return
        except (ValueError, OSError):
            self.close_connection = True  # the stream is out of sync: do not reuse it
            self._json({"error": "Malformed request body"}, 400, {"Connection": "close"})
            return
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.user: str | None = None
        try:
            auth = self.headers.get("Authorization")
            if auth is not None:
                token = auth[7:] if auth[:7].lower() == "bearer " else None
                self.user = hub._tokens.get(token) if token else None
                if self.user is None:
                    raise _HTTPError(401, _INVALID_TOKEN)
            # Split before unquoting: a revision like refs%2Fpr%2F1 is one segment.
            self._route([unquote(seg) for seg in url.path.split("/")[1:]])
        except _HTTPError as err:
            # Header values must be one latin-1 line, and messages may quote client-sent paths.
            safe = "".join(c if 32 <= ord(c) < 127 else f"\\x{ord(c):02x}" for c in err.message)
            headers = {"X-Error-Message": safe, **err.headers}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._json({"error": err.message}, err.status, headers)
        except ConnectionError:
            self.close_connection = True  # the client went away mid-reply
        except Exception as exc:  # a server bug must answer, not hang the client
            logger.exception("hub server error on %s %s", self.command, self.path)
            self._json({"error": f"Internal error: {exc!r}"}, 500)

    # -- routing ------------------------------------------------------------------------------------

    def _route(self, segs: list[str]) -> None:
        method = self.command
        if segs[:1] == ["api"]:
            rest = segs[1:]
            if rest == ["repos", "create"] and method == "POST":
                return self._create_repo()
            if rest == ["repos", "delete"] and method == "DELETE":
                return self._delete_repo()
            if rest == ["validate-yaml"] and method == "POST":
                return self._validate_yaml()
            if rest == ["whoami-v2"] and method == "GET":
                return self._whoami()
            if rest == ["agent-harnesses"] and method == "GET":
                return self._json({"standardEnvVars": [], "harnesses": {}})
            if len(rest) == 2 and rest[0] == "lfs-upload" and method == "PUT":
                return self._lfs_put(rest[1])
            if len(rest) >= 3 and rest[0] in _TYPES:
                return self._route_repo(_TYPES[rest[0]], f"{rest[1]}/{rest[2]}", rest[3:])
        elif method == "POST" and segs[-4:-1] == ["info", "lfs", "objects"] and len(segs) in (6, 7):
            # /{prefix}{ns}/{name}.git/info/lfs/objects/{batch|verify}
            head = segs[:-4]
            repo_type = _TYPES.get(head[0], "") if len(head) == 3 else "model"
            if repo_type and head[-1].endswith(".git"):
                repo_id = f"{head[-2]}/{head[-1].removesuffix('.git')}"
                if segs[-1] == "batch":
                    return self._lfs_batch(repo_type, repo_id)
                if segs[-1] == "verify":
                    return self._lfs_verify(repo_type, repo_id)
        elif method in ("GET", "HEAD"):
            repo_type = "model"
            if segs[:1] in (["datasets"], ["spaces"], ["models"]) and len(segs) > 3 and segs[3] == "resolve":
                repo_type, segs = _TYPES[segs[0]], segs[1:]
            if len(segs) >= 5 and segs[2] == "resolve":
                return self._resolve(repo_type, f"{segs[0]}/{segs[1]}", segs[3], "/".join(segs[4:]))
        raise _HTTPError(404, f"Not found: {method} {self.path}")

    def _route_repo(self, repo_type: str, repo_id: str, action: list[str]) -> None:
        method = self.command
        if method == "GET" and not action:
            return self._info(repo_type, repo_id, "main")
        if method == "GET" and len(action) == 2 and action[0] == "revision":
            return self._info(repo_type, repo_id, action[1])
        if method == "GET" and len(action) >= 2 and action[0] == "tree":
            return self._tree(repo_type, repo_id, action[1], "/".join(action[2:]))
        if method == "GET" and action == ["refs"]:
            return self._refs(repo_type, repo_id)
        if method == "GET" and len(action) == 2 and action[0] == "commits":
            return self._commits(repo_type, repo_id, action[1])
        if method == "POST" and len(action) == 2 and action[0] == "paths-info":
            return self._paths_info(repo_type, repo_id, action[1])
        if method == "POST" and len(action) == 2 and action[0] == "preupload":
            return self._preupload(repo_type, repo_id, action[1])
        if method == "POST" and len(action) == 2 and action[0] == "commit":
            return self._commit(repo_type, repo_id, action[1])
        if method == "GET" and len(action) == 2 and action[0] in ("xet-write-token", "xet-read-token"):
            raise _HTTPError(501, "This test Hub has no Xet storage: set HF_HUB_DISABLE_XET=1 before importing "
                                  "huggingface_hub, so LFS files take the LFS batch API")
        if len(action) == 2 and action[0] == "branch" and method in ("POST", "DELETE"):
            return self._branch(repo_type, repo_id, action[1])
        if len(action) == 2 and action[0] == "tag" and method in ("POST", "DELETE"):
            return self._tag(repo_type, repo_id, action[1])
        raise _HTTPError(404, f"Not found: {method} {self.path}")

    # -- helpers ------------------------------------------------------------------------------------

    def _require_user(self) -> str:
        if self.user is None:
            raise _HTTPError(401, "Authorization header is required for this operation")
        return self.user

    def _base_url(self) -> str:
        # URLs handed back are parsed by RepoUrl and must match the client's endpoint host (G5).
        return f"http://{self.headers.get('Host') or self.server.hub.endpoint.split('://')[1]}"

    def _repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self._base_url()}/{_URL_PREFIX[repo_type]}{repo_id}"

    def _load(self, repo_type: str, repo_id: str, *, write: bool = False) -> dict[str, Any]:
        hub = self.server.hub
        if write:
            self._require_user()  # anonymous writes are 401 even on private repos
        repo = hub._store.load(repo_type, repo_id)
        if repo is None or (repo["private"] and not hub._can_write(self.user, repo["owner"])):
            raise _repo_not_found(repo_id)  # private repos are invisible to others, as on the Hub
        if write and not hub._can_write(self.user, repo["owner"]):
            raise _HTTPError(403, f"You don't have the rights to write to {repo_id}")
        return repo

    def _rev(self, repo: dict[str, Any], rev: str) -> str:
        sha = _resolve_rev(repo, rev)
        if sha is None:
            raise _rev_not_found(rev)
        return sha

    def _json_body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise _HTTPError(400, f"Invalid JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise _HTTPError(400, "JSON body must be an object")
        return data

    # -- repositories -------------------------------------------------------------------------------

    def _repo_from_body(self) -> tuple[str, str]:
        hub = self.server.hub
        body, user = self._json_body(), self._require_user()
        repo_type = body.get("type") or "model"
        name, namespace = body.get("name"), body.get("organization") or user  # organization null -> user (G13)
        if repo_type not in _URL_PREFIX:
            raise _HTTPError(400, f"Invalid repo type: {repo_type!r}")
        if not (valid_repo_name(name) and valid_repo_name(namespace)):
            raise _HTTPError(
                400,
                f"Invalid repo name {namespace!r}/{name!r}: use letters, digits, '-', '_' and '.'; no '--' or "
                "'..'; '-' and '.' cannot start or end it; at most 96 characters",
            )
        repo_id = f"{namespace}/{name}"
        existing = hub._store.load(repo_type, repo_id)
        visible = existing is not None and (not existing["private"] or hub._can_write(user, existing["owner"]))
        if not hub._can_write(user, str(namespace)) and not (visible and self.command == "POST"):
            # A public repo that exists answers 409 below (the client's exist_ok reads it); anything else is 403.
            raise _HTTPError(403, f"You don't have the rights to create a {repo_type} under the namespace "
                                  f"{namespace!r}")
        return repo_type, repo_id

    def _create_repo(self) -> None:
        repo_type, repo_id = self._repo_from_body()
        body = self._json_body()
        private = body.get("visibility") == "private" or body.get("private") is True
        url = self._repo_url(repo_type, repo_id)
        owner = repo_id.split("/")[0]
        if not self.server.hub._store.create(repo_type, repo_id, owner, private, self._require_user()):
            # exist_ok=True reads the url from the 409 body (G7).
            return self._json({"error": "You already created this repo", "url": url}, 409)
        self._json({"url": url, "name": repo_id, "id": repo_id})

    def _delete_repo(self) -> None:
        repo_type, repo_id = self._repo_from_body()
        store = self.server.hub._store
        with store.lock:
            self._load(repo_type, repo_id, write=True)
            store._repo_file(repo_type, repo_id).unlink()
        self._json({})

    def _validate_yaml(self) -> None:
        content = self._json_body().get("content")
        try:
            parse_front_matter(content if isinstance(content, str) else "")
        except _YAMLError as exc:
            return self._json({"errors": [{"message": f"Invalid YAML metadata: {exc}"}], "warnings": []}, 400)
        self._json({"errors": [], "warnings": []})

    def _whoami(self) -> None:
        user = self._require_user()
        orgs = [{"type": "org", "name": org} for org, members in self.server.hub._orgs.items() if user in members]
        self._json(
            {
                "type": "user",
                "id": user,
                "name": user,
                "fullname": user,
                "orgs": orgs,
                "auth": {"type": "access_token", "accessToken": {"displayName": "zoo-test", "role": "write"}},
            }
        )

    def _card_data(self, commit: dict[str, Any]) -> dict[str, Any] | None:
        entry = commit["files"].get("README.md")
        if entry is None or entry["size"] > 1_000_000:
            return None
        text = self.server.hub._store.object_path(entry["sha256"]).read_text("utf-8", errors="replace")
        try:
            return parse_front_matter(text)
        except _YAMLError:
            return None

    def _info(self, repo_type: str, repo_id: str, rev: str) -> None:
        repo = self._load(repo_type, repo_id)
        sha = self._rev(repo, rev)
        commit = repo["commits"][sha]
        siblings = []
        for p, e in sorted(commit["files"].items()):
            sibling: dict[str, Any] = {"rfilename": p, "size": e["size"], "blobId": e["oid"]}
            if e.get("lfs"):
                sibling["lfs"] = {"sha256": e["sha256"], "size": e["size"], "pointerSize": e["pointerSize"]}
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
            "id": repo_id,
            "author": repo_id.split("/")[0],
            "sha": sha,
            "private": repo["private"],
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "createdAt": repo["created"],
            "lastModified": commit["date"],
            "siblings": siblings,
            "usedStorage": sum(e["size"] for e in commit["files"].values()),
        }
        card = self._card_data(commit)
        if card is not None:
            # As the Hub does: cardData is the front matter; tags gather the card's tags and its facets.
            info["cardData"] = card
            tags = [t for t in card.get("tags") or [] if isinstance(t, str)]
            for key, prefix in (("library_name", ""), ("license", "license:"), ("datasets", "dataset:")):
                values = card.get(key)
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, str):
                        tags.append(prefix + value)
            info["tags"] = list(dict.fromkeys(tags))
            for key in ("library_name", "pipeline_tag"):
                if isinstance(card.get(key), str):
                    info[key] = card[key]
        if repo_type == "model":
            info["modelId"] = repo_id
        self._json(info)

    @staticmethod
    def _tree_item(path: str, entry: dict[str, Any]) -> dict[str, Any]:
        # Never an `xetHash`: it would switch the client to Xet downloads.
        item: dict[str, Any] = {"type": "file", "path": path, "size": entry["size"], "oid": entry["oid"]}
        if entry.get("lfs"):
            item["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": entry["pointerSize"]}
        return item

    @staticmethod
    def _directories(files: dict[str, Any], prefix: str = "") -> dict[str, str]:
        dirs: dict[str, list[str]] = {}
        for path, entry in files.items():
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            for i in range(1, len(parts)):
                dirs.setdefault(prefix + "/".join(parts[:i]), []).append(f"{path}:{entry['oid']}")
        return {d: hashlib.sha1("\n".join(sorted(v)).encode()).hexdigest() for d, v in dirs.items()}

    def _tree(self, repo_type: str, repo_id: str, rev: str, sub: str) -> None:
        repo = self._load(repo_type, repo_id)
        sha = self._rev(repo, rev)
        files: dict[str, Any] = repo["commits"][sha]["files"]
        prefix = f"{sub.strip('/')}/" if sub.strip("/") else ""
        below = {p: e for p, e in files.items() if p.startswith(prefix)}
        if prefix and not below:
            raise _HTTPError(404, f"Directory not found: {sub}", "EntryNotFound", **{"X-Repo-Commit": sha})
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        items = [{"type": "directory", "path": d, "oid": oid} for d, oid in self._directories(below, prefix).items()]
        items += [self._tree_item(p, e) for p, e in below.items()]
        if not recursive:
            items = [it for it in items if "/" not in it["path"][len(prefix) :]]
        items.sort(key=lambda it: (it["type"] != "directory", it["path"]))
        self._json(items)

    def _paths_info(self, repo_type: str, repo_id: str, rev: str) -> None:
        repo = self._load(repo_type, repo_id)
        files: dict[str, Any] = repo["commits"][self._rev(repo, rev)]["files"]
        form = parse_qs(self.body.decode("utf-8", errors="replace"))
        if self.headers.get("Content-Type", "").startswith("application/json"):
            paths = self._json_body().get("paths", [])
        else:
            paths = form.get("paths", [])
        dirs = self._directories(files)
        items: list[dict[str, Any]] = []
        for path in paths if isinstance(paths, list) else []:
            path = str(path).strip("/")
            if path in files:
                items.append(self._tree_item(path, files[path]))
            elif path in dirs:
                items.append({"type": "directory", "path": path, "oid": dirs[path]})
        self._json(items)  # paths that do not exist are left out, as on the Hub

    def _refs(self, repo_type: str, repo_id: str) -> None:
        repo = self._load(repo_type, repo_id)
        branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": sha} for b, sha in repo["refs"].items()]
        tags = [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": sha} for t, sha in repo["tags"].items()]
        refs: dict[str, Any] = {"branches": branches, "converts": [], "tags": tags}
        if self.query.get("include_prs"):
            refs["pullRequests"] = []
        self._json(refs)

    def _commits(self, repo_type: str, repo_id: str, rev: str) -> None:
        repo = self._load(repo_type, repo_id)
        sha: str | None = self._rev(repo, rev)
        items = []
        while sha is not None:
            commit = repo["commits"][sha]
            items.append({
                "id": sha,
                "authors": [{"user": commit.get("author") or repo["owner"]}],
                "date": commit["date"],
                "title": commit["summary"],
                "message": commit.get("description", ""),
            })
            sha = commit["parent"]
        self._json(items)

    def _branch(self, repo_type: str, repo_id: str, branch: str) -> None:
        store = self.server.hub._store
        if not valid_ref_name(branch):
            raise _HTTPError(400, f"Invalid branch name {branch!r}")
        with store.lock:
            repo = self._load(repo_type, repo_id, write=True)
            if self.command == "DELETE":
                if branch == "main":
                    raise _HTTPError(403, "You cannot delete the default branch")
                if repo["refs"].pop(branch, None) is None:
                    raise _rev_not_found(branch)
            else:
                if branch in repo["refs"] or branch in repo["tags"]:
                    raise _HTTPError(409, f"Reference {branch} already exists")
                start = self._json_body().get("startingPoint")
                repo["refs"][branch] = self._rev(repo, str(start)) if start else repo["refs"]["main"]
            store.save(repo_type, repo_id, repo)
        self._json({})

    def _tag(self, repo_type: str, repo_id: str, segment: str) -> None:
        store = self.server.hub._store
        with store.lock:
            repo = self._load(repo_type, repo_id, write=True)
            if self.command == "DELETE":  # DELETE .../tag/{tag}
                if repo["tags"].pop(segment, None) is None:
                    raise _rev_not_found(segment)
            else:  # POST .../tag/{revision} {"tag": name}
                tag = self._json_body().get("tag")
                if not valid_ref_name(tag):
                    raise _HTTPError(400, f"Invalid tag name {tag!r}")
                if tag in repo["tags"] or tag in repo["refs"]:
                    raise _HTTPError(409, f"Tag {tag} already exists")
                repo["tags"][str(tag)] = self._rev(repo, segment)
            store.save(repo_type, repo_id, repo)
        self._json({})

    # -- uploads ------------------------------------------------------------------------------------

    def _preupload(self, repo_type: str, repo_id: str, rev: str) -> None:
        repo = self._load(repo_type, repo_id, write=True)
        files = repo["commits"][self._rev(repo, rev)]["files"]
        items = self._json_body().get("files")
        if not isinstance(items, list):
            raise _HTTPError(400, "Expected a `files` list")
        out = []
        for item in items:
            path = _clean_path(item.get("path") if isinstance(item, dict) else None)
            size = item.get("size")
            try:
                sample = base64.b64decode(str(item.get("sample", "")), validate=True)
            except ValueError:
                raise _HTTPError(400, f"Invalid base64 sample for {path!r}") from None
            lfs = _is_lfs(path, size if isinstance(size, int) else 0, sample)
            current = files.get(path)
            # The client drops unchanged files by comparing this oid: git sha1 for regular, sha256 for lfs.
            oid = None if current is None else current["sha256"] if lfs else current["oid"]
            if current is not None and not lfs and current.get("lfs"):
                oid = None  # was stored through LFS: its regular git id is unknown here, so re-upload
            out.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        self._json({"files": out})

    def _lfs_batch(self, repo_type: str, repo_id: str) -> None:
        hub = self.server.hub
        self._load(repo_type, repo_id, write=True)
        body = self._json_body()
        if body.get("operation") != "upload":
            raise _HTTPError(400, "Only the upload operation is supported")
        objects = body.get("objects")
        if not isinstance(objects, list):
            raise _HTTPError(400, "Expected an `objects` list")
        out: list[dict[str, Any]] = []
        for obj in objects:
            oid, size = (obj.get("oid"), obj.get("size")) if isinstance(obj, dict) else (None, None)
            if not (isinstance(oid, str) and _SHA256_RE.fullmatch(oid) and isinstance(size, int) and size >= 0):
                out.append({"oid": str(oid), "size": 0, "error": {"code": 422, "message": "Invalid oid or size"}})
                continue
            if size > hub.max_body_bytes:
                out.append({"oid": oid, "size": size, "error": {"code": 413, "message": "Object too large"}})
                continue
            if hub._store.object_path(oid).exists():
                out.append({"oid": oid, "size": size})  # no actions: already stored
                continue
            ticket = secrets.token_hex(16)
            with hub._tickets_lock:
                hub._tickets[ticket] = (oid, size)
            base = self._base_url()
            out.append({
                "oid": oid,
                "size": size,
                "authenticated": True,
                "actions": {
                    "upload": {"href": f"{base}/api/lfs-upload/{ticket}", "expires_in": 3600},
                    "verify": {"href": f"{base}/{_URL_PREFIX[repo_type]}{repo_id}.git/info/lfs/objects/verify"},
                },
            })
        self._json({"transfer": "basic", "objects": out, "hash_algo": "sha256"},
                   headers={"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_put(self, ticket: str) -> None:
        """The upload URL handed out by the batch call (pre-signed, as S3's: the client sends no token here)."""
        hub = self.server.hub
        with hub._tickets_lock:
            expected = hub._tickets.pop(ticket, None)
        if expected is None:
            raise _HTTPError(403, "Unknown or used upload URL")
        oid, size = expected
        if len(self.body) != size or hashlib.sha256(self.body).hexdigest() != oid:
            raise _HTTPError(400, f"Uploaded content does not match oid {oid} and size {size}")
        hub._store.put_object(self.body, lfs=True)
        self._send(200)

    def _lfs_verify(self, repo_type: str, repo_id: str) -> None:
        self._load(repo_type, repo_id, write=True)
        body = self._json_body()
        oid, size = str(body.get("oid", "")), body.get("size")
        path = self.server.hub._store.object_path(oid) if _SHA256_RE.fullmatch(oid) else None
        if path is None or not path.exists() or path.stat().st_size != size:
            raise _HTTPError(404, f"LFS object {oid} of size {size} is not stored")
        self._json({})

    def _commit(self, repo_type: str, repo_id: str, rev: str) -> None:
        hub = self.server.hub
        repo = self._load(repo_type, repo_id, write=True)
        if self.query.get("create_pr"):
            raise _HTTPError(400, "Pull requests are not supported by the zoo test Hub server")
        rev = rev.removeprefix("refs/heads/")
        if rev not in repo["refs"]:
            self._rev(repo, rev)  # 404 RevisionNotFound when unknown
            raise _HTTPError(400, f"Commits must target a branch, not {rev}")
        header: dict[str, Any] | None = None
        ops: list[tuple[str, str, dict[str, Any] | None]] = []
        try:
            lines = [json.loads(line) for line in self.body.splitlines() if line.strip()]
        except ValueError as exc:
            raise _HTTPError(400, f"Invalid NDJSON body: {exc}") from None
        for line in lines:
            key, value = (line.get("key"), line.get("value")) if isinstance(line, dict) else (None, None)
            if not isinstance(value, dict):
                raise _HTTPError(400, f"Invalid commit line: {line!r}")
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise _HTTPError(400, f"Unsupported encoding {value.get('encoding')!r}")
                try:
                    data = base64.b64decode(value.get("content", ""), validate=True)
                except ValueError:
                    raise _HTTPError(400, f"Invalid base64 content for {value.get('path')!r}") from None
                ops.append(("add", _clean_path(value.get("path")), hub._store.put_object(data)))
            elif key == "lfsFile":
                oid, size = str(value.get("oid", "")), value.get("size")
                if value.get("algo", "sha256") != "sha256" or not _SHA256_RE.fullmatch(oid):
                    raise _HTTPError(400, f"Invalid LFS object id {oid!r}")
                obj = hub._store.object_path(oid)
                if not obj.exists() or obj.stat().st_size != size:
                    raise _HTTPError(422, f"LFS object {oid} of size {size} was never uploaded")
                ops.append(("add", _clean_path(value.get("path")), hub._store.entry(oid, int(size), lfs=True)))
            elif key == "deletedFile":
                ops.append(("del", _clean_path(value.get("path")), None))
            elif key == "deletedFolder":
                ops.append(("deldir", _clean_path(str(value.get("path", "")).rstrip("/")), None))
            else:
                raise _HTTPError(400, f"Unsupported commit operation {key!r}")
        if header is None or not str(header.get("summary", "")).strip():
            raise _HTTPError(400, "Commit header with a non-empty summary is required")
        sha = hub._store.commit(
            repo_type, repo_id, rev, ops, str(header["summary"]), description=str(header.get("description") or ""),
            parent=header.get("parentCommit"), author=self._require_user(),
        )
        url = f"{self._repo_url(repo_type, repo_id)}/commit/{sha}"
        self._json({"success": True, "commitOid": sha, "commitUrl": url, "commitMessage": header["summary"]})

    # -- downloads ----------------------------------------------------------------------------------

    def _resolve(self, repo_type: str, repo_id: str, rev: str, path: str) -> None:
        repo = self._load(repo_type, repo_id)
        sha = self._rev(repo, rev)
        entry = repo["commits"][sha]["files"].get(path)
        if entry is None:
            raise _HTTPError(404, f"Entry not found: {path}", "EntryNotFound", **{"X-Repo-Commit": sha})
        if sha != rev and self.command == "HEAD":
            # Pin branch revisions so the client's GET reads the same commit as its HEAD (G6).
            location = f"/{_URL_PREFIX[repo_type]}{repo_id}/resolve/{sha}/{quote(path)}"
            return self._send(307, headers={"Location": location, "X-Repo-Commit": sha})
        size, start, end = entry["size"], 0, entry["size"] - 1
        headers = {
            "Content-Type": "application/octet-stream",
            "ETag": f'"{entry["oid"]}"',
            "X-Repo-Commit": sha,
            "Accept-Ranges": "bytes",
        }
        if entry.get("lfs"):  # as the Hub: the content's sha256 and size, beside the pointer's ETag
            headers["X-Linked-Etag"] = f'"{entry["sha256"]}"'
            headers["X-Linked-Size"] = str(size)
        status = 200
        range_match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if range_match and self.command == "GET" and any(range_match.groups()):
            first, last = range_match.groups()
            start, end = (int(first), int(last or size - 1)) if first else (max(size - int(last), 0), size - 1)
            end = min(end, size - 1)
            if start > end:
                raise _HTTPError(416, "Requested range not satisfiable", **{"Content-Range": f"bytes */{size}"})
            status, headers["Content-Range"] = 206, f"bytes {start}-{end}/{size}"
        # Exact size and no compression: the client checks the byte count against the HEAD (G8).
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(end - start + 1)}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "GET":
            with open(self.server.hub._store.object_path(entry["sha256"]), "rb") as fh:
                fh.seek(start)
                remaining = end - start + 1
                while remaining > 0 and (chunk := fh.read(min(remaining, 1 << 20))):
                    self.wfile.write(chunk)
                    remaining -= len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: HubServer


class HubServer:
    """A local Hugging Face Hub for tests: `with HubServer(tokens={"tok": "alice"}) as hub: ...`.

    Point the client at it with `endpoint=hub.endpoint` (`HfApi`, `hf_hub_download`, `snapshot_download`), and
    set `HF_HUB_DISABLE_XET=1` before importing huggingface_hub so LFS files take the LFS batch path.
    ``tokens`` maps each token to its user; ``orgs`` maps an organisation to its members, who may create and
    write repositories in its namespace; ``max_body_bytes`` bounds every request body (413 beyond).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        tokens: Mapping[str, str] | Iterable[str] = (),
        user: str = "user",
        orgs: Mapping[str, Iterable[str]] | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="zoo-hub-") if root is None else None
        self.root = Path(self._tmp.name if self._tmp else root)  # type: ignore[arg-type]
        self.user = user
        if isinstance(tokens, str):
            tokens = [tokens]
        self._tokens: dict[str, str] = dict(tokens) if isinstance(tokens, Mapping) else dict.fromkeys(tokens, user)
        self._orgs: dict[str, frozenset[str]] = {org: frozenset(m) for org, m in (orgs or {}).items()}
        self.max_body_bytes = max_body_bytes
        self._store = _Store(self.root)
        self._tickets: dict[str, tuple[str, int]] = {}
        self._tickets_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._request_log: list[tuple[str, str]] = []
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    def _can_write(self, user: str | None, namespace: str) -> bool:
        """A namespace belongs to its user, and an organisation to its members."""
        return user is not None and (user == namespace or user in self._orgs.get(namespace, ()))

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> HubServer:
        """Serve on 127.0.0.1 in a daemon thread; a restart reuses the previous port when it is free."""
        if self._server is not None:
            return self
        try:
            server = _Server(("127.0.0.1", self._port), _Handler)
        except OSError:
            server = _Server(("127.0.0.1", 0), _Handler)
        server.hub = self
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            # A short poll keeps stop() fast (shutdown waits for the next poll).
            target=server.serve_forever,
            args=(0.05,),
            name=f"zoo-hub-{self._port}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("hub server listening on %s (root %s)", self.endpoint, self.root)
        return self

    def stop(self) -> None:
        """Stop serving; also cuts open keep-alive connections so the client really sees a dead server."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def close(self) -> None:
        """Stop and delete the storage if it is a temporary directory."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def endpoint(self) -> str:
        if not self._port:
            raise RuntimeError("HubServer is not started")
        return f"http://127.0.0.1:{self._port}"

    # -- request log --------------------------------------------------------------------------------

    def _log(self, method: str, path: str) -> None:
        with self._log_lock:
            self._request_log.append((method, path))

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """(method, raw path without query) of every request received, oldest first (a copy)."""
        with self._log_lock:
            return list(self._request_log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._request_log.clear()

    # -- server-side seeding ------------------------------------------------------------------------

    def _full_id(self, repo_id: str, repo_type: str) -> str:
        if repo_type not in _URL_PREFIX:
            raise ValueError(f"Unknown repo type {repo_type!r}; expected one of {sorted(_URL_PREFIX)}")
        return repo_id if "/" in repo_id else f"{self.user}/{repo_id}"

    def create_repo(
        self, repo_id: str, *, private: bool = False, repo_type: str = "model", exist_ok: bool = False
    ) -> str:
        """Create a repo owned by its namespace; returns its id."""
        repo_id = self._full_id(repo_id, repo_type)
        ns = repo_id.split("/")[0]
        try:
            created = self._store.create(repo_type, repo_id, ns, private, ns)
        except _HTTPError as err:
            raise ValueError(f"Invalid repo id {repo_id!r}") from err
        if not created and not exist_ok:
            raise FileExistsError(f"Repo {repo_id} already exists")
        return repo_id

    def commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        *,
        branch: str = "main",
        message: str = "Upload files",
        delete: Iterable[str] = (),
        repo_type: str = "model",
        lfs: Iterable[str] = (),
    ) -> str:
        """Commit `files` and deletions to storage, bypassing HTTP; a new `branch` forks from main.

        Paths in ``lfs`` are stored as LFS objects (their sha256 is then listed as on the Hub).
        """
        lfs_paths = set(lfs)
        try:
            ops: list[tuple[str, str, dict[str, Any] | None]] = [("del", _clean_path(p), None) for p in delete]
            ops += [
                ("add", _clean_path(p), self._store.put_object(bytes(d), lfs=p in lfs_paths))
                for p, d in files.items()
            ]
            return self._store.commit(
                repo_type, self._full_id(repo_id, repo_type), branch, ops, message, create_branch=True,
                author=self.user,
            )
        except _HTTPError as err:
            raise (LookupError if err.status == 404 else ValueError)(err.message) from err

    def __repr__(self) -> str:
        where = self.endpoint if self._server is not None else "stopped"
        return f"HubServer({where}, root={str(self.root)!r})"
