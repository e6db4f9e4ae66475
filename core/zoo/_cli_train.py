"""``zoo train``, ``zoo sample``, ``zoo reconstruct`` and ``zoo encode``."""

from __future__ import annotations

import argparse
import difflib
import json
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from zoo._cli import report
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
    p.add_argument("name", nargs="?", help="architecture name (see `zoo list`); not needed with --out DIR --resume")
    p.add_argument("--data", default=None, help="dataset name (mnist-5k, digits, ...) or a .npy/.npz/.pt file or "
                   "image folder (default: mnist-5k)")
    duration = p.add_mutually_exclusive_group()
    duration.add_argument("--epochs", type=int, help="passes over the training split (default 10)")
    duration.add_argument("--steps", type=int, help="optimizer steps instead of epochs")
    p.add_argument("--batch-size", type=int, help="global batch size (default 64)")
    p.add_argument("--lr", type=float, help="learning rate of every network's optimizer (default 1e-3)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
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
    p.set_defaults(handler=_cmd_train)

    p = commands.add_parser("sample", help="draw samples from a generative model into a PNG grid")
    p.add_argument("source", help="run directory, NAME, NAME.TAG or hf-hub:org/repo[@rev]")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", default="samples.png", help="PNG file to write (default samples.png)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--label", type=int, default=None,
                   help="class to draw, for class-conditional models (e.g. dense-cgan); default: random classes")
    p.set_defaults(handler=_cmd_sample)

    p = commands.add_parser("reconstruct", help="originals above, an autoencoder's reconstructions below")
    p.add_argument("source", help="run directory, NAME, NAME.TAG or hf-hub:org/repo[@rev]")
    p.add_argument("--data", default="mnist-5k", help="dataset name or file (default mnist-5k)")
    p.add_argument("--split", choices=["train", "test"], default="test")
    p.add_argument("-n", type=int, default=16, help="number of images (default 16)")
    p.add_argument("--out", default="reconstructions.png", help="PNG file to write")
    p.add_argument("--seed", type=int, default=0, help="seed of a denoiser's corruption (default 0)")
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
    except (RecursionError, ValueError):  # nested too deeply, or an integer beyond Python's digit limit
        raise ConfigError(f"--set value {text[:40]!r}...: too deeply nested or too large to be a config value"
                          ) from None


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
                f"--set {key}: no such model or training field{hint} (`zoo info NAME` lists the model fields, "
                "`zoo train --help` the training fields with their ranges)"
            )
    return model, train


def _cmd_train(args: argparse.Namespace) -> int:
    from zoo._config import validate_config
    from zoo._registry import get_registry
    from zoo.train import TrainConfig, train

    if args.resume:
        name, model_overrides, train_values = _resumed_settings(args)
    elif args.name is None:
        raise ConfigError("zoo train: give the architecture to train (see `zoo list`), or `--out DIR --resume` to "
                          "continue a run")
    else:
        name, model_overrides, train_values = args.name, {}, {}
    spec = get_registry().model(name)
    set_model, set_train = split_overrides(args.overrides, set(spec.config.model_fields),
                                           set(TrainConfig.model_fields))
    model_overrides.update(set_model)
    _merge(train_values, set_train)
    for field, value in (("data", args.data), ("epochs", args.epochs), ("steps", args.steps),
                         ("batch_size", args.batch_size), ("seed", args.seed)):
        if value is not None:
            train_values[field] = value
    if args.epochs is not None or args.steps is not None:  # the duration given now replaces the recorded one
        train_values.pop("steps" if args.epochs is not None else "epochs", None)
    if args.lr is not None:
        train_values.setdefault("optimizer", {})["lr"] = args.lr
    train_values["out"] = args.out or train_values.get("out") or f"runs/{name}"
    _prepare_out(train_values["out"], resume=args.resume, overwrite=getattr(args, "overwrite", False))
    config = validate_config(TrainConfig, json.dumps(train_values), where="zoo train options")
    result = train(name, config, resume=args.resume, quiet=args.quiet, **model_overrides)
    if result.status == "interrupted":
        signal_name = signal.Signals(result.signal).name if result.signal else "signal"
        print(f"zoo: error: interrupted by {signal_name} at step {result.step}: checkpoint saved in {result.out}; "
              f"continue with `zoo train --out {shlex.quote(str(result.out))} --resume`", file=sys.stderr)
        return 128 + (result.signal or 2)
    report(args, f"trained {name} for {result.step} steps ({result.status}); run directory: {result.out}")
    return 0


