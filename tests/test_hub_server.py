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

# huggingface_hub's LFS upload passes its file as `data=`, which httpx2 deprecates (a client-side warning).
LFS_UPLOAD_WARNING = "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
pytestmark = [pytest.mark.network, pytest.mark.filterwarnings(LFS_UPLOAD_WARNING)]

TOKEN = "hf_alice_token"
OTHER_TOKEN = "hf_bob_token"


@pytest.fixture(autouse=True)
def _hf_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # These are import-time constants in huggingface_hub, so setting the env var alone is not enough.
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")  # LFS through the batch API: no Xet offline
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
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


def test_upload_folder_round_trip(hub: HubServer, api: HfApi, cache: Path, tmp_path: Path) -> None:
    # HF_HUB_DISABLE_XET=1 (the fixture): LFS files go through the LFS batch API, the rest inline.
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
    assert not any("xet" in path for _, path in hub.request_log)
    assert ("POST", "/alice/demo.git/info/lfs/objects/batch") in hub.request_log
    puts = [path for method, path in hub.request_log if method == "PUT"]
    assert len(puts) == 2, "model.safetensors and nested/deeper/weights.bin are LFS files (.gitattributes)"
    tree = {e.path: e for e in api.list_repo_tree("alice/demo", recursive=True)}
    assert tree["model.safetensors"].lfs.sha256 == hashlib.sha256(files["model.safetensors"]).hexdigest()  # type: ignore[union-attr]
    assert tree["config.json"].lfs is None  # type: ignore[union-attr]

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


# -- refs, history, paths, cards, LFS, namespaces, bounds ----------------------------------------------------


def test_branches_tags_and_commit_history(hub: HubServer, api: HfApi, cache: Path) -> None:
    api.create_repo("alice/demo")
    v1 = api.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", repo_id="alice/demo", commit_message="first")
    api.create_branch("alice/demo", branch="dev")
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_branch("alice/demo", branch="dev")
    assert excinfo.value.response.status_code == 409
    api.create_branch("alice/demo", branch="dev", exist_ok=True)
    v2 = api.upload_file(path_or_fileobj=b"two", path_in_repo="a.txt", repo_id="alice/demo", revision="dev",
                         commit_message="second")
    api.create_tag("alice/demo", tag="v1", revision=v1.oid, tag_message="the first")
    refs = api.list_repo_refs("alice/demo")
    assert {b.name: b.target_commit for b in refs.branches} == {"main": v1.oid, "dev": v2.oid}
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1", v1.oid)]
    assert _download(hub, cache, "a.txt", revision="v1") == b"one"
    assert _download(hub, cache, "a.txt", revision="dev") == b"two"
    commits = api.list_repo_commits("alice/demo", revision="dev")
    assert [c.title for c in commits] == ["second", "first", "initial commit"]
    assert commits[0].commit_id == v2.oid and commits[0].authors == ["alice"]
    with pytest.raises(HfHubHTTPError) as excinfo:  # tags never move
        api.create_tag("alice/demo", tag="v1", revision=v2.oid)
    assert excinfo.value.response.status_code == 409
    api.delete_tag("alice/demo", tag="v1")
    api.delete_branch("alice/demo", branch="dev")
    refs = api.list_repo_refs("alice/demo")
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []
    with pytest.raises(HfHubHTTPError):  # bob cannot branch alice's repo
        HfApi(endpoint=hub.endpoint, token=OTHER_TOKEN).create_branch("alice/demo", branch="x")


def test_paths_info_and_card_data(hub: HubServer, api: HfApi) -> None:
    from huggingface_hub import ModelCard, ModelCardData

    api.create_repo("alice/demo")
    card = ModelCard(f"---\n{ModelCardData(library_name='genzoo', license='mit', tags=['a', 'b'], datasets=['ylecun/mnist'], pipeline_tag='unconditional-image-generation').to_yaml()}\n---\n# x\n")  # noqa: E501
    api.upload_file(path_or_fileobj=str(card).encode(), path_in_repo="README.md", repo_id="alice/demo")
    hub.commit("alice/demo", {"dir/w.safetensors": b"\0" * 100}, lfs=["dir/w.safetensors"])
    info = api.model_info("alice/demo")
    assert info.library_name == "genzoo" and info.pipeline_tag == "unconditional-image-generation"
    assert info.card_data is not None and info.card_data.license == "mit"
    assert info.card_data.datasets == ["ylecun/mnist"]
    assert {"a", "b", "genzoo", "license:mit", "dataset:ylecun/mnist"} <= set(info.tags or [])
    paths = {p.path: p for p in api.get_paths_info("alice/demo", ["README.md", "dir", "dir/w.safetensors", "nope"])}
    assert set(paths) == {"README.md", "dir", "dir/w.safetensors"}
    assert paths["dir/w.safetensors"].lfs.sha256 == hashlib.sha256(b"\0" * 100).hexdigest()  # type: ignore[union-attr]
    assert type(paths["dir"]).__name__ == "RepoFolder"


