"""Storage of the test Hub: content-addressed objects, one JSON document per repository, and the server's state.

``objects/<sha256>`` holds file contents; ``repos/<type>/<ns>/<name>.json`` holds a repository: its owner and
visibility, its branches and tags, and every commit (its parent and the tree it records, ``{path: entry}``). Writes
are atomic (a temporary file renamed into place) and serialised by one lock; reads take none.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# The Hub's rule: letters, digits, '-', '_', '.'; no '--' or '..'; '-' and '.' neither start nor end it; 96 max.
_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
SHA_PREFIX_RE = re.compile(r"[0-9a-f]{7,40}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
_REF_RE = re.compile(r"[A-Za-z0-9._/-]{1,200}")
LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub stores files of 10 MB or more through LFS
DEFAULT_MAX_BODY = 256 * 1024 * 1024
MAX_YAML_BYTES = 256 * 1024  # a model card's front matter is a few KB; larger is refused, not parsed
# The Hub's default .gitattributes: the client never asks for it, but real repos have it from their first commit.
_LFS_PATTERNS = (
    "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.mlmodel *.model *.msgpack *.npy *.npz"
    " *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors saved_model/**/* *.tar.* *.tar"
    " *.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents*"
).split()
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in _LFS_PATTERNS).encode()


class HTTPError(Exception):
    """An answer other than success: status, message (JSON body and ``X-Error-Message``), ``X-Error-Code``."""

    def __init__(self, status: int, message: str, code: str | None = None, **headers: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def repo_not_found(repo_id: str) -> HTTPError:
    return HTTPError(404, f"Repository not found: {repo_id}", "RepoNotFound")


def rev_not_found(rev: str) -> HTTPError:
    return HTTPError(404, f"Invalid rev id: {rev}", "RevisionNotFound")


def git_blob_sha1(data: bytes) -> str:
    """The git blob id the client compares against (preupload `oid`, tree `oid`, ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def valid_repo_name(name: object) -> bool:
    """True when ``name`` is a repository or namespace name the Hub accepts."""
    return (isinstance(name, str) and _NAME_RE.fullmatch(name) is not None and "--" not in name
            and ".." not in name and not name.endswith(".git"))


def valid_ref_name(name: object) -> bool:
    """A branch or tag name as git allows it (the subset the Hub accepts)."""
    if not isinstance(name, str) or not _REF_RE.fullmatch(name):
        return False
    parts = name.split("/")
    return not (any(p in ("", ".", "..") or p.startswith(".") or p.endswith(".lock") for p in parts)
                or ".." in name or name.endswith(".") or name.startswith("refs/")
                or re.fullmatch(r"[0-9a-f]{40}", name))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def clean_path(path: object) -> str:
    """A path inside a repo, refusing anything that could escape it."""
    if not isinstance(path, str) or not path or "\\" in path or "\0" in path or path.startswith("/"):
        raise HTTPError(400, f"Invalid path in repo: {path!r}")
    if any(p in ("", ".", "..", ".git") for p in path.split("/")) or any(ord(c) < 32 for c in path):
        raise HTTPError(400, f"Invalid path in repo: {path!r}")
    return path


def is_lfs(path: str, size: int, sample: bytes) -> bool:
    """The real Hub's choice: .gitattributes LFS patterns, 10 MB or more, or binary content."""
    if size <= 0:
        return False  # the client forces empty files to "regular" anyway
    name = path.rsplit("/", 1)[-1]
    if any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(path, p) for p in _LFS_PATTERNS):
        return True
    return size >= LFS_THRESHOLD or b"\0" in sample


