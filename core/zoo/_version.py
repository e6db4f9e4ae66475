"""``zoo.__version__``: the installed distribution's version, read from its metadata (as pluggy does).

One definition, in ``pyproject.toml``; a source tree that is not installed reports ``0+unknown``.
"""

from __future__ import annotations

import importlib.metadata

DISTRIBUTION = "genzoo"

try:
    __version__ = importlib.metadata.version(DISTRIBUTION)
except importlib.metadata.PackageNotFoundError:  # imported from a source tree that pip never installed
    __version__ = "0+unknown"

__all__ = ["DISTRIBUTION", "__version__"]
