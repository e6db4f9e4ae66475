"""zoo._images: image grids and training plots."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from zoo._images import (
    check_output_path,
    comparison_grid,
    image_grid,
    interpolation_strip,
    reconstruction_grid,
    save_image_grid,
    save_latent_plot,
    save_loss_curve,
)
from zoo.errors import ConfigError, DataError


def _png(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG"
        return image


def test_grid_size_and_modes() -> None:
    images = torch.zeros(10, 1, 28, 28)
    images[6] = 1.0  # row 1, column 1 with 5 per row
    grid = image_grid(images, nrow=5, padding=2, scale=2)
    assert grid.mode == "L"
    assert grid.size == (5 * (56 + 2) + 2, 2 * (56 + 2) + 2)
    assert grid.getpixel((2 + 58 + 10, 2 + 58 + 10)) == 255
    assert grid.getpixel((1, 1)) == 0
    rgb = image_grid(torch.rand(5, 3, 4, 4))
    assert rgb.mode == "RGB" and rgb.size == (3 * 6 + 2, 2 * 6 + 2)  # default: ceil(sqrt(5)) = 3 per row


def test_grid_clamps_out_of_range_values() -> None:
    grid = image_grid(torch.tensor([[[[2.0, -1.0]]]]), padding=0)
    assert [grid.getpixel((0, 0)), grid.getpixel((1, 0))] == [255, 0]


def test_grid_refuses_bad_shapes() -> None:
    with pytest.raises(DataError, match="expected a \\(N, C, H, W\\) tensor"):
        image_grid(torch.zeros(2, 2, 4, 4))
    with pytest.raises(DataError, match="at least one"):
        image_grid(torch.zeros(0, 1, 4, 4))


def test_save_image_grid_is_atomic(tmp_path: Path) -> None:
    path = save_image_grid(torch.rand(4, 1, 8, 8), tmp_path / "out" / "grid.png", scale=3)
    assert _png(path).size == (2 * 26 + 2, 2 * 26 + 2)
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]  # no temporary file left behind
    with pytest.raises(ValueError, match="suffix"):
        save_image_grid(torch.rand(1, 1, 2, 2), tmp_path / "grid")
    with pytest.raises((ValueError, KeyError)):
        save_image_grid(torch.rand(1, 1, 2, 2), tmp_path / "grid.notaformat")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_reconstruction_grid(tmp_path: Path) -> None:
    originals, reconstructions = torch.ones(3, 1, 4, 4), torch.zeros(3, 1, 4, 4)
    image = _png(reconstruction_grid(originals, reconstructions, tmp_path / "r.png", nrow=2, padding=0))
    # Two rows of originals (the second padded with a blank), then two rows of reconstructions.
    assert image.size == (8, 16)
    assert [image.getpixel((1, y)) for y in (1, 5, 9, 13)] == [255, 255, 0, 0]
    assert image.getpixel((5, 5)) == 0
    with pytest.raises(DataError, match="same shape"):
        reconstruction_grid(originals, torch.zeros(2, 1, 4, 4), tmp_path / "x.png")


def test_interpolation_strip(tmp_path: Path) -> None:
    def decoder(z: torch.Tensor) -> torch.Tensor:
        return z[:, :1, None, None].expand(-1, 3, 5, 5)

    path = interpolation_strip(decoder, torch.zeros(2), torch.ones(1, 2), 7, tmp_path / "i.png", padding=1)
    image = _png(path)
    assert image.mode == "RGB" and image.size == (7 * 6 + 1, 7)
    assert image.getpixel((1, 1)) == (0, 0, 0) and image.getpixel((7 * 6 - 1, 1)) == (255, 255, 255)


def test_loss_curve(tmp_path: Path) -> None:
    metrics = [
        {"step": step, "loss/generator": 1.0 / (step + 1), "loss/discriminator": 0.5, "lr": 1e-3}
        for step in range(50)
    ]
    metrics.append({"step": 50, "loss/generator": float("nan")})
    assert _png(save_loss_curve(metrics, tmp_path / "loss.png", smoothing=0.6)).size[0] > 100
    assert _png(save_loss_curve([{"step": 0, "loss": torch.tensor(1.0)}], tmp_path / "one.png")).size[0] > 100
    with pytest.raises(DataError, match="no finite loss values"):
        save_loss_curve([{"step": 0, "lr": 1.0}], tmp_path / "none.png")
    with pytest.raises(DataError, match="no 'step'"):
        save_loss_curve([{"loss": 1.0}], tmp_path / "none.png")


@pytest.mark.parametrize("dims", [1, 2, 6])
def test_latent_plot(tmp_path: Path, dims: int) -> None:
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(60, dims, generator=generator)
    labels = torch.arange(60) % 10 if dims > 1 else None
    state = torch.random.get_rng_state()
    _png(save_latent_plot(latents, labels, tmp_path / "z.png"))
    assert torch.equal(state, torch.random.get_rng_state())  # the projection leaves the global RNG alone


def test_latent_plot_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="NaN"):
        save_latent_plot(torch.full((3, 2), float("nan")), None, tmp_path / "z.png")
    with pytest.raises(DataError, match=r"expected \(3,\)"):
        save_latent_plot(torch.zeros(3, 2), torch.zeros(2), tmp_path / "z.png")


def test_comparison_grid_puts_each_set_in_its_rows(tmp_path: Path) -> None:
    sets = [torch.full((3, 1, 4, 4), value) for value in (0.2, 0.6, 1.0)]
    image = _png(comparison_grid(sets, tmp_path / "c.png", padding=1))
    assert image.size == (3 * 5 + 1, 3 * 5 + 1)
    for row, value in enumerate((0.2, 0.6, 1.0)):
        assert image.getpixel((1 + 2, 1 + row * 5 + 2)) == round(value * 255)
    with pytest.raises(DataError, match="expected sets of one shape"):
        comparison_grid([sets[0], torch.zeros(2, 1, 4, 4)], tmp_path / "d.png")
    many = comparison_grid([torch.rand(20, 1, 2, 2), torch.rand(20, 1, 2, 2)], tmp_path / "e.png", padding=0)
    assert _png(many).size == (16 * 2, 4 * 2)  # 20 images wrap onto two rows per set, 16 per row


@pytest.mark.parametrize(("path", "message"), [
    ("grid.foo", "suffix '.foo'"), ("grid", "has no suffix"), ("/dev/null", "character device"),
])
def test_output_paths_are_checked_before_writing(path: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_output_path(path)


def test_a_device_or_folder_is_never_replaced(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="it is a character device"):
        save_image_grid(torch.rand(1, 1, 2, 2), "/dev/null")
    link = tmp_path / "grid.png"
    link.symlink_to("/dev/null")
    with pytest.raises(ConfigError, match="it is a character device"):
        save_image_grid(torch.rand(1, 1, 2, 2), link)
    assert Path("/dev/null").is_char_device() and link.is_symlink()
    folder = tmp_path / "out.png"
    folder.mkdir()
    with pytest.raises(ConfigError, match="it is a folder"):
        save_image_grid(torch.rand(1, 1, 2, 2), folder)
    assert folder.is_dir() and not list(tmp_path.glob(".out*"))
