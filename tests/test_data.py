"""zoo.data: built-in datasets, user files and folders, and the checks that refuse bad data before training."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from zoo.data import builtin_datasets, check_compatible, load_dataset, validate_images, validate_labels
from zoo.data._builtin import _digits_arrays, _mnist_arrays
from zoo.errors import DataError, UnknownNameError


class NotATensor:
    """A plain object: torch.load(weights_only=True) must refuse to unpickle it."""


def test_public_names() -> None:
    import zoo.data

    assert zoo.data.__all__ == sorted(zoo.data.__all__)
    assert set(zoo.data.__all__) == {
        "StreamedData", "builtin_datasets", "check_compatible", "load_dataset", "load_images", "validate_images",
        "validate_labels",
    }


def test_builtin_datasets_are_registered() -> None:
    names = {spec.name for spec in builtin_datasets()}
    assert names == {"mnist-5k", "digits"}
    registry = zoo.reload_registry()
    assert names <= set(registry.datasets)


def test_mnist_5k_splits() -> None:
    train, test = load_dataset("mnist-5k"), load_dataset("mnist-5k", split="test")
    assert train.images.shape == (4000, 1, 28, 28)
    assert test.images.shape == (1000, 1, 28, 28)
    for data in (train, test):
        assert data.images.dtype == torch.float32
        assert data.labels is not None and data.labels.dtype == torch.int64
        assert 0.0 <= float(data.images.min()) and float(data.images.max()) == 1.0
    assert test.labels is not None and train.labels is not None
    assert test.labels.bincount().tolist() == [100] * 10
    assert train.labels.bincount().tolist() == [400] * 10


def test_mnist_5k_is_cached_and_not_shared() -> None:
    first = load_dataset("mnist-5k", split="test")
    hits = _mnist_arrays.cache_info().hits
    first.images.zero_()  # callers own their tensors: mutating one must not change the next load
    second = load_dataset("mnist-5k", split="test")
    assert _mnist_arrays.cache_info().hits == hits + 1
    assert float(second.images.max()) == 1.0


def test_digits() -> None:
    train, test = load_dataset("digits"), load_dataset("digits", split="test")
    assert train.images.shape[1:] == test.images.shape[1:] == (1, 8, 8)
    assert train.images.shape[0] + test.images.shape[0] == 1797
    assert test.images.shape[0] == 359
    assert float(train.images.max()) == 1.0 and float(train.images.min()) == 0.0


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _digits_arrays.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'genzoo\[data\]'"):
        load_dataset("digits")


def test_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(UnknownNameError, match="mnist-5k"):
        load_dataset("mnist5k")


def test_bad_split() -> None:
    with pytest.raises(DataError, match="'valid'"):
        load_dataset("digits", split="valid")  # type: ignore[arg-type]


# --- user files -------------------------------------------------------------------------------------------------


def _images(count: int = 10, shape: tuple[int, ...] = (1, 6, 6)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(count, *shape), dtype=np.uint8)


def test_npy_round_trip_uint8(tmp_path: Path) -> None:
    pixels = _images()
    np.save(tmp_path / "x.npy", pixels)
    train = load_dataset(tmp_path / "x.npy")
    test = load_dataset(str(tmp_path / "x.npy"), split="test")
    assert train.images.shape == (8, 1, 6, 6) and test.images.shape == (2, 1, 6, 6)
    assert train.labels is None
    # The holdout is every fifth sample: indices 4 and 9.
    assert torch.equal(test.images, torch.from_numpy(pixels[[4, 9]]).float() / 255)


@pytest.mark.parametrize(("shape", "expected"), [
    ((5, 28, 28), (1, 28, 28)),
    ((5, 784), (1, 28, 28)),
    ((5, 3, 4, 4), (3, 4, 4)),
])
def test_npy_shapes(tmp_path: Path, shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    np.save(tmp_path / "x.npy", np.full(shape, 0.5, dtype=np.float64))
    data = load_dataset(tmp_path / "x.npy")
    assert tuple(data.images.shape) == (4, *expected)
    assert data.images.dtype == torch.float32


def test_npz_with_labels_and_test_set(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=_images(6), y=np.arange(6), test_images=_images(3), test_labels=np.arange(3))
    train = load_dataset(tmp_path / "d.npz")
    test = load_dataset(tmp_path / "d.npz", split="test")
    assert train.images.shape == (6, 1, 6, 6)  # an explicit test set leaves the whole file for training
    assert test.labels is not None and test.labels.tolist() == [0, 1, 2]


def test_npz_single_array_of_any_name(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", _images(5, (3, 4, 4)))
    assert load_dataset(tmp_path / "d.npz").images.shape == (4, 3, 4, 4)


def test_pt_round_trip(tmp_path: Path) -> None:
    images = torch.rand(10, 3, 5, 5)
    torch.save({"images": images, "labels": torch.arange(10)}, tmp_path / "d.pt")
    train = load_dataset(tmp_path / "d.pt")
    assert train.labels is not None and train.labels.tolist() == [0, 1, 2, 3, 5, 6, 7, 8]
    assert torch.equal(train.images, images[train.labels])
    torch.save(images, tmp_path / "t.pt")
    assert load_dataset(tmp_path / "t.pt", split="test").images.shape == (2, 3, 5, 5)


def test_image_folder_with_classes(tmp_path: Path) -> None:
    for label, name in enumerate(["cat", "dog"]):
        (tmp_path / name).mkdir()
        for i in range(5):
            Image.new("L", (8, 6), color=40 * i + label).save(tmp_path / name / f"{i}.png")
    (tmp_path / ".DS_Store").write_bytes(b"junk")  # hidden files are skipped
    train = load_dataset(tmp_path)
    test = load_dataset(tmp_path, split="test")
    assert train.images.shape == (8, 1, 6, 8)
    assert test.labels is not None and test.labels.tolist() == [0, 1]
    assert float(test.images[1].max()) == pytest.approx((40 * 4 + 1) / 255)


def test_image_folder_rgb_resized(tmp_path: Path) -> None:
    Image.new("L", (10, 10), color=128).save(tmp_path / "a.png")
    Image.new("RGB", (20, 20), color=(255, 0, 0)).save(tmp_path / "b.jpg")
    Image.new("RGB", (10, 10), color=(0, 0, 255)).save(tmp_path / "c.bmp")
    data = load_dataset(str(tmp_path), split="train", image_size=4)
    assert data.images.shape == (3, 3, 4, 4) and data.labels is None
    assert load_dataset(tmp_path, channels=1, image_size=(4, 6)).images.shape == (3, 1, 4, 6)


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("array", "message"), [
    (np.array([[[np.nan, 0.5]]], dtype=np.float32), "NaN or infinite"),
    (np.full((2, 4, 4), np.inf), "NaN or infinite"),
    (np.zeros((0, 1, 8, 8), dtype=np.uint8), "no images"),
    (np.zeros((2, 2, 4, 4, 1), dtype=np.uint8), r"shape \(2, 2, 4, 4, 1\); expected \(N, C, H, W\)"),
    (np.zeros((2, 8, 8, 3), dtype=np.uint8), "channels-last"),
    (np.zeros((2, 10), dtype=np.uint8), "perfect square"),
    (np.zeros((2, 4, 4), dtype=bool), "dtype bool"),
    (np.zeros((2, 4, 4), dtype=np.complex64), "dtype complex64"),
    (np.zeros((2, 4, 4), dtype=np.int64), "dtype int64.*uint8"),
    (np.full((2, 4, 4), 200.0), r"range over \[200, 200\]; expected \[0, 1\].*255"),
    (np.full((2, 4, 4), -0.5), r"\[-0.5, -0.5\]"),
])
def test_refused_arrays(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=message) as info:
        load_dataset(path)
    assert str(path) in str(info.value)


def test_refuses_huge_images() -> None:
    huge = torch.empty(1, 1, 5000, 2).expand(1, 1, 5000, 2)
    with pytest.raises(DataError, match="5000x2 pixels, larger than the 4096x4096"):
        validate_images(huge, where="x")
    too_many = torch.zeros(1, dtype=torch.uint8).expand(200_000, 3, 32, 32)  # a view: nothing is allocated
    with pytest.raises(DataError, match="more than the 500,000,000 limit"):
        validate_images(too_many, where="x")


def test_refuses_non_arrays_and_bad_labels() -> None:
    with pytest.raises(DataError, match="got list"):
        validate_images([[0.0]], where="x")
    with pytest.raises(DataError, match=r"shape \(3,\); expected \(4,\)"):
        validate_labels(np.arange(3), 4, where="x")
    with pytest.raises(DataError, match="dtype float"):
        validate_labels(np.zeros(4), 4, where="x")
    with pytest.raises(DataError, match="-1"):
        validate_labels(torch.tensor([0, -1]), 2, where="x")


def test_refuses_zero_byte_and_garbage_files(tmp_path: Path) -> None:
    for suffix in (".npy", ".npz", ".pt"):
        (tmp_path / f"empty{suffix}").touch()
        with pytest.raises(DataError, match=r"empty \(0 bytes\)"):
            load_dataset(tmp_path / f"empty{suffix}")
        (tmp_path / f"junk{suffix}").write_bytes(b"not an array at all")
        with pytest.raises(DataError, match="junk"):
            load_dataset(tmp_path / f"junk{suffix}")


def test_refuses_unknown_suffix_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("1,2\n")
    with pytest.raises(DataError, match="unsupported file type '.csv'"):
        load_dataset(tmp_path / "x.csv")
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset(tmp_path / "missing.npy")


def test_refuses_pickled_objects(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="never loads pickled"):
        load_dataset(tmp_path / "o.npy")
    torch.save({"images": NotATensor()}, tmp_path / "o.pt")
    with pytest.raises(DataError, match=r"weights_only=True.*save a tensor or a dict of tensors"):
        load_dataset(tmp_path / "o.pt")
    torch.save([torch.zeros(2, 4, 4)], tmp_path / "list.pt")
    with pytest.raises(DataError, match="holds a list"):
        load_dataset(tmp_path / "list.pt")


def test_refuses_unknown_and_inconsistent_keys(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", images=_images(5), extra=np.zeros(5))
    with pytest.raises(DataError, match=r"unknown array name\(s\) \['extra'\]"):
        load_dataset(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", images=_images(5), labels=np.arange(5), test_images=_images(2))
    with pytest.raises(DataError, match="labels are given for only one"):
        load_dataset(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", images=_images(5), test_images=_images(2, (1, 3, 3)))
    with pytest.raises(DataError, match="same image shape"):
        load_dataset(tmp_path / "c.npz", split="test")


def test_refuses_bad_image_folders(tmp_path: Path) -> None:
    Image.new("L", (4, 4)).save(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes.txt: not an image file"):
        load_dataset(tmp_path)
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png: not a readable image"):
        load_dataset(tmp_path)
    (tmp_path / "broken.png").unlink()
    (tmp_path / "sub").mkdir()
    with pytest.raises(DataError, match="mixes class subfolders with loose files"):
        load_dataset(tmp_path)
    empty = tmp_path / "sub"
    with pytest.raises(DataError, match="holds no images"):
        load_dataset(empty)
    with pytest.raises(DataError, match="image folders only"):
        np.save(tmp_path / "x.npy", _images())
        load_dataset(tmp_path / "x.npy", image_size=4)


def test_too_few_samples_for_a_holdout(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", _images(3))
    assert load_dataset(tmp_path / "x.npy").images.shape[0] == 3
    with pytest.raises(DataError, match="no test split"):
        load_dataset(tmp_path / "x.npy", split="test")


def test_check_compatible() -> None:
    images = torch.zeros(2, 1, 8, 8)
    check_compatible([1, 8, 8], images, "digits")
    with pytest.raises(DataError, match=r"\(1, 28, 28\).*\(1, 8, 8\).*--set data_shape=\[1,8,8\]"):
        check_compatible((1, 28, 28), images, "digits")


# -- only regular files, bounded archives, data larger than memory ---------------------------------------------
def _png(path: Path, value: int = 128) -> None:
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(path)


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
def test_fifo_in_an_image_folder_is_refused_by_name_without_blocking(tmp_path: Path) -> None:
    import os

    for i in range(6):
        _png(tmp_path / f"{i}.png")
    os.mkfifo(tmp_path / "pipe.png")  # opening it for reading would block forever
    with pytest.raises(DataError, match=r"pipe\.png: is a FIFO \(named pipe\); zoo reads data only from regular"):
        load_dataset(tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and devices are POSIX")
def test_fifo_device_and_socket_as_the_data_file_are_refused(tmp_path: Path) -> None:
    import os
    import socket

    os.mkfifo(tmp_path / "data.npy")
    with pytest.raises(DataError, match="is a FIFO"):
        load_dataset(tmp_path / "data.npy")
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    with pytest.raises(DataError, match=r"is a character device \(through a symlink\)"):
        load_dataset(tmp_path / "zero.npy")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "s.npz"))
        with pytest.raises(DataError, match="is a socket"):
            load_dataset(tmp_path / "s.npz")
    finally:
        server.close()


def _npz_with_header(path: Path, shape: tuple[int, ...], payload: bytes) -> None:
    """An .npz whose member's header declares ``shape`` but holds ``payload`` (compressed)."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("images.npy", header.getvalue() + payload)


