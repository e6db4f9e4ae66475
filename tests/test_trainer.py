"""The generic trainer: third-party variants, exact resume, faults, signals, distributed.

The trainer knows no concrete model, so these tests train the test suite's probe models (tests/_probe.py), which
the ``probe_models`` fixture registers for this module; they pass with genzoo-dense installed or blocked. A child
process gets the probes with ``_probe.zoo_command`` or ``_probe.REGISTER_IN_CHILD``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from pydantic import Field
from safetensors.torch import load_file
from torch import nn

import zoo
from zoo.errors import ConfigError, NonFiniteLossError, ResumeMismatchError, TrainingError
from zoo.train import TrainConfig, train

import _probe
from _probe import AE, GAN

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("probe_models")


# -- a third-party autoencoder and GAN, defined here, that only implement the protocols ----------------------
class TinyConfig(zoo.ModelConfig):
    data_shape: tuple[int, int, int] = (1, 8, 8)
    latent_dim: int = Field(4, ge=1, le=64)
    nan_after: int = Field(0, ge=0, le=1000)  # 0: never; used to provoke a non-finite loss


class TinyAE(nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        c, h, w = config.data_shape
        self.enc = nn.Linear(c * h * w, config.latent_dim)
        self.dec = nn.Linear(config.latent_dim, c * h * w)
        self.calls = 0

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.enc(x.flatten(1)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.dec(z)).view(-1, *self.config.data_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.decode(self.encode(x))
        if self.config.nan_after and self.calls > self.config.nan_after:
            out = out * float("nan")
        return out


class TinyGenerator(nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.net = nn.Sequential(nn.Linear(config.latent_dim, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.config.data_shape)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=self.net[0].weight.device)
        return self(z)


class TinyGAN(nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = TinyGenerator(config)
        self.discriminator = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1),
                                           nn.Flatten(0))

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.generator.sample(n, generator=generator)


class TinyPlugin:
    @zoo.hookimpl
    def zoo_models(self) -> list[zoo.ModelSpec]:
        return [
            zoo.ModelSpec(name="tiny-ae", config=TinyConfig, build=TinyAE, kind="autoencoder"),
            zoo.ModelSpec(name="tiny-gan", config=TinyConfig, build=TinyGAN, kind="gan"),
        ]


@pytest.fixture()
def tiny_plugin():
    zoo.register_plugin(TinyPlugin(), name="tiny-test-plugin")
    yield
    zoo.unregister_plugin("tiny-test-plugin")


def _cfg(tmp_path: Path, name: str = "run", **kw) -> TrainConfig:
    values = {"data": "digits", "steps": 20, "batch_size": 32, "out": str(tmp_path / name), "checkpoint_every": 10,
              "log_every": 1}
    values.update(kw)
    return TrainConfig.model_validate_json(json.dumps(values))


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name", ["tiny-ae", "tiny-gan"])
def test_third_party_variant_trains_without_changes(tiny_plugin, tmp_path, name):
    result = train(name, _cfg(tmp_path, steps=60, optimizer={"lr": 0.01}), quiet=True)
    assert result.status == "completed" and result.step == 60
    out = result.out
    for file in ("config.json", "model.safetensors", "train_config.json", "metrics.jsonl", "loss_curve.png",
                 "checkpoint.safetensors"):
        assert (out / file).is_file(), file
    records = _metrics(out)
    assert [r["step"] for r in records] == list(range(1, 61))
    if name == "tiny-ae":
        assert (out / "reconstructions.png").is_file()
        first = sum(r["loss"] for r in records[:10]) / 10
        last = sum(r["loss"] for r in records[-10:]) / 10
        assert last < 0.8 * first
    else:
        assert (out / "samples.png").is_file()
        assert {"loss/discriminator", "loss/generator"} <= set(records[-1])
    loaded = zoo.load(out)
    assert not loaded.training


@pytest.mark.parametrize("name,extra", [(AE, {}), (GAN, {"ema_decay": 0.9})])
def test_resume_is_bit_identical(tmp_path, name, extra):
    overrides = {"data_shape": (1, 8, 8), **extra}
    train(name, _cfg(tmp_path, "straight", steps=30), quiet=True, **overrides)
    first = train(name, _cfg(tmp_path, "split", steps=15), quiet=True, **overrides)
    assert first.step == 15
    resumed = train(name, _cfg(tmp_path, "split", steps=30), resume=True, quiet=True, **overrides)
    assert resumed.step == 30
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "split" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert _metrics(tmp_path / "straight") == _metrics(tmp_path / "split")


def test_resume_with_changed_config_is_refused(tmp_path):
    train(AE, _cfg(tmp_path, steps=5), quiet=True, data_shape=(1, 8, 8))
    with pytest.raises(ResumeMismatchError) as excinfo:
        train(AE, _cfg(tmp_path, steps=10, batch_size=16), resume=True, quiet=True, data_shape=(1, 8, 8),
              latent_dim=8)
    # Both changed settings are named, the model's and the training config's.
    assert "model.latent_dim" in str(excinfo.value) and "train.batch_size" in str(excinfo.value)
    with pytest.raises(TrainingError, match="already holds a training run"):
        train(AE, _cfg(tmp_path, steps=10), quiet=True, data_shape=(1, 8, 8))


def test_non_finite_loss_stops_with_step_and_network(tiny_plugin, tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"model loss became nan at step 13"):
        train("tiny-ae", _cfg(tmp_path, steps=40), quiet=True, nan_after=12)
    checkpoint = load_file(tmp_path / "run" / "checkpoint.safetensors")
    assert all(torch.isfinite(t).all() for k, t in checkpoint.items() if k.startswith("model/"))


def test_data_shape_mismatch_is_refused_before_training(tmp_path):
    with pytest.raises(zoo.errors.DataError, match="data_shape"):
        train(AE, _cfg(tmp_path), quiet=True)
    assert not (tmp_path / "run").exists()


def test_bf16_autocast_trains(tmp_path):
    result = train(AE, _cfg(tmp_path, steps=10, precision="bf16"), quiet=True, data_shape=(1, 8, 8))
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in _metrics(result.out))


def _zoo(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    """``zoo ARGS`` in a child process that has the probe models."""
    return subprocess.Popen(_probe.zoo_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})}, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_saves_checkpoint_and_the_printed_command_finishes_the_run(tmp_path, signum):
    out = tmp_path / "run"
    proc = _zoo("train", AE, "--data", "digits", "--steps", "4000", "--batch-size", "8", "--out",
                str(out), "--set", "data_shape=[1,8,8]", "--set", "checkpoint_every=0", "--set", "log_every=1",
                "--quiet", env={"OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not (out / "metrics.jsonl").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # metrics.jsonl is created when the loop starts; its lines are flushed at checkpoints.
    time.sleep(0.3)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    match = re.search(rf"{signum.name} at step (\d+): checkpoint saved in .*; continue with `zoo train (.*)`", err)
    assert match, err
    step, printed = int(match.group(1)), shlex.split(match.group(2))
    assert 0 < step < 4000 and printed == ["--out", str(out), "--resume"]
    assert max(r["step"] for r in _metrics(out)) == step
    done = _zoo("train", *printed, "--quiet", env={"OMP_NUM_THREADS": "1"})  # exactly what was printed
    stdout, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert [r["step"] for r in _metrics(out)] == list(range(1, 4001))
    recorded = json.loads((out / "train_config.json").read_text())
    assert recorded["steps"] == 4000 and None not in recorded.values()


def test_kill_during_checkpoint_write_keeps_previous(tmp_path):
    out = tmp_path / "run"
    script = _probe.REGISTER_IN_CHILD + "\n" + textwrap.dedent(f"""
        import os, signal
        import zoo.train._checkpoint as ckpt
        from zoo.train import TrainConfig, train
        real = ckpt.save_tensors
        calls = []
        def dying_save(tensors, path, metadata=None):
            calls.append(path)
            if len(calls) == 2:  # the second checkpoint: write half a temp file, then die like SIGKILL
                tmp = path.with_name(".checkpoint.k1ll3d.tmp.safetensors")  # atomic_destination's naming
                tmp.write_bytes(b"x" * 1000)
                os.kill(os.getpid(), signal.SIGKILL)
            real(tensors, path, metadata)
        ckpt.save_tensors = dying_save
        config = TrainConfig(data="digits", steps=40, batch_size=16, out={str(out)!r}, checkpoint_every=10,
                             log_every=1)
        train({AE!r}, config, quiet=True, data_shape=(1, 8, 8))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    resumed = train(AE, _cfg(tmp_path, steps=40, batch_size=16, checkpoint_every=10), resume=True,
                    quiet=True, data_shape=(1, 8, 8))
    assert resumed.step == 40
    records = _metrics(out)
    assert [r["step"] for r in records] == list(range(1, 41))
    assert not (out / ".checkpoint.k1ll3d.tmp.safetensors").exists()  # removed by the next successful write


