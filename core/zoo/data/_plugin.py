"""zoo's own plugin: the datasets that ship with the core.

The registry loads it by module name (``zoo._registry.BUILTIN_PLUGIN``) when it is built, never on import. The
core knows no concrete model, so it registers no pretrained entries: the first-party entries of ``registry/`` are
registered by the plugin that provides their architectures (genzoo-dense's ``zoo_weights``).
"""

from __future__ import annotations

from zoo._specs import DatasetSpec
from zoo.data._builtin import builtin_datasets
from zoo.hookspecs import hookimpl


@hookimpl
def zoo_datasets() -> list[DatasetSpec]:
    return builtin_datasets()
