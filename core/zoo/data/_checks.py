"""Checks every dataset passes before training: shape, dtype, range, finiteness and size."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from zoo._specs import Data, Split
from zoo.errors import DataError
from zoo.protocols import FlexibleSize, takes_size

# Bounds that keep a hostile or mistaken file from exhausting memory: one side at most 4096 pixels, and at most
# 5e8 elements in a split, i.e. 2 GB once converted to float32.
MAX_SIDE = 4096
MAX_ELEMENTS = 500_000_000
# Arrays may hold any channel count up to this (multispectral bands, stacked frames); image files are gray or RGB.
MAX_CHANNELS = 64
IMAGE_CHANNELS = (1, 3)
# Every fifth sample (i % 5 == 4) is held out for the test split: the rule works on files sorted by class.
HOLDOUT_EVERY = 5


def validate_images(images: Any, *, where: str) -> Tensor:
    """``images`` as a float32 ``(N, C, H, W)`` tensor in [0, 1], or a :class:`DataError` naming ``where``.

    Accepts a tensor or numpy array shaped ``(N, C, H, W)`` with C from 1 to 64, ``(N, H, W)`` (one channel) or
    ``(N, D)`` with D a perfect square (flattened square one-channel images); dtype ``uint8`` (divided by 255)
    or floating point with every value finite and in [0, 1]. A float32 CPU tensor of the right shape is returned
    as is (not copied).
    """
    kind = _array_kind(images, where=where, what="images")
    if kind != "uint8" and kind != "float":
        hint = {
            "bool": "booleans are not pixel values; convert masks to uint8 0/255 or float 0/1",
            "complex": "take the real part or the magnitude first",
            "int": "save 8-bit pixels as uint8, or divide by the maximum value to get floats in [0, 1]",
        }.get(kind, "save the pixels as numbers")
        raise DataError(f"{where}: images have dtype {images.dtype}; expected uint8 (0..255) or floats in "
                        f"[0, 1] ({hint})")

    shape = tuple(int(d) for d in images.shape)
    new_shape = _nchw_shape(shape, where)
    if math.prod(new_shape) == 0:
        raise DataError(f"{where}: there are no images (shape {shape}); expected at least one image")
    _, _, height, width = new_shape
    if height > MAX_SIDE or width > MAX_SIDE:
        raise DataError(f"{where}: images are {height}x{width} pixels, larger than the {MAX_SIDE}x{MAX_SIDE} "
                        "limit; resize them first")
    if math.prod(new_shape) > MAX_ELEMENTS:
        raise DataError(f"{where}: {shape} holds {math.prod(new_shape):,} values, more than the "
                        f"{MAX_ELEMENTS:,} limit (2 GB as float32); use fewer or smaller images")
    span = _spanned_bytes(images)
    if span is not None:
        raise DataError(f"{where}: images of shape {shape} are a view of {span:,} bytes repeated (a broadcast or "
                        "overlapping-strides array, e.g. np.broadcast_to), which converting would expand to "
                        f"{math.prod(new_shape) * 4:,} bytes; pass the images themselves (np.ascontiguousarray if "
                        "you mean the copies)")

    if isinstance(images, np.ndarray) and kind == "float":
        images = images.astype(np.float32, copy=False)  # torch has no float128, and float32 is the target anyway
    tensor = _as_tensor(images).reshape(new_shape)
    if kind == "uint8":
        return tensor.to(torch.float32).div_(255.0)
    tensor = tensor.to(torch.float32).contiguous()
    finite = torch.isfinite(tensor)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise DataError(f"{where}: {bad:,} of {tensor.numel():,} pixel values are NaN or infinite; "
                        "expected finite values in [0, 1]")
    low, high = float(tensor.min()), float(tensor.max())
    if low < 0.0 or high > 1.0:
        hint = " (values look like 0..255: divide by 255 or store uint8)" if high <= 255.0 and low >= 0 else ""
        raise DataError(f"{where}: float pixel values range over [{low:g}, {high:g}]; expected [0, 1]{hint}")
    return tensor


def _spanned_bytes(value: np.ndarray | Tensor) -> int | None:
    """The bytes ``value`` really spans when that is less than its size (a stride 0 or overlapping strides), else
    None. Such an array is small in memory and as large as its shape once copied."""
    if isinstance(value, np.ndarray):
        shape, strides, item = value.shape, value.strides, value.itemsize  # strides in bytes
    else:
        shape, item = tuple(value.shape), value.element_size()
        strides = tuple(stride * item for stride in value.stride())
    if 0 in shape:
        return None
    span = item + sum((dim - 1) * abs(stride) for dim, stride in zip(shape, strides, strict=True))
    return span if span < math.prod(shape) * item else None


def _array_kind(value: Any, *, where: str, what: str) -> str:
    """The dtype family of a tensor or numpy array ("uint8", "int", "float", ...), or a DataError."""
    if isinstance(value, np.ndarray):
        return _numpy_kind(value.dtype)
    if isinstance(value, Tensor):
        return _torch_kind(value.dtype)
    raise DataError(f"{where}: expected {what} as a tensor or numpy array, got {type(value).__name__}")


def validate_labels(labels: Any, count: int, *, where: str) -> Tensor:
    """``labels`` as an int64 ``(count,)`` tensor of non-negative class indices, or a :class:`DataError`."""
    kind = _array_kind(labels, where=where, what="labels")
    if kind not in ("int", "uint8"):
        raise DataError(f"{where}: labels have dtype {labels.dtype}; expected integer class indices")
    shape = tuple(int(d) for d in labels.shape)
    if shape != (count,):
        raise DataError(f"{where}: labels have shape {shape}; expected ({count},), one label per image")
    if isinstance(labels, np.ndarray):
        labels = labels.astype(np.int64, copy=False)  # also covers uint64, which torch cannot index with
    tensor = _as_tensor(labels).to(torch.int64)
    if count and int(tensor.min()) < 0:
        raise DataError(f"{where}: labels include {int(tensor.min())}; expected class indices >= 0")
    return tensor


def check_compatible(data_shape: Sequence[int], images: Any, where: str, *, model: object = None) -> None:
    """Raise :class:`DataError` when a model built for ``data_shape`` (C, H, W) cannot take ``images``.

    ``images`` is anything with a ``shape`` ``(N, C, H, W)``: a tensor, or a :class:`StreamedData`. When ``model``
    implements :class:`zoo.protocols.FlexibleSize` (its ``forward`` takes other sizes), images of ``data_shape``'s
    channel count pass at any height and width its ``nearest_size`` accepts; the error for another size names the
    nearest one it takes.
    """
    expected = tuple(int(d) for d in data_shape)
    found = tuple(int(d) for d in images.shape[1:])
    if expected == found:
        return
    dims = ",".join(str(d) for d in found)
    rebuild = f"build the model for this data with `--set data_shape=[{dims}]` (or data_shape=[{dims}] in zoo.create)"
    if isinstance(model, FlexibleSize) and len(found) == 3 and len(expected) == 3:
        if found[0] != expected[0]:
            raise DataError(f"{where}: the model takes images of {expected[0]} channel(s), of many sizes, but the "
                            f"data has {found[0]} (shape {found}, C, H, W); convert the images to {expected[0]} "
                            f"channel(s), or train a model for {found[0]} (`--set data_shape=[{found[0]},H,W]`)")
        taken, (height, width) = takes_size(model, found[1], found[2])
        if not taken:
            raise DataError(f"{where}: the model takes images of other sizes than {expected} (C, H, W) but not "
                            f"{found[1]}x{found[2]} pixels; the nearest size it takes is {height}x{width}: crop or "
                            "pad the images to it")
        return
    raise DataError(f"{where}: the model takes images of shape {expected} (C, H, W) but the data has {found}; "
                    f"{rebuild}, or resize the data")


def validate_data(data: Any, *, where: str) -> Data:
    """A checked copy of a :class:`Data` split (images float32 in [0, 1], labels int64 or None)."""
    if not isinstance(data, Data):
        raise DataError(f"{where}: the loader returned {type(data).__name__}; expected zoo.Data")
    images = validate_images(data.images, where=where)
    labels = None if data.labels is None else validate_labels(data.labels, images.shape[0], where=where)
    return Data(images=images, labels=labels)


def holdout(data: Data, split: Split, *, where: str) -> Data:
    """The deterministic split of one set: "test" is every fifth sample (i % 5 == 4), "train" the rest; a single
    image (a photograph to denoise, say) is the whole set of both splits."""
    keep = torch.from_numpy(split_rows(data.images.shape[0], split, where=where))
    labels = None if data.labels is None else data.labels[keep]
    return Data(images=data.images[keep], labels=labels)


def split_rows(count: int, split: Split, *, where: str) -> np.ndarray:
    """The rows of a set of ``count`` samples in ``split`` (see :func:`holdout`), ascending, as int64."""
    rows = np.arange(count, dtype=np.int64)
    if count == 1:
        return rows
    is_test = rows % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
    keep = rows[is_test] if split == "test" else rows[~is_test]
    if not len(keep):
        raise DataError(f"{where}: {count} images leave no {split} split; the test split holds every fifth "
                        f"sample (i % 5 == 4), so at least {HOLDOUT_EVERY} images are needed (a single image is "
                        "both splits); use the train split, which holds them all, or add images")
    return keep


def check_split(split: Any) -> Split:
    if split not in ("train", "test"):
        raise DataError(f"split {split!r} is unknown; use 'train' or 'test'")
    return split


def _nchw_shape(shape: tuple[int, ...], where: str) -> tuple[int, int, int, int]:
    if len(shape) == 4 and _looks_channels_last(shape):
        raise DataError(f"{where}: images have shape {shape}, which looks channels-last (N, H, W, C): transpose it to "
                        "(N, C, H, W), e.g. x.permute(0, 3, 1, 2) or np.transpose(x, (0, 3, 1, 2))")
    if len(shape) == 4 and 1 <= shape[1] <= MAX_CHANNELS:
        return shape[0], shape[1], shape[2], shape[3]
    if len(shape) == 3:
        return shape[0], 1, shape[1], shape[2]
    if len(shape) == 2:
        side = math.isqrt(shape[1])
        if side * side == shape[1]:
            return shape[0], 1, side, side
        raise DataError(f"{where}: images have shape {shape}; a flat (N, D) array needs D to be a perfect square "
                        "(square one-channel images), otherwise save them as (N, C, H, W)")
    raise DataError(f"{where}: images have shape {shape}; expected (N, C, H, W) with C from 1 to {MAX_CHANNELS}, "
                    "(N, H, W) or (N, H*W)")


def _looks_channels_last(shape: tuple[int, ...]) -> bool:
    """(N, H, W, C) with a handful of channels last: images 1 to 4 pixels wide with more channels than that are
    far rarer than a forgotten transpose."""
    return shape[3] <= 4 < shape[1] and shape[2] > 4


def _numpy_kind(dtype: np.dtype[Any]) -> str:
    if dtype == np.uint8:
        return "uint8"
    return {"b": "bool", "c": "complex", "i": "int", "u": "int", "f": "float"}.get(dtype.kind, "other")


def _torch_kind(dtype: torch.dtype) -> str:
    if dtype == torch.uint8:
        return "uint8"
    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    return "float" if dtype.is_floating_point else "int"


def _as_tensor(values: np.ndarray | Tensor) -> Tensor:
    if isinstance(values, Tensor):
        return values.detach().cpu()
    array = np.ascontiguousarray(values)
    if not array.flags.writeable:
        array = array.copy()  # torch.from_numpy warns on read-only memory (np.memmap, cached arrays)
    return torch.from_numpy(array)
