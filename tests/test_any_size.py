"""Models that take images of any size (zoo.FlexibleSize), photographs as data, channel counts, and evaluation on
data that names no feature classifier: the core carries them with no family-specific code.

The any-size model is defined here, registered as a stranger's plugin would be: a one-layer residual convolution
that takes sides that are multiples of ``step``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import Field
from torch import Tensor, nn

import zoo
import zoo.data
from zoo.cli import main
from zoo.data import check_compatible, load_dataset, load_images
from zoo.errors import ConfigError, DataError
from zoo.protocols import FlexibleSize, takes_size

from _probe import VAE

ANY = "any-size-denoiser"


class AnySizeConfig(zoo.ModelConfig):
    data_shape: tuple[int, int, int] = (3, 8, 8)
    step: int = Field(4, ge=1, le=16, description="sides must be multiples of this")

    def parameter_count(self) -> int:
        channels = self.data_shape[0]
        return channels * channels * 9 + channels


class AnySizeDenoiser(nn.Module):
    """``forward``: ``(N, C, H, W)`` -> the same, for H and W multiples of ``step`` (zoo.FlexibleSize, zoo.Denoiser)."""

    def __init__(self, config: AnySizeConfig) -> None:
        super().__init__()
        self.config = config
        self.conv = nn.Conv2d(config.data_shape[0], config.data_shape[0], 3, padding=1)

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def nearest_size(self, height: int, width: int) -> tuple[int, int]:
        step = self.config.step
        return max(step, (height + step // 2) // step * step), max(step, (width + step // 2) // step * step)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[2] % self.config.step or x.shape[3] % self.config.step:
            raise ValueError(f"sides must be multiples of {self.config.step}, got {tuple(x.shape)}")
        return (x - 0.1 * self.conv(x)).clamp(0.0, 1.0)  # (N, C, H, W)

    def encode(self, x: Tensor) -> Tensor:
        return self(x).flatten(1)  # (N, C*H*W)

    def decode(self, z: Tensor) -> Tensor:
        return z.view(-1, *self.config.data_shape)  # (N, C, H, W)

    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return (x + 0.1 * torch.randn(x.shape, generator=generator)).clamp(0.0, 1.0)


class AnySizePlugin:
    @zoo.hookimpl
    def zoo_models(self) -> list[zoo.ModelSpec]:
        return [zoo.ModelSpec(name=ANY, config=AnySizeConfig, build=AnySizeDenoiser)]


@pytest.fixture(scope="module", autouse=True)
def any_size_model(probe_models: object) -> Iterator[None]:
    zoo.register_plugin(AnySizePlugin(), name="zoo-test-any-size")
    try:
        yield
    finally:
        zoo.unregister_plugin("zoo-test-any-size")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return zoo.save(zoo.create(ANY), tmp_path_factory.mktemp("any-size"))


def _photo(path: Path, height: int, width: int, mode: str = "RGB", seed: int = 0) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, len(mode)), dtype=np.uint8)
    Image.fromarray(pixels if len(mode) > 1 else pixels[..., 0], mode).save(path)
    return path


def _one_error_line(code: int, err: str, pattern: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("zoo: error: "), err
    assert re.search(pattern, lines[0]), lines[0]


# -- the protocol and the shape check ------------------------------------------------------------------------------


def test_check_compatible_takes_the_sizes_a_flexible_model_accepts() -> None:
    model = zoo.create(ANY)
    assert isinstance(model, FlexibleSize) and takes_size(model, 8, 8) == (True, (8, 8))
    check_compatible((3, 8, 8), torch.zeros(2, 3, 12, 16), "photos", model=model)
    with pytest.raises(DataError, match=r"photos: .* not 13x17 pixels; the nearest size it takes is 12x16: crop"):
        check_compatible((3, 8, 8), torch.zeros(1, 3, 13, 17), "photos", model=model)
    with pytest.raises(DataError, match=r"takes images of 3 channel\(s\), of many sizes, but the data has 1"):
        check_compatible((3, 8, 8), torch.zeros(1, 1, 12, 16), "photos", model=model)
    # Without the model (or for a model that takes one size) the shape must be exact, as before.
    with pytest.raises(DataError, match=r"takes images of shape \(3, 8, 8\).*--set data_shape=\[3,12,16\]"):
        check_compatible((3, 8, 8), torch.zeros(1, 3, 12, 16), "photos")


def test_a_nearest_size_that_is_not_a_size_is_a_bug_in_the_model() -> None:
    class Broken:
        def nearest_size(self, height: int, width: int) -> list[int]:
            return [height, width]

    with pytest.raises(TypeError, match=r"Broken.nearest_size\(5, 6\) returned \[5, 6\]; expected a \(height, width\)"):
        check_compatible((1, 4, 4), torch.zeros(1, 1, 5, 6), "x", model=Broken())


# -- data: one image, many sizes, many channels --------------------------------------------------------------------


def test_a_single_image_file_is_the_whole_set(tmp_path: Path) -> None:
    photo = _photo(tmp_path / "photo.png", 30, 20)
    train, test = load_dataset(photo), load_dataset(photo, "test")
    assert train.images.shape == test.images.shape == (1, 3, 30, 20) and test.labels is None
    assert torch.equal(train.images, test.images)
    assert load_dataset(str(photo), channels=1, image_size=8).images.shape == (1, 1, 8, 8)
    jpeg = _photo(tmp_path / "photo.jpg", 9, 7, mode="L")
    assert load_dataset(jpeg, "test").images.shape == (1, 1, 9, 7)


def test_two_to_four_images_leave_no_test_split_and_say_so(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((3, 4, 4), dtype=np.uint8))
    with pytest.raises(DataError, match="3 images leave no test split.*use the train split"):
        load_dataset(tmp_path / "x.npy", "test")
    np.save(tmp_path / "one.npy", np.zeros((1, 4, 4), dtype=np.uint8))
    assert load_dataset(tmp_path / "one.npy", "test").images.shape == (1, 1, 4, 4)


def test_load_images_reads_each_image_at_its_own_size(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index, (height, width) in enumerate([(12, 16), (20, 8), (8, 8), (16, 24), (4, 4), (12, 12)]):
        _photo(folder / f"{index}.png", height, width, seed=index)
    train = load_images(folder, "train")
    assert [tuple(image.shape) for image in train] == [(3, 12, 16), (3, 20, 8), (3, 8, 8), (3, 16, 24), (3, 12, 12)]
    assert [tuple(image.shape) for image in load_images(folder, "test")] == [(3, 4, 4)]
    assert [tuple(image.shape) for image in load_images(folder, "train", count=2)] == [(3, 12, 16), (3, 12, 12)]
    assert all(image.dtype == torch.float32 and 0 <= float(image.min()) <= float(image.max()) <= 1 for image in train)
    # Every image of a registered dataset or an array has the one shape of load_dataset.
    digits = load_images("digits", count=3)
    assert len(digits) == 3 and all(tuple(image.shape) == (1, 8, 8) for image in digits)
    with pytest.raises(DataError, match="count=0"):
        load_images("digits", count=0)


def test_arrays_take_any_channel_count_up_to_64(tmp_path: Path) -> None:
    for channels in (2, 5, 64):
        np.save(tmp_path / "x.npy", np.zeros((5, channels, 6, 6), dtype=np.uint8))
        assert load_dataset(tmp_path / "x.npy").images.shape == (4, channels, 6, 6)
    np.save(tmp_path / "x.npy", np.zeros((5, 65, 6, 6), dtype=np.uint8))
    with pytest.raises(DataError, match=r"C from 1 to 64"):
        load_dataset(tmp_path / "x.npy")
    for last in (1, 3, 4):  # a forgotten transpose is named, whatever the channel count
        with pytest.raises(DataError, match=r"looks channels-last.*permute\(0, 3, 1, 2\)"):
            zoo.data.validate_images(np.zeros((2, 28, 28, last), dtype=np.uint8), where="x")


def test_an_alpha_channel_is_dropped_with_a_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    photo = _photo(tmp_path / "logo.png", 6, 6, mode="RGBA")
    with caplog.at_level(logging.INFO, logger="zoo"):
        images = load_images(photo)
    assert tuple(images[0].shape) == (3, 6, 6)
    assert any("alpha channel, which is dropped" in record.getMessage() for record in caplog.records)


# -- zoo reconstruct on photographs --------------------------------------------------------------------------------


def test_reconstruct_writes_a_photograph_at_full_resolution(saved: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    photo = _photo(tmp_path / "photo.png", 140, 36)  # larger than a grid's images (128 pixels a side)
    out = tmp_path / "denoised.png"
    assert main(["reconstruct", str(saved), "--data", str(photo), "--out", str(out)]) == 0
    assert "one row per image at full resolution: noisy input, output, clean target" in capsys.readouterr().out
    with Image.open(out) as picture:  # noisy, denoised and clean side by side, 2 pixels apart, in colour
        assert picture.mode == "RGB" and picture.size == (3 * 36 + 4 * 2, 140 + 2 * 2)
        clean = np.asarray(picture)[2:142, 2 + 2 * 38:2 + 2 * 38 + 36]
    with Image.open(photo) as original:
        assert np.array_equal(clean, np.asarray(original))


def test_reconstruct_takes_a_folder_of_several_sizes_without_resizing(saved: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    _photo(folder / "a.png", 40, 36)
    _photo(folder / "b.jpg", 24, 200)
    out = tmp_path / "rows.png"
    assert main(["reconstruct", str(saved), "--data", str(folder), "--split", "train", "--out", str(out), "-q"]) == 0
    with Image.open(out) as picture:  # one row per photograph, each as tall as itself
        assert picture.size == (3 * 200 + 4 * 2, 40 + 24 + 3 * 2)


def test_reconstruct_names_the_nearest_size_the_model_takes(saved: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    photo = _photo(tmp_path / "odd.png", 41, 30)
    code = main(["reconstruct", str(saved), "--data", str(photo), "--out", str(tmp_path / "x.png")])
    _one_error_line(code, capsys.readouterr().err, r"not 41x30 pixels; the nearest size it takes is 40x32")
    # A gray photograph is an RGB one with three equal channels: a colour model takes it as that.
    gray = _photo(tmp_path / "gray.png", 40, 32, mode="L")
    assert main(["reconstruct", str(saved), "--data", str(gray), "--out", str(tmp_path / "x.png"), "-q"]) == 0
    with Image.open(tmp_path / "x.png") as picture:
        assert picture.mode == "RGB"
    # The other way would throw colour away: a one-channel model refuses a colour photograph by name.
    one = zoo.save(zoo.create(ANY, data_shape=(1, 8, 8)), tmp_path / "one-channel")
    code = main(["reconstruct", str(one), "--data", str(photo), "--out", str(tmp_path / "y.png")])
    _one_error_line(code, capsys.readouterr().err, r"1 channel\(s\), of many sizes, but the data has 3")


def test_small_images_of_one_size_keep_the_grid(saved: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "small.npy", np.random.default_rng(0).integers(0, 256, (10, 3, 8, 8), dtype=np.uint8))
    out = tmp_path / "grid.png"
    assert main(["reconstruct", str(saved), "--data", str(tmp_path / "small.npy"), "--out", str(out), "-q"]) == 0
    with Image.open(out) as picture:  # the 2 test images at twice their size: noisy, output and clean rows
        assert picture.size == (2 * (16 + 2) + 2, 3 * (16 + 2) + 2)


# -- zoo eval where the data names no feature classifier ----------------------------------------------------------


def test_eval_without_a_classifier_keeps_the_reconstruction_metrics(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path) -> None:
    torch.manual_seed(0)
    vae = zoo.create(VAE, data_shape=(1, 8, 8))  # an autoencoder that also samples
    result = zoo.evaluate(vae, data="digits", seeds=(0,), num_samples=16)
    assert set(result["metrics"]) == {"mse", "psnr", "probe_accuracy", "elbo"} and result["classifier"] is None
    (note,) = result["notes"]
    assert "generator metrics skipped" in note and "--classifier RUN" in note and "zoo train" in note
    run = zoo.save(vae, tmp_path / "vae")
    assert main(["eval", str(run), "--data", "digits", "--seeds", "1", "--num-samples", "16"]) == 0
    assert "note: generator metrics skipped" in capsys.readouterr().out


def test_eval_of_a_bare_generator_without_a_classifier_says_how_to_get_one() -> None:
    class Noise(nn.Module):
        def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
            return torch.rand(n, 1, 8, 8, generator=generator)

    with pytest.raises(ConfigError, match=r"cannot evaluate Noise on digits: .*none is registered for digits\. "
                                          r"Pass classifier= \(--classifier RUN\) .*of 1x8x8 images.*zoo train"):
        zoo.evaluate(Noise(), data="digits", seeds=(0,), num_samples=16)
