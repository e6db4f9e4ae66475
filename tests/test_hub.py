"""zoo.push / zoo.pull / zoo.load("hf-hub:...") and the CLI, with the real huggingface_hub client against
zoo.testing.HubServer on 127.0.0.1 (no internet).

huggingface_hub reads HF_ENDPOINT, HF_HUB_OFFLINE and HF_HUB_CACHE once, at import, into
`huggingface_hub.constants`: the fixtures patch those constants (and the environment, for child processes),
and most calls pass `endpoint=` explicitly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from huggingface_hub import ModelCard, constants, hf_hub_download
from huggingface_hub.repocard_data import model_index_to_eval_results
from PIL import Image

import zoo
from zoo.cli import main
from zoo.errors import (
    ConfigError,
    HubAuthError,
    HubError,
    HubNotFoundError,
    MissingArchitectureError,
    UnsafeWeightsError,
)
from zoo.testing import HubServer

from _probe import AE, GAN, NAMES

# huggingface_hub's LFS upload passes its file as `data=`, which httpx2 deprecates (a client-side warning).
LFS_UPLOAD_WARNING = "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
# The models pushed and pulled are the test suite's probes (tests/_probe.py): the Hub round trip is core behaviour.
pytestmark = [pytest.mark.network, pytest.mark.filterwarnings(LFS_UPLOAD_WARNING),
              pytest.mark.usefixtures("probe_models")]

TOKEN = "hf_alice_secret_token_123"
OTHER_TOKEN = "hf_bob_secret_token_456"
BAD_TOKEN = "hf_not_a_valid_token_789"
SHA_RE = re.compile(r"^[0-9a-f]{40}$")


@pytest.fixture(autouse=True)
def hf_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HF_HOME / HF_HUB_CACHE, no telemetry, no implicit token, online."""
    home = tmp_path / "hf-home"
    cache = home / "hub"
    for name, value in (("HF_HOME", home), ("HF_HUB_CACHE", cache)):
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")  # LFS through the batch API: no Xet offline
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return cache


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubServer]:
    with HubServer(tmp_path / "hub-storage", tokens={TOKEN: "alice", OTHER_TOKEN: "bob"}) as server:
        yield server


@pytest.fixture
def hf_endpoint(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """What HF_ENDPOINT=<hub> does when set before huggingface_hub is imported (the CLI's only way in)."""
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    template = hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    return hub.endpoint


def _make_run(directory: Path, *, seed: int = 0, latent_dim: int = 8) -> Path:
    """What `zoo train` leaves behind, minus the training: a loadable model, settings, a picture, metrics."""
    torch.manual_seed(seed)
    zoo.save(zoo.create(AE, latent_dim=latent_dim), directory)
    settings = {"data": "mnist-5k", "steps": 10, "seed": seed, "out": "/home/alice/secret-runs/x", "device": "cpu"}
    (directory / "train_config.json").write_text(json.dumps(settings))
    Image.new("L", (16, 8), color=seed).save(directory / "reconstructions.png")
    metrics = {"dataset": "mnist-5k", "split": "test", "metrics": {"mse": 0.0123, "bce": 0.0871}}
    (directory / "metrics.json").write_text(json.dumps(metrics))
    return directory


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return _make_run(tmp_path / "run")


def _assert_same_model(a: torch.nn.Module, b: torch.nn.Module) -> None:
    assert a.config == b.config
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and torch.equal(sa[key], sb[key]), key


def _load(hub: HubServer, spec: str, **kwargs: object) -> torch.nn.Module:
    return zoo.load(f"hf-hub:{spec}", endpoint=hub.endpoint, **kwargs)


# -- push and pull -----------------------------------------------------------------------------------------


def test_push_then_pull_gives_identical_tensors_and_config(hub: HubServer, run_dir: Path, tmp_path: Path) -> None:
    info = zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)

    assert SHA_RE.match(info.oid)
    commits = [r for r in hub.request_log if r[0] == "POST" and "/commit/" in r[1]]
    assert len(commits) == 1, "push must be exactly one commit"
    model = _load(hub, "alice/ae")
    _assert_same_model(model, zoo.load(run_dir))
    assert not model.training
    assert model.zoo_source == {"repo_id": "alice/ae", "revision": info.oid, "requested_revision": "main"}

    out = zoo.pull("alice/ae", out=tmp_path / "pulled", endpoint=hub.endpoint)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    for name in ("config.json", "model.safetensors"):
        assert (out / name).read_bytes() == (run_dir / name).read_bytes()
    _assert_same_model(zoo.load(out), model)


def test_repo_holds_the_expected_files(hub: HubServer, run_dir: Path) -> None:
    from huggingface_hub import HfApi

    zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    files = HfApi(endpoint=hub.endpoint, token=TOKEN).list_repo_files("alice/ae")
    assert sorted(files) == [".gitattributes", "README.md", "config.json", "model.safetensors", "reconstructions.png"]


def test_old_revision_by_sha_still_loads_after_a_second_push(hub: HubServer, tmp_path: Path) -> None:
    first_run, second_run = _make_run(tmp_path / "a", seed=1), _make_run(tmp_path / "b", seed=2)
    first = zoo.push(first_run, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    second = zoo.push(second_run, "alice/ae", token=TOKEN, endpoint=hub.endpoint, commit_message="retrain")
    assert first.oid != second.oid

    _assert_same_model(_load(hub, f"alice/ae@{first.oid}"), zoo.load(first_run))
    _assert_same_model(_load(hub, "alice/ae"), zoo.load(second_run))
    _assert_same_model(_load(hub, f"alice/ae@{first.oid[:10]}"), zoo.load(first_run))


def test_push_a_model_object_to_an_existing_branch(hub: HubServer, run_dir: Path) -> None:
    main_commit = zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    hub.commit("alice/ae", {"notes.txt": b"dev branch"}, branch="dev")
    torch.manual_seed(5)
    model = zoo.create(AE, latent_dim=4)

    info = zoo.push(model, "alice/ae", token=TOKEN, branch="dev", endpoint=hub.endpoint)

    _assert_same_model(_load(hub, "alice/ae@dev"), model)
    assert _load(hub, "alice/ae").zoo_source["revision"] == main_commit.oid
    assert info.oid != main_commit.oid


def _recorded_provider(directory: Path, distribution: str, version: str) -> None:
    """Record ``distribution`` as the model's provider, as a save from a pip-installed plugin does (the probes are
    registered at runtime, so their saves name no installable distribution)."""
    path = directory / "config.json"
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "provider": {"distribution": distribution, "version": version}}))


