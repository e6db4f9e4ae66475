"""What ``zoo eval`` does (its options: ``eval``): evaluate, print a table or JSON, write into a run directory."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import zoo
from zoo._resolve import parse_source
from zoo.cli._common import data_of, say
from zoo.errors import ConfigError
from zoo.eval import write_metrics

MAX_SEEDS = 100
MAX_SAMPLES = 100_000


def evaluate(args: argparse.Namespace) -> int:
    if not 1 <= args.seeds <= MAX_SEEDS:
        raise ConfigError(f"--seeds {args.seeds}: give between 1 and {MAX_SEEDS}")
    if not 1 <= args.num_samples <= MAX_SAMPLES:
        raise ConfigError(f"--num-samples {args.num_samples}: give between 1 and {MAX_SAMPLES:,}")
    result = zoo.evaluate(args.source, data=data_of(args), seeds=tuple(range(args.seeds)),
                          num_samples=args.num_samples, classifier=args.classifier, noise_std=args.noise_std)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        say(format_table(result))
    sys.stdout.flush()  # the results stay on screen even if writing them into the run directory fails
    # Only into the folder that was scored: `zoo eval dense-ae` scores the registry model, even beside ./dense-ae.
    scored_a_folder = parse_source(args.source).kind == "directory" and Path(args.source).is_dir()
    written = write_metrics(result, args.source) if scored_a_folder else None
    if written is not None and not args.quiet:
        say(f"wrote {written} and {written.with_name('eval.json')}", file=sys.stderr if args.json else sys.stdout)
    return 0


def format_table(result: dict[str, Any]) -> str:
    """The metrics of an evaluation result as an aligned text table, one metric per row."""
    seeds = result["seeds"]
    width = max([16, *(len(name) for name in result["metrics"])])  # psnr_denoised_split is 19 characters
    lines = [
        f"{result['architecture']} on {result['dataset']} ({result['split']} split), seeds {seeds}"
        + (f", classifier {result['classifier']}" if result.get("classifier") else ""),
        f"{'metric':{width}s} {'mean':>12s} {'std':>10s}  values",
    ]
    for name, summary in result["metrics"].items():
        values = ", ".join(f"{v:.4g}" for v in summary["values"])
        lines.append(f"{name:{width}s} {summary['mean']:12.5g} {summary['std']:10.3g}  {values}")
    if "psnr_gain" in result["metrics"]:
        lines.append("psnr, psnr_noisy, psnr_denoised, psnr_gain: mean over test images of each image's PSNR (dB); "
                     "psnr_*_split: PSNR of the mean squared error over the whole split")
    lines.extend(f"note: {note}" for note in result.get("notes", []))
    return "\n".join(lines)
