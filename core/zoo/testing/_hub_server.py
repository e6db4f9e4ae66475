"""A local, stdlib-only server for the Hugging Face Hub HTTP API subset that `huggingface_hub` uses.

It speaks enough of the Hub protocol for the real client to push (create_repo, upload_file/folder,
create_commit) and pull (model_info, list_repo_files/tree/refs, hf_hub_download, snapshot_download)
against 127.0.0.1. Every file is answered as a "regular" (inline base64) upload, so the client never
needs LFS or Xet. See /work/shared/hub-protocol.md for the protocol notes this follows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
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
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_SHA_PREFIX_RE = re.compile(r"^[0-9a-f]{7,40}$")
_INVALID_TOKEN = "Invalid credentials in Authorization header"
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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _clean_path(path: object) -> str:
    """Normalise a path inside a repo, rejecting anything that could escape it."""
    if not isinstance(path, str) or not path or "\\" in path or "\0" in path or path.startswith("/"):
        raise _HTTPError(400, f"Invalid path in repo: {path!r}")
    parts = path.split("/")
    if any(p in ("", ".", "..", ".git") for p in parts):
        raise _HTTPError(400, f"Invalid path in repo: {path!r}")
    return path


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, **headers: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def _repo_not_found(repo_id: str) -> _HTTPError:
    return _HTTPError(404, f"Repository not found: {repo_id}", "RepoNotFound")


class _Store:
    """On-disk repos: `objects/<sha256>` blobs plus one JSON document per repo."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "objects").mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def _repo_file(self, repo_type: str, repo_id: str) -> Path:
        ns, _, name = repo_id.partition("/")
        if not (_NAME_RE.match(ns) and _NAME_RE.match(name)) or ".." in repo_id:
            raise _repo_not_found(repo_id)
        return self.root / "repos" / repo_type / ns / f"{name}.json"

    def load(self, repo_type: str, repo_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._repo_file(repo_type, repo_id).read_text("utf-8"))
        except FileNotFoundError:
            return None
        return data

    def _save(self, repo_type: str, repo_id: str, repo: dict[str, Any]) -> None:
        path = self._repo_file(repo_type, repo_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(repo), "utf-8")
        os.replace(tmp, path)

    def object_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256

    def put_object(self, data: bytes) -> dict[str, Any]:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.object_path(sha256)
        if not path.exists():
            tmp = path.with_name(f".{sha256}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return {"sha256": sha256, "oid": git_blob_sha1(data), "size": len(data)}

    def create(self, repo_type: str, repo_id: str, owner: str, private: bool) -> bool:
        """Create a repo with an initial `.gitattributes` commit; False if it already exists."""
        with self.lock:
            if self.load(repo_type, repo_id) is not None:
                return False
            repo: dict[str, Any] = {
                "private": private,
                "owner": owner,
                "created": _now(),
                "refs": {},
                "commits": {},
            }
            self._commit(
                repo, "main", {".gitattributes": self.put_object(GITATTRIBUTES)}, "initial commit", None
            )
            self._save(repo_type, repo_id, repo)
            return True

    def commit(
        self,
        repo_type: str,
        repo_id: str,
        branch: str,
        ops: list[tuple[str, str, dict[str, Any] | None]],
        summary: str,
        parent: str | None = None,
        create_branch: bool = False,
    ) -> str:
        """Apply ("add"|"del"|"deldir", path, entry) ops on top of `branch`; returns the new commit sha."""
        with self.lock:
            repo = self.load(repo_type, repo_id)
            if repo is None:
                raise _repo_not_found(repo_id)
            if branch not in repo["refs"]:
                if not create_branch:
                    raise _HTTPError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
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
                        raise _HTTPError(
                            404, f"A folder with this name doesn't exist: {path}", "EntryNotFound"
                        )
                    for p in doomed:
                        del files[p]
            sha = self._commit(repo, branch, files, summary, head)
            self._save(repo_type, repo_id, repo)
            return sha

    @staticmethod
    def _commit(
        repo: dict[str, Any], branch: str, files: dict[str, Any], summary: str, parent: str | None
    ) -> str:
        tree = json.dumps(sorted((p, e["oid"]) for p, e in files.items()))
        seed = f"{parent}\n{tree}\n{summary}\n{time.time_ns()}\n{len(repo['commits'])}"
        sha = hashlib.sha1(seed.encode()).hexdigest()
        repo["commits"][sha] = {"parent": parent, "files": files, "summary": summary, "date": _now()}
        repo["refs"][branch] = sha
        return sha


def _resolve_rev(repo: dict[str, Any], rev: str) -> str | None:
    """A branch name, a full sha, or a unique sha prefix of at least 7 characters."""
    rev = rev.removeprefix("refs/heads/")
    if rev in repo["refs"]:
        return str(repo["refs"][rev])
    if _SHA_PREFIX_RE.match(rev):
        matches = [sha for sha in repo["commits"] if sha.startswith(rev)]
        if len(matches) == 1:
            return matches[0]
    return None


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

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

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
            safe = (
                err.message.encode("ascii", "backslashreplace").decode().replace("\r", " ").replace("\n", " ")
            )
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
                return self._json({"errors": [], "warnings": []})
            if rest == ["whoami-v2"] and method == "GET":
                return self._whoami()
            if rest == ["agent-harnesses"] and method == "GET":
                return self._json({"standardEnvVars": [], "harnesses": {}})
            if len(rest) >= 3 and rest[0] in _TYPES:
                repo_type, repo_id, action = _TYPES[rest[0]], f"{rest[1]}/{rest[2]}", rest[3:]
                if method == "GET" and not action:
                    return self._info(repo_type, repo_id, "main")
                if method == "GET" and len(action) == 2 and action[0] == "revision":
                    return self._info(repo_type, repo_id, action[1])
                if method == "GET" and len(action) >= 2 and action[0] == "tree":
                    return self._tree(repo_type, repo_id, action[1], "/".join(action[2:]))
                if method == "GET" and action == ["refs"]:
                    return self._refs(repo_type, repo_id)
                if method == "POST" and len(action) == 2 and action[0] == "preupload":
                    return self._preupload(repo_type, repo_id, action[1])
                if method == "POST" and len(action) == 2 and action[0] == "commit":
                    return self._commit(repo_type, repo_id, action[1])
        elif method in ("GET", "HEAD"):
            repo_type = "model"
            if segs[:1] in (["datasets"], ["spaces"], ["models"]) and len(segs) > 3 and segs[3] == "resolve":
                repo_type, segs = _TYPES[segs[0]], segs[1:]
            if len(segs) >= 5 and segs[2] == "resolve":
                return self._resolve(repo_type, f"{segs[0]}/{segs[1]}", segs[3], "/".join(segs[4:]))
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
        if write:
            self._require_user()  # anonymous writes are 401 even on private repos
        repo = self.server.hub._store.load(repo_type, repo_id)
        if repo is None or (repo["private"] and self.user != repo["owner"]):
            raise _repo_not_found(repo_id)  # private repos are invisible to others, as on the Hub
        if write and self.user != repo["owner"]:
            raise _HTTPError(403, f"You don't have the rights to write to {repo_id}")
        return repo

    def _rev(self, repo: dict[str, Any], rev: str) -> str:
        sha = _resolve_rev(repo, rev)
        if sha is None:
            raise _HTTPError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return sha

    def _json_body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise _HTTPError(400, f"Invalid JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise _HTTPError(400, "JSON body must be an object")
        return data

    # -- endpoints ----------------------------------------------------------------------------------

    def _repo_from_body(self) -> tuple[str, str]:
        body, user = self._json_body(), self._require_user()
        repo_type = body.get("type") or "model"
        if repo_type not in _URL_PREFIX or not isinstance(body.get("name"), str):
            raise _HTTPError(400, f"Invalid repo type or name: {repo_type!r} {body.get('name')!r}")
        repo_id = f"{body.get('organization') or user}/{body['name']}"  # organization null -> user (G13)
        try:
            self.server.hub._store._repo_file(repo_type, repo_id)  # validates the name
        except _HTTPError:
            raise _HTTPError(400, f"Invalid repo name: {repo_id!r}") from None
        return repo_type, repo_id

    def _create_repo(self) -> None:
        repo_type, repo_id = self._repo_from_body()
        body = self._json_body()
        private = body.get("visibility") == "private" or body.get("private") is True
        url = self._repo_url(repo_type, repo_id)
        if not self.server.hub._store.create(repo_type, repo_id, self._require_user(), private):
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

    def _whoami(self) -> None:
        user = self._require_user()
        self._json(
            {
                "type": "user",
                "id": user,
                "name": user,
                "fullname": user,
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "zoo-test", "role": "write"}},
            }
        )

    def _info(self, repo_type: str, repo_id: str, rev: str) -> None:
        repo = self._load(repo_type, repo_id)
        sha = self._rev(repo, rev)
        commit = repo["commits"][sha]
        siblings = [
            {"rfilename": p, "size": e["size"], "blobId": e["oid"]}
            for p, e in sorted(commit["files"].items())
        ]
        info = {
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
        if repo_type == "model":
            info["modelId"] = repo_id
        self._json(info)

    def _tree(self, repo_type: str, repo_id: str, rev: str, sub: str) -> None:
        repo = self._load(repo_type, repo_id)
        sha = self._rev(repo, rev)
        files: dict[str, Any] = repo["commits"][sha]["files"]
        prefix = f"{sub.strip('/')}/" if sub.strip("/") else ""
        below = {p: e for p, e in files.items() if p.startswith(prefix)}
        if prefix and not below:
            raise _HTTPError(404, f"Directory not found: {sub}", "EntryNotFound", **{"X-Repo-Commit": sha})
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        dirs: dict[str, list[str]] = {}
        for path, entry in below.items():
            parts = path[len(prefix) :].split("/")
            for i in range(1, len(parts)):
                dirs.setdefault(prefix + "/".join(parts[:i]), []).append(f"{path}:{entry['oid']}")
        items = [
            {"type": "directory", "path": d, "oid": hashlib.sha1("\n".join(sorted(v)).encode()).hexdigest()}
            for d, v in dirs.items()
        ]
        # Never an `xetHash`: it would switch the client to Xet downloads.
        items += [{"type": "file", "path": p, "size": e["size"], "oid": e["oid"]} for p, e in below.items()]
        if not recursive:
            items = [it for it in items if "/" not in it["path"][len(prefix) :]]
        items.sort(key=lambda it: (it["type"] != "directory", it["path"]))
        self._json(items)

    def _refs(self, repo_type: str, repo_id: str) -> None:
        repo = self._load(repo_type, repo_id)
        branches = [
            {"name": b, "ref": f"refs/heads/{b}", "targetCommit": sha} for b, sha in repo["refs"].items()
        ]
        refs: dict[str, Any] = {"branches": branches, "converts": [], "tags": []}
        if self.query.get("include_prs"):
            refs["pullRequests"] = []
        self._json(refs)

    def _preupload(self, repo_type: str, repo_id: str, rev: str) -> None:
        repo = self._load(repo_type, repo_id, write=True)
        files = repo["commits"][self._rev(repo, rev)]["files"]
        items = self._json_body().get("files")
        if not isinstance(items, list):
            raise _HTTPError(400, "Expected a `files` list")
        # Always "regular": the bytes then travel inline in the commit, no LFS / Xet (protocol §3.1).
        out = []
        for item in items:
            path = _clean_path(item.get("path") if isinstance(item, dict) else None)
            out.append(
                {
                    "path": path,
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": files[path]["oid"] if path in files else None,
                }
            )
        self._json({"files": out})

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
                # Only content the server already holds: there is no LFS upload endpoint.
                oid = str(value.get("oid", ""))
                obj = hub._store.object_path(oid)
                if not re.fullmatch(r"[0-9a-f]{64}", oid) or not obj.exists():
                    raise _HTTPError(422, f"LFS object {oid} was never uploaded (this server has no LFS)")
                ops.append(("add", _clean_path(value.get("path")), hub._store.put_object(obj.read_bytes())))
            elif key == "deletedFile":
                ops.append(("del", _clean_path(value.get("path")), None))
            elif key == "deletedFolder":
                ops.append(("deldir", _clean_path(str(value.get("path", "")).rstrip("/")), None))
            else:
                raise _HTTPError(400, f"Unsupported commit operation {key!r}")
        if header is None or not str(header.get("summary", "")).strip():
            raise _HTTPError(400, "Commit header with a non-empty summary is required")
        parent = header.get("parentCommit")
        sha = hub._store.commit(repo_type, repo_id, rev, ops, str(header["summary"]), parent)
        url = f"{self._repo_url(repo_type, repo_id)}/commit/{sha}"
        self._json({"success": True, "commitOid": sha, "commitUrl": url, "commitMessage": header["summary"]})

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
        status, headers = (
            200,
            {
                "Content-Type": "application/octet-stream",
                "ETag": f'"{entry["oid"]}"',
                "X-Repo-Commit": sha,
                "Accept-Ranges": "bytes",
            },
        )
        range_match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if range_match and self.command == "GET" and any(range_match.groups()):
            first, last = range_match.groups()
            start, end = (
                (int(first), int(last or size - 1)) if first else (max(size - int(last), 0), size - 1)
            )
            end = min(end, size - 1)
            if start > end:
                raise _HTTPError(
                    416, "Requested range not satisfiable", **{"Content-Range": f"bytes */{size}"}
                )
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

    Point the client at it with `endpoint=hub.endpoint` (`HfApi`, `hf_hub_download`, `snapshot_download`).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        tokens: Mapping[str, str] | Iterable[str] = (),
        user: str = "user",
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="zoo-hub-") if root is None else None
        self.root = Path(self._tmp.name if self._tmp else root)  # type: ignore[arg-type]
        self.user = user
        if isinstance(tokens, str):
            tokens = [tokens]
        self._tokens: dict[str, str] = (
            dict(tokens) if isinstance(tokens, Mapping) else dict.fromkeys(tokens, user)
        )
        self._store = _Store(self.root)
        self._log_lock = threading.Lock()
        self._request_log: list[tuple[str, str]] = []
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

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
        """Create a repo owned by its namespace if that is a token user, else by `user`; returns its id."""
        repo_id = self._full_id(repo_id, repo_type)
        ns = repo_id.split("/")[0]
        owner = ns if ns in self._tokens.values() else self.user
        try:
            created = self._store.create(repo_type, repo_id, owner, private)
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
    ) -> str:
        """Commit `files` and deletions to storage, bypassing HTTP; a new `branch` forks from main."""
        try:
            ops: list[tuple[str, str, dict[str, Any] | None]] = [
                ("del", _clean_path(p), None) for p in delete
            ]
            ops += [("add", _clean_path(p), self._store.put_object(bytes(d))) for p, d in files.items()]
            return self._store.commit(
                repo_type, self._full_id(repo_id, repo_type), branch, ops, message, create_branch=True
            )
        except _HTTPError as err:
            raise (LookupError if err.status == 404 else ValueError)(err.message) from err

    def __repr__(self) -> str:
        where = self.endpoint if self._server is not None else "stopped"
        return f"HubServer({where}, root={str(self.root)!r})"