def _prepare_out(out: str, *, resume: bool, overwrite: bool) -> None:
    """Refuse an --out that cannot be a run directory; with --overwrite, remove the run already there."""
    import shutil
    from pathlib import Path

    from zoo._rundir import TRAIN_CONFIG_NAME
    from zoo._text import shown

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {out}: it is a file, not a folder; give the run directory to create, e.g. "
                          "runs/my-run")
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume contradict each other: --resume continues the run in --out, "
                          "--overwrite replaces it; give one")
    if overwrite and path.is_dir() and any(path.iterdir()):
        if not (path / TRAIN_CONFIG_NAME).is_file():
            raise ConfigError(f"--overwrite: {out} is not a zoo run directory (it has no {TRAIN_CONFIG_NAME}); "
                              "zoo only deletes its own runs. Choose another --out or empty the folder yourself")
        shutil.rmtree(path)
    elif not resume and path.is_dir() and not (path / TRAIN_CONFIG_NAME).is_file():
        found = sorted(p.name for p in path.iterdir())
        if found:
            shown_names = ", ".join(shown(name, limit=60) for name in found[:5]) + (", ..." if len(found) > 5 else "")
            raise ConfigError(f"--out {out} already holds files that are not a zoo run ({shown_names}); a run would "
                              "write its files among them. Choose a new or empty folder")


