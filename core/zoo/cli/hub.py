"""``zoo push``, ``zoo pull`` and ``zoo publish``: the Hugging Face Hub from the command line. Run by ``_run_hub``.

The token comes from ``HF_TOKEN`` (or huggingface_hub's stored login) or from ``--token-file``; there is no
``--token`` option, because command lines end up in shell history and process listings. No token is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

_TOKEN_HELP = "read the Hub token from this file (default: HF_TOKEN or the stored `hf auth login` token)"


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "push", help="publish a run directory to the Hugging Face Hub in one commit",
        description="Upload config.json, model.safetensors, a README.md model card and the run's picture grids "
        "to REPO_ID (created if needed) in one commit; --branch creates the branch if it is new, --tag tags the "
        "commit. A push that changes nothing makes no commit and says so.",
        epilog="example:\n  HF_TOKEN=... zoo push runs/dense-gan alice/dense-gan-mnist --private --tag v1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("directory", help="run directory written by `zoo train` (or zoo.save)")
    p.add_argument("repo_id", help="Hub repository, e.g. alice/dense-gan-mnist")
    _add_push_options(p)

    p = commands.add_parser(
        "pull", help="download a zoo model from the Hub (config.json and model.safetensors only)",
        description="Fetch config.json and model.safetensors of REPO_ID at a branch, tag or commit through the "
        "Hugging Face cache (HF_HOME / HF_HUB_CACHE; HF_HUB_OFFLINE=1 uses the cache only).",
        epilog="example:\n  zoo pull alice/dense-gan-mnist@main --out models/gan && zoo sample models/gan",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", metavar="REPO_ID[@REV]", help="Hub repository and optional revision")
    p.add_argument("--out", help="copy the two files into this directory (default: leave them in the cache)")
    p.add_argument("--token-file", type=Path, help=_TOKEN_HELP)

    p = commands.add_parser(
        "publish", help="push a pretrained registry entry (see `zoo list --pretrained`) to the Hub",
        description="Verify the entry's files against their sha256, then upload them with a model card built "
        "from the entry (dataset, command, seed, metrics, note) in one commit. Record the printed commit in the "
        "entry's hub field.",
    )
    p.add_argument("entry", help="registry entry, e.g. dense-gan.mnist5k")
    p.add_argument("repo_id", help="Hub repository, e.g. alice/dense-gan-mnist5k")
    _add_push_options(p)


def _add_push_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--private", action="store_true", help="create the repository private (if it is new)")
    p.add_argument("--branch", help="commit to this branch, created from main if new (default: main)")
    p.add_argument("--tag", help="tag the pushed commit, e.g. v1 (load it with hf-hub:REPO_ID@v1)")
    p.add_argument("--message", help="commit message")
    p.add_argument("--license", default="apache-2.0", help="license in the model card (default apache-2.0)")
    p.add_argument("--token-file", type=Path, help=_TOKEN_HELP)
