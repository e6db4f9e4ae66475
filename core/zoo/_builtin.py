"""zoo's own plugin: the datasets that ship with the core (registered by the registry, not on import).

The core knows no concrete model, so it registers no pretrained entries: the first-party entries of
``registry/`` are registered by the plugin that provides their architectures (genzoo-dense's ``zoo_weights``).
"""

from __future__ import annotations

from zoo._specs import DatasetSpec
from zoo.hookspecs import hookimpl


@hookimpl
def zoo_datasets() -> list[DatasetSpec]:
    from zoo.data import builtin_datasets

    return builtin_datasets()
