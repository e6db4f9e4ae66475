"""One resolver, one loader: a source becomes files plus provenance, then one strict loader builds the model.

A source is parsed once, by its form, never by what happens to exist on disk (timm's ``parse_model_name``):

=================================  ===============  ==========================================================
source                             kind             resolves to
=================================  ===============  ==========================================================
``hf-hub:org/repo[@revision]``     hub              the Hub's ``config.json`` + ``model.safetensors`` at one commit
``name`` / ``name.tag``            registry         a pretrained entry's files, each checked against its sha256
a path (``./x``, ``runs/x``,       directory        the folder's ``config.json`` + ``model.safetensors``
``/abs``, a ``pathlib.Path``)
=================================  ===============  ==========================================================

A registered name or ``name.tag`` always means the registry, even when a folder of that name exists in the
working directory: write ``./dense-gan`` to load the folder. A path that does not exist is "no such
directory", never "no model named". Every kind ends in :func:`zoo._serialization.load_directory`, the one
strict loader, and the model's ``zoo_source`` records the provenance (entry name, repository and commit).

This module joins the Hub client (moving files), the registry (names and entries) and the strict loader.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch import nn

from zoo._config import config_with_overrides
from zoo._entries import FileName, WeightsEntry, verify_file
from zoo._names import ENTRY_NAME_PATTERN, NAME_PATTERN
from zoo._registry import get_registry, registry_entry
from zoo._rundir import CONFIG_NAME, WEIGHTS_NAME
from zoo._serialization import build_from_document, create_from_config, load_directory, read_config_document
from zoo._text import shown
from zoo.errors import ConfigError, LoadError
from zoo.hub import HubFiles, check_safetensors, copy_files, download_file, fetch_config, fetch_weights

HUB_PREFIX = "hf-hub:"
_ENTRY_RE = re.compile(ENTRY_NAME_PATTERN)
HubOptions = dict[str, Any]


@dataclass(frozen=True)
class Source:
    """A parsed source: its kind and the text that names it (a path, a registry name or ``org/repo@rev``)."""

    kind: Literal["directory", "registry", "hub"]
    text: str


def create(name: str, **overrides: Any) -> nn.Module:
    """An untrained ``name`` model; keyword arguments override fields of its default config (``zoo.create``)."""
    spec = get_registry().model(name)
    config = config_with_overrides(spec.config, None, overrides, where=f"zoo.create({name!r})")
    return create_from_config(name, config)


def parse_source(source: str | os.PathLike[str]) -> Source:
    """Classify ``source`` by its form alone (see the module docstring)."""
    if isinstance(source, os.PathLike):
        return Source("directory", os.fspath(source))
    if not isinstance(source, str):
        raise ConfigError(f"a model source is a string or a path, got {type(source).__name__}")
    if source.startswith(HUB_PREFIX):
        return Source("hub", source[len(HUB_PREFIX) :])
    if NAME_PATTERN.match(source) or _ENTRY_RE.match(source):
        return Source("registry", source)
    return Source("directory", source)


@dataclass(frozen=True)
class Resolved:
    """What a source resolved to: the folder holding the two files, and where they came from."""

    directory: Path
    provenance: dict[str, str] | None
    where: str


def resolve(source: str | os.PathLike[str], *, token: str | bool | None = None,
            cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> Resolved:
    """Files plus provenance for ``source``; downloads (Hub, plugin entries) and verifies what it must."""
    parsed = parse_source(source)
    hub: HubOptions = {"token": token, "cache_dir": cache_dir, "endpoint": endpoint}
    if parsed.kind == "hub":
        files = fetch_hub(parsed.text, **hub)
        return Resolved(files.config.parent, files.source, f"hf-hub:{files.repo_id}@{files.revision}")
    if parsed.kind == "registry":
        return resolve_entry(registry_entry(parsed.text), **hub)
    if any(v is not None for v in hub.values()):
        given = sorted(k for k, v in hub.items() if v is not None)
        raise TypeError(f"zoo.load() of a local directory takes no Hub options, got {given}")
    return Resolved(_directory(parsed.text), None, parsed.text)


def load(source: str | os.PathLike[str], *, token: str | bool | None = None,
         cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> nn.Module:
    """Resolve ``source``, then build it with the one strict loader; eval mode, ``zoo_source`` set."""
    return _load_resolved(resolve(source, token=token, cache_dir=cache_dir, endpoint=endpoint))


def _load_resolved(resolved: Resolved) -> nn.Module:
    model = load_directory(resolved.directory)  # in eval mode
    if resolved.provenance is not None:
        model.zoo_source = resolved.provenance  # type: ignore[assignment]  # nn.Module's __setattr__ wants tensors
    return model


# -- directories -------------------------------------------------------------------------------------------


def _directory(text: str) -> Path:
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise LoadError(f"{shown(text)} is a file, not a directory; zoo.load() takes the directory holding "
                        f"{CONFIG_NAME} and {WEIGHTS_NAME}", path=path)
    parent = path.parent
    hint = f" ({parent} does not exist either)" if str(parent) not in ("", ".") and not parent.exists() else ""
    raise LoadError(f"no such directory: {shown(text)}{hint}; give the folder `zoo train --out` or zoo.save() "
                    "wrote, or a registered name (`zoo list`, `zoo list --pretrained`)", path=path)


# -- registry entries ------------------------------------------------------------------------------------------


def resolve_entry(entry: WeightsEntry, *, token: str | bool | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> Resolved:
    """The entry's folder, every file checked against the sha256 it records, the config against its record."""
    where = f"pretrained entry {entry.name!r}"
    config_path = entry_file(entry, CONFIG_NAME, token=token, cache_dir=cache_dir, endpoint=endpoint)
    document = read_config_document(config_path)
    if document["architecture"] != entry.architecture or document["config"] != entry.config:
        raise LoadError(
            f"{CONFIG_NAME} of {where} describes {shown(document['architecture'])!r} with a config that differs "
            "from the entry's; regenerate the entry with registry/make_entry.py", architecture=entry.architecture)
    weights_path = entry_file(entry, WEIGHTS_NAME, token=token, cache_dir=cache_dir, endpoint=endpoint)
    if weights_path.parent != config_path.parent:
        raise LoadError(f"the files of {where} are not in one folder ({config_path}, {weights_path})")
    provenance = {"entry": entry.name}
    if entry.local_dir is None and entry.hub is not None:
        provenance |= {"repo_id": entry.hub.repo_id, "revision": entry.hub.revision}
    return Resolved(config_path.parent, provenance, where)


