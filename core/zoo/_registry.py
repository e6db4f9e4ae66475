"""The registry: built from plugin hooks on first use, then cached; and the look-ups of pretrained entries.

Typed end to end: models are :class:`ModelSpec`, datasets :class:`DatasetSpec`, pretrained entries
:class:`WeightsEntry`. The core's own plugin (the built-in datasets) is loaded by module name, as pytest loads its
default plugins, so that this module sits below the data package it registers.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import importlib.metadata as importlib_metadata
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import pluggy

from zoo import hookspecs
from zoo._config import check_config_class, config_with_overrides
from zoo._entries import WeightsEntry
from zoo._names import valid_entry_name
from zoo._rundir import ENTRY_NAME
from zoo._specs import DatasetSpec, ModelSpec
from zoo._text import shown
from zoo._train_config import check_recipe, training_field_names
from zoo._version import DISTRIBUTION
from zoo.errors import (
    AmbiguousModelError,
    ConfigError,
    LoadError,
    PluginError,
    UnknownModelError,
    UnknownNameError,
    ZooError,
)
from zoo.protocols import DEFAULT_OBJECTIVE_FAMILIES, family_of

logger = logging.getLogger(__name__)

ENV_STRICT = "ZOO_STRICT_PLUGINS"
ENV_DISABLE_AUTOLOAD = "ZOO_DISABLE_PLUGIN_AUTOLOAD"
ENV_BLOCK = "ZOO_BLOCK_PLUGINS"
CORE_DISTRIBUTION = DISTRIBUTION
# The core's own plugin, loaded by name when the registry is built (it imports the data package).
BUILTIN_PLUGIN = "zoo.data._plugin"
HOOK_NAMES = ("zoo_callbacks", "zoo_datasets", "zoo_models", "zoo_weights")
# The kind shown for a model whose spec names none and whose protocols imply no family.
GENERIC_KIND = "model"


_Item = TypeVar("_Item")
_Named = TypeVar("_Named", ModelSpec, DatasetSpec, WeightsEntry)


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
    weights: dict[str, WeightsEntry] = field(default_factory=dict)
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

    def weights_entry(self, name: str) -> WeightsEntry:
        return self._get("weights", self.weights, name)

    def provider(self, kind: str, name: str) -> Provider:
        return self.providers[(kind, name)]

    def _get(self, kind: str, table: dict[str, _Item], name: str) -> _Item:
        if (kind, name) in self.conflicts:
            who = " and ".join(str(p) for p in self.conflicts[(kind, name)])
            raise AmbiguousModelError(
                f"{kind} name {name!r} is registered by both {who}; uninstall one of them, or block one "
                f"with {ENV_BLOCK}=<plugin>",
                architecture=name if kind == "model" else None,
            )
        if (kind, name) in self.refused:
            raise _unknown(kind, name, f"{kind} {name!r} was refused when its plugin registered, "
                           f"{self.refused[(kind, name)]}")
        try:
            return table[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(map(repr, close))}?" if close else (
                f"known: {', '.join(sorted(table)) or 'none'}"
            )
            raise _unknown(kind, name, f"no {kind} named {name!r} is registered; {hint} (`zoo list` shows them all; "
                           "`zoo plugins` shows plugins that failed to load)") from None


def _unknown(kind: str, name: str, message: str) -> UnknownNameError:
    """UnknownModelError for an architecture, UnknownNameError for a dataset or an entry."""
    if kind == "model":
        return UnknownModelError(message, name=name, architecture=name)
    return UnknownNameError(message, name=name)


def _identity(obj: object) -> object:
    return obj


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def strict_plugins() -> bool:
    """Whether ``ZOO_STRICT_PLUGINS`` asks for a broken plugin to be an error rather than a warning."""
    return _env_flag(ENV_STRICT)


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
    strict = strict_plugins() if strict is None else strict
    blocked = _blocked()
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager=manager)
    candidates: list[tuple[PluginInfo, Callable[[], object]]] = []

    core_version = _distribution_version(CORE_DISTRIBUTION)
    candidates.append((PluginInfo("zoo-builtin", CORE_DISTRIBUTION, core_version),
                       functools.partial(importlib.import_module, BUILTIN_PLUGIN)))
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
        except BaseException as exc:  # a broken plugin, even one calling sys.exit(), must not take the others down
            _reraise_interrupt(exc)
            _mark_broken(info, f"failed to load: {type(exc).__name__}: {exc}", strict)
            continue
        _verify_hook_names(manager, plugin, info, strict)

    infos = {info.name: info for info in registry.plugins}
    _collect(registry, manager, infos, "zoo_models", "model", registry.models, ModelSpec, strict,
             checked_model_spec)
    _collect(registry, manager, infos, "zoo_datasets", "dataset", registry.datasets, DatasetSpec, strict)
    _collect(registry, manager, infos, "zoo_weights", "weights", registry.weights, WeightsEntry, strict)
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


def _hook_items(info: PluginInfo, hook_name: str, result: object, item_type: type[_Item], strict: bool
                ) -> list[_Item]:
    """The items of a hook's result that have the documented type; anything else marks the plugin broken."""
    if not isinstance(result, list | tuple):
        _mark_broken(info, f"hook {hook_name}() returned a {type(result).__name__}; it must return a list of "
                     f"{item_type.__name__}", strict, hook=hook_name)
        return []
    good: list[_Item] = []
    for item in result:
        if isinstance(item, item_type):
            good.append(item)
        else:
            _mark_broken(info, f"hook {hook_name}() returned {item!r} ({type(item).__name__}) where a "
                         f"{item_type.__name__} belongs; it must return a list of {item_type.__name__}", strict,
                         hook=hook_name)
    return good


