"""Datasets from user files: .npy, .npz, .pt (tensors only, never pickle) and folders of images."""

from __future__ import annotations

import logging
import math
import pickle
import re
import stat
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from zoo._files import not_a_file
from zoo._specs import Data, Split
from zoo._text import shown
from zoo.data._checks import (
    IMAGE_CHANNELS,
    MAX_ELEMENTS,
    MAX_SIDE,
    _nchw_shape,
    _numpy_kind,
    holdout,
    split_rows,
    validate_data,
    validate_images,
)
from zoo.data._stream import NpyRows, RowSource, StreamedData, scan_float_rows, should_stream
from zoo.errors import DataError

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")
ARRAY_SUFFIXES = (".npy", ".npz", ".pt")
IMAGE_KEYS = ("images", "x")
LABEL_KEYS = ("labels", "y")
TEST_KEYS = ("test_images", "test_labels")
# Pillow modes whose pixels are one gray value; 16/32-bit modes are refused rather than silently clipped.
GRAY_MODES = frozenset({"1", "L", "LA"})
WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
# A .npz member may decompress to at most this many bytes (the element limit at 8 bytes per float64 value).
MAX_MEMBER_BYTES = MAX_ELEMENTS * 8
NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class _Arrays:
    """What a file holds, before checking: a train set and maybe an explicit test set."""

    images: Any
    labels: Any = None
    test_images: Any = None
    test_labels: Any = None
    stream: RowSource | None = None  # set instead of images when the data is read from disk batch by batch


def load_path(path: Path, split: Split, *, channels: int | None = None,
              image_size: int | tuple[int, int] | None = None, stream: bool | None = None) -> Data | StreamedData:
    """One split of the dataset stored at ``path`` (see :func:`zoo.data.load_dataset`)."""
    where = str(path)
    try:
        info = path.stat()  # follows symlinks; never opens, so a FIFO cannot block here
    except FileNotFoundError:
        raise DataError(f"{where}: no such file or folder; pass a registered dataset name, or the path "
                        f"of a {', '.join(ARRAY_SUFFIXES)} file or of a folder of images") from None
    except OSError as exc:
        raise DataError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode) or path.suffix.lower() in IMAGE_SUFFIXES:
        # Both splits of a folder are read from one scan each: only the train split's says what it found.
        arrays = _read_folder(path, channels=channels, image_size=image_size, stream=stream, announce=split == "train")
    else:
        require_regular_file(path)
        if channels is not None or image_size is not None:
            raise DataError(f"{where}: channels and image_size apply to image folders only (and single image "
                            f"files), not to {path.suffix} files")
        arrays = _read_file(path, stream=stream)

    if arrays.stream is not None:
        return StreamedData(arrays.stream, split, labels=arrays.labels, where=where)
    train = validate_data(Data(images=arrays.images, labels=arrays.labels), where=where)
    if arrays.test_images is None:
        return holdout(train, split, where=where)
    if split == "train":
        return train
    test = validate_data(Data(images=arrays.test_images, labels=arrays.test_labels), where=f"{where} (test_images)")
    if test.images.shape[1:] != train.images.shape[1:]:
        raise DataError(f"{where}: test_images have shape (C, H, W) = {tuple(test.images.shape[1:])} but images "
                        f"have {tuple(train.images.shape[1:])}; both splits need the same image shape")
    return test


def load_native(path: Path, split: Split, *, count: int | None = None, channels: int | None = None) -> list[Tensor]:
    """The images of one split of an image folder or file, each ``(C, H, W)`` at its own size (not resized): up to
    ``count`` of them, evenly spaced through the split (as :meth:`zoo.Data.spread`); only those are decoded.
    ``channels`` (1 or 3) converts every image to that many; None: 1 when all are gray, else 3."""
    rows = FolderRows.scan(path, channels=channels, image_size=None)
    chosen = split_rows(rows.count, split, where=str(path))
    if count is not None:
        chosen = chosen[np.linspace(0, len(chosen) - 1, min(count, len(chosen))).astype(np.int64)]
    return [validate_images(rows.read_native(row)[None], where=str(rows.files[row]))[0] for row in chosen.tolist()]


def is_image_source(path: Path) -> bool:
    """Whether ``path`` is an image file or a folder (whose images :func:`load_native` reads at their own sizes)."""
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


