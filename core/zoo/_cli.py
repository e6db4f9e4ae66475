"""The ``zoo`` command line. Library code logs; only this module (and the _cli_* modules) prints."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from zoo.errors import ZooError

Handler = Callable[[argparse.Namespace], int]


def _cmd_list(args: argparse.Namespace) -> int:
    from zoo._registry import get_registry

    registry = get_registry()
    if args.pretrained:
        for name in sorted(registry.weights):
            entry = registry.weights[name]
            print(f"{name:28s} {getattr(entry, 'summary', '')}")
        return 0
    import fnmatch

    for name in sorted(registry.models):
        if fnmatch.fnmatchcase(name, args.pattern):
            spec = registry.models[name]
            print(f"{name:20s} {spec.kind:12s} {spec.description}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import zoo

    if "." in args.name:  # a pretrained entry, architecture.tag
        from zoo._registry import get_registry

        entry = get_registry().weights_entry(args.name)
        print(entry.to_json() if hasattr(entry, "to_json") else repr(entry), end="")
        return 0
    details = zoo.info(args.name)
    if args.json:
        print(json.dumps(details, indent=2))
        return 0
    print(f"{details['name']} ({details['kind']}) from {details['distribution']} {details['version']}")
    if details["description"]:
        print(f"  {details['description']}")
    print("config fields:")
    for field, schema in details["config_schema"].get("properties", {}).items():
        bounds = ", ".join(f"{k} {schema[k]}" for k in ("minimum", "maximum", "enum") if k in schema)
        print(f"  {field:22s} default {json.dumps(schema.get('default'))}" + (f" ({bounds})" if bounds else ""))
    print("pretrained: " + (", ".join(details["pretrained"]) or "none yet"))
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from zoo._registry import get_registry

    rows = get_registry().plugins
    print(f"{'plugin':18s} {'distribution':24s} {'version':10s} {'status':8s} error")
    for p in rows:
        print(f"{p.name:18s} {p.distribution:24s} {p.version:10s} {p.status:8s} {p.error}")
    return 1 if any(p.status == "broken" for p in rows) and args.check else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="A plugin-based model zoo for PyTorch autoencoders and GANs.",
        epilog="Run `zoo COMMAND --help` for the options of one command.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("list", help="list the installed architectures")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'dense-*' (default: all)")
    p.add_argument("--pretrained", action="store_true", help="list pretrained registry entries instead")
    p.set_defaults(handler=_cmd_list)

    p = commands.add_parser("info", help="show an architecture's provider, config fields and pretrained tags")
    p.add_argument("name", help="architecture name, e.g. dense-gan, or a pretrained entry, e.g. dense-gan.mnist5k")
    p.add_argument("--json", action="store_true", help="print everything as JSON")
    p.set_defaults(handler=_cmd_info)

    p = commands.add_parser("plugins", help="list plugins with their distribution, version and status")
    p.add_argument("--check", action="store_true", help="exit 1 if any plugin is broken")
    p.set_defaults(handler=_cmd_plugins)

    for register in _command_modules():
        register(commands)
    return parser


def _command_modules() -> list[Callable[[argparse._SubParsersAction], None]]:
    # Each module only builds its argparse parsers at import; heavy imports happen inside handlers.
    registrars = []
    for module_name in ("zoo._cli_train", "zoo._cli_hub", "zoo._cli_eval"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        registrars.append(module.register)
    return registrars


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except ZooError as exc:
        print(f"zoo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