def test_cli_set_routes_and_rejects(tmp_path):
    from zoo._cli_train import split_overrides

    model, train_values = split_overrides(["latent_dim=8", "optimizers.generator.lr=2e-4", "loss=hinge"],
                                          {"latent_dim", "loss"}, {"optimizers", "steps"})
    assert model == {"latent_dim": 8, "loss": "hinge"}
    assert train_values == {"optimizers": {"generator": {"lr": 2e-4}}}
    with pytest.raises(ConfigError, match="did you mean latent_dim"):
        split_overrides(["latent_dm=3"], {"latent_dim"}, {"steps"})
    proc = _zoo("train", AE, "--steps", "1", "--set", "latent_dim=-1", "--out", str(tmp_path / "x"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "latent_dim" in err and "Traceback" not in err


@pytest.mark.slow
def test_distributed_two_processes_match_one(tmp_path):
    # torchrun starts a script, not `python -c`: the CLI with the probes registered, written to a file.
    script = tmp_path / "zoo_with_probes.py"
    script.write_text(_probe.zoo_command()[2] + "\n", encoding="utf-8")
    common = [str(script), "train", AE, "--data", "digits", "--steps", "12", "--batch-size", "32",
              "--set", "data_shape=[1,8,8]", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, *common, "--out", str(tmp_path / "one")], capture_output=True,
                            text=True, env=env, timeout=180)
    assert single.returncode == 0, single.stderr
    multi = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                            *common, "--out", str(tmp_path / "two")], capture_output=True, text=True, env=env,
                           timeout=300)
    assert multi.returncode == 0, multi.stderr[-3000:]
    a = load_file(tmp_path / "one" / "model.safetensors")
    b = load_file(tmp_path / "two" / "model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


class RecordingCallback(zoo.train.Callback):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_train_start(self, trainer) -> None:
        self.events.append("start")

    def on_train_end(self, trainer) -> None:
        self.events.append("end")


class CallbackPlugin:
    def __init__(self) -> None:
        self.callback = RecordingCallback()

    @zoo.hookimpl
    def zoo_callbacks(self, train_config):
        return [self.callback]


class BrokenCallbackPlugin:
    @zoo.hookimpl
    def zoo_callbacks(self, train_config):
        raise RuntimeError("logger backend missing")


def test_plugins_contribute_callbacks_and_a_broken_one_is_skipped(tmp_path, caplog):
    plugin = CallbackPlugin()
    zoo.register_plugin(plugin, name="callback-plugin")
    zoo.register_plugin(BrokenCallbackPlugin(), name="broken-callback-plugin")
    try:
        train(AE, _cfg(tmp_path, steps=3), quiet=True, data_shape=(1, 8, 8))
    finally:
        zoo.unregister_plugin("callback-plugin")
        zoo.unregister_plugin("broken-callback-plugin")
    assert plugin.callback.events == ["start", "end"]
    assert "logger backend missing" in caplog.text


def test_early_stopping_and_sample_snapshots(tmp_path):
    # A learning rate of ~0 cannot improve the test loss, so patience 2 stops after the third epoch.
    config = _cfg(tmp_path, steps=None, epochs=50, optimizer={"lr": 1e-12}, early_stopping_patience=2,
                  sample_every=30)
    result = train(AE, config, quiet=True, data_shape=(1, 8, 8))
    from zoo.data import load_dataset

    per_epoch = -(-len(load_dataset("digits", "train")) // 32)
    assert result.status == "early-stopped" and result.step == 3 * per_epoch
    assert sorted(p.name for p in (result.out / "snapshots").iterdir())[0] == "step-00000030-reconstructions.png"


# -- the graph-safe step, device-side loss windows, resume from the run directory alone ---------------------------
def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "model.safetensors")


def test_static_step_matches_eager_bit_for_bit(tmp_path, monkeypatch):
    """The static step (fixed batch buffers, gradients zeroed in place, partial batches outside) is what a CUDA
    graph replays; on CPU it must train exactly as the eager step, on the GAN recipe's moving parts."""
    import zoo.train._trainer as trainer_module

    extra = {"data_shape": (1, 8, 8), "ema_decay": 0.9, "augment_translation": 0.125, "batchnorm": True,
             "dropout": 0.3}
    config = {"steps": 50, "batch_size": 64, "optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]}, "log_every": 10,
              "drop_last": False, "grad_clip": 5.0}
    train(GAN, _cfg(tmp_path, "eager", **config), quiet=True, **extra)
    monkeypatch.setattr(trainer_module, "choose_mode", lambda config, dist: ("static", ""))
    train(GAN, _cfg(tmp_path, "static", **config), quiet=True, **extra)
    a, b = _weights(tmp_path / "eager"), _weights(tmp_path / "static")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _metrics(tmp_path / "eager") == _metrics(tmp_path / "static")


def test_drop_last_gives_static_batches(tmp_path, monkeypatch):
    from zoo.data import load_dataset
    from zoo.train._step import StepEngine

    shapes: list[int] = []
    real = StepEngine.step

    def record(self, batch, *, global_size):
        shapes.append(len(batch))
        assert global_size == 100
        return real(self, batch, global_size=global_size)

    monkeypatch.setattr(StepEngine, "step", record)
    n = len(load_dataset("digits", "train"))
    result = train(AE, _cfg(tmp_path, steps=None, epochs=2, batch_size=100, drop_last=True), quiet=True,
                   data_shape=(1, 8, 8))
    assert result.step == 2 * (n // 100) and set(shapes) == {100}


def test_losses_are_window_means_read_every_log_every_steps(tmp_path):
    per_step = _metrics(train(AE, _cfg(tmp_path, "one", steps=20), quiet=True, data_shape=(1, 8, 8)).out)
    windowed = _metrics(train(AE, _cfg(tmp_path, "seven", steps=20, log_every=7), quiet=True,
                              data_shape=(1, 8, 8)).out)
    assert [r["step"] for r in windowed] == [7, 14, 20]
    for record, (first, last) in zip(windowed, [(1, 7), (8, 14), (15, 20)], strict=True):
        expected = sum(r["loss"] for r in per_step[first - 1:last]) / (last - first + 1)
        assert record["loss"] == pytest.approx(expected, rel=1e-5)


def test_no_host_read_between_log_steps(tmp_path, monkeypatch):
    """Between the start and the end of training, tensor values reach the host only through the one read per log
    window: no float(), .item(), bool() or .tolist() of a tensor anywhere else on the hot path."""
    from zoo.train._step import StepEngine

    state = {"active": False, "reads": [], "stray": []}
    real_read = StepEngine.read_window

    def counted(self):
        state["active"] = False
        state["reads"].append(self.window_steps)
        try:
            return real_read(self)
        finally:
            state["active"] = True

    def spy(name):
        real = getattr(torch.Tensor, name)

        def wrapper(self, *args):
            if state["active"]:
                state["stray"].append(name)
            return real(self, *args)
        return wrapper

    class Window(zoo.train.Callback):
        def on_train_start(self, trainer) -> None:
            state["active"] = True

        def on_step_end(self, trainer, logs) -> None:
            pass

        def on_train_end(self, trainer) -> None:
            state["active"] = False

    real_save = zoo.train.Trainer.save_checkpoint

    def saving(self):  # writing a checkpoint reads values (learning rates for the metadata): allowed
        state["active"] = False
        real_save(self)

    monkeypatch.setattr(StepEngine, "read_window", counted)
    monkeypatch.setattr(zoo.train.Trainer, "save_checkpoint", saving)
    for name in ("__float__", "__bool__", "item", "tolist", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, spy(name))
    train(GAN, _cfg(tmp_path, steps=40, log_every=10, checkpoint_every=0), quiet=True, data_shape=(1, 8, 8),
          callbacks=[Window()])
    assert state["reads"] == [10, 10, 10, 10]
    assert state["stray"] == []


def test_non_finite_loss_names_the_window_and_the_kept_checkpoint(tiny_plugin, tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"model loss became nan between steps 11 and 15; the last good "
                                                 r"checkpoint \(step 10\) in .* is kept") as info:
        train("tiny-ae", _cfg(tmp_path, steps=40, log_every=5), quiet=True, nan_after=12)
    assert info.value.path == tmp_path / "run"
    checkpoint = load_file(tmp_path / "run" / "checkpoint.safetensors")
    assert all(torch.isfinite(t).all() for k, t in checkpoint.items() if k.startswith("model/"))


def test_non_finite_loss_without_a_checkpoint_says_so(tiny_plugin, tmp_path):
    with pytest.raises(NonFiniteLossError, match="no checkpoint had been written yet") as info:
        train("tiny-ae", _cfg(tmp_path, steps=40, log_every=50, checkpoint_every=0), quiet=True, nan_after=12)
    assert "is kept" not in str(info.value) and "between steps 1 and 40" in str(info.value)
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_batch_norm_on_one_image_is_a_clear_error(tmp_path):
    import numpy as np

    np.save(tmp_path / "one.npy", np.zeros((1, 8, 8), dtype=np.uint8))
    config = _cfg(tmp_path, data=str(tmp_path / "one.npy"))
    with pytest.raises(TrainingError, match="batch normalisation, which needs at least 2 images per batch"):
        train(GAN, config, quiet=True, data_shape=(1, 8, 8), batchnorm=True)
    proc = _zoo("train", GAN, "--data", str(tmp_path / "one.npy"), "--steps", "2", "--out",
                str(tmp_path / "cli"), "--set", "data_shape=[1,8,8]", "--set", "batchnorm=true")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "zoo: error:" in err and "batch normalisation" in err
    assert "Traceback" not in err


def _cli(*args: str) -> int:
    from zoo._cli import main

    return main(list(args))


def test_resume_with_only_out_uses_the_recorded_gan_recipe(tmp_path, capsys):
    """A GAN recipe as the README's (many --set options) continues with `zoo train --out DIR --resume` alone, to
    its original length; extending is explicit."""
    out = str(tmp_path / "gan")
    recipe = ["--data", "digits", "--epochs", "2", "--batch-size", "64", "--lr", "2e-4", "--seed", "3", "--set",
              "optimizer.betas=[0.5,0.999]", "--set", "data_shape=[1,8,8]", "--set", "batchnorm=true",
              "--set", "ema_decay=0.9", "--set", "augment_translation=0.125", "--set", "log_every=5", "-q"]
    assert _cli("train", GAN, *recipe, "--out", str(tmp_path / "straight")) == 0
    first = list(recipe)
    first[first.index("--epochs") + 1] = "1"
    assert _cli("train", GAN, *first, "--out", out) == 0
    recorded = json.loads((tmp_path / "gan" / "train_config.json").read_text())
    assert recorded["epochs"] == 1 and "steps" not in recorded and None not in recorded.values()
    # Nothing but --out and --resume: continues the 1-epoch run, which is already complete.
    assert _cli("train", "--out", out, "--resume") == 0
    assert f"trained {GAN} for 23 steps (completed)" in capsys.readouterr().out
    # Extending is explicit, and then matches a straight 2-epoch run exactly.
    assert _cli("train", "--out", out, "--resume", "--epochs", "2", "-q") == 0
    assert json.loads((tmp_path / "gan" / "train_config.json").read_text())["epochs"] == 2
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "gan")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_errors_are_one_line(tmp_path, capsys):
    assert _cli("train", "--out", str(tmp_path / "nothing"), "--resume") == 2
    assert "no such directory" in capsys.readouterr().err
    train(AE, _cfg(tmp_path, steps=3), quiet=True, data_shape=(1, 8, 8))
    assert _cli("train", GAN, "--out", str(tmp_path / "run"), "--resume") == 2
    assert f"trains {AE}, not {GAN}" in capsys.readouterr().err
    assert _cli("train", "--out", str(tmp_path / "run"), "--resume", "--batch-size", "16") == 2
    assert "differs in train.batch_size" in capsys.readouterr().err
    assert _cli("train") == 2
    assert "give the architecture" in capsys.readouterr().err


class FakeGraphCuda:
    """Stand-ins for the torch.cuda calls of the graph path, so its control flow runs on CPU."""

    class Stream:
        def __init__(self, device=None) -> None: ...

        def wait_stream(self, other) -> None: ...

    class CUDAGraph:
        def replay(self) -> None:
            raise AssertionError("a failed capture must never be replayed")

    @staticmethod
    def graph(graph, capture_error_mode="global"):
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")


def test_failed_capture_falls_back_to_eager_and_says_why_once(tmp_path, monkeypatch, caplog):
    import contextlib

    import zoo.train._trainer as trainer_module

    monkeypatch.setattr(trainer_module, "choose_mode", lambda config, dist: ("graph", ""))
    monkeypatch.setattr(torch.cuda, "Stream", FakeGraphCuda.Stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: FakeGraphCuda.Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "CUDAGraph", FakeGraphCuda.CUDAGraph)
    monkeypatch.setattr(torch.cuda, "graph", FakeGraphCuda.graph)
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device=None: torch.get_rng_state())
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device=None: torch.set_rng_state(state))
    with caplog.at_level("INFO", logger="zoo.train"):
        result = train(AE, _cfg(tmp_path, steps=12, log_every=4), quiet=True, data_shape=(1, 8, 8))
    assert result.status == "completed" and result.step == 12
    warnings = [r.getMessage() for r in caplog.records if "runs eagerly" in r.getMessage()]
    assert warnings == ["training step runs eagerly from now on: CUDA graph capture failed (RuntimeError: "
                        "operation not permitted when stream is capturing)"]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in _metrics(result.out))


