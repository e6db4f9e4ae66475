"""Pretrained weight entries (``architecture.tag``). Placeholder until the Hub issue lands."""

from __future__ import annotations

from typing import Any

from torch import nn

from zoo._registry import Registry
from zoo.errors import LoadError


def default_entry_name(registry: Registry, architecture: str) -> str | None:
    tags = sorted(name for name in registry.weights if name.split(".", 1)[0] == architecture)
    return tags[0] if tags else None


def load_entry(entry: Any, **kwargs: Any) -> nn.Module:
    raise LoadError(f"loading pretrained entry {getattr(entry, 'name', entry)!r} is not supported yet")