def require_regular_file(path: Path) -> None:
    """Refuse anything but a regular file (after symlinks) by what it is: reading a FIFO or device could block."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    kind = not_a_file(path, mode)
    if kind is not None:
        raise DataError(f"{path}: is {kind}; zoo reads data only from regular files, so remove it or "
                        "replace it with the file itself")


def _read_file(path: Path, *, stream: bool | None = None) -> _Arrays:
    where = str(path)
    suffix = path.suffix.lower()
    readers: dict[str, Callable[[Path], _Arrays]] = {".npy": _read_npy, ".npz": _read_npz, ".pt": _read_pt}
    if suffix not in readers:
        raise DataError(f"{where}: unsupported file type {suffix or '(none)'!r}; expected one of "
                        f"{', '.join(ARRAY_SUFFIXES)} or a folder of images")
    if path.stat().st_size == 0:
        raise DataError(f"{where}: the file is empty (0 bytes); expected a {suffix} file holding images")
    if suffix != ".npy" and stream:
        raise DataError(f"{where}: only .npy files and image folders can be streamed from disk; save the images "
                        "with numpy.save")
    if suffix == ".npy":
        return _read_npy(path, stream=stream)
    return readers[suffix](path)


def _read_npy(path: Path, *, stream: bool | None = None) -> _Arrays:
    with path.open("rb") as handle:
        magic = handle.read(len(NPY_MAGIC))
    if magic != NPY_MAGIC:
        raise DataError(f"{path}: not a .npy file (it does not start with the numpy header); save arrays with "
                        "numpy.save")
    try:
        # A memory map reads only the header here, so the size checks run before the pixels are read.
        images = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _unreadable(path, exc, "numpy.save") from None
    elements = math.prod(images.shape)
    if stream is False or (stream is None and not should_stream(elements)):
        return _Arrays(images=images)
    return _Arrays(images=None, stream=_npy_rows(path, images))


def _npy_rows(path: Path, mapped: np.memmap[Any, Any]) -> NpyRows:
    """A row reader for the memory-mapped ``mapped``, after the checks the in-memory path makes."""
    where = str(path)
    shape = tuple(int(d) for d in mapped.shape)
    kind = _numpy_kind(mapped.dtype)
    if kind not in ("uint8", "float") or mapped.dtype.itemsize > 8:
        raise DataError(f"{where}: images have dtype {mapped.dtype}; expected uint8 (0..255) or floats in [0, 1]")
    if not mapped.flags.c_contiguous:
        raise DataError(f"{where}: the array is stored in Fortran order; save it C-ordered (numpy.save of "
                        "np.ascontiguousarray(x)) to stream it")
    count, channels, height, width = _nchw_shape(shape, where)
    if count == 0:
        raise DataError(f"{where}: there are no images (shape {shape}); expected at least one image")
    if height > MAX_SIDE or width > MAX_SIDE:
        raise DataError(f"{where}: images are {height}x{width} pixels, larger than the {MAX_SIDE}x{MAX_SIDE} limit")
    rows = NpyRows(path, offset=int(mapped.offset), count=count, shape=(channels, height, width),
                   dtype=np.dtype(mapped.dtype))
    if path.stat().st_size < rows.offset + count * rows.row_bytes:
        raise DataError(f"{where}: the file is shorter than its header's shape {shape} says; it is truncated")
    if kind == "float":
        scan_float_rows(rows, where)
    logger.info("%s: %d images of %dx%dx%d streamed from disk (too large to hold in memory)", where, count,
                channels, height, width)
    return rows


def _unreadable(path: Path, exc: Exception, writer: str) -> DataError:
    if "pickle" in str(exc).lower() or "object" in str(exc).lower():
        return DataError(f"{path}: holds Python objects ({exc}); zoo never loads pickled (object) arrays, save "
                         f"numbers (uint8 or float) with {writer}")
    return DataError(f"{path}: cannot read the array, the file is truncated or damaged ({type(exc).__name__}: "
                     f"{exc})")


def _read_npz(path: Path) -> _Arrays:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a .npz file (not a zip archive); save arrays with numpy.savez")
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                _check_member(path, archive, member)
        with np.load(path, allow_pickle=False) as npz:
            return _pick(list(npz.files), npz.__getitem__, str(path))
    except DataError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise _unreadable(path, exc, "numpy.savez") from None


def _check_member(path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Check a member's sizes from the zip directory and its .npy header, before anything is decompressed.

    Only the first bytes of the member are inflated (the header); its declared shape must fit the element limit
    and agree with the size the zip directory records.
    """
    name = member.filename
    if member.file_size > MAX_MEMBER_BYTES:
        raise DataError(f"{path}: {name!r} holds {member.file_size:,} bytes, above the {MAX_MEMBER_BYTES:,} byte "
                        "limit; use fewer or smaller images")
    if not name.endswith(".npy"):
        return  # np.load ignores other members
    with archive.open(member) as handle:
        try:
            version = np.lib.format.read_magic(handle)
            readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                raise ValueError(f".npy format version {version} is not supported; save with numpy.savez")
            shape, _, dtype = readers[version](handle, max_header_size=10_000)
        except (ValueError, EOFError, OSError) as exc:
            raise DataError(f"{path}: member {name!r} has no readable .npy header ({exc})") from None
        header = handle.tell()
    elements = math.prod(shape)
    if elements > MAX_ELEMENTS:
        raise DataError(f"{path}: {name!r} declares shape {shape}, {elements:,} values, above the {MAX_ELEMENTS:,} "
                        "limit; use fewer or smaller images (or a .npy file, which can be streamed from disk)")
    if dtype.hasobject:
        raise DataError(f"{path}: {name!r} holds Python objects; zoo never loads pickled (object) arrays, save "
                        "numbers (uint8 or float) with numpy.savez")
    if member.file_size != header + elements * dtype.itemsize:
        raise DataError(f"{path}: {name!r} declares shape {shape} of {dtype}, which does not match the "
                        f"{member.file_size:,} bytes the archive records for it; the file is damaged")


