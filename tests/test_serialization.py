"""zoo.save / zoo.load: a model folder changes as a unit, only regular files are read, hostile JSON is refused,
and tied parameters survive a round trip."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open

import zoo
from zoo import _serialization
from zoo.errors import ConfigError, LoadError, ZooError

from _probe import AE

pytestmark = pytest.mark.usefixtures("probe_models")

LATENTS = (3, 4, 5)  # three distinguishable models; a model's weights all equal its latent_dim


def _model(latent_dim: int) -> torch.nn.Module:
    model = zoo.create(AE, hidden=[512], latent_dim=latent_dim)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float(latent_dim))
    return model


def _check_consistent(directory: Path) -> int:
    """Load ``directory`` and return the model's latent_dim, failing unless weights and config are one pair."""
    model = zoo.load(directory)
    latent_dim = model.config.latent_dim
    values = {float(v) for p in model.parameters() for v in p.detach().unique()}
    assert values == {float(latent_dim)}, f"config of latent_dim {latent_dim} loaded weights {values}"
    return int(latent_dim)


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (a FIFO opened for reading blocks until a writer appears)."""

    def fail(*_: object) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- a model folder changes as a unit ---------------------------------------------------------------------------


class _Crash(Exception):
    pass


class _FailingCalls:
    """Wraps file-system calls; the ``fail_at``-th call raises instead of running."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at, self.calls = fail_at, 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.fail_at:
                raise _Crash(f"injected failure in call {self.calls} ({function.__name__})")
            return function(*args, **kwargs)

        return call


