"""Real third-party plugins, pip-installed into a fresh virtual environment and used from subprocesses.

Packages are written into a temporary directory and installed together, once per test session:

* ``zoo-test-acme``      a tiny autoencoder ``acme-ae``, from the three-field spec (no kind, no objective);
* ``zoo-test-gauss``     a new family: ``gauss-density``, a per-pixel Gaussian density model with its own
                         negative log-likelihood objective and no kind, trained and sampled with the CLI;
* ``zoo-test-plain``     ``plain-ae`` and ``plain-gan`` with plain pydantic configs; the GAN's ``sample`` lives on
                         the model and its ``.generator`` is an ``nn.Sequential`` from noise to data;
* ``zoo-test-broken``    a plugin whose module raises on import;
* ``zoo-test-dup``       a plugin that registers ``dense-ae`` again, clashing with genzoo-dense;
* ``zoo-test-typo``      a plugin with a misspelled hook, ``zoo_model``;
* ``zoo-test-loose``     a config that allows extra keys, a model of no known family without an objective, and
                         a ``zoo_datasets`` hook returning a dict;
* ``zoo-test-callbacks`` a ``zoo_callbacks`` hook returning something that is not a callback.

The new environment sees torch, zoo and genzoo-dense through a ``.pth`` file that adds this interpreter's
site-packages as a site directory (``--system-site-packages`` would expose the base interpreter's instead).
The second half of this file checks plugin validation in-process, with plugin objects registered at runtime.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sysconfig
import types
import venv
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

import zoo
from zoo._registry import get_registry
from zoo.errors import MissingArchitectureError, PluginError, TrainingError, UnknownModelError, ZooError

REPO = Path(__file__).resolve().parents[1]

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
dependencies = ["genzoo"]

[project.entry-points."zoo.plugins"]
{entry} = "{package}.plugin"

[tool.setuptools]
packages = ["{package}"]
"""

ACME_PLUGIN = '''\
"""A tiny third-party zoo plugin: a one-layer autoencoder, from the three-field spec."""

from __future__ import annotations

import math

import torch
from pydantic import Field
from torch import Tensor, nn

import zoo


class AcmeConfig(zoo.ModelConfig):
    data_shape: tuple[int, int, int] = (1, 4, 4)
    latent_dim: int = Field(2, ge=1, le=64)

    def parameter_count(self) -> int:
        features = math.prod(self.data_shape)
        return 2 * features * self.latent_dim + features + self.latent_dim


class AcmeAE(nn.Module):
    def __init__(self, config: AcmeConfig) -> None:
        super().__init__()
        self.config = config
        self.data_shape = config.data_shape
        features = math.prod(config.data_shape)
        self.encoder = nn.Linear(features, config.latent_dim)
        self.decoder = nn.Linear(config.latent_dim, features)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.decoder(z)).unflatten(1, self.config.data_shape)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


@zoo.hookimpl
def zoo_models() -> list[zoo.ModelSpec]:
    return [zoo.ModelSpec(name="acme-ae", config=AcmeConfig, build=AcmeAE)]
'''

GAUSS_PLUGIN = '''\
"""A family zoo has never heard of: a per-pixel Gaussian density model, trained by its own NLL objective."""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

import zoo


class GaussConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data_shape: tuple[int, int, int] = (1, 8, 8)
    min_std: float = Field(0.05, gt=0.0, le=1.0)


class GaussDensity(nn.Module):
    """x ~ N(mean, std^2) independently per pixel; sample() clips to [0, 1]."""

    def __init__(self, config: GaussConfig) -> None:
        super().__init__()
        self.config = config
        self.mean = nn.Parameter(torch.full(config.data_shape, 0.5))
        self.log_std = nn.Parameter(torch.zeros(config.data_shape))

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def std(self) -> Tensor:
        return self.log_std.exp() + self.config.min_std  # (C, H, W)

    def nll(self, x: Tensor) -> Tensor:
        """Negative log-likelihood in nats per sample, (N,)."""
        std = self.std()
        z = (x - self.mean) / std
        return (0.5 * z.pow(2) + std.log() + 0.5 * math.log(2 * math.pi)).flatten(1).sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn((n, *self.config.data_shape), generator=generator).to(self.mean.device)
        return (self.mean + self.std() * eps).clamp(0.0, 1.0)


class GaussianNLL:
    """Mean negative log-likelihood per pixel."""

    def updates(self, model: GaussDensity) -> list[tuple[str, nn.Module, int]]:
        return [("model", model, 1)]

    def loss(self, model: GaussDensity, network: str, batch: zoo.Data) -> tuple[Tensor, dict[str, Tensor]]:
        loss = model.nll(batch.images).mean() / batch.images[0].numel()
        return loss, {"loss": loss.detach()}

    def after_update(self, model: GaussDensity, network: str) -> None:
        return None

    def finalize(self, model: GaussDensity, data: zoo.Data) -> None:
        return None


def objective(model: GaussDensity) -> GaussianNLL:
    return GaussianNLL()


@zoo.hookimpl
def zoo_models() -> list[zoo.ModelSpec]:
    return [zoo.ModelSpec(name="gauss-density", config=GaussConfig, build=GaussDensity, objective=objective)]
'''