def _read_pt(path: Path) -> _Arrays:
    try:
        # weights_only refuses anything but tensors and plain containers, so a file can never run code; memory
        # mapping (zip-format files only) defers reading the pixels until the size checks have passed.
        with warnings.catch_warnings():  # torch warns about unusual pickle protocols: the error below says enough
            warnings.simplefilter("ignore")
            content = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as exc:
        # torch's message is mostly advice to drop weights_only; keep only the reason ("Unsupported global: ...").
        reason = re.search(r"Unsupported [^\n]*?(?=\. |\.?$|\n)", str(exc), flags=re.MULTILINE)
        raise DataError(f"{path}: refused by torch.load(weights_only=True): it is not a torch.save file or it holds "
                        f"objects other than tensors ({reason.group(0) if reason else type(exc).__name__}). zoo "
                        "never unpickles arbitrary objects; "
                        "save a tensor or a dict of tensors, e.g. torch.save({'images': x, 'labels': y}, path)"
                        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: cannot read it with torch.load: {exc}") from None
    for value in (content.values() if isinstance(content, dict) else [content]):
        if isinstance(value, Tensor) and (value.layout != torch.strided or value.is_meta or value.is_quantized):
            kind = "a meta" if value.is_meta else "a quantized" if value.is_quantized else f"a {value.layout}"
            raise DataError(f"{path}: holds {kind} tensor, which has no plain pixel values; save a dense tensor "
                            "(tensor.to_dense(), or the tensor before moving it to the meta device)")
    if isinstance(content, Tensor):
        return _Arrays(images=content)
    if isinstance(content, dict) and content and all(isinstance(key, str) for key in content):
        return _pick(list(content), content.__getitem__, str(path))
    raise DataError(f"{path}: holds a {type(content).__name__}; expected a tensor of images or a dict of tensors "
                    f"with keys {IMAGE_KEYS[0]!r} (or {IMAGE_KEYS[1]!r}) and optionally {LABEL_KEYS[0]!r}")


def _pick(keys: list[str], get: Callable[[str], Any], where: str) -> _Arrays:
    """Find images, labels and an optional test set among the named arrays of an .npz or .pt file."""
    known = set(IMAGE_KEYS) | set(LABEL_KEYS) | set(TEST_KEYS)
    if len(keys) == 1 and keys[0] not in known - set(IMAGE_KEYS):
        return _Arrays(images=get(keys[0]))  # a single array is the images, whatever its name
    accepted = "images (or x), labels (or y), test_images, test_labels"
    unknown = sorted(set(keys) - known)
    if unknown:
        raise DataError(f"{where}: unknown array name(s) {unknown}; zoo reads {accepted}")
    image_keys = [key for key in IMAGE_KEYS if key in keys]
    label_keys = [key for key in LABEL_KEYS if key in keys]
    if len(image_keys) != 1:
        raise DataError(f"{where}: found arrays {sorted(keys)}; expected exactly one of 'images' or 'x'")
    if len(label_keys) > 1:
        raise DataError(f"{where}: found both 'labels' and 'y'; keep one")
    if "test_labels" in keys and "test_images" not in keys:
        raise DataError(f"{where}: has test_labels but no test_images")
    if "test_images" in keys and bool(label_keys) != ("test_labels" in keys):
        raise DataError(f"{where}: labels are given for only one of the train and test splits; give both "
                        "(labels and test_labels) or neither")
    return _Arrays(
        images=get(image_keys[0]),
        labels=get(label_keys[0]) if label_keys else None,
        test_images=get("test_images") if "test_images" in keys else None,
        test_labels=get("test_labels") if "test_labels" in keys else None,
    )


def _read_folder(root: Path, *, channels: int | None, image_size: int | tuple[int, int] | None,
                 stream: bool | None = None, announce: bool = True) -> _Arrays:
    """Images directly in ``root`` (no labels) or in class subfolders (label = index of the sorted name); with
    ``announce``, the classes found and a decision to stream are logged at INFO (else at DEBUG)."""
    rows = FolderRows.scan(root, channels=channels, image_size=image_size, announce=announce)
    labels = None if rows.labels is None else rows.labels
    elements = rows.count * math.prod(rows.shape)
    if stream or (stream is None and should_stream(elements)):
        logger.log(logging.INFO if announce else logging.DEBUG,
                   "%s: %d images of %dx%dx%d streamed from disk (too many to hold in memory)", shown(str(root), 300),
                   rows.count, *rows.shape)
        return _Arrays(images=None, labels=labels, stream=rows)
    if elements > MAX_ELEMENTS:
        raise DataError(f"{root}: {rows.count:,} images of {'x'.join(map(str, rows.shape))} hold {elements:,} values, "
                        f"above the {MAX_ELEMENTS:,} limit; use fewer images or a smaller image_size")
    return _Arrays(images=rows.read(np.arange(rows.count)), labels=labels)


class FolderRows:
    """The images of a folder as rows, decoded on demand (a :class:`zoo.data._stream.RowSource`)."""

    def __init__(self, files: list[Path], labels: np.ndarray | None, shape: tuple[int, int, int]) -> None:
        self.files = files
        self.labels = labels
        self.count = len(files)
        self.shape = shape

    @classmethod
    def scan(cls, root: Path, *, channels: int | None, image_size: int | tuple[int, int] | None,
             announce: bool = True) -> FolderRows:
        """List the images and read their headers only, so every bound is checked before a pixel is decoded."""
        if channels is not None and channels not in IMAGE_CHANNELS:
            raise DataError(f"{root}: channels={channels!r}; use 1 (grayscale), 3 (RGB) or None to infer it (image "
                            "files are gray or RGB; save other channel counts as an (N, C, H, W) array)")
        size = _image_size(image_size, root)
        if not root.is_dir():  # a single image file: the whole set
            return cls._of([(root, None)], channels=channels, size=size, root=root, announce=announce)
        entries = _visible(root, root)
        folders = [entry for entry in entries if entry.is_dir()]
        if folders and len(folders) != len(entries):
            loose = [entry.name for entry in entries if not entry.is_dir()][:3]
            raise DataError(f"{root}: mixes class subfolders with loose files ({', '.join(loose)}); put every image "
                            "into a class subfolder, or use no subfolders at all")
        items: list[tuple[Path, int | None]] = []
        if folders:
            for label, folder in enumerate(folders):
                files = _visible(folder, root)
                nested = [entry.name for entry in files if entry.is_dir()]
                if nested:
                    raise DataError(f"{folder}: holds subfolders ({', '.join(nested[:3])}); class folders must "
                                    "hold image files only")
                if not files:
                    raise DataError(f"{folder}: the class folder holds no images")
                items.extend((file, label) for file in files)
            named = ", ".join(f"{label}={shown(folder.name, 80)}" for label, folder in enumerate(folders))
            logger.log(logging.INFO if announce else logging.DEBUG, "%s: %d classes: %s", shown(str(root), 300),
                       len(folders), named)
        else:
            items.extend((file, None) for file in entries)
        if not items:
            raise DataError(f"{root}: the folder holds no images; expected {', '.join(IMAGE_SUFFIXES)} files")
        return cls._of(items, channels=channels, size=size, root=root, announce=announce)

    @classmethod
    def _of(cls, items: list[tuple[Path, int | None]], *, channels: int | None, size: tuple[int, int] | None,
            root: Path, announce: bool) -> FolderRows:
        """The rows of ``items`` (file, label): the channels are 1 when every image is gray (unless given), else 3;
        the size is ``size`` or the first image's."""
        first_size: tuple[int, int] | None = None
        transparent = 0
        for file, _ in items:
            with _open_image(file) as image:
                first_size = first_size or (image.height, image.width)
                if channels is None and image.mode not in GRAY_MODES and not _gray_palette(image, file):
                    channels = 3
                transparent += image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
        if transparent:
            logger.log(logging.INFO if announce else logging.DEBUG, "%s: %d image(s) have an alpha channel, which "
                       "is dropped (zoo reads gray or RGB pixels; flatten onto a background first to keep it)",
                       shown(str(root), 300), transparent)
        height, width = size or first_size or (0, 0)
        labels = None if items[0][1] is None else np.array([label for _, label in items], dtype=np.int64)
        return cls([file for file, _ in items], labels, (channels or 1, height, width))

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` as uint8 ``(len(rows), C, H, W)``, every image resized to :attr:`shape`."""
        channels, height, width = self.shape
        pixels = np.empty((len(rows), channels, height, width), dtype=np.uint8)
        for index, row in enumerate(rows.tolist()):
            pixels[index] = self._decode(row, (height, width))
        return pixels

    def read_native(self, row: int) -> np.ndarray:
        """Row ``row`` as uint8 ``(C, H, W)`` at the image's own size."""
        return self._decode(row, None)

    def _decode(self, row: int, size: tuple[int, int] | None) -> np.ndarray:
        from PIL import Image

        file = self.files[row]
        with _open_image(file) as image:
            try:
                converted = image.convert("L" if self.shape[0] == 1 else "RGB")
                if size is not None and converted.size != (size[1], size[0]):
                    # Pillow's resize filters antialias when shrinking.
                    converted = converted.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                array = np.asarray(converted)
            except (OSError, ValueError) as exc:
                raise DataError(f"{file}: cannot decode the image: {exc}") from None
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)  # (C, H, W)


def _visible(folder: Path, root: Path) -> list[Path]:
    """The entries of ``folder`` (in the dataset folder ``root``) that are data, by name; a symlink that leads out of
    ``root`` is refused: a data folder is read without following symlinks out of it."""
    # Hidden entries (.DS_Store, .ipynb_checkpoints) are not data.
    entries = sorted((entry for entry in folder.iterdir() if not entry.name.startswith(".")), key=lambda p: p.name)
    inside = root.resolve()
    for entry in entries:
        if entry.is_symlink() and not entry.resolve().is_relative_to(inside):
            raise DataError(f"{shown(str(entry), 300)} is a symlink to {shown(str(entry.resolve()), 300)}, outside "
                            f"the dataset folder {shown(str(root), 300)}; zoo does not follow symlinks out of a data "
                            "folder. Copy the files in, or give the folder they are in")
    return entries


def _image_size(image_size: int | tuple[int, int] | None, root: Path) -> tuple[int, int] | None:
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(side, int) and not isinstance(side, bool) and 1 <= side <= MAX_SIDE
                                 for side in size):
        raise DataError(f"{root}: image_size={image_size!r}; expected an int or (height, width) of ints in "
                        f"1..{MAX_SIDE}")
    return size[0], size[1]


def _open_image(file: Path) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    if file.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(f"{file}: not an image file (suffix {file.suffix or '(none)'!r}); an image folder may "
                        f"hold only {', '.join(IMAGE_SUFFIXES)} files (hidden files are skipped)")
    require_regular_file(file)
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its pixel limit; make that an error too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise DataError(f"{file}: the image is too large to load ({exc})") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{file}: not a readable image ({type(exc).__name__}: {exc})") from None
    if image.width > MAX_SIDE or image.height > MAX_SIDE or math.prod(image.size) == 0:
        image.close()
        raise DataError(f"{file}: the image is {image.width}x{image.height} pixels; expected 1..{MAX_SIDE} pixels "
                        "per side")
    if image.mode in WIDE_MODES:
        image.close()
        raise DataError(f"{file}: {image.mode!r} images (16/32-bit) are not supported; save 8-bit grayscale or RGB")
    return image


def _gray_palette(image: Image.Image, file: Path) -> bool:
    """A palette image whose palette holds only grays (common for GIFs) counts as grayscale."""
    if image.mode not in ("P", "PA"):
        return False
    try:
        palette = image.getpalette() or []
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: cannot read the palette: {exc}") from None
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))
