"""The generic trainer: third-party variants, exact resume, faults, signals, distributed."""

from __future__ import annotations

import json
import os
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

REPO = Path(__file__).resolve().parents[1]


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
    values = {"data": "digits", "steps": 20, "batch_size": 32, "out": str(tmp_path / name), "checkpoint_every": 10}
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


@pytest.mark.parametrize("name,extra", [("dense-ae", {}), ("dense-gan", {"ema_decay": 0.9})])
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
    train("dense-ae", _cfg(tmp_path, steps=5), quiet=True, data_shape=(1, 8, 8))
    with pytest.raises(ResumeMismatchError, match=r"model\.latent_dim.*train\.batch_size|train\.batch_size"):
        train("dense-ae", _cfg(tmp_path, steps=10, batch_size=16), resume=True, quiet=True, data_shape=(1, 8, 8),
              latent_dim=8)
    with pytest.raises(TrainingError, match="already holds a training run"):
        train("dense-ae", _cfg(tmp_path, steps=10), quiet=True, data_shape=(1, 8, 8))


def test_non_finite_loss_stops_with_step_and_network(tiny_plugin, tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"model loss became nan at step 13"):
        train("tiny-ae", _cfg(tmp_path, steps=40), quiet=True, nan_after=12)
    checkpoint = load_file(tmp_path / "run" / "checkpoint.safetensors")
    assert all(torch.isfinite(t).all() for k, t in checkpoint.items() if k.startswith("model/"))


def test_data_shape_mismatch_is_refused_before_training(tmp_path):
    with pytest.raises(zoo.errors.DataError, match="data_shape"):
        train("dense-ae", _cfg(tmp_path), quiet=True)
    assert not (tmp_path / "run").exists()


def test_bf16_autocast_trains(tmp_path):
    result = train("dense-ae", _cfg(tmp_path, steps=10, precision="bf16"), quiet=True, data_shape=(1, 8, 8))
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in _metrics(result.out))


def _zoo(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zoo", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})}, **kw)


def test_sigterm_saves_checkpoint_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    proc = _zoo("train", "dense-ae", "--data", "digits", "--steps", "100000", "--batch-size", "8", "--out",
                str(out), "--set", "data_shape=[1,8,8]", "--set", "checkpoint_every=0", "--quiet")
    deadline = time.monotonic() + 60
    while not (out / "metrics.jsonl").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # metrics.jsonl is created when the loop starts; its lines are flushed at checkpoints.
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "checkpoint saved" in err and "--resume" in err
    step = max(r["step"] for r in _metrics(out))
    assert step > 0
    done = _zoo("train", "dense-ae", "--data", "digits", "--steps", str(step + 5), "--batch-size", "8", "--out",
                str(out), "--set", "data_shape=[1,8,8]", "--set", "checkpoint_every=0", "--quiet", "--resume")
    stdout, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert max(r["step"] for r in _metrics(out)) == step + 5


def test_kill_during_checkpoint_write_keeps_previous(tmp_path):
    out = tmp_path / "run"
    script = textwrap.dedent(f"""
        import os, signal
        import zoo.train._checkpoint as ckpt
        from zoo.train import TrainConfig, train
        real = ckpt.save_tensors
        calls = []
        def dying_save(tensors, path, metadata=None):
            calls.append(path)
            if len(calls) == 2:  # the second checkpoint: write half a temp file, then die like SIGKILL
                tmp = path.with_name("." + path.name + ".partial.tmp")
                tmp.write_bytes(b"x" * 1000)
                os.kill(os.getpid(), signal.SIGKILL)
            real(tensors, path, metadata)
        ckpt.save_tensors = dying_save
        config = TrainConfig(data="digits", steps=40, batch_size=16, out={str(out)!r}, checkpoint_every=10)
        train("dense-ae", config, quiet=True, data_shape=(1, 8, 8))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    resumed = train("dense-ae", _cfg(tmp_path, steps=40, batch_size=16, checkpoint_every=10), resume=True,
                    quiet=True, data_shape=(1, 8, 8))
    assert resumed.step == 40
    records = _metrics(out)
    assert [r["step"] for r in records] == list(range(1, 41))


def test_cli_set_routes_and_rejects(tmp_path):
    from zoo._cli_train import split_overrides

    model, train_values = split_overrides(["latent_dim=8", "optimizers.generator.lr=2e-4", "loss=hinge"],
                                          {"latent_dim", "loss"}, {"optimizers", "steps"})
    assert model == {"latent_dim": 8, "loss": "hinge"}
    assert train_values == {"optimizers": {"generator": {"lr": 2e-4}}}
    with pytest.raises(ConfigError, match="did you mean latent_dim"):
        split_overrides(["latent_dm=3"], {"latent_dim"}, {"steps"})
    proc = _zoo("train", "dense-ae", "--steps", "1", "--set", "latent_dim=-1", "--out", str(tmp_path / "x"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "latent_dim" in err and "Traceback" not in err


def test_distributed_two_processes_match_one(tmp_path):
    common = ["-m", "zoo", "train", "dense-ae", "--data", "digits", "--steps", "12", "--batch-size", "32",
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


def test_reference_recipe_lands_near_the_reference_mse(tmp_path):
    """dense-ae, reference config, MSE, Adam 1e-3, batch 256, 10 epochs on mnist-5k: test MSE about 0.033."""
    result = train("dense-ae", TrainConfig(data="mnist-5k", epochs=10, batch_size=256, out=str(tmp_path / "ref")),
                   quiet=True)
    from zoo.data import load_dataset

    test = load_dataset("mnist-5k", "test").images
    with torch.no_grad():
        mse = torch.nn.functional.mse_loss(zoo.load(result.out)(test), test).item()
    assert 0.026 <= mse <= 0.040, mse


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
        train("dense-ae", _cfg(tmp_path, steps=3), quiet=True, data_shape=(1, 8, 8))
    finally:
        zoo.unregister_plugin("callback-plugin")
        zoo.unregister_plugin("broken-callback-plugin")
    assert plugin.callback.events == ["start", "end"]
    assert "logger backend missing" in caplog.text


def test_early_stopping_and_sample_snapshots(tmp_path):
    # A learning rate of ~0 cannot improve the test loss, so patience 2 stops after the third epoch.
    config = _cfg(tmp_path, steps=None, epochs=50, optimizer={"lr": 1e-12}, early_stopping_patience=2,
                  sample_every=30)
    result = train("dense-ae", config, quiet=True, data_shape=(1, 8, 8))
    from zoo.data import load_dataset

    per_epoch = -(-len(load_dataset("digits", "train")) // 32)
    assert result.status == "early-stopped" and result.step == 3 * per_epoch
    assert sorted(p.name for p in (result.out / "snapshots").iterdir())[0] == "step-00000030-reconstructions.png"