def test_npz_bomb_is_refused_from_its_header_before_decompression(tmp_path: Path, monkeypatch) -> None:
    import zipfile

    # 1.5 GB of zeros would compress to ~1.5 MB; the header alone must be enough to refuse it. Decompression is
    # made to fail loudly beyond the header, so the test proves nothing past it was inflated.
    _npz_with_header(tmp_path / "bomb.npz", (1_500_000_000,), b"\x00" * 1000)
    real_read = zipfile.ZipExtFile.read

    def bounded_read(self, n=-1):
        if n is None or n < 0 or n > 1 << 20:
            raise AssertionError(f"read({n}) would inflate the member")
        return real_read(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", bounded_read)
    with pytest.raises(DataError, match=r"declares shape \(1500000000,\), 1,500,000,000 values, above the"):
        load_dataset(tmp_path / "bomb.npz")


def test_npz_member_whose_size_disagrees_with_its_header_is_refused(tmp_path: Path) -> None:
    _npz_with_header(tmp_path / "lying.npz", (10, 8, 8), b"\x00" * 10)
    with pytest.raises(DataError, match="does not match the .* bytes the archive records"):
        load_dataset(tmp_path / "lying.npz")


def test_large_npy_is_streamed_and_reads_the_same_rows(tmp_path: Path, monkeypatch) -> None:
    import zoo.data._stream as stream
    from zoo.data import StreamedData

    pixels = (np.random.default_rng(1).random((57, 1, 6, 6)) * 255).astype(np.uint8)
    np.save(tmp_path / "x.npy", pixels)
    memory = {split: load_dataset(tmp_path / "x.npy", split) for split in ("train", "test")}
    monkeypatch.setattr(stream, "STREAM_ABOVE_BYTES", 100)  # 57 images of 36 pixels are now "too large"
    for split in ("train", "test"):
        assert isinstance(load_dataset(tmp_path / "x.npy", split), zoo.Data)  # the default never streams
        streamed = load_dataset(tmp_path / "x.npy", split, stream=None)
        assert isinstance(streamed, StreamedData) and len(streamed) == len(memory[split])
        assert streamed.shape == tuple(memory[split].images.shape)
        assert torch.equal(streamed[:].images, memory[split].images)
        index = torch.tensor([3, 0, len(streamed) - 1, 3])
        assert torch.equal(streamed[index].images, memory[split].images[index])


def test_streamed_float_npy_is_scanned_for_nan_and_range(tmp_path: Path) -> None:
    bad = np.zeros((10, 4, 4), dtype=np.float32)
    bad[7, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataError, match="rows 0..9 hold NaN"):
        load_dataset(tmp_path / "nan.npy", stream=True)
    np.save(tmp_path / "big.npy", np.full((10, 4, 4), 3.0, dtype=np.float32))
    with pytest.raises(DataError, match=r"range over \[3, 3\]"):
        load_dataset(tmp_path / "big.npy", stream=True)


def test_streamed_image_folder_matches_the_in_memory_one(tmp_path: Path) -> None:
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(6):
            _png(tmp_path / label / f"{i}.png", value=20 * i + (100 if label == "b" else 0))
    for split in ("train", "test"):
        memory = load_dataset(tmp_path, split)
        streamed = load_dataset(tmp_path, split, stream=True)
        assert torch.equal(streamed[:].images, memory.images)
        assert torch.equal(streamed[:].labels, memory.labels)


def test_only_npy_and_folders_stream(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", images=np.zeros((10, 4, 4), dtype=np.uint8))
    with pytest.raises(DataError, match="only .npy files and image folders can be streamed"):
        load_dataset(tmp_path / "x.npz", stream=True)


def test_the_finalize_sample_of_streamed_data_is_bounded_in_bytes(tmp_path: Path, monkeypatch) -> None:
    import zoo.data._stream as stream

    np.save(tmp_path / "x.npy", np.zeros((100, 3, 8, 8), dtype=np.uint8))
    streamed = load_dataset(tmp_path / "x.npy", stream=True)
    assert streamed.finalize_count() == len(streamed)  # small data: all of it
    monkeypatch.setattr(stream, "FINALIZE_BYTES", 10 * 4 * 3 * 8 * 8)  # room for 10 float32 images
    assert streamed.finalize_count() == 10


# -- hostile files (from the outside audit of issues 12 and 13) --------------------------------------------


def test_a_pt_pickle_of_another_protocol_is_one_data_error(tmp_path: Path) -> None:
    # torch.load printed a multi-line UserWarning (an exception under -W error) before zoo's own error.
    path = tmp_path / "x.pt"
    path.write_bytes(pickle.dumps({"images": [1, 2, 3]}, protocol=4))
    with pytest.raises(DataError, match="x.pt"):
        load_dataset(path)


@pytest.mark.parametrize(("tensor", "kind"), [
    (torch.rand(20, 1, 8, 8).to_sparse(), "sparse_coo"),
    (torch.empty(20, 1, 8, 8, device="meta"), "meta"),
])
def test_sparse_and_meta_tensors_are_refused_by_name(tmp_path: Path, tensor: torch.Tensor, kind: str) -> None:
    # "unexpected RuntimeError: reshape is not implemented for sparse tensors", "Cannot copy out of meta tensor".
    torch.save({"images": tensor}, tmp_path / "x.pt")
    with pytest.raises(DataError, match=f"{kind} tensor"):
        load_dataset(tmp_path / "x.pt")


@pytest.mark.usefixtures("probe_models")
def test_a_npy_truncated_under_data_workers_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    import os

    import zoo.data._stream as stream
    from zoo.train import Callback, TrainConfig, train

    path = tmp_path / "x.npy"
    np.save(path, (np.random.default_rng(0).random((400, 1, 8, 8)) * 255).astype(np.uint8))
    monkeypatch.setattr(stream, "STREAM_ABOVE_BYTES", 0)

    class Truncate(Callback):  # another process cuts the file once training has opened it
        def on_train_start(self, trainer: object) -> None:
            os.truncate(path, 128 + 64 * 10)

    config = TrainConfig(data=str(path), steps=30, batch_size=32, data_workers=1, out=str(tmp_path / "run"))
    with pytest.raises(DataError) as info:
        train("probe-ae", config, quiet=True, callbacks=[Truncate()], data_shape=(1, 8, 8))
    message = str(info.value)
    # It came through the DataLoader as "Caught DataError in DataLoader worker process 0. Original Traceback ...".
    assert "is cut short" in message and "Traceback" not in message and "worker" not in message
    assert "\n" not in message


@pytest.mark.parametrize("make", [
    lambda: np.broadcast_to(np.zeros((1, 1, 64, 64), dtype=np.uint8), (50_000, 1, 64, 64)),  # 4 KB, 820 MB as float
    lambda: torch.zeros(1, 3, 32, 32).expand(50_000, 3, 32, 32),
    lambda: np.lib.stride_tricks.as_strided(np.zeros(4096, dtype=np.uint8), (50_000, 1, 64, 64), (1, 1, 64, 1)),
], ids=["numpy broadcast", "torch expand", "overlapping strides"])
def test_a_stride_zero_array_is_refused_before_it_is_expanded(make) -> None:
    import tracemalloc

    images = make()
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="broadcast or overlapping-strides"):
            validate_images(images, where="data")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


def test_an_image_folder_is_read_without_following_symlinks_out_of_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ("cat", "dog"):
        (data / name).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (8, 8), color=40 * i).save(data / name / f"{i}.png")
    (data / "cat" / "5.png").symlink_to(data / "cat" / "0.png")  # inside the folder: fine
    assert load_dataset(data).images.shape[0] == 9
    outside = tmp_path / "private.png"
    Image.new("L", (8, 8), color=7).save(outside)
    (data / "dog" / "9.png").symlink_to(outside)
    with pytest.raises(DataError, match="is a symlink to .*private.png, outside the dataset folder"):
        load_dataset(data)
    (data / "dog" / "9.png").unlink()
    elsewhere = tmp_path / "birds"
    elsewhere.mkdir()
    Image.new("L", (8, 8)).save(elsewhere / "0.png")
    (data / "bird").symlink_to(elsewhere)  # a class folder that is elsewhere
    with pytest.raises(DataError, match="outside the dataset folder"):
        load_dataset(data)