PLAIN_PLUGIN = '''\
"""An autoencoder and a GAN with plain pydantic configs; the GAN samples with its own sample(n)."""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

import zoo


class PlainAEConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_shape: tuple[int, int, int] = (1, 8, 8)
    latent_dim: int = Field(4, ge=1, le=64)


class PlainAE(nn.Module):
    def __init__(self, config: PlainAEConfig) -> None:
        super().__init__()
        self.config = config
        features = math.prod(config.data_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(features, config.latent_dim))
        self.decoder = nn.Sequential(nn.Linear(config.latent_dim, features), nn.Sigmoid(),
                                     nn.Unflatten(1, config.data_shape))

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


class PlainGANConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_shape: tuple[int, int, int] = (1, 8, 8)
    latent_dim: int = Field(8, ge=1, le=64)
    hidden: int = Field(32, ge=1, le=512)


class Critic(nn.Module):
    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(features, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)  # (N,)


class PlainGAN(nn.Module):
    def __init__(self, config: PlainGANConfig) -> None:
        super().__init__()
        self.config = config
        features = math.prod(config.data_shape)
        self.generator = nn.Sequential(nn.Linear(config.latent_dim, config.hidden), nn.ReLU(),
                                       nn.Linear(config.hidden, features), nn.Sigmoid(),
                                       nn.Unflatten(1, config.data_shape))
        self.discriminator = Critic(features, config.hidden)

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """Keeps the graph in training mode (the trainer trains through it), none in eval mode."""
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(self.generator[0].weight.device)
        with torch.set_grad_enabled(self.training and torch.is_grad_enabled()):
            return self.generator(z)


@zoo.hookimpl
def zoo_models() -> list[zoo.ModelSpec]:
    return [zoo.ModelSpec(name="plain-ae", config=PlainAEConfig, build=PlainAE),
            zoo.ModelSpec(name="plain-gan", config=PlainGANConfig, build=PlainGAN)]
'''

BROKEN_PLUGIN = """\
raise RuntimeError("zoo-test-broken cannot start: licence server unreachable")
"""

DUP_PLUGIN = """\
import zoo
from zoo_test_acme.plugin import AcmeAE, AcmeConfig


@zoo.hookimpl
def zoo_models():
    return [zoo.ModelSpec(name="dense-ae", config=AcmeConfig, build=AcmeAE)]
"""

TYPO_PLUGIN = """\
import zoo
from zoo_test_acme.plugin import AcmeAE, AcmeConfig


@zoo.hookimpl
def zoo_model():
    return [zoo.ModelSpec(name="typo-ae", config=AcmeConfig, build=AcmeAE)]
"""

LOOSE_PLUGIN = '''\
import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

import zoo
from zoo_test_acme.plugin import AcmeAE


class LooseConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    data_shape: tuple[int, int, int] = (1, 4, 4)
    latent_dim: int = 2


class NoiseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Noise(nn.Module):
    """Samples, but is no GAN, autoencoder or classifier, and names no objective."""

    def __init__(self, config: NoiseConfig) -> None:
        super().__init__()
        self.config = config
        self.level = nn.Parameter(torch.zeros(()))

    def sample(self, n, *, generator=None):
        return torch.rand(n, 1, 4, 4, generator=generator) * self.level.sigmoid()


@zoo.hookimpl
def zoo_models():
    return [zoo.ModelSpec(name="loose-ae", config=LooseConfig, build=AcmeAE),
            zoo.ModelSpec(name="loose-noise", config=NoiseConfig, build=Noise)]


@zoo.hookimpl
def zoo_datasets():
    return {"loose-data": "not a DatasetSpec"}
'''

