"""Saving and loading a model as ``config.json`` + ``model.safetensors`` (never pickle).

A model folder changes as a unit. :func:`save` writes the weights to a pending file
``.model.<id>.safetensors`` (``<id>`` the save id, a hash of the tensors, also stored in the file's metadata), then
atomically replaces ``config.json``, which names that id as ``weights_id``: replacing ``config.json`` is the
one commit point. Only then is the pending file renamed to ``model.safetensors``. A reader takes the weights
whose save id matches the config it read: ``model.safetensors``, or the pending file when a save was cut off
between the two renames. A crash at any instant therefore leaves the old model or the new one; a reader racing a
writer retries and never builds a mismatched pair. Files saved before save ids existed (no ``weights_id``)
load as before. As the id is derived from the content, and the file's header is written in one order, saving the
same weights twice writes the same bytes: pushing an unchanged model makes no new Hub commit.

Tied parameters (one tensor under several names) are stored once; the file's metadata maps every other name to
the stored one, and loading ties them again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import stat
import struct
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes
from safetensors.torch import save_file
from torch import nn

from zoo._config import validate_config
from zoo._files import atomic_destination, atomic_write_bytes, folder_writers, fsync_directory, not_a_file
from zoo._registry import Registry, get_registry
from zoo._rundir import CONFIG_NAME, MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES, PICKLE_NAMES, WEIGHTS_NAME
from zoo._text import install_hint, parse_json, shown
from zoo.errors import (
    ConfigError,
    LoadError,
    MissingArchitectureError,
    UnknownModelError,
    UnsafeWeightsError,
    WeightsMismatchError,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
# safetensors' own limit on the JSON header.
MAX_HEADER_BYTES = 100_000_000
WEIGHTS_ID_KEY = "weights_id"  # in config.json
METADATA_ID_KEY = "zoo_weights_id"  # in model.safetensors' metadata
METADATA_TIED_KEY = "zoo_tied"  # in model.safetensors' metadata: {alias: stored name}
WEIGHTS_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
PENDING_PREFIX = ".model."
# A reader that finds a config and weights of different saves retries this long (a writer is between its two
# renames) before deciding that the folder really holds a mismatched pair.
PAIR_RETRY_SECONDS = 2.0


def architecture_of(model: nn.Module) -> str:
    name = getattr(model, "architecture", None)
    if not isinstance(name, str):
        raise ConfigError(
            f"{type(model).__name__} has no `architecture` attribute; build models with zoo.create(...) or "
            "zoo.load(...) so zoo knows which registered architecture they are"
        )
    return name


def config_document(model: nn.Module, registry: Registry | None = None) -> dict[str, Any]:
    """The ``config.json`` content describing ``model`` (without the save id that :func:`save` adds)."""
    registry = registry or get_registry()
    architecture = architecture_of(model)
    config = getattr(model, "config", None)
    if not isinstance(config, BaseModel):
        raise ConfigError(f"model {architecture!r} has no validated `.config`; build it with zoo.create()")
    provider = registry.provider("model", architecture)
    return {
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "provider": {"distribution": provider.distribution, "version": provider.version},
        "config": config.model_dump(mode="json"),
    }


# -- writing ----------------------------------------------------------------------------------------------------


def save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Atomically write a safetensors file; tensors that share memory are written as separate copies."""
    with atomic_destination(path) as temporary:
        try:
            save_file(_independent(tensors), temporary, metadata=metadata)
        except SafetensorError as exc:  # safetensors reports a failed write (a full disk) as its own error
            raise _as_os_error(exc, path) from None


def _as_os_error(exc: SafetensorError, path: Path) -> OSError:
    """The OSError inside a SafetensorError ("I/O error: No space left on device (os error 28)"), for ``path``."""
    found = re.search(r"\(os error (\d+)\)", str(exc))
    if found is None:
        return OSError(errno.EIO, f"cannot write the file ({str(exc)[:200]})", os.fspath(path))
    number = int(found.group(1))
    return OSError(number, os.strerror(number), os.fspath(path))


