"""Showing text that came from files or servers: never trusted for display or advice.

``shown(text)`` escapes control characters (terminal escape sequences, newlines, NUL) and bounds the length;
``install_hint(provider)`` builds a ``pip install`` command only from a valid PEP 508 distribution name and a
valid PEP 440 version, so a hostile ``config.json`` cannot put pip options or shell syntax into zoo's advice.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from zoo.errors import ConfigError

# PEP 508 names: letters and digits, with '.', '_' and '-' inside (https://peps.python.org/pep-0508/#names).
DISTRIBUTION_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?")
MAX_SHOWN = 200


def escape_for_terminal(text: str) -> str:
    """``text`` with every character a terminal could act on escaped, as ``\\x1b``, ``\\n``, ``\\u202e``.

    Escapes what is not printable: C0/C1 controls (ESC starts colour, cursor, title and OSC 8 link sequences),
    line and paragraph separators, and format characters such as bidi overrides. The one escape helper for text
    that came from configs, folder names, files, servers or exceptions built from them, before it is shown.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def escape_lines(text: str) -> str:
    """:func:`escape_for_terminal` on each line of ``text``, keeping its line breaks (a traceback stays readable)."""
    return "\n".join(escape_for_terminal(line) for line in text.split("\n"))


class TerminalFormatter(logging.Formatter):
    """A logging formatter whose output is escaped line by line: log messages name folders, files and values
    from configs, and a terminal must never act on what they contain."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_lines(super().format(record))


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``value`` as one printable line: control characters escaped, at most ``limit`` characters."""
    out = escape_for_terminal(value if isinstance(value, str) else repr(value))
    return out if len(out) <= limit else out[: limit - 3] + "..."


def valid_distribution(name: object) -> bool:
    return isinstance(name, str) and DISTRIBUTION_RE.fullmatch(name) is not None


def valid_version(version: object) -> bool:
    if not isinstance(version, str) or len(version) > 64:
        return False
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # packaging comes with pip's and huggingface_hub's dependencies; be strict without it
        return re.fullmatch(r"[0-9]+(\.[0-9]+){0,3}", version) is not None
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def install_hint(provider: Any, architecture: str) -> str:
    """How to get ``architecture``: ``pip install NAME==VERSION`` when the recorded provider is valid, else prose."""
    provider = provider if isinstance(provider, dict) else {}
    name, version = provider.get("distribution"), provider.get("version")
    if valid_distribution(name):
        pin = f"=={version}" if valid_version(version) else ""
        return f"install it with `pip install {name}{pin}`"
    if name is None:
        return f"install the plugin that provides {shown(architecture)!r}"
    return (
        f"the config names the distribution {shown(name, 80)!r}, which is not a valid package name, so no "
        f"install command is suggested; find the plugin that provides {shown(architecture)!r}"
    )


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKeyError(key)
        document[key] = value
    return document


def parse_json(raw: bytes | str, *, where: str, fix: str) -> Any:
    """``json.loads`` that raises ConfigError for anything hostile: bad text, deep nesting, huge integers."""
    try:
        return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw, object_pairs_hook=_unique_keys)
    except _DuplicateKeyError as exc:  # JSON readers disagree on which of two values wins: trust neither
        raise ConfigError(f"{where} names the key {shown(exc.key)!r} twice; keep one; {fix}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start}); {fix}") from None
    except RecursionError:
        raise ConfigError(f"{where} is nested too deeply to be a zoo file; {fix}") from None
    except ValueError as exc:  # JSONDecodeError, and integers beyond Python's digit limit
        raise ConfigError(f"{where} is not valid JSON ({str(exc)[:200]}); {fix}") from None
