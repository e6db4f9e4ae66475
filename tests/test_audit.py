"""Regressions from an outside audit of issues 12 and 13: hostile inputs and faults the other tests did not try.

Each test names the failure it pins: a traceback or "unexpected" line, a hang, a leftover temporary file, or a
message that named the wrong thing. Models are the probes of tests/_probe.py; data is the built-in ``digits``.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

import zoo
from zoo.cli import main
from zoo.data import load_dataset
from zoo.errors import ConfigError, DataError, LoadError, TrainingError
from zoo.train import TrainConfig, train

from _probe import AE, GAN

pytestmark = pytest.mark.usefixtures("probe_models")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def _alarm() -> Iterator[None]:
    """Fail instead of hanging the suite when a read blocks (a FIFO)."""
    def hung(signum: int, frame: object) -> None:
        raise AssertionError("blocked for 30 s: a read or write is not bounded in time")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def saved_gan(probe_models: object, tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("gan")
    zoo.save(zoo.create(GAN), directory)
    return str(directory)


def _one_error_line(capsys: pytest.CaptureFixture[str], code: int, pattern: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code != 0 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), err
    assert "unexpected" not in lines[0], lines[0]
    assert re.search(pattern, lines[0]), f"{pattern!r} not in {lines[0]!r}"
    return lines[0]


def _run(tmp_path: Path, *, resume: bool = False, steps: int = 2, name: str = AE) -> None:
    config = TrainConfig(data="digits", steps=steps, batch_size=32, out=str(tmp_path / "run"), device="cpu")
    train(name, config, resume=resume, quiet=True, data_shape=(1, 8, 8))


# -- the command line ---------------------------------------------------------------------------------------------


def test_terminal_escapes_in_a_path_are_escaped_in_the_error_line(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # A path from the command line was echoed raw: \x1b]0;...\x07 retitles the terminal.
    code = main(["sample", GAN, "--out", str(tmp_path / "a\x1b]0;pwned\x07.pnx")])
    line = _one_error_line(capsys, code, r"suffix")
    assert "\x1b" not in line and "\x07" not in line and "\\x1b" in line


def test_a_seed_beyond_64_bits_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # torch.Generator.manual_seed(2**64) raised "unexpected ValueError: Overflow when unpacking long long".
    for command in (["sample", GAN], ["reconstruct", AE]):
        code = main([*command, "--seed", str(2**64), "--out", str(tmp_path / "x.png")])
        _one_error_line(capsys, code, r"--seed 18446744073709551616: give a seed from 0")
    assert not list(tmp_path.iterdir())


def test_sigterm_during_a_command_is_one_line_and_leaves_no_temporary_file(
        tmp_path: Path, saved_gan: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # SIGTERM killed `zoo sample` silently (exit -15) and left .NAME.XXXX.tmp.png beside the output.
    out = tmp_path / "out"
    out.mkdir()

    def killed_while_writing(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        Path(str(fp)).write_bytes(b"half a png")
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Image.Image, "save", killed_while_writing)
    before = signal.getsignal(signal.SIGTERM)
    code = main(["sample", saved_gan, "-n", "4", "--out", str(out / "grid.png")])
    assert code == 128 + signal.SIGTERM
    _one_error_line(capsys, code, "terminated by SIGTERM")
    assert not list(out.iterdir()), "a temporary file was left behind"
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored for whoever called main()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_an_unwritable_output_names_the_path_given_not_a_temporary_one(saved_gan: str,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # The message named /proc/self/.x.k2j4.tmp.png, a file the user never asked for.
    code = main(["sample", saved_gan, "--out", "/proc/self/x.png"])
    line = _one_error_line(capsys, code, re.escape("/proc/self/x.png"))
    assert ".tmp" not in line


def test_a_symlink_loop_in_an_output_path_says_what_is_in_the_way(tmp_path: Path, saved_gan: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # Only "l: File exists" before.
    os.symlink("loop", tmp_path / "loop")
    code = main(["sample", saved_gan, "--out", str(tmp_path / "loop" / "s.png")])
    _one_error_line(capsys, code, "in the way; remove it or choose another path")


# -- data files ---------------------------------------------------------------------------------------------------


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


# -- model folders ------------------------------------------------------------------------------------------------


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


# -- run directories ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("_alarm")
def test_a_fifo_in_place_of_the_loss_log_is_refused_without_blocking(tmp_path: Path) -> None:
    # `zoo train --resume` blocked forever opening run/metrics.jsonl for writing.
    _run(tmp_path)
    log = tmp_path / "run" / "metrics.jsonl"
    log.unlink()
    os.mkfifo(log)
    with pytest.raises(TrainingError, match="metrics.jsonl is a FIFO"):
        _run(tmp_path, resume=True, steps=4)


@pytest.mark.parametrize("damage", [b"\xff\xfe\x80garbage\n", b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"\n"])
def test_a_damaged_loss_log_does_not_stop_a_resume(tmp_path: Path, damage: bytes) -> None:
    # "unexpected UnicodeDecodeError" and "unexpected RecursionError" from reading the old log.
    _run(tmp_path)
    log = tmp_path / "run" / "metrics.jsonl"
    log.write_bytes(log.read_bytes() + damage)
    _run(tmp_path, resume=True, steps=4)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records and records[-1]["step"] == 4


@pytest.mark.parametrize(("make", "kind"), [
    (lambda p: (p.unlink(), os.mkfifo(p)), "a FIFO"),
    (lambda p: (p.unlink(), p.mkdir()), "a folder"),
    (lambda p: (p.unlink(), os.symlink(p.name, p)), "a broken symlink"),
])
def test_resume_says_what_is_in_place_of_the_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        make: object, kind: str) -> None:
    # It said "holds no checkpoint.safetensors".
    _run(tmp_path)
    make(tmp_path / "run" / "checkpoint.safetensors")  # type: ignore[operator]
    code = main(["train", "--out", str(tmp_path / "run"), "--resume"])
    _one_error_line(capsys, code, f"checkpoint.safetensors is {kind}")


def test_a_duplicate_key_in_a_recorded_train_config_is_refused(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # The last of two "lr" values silently won; JSON readers disagree on which one counts, so neither is trusted.
    _run(tmp_path)
    recorded = tmp_path / "run" / "train_config.json"
    text = recorded.read_text()
    recorded.write_text(text.replace("{", '{\n  "seed": 7,', 1))
    code = main(["train", "--out", str(tmp_path / "run"), "--resume", "--steps", "4"])
    _one_error_line(capsys, code, "names the key 'seed' twice")


def test_resume_of_a_file_says_it_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    code = main(["train", "--out", str(tmp_path / "f"), "--resume"])
    _one_error_line(capsys, code, "is a file, not a run directory")


def test_eval_of_a_run_writes_both_result_files_or_neither(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A FIFO named metrics.json: eval.json was written first, then the error; the results table was never shown.
    zoo.save(zoo.create(AE), tmp_path)
    os.mkfifo(tmp_path / "metrics.json")
    code = main(["eval", str(tmp_path), "--seeds", "1"])
    out, err = capsys.readouterr()
    assert code != 0 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("zoo: error: ")]
    assert errors == [err.strip().splitlines()[-1]] and "metrics.json: it is a FIFO" in errors[0]
    assert "mse" in out  # the results are shown even though they could not be written
    assert not (tmp_path / "eval.json").exists()
