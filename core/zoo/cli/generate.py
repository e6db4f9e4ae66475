"""``zoo sample``, ``zoo reconstruct``, ``zoo encode`` and ``zoo interpolate``: pictures and latents from a model.

Run by ``_run_generate``.
"""

from __future__ import annotations

import argparse

from zoo.cli._common import RUN_DATA_HELP, SOURCE_HELP


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("sample", help="draw samples from a generative model into a PNG grid")
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", default="samples.png", help="PNG file to write (default samples.png)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--label", type=int, default=None,
                   help="class to draw, for class-conditional models (e.g. dense-cgan); default: random classes")

    p = commands.add_parser(
        "reconstruct", help="originals above, an autoencoder's reconstructions below",
        description="Write an autoencoder's reconstructions of test images (a denoiser's: noisy input, output and\n"
        "clean target). --data may be an image file or folder: a model that takes any size (zoo.FlexibleSize,\n"
        "e.g. a fully convolutional denoiser) gets each photograph at its own size, shown at full resolution,\n"
        "one row per image.",
        epilog="examples:\n  zoo reconstruct runs/dense-dae\n  zoo reconstruct runs/conv-dae --data photo.jpg "
        "--out denoised.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("--data", default=None, help=RUN_DATA_HELP + "; or an image file")
    p.add_argument("--split", choices=["train", "test"], default="test")
    p.add_argument("-n", type=int, default=16, help="number of images (default 16)")
    p.add_argument("--out", default="reconstructions.png", help="PNG file to write")
    p.add_argument("--seed", type=int, default=0, help="seed of a denoiser's corruption (default 0)")

    p = commands.add_parser("encode", help="encode a dataset to latents (.npy) for downstream use")
    p.add_argument("source", help=SOURCE_HELP)
    p.add_argument("--data", default=None, help=RUN_DATA_HELP)
    p.add_argument("--split", choices=["train", "test"], default="test")
    p.add_argument("--out", default="latents.npy", help=".npy file to write, shape (N, latent_dim)")
    p.add_argument("--plot", metavar="PNG", help="also write a 2-D projection of the latents coloured by class")

    p = commands.add_parser("interpolate", help="decode a straight line between the latents of two test images")
    p.add_argument("source", help=f"{SOURCE_HELP} of an autoencoder")
    p.add_argument("--out", required=True, help="PNG file to write, e.g. strip.png")
    p.add_argument("--steps", type=int, default=10, help="images in the strip, both ends included (default 10)")
    p.add_argument("--data", default=None, help=RUN_DATA_HELP)
    p.add_argument("--pair", type=int, nargs=2, metavar=("I", "J"), default=None,
                   help="indices of the two test images (default: the first one and the first of another class)")