def entry_file(entry: WeightsEntry, name: FileName, *, token: str | bool | None = None,
               cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> Path:
    """The local path of one of the entry's files, downloaded if needed, after its sha256 is verified."""
    if name not in entry.files:
        raise LoadError(f"pretrained entry {entry.name!r} has no file {name!r}")
    if entry.local_dir is not None:
        path = entry.local_dir / name
        if not path.is_file():
            raise LoadError(f"{path} of pretrained entry {entry.name!r} is missing; reinstall the distribution that "
                            "provides it", path=path)
    elif entry.hub is not None:
        path = download_file(entry.hub.repo_id, name, revision=entry.hub.revision, token=token,
                             cache_dir=cache_dir, endpoint=endpoint, max_bytes=entry.files[name].size).path
    else:
        raise LoadError(
            f"pretrained entry {entry.name!r} names no Hub repository: a plugin's entries must set "
            "hub={'repo_id': ..., 'revision': <40-hex commit sha>} so zoo can download and verify its files")
    verify_file(entry, name, path)
    return path


def entry_files(entry: WeightsEntry, *, token: str | bool | None = None,
                cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> dict[str, Path]:
    """Every file of the entry at a verified local path (what ``zoo publish`` uploads)."""
    resolved = resolve_entry(entry, token=token, cache_dir=cache_dir, endpoint=endpoint)
    # resolve_entry has verified the config and the weights already; only the pictures are left.
    return {name: resolved.directory / name if name in (CONFIG_NAME, WEIGHTS_NAME)
            else entry_file(entry, name, token=token, cache_dir=cache_dir, endpoint=endpoint)
            for name in entry.files}


def load_entry(entry: WeightsEntry, **hub: Any) -> nn.Module:
    """Load a pretrained entry (as the registry holds it) in eval mode."""
    return _load_resolved(resolve_entry(entry, **hub))


# -- the Hub -----------------------------------------------------------------------------------------------


def fetch_hub(spec: str, *, token: str | bool | None = None, cache_dir: str | os.PathLike[str] | None = None,
              endpoint: str | None = None, build: bool = True) -> HubFiles:
    """``config.json`` first, checked (and with ``build``, validated and built), then the weights at its commit."""
    files = fetch_config(spec, token=token, cache_dir=cache_dir, endpoint=endpoint)
    document = read_config_document(files.config)  # a malformed envelope is refused before the weights
    if build:  # a load validates the whole config, and builds the model, before the weights are downloaded
        build_from_document(document, where=f"hf-hub:{files.repo_id}@{files.revision}")
    files = fetch_weights(files, token=token, cache_dir=cache_dir, endpoint=endpoint)
    assert files.weights is not None
    check_safetensors(files.weights)
    return files


def pull(spec: str, *, out: str | os.PathLike[str] | None = None, token: str | bool | None = None,
         cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> Path:
    """Download ``org/repo[@revision]``'s ``config.json`` and ``model.safetensors``; return their directory.

    Without ``out`` that is the Hugging Face cache's snapshot directory of the resolved commit. With ``out``
    both files are copied there (created if needed) once both downloads have succeeded, so a failed pull
    leaves nothing behind. ``zoo.load()`` reads the directory.
    """
    return pull_files(spec, out=out, token=token, cache_dir=cache_dir, endpoint=endpoint)[0]


def pull_files(spec: str, *, out: str | os.PathLike[str] | None = None, token: str | bool | None = None,
               cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None
               ) -> tuple[Path, HubFiles]:
    files = fetch_hub(spec.removeprefix(HUB_PREFIX), token=token, cache_dir=cache_dir, endpoint=endpoint,
                      build=False)
    if out is None:
        return files.config.parent, files
    return copy_files(files, out), files
