"""The registry: built from plugin hooks on first use, then cached."""

from __future__ import annotations

import dataclasses
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
from zoo._config import check_config_class, config_with_overrides
from zoo._specs import DatasetSpec, ModelSpec
from zoo.errors import AmbiguousModelError, PluginError, UnknownModelError, ZooError

logger = logging.getLogger(__name__)

ENV_STRICT = "ZOO_STRICT_PLUGINS"
ENV_DISABLE_AUTOLOAD = "ZOO_DISABLE_PLUGIN_AUTOLOAD"
ENV_BLOCK = "ZOO_BLOCK_PLUGINS"
CORE_DISTRIBUTION = "genzoo"
HOOK_NAMES = ("zoo_callbacks", "zoo_datasets", "zoo_models", "zoo_weights")
# The kind shown for a model whose spec names none and whose protocols imply no family.
GENERIC_KIND = "model"


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
    # (kind, name) of specs a plugin offered but zoo refused -> why, so that asking for one says so.
    refused: dict[tuple[str, str], str] = field(default_factory=dict)

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
                f"with {ENV_BLOCK}=<plugin>",
                architecture=name if kind == "model" else None,
            )
        if (kind, name) in self.refused:
            raise UnknownModelError(
                f"{kind} {name!r} was refused when its plugin registered, {self.refused[(kind, name)]}",
                architecture=name if kind == "model" else None,
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
                "shows plugins that failed to load)",
                architecture=name if kind == "model" else None,
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


def build_registry(*, strict: bool | None = None) -> Registry:
    """Discover plugins, call their hooks and build a fresh registry.

    ``strict`` (default: ``ZOO_STRICT_PLUGINS``) makes the first broken plugin a :class:`PluginError`;
    ``zoo plugins`` builds with ``strict=False`` so that it can list every problem.
    """
    strict = _env_flag(ENV_STRICT) if strict is None else strict
    blocked = _blocked()
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager=manager)
    candidates: list[tuple[PluginInfo, Callable[[], object]]] = []

    from zoo import _builtin

    core_version = _distribution_version(CORE_DISTRIBUTION)
    candidates.append((PluginInfo("zoo-builtin", CORE_DISTRIBUTION, core_version), lambda: _builtin))
    for name, obj in _extra_plugins.items():
        candidates.append((PluginInfo(name, "registered at runtime", ""), functools.partial(_identity, obj)))
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
            plugin = load()
            manager.register(plugin, name=info.name)
        except Exception as exc:  # a broken plugin must not take the others down
            _mark_broken(info, f"failed to load: {type(exc).__name__}: {exc}", strict)
            continue
        _verify_hook_names(manager, plugin, info, strict)

    infos = {info.name: info for info in registry.plugins}
    _collect(registry, manager, infos, "zoo_models", "model", registry.models, strict)
    _collect(registry, manager, infos, "zoo_datasets", "dataset", registry.datasets, strict)
    _collect(registry, manager, infos, "zoo_weights", "weights", registry.weights, strict)
    return registry


