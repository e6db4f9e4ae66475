"""Every name zoo checks, in one place: architectures, datasets, entries, metrics, Hub repositories and revisions.

A plain module (it imports only ``zoo.errors`` and ``zoo._text``), so that the registry, the entry schema, the Hub
client and the CLI apply one rule each instead of copies that drift:

- a **name** (architecture, dataset, family): 1-64 lowercase letters, digits, ``-`` or ``_``;
- an **entry** name: ``architecture.tag``, two such names joined by a ``.``;
- a **repo id**: the Hub's rule, ``[owner/]name`` of letters, digits, ``-``, ``_`` and ``.``, neither starting nor
  ending with ``-`` or ``.``, with no ``--`` or ``..``; an entry's Hub location must name the owner;
- a **revision**: a branch or tag git allows, ``refs/pr/N``, or a (prefix of a) commit sha; a pinned **commit** is
  the full 40-hex sha.
"""

from __future__ import annotations

import re
from typing import Final

from zoo._text import shown
from zoo.errors import ConfigError

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ENTRY_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}\.[a-z0-9][a-z0-9_-]{0,63}$"
METRIC_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$"

# The Hub's names: letters, digits, '-', '_', '.'; no '--' or '..'; '-' and '.' neither start nor end one.
_HUB_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
REPO_ID_RE = re.compile(rf"(?:{_HUB_NAME}/)?{_HUB_NAME}")
# With the owner (an entry's Hub location); '--' and '..' are refused by valid_repo_id.
OWNED_REPO_ID_PATTERN: Final = rf"^{_HUB_NAME}/{_HUB_NAME}$"
COMMIT_PATTERN: Final = r"^[0-9a-f]{40}$"
COMMIT_RE = re.compile(r"[0-9a-f]{40}")
SHA_PREFIX_RE = re.compile(r"[0-9a-f]{7,40}")
REF_RE = re.compile(r"[A-Za-z0-9._/-]{1,128}")
DEFAULT_REVISION: Final = "main"


def check_name(name: str, what: str) -> None:
    """Raise ConfigError unless ``name`` is a valid ``what`` (model, dataset) name."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{what} name {name!r} is invalid: use 1-64 lowercase letters, digits, '-' or '_' "
            "(a '.' separates an architecture from a pretrained tag)"
        )


def valid_entry_name(name: str) -> bool:
    return isinstance(name, str) and re.fullmatch(ENTRY_NAME_PATTERN, name) is not None


def valid_repo_id(repo_id: str, *, owner: bool = False) -> bool:
    """Whether ``repo_id`` follows the Hub's rule (with an ``owner/`` part when ``owner``)."""
    if not isinstance(repo_id, str) or not REPO_ID_RE.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id:
        return False
    return "/" in repo_id or not owner


def valid_revision(revision: str) -> bool:
    """A branch or tag name git allows, ``refs/pr/N``, or a (prefix of a) commit sha: safe as a file name."""
    if SHA_PREFIX_RE.fullmatch(revision) or re.fullmatch(r"refs/pr/[0-9]{1,9}", revision):
        return True
    if not REF_RE.fullmatch(revision):
        return False
    parts = revision.split("/")
    return not any(p in ("", ".", "..") or p.startswith(".") or p.endswith(".lock") for p in parts) and (
        ".." not in revision and not revision.endswith(".")
    )


def check_repo_id(repo_id: str, *, what: str = "Hub repository") -> str:
    if not valid_repo_id(repo_id):
        raise ConfigError(
            f"{shown(repo_id)!r} is not a {what}: expected org/name (letters, digits, '-', '_', '.'; no '--' or "
            "'..'), e.g. alice/dense-gan-mnist"
        )
    return repo_id


def check_revision(revision: str, *, what: str = "revision") -> str:
    if not isinstance(revision, str) or not valid_revision(revision):
        raise ConfigError(
            f"{shown(revision)!r} is not a valid {what}: use a branch or tag name (letters, digits, '-', '_', '.', "
            "'/', no '..') or a commit sha"
        )
    return revision


def parse_spec(spec: str) -> tuple[str, str]:
    """``org/repo[@revision]`` -> (repo_id, revision), both validated; the revision defaults to ``main``."""
    repo_id, sep, revision = spec.partition("@")
    try:
        check_repo_id(repo_id)
        if sep:
            check_revision(revision)
    except ConfigError:
        raise ConfigError(
            f"{shown(spec)!r} is not a Hub repository: expected org/name[@revision] (letters, digits, '-', '_', "
            "'.'), e.g. hf-hub:alice/dense-gan-mnist@main"
        ) from None
    return repo_id, revision or DEFAULT_REVISION


__all__ = [
    "COMMIT_PATTERN",
    "COMMIT_RE",
    "DEFAULT_REVISION",
    "ENTRY_NAME_PATTERN",
    "METRIC_NAME_PATTERN",
    "NAME_PATTERN",
    "OWNED_REPO_ID_PATTERN",
    "REF_RE",
    "REPO_ID_RE",
    "SHA_PREFIX_RE",
    "check_name",
    "check_repo_id",
    "check_revision",
    "parse_spec",
    "valid_entry_name",
    "valid_repo_id",
    "valid_revision",
]
