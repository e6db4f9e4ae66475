"""What ``zoo train`` does (its options: ``train``): route ``--set`` pairs, resume's recorded settings, train."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shlex
import signal
import sys
from typing import Any

from zoo._config import validate_config
from zoo._registry import get_registry
from zoo._text import shown
from zoo.cli._common import report
from zoo.cli._fields import recipe_help
from zoo.errors import ConfigError
from zoo.train import TrainConfig, train
from zoo.train._run_records import cli_options, recorded_run


def run_train(args: argparse.Namespace) -> int:
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
                         ("batch_size", args.batch_size), ("seed", args.seed),
                         ("init_from", args.init_from)):
        if value is not None:
            train_values[field] = value
    if args.epochs is not None or args.steps is not None:  # the duration given now replaces the recorded one
        train_values.pop("steps" if args.epochs is not None else "epochs", None)
    if args.lr is not None:
        train_values.setdefault("optimizer", {})["lr"] = args.lr
    train_values["out"] = args.out or train_values.get("out") or f"runs/{name}"
    config = validate_config(TrainConfig, json.dumps(train_values), where="zoo train options")
    with cli_options():  # errors from the library name --resume, --out, --overwrite rather than Python arguments
        result = train(name, config, resume=args.resume, overwrite=args.overwrite, quiet=args.quiet,
                       **model_overrides)
    if result.status == "interrupted":
        signal_name = signal.Signals(result.signal).name if result.signal else "signal"
        print(f"zoo: error: interrupted by {signal_name} at step {result.step}: checkpoint saved in "
              f"{shown(str(result.out), limit=1000)}; continue with "
              f"`zoo train --out {shown(shlex.quote(str(result.out)), limit=1000)} --resume`", file=sys.stderr)
        return 128 + (result.signal or 2)
    if _is_main_process():  # under torchrun every rank returns here; one line is enough
        report(args, f"trained {name} for {result.step} steps ({result.status}); run directory: {result.out}")
    return 0


def recipe_help_of(name: str) -> str:
    """:func:`~zoo.cli._fields.recipe_help` for the architecture ``name`` (``zoo train NAME --help``).

    Here, not in ``_fields``: it builds the registry (every plugin, and torch with them), which the help of
    ``zoo train`` without a name must not pay for.
    """
    registry = get_registry()
    if name not in registry.models:
        return f"recipe: no architecture named {shown(name, limit=80)} is installed (see `zoo list`)"
    return recipe_help(registry.models[name].recipe)


def _is_main_process() -> bool:
    """False in every process but the first one under torchrun (which sets RANK)."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


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


def _resumed_settings(args: argparse.Namespace) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The architecture, model config and training config recorded in the run being resumed."""
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