def test_streamed_npy_trains_exactly_as_in_memory(tmp_path, monkeypatch):
    import numpy as np

    import zoo.data._stream as stream

    pixels = (np.random.default_rng(0).random((203, 1, 8, 8)) * 255).astype(np.uint8)
    np.save(tmp_path / "x.npy", pixels)
    common = {"data": str(tmp_path / "x.npy"), "steps": 30, "batch_size": 16, "log_every": 5}
    train(AE, _cfg(tmp_path, "memory", **common), quiet=True, data_shape=(1, 8, 8))
    monkeypatch.setattr(stream, "STREAM_ABOVE_BYTES", 0)  # every file is "larger than memory"
    train(AE, _cfg(tmp_path, "streamed", **common, data_workers=1), quiet=True, data_shape=(1, 8, 8))
    # Resumable by step: 12 steps, then on to 30.
    train(AE, _cfg(tmp_path, "resumed", **{**common, "steps": 12}), quiet=True, data_shape=(1, 8, 8))
    train(AE, _cfg(tmp_path, "resumed", **common), resume=True, quiet=True, data_shape=(1, 8, 8))
    a = _weights(tmp_path / "memory")
    for other in ("streamed", "resumed"):
        b = _weights(tmp_path / other)
        assert all(torch.equal(a[k], b[k]) for k in a), other
