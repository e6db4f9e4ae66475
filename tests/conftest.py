"""The suite runs with the first-party plugin installed and with it blocked (``ZOO_BLOCK_PLUGINS=dense``).

- Core tests that need *some* model use the probe models of ``tests/_probe.py``, which the ``probe_models``
  fixture registers as the test suite's own plugin for the duration of a module (``pytestmark =
  pytest.mark.usefixtures("probe_models")``), and unregisters after it, so that no other module sees them.
  ``probe_pretrained`` adds pretrained entries ``probe-ae.probe``, ``probe-dae.probe`` and ``probe-gan.probe``, so
  that a bare name resolves to weights; a child process gets the probes with ``_probe.zoo_command(*args)``.
- Tests of the first-party plugin's models or pretrained entries carry the ``dense`` marker and are skipped
  when genzoo-dense is not installed or is blocked.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import zoo

from _probe import AE, DAE, GAN, PLUGIN, ProbePlugin

DENSE_MODEL = "dense-ae"  # present exactly when genzoo-dense is installed and not blocked


def dense_available() -> bool:
    return DENSE_MODEL in zoo.list_models()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("dense") is not None]
    if marked and not dense_available():
        skip = pytest.mark.skip(reason="tests a first-party model: genzoo-dense is not installed, or is blocked")
        for item in marked:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def probe_models() -> Iterator[ProbePlugin]:
    """The probe models (``_probe.AE``, ``DAE``, ``VAE``, ``GAN``, ``CLASSIFIER``), registered for one module."""
    plugin = ProbePlugin()
    zoo.register_plugin(plugin, name=PLUGIN)
    try:
        yield plugin
    finally:
        zoo.unregister_plugin(PLUGIN)


PRETRAINED = (AE, DAE, GAN)


@pytest.fixture(scope="module")
def probe_pretrained(probe_models: ProbePlugin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Pretrained entries ``<probe>.probe`` of the probe autoencoder, denoiser and GAN, so that a bare name such as
    ``probe-gan`` resolves through the registry to weights, as ``zoo sample dense-gan`` does.

    Each is a real two-step ``zoo.train`` run on mnist-5k made into an entry by registry/make_entry.py.
    """
    from zoo_registry.make_entry import make_entry

    from zoo.train import TrainConfig, train

    runs, root = tmp_path_factory.mktemp("probe-runs"), tmp_path_factory.mktemp("probe-registry")
    for name in PRETRAINED:
        out = runs / name
        train(name, TrainConfig(steps=2, seed=0, device="cpu", out=str(out)), quiet=True)
        make_entry(out, f"{name}.probe", command=f"zoo train {name} --steps 2 --seed 0 --out {out}",
                   note="two training steps of a probe model, for tests", root=root)
    probe_models.entries = zoo.entries_from_folder(root)
    zoo.reload_registry()
    try:
        yield [entry.name for entry in probe_models.entries]
    finally:
        probe_models.entries = []
        zoo.reload_registry()