def test_model_card_metadata(hub: HubServer, run_dir: Path, hf_env: Path) -> None:
    _recorded_provider(run_dir, "genzoo-probe", "1.0.0")
    zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint, license="mit")
    card = ModelCard.load(hf_hub_download("alice/ae", "README.md", endpoint=hub.endpoint))

    data = card.data
    assert data.library_name == "genzoo"
    assert data.license == "mit"
    assert data.tags == [AE, "autoencoder", "mnist-5k", "zoo", "pytorch", "safetensors"]
    assert data.pipeline_tag == "image-to-image"
    assert data.datasets == ["ylecun/mnist"], "a Hub dataset id"
    assert data.metrics == ["mse", "bce"]
    model_name, parsed = model_index_to_eval_results(data.to_dict()["model-index"])
    assert model_name == "ae" and {r.metric_type for r in parsed} == {"mse", "bce"}
    assert {r.dataset_type for r in parsed} == {"ylecun/mnist"}
    assert "An autoencoder trained on `mnist-5k`" in card.text
    assert "One sample is a `1x28x28`" in card.text and "values in [0, 1]" in card.text
    results = {r.metric_type: r for r in data.eval_results}
    assert {name: r.metric_value for name, r in results.items()} == {"mse": 0.0123, "bce": 0.0871}
    assert {(r.dataset_name, r.dataset_split) for r in results.values()} == {("mnist-5k", "test")}
    assert "![reconstructions](reconstructions.png)" in card.text
    assert 'zoo.load("hf-hub:alice/ae")' in card.text
    assert "pip install genzoo genzoo-probe\n" in card.text, "the card names the plugin that provides the model"
    assert "--out models/ae" in card.text, "usage never invites a folder named like a registered architecture"
    assert "/home/alice" not in card.content, "machine-local paths must not reach a public card"


def test_push_without_metrics_or_pictures_has_a_plain_card(hub: HubServer, tmp_path: Path) -> None:
    model = zoo.create(GAN)
    zoo.push(model, "alice/gan", token=TOKEN, endpoint=hub.endpoint)
    card = ModelCard.load(hf_hub_download("alice/gan", "README.md", endpoint=hub.endpoint))
    assert card.data.tags == [GAN, "gan", "zoo", "pytorch", "safetensors"]
    assert card.data.pipeline_tag == "unconditional-image-generation"
    assert card.data.eval_results is None
    assert f"A generative adversarial network (GAN): architecture `{GAN}`" in card.text
    # The probe GAN samples through its generator only, so that is the call the card shows.
    assert "images = model.generator.sample(16)" in card.text and " gan " not in card.text
    assert "pip install genzoo\n" in card.text, "a provider that is no installable distribution is not named"


def test_local_dataset_paths_stay_local(hub: HubServer, run_dir: Path) -> None:
    settings = json.loads((run_dir / "train_config.json").read_text())
    (run_dir / "train_config.json").write_text(json.dumps({**settings, "data": "/home/alice/private/x.npz"}))
    metrics = {"dataset": "/home/alice/private/x.npz", "split": "test", "metrics": {"mse": 0.5}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    card = ModelCard.load(hf_hub_download("alice/ae", "README.md", endpoint=hub.endpoint))
    assert "/home/alice" not in card.content
    assert card.data.tags == [AE, "autoencoder", "zoo", "pytorch", "safetensors"]
    assert card.data.eval_results[0].dataset_name == "x.npz"


def test_metrics_json_is_validated(hub: HubServer, run_dir: Path) -> None:
    (run_dir / "metrics.json").write_text(json.dumps({"dataset": "mnist-5k", "split": "test", "metrics": "bad"}))
    with pytest.raises(ConfigError, match="metrics.json"):
        zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)


# -- errors that say which and what to do -------------------------------------------------------------------


def test_private_repo_with_a_bad_token(hub: HubServer, run_dir: Path) -> None:
    zoo.push(run_dir, "alice/secret", token=TOKEN, private=True, endpoint=hub.endpoint)
    # Cold cache: with a warm one huggingface_hub silently serves the cached copy (hub-protocol.md G4).
    with pytest.raises(HubAuthError) as caught:
        _load(hub, "alice/secret", token=BAD_TOKEN)
    message = str(caught.value)
    assert "refused the token for alice/secret" in message
    assert "HF_TOKEN" in message and "read access" in message
    assert BAD_TOKEN not in message


def test_private_repo_without_a_token_or_with_another_users(hub: HubServer, run_dir: Path) -> None:
    zoo.push(run_dir, "alice/secret", token=TOKEN, private=True, endpoint=hub.endpoint)
    with pytest.raises(HubNotFoundError, match=r"alice/secret was not found .*private, no token was given"):
        _load(hub, "alice/secret")
    with pytest.raises(HubNotFoundError, match=r"private, the token given cannot see it: pass token="):
        _load(hub, "alice/secret", token=OTHER_TOKEN)
    assert isinstance(_load(hub, "alice/secret", token=TOKEN), torch.nn.Module)


def test_missing_repo_and_missing_revision(hub: HubServer, run_dir: Path) -> None:
    with pytest.raises(HubNotFoundError, match="repository alice/nothing was not found at http://127.0.0.1"):
        _load(hub, "alice/nothing")
    zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    with pytest.raises(HubNotFoundError, match="has no revision 'nope'"):
        _load(hub, "alice/ae@nope")


