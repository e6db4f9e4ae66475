"""``zoo list``, ``zoo datasets``, ``zoo info`` and ``zoo plugins``: what is installed. Run by ``_run_registry``."""

from __future__ import annotations

import argparse


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("list", help="list the installed architectures")
    p.add_argument("pattern", nargs="?", default="*",
                   help="fnmatch pattern, e.g. 'dense-*', or a part of the name, e.g. 'conv' (default: all)")
    p.add_argument("--pretrained", action="store_true", help="list pretrained registry entries instead")

    commands.add_parser("datasets", help="list the registered datasets with their splits and sizes",
                        description="List every registered dataset: train and test sizes, image shape, "
                        "number of classes. User files and image folders are described in docs/data.md.")

    p = commands.add_parser("info", help="show an architecture's provider, config fields and pretrained tags, "
                            "and the training fields")
    p.add_argument("name", help="architecture name, e.g. dense-gan, or a pretrained entry, e.g. dense-gan.mnist5k")
    p.add_argument("--json", action="store_true", help="print everything as JSON")

    p = commands.add_parser("plugins", help="list plugins with their distribution, version and status")
    p.add_argument("--check", action="store_true", help="exit 1 if any plugin is broken (so does ZOO_STRICT_PLUGINS=1)")
