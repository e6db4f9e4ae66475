"""``zoo export``: write a model in a format other runtimes load (ONNX). Run by ``_run_export``."""

from __future__ import annotations

import argparse

from zoo.cli._common import SOURCE_HELP

FORMATS = ("onnx",)
EXPORTERS = ("auto", "torchscript", "dynamo")  # zoo.export.EXPORTERS
DEFAULT_OPSET = 18  # zoo.export.DEFAULT_OPSET, repeated here so that `zoo export --help` imports no torch


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "export", help="export a model to ONNX (checked against PyTorch in onnxruntime)",
        description="Export SOURCE as ONNX files into --out, one per graph that fits the model: encoder and "
        "decoder of an autoencoder (mean and log-variance for a VAE), the whole denoiser, a GAN's generator from "
        "latents (and labels) to images, a classifier's logits and features; batch size dynamic, height and width "
        "too for fully convolutional graphs. export.json describes each file's inputs and outputs. Each graph is "
        "run in onnxruntime and compared with PyTorch. Needs the onnx extra: pip install 'genzoo[onnx]'. "
        "See docs/export.md.",
        epilog="examples:\n  zoo export dense-gan.mnist5k --format onnx --out exported/gan\n"
        "  zoo export runs/my-vae --out exported/vae --opset 18",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("--format", choices=FORMATS, default="onnx", help="file format (default onnx)")
    p.add_argument("--out", required=True, help="folder to write the files and export.json into (new or empty, or "
                   "an earlier export)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset version (default {DEFAULT_OPSET})")
    p.add_argument("--no-check", dest="check", action="store_false", help="skip running each graph in "
                   "onnxruntime against PyTorch")
    p.add_argument("--exporter", choices=EXPORTERS, default="auto", help="PyTorch's exporter: torchscript (fast), "
                   "dynamo (torch.export-based) or auto: torchscript, and dynamo for a graph torchscript cannot "
                   "translate (default auto)")