def test_push_errors_name_the_token_problem(hub: HubServer, run_dir: Path) -> None:
    with pytest.raises(HubAuthError, match=r"needs a token for alice/ae \(HTTP 401\): pass token=.*write access"):
        zoo.push(run_dir, "alice/ae", endpoint=hub.endpoint)
    with pytest.raises(HubAuthError, match="refused the token") as caught:
        zoo.push(run_dir, "alice/ae", token=BAD_TOKEN, endpoint=hub.endpoint)
    assert BAD_TOKEN not in str(caught.value)
    zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    with pytest.raises(HubAuthError, match="denied write access to alice/ae"):
        zoo.push(run_dir, "alice/ae", token=OTHER_TOKEN, endpoint=hub.endpoint)


def test_bad_specs_are_config_errors(hub: HubServer) -> None:
    for spec in ("alice/ae@", "a/b/c", "../etc", "alice/ae x"):
        with pytest.raises(ConfigError, match="not a Hub repository"):
            _load(hub, spec)
    assert hub.request_log == []


def test_uninstalled_architecture_names_the_distribution(hub: HubServer) -> None:
    document = {"format_version": 1, "architecture": "alien-ae", "config": {"latent_dim": 8},
                "provider": {"distribution": "genzoo-alien", "version": "0.3.0"}}
    hub.create_repo("alice/alien")
    hub.commit("alice/alien", {"config.json": json.dumps(document).encode(), "model.safetensors": b"x" * 64})
    with pytest.raises(MissingArchitectureError, match=r"pip install genzoo-alien==0\.3\.0"):
        _load(hub, "alice/alien")
    assert not any("model.safetensors" in path for _, path in hub.request_log), "validated before the weights"


def test_malformed_config_is_refused_before_the_weights(hub: HubServer) -> None:
    hub.create_repo("alice/odd")
    document = {"format_version": 1, "architecture": AE, "config": {}, "import": "os.system"}
    hub.commit("alice/odd", {"config.json": json.dumps(document).encode(), "model.safetensors": b"x"})
    with pytest.raises(ConfigError, match="unknown keys"):
        zoo.pull("alice/odd", endpoint=hub.endpoint)
    assert not any("model.safetensors" in path for _, path in hub.request_log)


@pytest.mark.parametrize("with_config", [False, True])
def test_pickle_only_repo_is_refused(hub: HubServer, run_dir: Path, with_config: bool) -> None:
    hub.create_repo("alice/pickled")
    files = {"pytorch_model.bin": b"\x80\x04pickle"}
    if with_config:
        files["config.json"] = (run_dir / "config.json").read_bytes()
    hub.commit("alice/pickled", files)
    with pytest.raises(UnsafeWeightsError, match=r"only pickle weights \(pytorch_model.bin\)"):
        _load(hub, "alice/pickled")
    assert not any("pytorch_model.bin" in path for _, path in hub.request_log), "pickle is never downloaded"


def test_repo_without_zoo_files(hub: HubServer) -> None:
    hub.create_repo("alice/readme-only")
    hub.commit("alice/readme-only", {"README.md": b"# hi"})
    with pytest.raises(HubNotFoundError, match="has no config.json, so it is not a zoo model"):
        _load(hub, "alice/readme-only")


# -- offline and caching ------------------------------------------------------------------------------------


