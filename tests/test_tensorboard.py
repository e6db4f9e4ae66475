"""``logger=tensorboard``: event files read back with tensorboard's own reader, across a resume; the slot a
third-party logger takes; the one-line refusal without the extra."""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

import pytest

import zoo
from zoo._rundir import TENSORBOARD_DIR
from zoo.errors import ConfigError
from zoo.train import Callback, TrainConfig, train
from zoo.train._config import lr_factor

from _probe import AE, GAN

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

pytestmark = pytest.mark.usefixtures("probe_models")


def _cfg(tmp_path: Path, name: str = "run", **kw: object) -> TrainConfig:
    values = {"data": "digits", "steps": 20, "batch_size": 32, "out": str(tmp_path / name), "checkpoint_every": 10,
              "log_every": 5, "logger": "tensorboard", "device": "cpu"}
    values.update(kw)
    return TrainConfig.model_validate_json(json.dumps(values))


def _events(out: Path) -> EventAccumulator:
    events = EventAccumulator(str(out / TENSORBOARD_DIR), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def _steps(events: EventAccumulator, tag: str) -> list[int]:
    return [e.step for e in events.Scalars(tag)]


def _metrics(out: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_gan_losses_learning_rates_and_samples_by_step(tmp_path: Path) -> None:
    config = _cfg(tmp_path, lr_schedule="cosine", warmup_steps=4)
    train(GAN, config, quiet=True, data_shape=(1, 8, 8))
    events = _events(tmp_path / "run")
    tags = events.Tags()
    assert {"train/loss/generator", "train/loss/discriminator", "lr/generator", "lr/discriminator"} <= set(
        tags["scalars"])
    assert _steps(events, "train/loss/generator") == [5, 10, 15, 20]
    # Values are the means metrics.jsonl records (float32 in the event file).
    records = _metrics(tmp_path / "run")
    for event, record in zip(events.Scalars("train/loss/generator"), records, strict=True):
        assert event.value == pytest.approx(record["loss/generator"], rel=1e-6)
    # The rate the window's last step used (warm-up, then cosine), computed on the host from the schedule.
    expected = [1e-3 * lr_factor("cosine", 4, step - 1, 20) for step in (5, 10, 15, 20)]
    assert [e.value for e in events.Scalars("lr/generator")] == pytest.approx(expected, rel=1e-6)
    # The sample grid at each checkpoint (every 10 steps, and the final one).
    assert tags["images"] == ["samples"]
    assert [e.step for e in events.Images("samples")] == [10, 20]
    assert events.Images("samples")[0].width > 8


def test_resume_continues_the_curves_without_duplicated_steps(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(AE, _cfg(tmp_path, steps=15), quiet=True, data_shape=(1, 8, 8))
    # A run killed after its checkpoint (step 15) had logged step 20: the resumed run purges and rewrites it.
    from torch.utils.tensorboard import SummaryWriter

    time.sleep(1 - time.time() % 1)  # event files sort by the second they were opened in: keep the order
    with SummaryWriter(str(out / TENSORBOARD_DIR)) as orphan:
        orphan.add_scalar("train/loss", 123.0, 20)
    time.sleep(1 - time.time() % 1)
    train(AE, _cfg(tmp_path, steps=30), resume=True, quiet=True, data_shape=(1, 8, 8))
    events = _events(out)
    assert _steps(events, "train/loss") == [5, 10, 15, 20, 25, 30]
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx([r["loss"] for r in _metrics(out)],
                                                                             rel=1e-6)
    assert [e.step for e in events.Images("reconstructions")] == [10, 15, 20, 30]
    # The logger is part of the recorded run: `--resume` alone keeps it.
    assert json.loads((out / "train_config.json").read_text())["logger"] == "tensorboard"


def test_early_stopping_evaluations_are_logged(tmp_path: Path) -> None:
    config = _cfg(tmp_path, steps=None, epochs=3, early_stopping_patience=5, checkpoint_every=0)
    result = train(AE, config, quiet=True, data_shape=(1, 8, 8))
    events = _events(result.out)
    per_epoch = result.step // 3
    assert _steps(events, "eval/test_loss/model") == [per_epoch, 2 * per_epoch, 3 * per_epoch]


def test_without_tensorboard_the_run_is_refused_before_it_starts(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # what a missing package looks like
    with pytest.raises(ImportError, match=r"pip install 'genzoo\[tensorboard\]'"):
        train(AE, _cfg(tmp_path), quiet=True, data_shape=(1, 8, 8))
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_cli_error_is_one_line_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    code = _cli_main()(["train", AE, "--data", "digits", "--steps", "2", "--out", str(tmp_path / "cli"), "--set",
                        "data_shape=[1,8,8]", "--set", "logger=tensorboard"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "\n" not in err and "pip install 'genzoo[tensorboard]'" in err, err


def test_train_help_lists_the_logger_field(capsys: pytest.CaptureFixture[str]) -> None:
    _cli_main()(["train", "--help"])
    line = 'logger                     str; default "none"; live logging: none, tensorboard'
    assert line in capsys.readouterr().out


class _RecordingLogger(Callback):
    """What a W&B or MLflow logger looks like to zoo: a callback that claims a logger name."""

    logger_name = "recorder"

    def __init__(self) -> None:
        self.logged: list[int] = []

    def on_log(self, trainer: object, step: int, metrics: dict[str, float]) -> None:
        self.logged.append(step)


class _LoggerPlugin:
    def __init__(self) -> None:
        self.callback = _RecordingLogger()

    @zoo.hookimpl
    def zoo_callbacks(self, train_config: TrainConfig) -> list[Callback]:
        return [self.callback] if train_config.logger == "recorder" else []


def test_a_plugin_logger_takes_the_same_slot_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    refused = r"logger='recorder': no installed plugin provides a logger of that name \(built in: none, tensorboard\)"
    with pytest.raises(ConfigError, match=refused):
        train(AE, _cfg(tmp_path, "refused", logger="recorder"), quiet=True, data_shape=(1, 8, 8))
    plugin = _LoggerPlugin()
    zoo.register_plugin(plugin, name="recorder-logger")
    try:
        train(AE, _cfg(tmp_path, logger="recorder"), quiet=True, data_shape=(1, 8, 8))
    finally:
        zoo.unregister_plugin("recorder-logger")
    assert plugin.callback.logged == [5, 10, 15, 20]
    assert not (tmp_path / "run" / TENSORBOARD_DIR).exists()


def test_a_bad_logger_name_is_a_config_error() -> None:
    with pytest.raises(ValueError):
        TrainConfig(logger="Not A Name")
    with pytest.raises(ValueError):
        TrainConfig.model_validate({"logger": 3})


def _cli_main():  # type: ignore[no-untyped-def]
    """The command line's entry point, wherever the CLI package keeps it."""
    for module in ("zoo.cli", "zoo._cli"):
        try:
            return importlib.import_module(module).main
        except ImportError:
            continue
    raise AssertionError("no zoo command line module")


@pytest.mark.slow  # two processes under torchrun
@pytest.mark.dense
def test_under_torchrun_rank_zero_alone_writes(tmp_path: Path) -> None:
    import os
    import subprocess

    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "zoo",
               "train", "dense-ae", "--data", "digits", "--steps", "20", "--batch-size", "32", "--out", str(out),
               "--set", "data_shape=[1,8,8]", "--set", "log_every=5", "--set", "checkpoint_every=10", "--set",
               "logger=tensorboard", "--set", "device=cpu", "-q"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert len(list((out / TENSORBOARD_DIR).iterdir())) == 1
    events = _events(out)
    assert _steps(events, "train/loss") == [5, 10, 15, 20]
    assert [e.step for e in events.Images("reconstructions")] == [10, 20]
