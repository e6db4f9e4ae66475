"""The default huggingface_hub client, with `hf_xet` installed and no environment variable, against
zoo.testing.HubServer: uploads of LFS files go through Xet (huggingface_hub 2.4 decides that on the client, from
`is_xet_available()` alone), and the test Hub serves the Xet write token and the content store they need."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, constants, hf_hub_download
from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

import zoo
from zoo.cli import main
from zoo.testing import HubServer

from _probe import AE

pytestmark = [pytest.mark.network, pytest.mark.usefixtures("probe_models")]

TOKEN = "hf_alice_token"


@pytest.fixture(autouse=True)
def default_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """huggingface_hub as installed: Xet on (HF_HUB_DISABLE_XET unset), in a private HF_HOME, no telemetry."""
    pytest.importorskip("hf_xet")
    monkeypatch.delenv("HF_HUB_DISABLE_XET", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    disable_progress_bars()
    yield
    enable_progress_bars()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubServer]:
    with HubServer(tmp_path / "hub", tokens={TOKEN: "alice"}) as server:
        yield server


def _xet_used(hub: HubServer) -> bool:
    return any("xet-write-token" in path for _, path in hub.request_log) and any(
        method == "POST" and path.endswith("/v1/shards") for method, path in hub.request_log)


def test_upload_file_and_create_commit_go_through_xet(hub: HubServer, tmp_path: Path) -> None:
    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    api.create_repo("alice/demo")
    weights = os.urandom(200_000) + b"\0" * 50_000  # LFS (*.safetensors), partly compressible
    api.upload_file(path_or_fileobj=weights, path_in_repo="w.safetensors", repo_id="alice/demo")
    assert _xet_used(hub)
    assert not any("lfs/objects/batch" in path for _, path in hub.request_log)
    other = os.urandom(70_000)
    info = api.create_commit("alice/demo", [CommitOperationAdd(path_in_repo="x.bin", path_or_fileobj=other),
                                            CommitOperationAdd(path_in_repo="a.txt", path_or_fileobj=b"small")],
                             commit_message="two files")
    cache = tmp_path / "cache"
    for name, data in (("w.safetensors", weights), ("x.bin", other), ("a.txt", b"small")):
        path = hf_hub_download("alice/demo", name, revision=info.oid, endpoint=hub.endpoint, cache_dir=cache)
        assert Path(path).read_bytes() == data
    tree = {e.path: e for e in api.list_repo_tree("alice/demo")}
    assert tree["w.safetensors"].lfs.sha256 == hashlib.sha256(weights).hexdigest()  # type: ignore[union-attr]
    assert not api.verify_repo_checksums("alice/demo", cache_dir=cache).mismatches


def test_upload_folder_goes_through_xet(hub: HubServer, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = {"model.safetensors": os.urandom(90_000), "nested/w.bin": os.urandom(5_000), "config.json": b"{}",
             "README.md": b"---\nlicense: mit\n---\n# demo\n"}
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    api.create_repo("alice/folder")
    info = api.upload_folder(repo_id="alice/folder", folder_path=src, commit_message="folder")
    assert _xet_used(hub)
    for name, data in files.items():
        path = hf_hub_download("alice/folder", name, revision=info.oid, endpoint=hub.endpoint,
                               cache_dir=tmp_path / "cache")
        assert Path(path).read_bytes() == data
    hub.reset_log()  # the same files again: nothing changes, no commit
    assert api.upload_folder(repo_id="alice/folder", folder_path=src).oid == info.oid


def test_the_same_content_to_a_second_hub(tmp_path: Path) -> None:
    """The client keeps a local Xet cache: a second, empty Hub must still receive every xorb it needs."""
    data = os.urandom(120_000)
    for k in range(2):
        with HubServer(tmp_path / f"hub{k}", tokens={TOKEN: "alice"}) as hub:
            api = HfApi(endpoint=hub.endpoint, token=TOKEN)
            api.create_repo("alice/same")
            info = api.upload_file(path_or_fileobj=data, path_in_repo="w.safetensors", repo_id="alice/same")
            path = hf_hub_download("alice/same", "w.safetensors", revision=info.oid, endpoint=hub.endpoint,
                                   cache_dir=tmp_path / f"cache{k}")
            assert Path(path).read_bytes() == data


def test_a_xet_upload_cannot_reach_another_users_repo(tmp_path: Path) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    with HubServer(tmp_path / "hub", tokens={TOKEN: "alice", "hf_bob": "bob"}) as hub:
        HfApi(endpoint=hub.endpoint, token=TOKEN).create_repo("alice/mine")
        with pytest.raises(HfHubHTTPError) as caught:
            HfApi(endpoint=hub.endpoint, token="hf_bob").upload_file(
                path_or_fileobj=b"\0" * 100, path_in_repo="w.safetensors", repo_id="alice/mine")
        assert caught.value.response.status_code == 403


def test_zoo_push_with_the_default_client(hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    model = zoo.create(AE)
    run = zoo.save(model, tmp_path / "run")
    info = zoo.push(run, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    assert _xet_used(hub)
    loaded = zoo.load(f"hf-hub:alice/ae@{info.oid}", endpoint=hub.endpoint, cache_dir=tmp_path / "cache")
    assert all(a.equal(b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True))

    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    torch_model = zoo.create(AE, latent_dim=3)
    assert main(["push", str(zoo.save(torch_model, tmp_path / "run2")), "alice/ae", "--token-file",
                 str(token_file)]) == 0
    assert "pushed" in capsys.readouterr().out
