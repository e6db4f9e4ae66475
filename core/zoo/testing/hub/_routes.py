"""The test Hub's HTTP API: one ``(method, pattern, handler)`` row per endpoint, one function per handler.

Paths are matched before they are unquoted (a revision like ``refs%2Fpr%2F1`` is one segment); the captured parts
are unquoted and passed to the handler by name. ``{t}`` is ``models``, ``datasets`` or ``spaces``; ``{prefix}`` is
empty, ``datasets/`` or ``spaces/``. What each row must send and accept is what the installed huggingface_hub
client reads and sends (``hf_api.py``, ``_commit_api.py``, ``lfs.py``, ``file_download.py``); the Xet rows are
explained in ``_xet``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from zoo.testing.hub._store import (
    SHA256_RE,
    TYPES,
    URL_PREFIX,
    HTTPError,
    HubState,
    clean_path,
    is_lfs,
    parse_front_matter,
    repo_not_found,
    resolve_rev,
    rev_not_found,
    valid_ref_name,
    valid_repo_name,
)
from zoo.testing.hub._xet import XetFormatError, parse_shard, rebuild

MAX_README_BYTES = 1_000_000  # cardData is read from READMEs up to this size, as the Hub does
XET_TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class FilePart:
    """``length`` bytes of the file at ``path`` from ``start``: a download's body, streamed by the server."""

    path: Path
    start: int
    length: int