def test_a_large_file_goes_through_lfs(hub: HubServer, api: HfApi, cache: Path) -> None:
    data = os.urandom(11 * 1024 * 1024)  # over the Hub's 10 MB line, and not an LFS pattern
    api.create_repo("alice/big")
    hub.reset_log()
    api.upload_file(path_or_fileobj=data, path_in_repo="big.raw", repo_id="alice/big")
    assert ("POST", "/alice/big.git/info/lfs/objects/batch") in hub.request_log
    assert [m for m, _ in hub.request_log].count("PUT") == 1
    assert _download(hub, cache, "big.raw", repo_id="alice/big") == data
    assert not api.verify_repo_checksums("alice/big", cache_dir=cache).mismatches
    hub.reset_log()  # the same content again: already stored, nothing uploaded
    api.upload_file(path_or_fileobj=data, path_in_repo="copy.raw", repo_id="alice/big")
    assert "PUT" not in [m for m, _ in hub.request_log]


def test_namespaces_belong_to_their_owner(tmp_path: Path) -> None:
    with HubServer(tmp_path / "hub", tokens={TOKEN: "alice", OTHER_TOKEN: "bob"}, orgs={"acme": ["alice"]}) as hub:
        alice, bob = HfApi(endpoint=hub.endpoint, token=TOKEN), HfApi(endpoint=hub.endpoint, token=OTHER_TOKEN)
        with pytest.raises(HfHubHTTPError) as excinfo:
            bob.create_repo("alice/intruder")
        assert excinfo.value.response.status_code == 403
        with pytest.raises(HfHubHTTPError):
            bob.create_repo("acme/intruder")
        assert alice.create_repo("acme/tool").repo_id == "acme/tool"
        alice.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id="acme/tool")
        assert not alice.repo_exists("alice/intruder")
        assert [o["name"] for o in alice.whoami()["orgs"]] == ["acme"]


@pytest.mark.parametrize("name", ["bad\nname", "a--b", "a..b", "-lead", "trail.", "x" * 97, "sp ace", "a.git"])
def test_repo_names_are_validated_as_the_hub_does(hub: HubServer, name: str) -> None:
    host, port = hub.endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/api/repos/create", body=json.dumps({"name": name, "organization": "alice"}),
                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        assert conn.getresponse().status == 400
    finally:
        conn.close()


def test_request_bodies_are_bounded(tmp_path: Path) -> None:
    with HubServer(tmp_path / "hub", tokens={TOKEN: "alice"}, max_body_bytes=1000) as hub:
        host, port = hub.endpoint.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:  # a huge announced length is refused without being read: the handler survives
            conn.putrequest("POST", "/api/repos/create")
            conn.putheader("Authorization", f"Bearer {TOKEN}")
            conn.putheader("Content-Length", str(10**15))
            conn.endheaders()
            assert conn.getresponse().status == 413
        finally:
            conn.close()
        assert HfApi(endpoint=hub.endpoint, token=TOKEN).create_repo("alice/ok").repo_id == "alice/ok"


def test_without_disable_xet_the_default_client_uploads_through_xet(hub: HubServer, api: HfApi, cache: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 20.3: hf_xet installed, Xet not disabled: the test Hub serves the Xet write token and content store.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    api.create_repo("alice/demo")
    api.upload_file(path_or_fileobj=b"\0binary", path_in_repo="w.safetensors", repo_id="alice/demo")
    assert any("xet-write-token" in path for _, path in hub.request_log)
    assert _download(hub, cache, "w.safetensors") == b"\0binary"
