"""What ``zoo sample``, ``zoo reconstruct``, ``zoo encode`` and ``zoo interpolate`` do (their options: ``generate``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

import zoo
from zoo import _images
from zoo._files import atomic_destination, check_writable_target
from zoo._text import shown
from zoo.cli._common import data_of, report
from zoo.data import check_compatible, load_dataset, load_images
from zoo.errors import ConfigError, DataError
from zoo.protocols import (
    Autoencoder,
    ConditionalGenerator,
    Decoder,
    Denoiser,
    Encoder,
    FlexibleSize,
    data_shape_of,
    family_of,
    sampler_of,
)

MAX_STEPS = 100
# Reconstructions of images up to this many pixels a side, all of one size, are drawn as a grid at twice their size;
# larger ones (photographs) or images of several sizes at full resolution, one row per image.
GRID_SIDE = 128


def sample(args: argparse.Namespace) -> int:
    _check_count(args.n, "samples", 10_000)
    _check_seed(args.seed)
    _images.check_output_path(args.out)
    loaded = zoo.load(args.source)
    model = sampler_of(loaded)  # the model, or a GAN's generator when only that samples
    if model is None:
        family = family_of(loaded)
        what = f"an {family}" if family and family[0] in "aeiou" else f"a {family or 'model'}"
        hint = "; use `zoo reconstruct` or `zoo encode` instead" if isinstance(loaded, Autoencoder) else ""
        raise ConfigError(f"{shown(args.source)} is {what}, which cannot sample (it implements no "
                          f"zoo.Generator){hint}")
    seeded = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        if args.label is None:
            images = model.sample(args.n, generator=seeded)
        elif isinstance(model, ConditionalGenerator):
            if not 0 <= args.label < model.num_classes:
                raise ConfigError(f"--label {args.label}: give a class from 0 to {model.num_classes - 1}")
            images = model.sample(args.n, generator=seeded, labels=args.label)
        else:
            raise ConfigError(f"--label: {shown(args.source)} is not class-conditional; leave --label out, or "
                              "sample a conditional model such as dense-cgan")
    written = _images.save_image_grid(images, args.out, scale=2)
    report(args, f"wrote {args.n} samples to {written}")
    return 0


def reconstruct(args: argparse.Namespace) -> int:
    _check_count(args.n, "images", 1_000)
    _check_seed(args.seed)
    _images.check_output_path(args.out)
    model, originals = _reconstruction_inputs(args)
    seeded = torch.Generator().manual_seed(args.seed)
    denoises = isinstance(model, Denoiser)
    what = "noisy inputs, outputs and clean targets" if denoises else "originals and reconstructions"
    with torch.no_grad():
        if len({tuple(image.shape) for image in originals}) == 1 and max(originals[0].shape[1:]) <= GRID_SIDE:
            batch = torch.stack(originals)  # (N, C, H, W): small images of one size, in a grid twice their size
            if denoises:  # show what it undoes: noisy input, its output, the clean target
                noisy = model.corrupt(batch, generator=seeded)
                written = _images.comparison_grid([noisy, model(noisy), batch], args.out, scale=2)
                where = "noisy inputs (top), outputs (middle), clean targets (bottom)"
            else:
                written = _images.reconstruction_grid(batch, model(batch), args.out, scale=2)
                where = "originals (top), reconstructions (bottom)"
        else:  # photographs: one at a time (their activations are large), at full resolution, one row each
            rows = []
            for image in originals:
                clean = image[None]  # (1, C, H, W)
                if denoises:
                    noisy = model.corrupt(clean, generator=seeded)
                    rows.append([noisy[0], model(noisy)[0], image])
                else:
                    rows.append([image, model(clean)[0]])
            written = _images.side_by_side(rows, args.out)
            where = "one row per image at full resolution: " + (
                "noisy input, output, clean target" if denoises else "original, reconstruction")
    report(args, f"wrote {what} of {len(originals)} image(s) to {written}: {where}")
    return 0


def _reconstruction_inputs(args: argparse.Namespace) -> tuple[Any, list[torch.Tensor]]:
    """The autoencoder ``args.source`` names and up to ``args.n`` images ``(C, H, W)`` of the data to reconstruct.

    A model that takes other sizes (``zoo.FlexibleSize``) gets each image of a folder or image file at its own size
    (none resized), checked against the sizes it takes; any other model, the data checked to have its shape.
    """
    model = _encoder(args)
    data_name = data_of(args)
    if not isinstance(model, FlexibleSize):
        data = _checked_data(model, data_name, args.split)
        return model, list(data.spread(args.n).images)
    shape = data_shape_of(model)
    # Gray photographs become RGB (three equal channels, nothing lost) for a colour model; never the reverse.
    images = load_images(data_name, args.split, count=args.n, channels=3 if shape and shape[0] == 3 else None)
    if shape is not None:
        for image in images:
            check_compatible(shape, image[None], where=f"--data {shown(data_name)}", model=model)
    return model, images


def encode(args: argparse.Namespace) -> int:
    out = _npy_path(args.out)
    if args.plot:
        _images.check_output_path(args.plot, plot=True)
    model, data, _ = _encoder_and_data(args, args.split)
    with torch.no_grad():
        latents = torch.cat([model.encode(chunk) for chunk in data.images.split(512)])
    with atomic_destination(out) as temporary, open(temporary, "wb") as fh:
        np.save(fh, latents.float().numpy())  # a file object: np.save adds no suffix of its own
    report(args, f"wrote latents {tuple(latents.shape)} to {out}")
    if args.plot:
        written = _images.save_latent_plot(latents, data.labels, args.plot)
        report(args, f"wrote latent plot to {written}")
    return 0


def interpolate(args: argparse.Namespace) -> int:
    if not 2 <= args.steps <= MAX_STEPS:
        raise ConfigError(f"--steps {args.steps}: give between 2 and {MAX_STEPS}")
    _images.check_output_path(args.out)
    model, test, data_name = _encoder_and_data(args, "test", decoder=True)
    first, second = args.pair if args.pair is not None else _default_pair(test.labels)
    for index in (first, second):
        if not 0 <= index < len(test):
            raise DataError(f"--pair index {index} is outside the {len(test)} test images of {shown(data_name)}")
    with torch.no_grad():
        latents = model.encode(test[[first, second]].images)  # (2, latent_dim)
        written = _images.interpolation_strip(model.decode, latents[0], latents[1], args.steps, args.out, scale=2)
    report(args, f"wrote {args.steps} images from test image {first} to {second} to {written}")
    return 0


def _encoder_and_data(args: argparse.Namespace, split: Literal["train", "test"], *,
                      decoder: bool = False) -> tuple[Any, Any, str]:
    """The model ``args.source`` names, which must encode (and decode with ``decoder``), the ``split`` of the data
    (``--data``, else the data a run directory was trained on) checked to have the shape the model takes, and
    the data's name."""
    model = _encoder(args, decoder=decoder)
    data_name = data_of(args)
    return model, _checked_data(model, data_name, split), data_name