def _collect(registry: Registry, manager: pluggy.PluginManager, infos: dict[str, PluginInfo], hook_name: str,
             kind: str, table: dict[str, _Named], item_type: type[_Named], strict: bool,
             check: Callable[[_Named], _Named] | None = None) -> None:
    for impl in getattr(manager.hook, hook_name).get_hookimpls():
        info = infos[impl.plugin_name]
        try:
            result = impl.function()
        except BaseException as exc:
            _reraise_interrupt(exc)
            _mark_broken(info, f"hook {hook_name}() raised {type(exc).__name__}: {exc}", strict, hook=hook_name)
            continue
        provider = Provider(info.name, info.distribution, info.version)
        for item in _hook_items(info, hook_name, result, item_type, strict):
            if check is not None:
                try:
                    item = check(item)
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
    Its recipe must be a valid partial training config, and no config field may be named like a training field.
    """
    check_config_class(spec.config, model=spec.name)
    _check_no_shadowing(spec)
    if spec.recipe:
        spec = dataclasses.replace(spec, recipe=check_recipe(spec.recipe, where=f"model {spec.name!r}"))
    if spec.kind is not None and spec.objective is not None:
        return spec
    family = family_of(_probe_build(spec))
    if spec.objective is None and family not in DEFAULT_OBJECTIVE_FAMILIES:
        what = f"a {family}" if family else "of no family zoo knows (neither GAN, autoencoder nor classifier)"
        raise PluginError(
            f"model {spec.name!r} names no objective and is {what}, so the trainer cannot train it; give its "
            "ModelSpec an objective=, a callable (model) -> zoo.train.Objective",
            architecture=spec.name,
        )
    return spec if spec.kind is not None else dataclasses.replace(spec, kind=family or GENERIC_KIND)


def _check_no_shadowing(spec: ModelSpec) -> None:
    """Refuse config fields named like training fields: ``--set seed=1`` could reach only one of the two."""
    names = {name: name for name in spec.config.model_fields}
    names.update({info.alias: name for name, info in spec.config.model_fields.items() if info.alias})
    shadowing = sorted(key for key in names if key in training_field_names())
    if shadowing:
        fields = ", ".join(repr(names[key]) for key in shadowing)
        raise PluginError(
            f"model {spec.name!r}: config field {fields} of {spec.config.__name__} has the name of a training field "
            f"({', '.join(shadowing)}), so `zoo train --set {shadowing[0]}=...` could not reach both; rename the "
            f"model field (e.g. 'model_{shadowing[0]}'; `zoo train --help` lists the training fields), or drop it "
            "and read the training field instead",
            architecture=spec.name,
        )


def _probe_build(spec: ModelSpec) -> object:
    import torch

    config = config_with_overrides(spec.config, None, spec.test_config, where=f"model {spec.name!r}'s test_config")
    try:
        with torch.device("meta"):
            return spec.build(config)
    except BaseException as exc:  # a build that needs real tensors (e.g. reads values): build the small config for real
        _reraise_interrupt(exc)
    try:
        return spec.build(config)
    except BaseException as exc:  # plugin code: even a sys.exit() in it marks only that plugin broken
        _reraise_interrupt(exc)
        raise PluginError(
            f"model {spec.name!r}: build(config) raised {type(exc).__name__}: {exc}; fix the build, or give the "
            "spec a test_config zoo can build",
            architecture=spec.name,
        ) from exc


def _reraise_interrupt(exc: BaseException) -> None:
    """Re-raise Ctrl-C (and a generator closing); any other BaseException from plugin code, SystemExit
    included, is the plugin's failure: it marks that plugin broken and every command carries on."""
    if isinstance(exc, KeyboardInterrupt | GeneratorExit):
        raise exc


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


