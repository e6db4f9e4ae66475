"""Data larger than memory: a split read from disk batch by batch, through a ``DataLoader``.

A ``.npy`` file is read with positioned reads (``os.pread``) of the rows a batch needs, never mapped: pages of
a memory map count towards the process's resident memory once touched, so an epoch over a mapped 2 GB file
would hold 2 GB; positioned reads leave the file to the page cache, which the kernel reclaims. An image folder
is decoded image by image. Either way a batch is the same float32 tensor the in-memory path would gather, in
the same order, so a streamed run trains exactly as an in-memory one and resumes by step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from zoo._specs import Data, Split
from zoo.data._checks import HOLDOUT_EVERY
from zoo.errors import DataError, ZooError

# Data whose float32 copy would take more than this many bytes (or a quarter of the available memory) is
# streamed; smaller data keeps the in-memory path.
STREAM_ABOVE_BYTES = 1 << 30
# The objective's finalize step (e.g. fitting a VAE's latent sampler) sees at most this many streamed images,
# and at most FINALIZE_BYTES of them as float32 (20,000 RGB 64x64 images would be 1 GB).
FINALIZE_LIMIT = 20_000
FINALIZE_BYTES = 128 << 20
# Rows checked per read when a float file is scanned for NaN and range.
SCAN_ROWS = 4096


def should_stream(elements: int) -> bool:
    """True when ``elements`` float32 values would not fit comfortably in memory."""
    budget = STREAM_ABOVE_BYTES
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        budget = min(budget, available // 4)
    except (ValueError, OSError, AttributeError):
        pass
    return elements * 4 > budget


class RowSource(Protocol):
    """Images by row number, as uint8 or float32 ``(n, C, H, W)`` arrays."""

    count: int
    shape: tuple[int, int, int]

    def read(self, rows: np.ndarray) -> np.ndarray: ...


class NpyRows:
    """Rows of a C-ordered ``.npy`` file, read with ``os.pread`` (one file descriptor per process)."""

    def __init__(self, path: Path, *, offset: int, count: int, shape: tuple[int, int, int], dtype: np.dtype[Any]
                 ) -> None:
        self.path = path
        self.offset = offset
        self.count = count
        self.shape = shape
        self.dtype = dtype
        self.row_bytes = int(np.prod(shape)) * dtype.itemsize
        self._fd: int | None = None
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fd": None, "_pid": -1}  # DataLoader workers open their own descriptor

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            self._pid = os.getpid()
        return self._fd

    def read(self, rows: np.ndarray) -> np.ndarray:
        fd = self._descriptor()
        out = np.empty((len(rows), *self.shape), dtype=self.dtype)
        flat = out.reshape(len(rows), -1).view(np.uint8)
        for i, row in enumerate(rows.tolist()):
            data = os.pread(fd, self.row_bytes, self.offset + row * self.row_bytes)
            if len(data) != self.row_bytes:
                raise DataError(f"{self.path}: row {row} is cut short; the file was truncated or replaced after it "
                                "was opened. Restore it; a run continues from its last checkpoint with --resume")
            flat[i] = np.frombuffer(data, dtype=np.uint8)
        return out

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


class StreamedData:
    """One split of a dataset too large for memory. Indexing returns :class:`zoo.Data` in CPU memory.

    Row ``j`` of the "train" split is file row ``j + j // 4`` and row ``j`` of "test" is ``5 j + 4``: the same
    every-fifth-sample holdout as for data held in memory.
    """

    finalize_limit = FINALIZE_LIMIT

    def __init__(self, source: RowSource, split: Split, *, labels: np.ndarray | None = None, where: str) -> None:
        self.source = source
        self.split = split
        self.where = where
        total = source.count
        tests = total // HOLDOUT_EVERY  # rows i with i % 5 == 4
        self.count = tests if split == "test" else total - tests
        if self.count == 0:
            raise DataError(f"{where}: {total} image(s) leave no {split} split; the test split holds every fifth "
                            f"sample (i % 5 == 4), so at least {HOLDOUT_EVERY} images are needed")
        self.labels = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.count, *self.source.shape)

    def __len__(self) -> int:
        return self.count

    def rows(self, index: np.ndarray) -> np.ndarray:
        """File rows of split rows ``index``."""
        if self.split == "test":
            return index * HOLDOUT_EVERY + HOLDOUT_EVERY - 1
        per = HOLDOUT_EVERY - 1
        return (index // per) * HOLDOUT_EVERY + index % per

    def __getitem__(self, index: Any) -> Data:
        if isinstance(index, slice):
            positions = np.arange(self.count)[index]
        else:
            positions = np.asarray(torch.as_tensor(index).cpu().numpy(), dtype=np.int64).reshape(-1)
        if positions.size and (positions.min() < 0 or positions.max() >= self.count):
            raise IndexError(f"{self.where}: index out of range for {self.count} images")
        rows = self.rows(positions)
        images = _as_float(self.source.read(rows))
        labels = None if self.labels is None else self.labels[torch.from_numpy(rows)]
        return Data(images=images, labels=labels)

    def spread(self, n: int) -> Data:
        return self[torch.linspace(0, self.count - 1, min(n, self.count)).long()]

    def finalize_count(self) -> int:
        """How many images the objective's finalize step gets: ``finalize_limit``, within FINALIZE_BYTES."""
        per_image = 4 * math.prod(self.source.shape)
        return max(1, min(self.finalize_limit, self.count, FINALIZE_BYTES // per_image))

    def to(self, device: Any) -> StreamedData:
        return self  # batches move to the device one at a time

    def loader(self, orders: Iterable[Tensor], *, workers: int = 0, pin_memory: bool = False) -> Iterator[Data]:
        """Batches for the index tensors ``orders`` (in order), read by ``workers`` DataLoader processes."""
        from torch.utils.data import DataLoader

        loader = DataLoader(_Batches(self), batch_size=None, sampler=orders, num_workers=workers,
                            pin_memory=pin_memory, prefetch_factor=4 if workers else None)
        for item in loader:
            if isinstance(item, _Failed):
                raise item.error  # as if read in this process: one clear line, not the worker's traceback
            images, labels = item
            yield Data(images=images, labels=labels if labels.numel() else None)


class _Failed:
    """What a DataLoader worker returns instead of raising an expected error (a file truncated or unreadable
    since it was opened): the DataLoader would re-raise it wrapped, with the worker's traceback in its message."""

    def __init__(self, error: ZooError | OSError) -> None:
        self.error = error


class _Batches(torch.utils.data.Dataset["tuple[Tensor, Tensor] | _Failed"]):
    """A map-style dataset whose keys are whole index batches (the sampler yields one tensor per batch)."""

    def __init__(self, data: StreamedData) -> None:
        self.data = data

    def __getitem__(self, index: Tensor) -> tuple[Tensor, Tensor] | _Failed:
        try:
            batch = self.data[index]
        except (ZooError, OSError) as exc:
            if torch.utils.data.get_worker_info() is None:
                raise
            return _Failed(exc)
        return batch.images, batch.labels if batch.labels is not None else torch.empty(0, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.data)


def _as_float(pixels: np.ndarray) -> Tensor:
    tensor = torch.from_numpy(pixels)
    if tensor.dtype == torch.uint8:
        return tensor.to(torch.float32).div_(255.0)  # exactly what the in-memory path computes
    return tensor.to(torch.float32)


def scan_float_rows(source: RowSource, where: str) -> None:
    """Check every value of a float source is finite and in [0, 1], reading ``SCAN_ROWS`` rows at a time."""
    for start in range(0, source.count, SCAN_ROWS):
        chunk = source.read(np.arange(start, min(start + SCAN_ROWS, source.count)))
        if not np.isfinite(chunk).all():
            raise DataError(f"{where}: rows {start}..{start + len(chunk) - 1} hold NaN or infinite pixel values; "
                            "expected finite values in [0, 1]")
        low, high = float(chunk.min()), float(chunk.max())
        if low < 0.0 or high > 1.0:
            raise DataError(f"{where}: float pixel values range over [{low:g}, {high:g}] in rows {start}.."
                            f"{start + len(chunk) - 1}; expected [0, 1] (or store uint8 0..255)")