def _encoder(args: argparse.Namespace, *, decoder: bool = False) -> Any:
    """The model ``args.source`` names; it must encode, and also decode with ``decoder``."""
    model = zoo.load(args.source)
    if decoder and not (isinstance(model, Encoder) and isinstance(model, Decoder)):
        raise ConfigError(f"{shown(args.source)} ({shown(getattr(model, 'architecture', '?'))}) has no "
                          "encode/decode; interpolation needs an autoencoder")
    if not isinstance(model, Encoder):
        raise ConfigError(f"{shown(args.source)} ({shown(getattr(model, 'architecture', '?'))}) has no encoder; "
                          "reconstruct and encode take an autoencoder")
    return model


def _checked_data(model: Any, data_name: str, split: Literal["train", "test"]) -> Any:
    """The ``split`` of ``data_name``, checked to have the shape ``model`` takes (its ``data_shape``)."""
    data = load_dataset(data_name, split)
    shape = data_shape_of(model)
    if shape is not None:
        check_compatible(shape, getattr(data, "images", data), where=f"--data {shown(data_name)}")
    return data


def _default_pair(labels: Any) -> tuple[int, int]:
    if labels is not None:
        other = (labels != labels[0]).nonzero()
        if len(other):
            return 0, int(other[0, 0])
    return 0, 1


def _check_count(n: int, what: str, most: int) -> None:
    if not 1 <= n <= most:
        raise ConfigError(f"-n {n}: give between 1 and {most:,} {what}")


def _check_seed(seed: int) -> None:
    if not 0 <= seed < 2**63:  # torch.Generator.manual_seed overflows beyond 64 bits
        raise ConfigError(f"--seed {seed}: give a seed from 0 to {2**63 - 1}")


def _npy_path(text: str) -> Path:
    """The .npy file ``--out`` names; without a suffix, ``.npy`` is added (as numpy does), and said."""
    path = Path(text)
    check_writable_target(path)  # a folder or device is refused as named, before .npy is added
    if path.suffix == "":
        path = path.with_name(path.name + ".npy")
    if path.suffix.lower() != ".npy":
        raise ConfigError(f"--out {text}: latents are written as a .npy file; give a path ending in .npy")
    _images.check_output_path(path, suffixes=(".npy",))
    return path
