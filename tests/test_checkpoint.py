"""Checkpoints: validated after reading, stale temporary files removed, write failures reported clearly.

The runs are the probe GAN's (tests/_probe.py, registered for this module by the ``probe_models`` fixture): a
generator and a discriminator, each with its optimizer, so that every part of a checkpoint is there to damage.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from zoo.errors import TrainingError
from zoo.train import TrainConfig, train

from _probe import GAN

pytestmark = pytest.mark.usefixtures("probe_models")


def _cfg(tmp_path: Path, **kw) -> TrainConfig:
    values = {"data": "digits", "steps": 6, "batch_size": 32, "out": str(tmp_path / "run"), "checkpoint_every": 3,
              "log_every": 3, "device": "cpu"}
    values.update(kw)
    return TrainConfig.model_validate_json(json.dumps(values))


def _train(tmp_path: Path, *, resume: bool = False, name: str = GAN, **kw):
    return train(name, _cfg(tmp_path, **kw), resume=resume, quiet=True, data_shape=(1, 8, 8))


@pytest.fixture(scope="module")
def checkpoint(probe_models, tmp_path_factory) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A real probe-gan checkpoint after 6 steps: its tensors and metadata."""
    tmp = tmp_path_factory.mktemp("ckpt")
    _train(tmp)
    with safe_open(str(tmp / "run" / "checkpoint.safetensors"), framework="pt") as fh:
        return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata())


def _edit_state(key: str, value) -> Callable[[dict, dict], None]:
    def edit(tensors: dict, metadata: dict) -> None:
        state = json.loads(metadata["state"])
        state[key] = value
        metadata["state"] = json.dumps(state)
    return edit


def _bad_learning_rate(tensors: dict, metadata: dict) -> None:
    optimizers = json.loads(metadata["optimizers"])
    optimizers["generator"]["param_groups"][0]["lr"] = "fast"
    metadata["optimizers"] = json.dumps(optimizers)


def _first(tensors: dict, prefix: str) -> str:
    return next(k for k in sorted(tensors) if k.startswith(prefix))


