"""``zoo eval``: every metric that applies to a model, over seeds. Run by ``_run_eval``."""

from __future__ import annotations

import argparse

from zoo.cli._common import RUN_DATA_HELP, SOURCE_HELP


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "eval", help="score a model on a dataset's test split (mean ± std over seeds)",
        description="Evaluate SOURCE with every metric that applies to it: reconstruction, linear probe, denoising "
        "and ELBO for autoencoders; Fréchet distance, precision/recall, class coverage and confidence for "
        "generators, in the feature space of a digit classifier. When SOURCE is a run directory, the results "
        "are also written there (metrics.json, eval.json). docs/evaluation.md defines the metrics.",
        epilog="examples:\n  zoo eval runs/dense-vae\n  zoo eval dense-gan.mnist5k --seeds 5 --json\n"
        "  zoo eval runs/my-gan --classifier runs/digit-cnn\n"
        "  zoo eval runs/photo-denoiser --data photos --noise-std 0.098",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("--data", default=None, help=RUN_DATA_HELP)
    p.add_argument("--seeds", type=int, default=3, help="evaluate with seeds 0..N-1 (default 3)")
    p.add_argument("--num-samples", type=int, default=1000, help="samples drawn per seed for generators "
                   "(default 1000)")
    p.add_argument("--noise-std", type=float, default=0.3, help="std of the Gaussian noise a denoiser is tested "
                   "with, data in [0, 1] (default 0.3; photographs: 0.098, i.e. 25/255)")
    p.add_argument("--classifier", default=None, help="feature classifier for generators: a run directory or "
                   "source (default: the one the dataset names, digit-cnn.mnist5k for mnist-5k)")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
