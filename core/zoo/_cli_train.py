"""``zoo train``, ``zoo sample``, ``zoo reconstruct`` and ``zoo encode``."""

from __future__ import annotations

import argparse
import difflib
import json
import signal
import sys
from typing import Any

from zoo.errors import ConfigError


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "train", help="train an architecture (any installed plugin's) with the generic trainer",
        description="Train NAME and write a run directory that `zoo.load(DIR)` reads: config.json, "
        "model.safetensors, train_config.json, metrics.jsonl, picture grids, loss_curve.png and a "
        "checkpoint. Ctrl-C or SIGTERM saves a checkpoint; continue with --resume.",
        epilog="examples:\n  zoo train dense-gan --data mnist-5k --epochs 20\n"
        "  zoo train dense-ae --set latent_dim=32 --set optimizer.lr=3e-4\n"
        "  zoo train dense-gan --set optimizers.generator.lr=2e-4 --set loss=hinge\n"
        "  torchrun --nproc_per_node=2 -m zoo train dense-ae --steps 1000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="architecture name (see `zoo list`)")
    p.add_argument("--data", default=None, help="dataset name (mnist-5k, digits, ...) or a .npy/.npz/.pt file or "
                   "image folder (default: mnist-5k)")
    duration = p.add_mutually_exclusive_group()
    duration.add_argument("--epochs", type=int, help="passes over the training split (default 10)")
    duration.add_argument("--steps", type=int, help="optimizer steps instead of epochs")
    p.add_argument("--batch-size", type=int, help="global batch size (default 64)")
    p.add_argument("--lr", type=float, help="learning rate of every network's optimizer (default 1e-3)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--out", help="run directory (default runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="set a model or training config field (JSON values), e.g. latent_dim=32, "
                   "precision=bf16, optimizers.generator.lr=2e-4; repeatable")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or periodic log lines")
    p.set_defaults(handler=_cmd_train)

    p = commands.add_parser("sample", help="draw samples from a generative model into a PNG grid")
    p.add_argument("source", help="run directory, NAME, NAME.TAG or hf-hub:org/repo[@rev]")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", default="samples.png", help="PNG file to write (default samples.png)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(handler=_cmd_sample)

    p = commands.add_parser("reconstruct", help="originals above, an autoencoder's reconstructions below")
    p.add_argument("source", help="run directory, NAME, NAME.TAG or hf-hub:org/repo[@rev]")
    p.add_argument("--data", default="mnist-5k", help="dataset name or file (default mnist-5k)")
    p.add_argument("--split", choices=["train", "test"], default="test")
    p.add_argument("-n", type=int, default=16, help="number of images (default 16)")
    p.add_argument("--out", default="reconstructions.png", help="PNG file to write")
    p.set_defaults(handler=_cmd_reconstruct)

    p = commands.add_parser("encode", help="encode a dataset to latents (.npy) for downstream use")
    p.add_argument("source", help="run directory, NAME, NAME.TAG or hf-hub:org/repo[@rev]")
    p.add_argument("--data", default="mnist-5k", help="dataset name or file (default mnist-5k)")
    p.add_argument("--split", choices=["train", "test"], default="test")
    p.add_argument("--out", default="latents.npy", help=".npy file to write, shape (N, latent_dim)")
    p.add_argument("--plot", metavar="PNG", help="also write a 2-D projection of the latents coloured by class")
    p.set_defaults(handler=_cmd_encode)


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare string such as loss=hinge


def split_overrides(pairs: list[str], model_fields: set[str], train_fields: set[str]) -> tuple[dict[str, Any],
                                                                                                dict[str, Any]]:
    """Route ``key=value`` pairs to the model config or the training config."""
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set latent_dim=32")
        head, *rest = key.split(".")
        if head in model_fields and not rest:
            model[key] = parse_value(raw)
        elif head in train_fields:
            target = train
            for part in [head, *rest][:-1]:
                target = target.setdefault(part, {})
            target[[head, *rest][-1]] = parse_value(raw)
        else:
            close = difflib.get_close_matches(head, sorted(model_fields | train_fields), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"--set {key}: no such model or training field{hint} (`zoo info NAME` lists model fields; "
                "training fields: " + ", ".join(sorted(train_fields)) + ")"
            )
    return model, train


def _cmd_train(args: argparse.Namespace) -> int:
    from zoo._config import validate_config
    from zoo._registry import get_registry
    from zoo.train import TrainConfig, train

    spec = get_registry().model(args.name)
    model_overrides, train_values = split_overrides(args.overrides, set(spec.config.model_fields),
                                                    set(TrainConfig.model_fields))
    for field, value in (("data", args.data), ("epochs", args.epochs), ("steps", args.steps),
                         ("batch_size", args.batch_size), ("seed", args.seed)):
        if value is not None:
            train_values[field] = value
    if args.lr is not None:
        train_values.setdefault("optimizer", {})["lr"] = args.lr
    train_values["out"] = args.out or train_values.get("out") or f"runs/{args.name}"
    config = validate_config(TrainConfig, json.dumps(train_values), where="zoo train options")
    result = train(args.name, config, resume=args.resume, quiet=args.quiet, **model_overrides)
    if result.status == "interrupted":
        name = signal.Signals(result.signal).name if result.signal else "signal"
        print(f"zoo: {name} at step {result.step}: checkpoint saved in {result.out}; continue with "
              f"`zoo train {args.name} --out {result.out} --resume`", file=sys.stderr)
        return 128 + (result.signal or 2)
    print(f"trained {args.name} for {result.step} steps ({result.status}); run directory: {result.out}")
    return 0


def _load(source: str) -> Any:
    import zoo

    return zoo.load(source)


def _cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from zoo import _images
    from zoo._protocols import Generator

    model = _load(args.source)
    if not isinstance(model, Generator):
        raise ConfigError(f"{args.source} is a {getattr(model, 'architecture', '?')}, which cannot sample; "
                          "use `zoo reconstruct` for autoencoders")
    if not 1 <= args.n <= 10_000:
        raise ConfigError(f"-n {args.n}: give between 1 and 10000 samples")
    with torch.no_grad():
        images = model.sample(args.n, generator=torch.Generator().manual_seed(args.seed))
    _images.save_image_grid(images, args.out, scale=2)
    print(f"wrote {args.n} samples to {args.out}")
    return 0


def _encoder_and_data(args: argparse.Namespace) -> tuple[Any, Any]:
    from zoo._protocols import Encoder
    from zoo.data import load_dataset

    model = _load(args.source)
    if not isinstance(model, Encoder):
        raise ConfigError(f"{args.source} is a {getattr(model, 'architecture', '?')}, which has no encoder")
    return model, load_dataset(args.data, args.split)


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    import torch

    from zoo import _images

    model, data = _encoder_and_data(args)
    originals = data.spread(args.n).images
    with torch.no_grad():
        _images.reconstruction_grid(originals, model(originals), args.out)
    print(f"wrote {len(originals)} reconstructions to {args.out}")
    return 0


def _cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    model, data = _encoder_and_data(args)
    with torch.no_grad():
        latents = torch.cat([model.encode(chunk) for chunk in data.images.split(512)])
    np.save(args.out, latents.float().numpy())
    print(f"wrote latents {tuple(latents.shape)} to {args.out}")
    if args.plot:
        from zoo import _images

        _images.save_latent_plot(latents, data.labels, args.plot)
        print(f"wrote latent plot to {args.plot}")
    return 0