CORRUPTIONS: dict[str, tuple[Callable[[dict, dict], None], str]] = {
    "missing step": (lambda t, m: m.update(state=json.dumps({"network_steps": {}})), "step counter is None"),
    "negative step": (_edit_state("step", -4), "step counter is -4"),
    "step as text": (_edit_state("step", "6"), "step counter is '6'"),
    "unknown network": (_edit_state("network_steps", {"critic": 1}), "counts steps for networks \\['critic'\\]"),
    "bool counter": (_edit_state("network_steps", {"generator": True, "discriminator": 6}), "generator"),
    "state not json": (lambda t, m: m.update(state="{not json"), "'state' metadata is not valid JSON"),
    "no optimizers": (lambda t, m: m.pop("optimizers"), "no 'optimizers' entry"),
    "missing tensor": (lambda t, m: t.pop(_first(t, "model/generator")), "missing \\['generator"),
    "extra tensor": (lambda t, m: t.update({"model/extra.weight": torch.zeros(2)}), "unexpected \\['extra.weight'\\]"),
    "wrong shape": (lambda t, m: t.update({_first(t, "model/generator"): torch.zeros(3, 3)}),
                    "is torch.float32 \\(3, 3\\)"),
    "wrong dtype": (lambda t, m: t.update({(k := _first(t, "model/discriminator")): t[k].double()}), "float64"),
    "optimizer key for no parameter": (lambda t, m: t.update({"optim/generator/999/exp_avg": torch.zeros(1)}),
                                       "'optim/generator/999/exp_avg' that matches no parameter"),
    "malformed optimizer key": (lambda t, m: t.update({"optim/generator/x": torch.zeros(1)}), "matches no parameter"),
    "optimizer state of wrong shape": (
        lambda t, m: t.update({_first(t, "optim/generator/0/exp_avg"): torch.zeros(7)}), "but its parameter is"),
    "rng state of wrong size": (lambda t, m: t.update({"rng/torch": torch.zeros(10, dtype=torch.uint8)}),
                                "random number generator state 'rng/torch' is torch.uint8 \\(10,\\)"),
    "rng state missing": (lambda t, m: t.pop("rng/torch"), "no random number generator state"),
    "unknown tensor": (lambda t, m: t.update({"junk": torch.zeros(1)}), "unknown tensor 'junk'"),
    "learning rate not a number": (_bad_learning_rate, "learning rate is 'fast'"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_bad_checkpoint_raises_training_error_naming_the_problem(checkpoint, tmp_path, case):
    tensors, metadata = {k: v.clone() for k, v in checkpoint[0].items()}, dict(checkpoint[1])
    edit, message = CORRUPTIONS[case]
    edit(tensors, metadata)
    # The configs come from a fresh 0-step run in the same folder; then the damaged checkpoint replaces its own.
    _train(tmp_path, steps=3)
    save_file(tensors, str(tmp_path / "run" / "checkpoint.safetensors"), metadata=metadata)
    with pytest.raises(TrainingError, match=message) as info:
        _train(tmp_path, resume=True)
    assert "Delete it" in str(info.value) and info.value.path == tmp_path / "run" / "checkpoint.safetensors"


def test_garbage_checkpoint_is_a_training_error(tmp_path):
    _train(tmp_path, steps=3)
    (tmp_path / "run" / "checkpoint.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(TrainingError, match="unreadable"):
        _train(tmp_path, resume=True)


def test_stale_temporary_files_are_removed_by_the_next_write(tmp_path):
    _train(tmp_path, steps=3)
    stale = tmp_path / "run" / ".checkpoint.k1ll3d.tmp.safetensors"
    stale.write_bytes(b"x" * 100)
    other = tmp_path / "run" / ".notes.tmp.txt"  # not a checkpoint temporary: left alone
    other.write_text("mine")
    _train(tmp_path, resume=True, steps=6)
    assert not stale.exists() and other.exists()


def test_full_disk_during_checkpoint_is_one_clear_error(tmp_path, monkeypatch):
    import zoo.train._checkpoint as ckpt

    _train(tmp_path, steps=3)
    before = (tmp_path / "run" / "checkpoint.safetensors").read_bytes()

    def full(tensors, path, metadata=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ckpt, "save_tensors", full)
    with pytest.raises(TrainingError, match=r"cannot write the checkpoint .*No space left on device.*previous "
                                            r"checkpoint is kept"):
        _train(tmp_path, resume=True, steps=6)
    assert (tmp_path / "run" / "checkpoint.safetensors").read_bytes() == before


def test_full_disk_while_saving_the_model_is_one_clear_error(tmp_path, monkeypatch):
    import zoo.train._callbacks as callbacks

    def full(model, directory):
        raise OSError(errno.ENOSPC, "No space left on device", str(directory))

    monkeypatch.setattr(callbacks, "save", full)
    with pytest.raises(TrainingError, match="No space left on device"):
        _train(tmp_path, steps=3)


def test_checkpoint_round_trip_keeps_tensor_learning_rates_and_kernels(tmp_path):
    """Learning rates live on the device as tensors, and the optimizer's kernels are this process's choice; a
    resumed optimizer keeps both, whatever the file recorded."""
    import zoo
    from zoo.train._checkpoint import load_checkpoint
    from zoo.train._config import OptimizerConfig
    from zoo.train._step import build_optimizer

    _train(tmp_path, steps=3, optimizer={"lr": 2e-4})
    model = zoo.create(GAN, data_shape=(1, 8, 8))

    optimizers = {name: build_optimizer(OptimizerConfig(lr=1.0), list(getattr(model, name).parameters()),
                                        device=torch.device("cpu")) for name in ("discriminator", "generator")}
    path = tmp_path / "run" / "checkpoint.safetensors"
    with safe_open(str(path), framework="pt") as fh:  # as an older zoo wrote it: foreach Adam, no fused kernels
        tensors, metadata = {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata())
    meta = json.loads(metadata["optimizers"])
    for name in meta:
        meta[name]["param_groups"][0].update(fused=None, foreach=None, capturable=False)
    metadata["optimizers"] = json.dumps(meta)
    save_file(tensors, str(path), metadata=metadata)
    state = load_checkpoint(path, model=model, optimizers=optimizers)
    assert state.step == 3 and state.network_steps == {"discriminator": 3, "generator": 3}
    for optimizer in optimizers.values():
        lr = optimizer.param_groups[0]["lr"]
        assert isinstance(lr, torch.Tensor) and float(lr) == pytest.approx(2e-4)
        assert optimizer.param_groups[0]["fused"] is True  # this process's kernels, not the file's
    optimizers["generator"].step()  # a tensor learning rate would fail with foreach kernels


def test_fifo_in_place_of_the_checkpoint_is_refused_without_blocking(tmp_path):
    import os

    _train(tmp_path, steps=3)
    checkpoint = tmp_path / "run" / "checkpoint.safetensors"
    checkpoint.unlink()
    os.mkfifo(checkpoint)
    with pytest.raises(TrainingError, match="it is not a regular file"):
        _train(tmp_path, resume=True)


@pytest.mark.parametrize("extra", ["huge tensor", "many tensors"])
def test_a_checkpoint_announcing_huge_or_many_tensors_is_refused_before_reading_them(checkpoint, tmp_path, extra):
    import tracemalloc

    _train(tmp_path, steps=3)
    path = tmp_path / "run" / "checkpoint.safetensors"
    save_file(checkpoint[0], str(path), metadata=checkpoint[1])
    with safe_open(str(path), framework="pt") as fh:  # rewrite the header: the real entries, then the extras
        header = {k: {"dtype": fh.get_slice(k).get_dtype(), "shape": list(fh.get_slice(k).get_shape())}
                  for k in fh.keys()}
    length = int.from_bytes(path.read_bytes()[:8], "little")
    data = path.read_bytes()[8 + length:]
    parsed = json.loads(path.read_bytes()[8:8 + length])
    extras = {"model/extra": ("F32", [100_000_000])} if extra == "huge tensor" else {
        f"junk/{i}": ("F32", [0]) for i in range(20_000)}
    end = len(data)
    for name, (dtype, shape) in extras.items():
        size = 4 * shape[0]
        parsed[name] = {"dtype": dtype, "shape": shape, "data_offsets": [end, end + size]}
        end += size
    text = json.dumps(parsed).encode()
    with open(path, "wb") as fh:
        fh.write(len(text).to_bytes(8, "little") + text + data)
        fh.truncate(8 + len(text) + end)  # a hole: 400 MB that cost no disk
    assert header
    tracemalloc.start()
    try:
        with pytest.raises(TrainingError, match="bytes|tensors"):
            _train(tmp_path, resume=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # reading the extra tensor first took 400 MB


def test_a_full_disk_at_the_first_checkpoint_is_one_clear_error_line(tmp_path, monkeypatch, capsys):
    from safetensors import SafetensorError

    import zoo._serialization as serialization
    from zoo.cli import main

    def full(tensors, filename, metadata=None):  # what safetensors raises when the disk fills (not an OSError)
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(serialization, "save_file", full)
    with pytest.raises(TrainingError, match=r"cannot write the checkpoint .*No space left on device"):
        _train(tmp_path, steps=3)
    code = main(["train", GAN, "--data", "digits", "--steps", "3", "--set", "data_shape=[1,8,8]", "--out",
                 str(tmp_path / "cli"), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and "No space left on device" in err and "bug in zoo" not in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_symlinked_checkpoint_is_refused(tmp_path):
    from zoo.errors import ConfigError

    _train(tmp_path, steps=3)
    path = tmp_path / "run" / "checkpoint.safetensors"
    elsewhere = tmp_path / "elsewhere.safetensors"
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="checkpoint.safetensors is a symlink"):
        _train(tmp_path, resume=True)