CALLBACKS_PLUGIN = """\
import zoo


@zoo.hookimpl
def zoo_callbacks(train_config):
    return ["not a callback"]
"""

PACKAGES = {
    "zoo-test-acme": ("acme", "zoo_test_acme", ACME_PLUGIN),
    "zoo-test-gauss": ("gauss", "zoo_test_gauss", GAUSS_PLUGIN),
    "zoo-test-plain": ("plain", "zoo_test_plain", PLAIN_PLUGIN),
    "zoo-test-broken": ("broken", "zoo_test_broken", BROKEN_PLUGIN),
    "zoo-test-dup": ("dup", "zoo_test_dup", DUP_PLUGIN),
    "zoo-test-typo": ("typo", "zoo_test_typo", TYPO_PLUGIN),
    "zoo-test-loose": ("loose", "zoo_test_loose", LOOSE_PLUGIN),
    "zoo-test-callbacks": ("callbacks", "zoo_test_callbacks", CALLBACKS_PLUGIN),
}

# Runs inside the new environment, in one process since each process pays seconds for importing torch. It checks
# the API, trains the plain models, runs the contract suite on the third-party models, then rebuilds the registry
# under each switch.
PROBE = """\
import contextlib, importlib.metadata, io, json, os, sys, tempfile

import pytest
import torch

import zoo
from zoo.cli import main
from zoo._registry import get_registry
from zoo.train._run import plugin_callbacks
from zoo.train import TrainConfig, train


def plugins():
    return {p.name: {"distribution": p.distribution, "status": p.status, "error": p.error}
            for p in get_registry().plugins}


out = {"models": zoo.list_models(), "plugins": plugins(),
       "kinds": {name: get_registry().model(name).kind for name in zoo.list_models()},
       "distributions": {name: str(importlib.metadata.distribution(name).locate_file(""))
                         for name in ("zoo-test-acme", "zoo-test-broken", "zoo-test-dup", "zoo-test-typo")}}

model = zoo.create("acme-ae", latent_dim=3).eval()
x = torch.rand(2, 1, 4, 4)
with tempfile.TemporaryDirectory() as directory:
    zoo.save(model, directory)
    loaded = zoo.load(directory)
    out["round_trip"] = {"type": type(loaded).__qualname__, "config": loaded.config.model_dump(mode="json"),
                         "equal": torch.equal(model(x), loaded(x))}

    # Plain pydantic configs: trained with the derived objectives, saved by the trainer, loaded back.
    for name in ("plain-ae", "plain-gan"):
        config = TrainConfig(data="digits", steps=4, batch_size=16, out=os.path.join(directory, name))
        result = train(name, config, quiet=True)
        trained = zoo.load(result.out)
        entry = {"steps": result.step, "config_type": type(trained.config).__name__}
        if name == "plain-gan":
            samples = trained.sample(5, generator=torch.Generator().manual_seed(0))
            again = zoo.load(result.out).sample(5, generator=torch.Generator().manual_seed(0))
            entry.update(shape=list(samples.shape), requires_grad=samples.requires_grad,
                         reproducible=torch.equal(samples, again))
        else:
            images = torch.rand(3, 1, 8, 8)
            entry.update(equal=torch.equal(trained(images), zoo.load(result.out)(images)))
        out[name] = entry
try:
    zoo.create("dense-ae")
except zoo.errors.AmbiguousModelError as exc:
    out["ambiguous"] = str(exc)

with contextlib.redirect_stdout(io.StringIO()):
    out["plugins_check_exit"] = main(["plugins", "--check"])

out["callbacks"] = {"returned": len(plugin_callbacks(TrainConfig())), "status": plugins()["callbacks"]}

report = io.StringIO()
with contextlib.redirect_stdout(report):
    # The way plugin authors run it: the contract module ships inside zoo.
    exit_code = pytest.main(["--pyargs", "zoo.testing.test_contract", "-q", "-k", "acme or gauss or plain",
                             "-p", "no:cacheprovider"])
out["contract"] = {"exit": int(exit_code), "report": report.getvalue()[-3000:]}

# Strict mode, with the other broken plugins blocked: each remaining fault is fatal and names plugin and hook.
out["strict"] = {}
os.environ["ZOO_STRICT_PLUGINS"] = "1"
for label, block in (("typo", "broken,dup,loose,callbacks"), ("loose", "broken,dup,typo,callbacks"),
                     ("callbacks", "broken,dup,typo,loose")):
    os.environ["ZOO_BLOCK_PLUGINS"] = block
    try:
        zoo.reload_registry()
        plugin_callbacks(TrainConfig())
        out["strict"][label] = None
    except zoo.errors.PluginError as exc:
        out["strict"][label] = {"message": str(exc), "plugin": exc.plugin, "hook": exc.hook}
del os.environ["ZOO_STRICT_PLUGINS"]

os.environ["ZOO_DISABLE_PLUGIN_AUTOLOAD"] = "1"
zoo.reload_registry()
out["autoload_off"] = {"models": zoo.list_models(), "plugins": sorted(plugins())}
del os.environ["ZOO_DISABLE_PLUGIN_AUTOLOAD"]

os.environ["ZOO_BLOCK_PLUGINS"] = "dup, zoo-test-broken"
zoo.reload_registry()
out["blocked"] = {"models": zoo.list_models(), "plugins": plugins(),
                  "dense_ae": type(zoo.create("dense-ae")).__qualname__}
print(json.dumps(out))
"""

