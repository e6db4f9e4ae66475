"""The fully convolutional conv models declare the sizes they take (zoo.FlexibleSize), so that ``zoo reconstruct``
runs them on whole photographs, and ``zoo eval`` scores a photo model without a feature classifier.

Skipped when the plugin is not installed or is blocked (``ZOO_BLOCK_PLUGINS=conv``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from zoo.cli import main
from zoo.data import check_compatible
from zoo.errors import DataError

pytestmark = pytest.mark.conv  # the first-party conv models: skipped when genzoo-conv is missing or blocked


def _photo(path: Path, height: int, width: int) -> Path:
    pixels = np.random.default_rng(0).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_the_fully_convolutional_models_say_which_sizes_they_take() -> None:
    dae = zoo.create("conv-dae", data_shape=(3, 8, 8), depth=2, width=4)
    assert isinstance(dae, zoo.FlexibleSize) and dae.nearest_size(301, 203) == (301, 203)
    for name in ("conv-ae", "conv-vae"):
        spatial = zoo.create(name, data_shape=(3, 16, 16), channels=(4, 4), bottleneck="spatial", latent_channels=2)
        assert spatial.nearest_size(301, 203) == (300, 204) and spatial.nearest_size(1, 2) == (4, 4)
        dense = zoo.create(name, data_shape=(3, 16, 16), channels=(4, 4))
        assert dense.nearest_size(301, 203) == (16, 16)  # a dense bottleneck takes data_shape only
    spatial = zoo.create("conv-ae", data_shape=(3, 16, 16), channels=(4, 4), bottleneck="spatial")
    check_compatible((3, 16, 16), torch.zeros(1, 3, 300, 204), "photo", model=spatial)
    with pytest.raises(DataError, match="not 301x203 pixels; the nearest size it takes is 300x204"):
        check_compatible((3, 16, 16), torch.zeros(1, 3, 301, 203), "photo", model=spatial)


def test_reconstruct_denoises_a_whole_photograph_in_colour(tmp_path: Path) -> None:
    torch.manual_seed(0)
    run = zoo.save(zoo.create("conv-dae", data_shape=(3, 8, 8), depth=2, width=4), tmp_path / "dae")
    photo = _photo(tmp_path / "photo.png", 151, 133)  # any size, trained on 8x8
    out = tmp_path / "denoised.png"
    assert main(["reconstruct", str(run), "--data", str(photo), "--out", str(out), "-q"]) == 0
    with Image.open(out) as picture:  # noisy, denoised and clean side by side
        assert picture.mode == "RGB" and picture.size == (3 * 133 + 4 * 2, 151 + 2 * 2)


def test_reconstruct_runs_a_spatial_autoencoder_on_a_photograph(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = zoo.create("conv-ae", data_shape=(3, 16, 16), channels=(4, 4), bottleneck="spatial", latent_channels=2)
    run = zoo.save(model, tmp_path / "ae")
    photo = _photo(tmp_path / "photo.png", 160, 132)
    out = tmp_path / "reconstructed.png"
    assert main(["reconstruct", str(run), "--data", str(photo), "--out", str(out), "-q"]) == 0
    with Image.open(out) as picture:  # original and reconstruction side by side
        assert picture.size == (2 * 132 + 3 * 2, 160 + 2 * 2)
