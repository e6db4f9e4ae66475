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
import os
import shutil
import sys
from pathlib import Path

from zoo._entries import FileDigest, HubLocation, Metrics, WeightsEntry, read_metrics, sha256_file
from zoo._rundir import CONFIG_NAME, ENTRY_NAME, IMAGE_NAMES, WEIGHTS_NAME, RunDir, iter_metrics
from zoo._serialization import load_directory, read_config_document
from zoo.errors import ConfigError, ZooError

HERE = Path(__file__).parent
logger = logging.getLogger("make_entry")
# Without an evaluation, an entry's metrics are the mean training losses of this many last logged steps.
TRAIN_LOSS_WINDOW = 20


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
            (directory / ENTRY_NAME).write_text(entry.to_json(), encoding="utf-8")
    except (ZooError, ValueError) as exc:
        print(f"make_entry: error: {exc}", file=sys.stderr)
        return 2
    print(f"{entry.name}: {entry.summary}")
    return 0


def make_entry(run_dir: str | os.PathLike[str], name: str, *, command: str, note: str,
               root: str | os.PathLike[str], hub: HubLocation | None = None, overwrite: bool = False
               ) -> WeightsEntry:
    """Turn a ``zoo train`` run directory into the first-party entry ``root/name/`` and return it.

    Copies ``config.json``, ``model.safetensors`` and the picture grids, records their sha256, and reads the
    dataset and seed from ``train_config.json``. Metrics come from the run's ``metrics.json`` when an
    evaluation wrote one, else they are the mean training losses of the last 20 logged steps (split "train",
    names prefixed ``train_``).
    """
    run = Path(run_dir)
    document = read_config_document(run / CONFIG_NAME)
    load_directory(run)  # the run must load before it becomes an entry
    train_config = RunDir(run).read_train_config()
    seed, dataset = train_config.get("seed"), train_config.get("data")
    if not isinstance(seed, int) or not isinstance(dataset, str):
        raise ConfigError(f"{run / 'train_config.json'} must hold an integer 'seed' and a dataset name 'data'")
    prefix = f"zoo train {document['architecture']} "
    if not command.startswith(prefix):
        raise ConfigError(f"command {command!r} must be the `{prefix.strip()} ...` invocation that made {run}")
    target = Path(root) / name
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    files = [CONFIG_NAME, WEIGHTS_NAME, *(n for n in IMAGE_NAMES if (run / n).is_file())]
    entry = WeightsEntry.model_validate({
        "name": name,
        "architecture": document["architecture"],
        "config": document["config"],
        "files": {n: FileDigest(sha256=sha256_file(run / n), size=(run / n).stat().st_size) for n in files},
        "dataset": dataset,
        "split": "train",
        "command": command,
        "seed": seed,
        "metrics": _run_metrics(run, dataset),
        "hub": hub,
        "note": note,
    })
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for n in files:
        shutil.copyfile(run / n, target / n)
    (target / ENTRY_NAME).write_text(entry.to_json(), encoding="utf-8")
    logger.info("wrote registry entry %s to %s", name, target)
    return WeightsEntry.from_directory(target)


def _run_metrics(run: Path, dataset: str) -> Metrics | None:
    evaluated = read_metrics(run)
    if evaluated is not None:
        return evaluated
    records = list(iter_metrics(RunDir(run).metrics_log))
    if not records:
        return None
    tail = records[-TRAIN_LOSS_WINDOW:]
    keys = [k for k, v in tail[-1].items() if k not in ("step", "epoch") and isinstance(v, int | float)]
    means = {f"train_{k.replace('/', '_')}": sum(float(r[k]) for r in tail if k in r) / len(tail) for k in keys}
    return Metrics(dataset=dataset, split="train", metrics=means)


if __name__ == "__main__":
    sys.exit(main())
