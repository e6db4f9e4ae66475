"""zoo's own plugin: the datasets that ship with the core (registered by the registry, not on import)."""

from __future__ import annotations

from zoo._specs import DatasetSpec
from zoo.hookspecs import hookimpl


@hookimpl
def zoo_datasets() -> list[DatasetSpec]:
    from zoo.data import builtin_datasets

    return builtin_datasets()
