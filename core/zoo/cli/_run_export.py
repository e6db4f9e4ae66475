"""What ``zoo export`` does (its options: ``zoo.cli.export``): export, then one line per file written."""

from __future__ import annotations

import argparse

from zoo.cli._common import report
from zoo.errors import ConfigError
from zoo.export import MANIFEST_NAME, export_onnx

MIN_OPSET, MAX_OPSET = 9, 23


def export(args: argparse.Namespace) -> int:
    if not MIN_OPSET <= args.opset <= MAX_OPSET:
        raise ConfigError(f"--opset {args.opset}: give an ONNX opset between {MIN_OPSET} and {MAX_OPSET}")
    graphs = export_onnx(args.source, args.out, opset=args.opset, check=args.check, exporter=args.exporter)
    for graph in graphs:
        inputs = ", ".join(f"{t.name}{list(t.shape)}" for t in graph.inputs)
        outputs = ", ".join(f"{t.name}{list(t.shape)}" for t in graph.outputs)
        checked = "" if graph.max_abs_error is None else f"; max abs error vs PyTorch {graph.max_abs_error:.2g}"
        report(args, f"{args.out}/{graph.file}: {inputs} -> {outputs}{checked}")
    report(args, f"wrote {args.out}/{MANIFEST_NAME}")
    return 0