def test_server_stopped_with_a_warm_cache_loads_offline(hub: HubServer, run_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    info = zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    expected = _load(hub, "alice/ae")
    endpoint = hub.endpoint
    hub.stop()

    _assert_same_model(zoo.load("hf-hub:alice/ae", endpoint=endpoint), expected)
    _assert_same_model(zoo.load(f"hf-hub:alice/ae@{info.oid}", endpoint=endpoint), expected)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert zoo.load("hf-hub:alice/ae", endpoint=endpoint).zoo_source["revision"] == info.oid


def test_offline_mode_with_a_warm_cache_makes_no_request(hub: HubServer, run_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    expected = _load(hub, "alice/ae")
    hub.reset_log()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    _assert_same_model(_load(hub, "alice/ae"), expected)
    assert hub.request_log == []


def test_server_stopped_with_a_cold_cache_is_a_clear_error(hub: HubServer, run_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.utils._http as hf_http

    zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    endpoint = hub.endpoint
    hub.stop()
    # With nothing cached, huggingface_hub retries a refused connection with backoff (about 23 s of sleeps).
    monkeypatch.setattr(hf_http, "time", SimpleNamespace(sleep=lambda seconds: None))
    out = tmp_path / "out"
    with pytest.raises(HubError, match=r"alice/ae@main is not in the local Hugging Face cache and the Hub at "
                                       r"http://127.0.0.1:\d+ could not be reached"):
        zoo.pull("alice/ae", out=out, endpoint=endpoint)
    assert not out.exists(), "a failed pull leaves nothing behind"

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE is set"):
        zoo.pull("alice/ae", out=out, endpoint=endpoint)
    assert not out.exists()


def test_hf_hub_cache_is_honoured(hub: HubServer, run_dir: Path, hf_env: Path, tmp_path: Path) -> None:
    info = zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    assert zoo.pull("alice/ae", endpoint=hub.endpoint) == hf_env / "models--alice--ae" / "snapshots" / info.oid
    elsewhere = tmp_path / "elsewhere"
    assert zoo.pull("alice/ae", endpoint=hub.endpoint, cache_dir=elsewhere).is_relative_to(elsewhere)


def test_request_counts(hub: HubServer, run_dir: Path, tmp_path: Path) -> None:
    """What a load costs in HTTP requests (HubServer.request_log); docs/hub.md states the same numbers.

    * Cold cache, at a branch (3): one HEAD of config.json at the branch to learn its commit (HubServer answers
      a 307 to the commit URL, which carries X-Repo-Commit; zoo does not follow it), then one GET per file at
      that commit. config.json is validated before the weights are requested.
    * Warm cache, at a branch (1): the HEAD; both files at that commit are cached.
    * At a commit sha: cold, one GET per file (2); warm, none (0).
    """
    info = zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    sha = info.oid
    hub.reset_log()
    _load(hub, "alice/ae")
    assert hub.request_log == [
        ("HEAD", "/alice/ae/resolve/main/config.json"),
        ("GET", f"/alice/ae/resolve/{sha}/config.json"),
        ("GET", f"/alice/ae/resolve/{sha}/model.safetensors"),
    ]

    hub.reset_log()
    _load(hub, "alice/ae")
    assert hub.request_log == [("HEAD", "/alice/ae/resolve/main/config.json")]

    hub.reset_log()
    _load(hub, f"alice/ae@{sha}")
    zoo.pull(f"alice/ae@{sha}", endpoint=hub.endpoint)
    assert hub.request_log == []

    hub.reset_log()
    _load(hub, f"alice/ae@{sha}", cache_dir=tmp_path / "cold")
    assert hub.request_log == [("GET", f"/alice/ae/resolve/{sha}/config.json"),
                               ("GET", f"/alice/ae/resolve/{sha}/model.safetensors")]


def test_a_new_commit_on_the_branch_is_picked_up(hub: HubServer, tmp_path: Path) -> None:
    zoo.push(_make_run(tmp_path / "a", seed=1), "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    _load(hub, "alice/ae")
    second_run = _make_run(tmp_path / "b", seed=2)
    second = zoo.push(second_run, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    model = _load(hub, "alice/ae")
    assert model.zoo_source["revision"] == second.oid
    _assert_same_model(model, zoo.load(second_run))


# -- tokens -------------------------------------------------------------------------------------------------


def test_the_token_never_appears_in_logs_output_or_files(hub: HubServer, hf_endpoint: str, run_dir: Path,
                                                         tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    token_file = tmp_path / "token-file"
    token_file.write_text(TOKEN + "\n")
    assert main(["push", str(run_dir), "alice/cli", "--private", "--token-file", str(token_file)]) == 0
    assert main(["pull", "alice/cli@main", "--out", str(tmp_path / "pulled"), "--token-file", str(token_file)]) == 0
    bad_file = tmp_path / "bad-token"
    bad_file.write_text(BAD_TOKEN)
    assert main(["pull", "alice/other", "--token-file", str(bad_file)]) == 2
    zoo.push(run_dir, "alice/py", token=TOKEN, endpoint=hub.endpoint)
    _load(hub, "alice/py", token=TOKEN)

    out, err = capsys.readouterr()
    assert "pushed" in out and "pulled alice/cli@main (commit " in out and "refused the token" in err
    for secret in (TOKEN, BAD_TOKEN):
        assert secret not in out and secret not in err and secret not in caplog.text
    for path in tmp_path.rglob("*"):
        if path.is_file() and path not in (token_file, bad_file):
            assert TOKEN.encode() not in path.read_bytes(), path


def test_cli_push_and_pull(hub: HubServer, hf_endpoint: str, run_dir: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", False)
    assert main(["push", str(run_dir), "alice/cli", "--message", "first"]) == 0
    sha = re.search(r"at commit ([0-9a-f]{40})", capsys.readouterr().out)
    assert sha
    assert main(["pull", f"alice/cli@{sha[1]}", "--out", str(tmp_path / "pulled")]) == 0
    assert f"(commit {sha[1]}) into {tmp_path / 'pulled'}" in capsys.readouterr().out
    _assert_same_model(zoo.load(tmp_path / "pulled"), zoo.load(run_dir))
    assert main(["pull", "alice/missing"]) == 2
    assert "zoo: error: repository alice/missing was not found" in capsys.readouterr().err


def test_huggingface_hub_is_imported_lazily() -> None:
    import subprocess
    import sys

    code = "import sys, zoo, zoo.cli; sys.exit('huggingface_hub' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- docs ---------------------------------------------------------------------------------------------------


@pytest.mark.dense  # the documented examples push dense-ae
def test_docs_examples_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every ```python block of docs/hub.md, in order, in one namespace (they start their own HubServer)."""
    text = (Path(__file__).parents[1] / "docs" / "hub.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_hub"}
    try:
        for block in blocks:
            exec(compile(block, "docs/hub.md", "exec"), namespace)
    finally:
        server = namespace.get("hub")
        if isinstance(server, HubServer):
            server.close()


# -- branches, tags, no-op pushes, a quiet CLI, LFS ------------------------------------------------------------


def test_cli_push_to_a_new_branch_with_a_tag_then_nothing_to_push(
        hub: HubServer, hf_endpoint: str, run_dir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from huggingface_hub import HfApi

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", False)
    caplog.set_level(logging.DEBUG)
    assert main(["push", str(run_dir), "alice/cli", "--branch", "exp", "--tag", "v1"]) == 0
    out, err = capsys.readouterr()
    sha = re.search(r"alice/cli@exp at commit ([0-9a-f]{40})", out)
    assert sha and "tagged v1" in out
    assert "HTTP Request" not in err + out and not any("HTTP Request" in r.getMessage() for r in caplog.records)
    refs = HfApi(endpoint=hub.endpoint, token=TOKEN).list_repo_refs("alice/cli")
    assert {b.name for b in refs.branches} == {"main", "exp"}
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1", sha[1])]
    model = zoo.load("hf-hub:alice/cli@v1")
    assert model.zoo_source == {"repo_id": "alice/cli", "revision": sha[1], "requested_revision": "v1"}
    _assert_same_model(model, zoo.load(run_dir))

    hub.reset_log()
    caplog.clear()
    assert main(["push", str(run_dir), "alice/cli", "--branch", "exp"]) == 0
    out, err = capsys.readouterr()
    assert f"nothing to push: alice/cli@exp already holds these files (commit {sha[1]})" in out
    # zoo says it once: neither the client's progress bars nor its "No files have been modified" warning
    assert "LFS files" not in err and "it/s" not in err
    assert not any("No files have been modified" in r.getMessage() for r in caplog.records)
    assert not any("/commit/" in path for _, path in hub.request_log)
    assert main(["push", str(run_dir), "alice/cli", "--tag", "v1"]) == 2, "a tag never moves"
    assert "already has a tag 'v1'" in capsys.readouterr().err

    caplog.clear()
    assert main(["-v", "pull", "alice/cli@exp"]) == 0  # -v shows the client's request lines
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)


def test_push_of_weights_over_10_mb_goes_through_lfs(hub: HubServer, tmp_path: Path) -> None:
    model = zoo.create(AE, hidden=(4096,))  # 3.2M float32 parameters
    zoo.save(model, tmp_path / "big")
    size = (tmp_path / "big" / "model.safetensors").stat().st_size
    assert size > 10 * 1024 * 1024
    info = zoo.push(tmp_path / "big", "alice/big", token=TOKEN, endpoint=hub.endpoint)
    assert ("POST", "/alice/big.git/info/lfs/objects/batch") in hub.request_log
    assert [m for m, _ in hub.request_log].count("PUT") == 1
    hub.reset_log()
    loaded = _load(hub, f"alice/big@{info.oid}")
    _assert_same_model(loaded, model)
    get = next(p for m, p in hub.request_log if m == "GET" and p.endswith("model.safetensors"))
    assert get == f"/alice/big/resolve/{info.oid}/model.safetensors"


def test_load_at_a_tag_and_revisions_are_validated_before_any_request(hub: HubServer, run_dir: Path) -> None:
    from huggingface_hub import HfApi

    info = zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint, tag="v1")
    assert HfApi(endpoint=hub.endpoint).list_repo_refs("alice/ae").tags[0].name == "v1"
    assert _load(hub, "alice/ae@v1").zoo_source["revision"] == info.oid
    hub.reset_log()
    for spec in ("alice/ae@../../x", "alice/ae@a\nb", "alice/ae@.hidden", "alice/ae@x..y", "alice\n/ae"):
        with pytest.raises(ConfigError, match="not a Hub repository"):
            _load(hub, spec)
    with pytest.raises(ConfigError, match="not a valid branch name"):
        zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint, branch="../x")
    assert hub.request_log == []


# -- a hostile or broken Hub -------------------------------------------------------------------------------------


class _Hostile:
    """A server that answers every request with what ``reply(handler)`` does (stdlib, 127.0.0.1)."""

    def __init__(self, reply: object) -> None:
        import http.server
        import threading

        outer = self
        self.requests: list[str] = []
        self.sent = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                outer.requests.append(f"HEAD {self.path}")
                reply(self)  # type: ignore[operator]

            do_GET = do_POST = do_HEAD

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile() -> Iterator[object]:
    servers: list[_Hostile] = []

    def start(reply: object) -> _Hostile:
        servers.append(_Hostile(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _answer(handler: object, status: int, headers: dict[str, str], body: bytes = b"") -> None:
    h = handler  # an http.server.BaseHTTPRequestHandler
    h.send_response(status)  # type: ignore[attr-defined]
    for key, value in {"Content-Length": str(len(body)), **headers}.items():
        h.send_header(key, value)  # type: ignore[attr-defined]
    h.end_headers()  # type: ignore[attr-defined]
    if h.command == "GET" and body:  # type: ignore[attr-defined]
        h.wfile.write(body)  # type: ignore[attr-defined]


SHA = "a" * 40


@pytest.mark.parametrize(("headers", "message"), [
    ({"X-Repo-Commit": "../../../../escape", "ETag": '"' + "b" * 40 + '"'}, "not a 40-hex commit id"),
    ({"X-Repo-Commit": SHA, "ETag": '"../../../escape"'}, "not a content hash"),
])
def test_hostile_commit_and_etag_values_never_become_file_names(hostile: object, hf_env: Path, tmp_path: Path,
                                                                headers: dict[str, str], message: str) -> None:
    from zoo.errors import HubProtocolError

    server = hostile(lambda h: _answer(h, 200, headers, b"{}"))  # type: ignore[operator]
    with pytest.raises(HubProtocolError, match=message):
        zoo.load("hf-hub:evil/repo", endpoint=server.endpoint)
    with pytest.raises(HubProtocolError, match=f"{message}|with another commit"):
        zoo.load(f"hf-hub:evil/repo@{SHA}", endpoint=server.endpoint)
    written = [p for p in tmp_path.rglob("*") if "escape" in p.name]
    assert written == [] and not (hf_env.parent / "escape").exists()


def test_an_oversized_config_is_refused_from_its_announced_size(hostile: object, hf_env: Path) -> None:
    from zoo.errors import HubProtocolError

    def reply(h: object) -> None:
        _answer(h, 200, {"X-Repo-Commit": SHA, "ETag": '"' + "b" * 40 + '"', "Content-Length": str(200_000_000)})

    server = hostile(reply)  # type: ignore[operator]
    started = time.monotonic()
    with pytest.raises(HubProtocolError, match=r"announced as 200,000,000 bytes, more than the 1,000,000"):
        zoo.load(f"hf-hub:evil/repo@{SHA}", endpoint=server.endpoint)
    assert time.monotonic() - started < 5


def test_a_trickling_server_hits_the_deadline(hostile: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.errors import HubTimeoutError
    from zoo.hub import _http

    def reply(h: object) -> None:
        _answer(h, 200, {"X-Repo-Commit": SHA, "ETag": '"' + "b" * 40 + '"', "Content-Length": "1000"})
        for _ in range(1000):
            h.wfile.write(b" ")  # type: ignore[attr-defined]
            h.wfile.flush()  # type: ignore[attr-defined]
            time.sleep(0.1)

    monkeypatch.setattr(_http, "DEADLINE_BASE_S", 0.5)
    server = hostile(reply)  # type: ignore[operator]
    started = time.monotonic()
    with pytest.raises(HubTimeoutError, match="ran past its deadline"):
        zoo.load(f"hf-hub:evil/repo@{SHA}", endpoint=server.endpoint)
    assert time.monotonic() - started < 5


def test_a_silent_server_times_out(hostile: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.errors import HubTimeoutError
    from zoo.hub import _http

    monkeypatch.setattr(_http, "REQUEST_TIMEOUT_S", 0.3)
    server = hostile(lambda h: time.sleep(3))  # type: ignore[operator]
    with pytest.raises(HubTimeoutError, match="did not answer within 0.3 s"):
        zoo.load("hf-hub:evil/repo", endpoint=server.endpoint)


@pytest.mark.parametrize(("status", "headers", "error", "message"), [
    (403, {}, "HubAuthError", r"denied read access to evil/repo \(HTTP 403\)"),
    (401, {}, "HubAuthError", r"needs a token for evil/repo \(HTTP 401\)"),
    (404, {"X-Error-Code": "RepoNotFound"}, "HubNotFoundError", r"repository evil/repo was not found .*HTTP 404"),
    (500, {}, "HubServerError", r"answered HTTP 500 \(a server error\)"),
    (503, {}, "HubServerError", r"answered HTTP 503 \(a server error\)"),
    (307, {"Location": "/evil/repo/resolve/main/config.json"}, "HubRedirectError",
     "redirected evil/repo@main in a loop"),
])
def test_each_failure_is_a_distinct_error(hostile: object, status: int, headers: dict[str, str], error: str,
                                          message: str) -> None:
    import zoo.errors

    server = hostile(lambda h: _answer(h, status, headers))  # type: ignore[operator]
    with pytest.raises(getattr(zoo.errors, error), match=message) as caught:
        zoo.load("hf-hub:evil/repo", endpoint=server.endpoint, token=False)
    assert caught.value.repo_id == "evil/repo"


def test_weights_are_checked_against_the_lfs_sha256(hub: HubServer, run_dir: Path, hostile: object) -> None:
    from zoo.errors import ChecksumError

    info = zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    real = (run_dir / "model.safetensors").read_bytes()
    config = (run_dir / "config.json").read_bytes()
    tampered = bytearray(real)
    tampered[-3] ^= 1

    def reply(h: object) -> None:
        path = h.path  # type: ignore[attr-defined]
        if path.endswith("config.json"):
            oid = hashlib.sha1(b"blob %d\0" % len(config) + config).hexdigest()
            _answer(h, 200, {"X-Repo-Commit": info.oid, "ETag": f'"{oid}"'}, config)
        else:  # announces the real sha256, sends other bytes
            _answer(h, 200, {"X-Repo-Commit": info.oid, "ETag": '"' + "c" * 40 + '"',
                             "X-Linked-Etag": f'"{hashlib.sha256(real).hexdigest()}"'}, bytes(tampered))

    server = hostile(reply)  # type: ignore[operator]
    with pytest.raises(ChecksumError, match="sha256 the Hub lists for its LFS object"):
        zoo.load(f"hf-hub:alice/ae@{info.oid}", endpoint=server.endpoint)
    blobs = list((Path(constants.HF_HUB_CACHE) / "models--alice--ae").rglob("*"))
    assert not [p for p in blobs if p.is_file() and p.read_bytes() == bytes(tampered)], "nothing kept"


@pytest.mark.parametrize("architecture", sorted({*zoo.list_models(), *NAMES}))
def test_every_card_reads_naturally_and_parses(architecture: str) -> None:
    from zoo._entries import Metrics
    from zoo._serialization import config_document
    from zoo.hub import model_card
    from zoo.protocols import Autoencoder, Classifier, family_of, sampler_of

    model = zoo.create(architecture)
    metrics = Metrics(dataset="mnist-5k", split="test", metrics={"score": 0.5})
    card = model_card(repo_id="alice/m", document=config_document(model), model=model, dataset="mnist-5k",
                      metrics=metrics, license="mit", images=[], training={})
    data = card.data
    expected_task = ("unconditional-image-generation" if sampler_of(model) is not None else "image-to-image"
                     if isinstance(model, Autoencoder) else "image-classification"
                     if isinstance(model, Classifier) else None)
    assert data.pipeline_tag == expected_task
    assert data.library_name == "genzoo" and data.license == "mit" and data.datasets == ["ylecun/mnist"]
    assert data.metrics == ["score"]
    family = family_of(model)
    assert data.tags[:2] == [architecture, family] if family else data.tags[0] == architecture
    if expected_task is not None:
        name, results = model_index_to_eval_results(data.to_dict()["model-index"])
        assert name == "m" and [(r.metric_type, r.metric_value) for r in results] == [("score", 0.5)]
    first = card.text.split("\n\n")[1]
    assert f"architecture `{architecture}`" in first and f"`{architecture}` {family}" not in first
    assert re.match(r"An? [a-z(]", first), first  # "A generative ...", "An autoencoder ..."
    assert "zoo.load(\"hf-hub:alice/m\")" in card.text and "--out models/m" in card.text


def test_a_cdn_redirect_is_followed_without_the_token(hostile: object, run_dir: Path) -> None:
    """As the Hub serves LFS files: a 302 to another host, whose headers carry the commit, sha256 and size."""
    config, weights = (run_dir / "config.json").read_bytes(), (run_dir / "model.safetensors").read_bytes()
    cdn_auth: list[str | None] = []

    def cdn_reply(h: object) -> None:
        cdn_auth.append(h.headers.get("Authorization"))  # type: ignore[attr-defined]
        _answer(h, 200, {"Content-Type": "application/octet-stream"}, weights)

    cdn = hostile(cdn_reply)  # type: ignore[operator]

    def hub_reply(h: object) -> None:
        if h.path.endswith("config.json"):  # type: ignore[attr-defined]
            oid = hashlib.sha1(b"blob %d\0" % len(config) + config).hexdigest()
            _answer(h, 200, {"X-Repo-Commit": SHA, "ETag": f'"{oid}"'}, config)
        else:
            _answer(h, 302, {"X-Repo-Commit": SHA, "X-Linked-Etag": f'"{hashlib.sha256(weights).hexdigest()}"',
                             "X-Linked-Size": str(len(weights)), "ETag": '"' + "d" * 40 + '"',
                             "Location": f"{cdn.endpoint}/blob?signature=x"})

    hub = hostile(hub_reply)  # type: ignore[operator]
    model = zoo.load(f"hf-hub:alice/ae@{SHA}", endpoint=hub.endpoint, token=TOKEN)
    _assert_same_model(model, zoo.load(run_dir))
    assert cdn_auth == [None], "the token goes to the Hub's origin only"


def test_cli_push_to_a_silent_server_times_out(hostile: object, run_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    from zoo.cli import _run_hub as _cli_hub

    server = hostile(lambda h: time.sleep(3))  # type: ignore[operator]
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)  # type: ignore[attr-defined]
    monkeypatch.setattr(constants, "ENDPOINT", server.endpoint)  # type: ignore[attr-defined]
    monkeypatch.setattr(_cli_hub, "PUSH_TIMEOUT_S", 0.3)
    token_file = tmp_path / "token"
    token_file.write_text("hf_alice\n")
    started = time.monotonic()
    try:
        assert main(["push", str(run_dir), "alice/slow", "--token-file", str(token_file)]) != 0
    finally:
        set_client_factory(default_client_factory)  # the CLI bounds the process-wide client; give it back
    assert time.monotonic() - started < 3
    err = capsys.readouterr().err
    assert "zoo: error: the Hub at" in err and "timed out during the push" in err
    assert "Traceback" not in err


# -- bounded reads, atomic pulls, what a push publishes, the test Hub's own defences (issue 19) ----------------


def _dribble(handler: object, head: bytes, seconds: float) -> None:
    """Send ``head`` (a status line and headers) one byte at a time over ``seconds``, then nothing more."""
    wfile = handler.wfile  # type: ignore[attr-defined]
    for byte in head:
        try:
            wfile.write(bytes([byte]))
            wfile.flush()
        except OSError:
            return
        time.sleep(seconds / len(head))


@pytest.mark.parametrize("call", ["load", "pull", "zoo pull"])
def test_a_server_dribbling_its_headers_hits_the_deadline(hostile: object, monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          call: str) -> None:
    """The deadline counts the whole request: a byte every few milliseconds never trips the per-read timeout."""
    from zoo.errors import HubTimeoutError
    from zoo.hub import _http

    head = (b"HTTP/1.1 200 OK\r\nX-Repo-Commit: " + SHA.encode() + b"\r\nX-Padding: " + b"p" * 120 + b"\r\n")
    server = hostile(lambda h: _dribble(h, head, seconds=4.0))  # type: ignore[operator]
    monkeypatch.setattr(_http, "DEADLINE_BASE_S", 0.5)
    started = time.monotonic()
    if call == "zoo pull":
        monkeypatch.setattr(constants, "ENDPOINT", server.endpoint)  # type: ignore[attr-defined]
        assert main(["pull", f"evil/repo@{SHA}", "--out", str(tmp_path / "out")]) != 0
        assert "ran past its deadline" in capsys.readouterr().err
    else:
        with pytest.raises(HubTimeoutError, match="ran past its deadline"):
            if call == "load":
                zoo.load("hf-hub:evil/repo", endpoint=server.endpoint)
            else:
                zoo.pull(f"evil/repo@{SHA}", out=tmp_path / "out", endpoint=server.endpoint)
    assert time.monotonic() - started < 2.5
    assert not (tmp_path / "out").exists()


def test_weights_announced_over_the_loaders_limit_are_refused_before_download(hostile: object,
                                                                              run_dir: Path) -> None:
    from zoo._rundir import MAX_WEIGHTS_BYTES
    from zoo.errors import HubProtocolError

    config = (run_dir / "config.json").read_bytes()
    requested: list[str] = []

    def reply(h: object) -> None:
        requested.append(h.path)  # type: ignore[attr-defined]
        if h.path.endswith("config.json"):  # type: ignore[attr-defined]
            oid = hashlib.sha1(b"blob %d\0" % len(config) + config).hexdigest()
            _answer(h, 200, {"X-Repo-Commit": SHA, "ETag": f'"{oid}"'}, config)
        else:  # announced just over the loader's bound (far under the old 16 GiB download bound); no body follows
            h.send_response(200)  # type: ignore[attr-defined]
            for key, value in {"X-Repo-Commit": SHA, "ETag": '"' + "c" * 40 + '"', "X-Linked-Etag": '"' + "d" * 64
                               + '"', "X-Linked-Size": str(MAX_WEIGHTS_BYTES + 1),
                               "Content-Length": str(MAX_WEIGHTS_BYTES + 1)}.items():
                h.send_header(key, value)  # type: ignore[attr-defined]
            h.end_headers()  # type: ignore[attr-defined]

    server = hostile(reply)  # type: ignore[operator]
    with pytest.raises(HubProtocolError, match=f"more than the {MAX_WEIGHTS_BYTES:,} bytes zoo accepts"):
        zoo.load(f"hf-hub:alice/ae@{SHA}", endpoint=server.endpoint)
    assert any(p.endswith("model.safetensors") for p in requested)


def test_pull_over_an_existing_model_is_atomic_as_a_whole(hub: HubServer, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import shutil

    old_run, new_run = _make_run(tmp_path / "old", seed=1), _make_run(tmp_path / "new", seed=2, latent_dim=4)
    zoo.push(old_run, "alice/old", token=TOKEN, endpoint=hub.endpoint)
    zoo.push(new_run, "alice/new", token=TOKEN, endpoint=hub.endpoint)
    out = tmp_path / "models" / "ae"
    zoo.pull("alice/old", out=out, endpoint=hub.endpoint)
    copy = shutil.copyfile

    def disk_full_at_the_weights(source: object, destination: object, **kwargs: object) -> object:
        if str(destination).endswith("model.safetensors"):
            raise OSError(errno.ENOSPC, "No space left on device", str(destination))
        return copy(source, destination, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "copyfile", disk_full_at_the_weights)
    with pytest.raises(OSError, match="No space left"):
        zoo.pull("alice/new", out=out, endpoint=hub.endpoint)
    monkeypatch.undo()
    _assert_same_model(zoo.load(out), zoo.load(old_run))  # the old model, whole
    assert sorted(p.name for p in out.parent.iterdir()) == ["ae"], "no temporary folder is left beside it"

    zoo.pull("alice/new", out=out, endpoint=hub.endpoint)
    _assert_same_model(zoo.load(out), zoo.load(new_run))
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds other files than a zoo model"):
        zoo.pull("alice/old", out=out, endpoint=hub.endpoint)


def test_push_of_a_save_that_was_cut_off_is_refused(hub: HubServer, run_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut off after its commit point: the new config.json and the new weights' pending file, old
    model.safetensors. The folder loads (through the pending file); the pair a push would publish does not."""
    import zoo._serialization

    monkeypatch.setattr(zoo._serialization, "PAIR_RETRY_SECONDS", 0.1)
    newer = zoo.save(zoo.create(AE, latent_dim=3), tmp_path / "newer")
    weights_id = json.loads((newer / "config.json").read_text())["weights_id"]
    (run_dir / f".model.{weights_id}.safetensors").write_bytes((newer / "model.safetensors").read_bytes())
    (run_dir / "config.json").write_bytes((newer / "config.json").read_bytes())
    assert isinstance(zoo.load(run_dir), torch.nn.Module)
    with pytest.raises(zoo.errors.LoadError, match="does not hold one complete save"):
        zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    assert not any("/commit/" in path for _, path in hub.request_log), "nothing was published"


def test_push_does_not_follow_a_symlink_out_of_the_folder(hub: HubServer, run_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("hf_secret_that_must_stay_local\n")
    (run_dir / "samples.png").symlink_to(secret)
    with pytest.raises(zoo.errors.LoadError, match="samples.png is a symbolic link"):
        zoo.push(run_dir, "alice/ae", token=TOKEN, endpoint=hub.endpoint)
    assert not any("/commit/" in path for _, path in hub.request_log), "nothing was published"


def test_hub_answers_reach_the_terminal_escaped(hub: HubServer, hf_endpoint: str, run_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.testing.hub import _routes

    json_answer = _routes.Request.json

    def hostile_commit_url(self: _routes.Request, obj: object, *args: object, **kwargs: object) -> None:
        if isinstance(obj, dict) and "commitUrl" in obj:
            obj = {**obj, "commitUrl": obj["commitUrl"] + "\x1b]0;owned\x07\x1b[2J"}
        json_answer(self, obj, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_routes.Request, "json", hostile_commit_url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", False)
    assert main(["push", str(run_dir), "alice/cli"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;owned" in out


def _post(hub: HubServer, path: str, body: bytes, token: str, content_type: str = "application/json"
          ) -> tuple[int, bytes]:
    import http.client

    host, port = hub.endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Authorization": f"Bearer {token}",
                                                       "Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_test_hub_yaml_cannot_freeze_the_server(hub: HubServer) -> None:
    """A front matter line that made the old hand-written parser backtrack (quadratic: ~6 s for this one)."""
    card = "---\na" + " " * 30_000 + "x\n---\n# card\n"
    started = time.monotonic()
    status, _ = _post(hub, "/api/validate-yaml", json.dumps({"content": card, "repoType": "model"}).encode(), TOKEN)
    assert time.monotonic() - started < 1.5
    assert status == 400  # not one mapping: said at once
    huge = "---\n" + "key: value\n" * 30_000 + "---\n"  # over the front matter bound: refused, not parsed
    status, body = _post(hub, "/api/validate-yaml", json.dumps({"content": huge}).encode(), TOKEN)
    assert status == 400 and b"larger than" in body


def test_test_hub_lfs_objects_of_a_private_repo_cannot_be_read_by_sha256(hub: HubServer, tmp_path: Path) -> None:
    from huggingface_hub import HfApi

    secret = b"\0private weights" * 100
    oid = hashlib.sha256(secret).hexdigest()
    hub.create_repo("alice/private", private=True)
    hub.commit("alice/private", {"w.safetensors": secret}, lfs=["w.safetensors"])
    HfApi(endpoint=hub.endpoint, token=OTHER_TOKEN).create_repo("bob/grab")
    batch = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(secret)}],
             "hash_algo": "sha256"}
    status, body = _post(hub, "/bob/grab.git/info/lfs/objects/batch", json.dumps(batch).encode(), OTHER_TOKEN,
                         "application/vnd.git-lfs+json")
    assert status == 200 and "upload" in json.loads(body)["objects"][0]["actions"], "bob must send the bytes"
    lines = [{"key": "header", "value": {"summary": "grab"}},
             {"key": "lfsFile", "value": {"path": "w.safetensors", "algo": "sha256", "oid": oid,
                                          "size": len(secret)}}]
    ndjson = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    status, body = _post(hub, "/api/models/bob/grab/commit/main", ndjson, OTHER_TOKEN, "application/x-ndjson")
    assert status == 422, body
    assert HfApi(endpoint=hub.endpoint, token=OTHER_TOKEN).list_repo_files("bob/grab") == [".gitattributes"]
