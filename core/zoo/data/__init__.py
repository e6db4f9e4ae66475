"""Datasets: the built-in ones, user files and folders, and the checks every split passes before training.

>>> from zoo.data import load_dataset
>>> train = load_dataset("mnist-5k")                 # Data(images (4000, 1, 28, 28) float32, labels (4000,))
>>> test = load_dataset("my_images/", split="test")  # a folder of images, 20% deterministic holdout
"""

from zoo.data._builtin import builtin_datasets
from zoo.data._checks import check_compatible, validate_images, validate_labels
from zoo.data._load import load_dataset, load_images
from zoo.data._stream import StreamedData

__all__ = [
    "StreamedData",
    "builtin_datasets",
    "check_compatible",
    "load_dataset",
    "load_images",
    "validate_images",
    "validate_labels",
]
