"""The ``photos`` dataset genzoo-conv registers: crops of scikit-image's colour photographs (skipped without it)."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.conv

skimage_data = pytest.importorskip("skimage.data", reason="the photos dataset needs scikit-image")


def test_photos_is_registered_by_the_plugin() -> None:
    from zoo.data import load_dataset

    test = load_dataset("photos", "test")
    assert test.images.shape == (48, 3, 64, 64) and test.images.dtype == torch.float32 and test.labels is None
    assert 0.0 <= float(test.images.min()) and float(test.images.max()) <= 1.0


def test_the_splits_hold_distinct_photographs_all_in_colour() -> None:
    from zoo_conv import photos

    assert set(photos.TEST_PHOTOS) == {"astronaut", "coffee"}
    assert not set(photos.TEST_PHOTOS) & set(photos.TRAIN_PHOTOS)
    for name in (*photos.TRAIN_PHOTOS, *photos.TEST_PHOTOS):
        image = photos.photo(name)
        assert image.shape[0] == 3 and min(image.shape[1:]) >= photos.CROP
        assert not (image[0] == image[1]).all(), f"{name} is grey"


def test_test_crops_come_from_astronaut_and_coffee_and_are_the_same_every_time() -> None:
    from zoo_conv import photos

    crops = photos.load("test").images.numpy()  # uint8 (48, 3, 64, 64): 24 of astronaut, then 24 of coffee
    assert (crops == photos.load("test").images.numpy()).all()
    for crop, name in ((crops[0], "astronaut"), (crops[-1], "coffee")):
        image = photos.photo(name)
        corners = zip(*((image[:, :-63, :-63] == crop[:, :1, :1]).all(axis=0)).nonzero(), strict=True)
        assert any((image[:, y:y + 64, x:x + 64] == crop).all() for y, x in corners), name


def test_the_train_split_is_thousands_of_crops() -> None:
    from zoo.data import load_dataset
    from zoo_conv import photos

    train = load_dataset("photos", "train")
    assert train.images.shape == (photos.TRAIN_CROPS, 3, 64, 64) and train.labels is None


def test_augment_keeps_the_shape_and_moves_pixels_randomly() -> None:
    from zoo_conv import photos

    torch.manual_seed(0)
    images = torch.rand(16, 3, 64, 64)
    first, second = photos.augment(images), photos.augment(images)
    assert first.shape == images.shape and not torch.equal(first, second)
    assert set(first.unique().tolist()) <= set(images.unique().tolist())  # pixels are moved, never invented
    assert photos.augment(torch.rand(2, 1, 5, 9)).shape == (2, 1, 5, 9)  # small and non-square


def test_flat_training_crops_are_left_out() -> None:
    from zoo_conv import photos

    crops = photos.load("train").images.float()
    assert float(crops.flatten(1).std(dim=1).min()) >= photos.FLAT_STD