# `zoo train`, `zoo sample` and zoo.load on the new family, each its own process as a user would run them.
GAUSS_CHECK = """\
import json, sys

import torch

import zoo
from zoo.data import load_dataset

run = sys.argv[1]
model = zoo.load(run)
data = load_dataset("digits", "train").images
losses = [json.loads(line)["loss"] for line in open(f"{run}/metrics.jsonl") if '"loss"' in line]
error = (model.mean.detach() - data.mean(dim=0)).abs().max()
print(json.dumps({"type": type(model).__name__, "config": model.config.model_dump(mode="json"),
                  "first_loss": losses[0], "last_loss": losses[-1], "max_mean_error": float(error)}))
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_") and k != "PYTHONPATH"}
    env.update({"OMP_NUM_THREADS": "1", **extra})
    return env


@pytest.fixture(scope="session")
def env_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("third_party")
    sources = []
    for dist, (entry, package, code) in PACKAGES.items():
        source = root / "src" / dist
        (source / package).mkdir(parents=True)
        (source / "pyproject.toml").write_text(PYPROJECT.format(dist=dist, entry=entry, package=package))
        (source / package / "__init__.py").write_text("")
        (source / package / "plugin.py").write_text(code)
        sources.append(str(source))

    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # addsitedir (unlike a plain path line) also runs the .pth files there, e.g. the editable installs of zoo.
    outer = sysconfig.get_paths()["purelib"]
    (site_packages / "_zoo_test_outer.pth").write_text(f"import site; site.addsitedir({outer!r})\n")

    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation", *sources],
        check=True,
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    return python


def _run(python: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, *args], capture_output=True, text=True, env=_clean_env(**env), cwd=REPO, timeout=300)


def _gauss_commands(python: Path, run: Path) -> subprocess.CompletedProcess[str]:
    """zoo train, then zoo sample, then a check that loads the run: one after the other, as a user would."""
    train = _run(python, "-m", "zoo", "train", "gauss-density", "--data", "digits", "--steps", "60", "--batch-size",
                 "64", "--lr", "0.05", "--out", str(run), "-q", "--set", "log_every=1")
    if train.returncode != 0:
        return train
    sample = _run(python, "-m", "zoo", "sample", str(run), "-n", "16", "--out", str(run / "drawn.png"))
    if sample.returncode != 0:
        return sample
    return _run(python, "-c", GAUSS_CHECK, str(run))


@pytest.fixture(scope="session")
def gauss_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gauss") / "run"


@pytest.fixture(scope="session")
def runs(env_python: Path, gauss_run: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every command the tests below inspect, run once and concurrently (each one pays for importing torch)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            "probe": pool.submit(_run, env_python, "-c", PROBE),
            "plugins": pool.submit(_run, env_python, "-m", "zoo", "plugins"),
            "strict plugins": pool.submit(_run, env_python, "-m", "zoo", "plugins", ZOO_STRICT_PLUGINS="1"),
            "strict list": pool.submit(_run, env_python, "-m", "zoo", "list", ZOO_STRICT_PLUGINS="1",
                                       ZOO_BLOCK_PLUGINS="typo"),
            "gauss": pool.submit(_gauss_commands, env_python, gauss_run),
        }
        return {key: future.result() for key, future in futures.items()}


@pytest.fixture(scope="session")
def probe(runs: dict[str, subprocess.CompletedProcess[str]]) -> dict[str, Any]:
    result = runs["probe"]
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_plugins_are_pip_installed_into_the_new_environment(probe: dict[str, Any], env_python: Path) -> None:
    venv_root = env_python.parent.parent
    for dist, location in probe["distributions"].items():
        assert Path(location).is_relative_to(venv_root), (dist, location)


def test_third_party_model_is_listed_created_saved_and_loaded(probe: dict[str, Any]) -> None:
    assert "acme-ae" in probe["models"]
    assert probe["plugins"]["acme"] == {"distribution": "zoo-test-acme", "status": "ok", "error": ""}
    assert probe["round_trip"] == {
        "type": "AcmeAE",
        "config": {"data_shape": [1, 4, 4], "latent_dim": 3},
        "equal": True,
    }


def test_kinds_are_derived_from_the_protocols(probe: dict[str, Any]) -> None:
    kinds = probe["kinds"]
    assert kinds["acme-ae"] == "autoencoder" and kinds["plain-ae"] == "autoencoder"
    assert kinds["plain-gan"] == "gan"
    assert kinds["gauss-density"] == "generator"  # a new family: it samples, and trains by its own objective


def test_plain_pydantic_models_train_save_and_load(probe: dict[str, Any]) -> None:
    assert probe["plugins"]["plain"]["status"] == "ok"
    assert probe["plain-ae"] == {"steps": 4, "config_type": "PlainAEConfig", "equal": True}
    # The GAN's sample() lives on the model; its .generator is a plain nn.Sequential from noise to data.
    assert probe["plain-gan"] == {"steps": 4, "config_type": "PlainGANConfig", "shape": [5, 1, 8, 8],
                                  "requires_grad": False, "reproducible": True}


def test_a_new_family_trains_samples_saves_and_loads_with_the_cli(
        runs: dict[str, subprocess.CompletedProcess[str]], gauss_run: Path) -> None:
    result = runs["gauss"]
    assert result.returncode == 0, result.stdout + result.stderr
    run = gauss_run
    checked = json.loads(result.stdout.strip().splitlines()[-1])
    assert checked["type"] == "GaussDensity" and checked["config"] == {"data_shape": [1, 8, 8], "min_std": 0.05}
    assert checked["last_loss"] < checked["first_loss"] - 0.2, checked  # nats per pixel
    assert checked["max_mean_error"] < 0.2, checked  # the learned means follow the data's pixel means
    assert (run / "drawn.png").stat().st_size > 0 and (run / "model.safetensors").is_file()


def test_broken_plugin_is_isolated(probe: dict[str, Any]) -> None:
    broken = probe["plugins"]["broken"]
    assert broken["status"] == "broken" and "licence server unreachable" in broken["error"]
    assert {"acme-ae", "dense-vae", "dense-gan", "dense-dae"} <= set(probe["models"])


def test_misspelled_hook_marks_the_plugin_broken(probe: dict[str, Any]) -> None:
    typo = probe["plugins"]["typo"]
    assert typo["status"] == "broken"
    assert "hook zoo_model() is not a zoo hook" in typo["error"] and "did you mean zoo_models?" in typo["error"]
    assert "typo-ae" not in probe["models"]


def test_bad_configs_and_return_types_mark_the_plugin_broken(probe: dict[str, Any]) -> None:
    loose = probe["plugins"]["loose"]
    assert loose["status"] == "broken"
    assert "loose-ae" in loose["error"] and "ConfigDict(extra='forbid')" in loose["error"]
    assert "loose-noise" in loose["error"] and "objective=" in loose["error"]
    assert "zoo_datasets() returned a dict" in loose["error"]
    assert not {"loose-ae", "loose-noise"} & set(probe["models"])


def test_a_callbacks_hook_returning_the_wrong_type_is_skipped_and_reported(probe: dict[str, Any]) -> None:
    callbacks = probe["callbacks"]
    assert callbacks["returned"] == 0
    assert callbacks["status"]["status"] == "broken" and "zoo_callbacks() returned 'not a callback'" in \
        callbacks["status"]["error"]


def test_strict_mode_makes_every_hook_fault_fatal(probe: dict[str, Any]) -> None:
    strict = probe["strict"]
    assert strict["typo"]["plugin"] == "typo" and strict["typo"]["hook"] == "zoo_model"
    assert strict["loose"]["plugin"] == "loose" and strict["loose"]["hook"] in ("zoo_models", "zoo_datasets")
    assert strict["callbacks"]["plugin"] == "callbacks" and strict["callbacks"]["hook"] == "zoo_callbacks"
    assert all("ZOO_STRICT_PLUGINS" in fault["message"] for fault in strict.values())


def test_duplicate_name_is_ambiguous_and_names_both_distributions(probe: dict[str, Any]) -> None:
    assert "dense-ae" not in probe["models"]
    message = probe["ambiguous"]
    assert "'dense-ae'" in message and "genzoo-dense" in message and "zoo-test-dup" in message
    assert "ZOO_BLOCK_PLUGINS" in message


def test_autoload_switch_leaves_only_builtins(probe: dict[str, Any]) -> None:
    assert probe["autoload_off"] == {"models": [], "plugins": ["zoo-builtin"]}


def test_blocked_plugins_are_skipped(probe: dict[str, Any]) -> None:
    blocked = probe["blocked"]
    # Blocking works by entry-point name ("dup") and by distribution name ("zoo-test-broken").
    assert blocked["plugins"]["dup"]["status"] == "blocked"
    assert blocked["plugins"]["broken"]["status"] == "blocked"
    assert blocked["dense_ae"] == "DenseAE"
    assert {"acme-ae", "dense-ae"} <= set(blocked["models"])


def test_cli_plugins_shows_every_plugin_with_its_status(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = runs["plugins"]
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "zoo-test-acme" in rows["acme"] and " ok " in rows["acme"]
    assert "zoo-test-broken" in rows["broken"] and " broken " in rows["broken"]
    assert "RuntimeError: zoo-test-broken cannot start" in rows["broken"]
    assert " broken " in rows["typo"] and "zoo_model()" in rows["typo"]


def test_cli_plugins_lists_every_problem_once(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    # The table is the diagnosis: not repeated as warnings, and in strict mode not cut short at the first problem.
    assert "is broken" not in runs["plugins"].stderr
    strict = runs["strict plugins"]
    assert strict.returncode == 1, strict.stderr
    rows = {line.split()[0]: line for line in strict.stdout.splitlines()[1:]}
    assert " broken " in rows["broken"] and " broken " in rows["typo"] and " ok " in rows["acme"]


def test_cli_plugins_check_fails_on_a_broken_plugin(probe: dict[str, Any]) -> None:
    assert probe["plugins_check_exit"] == 1


def test_strict_mode_makes_a_broken_plugin_fatal(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = runs["strict list"]
    assert result.returncode != 0
    assert "plugin 'broken' from zoo-test-broken" in result.stderr and "ZOO_STRICT_PLUGINS" in result.stderr


def test_contract_suite_covers_the_third_party_models(probe: dict[str, Any]) -> None:
    contract = probe["contract"]
    assert contract["exit"] == 0, contract["report"]
    assert " passed" in contract["report"] and "failed" not in contract["report"]


def test_autoload_switch_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry is cached per process: rebuild it after changing the switch, and again after restoring it.
    before = zoo.list_models()
    try:
        monkeypatch.setenv("ZOO_DISABLE_PLUGIN_AUTOLOAD", "1")
        assert zoo.reload_registry().models == {}
        assert zoo.list_models() == []
    finally:
        monkeypatch.undo()
        zoo.reload_registry()
    assert zoo.list_models() == before


# ---------------------------------------------------------------------------------------------------------------
# Validation at registration, in-process: plugin objects registered at runtime


class ForbidConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_shape: tuple[int, int, int] = (1, 2, 2)
    latent_dim: int = Field(2, ge=1, le=8)


class AllowConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    latent_dim: int = 2


class NotPydantic:
    pass


class TinyAE(nn.Module):
    def __init__(self, config: ForbidConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = nn.Linear(4, config.latent_dim)
        self.decoder = nn.Linear(config.latent_dim, 4)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).sigmoid().unflatten(1, (1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class Flow(nn.Module):
    """No family zoo knows: not a GAN, an autoencoder, a generator or a classifier."""

    def __init__(self, config: ForbidConfig) -> None:
        super().__init__()
        self.config = config
        self.scale = nn.Parameter(torch.ones(()))


def _plugin(**hooks: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: zoo.hookimpl(function) for name, function in hooks.items()})


@pytest.fixture
def registered() -> Iterator[Any]:
    """Registers plugin objects under test names and removes them (and rebuilds the registry) afterwards."""
    names: list[str] = []

    def register(plugin: object, name: str = "test-plugin") -> Any:
        names.append(name)
        zoo.register_plugin(plugin, name=name)
        registry = get_registry()
        return next(p for p in registry.plugins if p.name == name)

    yield register
    for name in names:
        zoo.unregister_plugin(name)


def test_three_fields_make_a_spec_and_the_kind_is_derived(registered: Any) -> None:
    info = registered(_plugin(zoo_models=lambda: [zoo.ModelSpec(name="t-ae", config=ForbidConfig, build=TinyAE)]))
    assert info.status == "ok", info.error
    assert get_registry().model("t-ae").kind == "autoencoder"
    model = zoo.create("t-ae", latent_dim=3)
    assert isinstance(model.config, ForbidConfig) and model.config.latent_dim == 3


def test_any_family_with_an_objective_registers_under_an_open_kind(registered: Any) -> None:
    specs = [zoo.ModelSpec(name="t-flow", config=ForbidConfig, build=Flow, kind="flow", objective=lambda m: None),
             zoo.ModelSpec(name="t-energy", config=ForbidConfig, build=Flow, objective=lambda m: None)]
    info = registered(_plugin(zoo_models=lambda: specs))
    assert info.status == "ok", info.error
    assert get_registry().model("t-flow").kind == "flow"
    assert get_registry().model("t-energy").kind == "model"


def test_a_family_without_an_objective_is_refused(registered: Any) -> None:
    info = registered(_plugin(zoo_models=lambda: [zoo.ModelSpec(name="t-flow", config=ForbidConfig, build=Flow)]))
    assert info.status == "broken" and "'t-flow' names no objective" in info.error and "objective=" in info.error
    assert "t-flow" not in zoo.list_models()
    with pytest.raises(zoo.errors.UnknownModelError, match="'t-flow' was refused when its plugin registered, from "
                       "plugin 'test-plugin'.*names no objective"):
        zoo.create("t-flow")


@pytest.mark.parametrize(("config", "message"), [
    (AllowConfig, "accepts unknown keys (extra='allow')"),
    (NotPydantic, "is not a pydantic model class"),
])
def test_configs_that_are_not_closed_pydantic_models_are_refused(registered: Any, config: type,
                                                                 message: str) -> None:
    spec = zoo.ModelSpec(name="t-bad", config=config, build=TinyAE, kind="autoencoder", objective=lambda m: None)
    info = registered(_plugin(zoo_models=lambda: [spec]))
    assert info.status == "broken" and message in info.error and "extra='forbid'" in info.error
    assert "hook zoo_models()" in info.error
    assert "t-bad" not in zoo.list_models()


def test_misspelled_and_unmarked_hooks_are_reported(registered: Any) -> None:
    typo = registered(_plugin(zoo_modles=lambda: []), name="typo-plugin")
    assert typo.status == "broken" and "hook zoo_modles() is not a zoo hook" in typo.error
    assert "did you mean zoo_models?" in typo.error
    unmarked = registered(types.SimpleNamespace(zoo_models=lambda: []), name="unmarked-plugin")
    assert unmarked.status == "broken" and "not marked with @zoo.hookimpl" in unmarked.error


@pytest.mark.parametrize("result", [None, {"a": 1}, ["not a spec"]], ids=["none", "dict", "list-of-str"])
def test_a_hook_returning_the_wrong_type_is_reported(registered: Any, result: object) -> None:
    info = registered(_plugin(zoo_models=lambda: result))
    assert info.status == "broken" and "hook zoo_models() returned" in info.error and "ModelSpec" in info.error


def test_strict_mode_raises_with_plugin_and_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    zoo.register_plugin(_plugin(zoo_model=lambda: []), name="strict-typo")
    try:
        with pytest.raises(PluginError) as excinfo:
            get_registry()
    finally:
        monkeypatch.undo()
        zoo.unregister_plugin("strict-typo")
    assert excinfo.value.plugin == "strict-typo" and excinfo.value.hook == "zoo_model"


def test_a_gan_that_samples_without_gradients_cannot_train() -> None:
    from zoo._specs import Data
    from zoo.train import Adversarial

    class FrozenSamples(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.generator = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Unflatten(1, (1, 2, 2)))
            self.discriminator = nn.Sequential(nn.Flatten(), nn.Linear(4, 1), nn.Flatten(0))

        @torch.no_grad()
        def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
            return self.generator(torch.randn(n, 2, generator=generator))

    with pytest.raises(TrainingError, match="carry no gradient"):
        Adversarial().loss(FrozenSamples(), "generator", Data(torch.rand(3, 1, 2, 2)))


def test_errors_carry_fields_and_keep_them_through_pickling(tmp_path: Path) -> None:
    error = MissingArchitectureError("gone", architecture="acme-flow", path=tmp_path / "config.json")
    assert error.fields() == {"architecture": "acme-flow", "path": tmp_path / "config.json"}
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is MissingArchitectureError and again.fields() == error.fields() and str(again) == "gone"
    assert ZooError("plain").fields() == {}
    with pytest.raises(UnknownModelError) as excinfo:
        zoo.create("no-such-model")
    assert excinfo.value.architecture == "no-such-model"


class _ImportAbort(BaseException):
    """Not an Exception: what a plugin module could raise at import to get past ``except Exception``."""


def test_a_plugin_exiting_or_raising_a_base_exception_at_import_is_contained(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from zoo import _registry
    from zoo.cli import main

    def exits() -> object:
        sys.exit(3)

    def aborts() -> object:
        raise _ImportAbort("no")

    fakes = [types.SimpleNamespace(name=name, dist=types.SimpleNamespace(name=f"zoo-test-{name}", version="1"),
                                   load=load) for name, load in (("exiter", exits), ("aborter", aborts))]
    real = _registry._entry_points
    monkeypatch.setattr(_registry, "_entry_points", lambda: [*real(), *fakes])
    try:
        registry = zoo.reload_registry()
        status = {p.name: (p.status, p.error) for p in registry.plugins}
        assert status["exiter"][0] == "broken" and "SystemExit" in status["exiter"][1]
        assert status["aborter"][0] == "broken" and "_ImportAbort" in status["aborter"][1]
        assert main(["plugins"]) == 0  # the command itself still runs and shows them
        assert "exiter" in capsys.readouterr().out
    finally:
        monkeypatch.undo()
        zoo.reload_registry()


def test_a_hook_or_a_build_calling_sys_exit_marks_only_its_plugin_broken(registered: Any) -> None:
    import sys

    def exit_now(*args: object) -> Any:
        sys.exit(4)

    info = registered(_plugin(zoo_models=exit_now), name="t-exit-hook")
    assert info.status == "broken" and "SystemExit" in info.error
    info = registered(_plugin(zoo_models=lambda: [zoo.ModelSpec(name="t-exit-build", config=ForbidConfig,
                                                                build=exit_now)]), name="t-exit-build")
    assert info.status == "broken" and "SystemExit" in info.error
    assert "t-exit-build" not in zoo.list_models() and zoo.list_models()  # the others still load