def _independent(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU tensors of which no two share memory (safetensors refuses aliases)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in tensors.items():
        tensor = value.detach().cpu()
        pointer = tensor.untyped_storage().data_ptr() if tensor.numel() else 0
        if (pointer and pointer in seen) or _is_partial_view(tensor):
            tensor = tensor.clone()
        elif pointer:
            seen.add(pointer)
        out[key] = tensor.contiguous()
    return out


def _is_partial_view(tensor: torch.Tensor) -> bool:
    return tensor.untyped_storage().nbytes() != tensor.numel() * tensor.element_size()


def tied_names(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """``{alias: first name}`` for every entry of ``state`` that is the very same tensor as an earlier one."""
    first: dict[tuple[Any, ...], str] = {}
    aliases: dict[str, str] = {}
    for name, tensor in state.items():
        if tensor.numel() == 0:
            continue
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape),
               tuple(tensor.stride()), tensor.dtype, tensor.device)
        if key in first:
            aliases[name] = first[key]
        else:
            first[key] = name
    return aliases


def save(model: nn.Module, directory: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` and ``model.safetensors`` for ``model`` into ``directory``, as one unit.

    Parameters tied to each other are stored once and tied again by :func:`load_directory`.
    """
    directory = Path(directory)
    document = config_document(model)
    state = model.state_dict()
    tied = tied_names(state)
    stored = _independent({k: v for k, v in state.items() if k not in tied})
    metadata = {"format": "pt"}
    if tied:
        metadata[METADATA_TIED_KEY] = json.dumps(tied, sort_keys=True)
    weights_id = _content_id(stored, metadata)
    metadata[METADATA_ID_KEY] = weights_id
    document[WEIGHTS_ID_KEY] = weights_id
    data = _canonical_header(save_bytes(stored, metadata=metadata))
    _make_directory(directory)
    with folder_writers(directory):
        pending = directory / f"{PENDING_PREFIX}{weights_id}.safetensors"
        # A pending file of this id (the same weights) may be left by an interrupted save, and config.json may even
        # name it: it is replaced atomically, never rewritten in place, and a failed save leaves it alone.
        leftover = pending.exists()
        try:
            atomic_write_bytes(pending, data)
            atomic_write_bytes(directory / CONFIG_NAME, (json.dumps(document, indent=2) + "\n").encode())
        except BaseException:
            if not leftover:
                pending.unlink(missing_ok=True)
            raise
        os.replace(pending, directory / WEIGHTS_NAME)
        fsync_directory(directory)
        _remove_stale_files(directory)
    logger.info("saved %s to %s", document["architecture"], directory)
    return directory


def _make_directory(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"cannot save into {directory}: it is a file, not a folder; give a folder path",
                          path=directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder {directory} ({exc.strerror or exc}); give a writable "
                          "folder path", path=directory) from None


def _content_id(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """A save id that is a hash of what the weights file holds: names, dtypes, shapes, bytes and metadata."""
    digest = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name]  # contiguous, on the CPU (see _independent)
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()[:32]


def _canonical_header(data: bytes) -> bytes:
    """``data`` (a safetensors file) with its metadata in sorted order (safetensors writes it in hash-map order)."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode().ljust(length)
    if len(text) != length:  # never: the same keys and values, reordered, take the same bytes
        return data
    return data[:8] + text + data[8 + length:]


def _remove_stale_files(directory: Path) -> None:
    """Remove pending weights and temporary files that a killed save left behind (called under the lock)."""
    for path in directory.iterdir():
        name = path.name
        if (name.startswith(PENDING_PREFIX) and name.endswith(".safetensors")) or (
            name.startswith((".model.", ".config.", f".{PENDING_PREFIX}")) and ".tmp." in name
        ):
            with contextlib.suppress(OSError):
                path.unlink()
                logger.debug("removed %s, left by an interrupted save", path)


# -- reading ----------------------------------------------------------------------------------------------------


def read_regular_file(path: Path, limit: int, *, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file (after symlinks) of at most ``limit`` bytes.

    Checks the file type before opening and opens without blocking, so a FIFO, device or socket in the place of
    a file is refused by name, never read.
    """
    try:
        _require_regular(path, os.stat(path).st_mode, what)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise LoadError(f"{path} does not exist", path=path) from None
    except OSError as exc:
        raise LoadError(f"cannot open {path} ({exc.strerror or exc})", path=path) from None
    try:
        info = os.fstat(fd)
        _require_regular(path, info.st_mode, what)  # it may have been swapped since the check above
        if info.st_size > limit:
            raise LoadError(f"{path} is {info.st_size:,} bytes; a {what} is at most {limit:,} bytes, so this is "
                            "not one; refusing it", path=path)
        chunks = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise LoadError(f"cannot read {path} ({exc.strerror or exc})", path=path) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise LoadError(f"{path} grew beyond {limit:,} bytes while being read; refusing it", path=path)
    return data


def _require_regular(path: Path, mode: int, what: str) -> None:
    kind = not_a_file(path, mode)
    if kind is not None:
        raise LoadError(f"{path} is {kind}, not a regular file; a {what} must be a regular file", path=path)


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def read_config_document(path: Path) -> dict[str, Any]:
    """Read and check the envelope of a ``config.json`` (not yet the model config itself)."""
    if not path.exists() and not path.is_symlink():
        raise LoadError(f"{path} does not exist; a saved model directory holds {CONFIG_NAME} and {WEIGHTS_NAME}",
                        path=path)
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES, what=f"zoo {CONFIG_NAME}")
    except LoadError as exc:
        if "is at most" in str(exc):
            raise ConfigError(str(exc), path=path) from None
        raise
    document = parse_json(raw, where=str(path), fix="re-save the model with zoo.save()")
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a JSON object, found {type(document).__name__}", path=path)
    allowed = {"format_version", "architecture", "provider", "config", WEIGHTS_ID_KEY}
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise ConfigError(f"{path} has unknown keys {unknown}; allowed: {sorted(allowed)}", path=path)
    version = document.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # a bool is an int: true == 1 must not pass
        raise ConfigError(
            f"{path} has format_version {json.dumps(version)}; this zoo reads version {FORMAT_VERSION}. "
            "Upgrade zoo or re-save the model", path=path
        )
    if not isinstance(document.get("architecture"), str) or not isinstance(document.get("config"), dict):
        raise ConfigError(f"{path} must name an 'architecture' (string) and hold a 'config' (object)", path=path)
    provider = document.get("provider", {})
    if not isinstance(provider, dict) or not all(isinstance(v, str) for v in provider.values()):
        raise ConfigError(f"{path}: 'provider' must be an object of strings", path=path)
    weights_id = document.get(WEIGHTS_ID_KEY)
    if weights_id is not None and not (isinstance(weights_id, str) and WEIGHTS_ID_PATTERN.match(weights_id)):
        raise ConfigError(f"{path}: {WEIGHTS_ID_KEY!r} must be 32 lowercase hex digits, found "
                          f"{json.dumps(weights_id)[:40]}; re-save the model with zoo.save()", path=path)
    return document


def build_from_document(document: dict[str, Any], *, where: str, registry: Registry | None = None) -> nn.Module:
    """Validate the config in ``document`` and build the (untrained) model it describes."""
    registry = registry or get_registry()
    architecture = document["architecture"]
    try:
        spec = registry.model(architecture)
    except UnknownModelError:
        # The provider named in the file is untrusted: a pip hint only for a valid distribution name (PEP 508).
        raise MissingArchitectureError(
            f"{shown(where)} needs architecture {shown(architecture)!r}, which no installed plugin provides; "
            f"{install_hint(document.get('provider'), architecture)}",
            architecture=architecture,
            path=where if where.endswith(".json") else None,
        ) from None
    # Validate in JSON mode, as the document came from JSON: strict mode takes arrays for tuple fields only there.
    try:
        text = json.dumps(document["config"])
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{where}: the config cannot be read ({str(exc)[:200]})") from None
    config = validate_config(spec.config, text, where=where)
    return create_from_config(spec.name, config, registry=registry)


def create_from_config(name: str, config: Any, *, registry: Registry | None = None) -> nn.Module:
    registry = registry or get_registry()
    spec = registry.model(name)
    model = spec.build(config)
    # The registry, not the plugin, stamps identity, so every model zoo hands out can be saved.
    setattr(model, "architecture", spec.name)  # noqa: B010 (nn.Module's __setattr__ is typed for tensors)
    if getattr(model, "config", None) is not config:
        setattr(model, "config", config)  # noqa: B010
    return model


def require_weights_file(path: Path) -> None:
    """Raise UnsafeWeightsError (pickle weights only) or LoadError unless the safetensors file ``path`` exists.

    A directory, FIFO, device or socket of that name (or a symlink to one) is reported as what it is.
    """
    if path.exists() and not _is_regular(path):
        read_regular_file(path, MAX_WEIGHTS_BYTES, what=f"zoo {WEIGHTS_NAME}")  # raises, naming what it found
    if path.is_symlink() and not path.exists():
        raise LoadError(f"{path} is a broken symlink (its target is missing, or it is a symlink loop); replace it "
                        "with the weights file itself", path=path)
    if not path.exists():
        found = [p.name for p in path.parent.iterdir()] if path.parent.is_dir() else []
        pickles = [n for n in found if n in PICKLE_NAMES]
        if pickles:
            raise UnsafeWeightsError(
                f"{path.parent} holds only pickle weights ({', '.join(pickles)}); zoo never loads pickle. "
                f"Convert them to {WEIGHTS_NAME} with safetensors in a trusted environment",
                path=path.parent,
            )
        shown = sorted(n for n in found if not n.startswith("."))
        raise LoadError(f"{path.parent} has no {WEIGHTS_NAME} (found: {', '.join(shown) or 'nothing'})",
                        path=path.parent)


class _Weights:
    """One safetensors file, read in two bounded steps from one open descriptor (one snapshot of the file).

    Opening reads only the header, at most :func:`header_limit` bytes for the model it is loaded into, so a
    header naming 500,000 tensors is refused before it is parsed. :meth:`load` checks every entry's name, dtype,
    shape and byte range against that model's state dict (and every ``zoo_tied`` alias) before it reads the
    data, so a file announcing a huge tensor or a huge shape costs nothing but its header.
    """

    def __init__(self, path: Path, expected: dict[str, torch.Tensor]) -> None:
        self.path = path
        self._fd = _open_regular(path, f"zoo {WEIGHTS_NAME}")
        try:
            self.size = os.fstat(self._fd).st_size
            if self.size > MAX_WEIGHTS_BYTES:
                raise LoadError(f"{path} is {self.size:,} bytes; a zoo {WEIGHTS_NAME} is at most "
                                f"{MAX_WEIGHTS_BYTES:,} bytes, so this is not one; refusing it", path=path)
            self._prefix = _read_exact(self._fd, 8, path)
            (length,) = struct.unpack("<Q", self._prefix)
            limit = header_limit(expected)
            if length > limit:
                raise LoadError(f"{path}: its header is {length:,} bytes, more than the {limit:,} that this model's "
                                f"{len(expected)} tensors need; it names tensors the model lacks, or is damaged. "
                                "Re-download or re-save it", path=path)
            if 8 + length > self.size:
                raise ValueError(f"header length {length} exceeds the file")
            self._header_bytes = _read_exact(self._fd, length, path)
            header = json.loads(self._header_bytes)
            if not isinstance(header, dict):
                raise ValueError("the header is not a JSON object")
            self.header: dict[str, Any] = header
            self.metadata = _metadata_of(header)
        except (ValueError, RecursionError, struct.error) as exc:
            self.close()
            raise LoadError(f"{path} is corrupt or truncated ({str(exc)[:200]}); re-download or re-save it",
                            path=path) from None
        except BaseException:
            self.close()
            raise
        self.tensors: dict[str, torch.Tensor] = {}

    @property
    def weights_id(self) -> str | None:
        return self.metadata.get(METADATA_ID_KEY)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def load(self, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Check the header against ``expected``, then read the tensors (exactly the bytes the header needs)."""
        try:
            data_bytes = _check_header(self.path, self.header, self.metadata, expected)
            if self.size != 8 + len(self._header_bytes) + data_bytes:
                raise ValueError(f"the file is {self.size:,} bytes; its header describes "
                                 f"{8 + len(self._header_bytes) + data_bytes:,}")
            data = self._prefix + self._header_bytes + _read_exact(self._fd, data_bytes, self.path)
            self.tensors = load_bytes(data)
        except (SafetensorError, ValueError, RuntimeError, struct.error) as exc:
            raise LoadError(f"{self.path} is corrupt or truncated ({str(exc)[:200]}); re-download or re-save it",
                            path=self.path) from None
        finally:
            self.close()
        return self.tensors


def header_limit(expected: dict[str, torch.Tensor]) -> int:
    """The most header bytes a weights file for a model of state dict ``expected`` can need.

    An entry is its name and about 100 bytes of dtype, shape and offsets; an alias in the ``zoo_tied`` metadata
    costs about twice its names, escaped; 64 KiB more covers the rest of the metadata generously.
    """
    return 65_536 + sum(4 * len(name) + 256 for name in expected)


def _open_regular(path: Path, what: str) -> int:
    try:
        _require_regular(path, os.stat(path).st_mode, what)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise LoadError(f"{path} does not exist", path=path) from None
    except OSError as exc:
        raise LoadError(f"cannot open {path} ({exc.strerror or exc})", path=path) from None
    try:
        _require_regular(path, os.fstat(fd).st_mode, what)  # it may have been swapped since the check above
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_exact(fd: int, size: int, path: Path) -> bytes:
    chunks, remaining = [], size
    try:
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 24))
            if not chunk:
                raise ValueError(f"the file ends {remaining:,} bytes early")
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise LoadError(f"cannot read {path} ({exc.strerror or exc})", path=path) from None
    return b"".join(chunks)


# safetensors' dtype names (https://github.com/huggingface/safetensors: the format's dtypes).
_DTYPE_NAMES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
    torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
    **{getattr(torch, dtype): name for dtype, name in (
        ("float8_e4m3fn", "F8_E4M3"), ("float8_e5m2", "F8_E5M2"), ("uint16", "U16"), ("uint32", "U32"),
        ("uint64", "U64"), ("complex64", "C64")) if hasattr(torch, dtype)},
}


def _check_header(path: Path, header: dict[str, Any], metadata: dict[str, str],
                  expected: dict[str, torch.Tensor]) -> int:
    """Raise unless the header's entries are exactly ``expected``'s stored tensors; the size of the data."""
    tied = _tied_names(path, metadata, expected)
    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    stored = {k: v for k, v in expected.items() if k not in tied or k in entries}
    missing = sorted(set(stored) - set(entries))
    unexpected = sorted(set(entries) - set(stored))
    wrong, total, ends = [], 0, []
    for name, want in stored.items():
        entry = entries.get(name)
        if entry is None:
            continue
        dtype, shape = (entry.get("dtype"), entry.get("shape")) if isinstance(entry, dict) else (None, None)
        if dtype != _DTYPE_NAMES.get(want.dtype) or shape != list(want.shape):
            known = _torch_dtype(dtype) if isinstance(dtype, str) else None
            found = (f"{tuple(shape) if isinstance(shape, list) else shown(shape, 60)} "
                     f"{known if known is not None else shown(dtype, 20)}")
            wrong.append(f"{name}: file {found}, model {tuple(want.shape)} {want.dtype}")
            continue
        offsets = entry.get("data_offsets")
        size = want.numel() * want.element_size()
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
                and offsets[1] - offsets[0] == size and offsets[0] >= 0):
            raise ValueError(f"tensor {shown(name, 100)!r} has data offsets {shown(offsets, 60)}, not {size} bytes")
        total += size
        ends.append(offsets[1])
    if missing or unexpected or wrong:
        parts = [f"missing: {missing[:20]}"] if missing else []
        parts += [f"unexpected: {[shown(k, 100) for k in unexpected[:20]]}"
                  + (f" and {len(unexpected) - 20} more" if len(unexpected) > 20 else "")] if unexpected else []
        parts += [f"wrong shape or dtype: {sorted(wrong)[:20]}"] if wrong else []
        raise WeightsMismatchError(
            f"{path} does not match the model its config describes ({'; '.join(parts)}); the weights and "
            "config.json must come from the same zoo.save()",
            path=path,
        )
    if max(ends, default=0) != total:  # safetensors packs the tensors without gaps: the data is exactly this long
        raise ValueError(f"its tensors' data offsets end at {max(ends, default=0):,}, not at {total:,}")
    return total


def _torch_dtype(name: str) -> torch.dtype | None:
    return next((dtype for dtype, known in _DTYPE_NAMES.items() if known == name), None)


def _metadata_of(header: dict[str, Any]) -> dict[str, str]:
    metadata = header.get("__metadata__")
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("__metadata__ must map strings to strings")
    return metadata


def _tied_names(path: Path, metadata: dict[str, str], expected: dict[str, torch.Tensor]) -> dict[str, str]:
    """The ``zoo_tied`` map, refused unless every alias and its source are tensors of this model of one shape and
    dtype (a tie across shapes would load, and then every forward pass would fail)."""
    text = metadata.get(METADATA_TIED_KEY)
    if text is None:
        return {}
    try:
        tied = json.loads(text)
    except (ValueError, RecursionError):
        tied = None
    if not isinstance(tied, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tied.items()):
        raise LoadError(f"{path}: its {METADATA_TIED_KEY!r} metadata is not a map of tensor names; re-save it",
                        path=path)
    for alias, name in tied.items():
        if alias not in expected or name not in expected or alias == name or name in tied:
            raise LoadError(f"{path}: its {METADATA_TIED_KEY!r} metadata ties {shown(alias, 100)!r} to "
                            f"{shown(name, 100)!r}, which are not two tensors of this model; re-save it with "
                            "zoo.save()", path=path)
        a, b = expected[alias], expected[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            raise LoadError(f"{path}: its {METADATA_TIED_KEY!r} metadata ties {alias!r} ({tuple(a.shape)} {a.dtype}) "
                            f"to {name!r} ({tuple(b.shape)} {b.dtype}); only tensors of identical shape and dtype "
                            "can be one tensor. Re-save the model with zoo.save()", path=path)
    return tied


def tensor_differences(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], *,
                       source: str) -> tuple[list[str], list[str], list[str]]:
    """How ``given`` tensors differ from a model's ``expected`` state dict: the names missing, the names
    unexpected, and ``"name: SOURCE shape dtype, model shape dtype"`` for each one of another shape or dtype."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(
        f"{k}: {source} {tuple(given[k].shape)} {given[k].dtype}, model {tuple(v.shape)} {v.dtype}"
        for k, v in expected.items()
        if k in given and (given[k].shape != v.shape or given[k].dtype != v.dtype)
    )
    return missing, unexpected, wrong


def _load_into(model: nn.Module, weights: _Weights) -> None:
    path, tensors = weights.path, dict(weights.tensors)
    expected = model.state_dict()
    tied = _tied_names(path, weights.metadata, expected)
    for alias, name in tied.items():
        if alias in expected and name in tensors and alias not in tensors:
            tensors[alias] = tensors[name]
    missing, unexpected, wrong = tensor_differences(expected, tensors, source="file")
    if missing or unexpected or wrong:
        parts = [f"missing: {missing}"] if missing else []
        parts += [f"unexpected: {unexpected}"] if unexpected else []
        parts += [f"wrong shape or dtype: {wrong}"] if wrong else []
        raise WeightsMismatchError(
            f"{path} does not match the model its config describes ({'; '.join(parts)}); the weights and "
            "config.json must come from the same zoo.save()",
            path=path,
        )
    model.load_state_dict(tensors, strict=True)
    _tie(model, tied)


def _tie(model: nn.Module, tied: dict[str, str]) -> None:
    """Make every alias the very tensor it was saved as (a no-op where the architecture ties them itself)."""
    for alias, name in tied.items():
        owner_name, _, leaf = alias.rpartition(".")
        owner = model.get_submodule(owner_name)
        source_owner_name, _, source_leaf = name.rpartition(".")
        source_owner = model.get_submodule(source_owner_name)
        if leaf in owner._parameters and source_leaf in source_owner._parameters:
            if owner._parameters[leaf] is not source_owner._parameters[source_leaf]:
                owner._parameters[leaf] = source_owner._parameters[source_leaf]
        elif leaf in owner._buffers and source_leaf in source_owner._buffers:
            owner._buffers[leaf] = source_owner._buffers[source_leaf]


def _read_pair(directory: Path, model_for: Callable[[dict[str, Any]], nn.Module]) -> tuple[nn.Module, _Weights]:
    """The model a config document describes and the weights of the same save (their tensors read, after their
    header was checked against that model), retrying while another process is saving."""
    deadline = time.monotonic() + PAIR_RETRY_SECONDS
    while True:
        config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        document = read_config_document(config_path)
        weights_id = document.get(WEIGHTS_ID_KEY)
        pending = directory / f"{PENDING_PREFIX}{weights_id}.safetensors"
        if weights_id is not None and not weights_path.exists() and _is_regular(pending):
            weights_path = pending  # a save was cut off after its commit point: its weights are complete
        require_weights_file(weights_path)
        model = model_for(document)
        expected = model.state_dict()
        weights = _read_unless_renamed(weights_path, expected)
        if weights is None:  # the pending file became model.safetensors since the check: read the pair again
            continue
        # Weights without a save id were written by hand or by an older zoo: the strict shape check decides.
        if weights_id is None or weights.weights_id in (None, weights_id):
            weights.load(expected)
            return model, weights
        weights.close()
        if _is_regular(pending):
            candidate = _read_unless_renamed(pending, expected)
            if candidate is not None and candidate.weights_id == weights_id:
                candidate.load(expected)
                return model, candidate
            if candidate is not None:
                candidate.close()
        if time.monotonic() > deadline:
            raise WeightsMismatchError(
                f"{directory}: {CONFIG_NAME} (save {weights_id}) and {weights_path.name} (save "
                f"{weights.weights_id or 'unknown'}) come from different saves; another process may still be "
                "writing the folder (retry), or the files were copied together by hand (re-save the model)",
                path=directory,
            )
        time.sleep(0.02)


def _read_unless_renamed(path: Path, expected: dict[str, torch.Tensor]) -> _Weights | None:
    """The weights at ``path`` (header read), or None when a concurrent save renamed that pending file away."""
    try:
        return _Weights(path, expected)
    except LoadError:
        if path.name.startswith(PENDING_PREFIX) and not path.exists():
            return None
        raise


def load_directory(directory: str | os.PathLike[str], *, registry: Registry | None = None) -> nn.Module:
    """Load a model saved by :func:`save` (eval mode)."""
    directory = Path(directory)
    # Weights first: a directory of pickle weights (no config.json either) should say so, not "no config".
    if not (directory / CONFIG_NAME).exists():
        require_weights_file(directory / WEIGHTS_NAME)
    built: dict[str, nn.Module] = {}

    def model_for(document: dict[str, Any]) -> nn.Module:  # built again only when a concurrent save changed it
        key = json.dumps(document, sort_keys=True)
        if key not in built:
            built.clear()
            built[key] = build_from_document(document, where=str(directory / CONFIG_NAME), registry=registry)
        return built[key]

    model, weights = _read_pair(directory, model_for)
    _load_into(model, weights)
    return model.eval()
