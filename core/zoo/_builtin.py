"""zoo's own plugin: the datasets and pretrained entries that ship with the core (registered by the registry,
not on import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo._specs import DatasetSpec
from zoo.hookspecs import hookimpl

if TYPE_CHECKING:
    from zoo._weights import WeightsEntry


@hookimpl
def zoo_datasets() -> list[DatasetSpec]:
    from zoo.data import builtin_datasets

    return builtin_datasets()


@hookimpl
def zoo_weights() -> list[WeightsEntry]:
    from zoo._weights import first_party_entries

    return first_party_entries()