@dataclass
class Request:
    """One request, read whole before any answer; handlers answer through :meth:`json` / :meth:`send`."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message  # the request's headers, as http.server parses them
    body: bytes
    user: str | None
    state: HubState
    reply: Callable[[int, bytes, Mapping[str, str], FilePart | None], None]
    host: str

    def send(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None,
             file: FilePart | None = None) -> None:
        self.reply(status, body, {"Content-Type": "application/json", **(headers or {})}, file)

    def json(self, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.send(status, json.dumps(obj).encode(), headers)

    def json_body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise HTTPError(400, f"Invalid JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise HTTPError(400, "JSON body must be an object")
        return data

    def require_user(self) -> str:
        if self.user is None:
            raise HTTPError(401, "Authorization header is required for this operation")
        return self.user

    @property
    def base_url(self) -> str:
        # URLs handed back are parsed by the client's RepoUrl and must name the host it called.
        return f"http://{self.host}"

    def repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.base_url}/{URL_PREFIX[repo_type]}{repo_id}"

    def load(self, repo_type: str, repo_id: str, *, write: bool = False) -> dict[str, Any]:
        """The repository, if this user may see it (and, with ``write``, write to it)."""
        if write:
            self.require_user()  # anonymous writes are 401 even on private repos
        repo = self.state.store.load(repo_type, repo_id)
        if repo is None or (repo["private"] and not self.state.can_write(self.user, repo["owner"])):
            raise repo_not_found(repo_id)  # private repos are invisible to others, as on the Hub
        if write and not self.state.can_write(self.user, repo["owner"]):
            raise HTTPError(403, f"You don't have the rights to write to {repo_id}")
        return repo


def _rev(repo: dict[str, Any], rev: str) -> str:
    sha = resolve_rev(repo, rev)
    if sha is None:
        raise rev_not_found(rev)
    return sha


# -- repositories ------------------------------------------------------------------------------------------------


def _repo_from_body(req: Request) -> tuple[str, str]:
    body, user = req.json_body(), req.require_user()
    repo_type = body.get("type") or "model"
    name, namespace = body.get("name"), body.get("organization") or user  # organization null: the user's own
    if repo_type not in URL_PREFIX:
        raise HTTPError(400, f"Invalid repo type: {repo_type!r}")
    if not (valid_repo_name(name) and valid_repo_name(namespace)):
        raise HTTPError(400, f"Invalid repo name {namespace!r}/{name!r}: use letters, digits, '-', '_' and '.'; no "
                             "'--' or '..'; '-' and '.' cannot start or end it; at most 96 characters")
    repo_id = f"{namespace}/{name}"
    existing = req.state.store.load(repo_type, repo_id)
    visible = existing is not None and (not existing["private"] or req.state.can_write(user, existing["owner"]))
    if not req.state.can_write(user, str(namespace)) and not (visible and req.method == "POST"):
        # A public repo that exists answers 409 (the client's exist_ok reads it); anything else is 403.
        raise HTTPError(403, f"You don't have the rights to create a {repo_type} under the namespace {namespace!r}")
    return repo_type, repo_id


def create_repo(req: Request) -> None:
    repo_type, repo_id = _repo_from_body(req)
    body = req.json_body()
    private = body.get("visibility") == "private" or body.get("private") is True
    url = req.repo_url(repo_type, repo_id)
    if not req.state.store.create(repo_type, repo_id, repo_id.split("/")[0], private, req.require_user()):
        return req.json({"error": "You already created this repo", "url": url}, 409)  # exist_ok reads the url
    req.json({"url": url, "name": repo_id, "id": repo_id})


def delete_repo(req: Request) -> None:
    repo_type, repo_id = _repo_from_body(req)
    with req.state.store.lock:
        req.load(repo_type, repo_id, write=True)
        req.state.store.delete(repo_type, repo_id)
    req.json({})


def validate_yaml(req: Request) -> None:
    content = req.json_body().get("content")
    try:
        parse_front_matter(content if isinstance(content, str) else "")
    except ValueError as exc:
        return req.json({"errors": [{"message": f"Invalid YAML metadata: {exc}"}], "warnings": []}, 400)
    req.json({"errors": [], "warnings": []})


def whoami(req: Request) -> None:
    user = req.require_user()
    orgs = [{"type": "org", "name": org} for org, members in req.state.orgs.items() if user in members]
    req.json({"type": "user", "id": user, "name": user, "fullname": user, "orgs": orgs,
              "auth": {"type": "access_token", "accessToken": {"displayName": "zoo-test", "role": "write"}}})


def agent_harnesses(req: Request) -> None:
    req.json({"standardEnvVars": [], "harnesses": {}})


def _card_data(req: Request, commit: dict[str, Any]) -> dict[str, Any] | None:
    entry = commit["files"].get("README.md")
    if entry is None or entry["size"] > MAX_README_BYTES:
        return None
    text = req.state.store.object_path(entry["sha256"]).read_text("utf-8", errors="replace")
    try:
        return parse_front_matter(text)
    except ValueError:
        return None


def repo_info(req: Request, t: str, repo: str, rev: str = "main") -> None:
    repo_type, repo_id = TYPES[t], repo
    data = req.load(repo_type, repo_id)
    sha = _rev(data, rev)
    commit = data["commits"][sha]
    siblings = []
    for p, e in sorted(commit["files"].items()):
        sibling: dict[str, Any] = {"rfilename": p, "size": e["size"], "blobId": e["oid"]}
        if e.get("lfs"):
            sibling["lfs"] = {"sha256": e["sha256"], "size": e["size"], "pointerSize": e["pointerSize"]}
        siblings.append(sibling)
    info: dict[str, Any] = {
        "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24], "id": repo_id, "author": repo_id.split("/")[0],
        "sha": sha, "private": data["private"], "gated": False, "disabled": False, "downloads": 0, "likes": 0,
        "tags": [], "createdAt": data["created"], "lastModified": commit["date"], "siblings": siblings,
        "usedStorage": sum(e["size"] for e in commit["files"].values()),
    }
    card = _card_data(req, commit)
    if card is not None:
        # As the Hub does: cardData is the front matter; tags gather the card's tags and its facets.
        info["cardData"] = card
        tags = [t for t in card.get("tags") or [] if isinstance(t, str)]
        for key, prefix in (("library_name", ""), ("license", "license:"), ("datasets", "dataset:")):
            values = card.get(key)
            tags += [prefix + v for v in (values if isinstance(values, list) else [values]) if isinstance(v, str)]
        info["tags"] = list(dict.fromkeys(tags))
        for key in ("library_name", "pipeline_tag"):
            if isinstance(card.get(key), str):
                info[key] = card[key]
    if repo_type == "model":
        info["modelId"] = repo_id
    req.json(info)


def _tree_item(path: str, entry: dict[str, Any]) -> dict[str, Any]:
    # Never an `xetHash`: it would switch the client to Xet downloads.
    item: dict[str, Any] = {"type": "file", "path": path, "size": entry["size"], "oid": entry["oid"]}
    if entry.get("lfs"):
        item["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": entry["pointerSize"]}
    return item


def _directories(files: dict[str, Any], prefix: str = "") -> dict[str, str]:
    dirs: dict[str, list[str]] = {}
    for path, entry in files.items():
        if path.startswith(prefix):
            parts = path[len(prefix):].split("/")
            for i in range(1, len(parts)):
                dirs.setdefault(prefix + "/".join(parts[:i]), []).append(f"{path}:{entry['oid']}")
    return {d: hashlib.sha1("\n".join(sorted(v)).encode()).hexdigest() for d, v in dirs.items()}


def tree(req: Request, t: str, repo: str, rev: str, path: str | None = None) -> None:
    data = req.load(TYPES[t], repo)
    sha = _rev(data, rev)
    files: dict[str, Any] = data["commits"][sha]["files"]
    sub = (path or "").strip("/")
    prefix = f"{sub}/" if sub else ""
    below = {p: e for p, e in files.items() if p.startswith(prefix)}
    if prefix and not below:
        raise HTTPError(404, f"Directory not found: {sub}", "EntryNotFound", **{"X-Repo-Commit": sha})
    items = [{"type": "directory", "path": d, "oid": oid} for d, oid in _directories(below, prefix).items()]
    items += [_tree_item(p, e) for p, e in below.items()]
    if req.query.get("recursive", "").lower() not in ("1", "true"):
        items = [it for it in items if "/" not in it["path"][len(prefix):]]
    items.sort(key=lambda it: (it["type"] != "directory", it["path"]))
    req.json(items)


def paths_info(req: Request, t: str, repo: str, rev: str) -> None:
    data = req.load(TYPES[t], repo)
    files: dict[str, Any] = data["commits"][_rev(data, rev)]["files"]
    if req.headers.get("Content-Type", "").startswith("application/json"):
        paths = req.json_body().get("paths", [])
    else:
        paths = parse_qs(req.body.decode("utf-8", errors="replace")).get("paths", [])
    dirs = _directories(files)
    items: list[dict[str, Any]] = []
    for path in paths if isinstance(paths, list) else []:
        path = str(path).strip("/")
        if path in files:
            items.append(_tree_item(path, files[path]))
        elif path in dirs:
            items.append({"type": "directory", "path": path, "oid": dirs[path]})
    req.json(items)  # paths that do not exist are left out, as on the Hub


def refs(req: Request, t: str, repo: str) -> None:
    data = req.load(TYPES[t], repo)
    branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": sha} for b, sha in data["refs"].items()]
    tags = [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": sha} for n, sha in data["tags"].items()]
    answer: dict[str, Any] = {"branches": branches, "converts": [], "tags": tags}
    if req.query.get("include_prs"):
        answer["pullRequests"] = []
    req.json(answer)


def commits(req: Request, t: str, repo: str, rev: str) -> None:
    data = req.load(TYPES[t], repo)
    sha: str | None = _rev(data, rev)
    items = []
    while sha is not None:
        commit = data["commits"][sha]
        items.append({"id": sha, "authors": [{"user": commit.get("author") or data["owner"]}], "date": commit["date"],
                      "title": commit["summary"], "message": commit.get("description", "")})
        sha = commit["parent"]
    req.json(items)


def create_branch(req: Request, t: str, repo: str, branch: str) -> None:
    _branch(req, TYPES[t], repo, branch)


def delete_branch(req: Request, t: str, repo: str, branch: str) -> None:
    _branch(req, TYPES[t], repo, branch)


def _branch(req: Request, repo_type: str, repo_id: str, branch: str) -> None:
    store = req.state.store
    if not valid_ref_name(branch):
        raise HTTPError(400, f"Invalid branch name {branch!r}")
    with store.lock:
        data = req.load(repo_type, repo_id, write=True)
        if req.method == "DELETE":
            if branch == "main":
                raise HTTPError(403, "You cannot delete the default branch")
            if data["refs"].pop(branch, None) is None:
                raise rev_not_found(branch)
        else:
            if branch in data["refs"] or branch in data["tags"]:
                raise HTTPError(409, f"Reference {branch} already exists")
            start = req.json_body().get("startingPoint")
            data["refs"][branch] = _rev(data, str(start)) if start else data["refs"]["main"]
        store.save(repo_type, repo_id, data)
    req.json({})


def create_tag(req: Request, t: str, repo: str, rev: str) -> None:
    """``POST .../tag/{revision}`` with ``{"tag": name}``."""
    store = req.state.store
    with store.lock:
        data = req.load(TYPES[t], repo, write=True)
        tag = req.json_body().get("tag")
        if not valid_ref_name(tag):
            raise HTTPError(400, f"Invalid tag name {tag!r}")
        if tag in data["tags"] or tag in data["refs"]:
            raise HTTPError(409, f"Tag {tag} already exists")
        data["tags"][str(tag)] = _rev(data, rev)
        store.save(TYPES[t], repo, data)
    req.json({})


def delete_tag(req: Request, t: str, repo: str, rev: str) -> None:
    store = req.state.store
    with store.lock:
        data = req.load(TYPES[t], repo, write=True)
        if data["tags"].pop(rev, None) is None:
            raise rev_not_found(rev)
        store.save(TYPES[t], repo, data)
    req.json({})


# -- uploads -----------------------------------------------------------------------------------------------------


def preupload(req: Request, t: str, repo: str, rev: str) -> None:
    """Each file's upload mode, decided as the Hub does (see :func:`is_lfs`), and its current oid."""
    data = req.load(TYPES[t], repo, write=True)
    files = data["commits"][_rev(data, rev)]["files"]
    items = req.json_body().get("files")
    if not isinstance(items, list):
        raise HTTPError(400, "Expected a `files` list")
    out = []
    for item in items:
        path = clean_path(item.get("path") if isinstance(item, dict) else None)
        size = item.get("size")
        try:
            sample = base64.b64decode(str(item.get("sample", "")), validate=True)
        except ValueError:
            raise HTTPError(400, f"Invalid base64 sample for {path!r}") from None
        lfs = is_lfs(path, size if isinstance(size, int) else 0, sample)
        current = files.get(path)
        # The client drops unchanged files by comparing this oid: git sha1 for regular, sha256 for lfs.
        oid = None if current is None else current["sha256"] if lfs else current["oid"]
        if current is not None and not lfs and current.get("lfs"):
            oid = None  # was stored through LFS: its regular git id is unknown here, so re-upload
        out.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
    req.json({"files": out})


