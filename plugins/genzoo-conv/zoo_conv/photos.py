"""The ``photos`` dataset: 64x64 RGB crops of the colour photographs scikit-image ships (offline, no download).

- test split: 24 crops of each of ``astronaut`` and ``coffee`` (48 crops), never seen in training: the protocol
  of the denoising benchmark;
- train split: crops of the other colour photographs (``chelsea``, ``rocket``, both views of
  ``stereo_motorcycle``, ``hubble_deep_field``, ``immunohistochemistry``, ``retina``), the same number from each
  (so that the large, mostly dark ``retina`` and ``hubble_deep_field`` do not outweigh the photographs of
  everyday subjects), flat crops (black sky, black borders) left out.

Crop positions are drawn from fixed seeds, so both splits are the same on every machine. At training time
(:func:`augment`, the spec's ``augment``) every batch is randomly flipped, transposed and shifted within a
reflection-padded border, so that a run never sees the same crop twice. Needs scikit-image:
``pip install 'genzoo-conv[photos]'``.
"""

from __future__ import annotations

import functools
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

import zoo

CROP = 64
TEST_PHOTOS = ("astronaut", "coffee")
TRAIN_PHOTOS = ("chelsea", "rocket", "motorcycle_left", "motorcycle_right", "hubble_deep_field",
                "immunohistochemistry", "retina")
TEST_CROPS_PER_PHOTO = 24
TRAIN_CROPS = 8192
SEEDS = {"train": 17, "test": 25}
SHIFT = 8  # training crops move by up to this many pixels in each direction
FLAT_STD = 4.0  # a training crop whose pixels vary less than this (out of 255) is drawn again
EXTRA = "pip install 'genzoo-conv[photos]'"


def dataset() -> zoo.DatasetSpec:
    return zoo.DatasetSpec(
        name="photos",
        load=load,
        description=f"{CROP}x{CROP} crops of scikit-image's colour photographs, 3x{CROP}x{CROP} (train "
        f"{TRAIN_CROPS:,} crops of {len(TRAIN_PHOTOS)} photos, flipped and shifted in training / test "
        f"{TEST_CROPS_PER_PHOTO} crops of each of {' and '.join(TEST_PHOTOS)}); needs scikit-image",
        augment=augment,
    )


def _skimage_data() -> ModuleType:
    try:
        import skimage.data
    except ImportError as exc:
        raise ImportError(f"the 'photos' dataset needs scikit-image: {EXTRA}") from exc
    return skimage.data


def _read(name: str) -> object:
    data = _skimage_data()
    if name.startswith("motorcycle_"):  # stereo_motorcycle() is (left, right, disparity)
        left, right, _ = data.stereo_motorcycle()
        return left if name == "motorcycle_left" else right
    return getattr(data, name)()


@functools.cache
def photo(name: str) -> np.ndarray:
    """One of scikit-image's colour photographs as uint8 ``(3, H, W)``, read once per process
    (``motorcycle_left`` and ``motorcycle_right`` are the two views of ``stereo_motorcycle``)."""
    image = np.asarray(_read(name))
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise zoo.errors.DataError(f"scikit-image's {name!r} is {image.dtype} {image.shape}, not an RGB photograph; "
                                   f"reinstall scikit-image ({EXTRA} --force-reinstall)")
    array = np.ascontiguousarray(image.transpose(2, 0, 1))
    array.flags.writeable = False  # the cached copy is shared by every later load
    return array


def random_crops(image: np.ndarray, count: int, rng: np.random.Generator, *, skip_flat: bool = False
                 ) -> np.ndarray:
    """``count`` crops ``(count, C, CROP, CROP)`` of ``image`` ``(C, H, W)`` at uniform random positions.

    ``skip_flat`` draws twice as many and keeps those that are not flat (pixel std of at least ``FLAT_STD``, out
    of 255), such as the black sky of ``hubble_deep_field`` and the black border of ``retina``: nothing to learn.
    """
    _, height, width = image.shape
    draws = 2 * count if skip_flat else count
    ys = rng.integers(0, height - CROP + 1, draws)
    xs = rng.integers(0, width - CROP + 1, draws)
    crops = np.stack([image[:, y:y + CROP, x:x + CROP] for y, x in zip(ys, xs, strict=True)])
    if skip_flat:
        textured = crops.reshape(draws, -1).std(axis=1) >= FLAT_STD
        crops = np.concatenate([crops[textured], crops[~textured]])  # flat ones only if too few are textured
    return crops[:count]


def augment(images: Tensor) -> Tensor:
    """Each image of a training batch ``(N, C, H, W)`` flipped left-right and upside-down with probability 1/2
    each, transposed with probability 1/2 when square (the eight symmetries of a square), and shifted by up to
    ``SHIFT`` pixels each way inside its reflection-padded border (a random crop that keeps the size)."""
    n, c, h, w = images.shape
    device = images.device

    def coin() -> Tensor:
        return torch.rand(n, 1, 1, 1, device=device) < 0.5

    images = torch.where(coin(), images.flip(3), images)
    images = torch.where(coin(), images.flip(2), images)
    if h == w:
        images = torch.where(coin(), images.transpose(2, 3), images)
    pad = min(SHIFT, h - 1, w - 1)
    if pad < 1:
        return images
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")  # (N, C, H + 2 pad, W + 2 pad)
    dy = torch.randint(0, 2 * pad + 1, (n, 1, 1), device=device)
    dx = torch.randint(0, 2 * pad + 1, (n, 1, 1), device=device)
    rows = torch.arange(h, device=device).view(1, h, 1) + dy  # (N, H, 1)
    cols = torch.arange(w, device=device).view(1, 1, w) + dx  # (N, 1, W)
    index = (rows * (w + 2 * pad) + cols).flatten(1)  # (N, H*W) positions in each padded plane
    return padded.flatten(2).gather(2, index.unsqueeze(1).expand(n, c, h * w)).view(n, c, h, w)


@functools.cache
def _crops(split: str) -> torch.Tensor:
    rng = np.random.default_rng(SEEDS[split])
    if split == "test":
        parts = [random_crops(photo(name), TEST_CROPS_PER_PHOTO, rng) for name in TEST_PHOTOS]
    else:
        counts = np.full(len(TRAIN_PHOTOS), TRAIN_CROPS // len(TRAIN_PHOTOS))
        counts[0] += TRAIN_CROPS - counts.sum()  # the rounding remainder
        parts = [random_crops(photo(name), int(n), rng, skip_flat=True)
                 for name, n in zip(TRAIN_PHOTOS, counts, strict=True)]
    return torch.from_numpy(np.concatenate(parts))  # uint8 (N, 3, CROP, CROP); zoo scales it to [0, 1]


def load(split: str) -> zoo.Data:
    """The ``split`` ("train" or "test") of the photos dataset: uint8 crops, no labels."""
    return zoo.Data(images=_crops(split))