def _resumed_settings(args: argparse.Namespace) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The architecture, model config and training config recorded in the run being resumed."""
    from zoo.train._resume import recorded_run

    out = args.out or (f"runs/{args.name}" if args.name else None)
    if out is None:
        raise ConfigError("--resume: give the run directory to continue with --out DIR")
    architecture, model_config, train_values = recorded_run(out)
    if args.name is not None and args.name != architecture:
        raise ConfigError(f"--resume: the run in {out} trains {architecture}, not {args.name}; leave the name out "
                          f"(`zoo train --out {shlex.quote(out)} --resume`) or choose another --out")
    return architecture, dict(model_config), dict(train_values)


def _merge(target: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _load(source: str) -> Any:
    import zoo

    return zoo.load(source)


def _cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from zoo import _images
    from zoo._protocols import Autoencoder, ConditionalGenerator, family_of, sampler_of
    from zoo._text import shown

    _check_count(args.n, "samples", 10_000)
    _check_seed(args.seed)
    _images.check_output_path(args.out)
    loaded = _load(args.source)
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
            raise ConfigError(f"--label: {args.source} is not class-conditional; leave --label out, or sample a "
                              "conditional model such as dense-cgan")
    written = _images.save_image_grid(images, args.out, scale=2)
    report(args, f"wrote {args.n} samples to {written}")
    return 0


def _encoder_and_data(args: argparse.Namespace) -> tuple[Any, Any]:
    from zoo._protocols import Encoder, data_shape_of
    from zoo.data import check_compatible, load_dataset

    model = _load(args.source)
    if not isinstance(model, Encoder):
        raise ConfigError(f"{args.source} ({getattr(model, 'architecture', '?')}) has no encoder; reconstruct and "
                          "encode take an autoencoder")
    data = load_dataset(args.data, args.split)
    shape = data_shape_of(model)
    if shape is not None:
        check_compatible(shape, getattr(data, "images", data), where=f"--data {args.data}")
    return model, data


def _check_count(n: int, what: str, most: int) -> None:
    if not 1 <= n <= most:
        raise ConfigError(f"-n {n}: give between 1 and {most:,} {what}")


def _check_seed(seed: int) -> None:
    if not 0 <= seed < 2**63:  # torch.Generator.manual_seed overflows beyond 64 bits
        raise ConfigError(f"--seed {seed}: give a seed from 0 to {2**63 - 1}")


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    import torch

    from zoo import _images
    from zoo._protocols import Denoiser

    _check_count(args.n, "images", 1_000)
    _check_seed(args.seed)
    _images.check_output_path(args.out)
    model, data = _encoder_and_data(args)
    originals = data.spread(args.n).images
    with torch.no_grad():
        if isinstance(model, Denoiser):  # show what it undoes: noisy input, its output, the clean target
            noisy = model.corrupt(originals, generator=torch.Generator().manual_seed(args.seed))
            denoised = model(noisy)  # type: ignore[operator]  # a Denoiser is also an Autoencoder
            written = _images.comparison_grid([noisy, denoised, originals], args.out, scale=2)
            report(args, f"wrote {len(originals)} denoised images to {written}: noisy inputs (top), outputs "
                   "(middle), clean targets (bottom)")
            return 0
        written = _images.reconstruction_grid(originals, model(originals), args.out, scale=2)
    report(args, f"wrote {len(originals)} reconstructions to {written}: originals (top), reconstructions (bottom)")
    return 0


def _cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from zoo import _images
    from zoo._files import atomic_destination

    out = _npy_path(args.out)
    if args.plot:
        _images.check_output_path(args.plot, plot=True)
    model, data = _encoder_and_data(args)
    with torch.no_grad():
        latents = torch.cat([model.encode(chunk) for chunk in data.images.split(512)])
    with atomic_destination(out) as temporary, open(temporary, "wb") as fh:
        np.save(fh, latents.float().numpy())  # a file object: np.save adds no suffix of its own
    report(args, f"wrote latents {tuple(latents.shape)} to {out}")
    if args.plot:
        written = _images.save_latent_plot(latents, data.labels, args.plot)
        report(args, f"wrote latent plot to {written}")
    return 0


def _npy_path(text: str) -> Path:
    """The .npy file ``--out`` names; without a suffix, ``.npy`` is added (as numpy does), and said."""
    from zoo._files import check_writable_target
    from zoo._images import check_output_path

    path = Path(text)
    check_writable_target(path)  # a folder or device is refused as named, before .npy is added
    if path.suffix == "":
        path = path.with_name(path.name + ".npy")
    if path.suffix.lower() != ".npy":
        raise ConfigError(f"--out {text}: latents are written as a .npy file; give a path ending in .npy")
    check_output_path(path, suffixes=(".npy",))
    return path


# -- the training fields, for `zoo train --help` and `zoo info` --------------------------------------------------


def training_fields_help() -> str:
    """Every TrainConfig field with its type, range and default: what ``--set KEY=VALUE`` accepts."""
    from zoo.train import TrainConfig

    lines = ["training fields (zoo train --set FIELD=VALUE; values are JSON, e.g. "
             "--set 'optimizer.betas=[0.5,0.999]'):"]
    lines += _field_lines(TrainConfig, "")
    lines.append("  optimizers.NETWORK.FIELD   the optimizer fields above for one network only (GANs: generator, "
                 "discriminator)")
    return "\n".join(lines)


def _field_lines(config_cls: Any, prefix: str) -> list[str]:
    import typing

    from pydantic import BaseModel

    lines = []
    for name, info in config_cls.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines += _field_lines(annotation, f"{prefix}{name}.")
            continue
        if typing.get_origin(annotation) is dict:
            continue  # optimizers: described after the list
        default = info.default
        shown_default = json.dumps(default.model_dump(mode="json") if isinstance(default, BaseModel) else default,
                                   default=str)
        lines.append(f"  {prefix + name:26s} {_describe_type(annotation, info.metadata)}; default {shown_default}")
    return lines


def _describe_type(annotation: Any, metadata: list[Any]) -> str:
    import types
    import typing

    origin, members = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(str(m) for m in members)
    optional = ""
    if origin in (typing.Union, types.UnionType) and type(None) in members:
        optional = " or null"
        annotation = next(m for m in members if m is not type(None))
    bounds = []
    for item in metadata:
        for attribute, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, attribute, None)
            if value is not None:
                bounds.append(f"{symbol} {value}")
    name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
    if typing.get_origin(annotation) is tuple:
        name = "[" + ", ".join(getattr(a, "__name__", str(a)) for a in typing.get_args(annotation)) + "]"
    return name + (f" ({', '.join(bounds)})" if bounds else "") + optional
