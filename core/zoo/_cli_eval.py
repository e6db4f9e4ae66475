"""``zoo eval`` and ``zoo interpolate``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from zoo._cli import report
from zoo.errors import ConfigError, DataError

MAX_SEEDS = 100
MAX_STEPS = 100
MAX_SAMPLES = 100_000


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "eval", help="score a model on a dataset's test split (mean ± std over seeds)",
        description="Evaluate SOURCE with every metric that applies to it: reconstruction, linear probe, denoising "
        "and ELBO for autoencoders; Fréchet distance, precision/recall, class coverage and confidence for "
        "generators, in the feature space of a digit classifier. When SOURCE is a run directory, the results "
        "are also written there (metrics.json, eval.json). docs/evaluation.md defines the metrics.",
        epilog="examples:\n  zoo eval runs/dense-vae\n  zoo eval dense-gan.mnist5k --seeds 5 --json\n"
        "  zoo eval runs/my-gan --classifier runs/digit-cnn",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="run directory, NAME, NAME.TAG or hf-hub:org/repo[@rev]")
    p.add_argument("--data", default="mnist-5k", help="dataset name or file (default mnist-5k)")
    p.add_argument("--seeds", type=int, default=3, help="evaluate with seeds 0..N-1 (default 3)")
    p.add_argument("--num-samples", type=int, default=1000, help="samples drawn per seed for generators "
                   "(default 1000)")
    p.add_argument("--classifier", default=None, help="feature classifier for generators: a run directory or "
                   "source (default: the one the dataset names, digit-cnn.mnist5k for mnist-5k)")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    p.set_defaults(handler=_cmd_eval)

    p = commands.add_parser("interpolate", help="decode a straight line between the latents of two test images")
    p.add_argument("source", help="run directory, NAME, NAME.TAG or hf-hub:org/repo[@rev] of an autoencoder")
    p.add_argument("--out", required=True, help="PNG file to write, e.g. strip.png")
    p.add_argument("--steps", type=int, default=10, help="images in the strip, both ends included (default 10)")
    p.add_argument("--data", default="mnist-5k", help="dataset name or file (default mnist-5k)")
    p.add_argument("--pair", type=int, nargs=2, metavar=("I", "J"), default=None,
                   help="indices of the two test images (default: the first one and the first of another class)")
    p.set_defaults(handler=_cmd_interpolate)


def _cmd_eval(args: argparse.Namespace) -> int:
    import zoo
    from zoo.eval import write_metrics

    if not 1 <= args.seeds <= MAX_SEEDS:
        raise ConfigError(f"--seeds {args.seeds}: give between 1 and {MAX_SEEDS}")
    if not 1 <= args.num_samples <= MAX_SAMPLES:
        raise ConfigError(f"--num-samples {args.num_samples}: give between 1 and {MAX_SAMPLES:,}")
    result = zoo.evaluate(args.source, data=args.data, seeds=tuple(range(args.seeds)), num_samples=args.num_samples,
                          classifier=args.classifier)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    sys.stdout.flush()  # the results stay on screen even if writing them into the run directory fails
    written = write_metrics(result, args.source) if Path(args.source).is_dir() else None
    if written is not None and not args.quiet:
        print(f"wrote {written} and {written.with_name('eval.json')}", file=sys.stderr if args.json else sys.stdout)
    return 0


def format_table(result: dict[str, Any]) -> str:
    """The metrics of an evaluation result as an aligned text table, one metric per row."""
    seeds = result["seeds"]
    lines = [
        f"{result['architecture']} on {result['dataset']} ({result['split']} split), seeds {seeds}"
        + (f", classifier {result['classifier']}" if result.get("classifier") else ""),
        f"{'metric':16s} {'mean':>12s} {'std':>10s}  values",
    ]
    for name, summary in result["metrics"].items():
        values = ", ".join(f"{v:.4g}" for v in summary["values"])
        lines.append(f"{name:16s} {summary['mean']:12.5g} {summary['std']:10.3g}  {values}")
    if "psnr_gain" in result["metrics"]:
        lines.append("psnr, psnr_noisy, psnr_denoised, psnr_gain: mean over test images of each image's PSNR (dB); "
                     "psnr_*_split: PSNR of the mean squared error over the whole split")
    return "\n".join(lines)


def _cmd_interpolate(args: argparse.Namespace) -> int:
    import torch

    import zoo
    from zoo import _images
    from zoo._protocols import Decoder, Encoder
    from zoo.data import load_dataset

    if not 2 <= args.steps <= MAX_STEPS:
        raise ConfigError(f"--steps {args.steps}: give between 2 and {MAX_STEPS}")
    _images.check_output_path(args.out)
    model = zoo.load(args.source)
    if not (isinstance(model, Encoder) and isinstance(model, Decoder)):
        raise ConfigError(f"{args.source} ({getattr(model, 'architecture', '?')}) has no encode/decode; "
                          "interpolation needs an autoencoder")
    test = load_dataset(args.data, "test")
    first, second = args.pair if args.pair is not None else _default_pair(test.labels)
    for index in (first, second):
        if not 0 <= index < len(test):
            raise DataError(f"--pair index {index} is outside the {len(test)} test images of {args.data}")
    with torch.no_grad():
        latents = model.encode(test[[first, second]].images)  # (2, latent_dim)
        written = _images.interpolation_strip(model.decode, latents[0], latents[1], args.steps, args.out, scale=2)
    report(args, f"wrote {args.steps} images from test image {first} to {second} to {written}")
    return 0


def _default_pair(labels: Any) -> tuple[int, int]:
    if labels is not None:
        other = (labels != labels[0]).nonzero()
        if len(other):
            return 0, int(other[0, 0])
    return 0, 1