def parse_front_matter(text: str) -> dict[str, Any] | None:
    """A README's YAML front matter as JSON data (the Hub's ``cardData``); None when there is none.

    Raises ValueError when it is too large or is not one YAML mapping.
    """
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if end is None:
        return None
    block = "\n".join(lines[1:end])
    if len(block.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise ValueError(f"the front matter is larger than {MAX_YAML_BYTES} bytes")
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        raise ValueError(" ".join(str(exc).split())) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("the front matter is not one YAML mapping")
    # JSON, as the Hub answers it: dates and other YAML-only types become strings.
    return dict(json.loads(json.dumps(data, default=str)))


class Store:
    """On-disk repos: ``objects/<sha256>`` blobs plus one JSON document per repo."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "objects").mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def repo_file(self, repo_type: str, repo_id: str) -> Path:
        ns, _, name = repo_id.partition("/")
        if not (valid_repo_name(ns) and valid_repo_name(name)):
            raise repo_not_found(repo_id)
        return self.root / "repos" / repo_type / ns / f"{name}.json"

    def load(self, repo_type: str, repo_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.repo_file(repo_type, repo_id).read_text("utf-8"))
        except FileNotFoundError:
            return None
        data.setdefault("tags", {})
        data.setdefault("uploads", [])
        return data

    def save(self, repo_type: str, repo_id: str, repo: dict[str, Any]) -> None:
        path = self.repo_file(repo_type, repo_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(repo), "utf-8")
        os.replace(tmp, path)

    def delete(self, repo_type: str, repo_id: str) -> None:
        self.repo_file(repo_type, repo_id).unlink()

    def put_xorb(self, xorb_hash: str, data: bytes) -> bool:
        """Store a Xet xorb under its hash; False when it was stored already."""
        path = self.root / "xorbs" / xorb_hash
        if path.exists():
            return False
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{xorb_hash}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return True

    def xorbs(self, hashes: Iterable[str]) -> dict[str, bytes]:
        """The stored xorbs among ``hashes`` (those never uploaded are left out)."""
        found = {h: self.root / "xorbs" / h for h in set(hashes) if SHA256_RE.fullmatch(h)}
        return {h: path.read_bytes() for h, path in found.items() if path.is_file()}

    def object_path(self, sha256: str) -> Path:
        if not SHA256_RE.fullmatch(sha256):
            raise HTTPError(400, f"Invalid object id {sha256!r}")
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
        if data is None:
            raise ValueError("a regular file's entry needs its content")
        return {"sha256": sha256, "oid": git_blob_sha1(data), "size": size}

    @staticmethod
    def holds(repo: dict[str, Any], sha256: str) -> bool:
        """Whether ``repo`` may reference the object: one of its commits does, or it was uploaded to it.

        An object another repository stored is not enough: knowing a sha256 must not give access to its content.
        """
        return sha256 in repo["uploads"] or any(
            e["sha256"] == sha256 for commit in repo["commits"].values() for e in commit["files"].values())

    def record_upload(self, repo_type: str, repo_id: str, sha256: str) -> None:
        with self.lock:
            repo = self.load(repo_type, repo_id)
            if repo is not None and sha256 not in repo["uploads"]:
                repo["uploads"].append(sha256)
                self.save(repo_type, repo_id, repo)

    def create(self, repo_type: str, repo_id: str, owner: str, private: bool, author: str) -> bool:
        """Create a repo with an initial `.gitattributes` commit; False if it already exists."""
        with self.lock:
            if self.load(repo_type, repo_id) is not None:
                return False
            repo: dict[str, Any] = {"private": private, "owner": owner, "created": now(), "refs": {}, "tags": {},
                                    "commits": {}, "uploads": []}
            self._commit(repo, "main", {".gitattributes": self.put_object(GITATTRIBUTES)}, "initial commit", "",
                         None, author)
            self.save(repo_type, repo_id, repo)
            return True

    def commit(self, repo_type: str, repo_id: str, branch: str, ops: list[tuple[str, str, dict[str, Any] | None]],
               summary: str, *, description: str = "", parent: str | None = None, create_branch: bool = False,
               author: str = "") -> str:
        """Apply ("add"|"del"|"deldir", path, entry) ops on top of `branch`; returns the new commit sha."""
        with self.lock:
            repo = self.load(repo_type, repo_id)
            if repo is None:
                raise repo_not_found(repo_id)
            if branch not in repo["refs"]:
                if not create_branch:
                    raise rev_not_found(branch)
                repo["refs"][branch] = repo["refs"]["main"]
            head = repo["refs"][branch]
            if parent is not None and not head.startswith(str(parent).lower()):
                raise HTTPError(412, f"Parent commit {parent} is not the head of {branch} ({head})")
            files = dict(repo["commits"][head]["files"])
            for kind, path, entry in ops:
                if kind == "add":
                    files[path] = entry
                elif kind == "del":
                    if files.pop(path, None) is None:
                        raise HTTPError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                else:
                    doomed = [p for p in files if p.startswith(path + "/")]
                    if not doomed:
                        raise HTTPError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
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
                                "author": author, "date": now()}
        repo["refs"][branch] = sha
        return sha


def resolve_rev(repo: dict[str, Any], rev: str) -> str | None:
    """A branch or tag name (optionally as refs/heads/x, refs/tags/x), a full sha or a unique sha prefix (7+)."""
    if rev.startswith("refs/heads/"):
        return repo["refs"].get(rev.removeprefix("refs/heads/"))
    if rev.startswith("refs/tags/"):
        return repo["tags"].get(rev.removeprefix("refs/tags/"))
    if rev in repo["refs"]:
        return str(repo["refs"][rev])
    if rev in repo["tags"]:
        return str(repo["tags"][rev])
    if SHA_PREFIX_RE.fullmatch(rev):
        matches = [sha for sha in repo["commits"] if sha.startswith(rev)]
        if len(matches) == 1:
            return matches[0]
    return None


@dataclass
class HubState:
    """What the request handlers share: storage, who is who, and the one-time LFS upload tickets."""

    store: Store
    tokens: dict[str, str]
    orgs: dict[str, frozenset[str]]
    max_body_bytes: int
    tickets: dict[str, tuple[str, int, str, str]] = field(default_factory=dict)  # -> (oid, size, type, repo id)
    tickets_lock: threading.Lock = field(default_factory=threading.Lock)
    xet_tokens: dict[str, tuple[str, str, str, float]] = field(default_factory=dict)  # -> (kind, type, id, expiry)
    # The content store's path: new for each server, because the Xet client caches what it uploaded to a store by
    # its URL, and would not upload again to a new server on a port it has seen before.
    cas_id: str = field(default_factory=lambda: secrets.token_hex(8))

    @classmethod
    def build(cls, root: Path, tokens: Mapping[str, str] | Iterable[str], user: str,
              orgs: Mapping[str, Iterable[str]] | None, max_body_bytes: int) -> HubState:
        if isinstance(tokens, str):
            tokens = [tokens]
        users = dict(tokens) if isinstance(tokens, Mapping) else dict.fromkeys(tokens, user)
        return cls(Store(root), users, {org: frozenset(m) for org, m in (orgs or {}).items()}, max_body_bytes)

    def can_write(self, user: str | None, namespace: str) -> bool:
        """A namespace belongs to its user, and an organisation to its members."""
        return user is not None and (user == namespace or user in self.orgs.get(namespace, ()))


__all__ = ["HTTPError", "HubState", "Store", "clean_path", "git_blob_sha1", "parse_front_matter", "resolve_rev"]
