"""What ``zoo list``, ``zoo datasets``, ``zoo info`` and ``zoo plugins`` do (their options: ``registry``)."""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging

import zoo
from zoo._registry import build_registry, get_registry, strict_plugins
from zoo._text import shown
from zoo.cli._common import say
from zoo.cli._fields import recipe_help, training_fields_help
from zoo.data import StreamedData, load_dataset
from zoo.errors import ZooError


def list_models(args: argparse.Namespace) -> int:
    registry = get_registry()
    # A pattern without wildcards matches anywhere in the name (`zoo list conv`), as a search would.
    pattern = args.pattern if any(c in args.pattern for c in "*?[") else f"*{args.pattern}*"
    names = sorted(registry.weights if args.pretrained else registry.models)
    matched = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
    for name in matched:
        if args.pretrained:
            say(f"{name:28s} {registry.weights[name].summary}")
        else:
            spec = registry.models[name]
            say(f"{name:20s} {spec.kind or '':24s} {spec.description}")
    if names and not matched:
        what = "pretrained entry" if args.pretrained else "architecture"
        logging.getLogger("zoo.cli").warning("no %s matches %r (`zoo list%s` shows them all)", what, args.pattern,
                                             " --pretrained" if args.pretrained else "")
    return 0


def datasets(args: argparse.Namespace) -> int:
    registry = get_registry()
    print(f"{'dataset':14s} {'train':>7s} {'test':>7s}  {'image (C,H,W)':14s} {'classes':8s} description")
    for name in sorted(registry.datasets):
        spec = registry.datasets[name]
        try:
            train, test = load_dataset(name, "train"), load_dataset(name, "test")
        except (ZooError, ImportError, OSError) as exc:
            say(f"{name:14s} {'?':>7s} {'?':>7s}  {'?':14s} {'?':8s} {spec.description} (cannot load: {exc})")
            continue
        full_shape = train.shape if isinstance(train, StreamedData) else tuple(train.images.shape)
        shape = "x".join(str(d) for d in full_shape[1:])
        labels = train.labels
        classes = str(len(set(labels.tolist()))) if labels is not None else "none"
        say(f"{name:14s} {len(train):7,d} {len(test):7,d}  {shape:14s} {classes:8s} {spec.description}")
    print("\nAny .npy/.npz/.pt file or folder of images works too: see docs/data.md for the accepted forms, "
          "labels and the test hold-out.")
    return 0


def info(args: argparse.Namespace) -> int:
    if "." in args.name:  # a pretrained entry, architecture.tag
        entry = get_registry().weights_entry(args.name)
        say(entry.to_json().removesuffix("\n"))  # pydantic's JSON leaves C1 controls and bidi overrides raw
        return 0
    details = zoo.info(args.name)
    if args.json:
        print(json.dumps(details, indent=2))
        return 0
    say(f"{details['name']} ({details['kind']}) from {details['distribution']} {details['version']}")
    if details["description"]:
        say(f"  {details['description']}")
    say(recipe_help(details.get("recipe") or {}))
    print("model config fields (zoo train --set FIELD=VALUE, or zoo.create(NAME, FIELD=VALUE)):")
    for field, schema in details["config_schema"].get("properties", {}).items():
        bounds = ", ".join(f"{k} {schema[k]}" for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum",
                                                        "enum") if k in schema)
        about = f" - {shown(schema['description'], limit=300)}" if isinstance(schema.get("description"), str) else ""
        say(f"  {field:22s} default {json.dumps(schema.get('default'))}" + (f" ({bounds})" if bounds else "") + about)
    say("pretrained: " + (", ".join(details["pretrained"]) or "none yet"))
    print()
    print(training_fields_help())
    return 0


def plugins(args: argparse.Namespace) -> int:
    # Every problem in the table, once: not the first one only (strict mode), nor each again as a warning.
    registry_logger = logging.getLogger("zoo._registry")
    level = registry_logger.level
    registry_logger.setLevel(logging.ERROR)
    try:
        rows = build_registry(strict=False).plugins
    finally:
        registry_logger.setLevel(level)
    print(f"{'plugin':18s} {'distribution':24s} {'version':10s} {'status':8s} error")
    for p in rows:
        say(f"{p.name:18s} {p.distribution:24s} {p.version:10s} {p.status:8s} {shown(p.error, limit=2000)}")
    broken = any(p.status == "broken" for p in rows)
    return 1 if broken and (args.check or strict_plugins()) else 0
