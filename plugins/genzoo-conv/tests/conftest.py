"""The tests of genzoo-conv's own models and dataset, kept with the plugin (the core's tests in ``tests/`` name no
model).

They run from the repository root with the rest of the suite (``testpaths`` in the root pyproject.toml) and need
nothing from ``tests/``. Every test here is skipped when the plugin is not installed or is blocked
(``ZOO_BLOCK_PLUGINS=conv``), which ``dcgan`` being registered or not tells.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import zoo

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "dcgan" in zoo.list_models():
        return
    skip = pytest.mark.skip(reason="tests genzoo-conv's models: the plugin is not installed, or is blocked")
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(skip)
