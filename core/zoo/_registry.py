"""The registry: built from plugin hooks on first use, then cached."""

from __future__ import annotations

import difflib
import functools
import importlib.metadata as importlib_metadata
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pluggy

from zoo import hookspecs
from zoo._specs import DatasetSpec, ModelSpec
from zoo.errors import AmbiguousModelError, PluginError, UnknownModelError

logger = logging.getLogger(__name__)

ENV_STRICT = "ZOO_STRICT_PLUGINS"
ENV_DISABLE_AUTOLOAD = "ZOO_DISABLE_PLUGIN_AUTOLOAD"
ENV_BLOCK = "ZOO_BLOCK_PLUGINS"
CORE_DISTRIBUTION = "genzoo"


@dataclass
class PluginInfo:
    """What ``zoo plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    status: Literal["ok", "broken", "blocked"] = "ok"
    error: str = ""


@dataclass(frozen=True)
class Provider:
    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} (plugin {self.plugin!r})"


@dataclass
class Registry:
    """Every architecture, dataset and pretrained entry that the installed plugins provide."""

    models: dict[str, ModelSpec] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    weights: dict[str, Any] = field(default_factory=dict)
    providers: dict[tuple[str, str], Provider] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], list[Provider]] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    manager: pluggy.PluginManager | None = None

    def model(self, name: str) -> ModelSpec:
        return self._get("model", self.models, name)

    def dataset(self, name: str) -> DatasetSpec:
        return self._get("dataset", self.datasets, name)

    def weights_entry(self, name: str) -> Any:
        return self._get("weights", self.weights, name)

    def provider(self, kind: str, name: str) -> Provider:
        return self.providers[(kind, name)]

    def _get(self, kind: str, table: dict[str, Any], name: str) -> Any:
        if (kind, name) in self.conflicts:
            who = " and ".join(str(p) for p in self.conflicts[(kind, name)])
            raise AmbiguousModelError(
                f"{kind} name {name!r} is registered by both {who}; uninstall one of them, or block one "
                f"with {ENV_BLOCK}=<plugin>"
            )
        try:
            return table[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(map(repr, close))}?" if close else (
                f"known: {', '.join(sorted(table)) or 'none'}"
            )
            raise UnknownModelError(
                f"no {kind} named {name!r} is registered; {hint} (`zoo list` shows them all; `zoo plugins` "
                "shows plugins that failed to load)"
            ) from None


def _identity(obj: object) -> object:
    return obj


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _blocked() -> set[str]:
    return {part.strip() for part in os.environ.get(ENV_BLOCK, "").split(",") if part.strip()}


_extra_plugins: dict[str, object] = {}


def register_plugin(plugin: object, *, name: str) -> None:
    """Add a plugin object (a module or instance with hookimpls) without an entry point, e.g. in tests."""
    _extra_plugins[name] = plugin
    get_registry.cache_clear()


def unregister_plugin(name: str) -> None:
    """Remove a plugin added by :func:`register_plugin`."""
    _extra_plugins.pop(name, None)
    get_registry.cache_clear()


def build_registry() -> Registry:
    """Discover plugins, call their hooks and build a fresh registry."""
    strict = _env_flag(ENV_STRICT)
    blocked = _blocked()
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager=manager)
    candidates: list[tuple[PluginInfo, Callable[[], object]]] = []

    from zoo import _builtin

    core_version = _distribution_version(CORE_DISTRIBUTION)
    candidates.append((PluginInfo("zoo-builtin", CORE_DISTRIBUTION, core_version), lambda: _builtin))
    for name, obj in _extra_plugins.items():
        candidates.append((PluginInfo(name, "(registered at runtime)", ""), functools.partial(_identity, obj)))
    if not _env_flag(ENV_DISABLE_AUTOLOAD):
        for ep in _entry_points():
            dist = ep.dist
            info = PluginInfo(ep.name, dist.name if dist else "?", dist.version if dist else "?")
            candidates.append((info, ep.load))

    for info, load in candidates:
        registry.plugins.append(info)
        if info.name in blocked or info.distribution in blocked:
            info.status = "blocked"
            continue
        try:
            manager.register(load(), name=info.name)
        except Exception as exc:  # a broken plugin must not take the others down
            _mark_broken(info, f"failed to load: {type(exc).__name__}: {exc}", strict)

    infos = {info.name: info for info in registry.plugins}
    _collect(registry, manager, infos, "zoo_models", "model", registry.models, strict)
    _collect(registry, manager, infos, "zoo_datasets", "dataset", registry.datasets, strict)
    _collect(registry, manager, infos, "zoo_weights", "weights", registry.weights, strict)
    return registry


def _collect(registry: Registry, manager: pluggy.PluginManager, infos: dict[str, PluginInfo], hook_name: str,
             kind: str, table: dict[str, Any], strict: bool) -> None:
    for impl in getattr(manager.hook, hook_name).get_hookimpls():
        info = infos[impl.plugin_name]
        try:
            items = list(impl.function())
        except Exception as exc:
            _mark_broken(info, f"hook {hook_name}() raised {type(exc).__name__}: {exc}", strict)
            continue
        provider = Provider(info.name, info.distribution, info.version)
        for item in items:
            name = getattr(item, "name", None)
            if not isinstance(name, str):
                _mark_broken(info, f"hook {hook_name}() returned {item!r}, which has no name", strict)
                continue
            key = (kind, name)
            if key in registry.conflicts:
                registry.conflicts[key].append(provider)
            elif name in table:
                first = registry.providers[key]
                del table[name]
                registry.conflicts[key] = [first, provider]
                message = (f"{kind} {name!r} is also registered by {first}; the name is unusable until one "
                           "is removed")
                _mark_broken(info, message, strict)
                logger.warning("%s %r is registered by both %s and %s", kind, name, first, provider)
            else:
                table[name] = item
                registry.providers[key] = provider


def _mark_broken(info: PluginInfo, message: str, strict: bool) -> None:
    info.status = "broken"
    info.error = f"{info.error}; {message}" if info.error else message
    logger.warning("zoo plugin %r (%s) is broken: %s", info.name, info.distribution, message)
    if strict:
        raise PluginError(
            f"plugin {info.name!r} from {info.distribution}: {message}. Fix or uninstall it, or unset "
            f"{ENV_STRICT} to carry on without it"
        )


def _entry_points() -> Iterable[importlib_metadata.EntryPoint]:
    seen: set[tuple[str, str]] = set()
    for ep in importlib_metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        # The same distribution on sys.path twice (e.g. editable + site) yields the entry point twice.
        key = (ep.name, ep.value)
        if key not in seen:
            seen.add(key)
            yield ep


def _distribution_version(name: str) -> str:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return "0+unknown"


@functools.cache
def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    return build_registry()


def reload_registry() -> Registry:
    """Forget the cached registry (e.g. after installing a plugin) and build it again."""
    get_registry.cache_clear()
    return get_registry()


__all__ = ["PluginInfo", "Registry", "build_registry", "get_registry", "reload_registry"]
