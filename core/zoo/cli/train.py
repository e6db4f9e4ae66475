"""``zoo train``'s options. Run by ``_run_train``; the training fields in its help come from ``_fields``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from zoo.cli._common import load


class _HelpWithRecipe(argparse.Action):
    """``-h``/``--help`` that, after ``zoo train NAME``, also shows NAME's recipe (the training defaults its
    spec recommends); the registry is built only then."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, nargs=0,
                         help="show this help message (after NAME: with NAME's recipe) and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        name = getattr(namespace, "name", None)
        if name:
            recipe = load("zoo.cli._run_train:recipe_help_of")(name)
            parser.epilog = f"{parser.epilog}\n\n{recipe}" if parser.epilog else recipe
        parser.print_help()
        parser.exit()


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "train", help="train an architecture (any installed plugin's) with the generic trainer", add_help=False,
        description="Train NAME and write a run directory that `zoo.load(DIR)` reads: config.json, "
        "model.safetensors, train_config.json, metrics.jsonl, picture grids, loss_curve.png and a "
        "checkpoint. Ctrl-C or SIGTERM saves a checkpoint; continue with --resume.",
        epilog="examples:\n  zoo train dense-gan --data mnist-5k --epochs 20\n"
        "  zoo train dense-ae --set latent_dim=32 --set optimizer.lr=3e-4\n"
        "  zoo train dense-gan --set optimizers.generator.lr=2e-4 --set loss=hinge\n"
        "  torchrun --nproc_per_node=2 -m zoo train dense-ae --steps 1000",
        epilog_from="zoo.cli._fields:train_epilog",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-h", "--help", action=_HelpWithRecipe)
    p.add_argument("name", nargs="?", help="architecture name (see `zoo list`); not needed with --out DIR --resume")
    p.add_argument("--data", default=None, help="dataset name (mnist-5k, digits, ...) or a .npy/.npz/.pt file or "
                   "image folder (default: mnist-5k)")
    duration = p.add_mutually_exclusive_group()
    duration.add_argument("--epochs", type=int, help="passes over the training split (default 10)")
    duration.add_argument("--steps", type=int, help="optimizer steps instead of epochs")
    p.add_argument("--batch-size", type=int, help="global batch size (default 64)")
    p.add_argument("--lr", type=float, help="learning rate of every network's optimizer (default 1e-3)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--init-from", metavar="SOURCE", help="fine-tune: start from these weights (a run directory, an "
                   "entry name.tag or hf-hub:org/repo of the same architecture and sizes) instead of random ones")
    p.add_argument("--out", help="run directory (default runs/NAME)")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out (only a folder "
                   "holding a zoo run is deleted)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint with its "
                   "recorded settings (architecture, model and training config, data) to its original length; "
                   "give --epochs/--steps as well to extend it")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="set a model or training config field (JSON values), e.g. latent_dim=32, "
                   "precision=bf16, optimizers.generator.lr=2e-4; repeatable")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or periodic log lines")
