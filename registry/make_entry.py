"""Make and update first-party registry entries (maintainers only).

    # a `zoo train` run directory -> registry/NAME/{entry.json, config.json, model.safetensors, *.png}
    python registry/make_entry.py new runs/registry/dense-ae.mnist5k dense-ae.mnist5k \\
        --command "zoo train dense-ae --data mnist-5k --epochs 5 --seed 0 --out runs/registry/dense-ae.mnist5k -q" \\
        --note "quickly trained placeholder; ..."

    # after `zoo publish NAME REPO_ID`: record where it is published
    python registry/make_entry.py record-hub dense-ae.mnist5k alice/dense-ae-mnist5k 0123abcd...

`new` checks that the run loads, copies its files, records their sha256 and writes entry.json (README.md here
describes the fields). `record-hub` rewrites only the entry's "hub" field.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from zoo._weights import ENTRY_FILE, HubLocation, WeightsEntry, make_entry
from zoo.errors import ZooError

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=HERE, help="registry folder (default: the one of this script)")
    commands = parser.add_subparsers(dest="command_name", required=True)
    new = commands.add_parser("new", help="make an entry from a run directory")
    new.add_argument("run_dir", type=Path, help="run directory written by `zoo train`")
    new.add_argument("name", help="entry name, architecture.tag (e.g. dense-gan.mnist5k)")
    new.add_argument("--command", required=True, help="the exact `zoo train ...` command that made the run")
    new.add_argument("--note", required=True, help="what the entry is good for, and its caveats")
    new.add_argument("--overwrite", action="store_true", help="replace an existing entry of that name")
    record = commands.add_parser("record-hub", help="record the Hub repository and commit an entry is published at")
    record.add_argument("name", help="entry name")
    record.add_argument("repo_id", help="Hub repository, e.g. alice/dense-gan-mnist5k")
    record.add_argument("revision", help="40-hex commit sha printed by `zoo publish`")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command_name == "new":
            entry = make_entry(args.run_dir, args.name, command=args.command, note=args.note, root=args.root,
                               overwrite=args.overwrite)
        else:
            directory = args.root / args.name
            current = WeightsEntry.from_directory(directory)
            hub = HubLocation(repo_id=args.repo_id, revision=args.revision)
            entry = current.model_copy(update={"hub": hub})
            (directory / ENTRY_FILE).write_text(entry.to_json(), encoding="utf-8")
    except (ZooError, ValueError) as exc:
        print(f"make_entry: error: {exc}", file=sys.stderr)
        return 2
    print(f"{entry.name}: {entry.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