def test_a_save_failing_at_any_step_leaves_the_old_model_or_the_new(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _model(3), _model(5)
    zoo.save(old, tmp_path)
    outcomes, crashed = set(), True
    for fail_at in range(1, 60):
        failing = _FailingCalls(fail_at)
        with monkeypatch.context() as patch:
            for owner, name in ((os, "replace"), (os, "fsync"), (os, "write"), (Path, "write_bytes"),
                                (_serialization, "save_bytes")):
                patch.setattr(owner, name, failing.wrap(getattr(owner, name)))
            try:
                zoo.save(new, tmp_path)
                crashed = False
            except _Crash:
                crashed = True
        outcomes.add(_check_consistent(tmp_path))
        if not crashed:
            break
        zoo.save(old, tmp_path)  # start the next round from the old model again
    assert not crashed, "the save never completed; the fault injection covers no complete save"
    assert fail_at > 4  # several distinct steps failed before one save went through
    assert outcomes == {3, 5}  # failures before the commit point kept the old model, after it the new one


def test_a_killed_save_leaves_a_loadable_pair(tmp_path: Path) -> None:
    """A child process saves three models in turn and is killed at random instants; the folder always loads."""
    zoo.save(_model(LATENTS[0]), tmp_path)
    models = [_model(k) for k in LATENTS]
    rng = random.Random(0)
    seen, interrupted_mid_save = set(), 0
    for _ in range(25):
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: save forever until killed, saying when the first save is done
            try:
                os.close(ready_read)
                for index in range(10**9):
                    zoo.save(models[index % len(models)], tmp_path)
                    if index == 0:
                        os.write(ready_write, b"1")
            finally:
                os._exit(1)
        os.close(ready_write)
        os.read(ready_read, 1)  # on a loaded machine the child may start late: time the kill from its saves
        os.close(ready_read)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
        interrupted_mid_save += bool(leftovers)
        seen.add(_check_consistent(tmp_path))
    assert interrupted_mid_save >= 1, "no kill landed inside a save; the test proves nothing"
    assert len(seen) >= 2
    zoo.save(_model(4), tmp_path)  # the next save removes what killed saves left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    assert _check_consistent(tmp_path) == 4


def test_a_load_racing_a_save_never_mixes_a_pair(tmp_path: Path) -> None:
    zoo.save(_model(LATENTS[0]), tmp_path)
    models = [_model(k) for k in LATENTS]
    pid = os.fork()
    if pid == 0:
        try:
            end = time.monotonic() + 3.0
            index = 0
            while time.monotonic() < end:
                index += 1
                zoo.save(models[index % len(models)], tmp_path)
        finally:
            os._exit(0)
    seen, loads = set(), 0
    try:
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            seen.add(_check_consistent(tmp_path))
            loads += 1
    finally:
        os.waitpid(pid, 0)
    assert loads >= 10 and len(seen) >= 2


def test_weights_of_another_save_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zoo.save(_model(4), tmp_path / "a")
    zoo.save(_model(5), tmp_path / "b")  # other weights: a save id is a hash of the weights
    os.replace(tmp_path / "b" / "model.safetensors", tmp_path / "a" / "model.safetensors")
    monkeypatch.setattr(_serialization, "PAIR_RETRY_SECONDS", 0.1)
    with pytest.raises(LoadError, match="come from different saves"):
        zoo.load(tmp_path / "a")


def test_a_pending_file_is_used_when_a_save_stopped_after_its_commit(tmp_path: Path) -> None:
    zoo.save(_model(3), tmp_path)
    # Reproduce the instant between the two renames: new config.json, old weights, new weights still pending.
    new = tmp_path / "new"
    zoo.save(_model(5), new)
    weights_id = json.loads((new / "config.json").read_text())["weights_id"]
    os.replace(new / "model.safetensors", tmp_path / f".model.{weights_id}.safetensors")
    os.replace(new / "config.json", tmp_path / "config.json")
    assert _check_consistent(tmp_path) == 5


def test_saving_into_a_file_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.write_text("not a folder")
    with pytest.raises(ConfigError, match="it is a file, not a folder"):
        zoo.save(_model(3), target)


# -- only regular files are read ----------------------------------------------------------------------------------


def _special(kind: str, path: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "device-symlink":
        path.symlink_to("/dev/zero")
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()


EXPECTED = {"fifo": "a FIFO (named pipe)", "directory": "a folder",
            "device-symlink": "a character device (through a symlink)", "socket": "a socket"}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_special_files_are_refused_by_name(tmp_path: Path, kind: str, name: str) -> None:
    zoo.save(_model(3), tmp_path)
    (tmp_path / name).unlink()
    _special(kind, tmp_path / name)
    with _deadline(20), pytest.raises(LoadError) as excinfo:
        zoo.load(tmp_path)
    message = str(excinfo.value)
    assert f"{tmp_path / name} is {EXPECTED[kind]}, not a regular file" in message
    assert excinfo.value.path == tmp_path / name
    assert "found:" not in message


def test_a_symlink_to_a_regular_file_still_loads(tmp_path: Path) -> None:
    zoo.save(_model(4), tmp_path / "real")
    linked = tmp_path / "linked"
    linked.mkdir()
    for name in ("config.json", "model.safetensors"):
        (linked / name).symlink_to(tmp_path / "real" / name)  # as in the Hugging Face cache
    assert _check_consistent(linked) == 4


# -- hostile config.json ------------------------------------------------------------------------------------------


def _with_config(directory: Path, text: str) -> None:
    zoo.save(_model(3), directory)
    (directory / "config.json").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[" * 300_000 + "]" * 300_000, "nested too deeply"),
        ('{"format_version": 1, "architecture": "probe-ae", "config": {"latent_dim": ' + "7" * 5000 + "}}",
         "not valid JSON"),
        ('{"format_version": true, "architecture": "probe-ae", "config": {}}', "format_version true"),
        ('{"format_version": 1.0, "architecture": "probe-ae", "config": {}}', "format_version 1.0"),
        ('{"format_version": 1, "architecture": "probe-ae", "config": {}, "weights_id": "../../etc"}',
         "32 lowercase hex digits"),
        ('{"format_version": 1, "architecture": "probe-ae", "config": {"latent_dim": '
         + "[" * 900 + "]" * 900 + "}}", "invalid"),
        ("\udcff".encode("utf-8", "surrogatepass").decode("latin-1"), "not valid JSON|not UTF-8"),
    ],
    ids=["depth-300000", "5000-digit-int", "version-true", "version-float", "id-path", "depth-900", "not-utf8"],
)
def test_hostile_config_raises_a_zoo_error(tmp_path: Path, text: str, match: str) -> None:
    _with_config(tmp_path, text)
    with pytest.raises(ConfigError, match=match):
        zoo.load(tmp_path)


def test_hostile_values_from_the_python_api_raise_config_errors() -> None:
    deep: list[object] = []
    for _ in range(300_000):
        deep = [deep]
    for value in (10**5000, deep):
        with pytest.raises(ConfigError):
            zoo.create(AE, latent_dim=value)


def test_oversized_config_is_refused(tmp_path: Path) -> None:
    _with_config(tmp_path, " " * (_serialization.MAX_CONFIG_BYTES + 1) + "{}")
    with pytest.raises(ZooError, match="a zoo config.json is at most"):
        zoo.load(tmp_path)


# -- tied parameters ----------------------------------------------------------------------------------------------


def _tied_model() -> torch.nn.Module:
    model = zoo.create(AE, data_shape=(1, 4, 8), hidden=[32], latent_dim=32)
    model.decoder.weight = model.encoder[0].weight  # two 32x32 layers share one matrix
    return model


