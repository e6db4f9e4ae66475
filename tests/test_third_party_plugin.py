"""Real third-party plugins, pip-installed into a fresh virtual environment and used from a subprocess.

Three packages are written into a temporary directory and installed together, once for the module:

* ``zoo-test-acme``   a working plugin that registers the tiny autoencoder ``acme-ae``;
* ``zoo-test-broken`` a plugin whose module raises on import;
* ``zoo-test-dup``    a plugin that registers ``dense-ae`` again, clashing with genzoo-dense.

The new environment sees torch, zoo and genzoo-dense through a ``.pth`` file that adds this interpreter's
site-packages as a site directory (``--system-site-packages`` would expose the base interpreter's instead).
"""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import zoo

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
"""A tiny third-party zoo plugin: a one-layer autoencoder."""

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
    return [zoo.ModelSpec(name="acme-ae", config=AcmeConfig, build=AcmeAE, kind="autoencoder",
                          description="tiny third-party autoencoder")]
'''

BROKEN_PLUGIN = """\
raise RuntimeError("zoo-test-broken cannot start: licence server unreachable")
"""

DUP_PLUGIN = """\
import zoo
from zoo_test_acme.plugin import AcmeAE, AcmeConfig


@zoo.hookimpl
def zoo_models():
    return [zoo.ModelSpec(name="dense-ae", config=AcmeConfig, build=AcmeAE, kind="autoencoder")]
"""

PACKAGES = {
    "zoo-test-acme": ("acme", "zoo_test_acme", ACME_PLUGIN),
    "zoo-test-broken": ("broken", "zoo_test_broken", BROKEN_PLUGIN),
    "zoo-test-dup": ("dup", "zoo_test_dup", DUP_PLUGIN),
}

# Runs inside the new environment, in one process since each process pays seconds for importing torch. It checks
# the API, runs the contract suite on the third-party model, then rebuilds the registry under each switch.
PROBE = """\
import contextlib, importlib.metadata, io, json, os, sys, tempfile

import pytest
import torch

import zoo
from zoo._cli import main
from zoo._registry import get_registry


def plugins():
    return {p.name: {"distribution": p.distribution, "status": p.status, "error": p.error}
            for p in get_registry().plugins}


out = {"models": zoo.list_models(), "plugins": plugins(),
       "distributions": {name: str(importlib.metadata.distribution(name).locate_file(""))
                         for name in ("zoo-test-acme", "zoo-test-broken", "zoo-test-dup")}}

model = zoo.create("acme-ae", latent_dim=3).eval()
x = torch.rand(2, 1, 4, 4)
with tempfile.TemporaryDirectory() as directory:
    zoo.save(model, directory)
    loaded = zoo.load(directory)
    out["round_trip"] = {"type": type(loaded).__qualname__, "config": loaded.config.model_dump(mode="json"),
                         "equal": torch.equal(model(x), loaded(x))}
try:
    zoo.create("dense-ae")
except zoo.errors.AmbiguousModelError as exc:
    out["ambiguous"] = str(exc)

with contextlib.redirect_stdout(io.StringIO()):
    out["plugins_check_exit"] = main(["plugins", "--check"])

report = io.StringIO()
with contextlib.redirect_stdout(report):
    # The way plugin authors run it: the contract module ships inside zoo.
    exit_code = pytest.main(["--pyargs", "zoo.testing.test_contract", "-q", "-k", "acme", "-p", "no:cacheprovider"])
out["contract"] = {"exit": int(exit_code), "report": report.getvalue()[-3000:]}

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


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
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
    return subprocess.run([python, *args], capture_output=True, text=True, env=_clean_env(**env), cwd=REPO, timeout=180)


@pytest.fixture(scope="module")
def runs(env_python: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every command the tests below inspect, run once and concurrently (each one pays for importing torch)."""
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "probe": (["-c", PROBE], {}),
        "plugins": (["-m", "zoo", "plugins"], {}),
        "strict list": (["-m", "zoo", "list"], {"ZOO_STRICT_PLUGINS": "1"}),
    }
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        futures = {key: pool.submit(_run, env_python, *args, **env) for key, (args, env) in commands.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.fixture(scope="module")
def probe(runs: dict[str, subprocess.CompletedProcess[str]]) -> dict[str, Any]:
    result = runs["probe"]
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_plugins_are_pip_installed_into_the_new_environment(probe: dict[str, Any], env_python: Path) -> None:
    venv_root = env_python.parent.parent
    for dist in PACKAGES:
        assert Path(probe["distributions"][dist]).is_relative_to(venv_root), probe["distributions"]


def test_third_party_model_is_listed_created_saved_and_loaded(probe: dict[str, Any]) -> None:
    assert "acme-ae" in probe["models"]
    assert probe["plugins"]["acme"] == {"distribution": "zoo-test-acme", "status": "ok", "error": ""}
    assert probe["round_trip"] == {
        "type": "AcmeAE",
        "config": {"data_shape": [1, 4, 4], "latent_dim": 3},
        "equal": True,
    }


def test_broken_plugin_is_isolated(probe: dict[str, Any]) -> None:
    broken = probe["plugins"]["broken"]
    assert broken["status"] == "broken" and "licence server unreachable" in broken["error"]
    assert {"acme-ae", "dense-vae", "dense-gan", "dense-dae"} <= set(probe["models"])


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


def test_cli_plugins_check_fails_on_a_broken_plugin(probe: dict[str, Any]) -> None:
    assert probe["plugins_check_exit"] == 1


def test_strict_mode_makes_a_broken_plugin_fatal(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = runs["strict list"]
    assert result.returncode != 0
    assert "plugin 'broken' from zoo-test-broken" in result.stderr and "ZOO_STRICT_PLUGINS" in result.stderr


def test_contract_suite_covers_the_third_party_model(probe: dict[str, Any]) -> None:
    contract = probe["contract"]
    assert contract["exit"] == 0, contract["report"]
    assert " passed" in contract["report"] and "failed" not in contract["report"]


def test_autoload_switch_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry is cached per process: rebuild it after changing the switch, and again after restoring it.
    try:
        monkeypatch.setenv("ZOO_DISABLE_PLUGIN_AUTOLOAD", "1")
        assert zoo.reload_registry().models == {}
        assert zoo.list_models() == []
    finally:
        monkeypatch.undo()
        zoo.reload_registry()
    assert "dense-ae" in zoo.list_models()