def xet_token(req: Request, t: str, repo: str, kind: str, rev: str) -> None:
    """A short-lived token for this test Hub's Xet content store (see ``_xet``), as the Hub hands out."""
    data = req.load(TYPES[t], repo, write=kind == "write")
    _rev(data, rev)
    token, expiry = secrets.token_hex(16), time.time() + XET_TOKEN_SECONDS
    with req.state.tickets_lock:
        req.state.xet_tokens[token] = (kind, TYPES[t], repo, expiry)
    cas = f"{req.base_url}/cas/{req.state.cas_id}"
    req.json({"casUrl": cas, "accessToken": token, "exp": int(expiry)},
             headers={"X-Xet-Cas-Url": cas, "X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(int(expiry))})


def _xet_writer(req: Request, cas: str) -> tuple[str, str]:
    """The repository a Xet write token was issued for."""
    if cas != req.state.cas_id:
        raise HTTPError(404, "No such content store")
    auth = req.headers.get("Authorization") or ""
    with req.state.tickets_lock:
        grant = req.state.xet_tokens.get(auth[7:]) if auth[:7].lower() == "bearer " else None
    if grant is None or grant[0] != "write" or grant[3] < time.time():
        raise HTTPError(401, "Invalid or expired Xet write token")
    return grant[1], grant[2]


def cas_xorb(req: Request, cas: str, prefix: str, xorb_hash: str) -> None:
    """``POST /cas/{id}/v1/xorbs/{prefix}/{hash}``: store a xorb (checked when a shard uses it)."""
    _xet_writer(req, cas)
    req.json({"was_inserted": req.state.store.put_xorb(xorb_hash, req.body)})


def cas_shard(req: Request, cas: str) -> None:
    """``POST /cas/{id}/v1/shards``: rebuild each file the shard describes and store it for the token's repo."""
    repo_type, repo_id = _xet_writer(req, cas)
    store = req.state.store
    try:
        files = parse_shard(req.body)
        xorbs = store.xorbs(s.xorb for segments in files for s in segments)
        contents = [rebuild(segments, xorbs) for segments in files]
    except XetFormatError as exc:
        raise HTTPError(400, f"Invalid shard: {exc}") from None
    if sum(len(c) for c in contents) > req.state.max_body_bytes:
        raise HTTPError(413, "The files of this shard are too large for this test Hub")
    for content in contents:
        entry = store.put_object(content, lfs=True)
        store.record_upload(repo_type, repo_id, entry["sha256"])
    req.json({"result": 1})


def lfs_batch(req: Request, repo: str, prefix: str | None = None) -> None:
    """``POST /{prefix}{repo}.git/info/lfs/objects/batch``: an upload URL for each object the repo does not hold."""
    state, repo_type = req.state, TYPES.get((prefix or "models/").rstrip("/"), "model")
    data = req.load(repo_type, repo, write=True)
    body = req.json_body()
    if body.get("operation") != "upload":
        raise HTTPError(400, "Only the upload operation is supported")
    objects = body.get("objects")
    if not isinstance(objects, list):
        raise HTTPError(400, "Expected an `objects` list")
    out: list[dict[str, Any]] = []
    for obj in objects:
        oid, size = (obj.get("oid"), obj.get("size")) if isinstance(obj, dict) else (None, None)
        if not (isinstance(oid, str) and SHA256_RE.fullmatch(oid) and isinstance(size, int) and size >= 0):
            out.append({"oid": str(oid), "size": 0, "error": {"code": 422, "message": "Invalid oid or size"}})
        elif size > state.max_body_bytes:
            out.append({"oid": oid, "size": size, "error": {"code": 413, "message": "Object too large"}})
        elif state.store.holds(data, oid) and state.store.object_path(oid).exists():
            out.append({"oid": oid, "size": size})  # no actions: this repository holds it already
        else:  # stored for another repository or not at all: the client proves it has the bytes by sending them
            ticket = secrets.token_hex(16)
            with state.tickets_lock:
                state.tickets[ticket] = (oid, size, repo_type, repo)
            out.append({"oid": oid, "size": size, "authenticated": True, "actions": {
                "upload": {"href": f"{req.base_url}/api/lfs-upload/{ticket}", "expires_in": 3600},
                "verify": {"href": f"{req.repo_url(repo_type, repo)}.git/info/lfs/objects/verify"},
            }})
    req.json({"transfer": "basic", "objects": out, "hash_algo": "sha256"},
             headers={"Content-Type": "application/vnd.git-lfs+json"})


def lfs_upload(req: Request, ticket: str) -> None:
    """The upload URL the batch call handed out (pre-signed, as S3's: the client sends no token here)."""
    with req.state.tickets_lock:
        expected = req.state.tickets.pop(ticket, None)
    if expected is None:
        raise HTTPError(403, "Unknown or used upload URL")
    oid, size, repo_type, repo_id = expected
    if len(req.body) != size or hashlib.sha256(req.body).hexdigest() != oid:
        raise HTTPError(400, f"Uploaded content does not match oid {oid} and size {size}")
    req.state.store.put_object(req.body, lfs=True)
    req.state.store.record_upload(repo_type, repo_id, oid)
    req.send(200)


def lfs_verify(req: Request, repo: str, prefix: str | None = None) -> None:
    data = req.load(TYPES.get((prefix or "models/").rstrip("/"), "model"), repo, write=True)
    body = req.json_body()
    oid, size = str(body.get("oid", "")), body.get("size")
    path = req.state.store.object_path(oid) if SHA256_RE.fullmatch(oid) else None
    if path is None or not path.exists() or path.stat().st_size != size or not req.state.store.holds(data, oid):
        raise HTTPError(404, f"LFS object {oid} of size {size} is not stored")
    req.json({})


def _commit_op(req: Request, data: dict[str, Any], key: object, value: dict[str, Any]
               ) -> tuple[str, str, dict[str, Any] | None]:
    store = req.state.store
    if key == "file":
        if value.get("encoding", "base64") != "base64":
            raise HTTPError(400, f"Unsupported encoding {value.get('encoding')!r}")
        try:
            content = base64.b64decode(value.get("content", ""), validate=True)
        except ValueError:
            raise HTTPError(400, f"Invalid base64 content for {value.get('path')!r}") from None
        return "add", clean_path(value.get("path")), store.put_object(content)
    if key == "lfsFile":
        oid, size = str(value.get("oid", "")), value.get("size")
        if value.get("algo", "sha256") != "sha256" or not SHA256_RE.fullmatch(oid):
            raise HTTPError(400, f"Invalid LFS object id {oid!r}")
        obj = store.object_path(oid)
        if not obj.exists() or obj.stat().st_size != size or not store.holds(data, oid):
            raise HTTPError(422, f"LFS object {oid} of size {size} was never uploaded to this repository")
        return "add", clean_path(value.get("path")), store.entry(oid, int(size), lfs=True)
    if key == "deletedFile":
        return "del", clean_path(value.get("path")), None
    if key == "deletedFolder":
        return "deldir", clean_path(str(value.get("path", "")).rstrip("/")), None
    raise HTTPError(400, f"Unsupported commit operation {key!r}")


def commit(req: Request, t: str, repo: str, rev: str) -> None:
    """``POST .../commit/{rev}``: NDJSON lines, a ``header`` then ``file`` / ``lfsFile`` / ``deleted*`` ones."""
    repo_type = TYPES[t]
    data = req.load(repo_type, repo, write=True)
    if req.query.get("create_pr"):
        raise HTTPError(400, "Pull requests are not supported by the zoo test Hub server")
    rev = rev.removeprefix("refs/heads/")
    if rev not in data["refs"]:
        _rev(data, rev)  # 404 RevisionNotFound when unknown
        raise HTTPError(400, f"Commits must target a branch, not {rev}")
    try:
        lines = [json.loads(line) for line in req.body.splitlines() if line.strip()]
    except ValueError as exc:
        raise HTTPError(400, f"Invalid NDJSON body: {exc}") from None
    header: dict[str, Any] | None = None
    ops: list[tuple[str, str, dict[str, Any] | None]] = []
    for line in lines:
        key, value = (line.get("key"), line.get("value")) if isinstance(line, dict) else (None, None)
        if not isinstance(value, dict):
            raise HTTPError(400, f"Invalid commit line: {line!r}")
        if key == "header":
            header = value
        else:
            ops.append(_commit_op(req, data, key, value))
    if header is None or not str(header.get("summary", "")).strip():
        raise HTTPError(400, "Commit header with a non-empty summary is required")
    sha = req.state.store.commit(repo_type, repo, rev, ops, str(header["summary"]),
                                 description=str(header.get("description") or ""),
                                 parent=header.get("parentCommit"), author=req.require_user())
    req.json({"success": True, "commitOid": sha, "commitUrl": f"{req.repo_url(repo_type, repo)}/commit/{sha}",
              "commitMessage": header["summary"]})


# -- downloads ---------------------------------------------------------------------------------------------------


def resolve(req: Request, repo: str, rev: str, path: str, prefix: str | None = None) -> None:
    """``HEAD``/``GET /{prefix}{repo}/resolve/{rev}/{path}``: a branch's ``HEAD`` is pinned to its commit by a 307,
    so the client's ``GET`` reads the commit its ``HEAD`` saw; sizes are exact and bodies never compressed."""
    repo_type = TYPES.get((prefix or "models/").rstrip("/"), "model")
    data = req.load(repo_type, repo)
    sha = _rev(data, rev)
    entry = data["commits"][sha]["files"].get(path)
    if entry is None:
        raise HTTPError(404, f"Entry not found: {path}", "EntryNotFound", **{"X-Repo-Commit": sha})
    if sha != rev and req.method == "HEAD":
        location = f"/{URL_PREFIX[repo_type]}{repo}/resolve/{sha}/{quote(path)}"
        return req.send(307, headers={"Location": location, "X-Repo-Commit": sha})
    size, start, end = entry["size"], 0, entry["size"] - 1
    headers = {"Content-Type": "application/octet-stream", "ETag": f'"{entry["oid"]}"', "X-Repo-Commit": sha,
               "Accept-Ranges": "bytes"}
    if entry.get("lfs"):  # as the Hub: the content's sha256 and size, beside the pointer's ETag
        headers["X-Linked-Etag"] = f'"{entry["sha256"]}"'
        headers["X-Linked-Size"] = str(size)
    status = 200
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", req.headers.get("Range", "").strip())
    if match and req.method == "GET" and any(match.groups()):
        first, last = match.groups()
        start, end = (int(first), int(last or size - 1)) if first else (max(size - int(last), 0), size - 1)
        end = min(end, size - 1)
        if start > end:
            raise HTTPError(416, "Requested range not satisfiable", **{"Content-Range": f"bytes */{size}"})
        status, headers["Content-Range"] = 206, f"bytes {start}-{end}/{size}"
    part = FilePart(req.state.store.object_path(entry["sha256"]), start, end - start + 1)
    req.send(status, headers={**headers, "Content-Length": str(part.length)}, file=part)


# -- the table ---------------------------------------------------------------------------------------------------

_T = r"(?P<t>models|datasets|spaces)"
_REPO = r"(?P<repo>[^/]+/[^/]+)"
_REV = r"(?P<rev>[^/]+)"
_PREFIX = r"(?P<prefix>(?:models|datasets|spaces)/)?"

Handler = Callable[..., None]
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", r"/api/agent-harnesses", agent_harnesses),
    ("GET", r"/api/whoami-v2", whoami),
    ("POST", r"/api/repos/create", create_repo),
    ("DELETE", r"/api/repos/delete", delete_repo),
    ("POST", r"/api/validate-yaml", validate_yaml),
    ("PUT", r"/api/lfs-upload/(?P<ticket>[^/]+)", lfs_upload),
    ("GET", rf"/api/{_T}/{_REPO}", repo_info),
    ("GET", rf"/api/{_T}/{_REPO}/revision/{_REV}", repo_info),
    ("GET", rf"/api/{_T}/{_REPO}/tree/{_REV}(?:/(?P<path>.*))?", tree),
    ("GET", rf"/api/{_T}/{_REPO}/refs", refs),
    ("GET", rf"/api/{_T}/{_REPO}/commits/{_REV}", commits),
    ("POST", rf"/api/{_T}/{_REPO}/paths-info/{_REV}", paths_info),
    ("POST", rf"/api/{_T}/{_REPO}/preupload/{_REV}", preupload),
    ("POST", rf"/api/{_T}/{_REPO}/commit/{_REV}", commit),
    ("GET", rf"/api/{_T}/{_REPO}/xet-(?P<kind>read|write)-token/{_REV}", xet_token),
    # The Xet content store; what it lacks (/v1/xorb-grants, /v2/shards, /v1/chunks) answers 404, see _xet.
    ("POST", r"/cas/(?P<cas>[0-9a-f]+)/v1/xorbs/(?P<prefix>[a-z-]+)/(?P<xorb_hash>[0-9a-f]{64})", cas_xorb),
    ("POST", r"/cas/(?P<cas>[0-9a-f]+)/v1/shards", cas_shard),
    ("POST", rf"/api/{_T}/{_REPO}/branch/(?P<branch>[^/]+)", create_branch),
    ("DELETE", rf"/api/{_T}/{_REPO}/branch/(?P<branch>[^/]+)", delete_branch),
    ("POST", rf"/api/{_T}/{_REPO}/tag/{_REV}", create_tag),
    ("DELETE", rf"/api/{_T}/{_REPO}/tag/{_REV}", delete_tag),
    ("POST", rf"/{_PREFIX}(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", lfs_batch),
    ("POST", rf"/{_PREFIX}(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/verify", lfs_verify),
    ("GET", rf"/{_PREFIX}{_REPO}/resolve/{_REV}/(?P<path>.+)", resolve),
    ("HEAD", rf"/{_PREFIX}{_REPO}/resolve/{_REV}/(?P<path>.+)", resolve),
]
_COMPILED = [(method, re.compile(pattern), handler) for method, pattern, handler in ROUTES]


def dispatch(req: Request) -> None:
    """Run the handler of the first row whose method and pattern match; 404 when none does."""
    for method, pattern, handler in _COMPILED:
        match = pattern.fullmatch(req.path)
        if match is not None and method == req.method:
            args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            if "repo" in args and not all(valid_repo_name(part) for part in args["repo"].split("/")):
                raise repo_not_found(args["repo"])
            return handler(req, **args)
    raise HTTPError(404, f"Not found: {req.method} {req.path}")


__all__ = ["ROUTES", "FilePart", "Request", "dispatch"]