def _verify_hook_names(manager: pluggy.PluginManager, plugin: object, info: PluginInfo, strict: bool) -> None:
    """pluggy's ``check_pending``, per plugin: every ``zoo_*`` hook implementation must be a known, marked hook."""
    for attribute in dir(plugin):
        if not attribute.startswith("zoo_") or not callable(getattr(plugin, attribute, None)):
            continue
        marked = manager.parse_hookimpl_opts(plugin, attribute) is not None
        if marked and attribute not in HOOK_NAMES:
            close = difflib.get_close_matches(attribute, HOOK_NAMES, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            _mark_broken(info, f"hook {attribute}() is not a zoo hook, so zoo never calls it; {hint}the hooks are "
                         f"{', '.join(HOOK_NAMES)} (see zoo.hookspecs)", strict, hook=attribute)
        elif not marked and attribute in HOOK_NAMES:
            _mark_broken(info, f"hook {attribute}() is not marked with @zoo.hookimpl, so zoo never calls it; "
                         "decorate it", strict, hook=attribute)


def _hook_item_type(hook_name: str) -> type:
    """What ``hook_name`` must return a list of (the documented types in zoo.hookspecs)."""
    if hook_name == "zoo_weights":
        from zoo._weights import WeightsEntry

        return WeightsEntry
    return {"zoo_models": ModelSpec, "zoo_datasets": DatasetSpec}[hook_name]


def _hook_items(info: PluginInfo, hook_name: str, result: object, item_type: type, strict: bool) -> list[Any]:
    """The items of a hook's result that have the documented type; anything else marks the plugin broken."""
    if not isinstance(result, list | tuple):
        _mark_broken(info, f"hook {hook_name}() returned a {type(result).__name__}; it must return a list of "
                     f"{item_type.__name__}", strict, hook=hook_name)
        return []
    good = []
    for item in result:
        if isinstance(item, item_type):
            good.append(item)
        else:
            _mark_broken(info, f"hook {hook_name}() returned {item!r} ({type(item).__name__}) where a "
                         f"{item_type.__name__} belongs; it must return a list of {item_type.__name__}", strict,
                         hook=hook_name)
    return good


def _collect(registry: Registry, manager: pluggy.PluginManager, infos: dict[str, PluginInfo], hook_name: str,
             kind: str, table: dict[str, Any], strict: bool) -> None:
    for impl in getattr(manager.hook, hook_name).get_hookimpls():
        info = infos[impl.plugin_name]
        try:
            result = impl.function()
        except Exception as exc:
            _mark_broken(info, f"hook {hook_name}() raised {type(exc).__name__}: {exc}", strict, hook=hook_name)
            continue
        provider = Provider(info.name, info.distribution, info.version)
        for item in _hook_items(info, hook_name, result, _hook_item_type(hook_name), strict):
            if isinstance(item, ModelSpec):
                try:
                    item = checked_model_spec(item)
                except ZooError as exc:
                    _mark_broken(info, f"hook {hook_name}(): {exc}", strict, hook=hook_name)
                    registry.refused[(kind, item.name)] = f"from plugin {info.name!r} ({info.distribution}): {exc}"
                    continue
            name = item.name
            key = (kind, name)
            if key in registry.conflicts:
                registry.conflicts[key].append(provider)
            elif name in table:
                first = registry.providers[key]
                del table[name]
                registry.conflicts[key] = [first, provider]
                message = (f"{kind} {name!r} is also registered by {first}; the name is unusable until one "
                           "is removed")
                _mark_broken(info, message, strict, hook=hook_name)
                logger.warning("%s %r is registered by both %s and %s", kind, name, first, provider)
            else:
                table[name] = item
                registry.providers[key] = provider


def checked_model_spec(spec: ModelSpec) -> ModelSpec:
    """``spec`` with its kind filled in, after checking its config class and that it can be trained.

    A spec that names no kind, or no objective, is built once (on the meta device, allocating nothing; from
    its ``test_config``) so that its protocols say its family and whether the trainer has an objective for it.
    """
    check_config_class(spec.config, model=spec.name)
    if spec.kind is not None and spec.objective is not None:
        return spec
    from zoo._protocols import DEFAULT_OBJECTIVE_FAMILIES, family_of

    family = family_of(_probe_build(spec))
    if spec.objective is None and family not in DEFAULT_OBJECTIVE_FAMILIES:
        what = f"a {family}" if family else "of no family zoo knows (neither GAN, autoencoder nor classifier)"
        raise PluginError(
            f"model {spec.name!r} names no objective and is {what}, so the trainer cannot train it; give its "
            "ModelSpec an objective=, a callable (model) -> zoo.train.Objective",
            architecture=spec.name,
        )
    return spec if spec.kind is not None else dataclasses.replace(spec, kind=family or GENERIC_KIND)


def _probe_build(spec: ModelSpec) -> object:
    import torch

    config = config_with_overrides(spec.config, None, spec.test_config, where=f"model {spec.name!r}'s test_config")
    try:
        with torch.device("meta"):
            return spec.build(config)
    except Exception:  # a build that needs real tensors (e.g. reads values): build the small config for real
        pass
    try:
        return spec.build(config)
    except Exception as exc:
        raise PluginError(
            f"model {spec.name!r}: build(config) raised {type(exc).__name__}: {exc}; fix the build, or give the "
            "spec a test_config zoo can build",
            architecture=spec.name,
        ) from exc


def _mark_broken(info: PluginInfo, message: str, strict: bool, *, hook: str | None = None) -> None:
    info.status = "broken"
    info.error = f"{info.error}; {message}" if info.error else message
    if not strict:
        logger.warning("zoo plugin %r (%s) is broken: %s", info.name, info.distribution, message)
    else:
        raise PluginError(
            f"plugin {info.name!r} from {info.distribution}: {message}. Fix or uninstall it, or unset "
            f"{ENV_STRICT} to carry on without it",
            plugin=info.name,
            hook=hook,
        )


def plugin_callbacks(train_config: Any) -> list[Any]:
    """Callbacks from every plugin's ``zoo_callbacks(train_config)`` hook.

    A hook that raises or returns anything but a list of :class:`zoo.train.Callback` is skipped with a warning
    naming the plugin and the hook, and marks the plugin broken; fatal with ``ZOO_STRICT_PLUGINS=1``.
    """
    from zoo.train._callbacks import Callback

    registry = get_registry()
    strict = _env_flag(ENV_STRICT)
    infos = {info.name: info for info in registry.plugins}
    callbacks: list[Any] = []
    if registry.manager is None:
        return callbacks
    for impl in registry.manager.hook.zoo_callbacks.get_hookimpls():
        info = infos.get(impl.plugin_name) or PluginInfo(impl.plugin_name, "?", "?")
        try:
            result = impl.function(train_config=train_config)
        except Exception as exc:  # one plugin's logger must not stop a training run
            _mark_broken(info, f"hook zoo_callbacks() raised {type(exc).__name__}: {exc}"
                         + ("" if strict else "; training continues without its callbacks"),
                         strict, hook="zoo_callbacks")
            continue
        callbacks.extend(_hook_items(info, "zoo_callbacks", result, Callback, strict))
    return callbacks


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


__all__ = ["PluginInfo", "Registry", "build_registry", "checked_model_spec", "get_registry", "plugin_callbacks",
           "reload_registry"]
