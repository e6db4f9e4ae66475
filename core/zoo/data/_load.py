"""``load_dataset``: one entry point for registered datasets and user files."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from zoo._names import NAME_PATTERN
from zoo._registry import get_registry
from zoo._specs import Data, Split
from zoo.data._checks import check_split, validate_data
from zoo.data._files import ARRAY_SUFFIXES, IMAGE_SUFFIXES, is_image_source, load_native, load_path
from zoo.data._stream import StreamedData
from zoo.errors import DataError, UnknownNameError

if TYPE_CHECKING:
    from torch import Tensor

logger = logging.getLogger(__name__)


@overload
def load_dataset(name_or_path: str | os.PathLike[str], split: Split = "train", *, channels: int | None = None,
                 image_size: int | tuple[int, int] | None = None, stream: Literal[False] = False) -> Data: ...


@overload
def load_dataset(name_or_path: str | os.PathLike[str], split: Split = "train", *, channels: int | None = None,
                 image_size: int | tuple[int, int] | None = None, stream: bool | None) -> Data | StreamedData: ...


def load_dataset(name_or_path: str | os.PathLike[str], split: Split = "train", *, channels: int | None = None,
                 image_size: int | tuple[int, int] | None = None, stream: bool | None = False) -> Data | StreamedData:
    """One checked split of a dataset: float32 images ``(N, C, H, W)`` in [0, 1] and int64 labels or None.

    ``name_or_path`` is a registered dataset name (``mnist-5k``, ``digits``, or one from a plugin) or a path:

    - a ``.npy`` file holding the images;
    - a ``.npz`` file with arrays ``images`` (or ``x``, or a single array of any name), optionally ``labels``
      (or ``y``), and optionally an explicit test set ``test_images`` / ``test_labels``;
    - a ``.pt`` file holding a tensor or a dict of tensors with the same names, read with
      ``torch.load(weights_only=True)`` so that it can never run code;
    - a folder of .png/.jpg/.jpeg/.bmp/.gif/.webp images, either directly in it (no labels) or in class
      subfolders (label = index of the subfolder in sorted order). ``channels`` (1 or 3) defaults to 1 when
      every image is grayscale, else 3 (alpha is dropped, with a note in the log); ``image_size`` (an int or
      ``(height, width)``) defaults to the first image's size, and other images are resized to it
      (:func:`load_images` reads each at its own size);
    - a single image file of those types: a set of one image.

    Arrays may be ``(N, C, H, W)`` with C from 1 to 64, ``(N, H, W)`` or ``(N, D)`` with D a perfect square;
    ``uint8`` (0..255) or floats in [0, 1]. Without an explicit test set, a user file's "test" split is a
    deterministic 20% holdout (every fifth sample, ``i % 5 == 4``) and its "train" split is the other 80%, so
    the two never overlap; a set of one image is the whole of both splits. A string that is a registered name
    wins over a folder of the same name; write ``./name`` for the folder. Raises :class:`zoo.errors.DataError`
    for anything unusable, before training.

    Data larger than memory: with ``stream=None`` (what the trainer passes) a ``.npy`` file or an image folder
    whose float32 copy would exceed 1 GiB (or a quarter of the available memory) is returned as a
    :class:`zoo.data.StreamedData`, which the trainer reads batch by batch; ``stream=True`` always streams one,
    the default ``False`` never does. Only regular files are ever opened (a FIFO,
    device or socket is refused by name), and an ``.npz`` member's size is checked from the archive's
    directory and its header before anything is decompressed.
    """
    split = check_split(split)
    text = os.fspath(name_or_path)
    if _names_dataset(name_or_path):
        return _load_registered(text, split, channels=channels, image_size=image_size)
    return load_path(Path(text).expanduser(), split, channels=channels, image_size=image_size, stream=stream)


def load_images(name_or_path: str | os.PathLike[str], split: Split = "test", *,
                count: int | None = None, channels: int | None = None) -> list[Tensor]:
    """The images of one split, one by one at their own sizes: float32 ``(C, H, W)`` tensors in [0, 1].

    For models that take images of any size (:class:`zoo.protocols.FlexibleSize`): an image file or a folder of
    images is read without resizing (every image is converted to the folder's channel count: 1 when all are gray,
    else 3); any other dataset gives the images of :func:`load_dataset`. The split follows the same rule (a single
    image is both splits). ``count`` keeps that many images evenly spaced through the split (all by default), and
    only those are decoded. ``channels`` (1 or 3) converts an image file's or folder's images to that many
    channels (a gray photograph read as RGB for a colour model); other sources keep their own.
    """
    split = check_split(split)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise DataError(f"count={count!r}: give a positive number of images, or None for all of them")
    path = Path(os.fspath(name_or_path)).expanduser()
    if not _names_dataset(name_or_path) and is_image_source(path):
        return load_native(path, split, count=count, channels=channels)
    data = load_dataset(name_or_path, split)
    return list((data if count is None else data.spread(count)).images)


def training_augment(name_or_path: str | os.PathLike[str]) -> Callable[[Tensor], Tensor] | None:
    """The training-time augmentation of a registered dataset (``DatasetSpec.augment``); None for a path."""
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or not _is_name(text):
        return None
    registry = get_registry()
    return registry.datasets[text].augment if text in registry.datasets else None


def _names_dataset(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether ``name_or_path`` means a registered dataset: a name (not a PathLike) that is registered, or that no
    file or folder has (so that the error is about the name)."""
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or not _is_name(text):
        return False
    registry = get_registry()
    return text in registry.datasets or ("dataset", text) in registry.conflicts or not Path(text).exists()


def _is_name(text: str) -> bool:
    # A dataset name has no separators or file suffix; anything else is read as a path.
    suffix = Path(text).suffix.lower()
    return bool(NAME_PATTERN.match(text)) and suffix not in ARRAY_SUFFIXES + IMAGE_SUFFIXES


def _load_registered(name: str, split: Split, *, channels: int | None,
                     image_size: int | tuple[int, int] | None) -> Data:
    try:
        spec = get_registry().dataset(name)
    except UnknownNameError as exc:
        raise UnknownNameError(f"{exc}; or pass the path of a {', '.join(ARRAY_SUFFIXES)} file or of a folder of "
                               "images", name=name) from None
    if channels is not None or image_size is not None:
        raise DataError(f"dataset {name!r}: channels and image_size apply to image folders only")
    where = f"dataset {name!r} ({split} split)"
    data = validate_data(spec.load(split), where=where)
    logger.debug("%s: %d images of shape %s", where, data.images.shape[0], tuple(data.images.shape[1:]))
    return data