def test_tied_parameters_are_saved_once_and_tied_again(tmp_path: Path) -> None:
    model = _tied_model()
    zoo.save(model, tmp_path)
    with safe_open(tmp_path / "model.safetensors", framework="pt") as fh:
        stored = set(fh.keys())
        assert json.loads(fh.metadata()["zoo_tied"]) in ({"encoder.0.weight": "decoder.weight"},
                                                         {"decoder.weight": "encoder.0.weight"})
    assert len(stored) == len(model.state_dict()) - 1

    loaded = zoo.load(tmp_path)
    assert loaded.decoder.weight is loaded.encoder[0].weight  # the tie is restored, not two copies
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.rand(2, 1, 4, 8)
    assert torch.equal(loaded(x), model.eval()(x))
    with torch.no_grad():
        loaded.encoder[0].weight.add_(1.0)
    assert torch.equal(loaded.decoder.weight, loaded.encoder[0].weight)


def test_a_checkpoint_of_a_tied_model_can_be_written(tmp_path: Path) -> None:
    model = _tied_model()
    _serialization.save_tensors(dict(model.state_dict()), tmp_path / "state.safetensors")
    with safe_open(tmp_path / "state.safetensors", framework="pt") as fh:
        assert set(fh.keys()) == set(model.state_dict())


# -- memory bounds: the header is checked against the model before any tensor data is read (issue 19) -----------


def _forge(path: Path, entries: dict[str, tuple[str, list[int]]], metadata: dict[str, str]) -> None:
    """A safetensors file of ``entries`` whose data is a hole: a sparse file, so its size costs no disk."""
    sizes = {"F32": 4, "F64": 8, "U8": 1}
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, (dtype, shape) in entries.items():
        size = sizes[dtype] * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    with open(path, "wb") as fh:
        fh.write(len(text).to_bytes(8, "little") + text)
        fh.truncate(8 + len(text) + offset)


def _saved_entries(directory: Path) -> tuple[dict[str, tuple[str, list[int]]], dict[str, str]]:
    with safe_open(directory / "model.safetensors", framework="pt") as fh:
        metadata = dict(fh.metadata())
        return {k: (fh.get_slice(k).get_dtype(), list(fh.get_slice(k).get_shape())) for k in fh.keys()}, metadata


def _peak_bytes(call: Callable[[], object]) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        with contextlib.suppress(ZooError):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("case", ["huge extra tensor", "huge shape for a known tensor", "100k empty tensors"])
def test_a_hostile_weights_header_is_refused_before_any_data_is_read(tmp_path: Path, case: str) -> None:
    zoo.save(_model(3), tmp_path)
    entries, metadata = _saved_entries(tmp_path)
    if case == "huge extra tensor":
        entries["extra.weight"] = ("F32", [100_000_000])  # 400 MB of hole
        match = "unexpected: \\['extra.weight'\\]"
    elif case == "huge shape for a known tensor":
        first = next(iter(entries))
        entries[first] = ("F32", [100_000_000])
        match = "wrong shape or dtype"
    else:
        entries.update({f"t{i}": ("F32", [0]) for i in range(100_000)})  # 500k cost +710 MB
        match = "header is .* bytes, more than"
    _forge(tmp_path / "model.safetensors", entries, metadata)
    with pytest.raises(LoadError, match=match):
        zoo.load(tmp_path)
    assert _peak_bytes(lambda: zoo.load(tmp_path)) < 20_000_000  # reading first cost 400 MB, or 700 MB parsing


def test_a_tie_between_tensors_of_different_shapes_is_refused_at_load(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    zoo.save(_model(3), tmp_path)
    weights = tmp_path / "model.safetensors"
    tensors = load_file(weights)
    with safe_open(weights, framework="pt") as fh:
        metadata = dict(fh.metadata())
    alias, name = next((a, b) for a in tensors for b in tensors if tensors[a].shape != tensors[b].shape)
    # The alias is stored too, so every shape matches; loading then made it the other tensor, and every forward
    # pass failed.
    save_file(tensors, weights, metadata={**metadata, "zoo_tied": json.dumps({alias: name})})
    with pytest.raises(LoadError, match="only tensors of identical shape and dtype"):
        zoo.load(tmp_path)


# -- hostile folders (from the outside audit of issues 12 and 13) ------------------------------------------


def test_a_config_json_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    # Readers disagree on which value wins; zoo took the last one silently.
    zoo.save(zoo.create(AE), tmp_path)
    text = (tmp_path / "config.json").read_text()
    document = json.loads(text)
    (tmp_path / "config.json").write_text(text.replace('"architecture"', '"architecture": "nope", "architecture"', 1))
    with pytest.raises(ConfigError, match="names the key 'architecture' twice"):
        zoo.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(document))
    assert zoo.load(tmp_path) is not None


def test_a_broken_symlink_named_model_safetensors_is_reported_as_one(tmp_path: Path) -> None:
    # It said "has no model.safetensors (found: ..., model.safetensors)".
    zoo.save(zoo.create(AE), tmp_path)
    (tmp_path / "model.safetensors").unlink()
    os.symlink("model.safetensors", tmp_path / "model.safetensors")
    with pytest.raises(LoadError, match="broken symlink"):
        zoo.load(tmp_path)
