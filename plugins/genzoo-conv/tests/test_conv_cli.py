"""The command line on first-party conv models of colour data, end to end (issue 17, point 5): tiny ``conv-vae``,
``conv-dae`` and ``dcgan`` trained a few steps on 3x16x16 RGB images, then ``sample``, ``reconstruct``, ``encode``,
``interpolate`` and ``eval`` on the run directories (which default to the data the run was trained on), and
``push``, ``pull`` and ``publish`` against ``zoo.testing.HubServer`` on 127.0.0.1, with the model card stating the
data shape and channels.

Everything goes through ``zoo.cli.main`` in this process, as a user's shell would, and uses only public API (the
Hub sandbox below is what docs/hub.md tells plugin authors to write). Skipped when genzoo-conv is not installed or
is blocked (conftest.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import constants, hf_hub_download
from PIL import Image

import zoo
from zoo.cli import main
from zoo.testing import HubServer

# Without hf_xet, huggingface_hub uploads large files through the LFS batch API, passing them as `data=`, which its
# HTTP library deprecates (docs/hub.md).
LFS_UPLOAD_WARNING = "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
pytestmark = [pytest.mark.conv, pytest.mark.network, pytest.mark.filterwarnings(LFS_UPLOAD_WARNING)]

TOKEN = "hf_conv_cli_token"
SHAPE = (3, 16, 16)
SHAPE_FLAG = "data_shape=[3,16,16]"
TINY = {  # a few hundred parameters each: the CLI, not the models, is what is tested
    "conv-vae": ["--set", "channels=[4,8]", "--set", "latent_dim=4", "--set", "sampler_components=2"],
    "conv-dae": ["--set", "depth=2", "--set", "width=4"],
    "dcgan": ["--set", "latent_dim=4", "--set", "generator_channels=4", "--set", "discriminator_channels=4"],
}


def _zoo(*argv: object) -> int:
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each tiny model trained 2 steps on 40 RGB images (32 train, 8 test): what `zoo train` leaves behind."""
    root = tmp_path_factory.mktemp("conv-cli")
    images = np.random.default_rng(0).integers(0, 256, size=(40, *SHAPE), dtype=np.uint8)
    data = root / "rgb.npz"
    np.savez(data, images=images)
    out = {"data": data}
    for name, flags in TINY.items():
        out[name] = root / name
        assert _zoo("-q", "train", name, "--data", data, "--steps", 2, "--batch-size", 8, "--set", SHAPE_FLAG,
                    *flags, "--out", out[name]) == 0
    return out


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A local Hub, with huggingface_hub's cache, token lookup and endpoint pointed at temporary places (it reads
    HF_ENDPOINT and HF_HUB_CACHE once, at import: what setting them before `zoo push` does in a shell)."""
    home = tmp_path / "hf-home"
    monkeypatch.delenv("HF_TOKEN", raising=False)
    for name, value in (("HF_HOME", str(home)), ("HF_HUB_CACHE", str(home / "hub")),
                        ("HF_TOKEN_PATH", str(home / "token")), ("HF_STORED_TOKENS_PATH", str(home / "tokens")),
                        ("HF_HUB_DISABLE_TELEMETRY", True), ("HF_HUB_DISABLE_IMPLICIT_TOKEN", True),
                        ("HF_HUB_OFFLINE", False)):
        monkeypatch.setattr(constants, name, value)
    with HubServer(tmp_path / "hub-storage", tokens={TOKEN: "alice"}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setattr(constants, "ENDPOINT", server.endpoint)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            server.endpoint + "/{repo_id}/resolve/{revision}/{filename}")
        yield server


def _rgb(path: Path) -> Image.Image:
    image = Image.open(path)
    assert image.mode == "RGB", f"{path.name} is {image.mode}, not a colour grid"
    return image


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return a.config == b.config and sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_sample_reconstruct_encode_interpolate_on_colour_runs(runs: dict[str, Path], tmp_path: Path) -> None:
    # No --data: a run directory defaults to the data it was trained on (mnist-5k would not fit 3x16x16).
    for name in ("conv-vae", "dcgan"):
        assert _zoo("-q", "sample", runs[name], "-n", 4, "--out", tmp_path / f"{name}-s.png") == 0
        _rgb(tmp_path / f"{name}-s.png")
    assert _zoo("-q", "reconstruct", runs["conv-vae"], "--out", tmp_path / "vae-r.png") == 0
    assert _zoo("-q", "reconstruct", runs["conv-dae"], "--out", tmp_path / "dae-r.png") == 0
    vae_grid, dae_grid = _rgb(tmp_path / "vae-r.png"), _rgb(tmp_path / "dae-r.png")
    assert dae_grid.height > vae_grid.height  # noisy, denoised and clean rows against originals and outputs
    assert _zoo("-q", "encode", runs["conv-vae"], "--out", tmp_path / "z.npy") == 0
    assert np.load(tmp_path / "z.npy").shape == (8, 4)  # the 8 test images, latent_dim 4
    for name in ("conv-vae", "conv-dae"):
        assert _zoo("-q", "interpolate", runs[name], "--out", tmp_path / f"{name}-i.png", "--steps", 4) == 0
        _rgb(tmp_path / f"{name}-i.png")
    # The gan has no encoder: one error line, not a crash.
    assert _zoo("-q", "interpolate", runs["dcgan"], "--out", tmp_path / "gan-i.png") == 2


def test_a_colour_denoiser_takes_a_gray_photograph_as_rgb(runs: dict[str, Path], tmp_path: Path) -> None:
    photo = tmp_path / "gray.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, size=(20, 30), dtype=np.uint8)).save(photo)
    assert _zoo("-q", "reconstruct", runs["conv-dae"], "--data", photo, "--out", tmp_path / "gray-r.png") == 0
    assert _rgb(tmp_path / "gray-r.png").width >= 30  # the photograph at its own size, in three channels


def test_eval_on_colour_runs(runs: dict[str, Path], tmp_path: Path) -> None:
    assert _zoo("-q", "eval", runs["conv-dae"], "--seeds", 1) == 0
    written = json.loads((runs["conv-dae"] / "metrics.json").read_text())
    assert written["dataset"] == str(runs["data"]) and {"psnr", "psnr_gain"} <= set(written["metrics"])
    # A generator of colour images is scored in the feature space of a classifier of that shape.
    if "digit-cnn" not in zoo.list_models():
        pytest.skip("the classifier architecture comes from genzoo-dense, which is not installed or is blocked")
    torch.manual_seed(0)
    zoo.save(zoo.create("digit-cnn", data_shape=SHAPE, channels=(4, 8), feature_dim=8), tmp_path / "classifier")
    for name in ("dcgan", "conv-vae"):
        assert _zoo("-q", "eval", runs[name], "--seeds", 1, "--num-samples", 16,
                    "--classifier", tmp_path / "classifier") == 0
        metrics = json.loads((runs[name] / "metrics.json").read_text())["metrics"]
        assert {"fd", "precision", "class_entropy"} <= set(metrics)
    assert {"mse", "elbo"} <= set(metrics)  # the VAE also gets its reconstruction metrics


def test_push_pull_publish_colour_models(runs: dict[str, Path], hub: HubServer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    assert _zoo("-q", "push", runs["conv-vae"], "alice/conv-vae-rgb", "--token-file", token_file) == 0
    card = Path(hf_hub_download("alice/conv-vae-rgb", "README.md", endpoint=hub.endpoint)).read_text()
    assert "`3x16x16` (channels x height x width)" in card and "of 3 channels, 16 x 16 pixels" in card
    assert "variational-autoencoder" in card and "![samples](samples.png)" in card
    assert "fully convolutional" not in card  # a dense code fixes the size
    assert _zoo("-q", "push", runs["conv-dae"], "alice/conv-dae-rgb", "--token-file", token_file) == 0
    card = Path(hf_hub_download("alice/conv-dae-rgb", "README.md", endpoint=hub.endpoint)).read_text()
    assert "of 3 channels, 16 x 16 pixels" in card and "other heights and widths" in card

    assert _zoo("-q", "pull", "alice/conv-vae-rgb", "--out", tmp_path / "pulled") == 0
    assert _same_weights(zoo.load(tmp_path / "pulled"), zoo.load(runs["conv-vae"]))
    assert _zoo("-q", "sample", "hf-hub:alice/conv-vae-rgb", "-n", 4, "--out", tmp_path / "hub.png") == 0
    _rgb(tmp_path / "hub.png")

    # publish: a plugin's pretrained entry, shipped in a folder and registered through zoo_weights.
    folder = tmp_path / "entries" / "dcgan.rgb-tiny"
    folder.mkdir(parents=True)
    files = {}
    for file in ("config.json", "model.safetensors", "samples.png"):
        data = (runs["dcgan"] / file).read_bytes()
        (folder / file).write_bytes(data)
        files[file] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    config = json.loads((folder / "config.json").read_text())["config"]
    entry = zoo.WeightsEntry(name="dcgan.rgb-tiny", architecture="dcgan", config=config, files=files,
                             dataset="rgb", command="zoo train dcgan --steps 2 ...", seed=0, note="a test entry")
    (folder / "entry.json").write_text(entry.model_dump_json())

    class Entries:
        @zoo.hookimpl
        def zoo_weights(self) -> list[zoo.WeightsEntry]:
            return zoo.entries_from_folder(tmp_path / "entries")

    zoo.register_plugin(Entries(), name="conv-cli-entries")
    try:
        assert _zoo("-q", "publish", "dcgan.rgb-tiny", "alice/dcgan-rgb", "--token-file", token_file) == 0
        card = Path(hf_hub_download("alice/dcgan-rgb", "README.md", endpoint=hub.endpoint)).read_text()
        assert "`3x16x16`" in card and "of 3 channels" in card and "![samples](samples.png)" in card
        assert _same_weights(zoo.load("hf-hub:alice/dcgan-rgb", endpoint=hub.endpoint), zoo.load("dcgan.rgb-tiny"))
    finally:
        zoo.unregister_plugin("conv-cli-entries")
