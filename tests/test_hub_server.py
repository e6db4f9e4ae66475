"""The local Hub server (`zoo.testing.HubServer`) against the real `huggingface_hub` client.

Only 127.0.0.1 is contacted: every client call gets `endpoint=hub.endpoint`, because HF_ENDPOINT is read at
import time, and telemetry (which would call `{HF_ENDPOINT}/api/agent-harnesses`) is switched off.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    constants,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    BadRequestError,
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from zoo.testing import HubServer

pytestmark = pytest.mark.network

TOKEN = "hf_alice_token"
OTHER_TOKEN = "hf_bob_token"


@pytest.fixture(autouse=True)
def _hf_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # These are import-time constants in huggingface_hub, so setting the env var alone is not enough.
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubServer]:
    with HubServer(tmp_path / "hub", tokens={TOKEN: "alice", OTHER_TOKEN: "bob"}) as server:
        yield server


@pytest.fixture
def api(hub: HubServer) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=TOKEN)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _download(
    hub: HubServer,
    cache: Path,
    filename: str,
    repo_id: str = "alice/demo",
    revision: str | None = None,
    token: str | bool | None = TOKEN,
) -> bytes:
    path = hf_hub_download(
        repo_id, filename, revision=revision, token=token, endpoint=hub.endpoint, cache_dir=cache
    )
    return Path(path).read_bytes()


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_create_repo_exist_ok_twice(hub: HubServer, api: HfApi) -> None:
    first = api.create_repo("alice/demo")
    second = api.create_repo("alice/demo", exist_ok=True)
    assert first.repo_id == second.repo_id == "alice/demo"
    assert first.endpoint == hub.endpoint
    # No namespace: the server picks the token's user (the client sends organization=null).
    assert api.create_repo("solo").repo_id == "alice/solo"
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo("alice/demo")
    assert excinfo.value.response.status_code == 409
    assert api.list_repo_files("alice/demo") == [".gitattributes"]


@pytest.mark.parametrize("disable_xet", [False, True])
def test_upload_folder_round_trip(
    hub: HubServer,
    api: HfApi,
    cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    disable_xet: bool,
) -> None:
    # With or without hf_xet the client takes a different upload_folder path; both must stay "regular".
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", disable_xet)
    src = tmp_path / "src"
    files = {
        "model.safetensors": os.urandom(70_000),
        "config.json": b'{"latent_dim": 8}',
        "nested/deeper/weights.bin": os.urandom(1234),
        "README.md": b"---\nlicense: apache-2.0\n---\n# demo\n",
        "empty.txt": b"",
        "with space/ünïcode.txt": "ünïcode".encode(),
    }
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    api.create_repo("alice/demo")
    info = api.upload_folder(repo_id="alice/demo", folder_path=src, commit_message="upload")
    assert len(info.oid) == 40 and info.repo_url.repo_id == "alice/demo"
    assert not any("xet" in path or "lfs" in path for _, path in hub.request_log)

    snapshot = Path(snapshot_download("alice/demo", endpoint=hub.endpoint, cache_dir=cache, token=TOKEN))
    assert snapshot.name == info.oid
    for name, data in files.items():
        assert (snapshot / name).read_bytes() == data
    verification = api.verify_repo_checksums("alice/demo", cache_dir=cache)
    assert verification.checked_count == len(files) + 1  # + .gitattributes
    assert not verification.mismatches and not verification.missing_paths

    # An unchanged re-upload is detected through the preupload `oid`: no new commit.
    hub.reset_log()
    again = api.upload_folder(repo_id="alice/demo", folder_path=src, commit_message="again")
    assert again.oid == info.oid
    assert not any("/commit/" in path for _, path in hub.request_log)


def test_model_info_files_refs_and_tree(hub: HubServer, api: HfApi) -> None:
    api.create_repo("alice/demo")
    sha = hub.commit("alice/demo", {"a.txt": b"a", "dir/b.txt": b"bb", "dir/sub/c.txt": b"ccc"})
    info = api.model_info("alice/demo")
    assert info.id == "alice/demo" and info.sha == sha and info.private is False
    assert info.siblings is not None
    assert {s.rfilename: s.size for s in info.siblings}["dir/sub/c.txt"] == 3
    assert api.list_repo_files("alice/demo") == [".gitattributes", "a.txt", "dir/b.txt", "dir/sub/c.txt"]
    refs = api.list_repo_refs("alice/demo")
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", sha)]
    assert refs.converts == [] and refs.tags == []

    top = {(type(e).__name__, e.path) for e in api.list_repo_tree("alice/demo")}
    assert top == {("RepoFile", ".gitattributes"), ("RepoFile", "a.txt"), ("RepoFolder", "dir")}
    sub = {e.path for e in api.list_repo_tree("alice/demo", path_in_repo="dir")}
    assert sub == {"dir/b.txt", "dir/sub"}
    files = {e.path: e for e in api.list_repo_tree("alice/demo", recursive=True) if e.path.endswith(".txt")}
    assert files["dir/sub/c.txt"].blob_id == _git_sha1(b"ccc")  # type: ignore[union-attr]

    assert api.repo_exists("alice/demo") and not api.repo_exists("alice/nope")
    assert api.file_exists("alice/demo", "dir/b.txt") and not api.file_exists("alice/demo", "nope.txt")
    assert api.revision_exists("alice/demo", sha[:7]) and not api.revision_exists("alice/demo", "dev")
    assert api.whoami()["name"] == "alice"


def test_old_revision_by_sha_keeps_old_bytes(hub: HubServer, api: HfApi, cache: Path) -> None:
    api.create_repo("alice/demo")
    v1 = api.upload_file(path_or_fileobj=b"version 1", path_in_repo="w.bin", repo_id="alice/demo").oid
    v2 = api.upload_file(path_or_fileobj=b"version 2!", path_in_repo="w.bin", repo_id="alice/demo").oid
    assert v1 != v2
    assert _download(hub, cache, "w.bin", revision=v1) == b"version 1"
    assert _download(hub, cache, "w.bin") == b"version 2!"
    assert _download(hub, cache, "w.bin", revision=v1[:7]) == b"version 1"  # unique sha prefix
    assert api.model_info("alice/demo", revision=v1).sha == v1


def test_branch_head_is_pinned_to_a_commit(hub: HubServer, cache: Path) -> None:
    # Seeded server-side: a repo holding only a legacy pytorch_model.bin.
    hub.create_repo("alice/legacy")
    sha = hub.commit("alice/legacy", {"pytorch_model.bin": b"\x80\x02legacy"}, message="add weights")
    assert _download(hub, cache, "pytorch_model.bin", repo_id="alice/legacy") == b"\x80\x02legacy"
    resolves = [(m, p) for m, p in hub.request_log if "/resolve/" in p]
    # HEAD on the branch is redirected to the commit, so the GET cannot race a new commit (G6).
    assert resolves == [
        ("HEAD", "/alice/legacy/resolve/main/pytorch_model.bin"),
        ("HEAD", f"/alice/legacy/resolve/{sha}/pytorch_model.bin"),
        ("GET", f"/alice/legacy/resolve/{sha}/pytorch_model.bin"),
    ]
    dev = hub.commit("alice/legacy", {"extra.txt": b"x"}, branch="dev")
    assert _download(hub, cache, "extra.txt", repo_id="alice/legacy", revision="dev") == b"x"
    assert (cache / "models--alice--legacy" / "refs" / "dev").read_text() == dev


def test_pinned_sha_with_warm_cache_makes_no_request(hub: HubServer, api: HfApi, cache: Path) -> None:
    api.create_repo("alice/demo")
    sha = hub.commit("alice/demo", {"w.bin": b"weights"})
    assert _download(hub, cache, "w.bin", revision=sha) == b"weights"
    hub.reset_log()
    assert _download(hub, cache, "w.bin", revision=sha) == b"weights"
    assert hub.request_log == []


def test_bad_token_is_401_not_repo_not_found(hub: HubServer, api: HfApi, cache: Path) -> None:
    api.create_repo("alice/private", private=True)
    hub.commit("alice/private", {"w.bin": b"secret"})
    bad = HfApi(endpoint=hub.endpoint, token="hf_wrong")
    for call in (
        lambda: bad.model_info("alice/private"),
        lambda: _download(hub, cache, "w.bin", repo_id="alice/private", token="hf_wrong"),  # cold cache (G4)
        lambda: bad.create_repo("alice/other"),
    ):
        with pytest.raises(HfHubHTTPError) as excinfo:
            call()
        assert excinfo.value.response.status_code == 401
        assert not isinstance(excinfo.value, RepositoryNotFoundError)
    # Writing needs a token at all.
    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi(endpoint=hub.endpoint, token=False).upload_file(
            path_or_fileobj=b"x", path_in_repo="x", repo_id="alice/private"
        )
    assert excinfo.value.response.status_code == 401


def test_private_repo_is_hidden_from_others(hub: HubServer, api: HfApi, cache: Path) -> None:
    api.create_repo("alice/private", private=True)
    hub.commit("alice/private", {"w.bin": b"secret"})
    assert api.model_info("alice/private").private is True
    for token in (False, OTHER_TOKEN):
        other = HfApi(endpoint=hub.endpoint, token=token)
        with pytest.raises(RepositoryNotFoundError):
            other.model_info("alice/private")
        with pytest.raises(RepositoryNotFoundError):
            _download(hub, cache, "w.bin", repo_id="alice/private", token=token)
        assert not other.repo_exists("alice/private")
    assert _download(hub, cache, "w.bin", repo_id="alice/private") == b"secret"


def test_missing_repo_file_and_revision(hub: HubServer, api: HfApi, cache: Path) -> None:
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("alice/missing")
    with pytest.raises(RepositoryNotFoundError):
        _download(hub, cache, "w.bin", repo_id="alice/missing")
    api.create_repo("alice/demo")
    with pytest.raises(RemoteEntryNotFoundError) as excinfo:
        _download(hub, cache, "missing.bin")
    assert isinstance(excinfo.value, EntryNotFoundError)
    with pytest.raises(RevisionNotFoundError):
        _download(hub, cache, ".gitattributes", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        api.model_info("alice/demo", revision="0" * 40)


def test_commit_preconditions(hub: HubServer, api: HfApi) -> None:
    api.create_repo("alice/demo")
    first = hub.commit("alice/demo", {"a.txt": b"a"})
    hub.commit("alice/demo", {"a.txt": b"b"})
    op = [CommitOperationAdd(path_in_repo="a.txt", path_or_fileobj=b"c")]
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_commit("alice/demo", op, commit_message="stale", parent_commit=first)
    assert excinfo.value.response.status_code == 412
    with pytest.raises(BadRequestError):
        api.create_commit("alice/demo", op, commit_message="pr", create_pr=True)
    with pytest.raises(HfHubHTTPError) as excinfo:  # bob may read alice's public repo but not write to it
        HfApi(endpoint=hub.endpoint, token=OTHER_TOKEN).create_commit("alice/demo", op, commit_message="x")
    assert excinfo.value.response.status_code == 403
    api.delete_file("a.txt", "alice/demo")
    assert api.list_repo_files("alice/demo") == [".gitattributes"]
    api.delete_repo("alice/demo")
    assert not api.repo_exists("alice/demo")


def test_path_traversal_in_a_commit_is_rejected(hub: HubServer, api: HfApi, tmp_path: Path) -> None:
    api.create_repo("alice/demo")
    head = api.model_info("alice/demo").sha
    host, port = hub.endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    bad_paths = [
        "../escape.txt",
        "a/../../escape.txt",
        "/etc/passwd",
        "a\\b.txt",
        "a\x00b",
        ".git/config",
        "a//b",
    ]
    try:
        for bad in bad_paths:
            lines = [
                {"key": "header", "value": {"summary": "evil", "description": ""}},
                {
                    "key": "file",
                    "value": {"path": bad, "content": base64.b64encode(b"x").decode(), "encoding": "base64"},
                },
            ]
            body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
            # One keep-alive connection for all: each error must leave the stream in sync (G11).
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
            conn.request("POST", "/api/models/alice/demo/commit/main", body=body, headers=headers)
            response = conn.getresponse()
            assert response.status == 400, bad
            assert "Invalid path" in json.loads(response.read())["error"]
    finally:
        conn.close()
    assert api.model_info("alice/demo").sha == head
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "hub" / "escape.txt").exists()
    with pytest.raises(ValueError):
        hub.commit("alice/demo", {"../escape.txt": b"x"})


def test_stopped_server_warm_cache_offline(
    hub: HubServer, api: HfApi, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.create_repo("alice/demo")
    hub.commit("alice/demo", {"w.bin": b"weights", "config.json": b"{}"})
    snapshot = snapshot_download("alice/demo", endpoint=hub.endpoint, cache_dir=cache, token=TOKEN)
    hub.stop()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert _download(hub, cache, "w.bin") == b"weights"
    assert snapshot_download("alice/demo", endpoint=hub.endpoint, cache_dir=cache) == snapshot
    with pytest.raises(LocalEntryNotFoundError):
        _download(hub, cache, "not-cached.bin")
    # A restart keeps the port and the data.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    endpoint = hub.endpoint
    hub.start()
    assert hub.endpoint == endpoint
    assert api.list_repo_files("alice/demo") == [".gitattributes", "config.json", "w.bin"]