def call_hook(hook_name: str, item_type: type[_Item], *, consequence: str = "", **kwargs: Any) -> list[_Item]:
    """The items of type ``item_type`` from every plugin's ``hook_name(**kwargs)``, called now (not at build).

    A hook that raises or returns anything but a list of ``item_type`` is skipped with a warning naming the
    plugin and the hook (plus ``consequence``), and marks the plugin broken; fatal with ``ZOO_STRICT_PLUGINS=1``.
    """
    registry = get_registry()
    strict = strict_plugins()
    infos = {info.name: info for info in registry.plugins}
    items: list[_Item] = []
    if registry.manager is None:
        return items
    for impl in getattr(registry.manager.hook, hook_name).get_hookimpls():
        info = infos.get(impl.plugin_name) or PluginInfo(impl.plugin_name, "?", "?")
        try:
            result = impl.function(**kwargs)
        except BaseException as exc:  # one plugin's hook must not stop the command
            _reraise_interrupt(exc)
            message = f"hook {hook_name}() raised {type(exc).__name__}: {exc}"
            _mark_broken(info, message + ("" if strict else consequence), strict, hook=hook_name)
            continue
        items.extend(_hook_items(info, hook_name, result, item_type, strict))
    return items


# -- pretrained entries ----------------------------------------------------------------------------------


def registry_root() -> Path:
    """The installed ``registry/`` folder (the ``zoo_registry`` package of the genzoo distribution)."""
    try:
        import zoo_registry
    except ImportError:
        raise LoadError(
            "the first-party weights registry (package zoo_registry) is not installed; reinstall genzoo "
            "(`pip install --force-reinstall genzoo`, or `pip install -e .` in a checkout)"
        ) from None
    return Path(zoo_registry.__file__).parent


def entries_from_folder(folder: str | os.PathLike[str] | None = None) -> list[WeightsEntry]:
    """Every valid ``<folder>/<name>/entry.json``, for a plugin's ``zoo_weights`` hook (``zoo.entries_from_folder``).

    The entries' files are read from ``<folder>/<name>/`` (offline, each checked against its sha256), so a plugin
    can ship pretrained weights inside its distribution. ``folder`` defaults to the first-party registry that
    ships with genzoo. An invalid entry is logged by name and left out, so it cannot hide the others; loading it
    by name then says what is wrong with it (:func:`entry_problem`).
    """
    root = registry_root() if folder is None else Path(folder)
    entries = []
    for path in sorted(root.glob(f"*/{ENTRY_NAME}")):
        try:
            entries.append(WeightsEntry.from_directory(path.parent))
        except ConfigError as exc:
            logger.warning("pretrained entry %s is broken and is left out: %s", shown(path.parent.name), exc)
    return entries


def entry_problem(name: str, root: Path | None = None) -> str | None:
    """Why the first-party entry ``name`` is not registered (its ``entry.json`` is invalid), or None."""
    try:
        root = registry_root() if root is None else root
    except LoadError:
        return None
    if not valid_entry_name(name) or not (root / name / ENTRY_NAME).exists():
        return None
    try:
        WeightsEntry.from_directory(root / name)
    except ConfigError as exc:
        return str(exc)
    return None


def default_entry_name(registry: Registry, architecture: str) -> str | None:
    """The entry ``zoo.load(architecture)`` uses: entries with local files (first-party) first, then by name."""
    names = [name for name in registry.weights if name.split(".", 1)[0] == architecture]

    def rank(name: str) -> tuple[bool, str]:
        return (registry.weights[name].local_dir is None, name)

    return min(names, key=rank) if names else None


def registry_entry(name: str) -> WeightsEntry:
    """The entry a registry source names: ``name.tag`` itself, or an architecture's default entry.

    An unknown name is an :class:`UnknownModelError` (``zoo.load(name)`` asks for a model).
    """
    registry = get_registry()
    if "." not in name:
        try:
            registry.model(name)
        except UnknownModelError as exc:
            raise UnknownModelError(str(exc) + _folder_hint(name), name=name, architecture=name) from None
        entry_name = default_entry_name(registry, name)
        if entry_name is None:
            raise LoadError(
                f"architecture {name!r} has no pretrained weights yet; train some with `zoo train {name}` and "
                "load the run directory, or create an untrained one with zoo.create()", architecture=name)
        name = entry_name
    try:
        return registry.weights_entry(name)
    except UnknownNameError as exc:
        problem = entry_problem(name)
        if problem is not None:
            raise LoadError(f"pretrained entry {name!r} is broken and was not registered: {problem}",
                            architecture=name.split(".", 1)[0]) from None
        raise UnknownModelError(str(exc) + _folder_hint(name), name=name,
                                architecture=name.split(".", 1)[0]) from None


def _folder_hint(name: str) -> str:
    return f"; to load the folder {name!r} instead, write it as a path: ./{name}" if Path(name).is_dir() else ""


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


__all__ = [
    "PluginInfo",
    "Registry",
    "build_registry",
    "call_hook",
    "checked_model_spec",
    "default_entry_name",
    "entries_from_folder",
    "entry_problem",
    "get_registry",
    "registry_entry",
    "registry_root",
    "reload_registry",
    "strict_plugins",
]
