"""Zoo trainer vs a hand-written PyTorch loop: same model, data, optimizer settings and step count.

The hand-written loop is what a careful user writes: ``Adam(fused=True)``, data as one in-memory tensor,
batches by index, and its losses read every 50 steps (not every step). Cases:

- ``dense-gan`` with the shipped recipe of ``dense-gan.mnist5k`` (registry/dense-gan.mnist5k/entry.json:
  batch-normalised generator, discriminator dropout, translation augmentation, EMA generator, Adam 2e-4 with
  betas (0.5, 0.999), batch 64);
- ``dense-ae`` reference config at batch 256;
- ``dcgan`` (the conv plugin) with its spec's recipe (``zoo.info("dcgan")["recipe"]``: Adam 2e-4, betas (0.5,
  0.999)) at the trainer's default batch 64: the zoo side is given no optimizer settings, so the recipe applies
  as it does for ``zoo train dcgan``; the loop reads the same recipe.

``--memory-format`` and ``--precision`` set both sides alike: the trainer's ``memory_format`` and ``precision``
fields, and in the loop ``model.to(memory_format=torch.channels_last)`` and ``torch.autocast("cpu", bfloat16)``
around the forward passes. Several values measure each combination in every round.

Runs alternate in one process (plain, zoo, plain, zoo, ...) so that the noise of a shared machine hits both
alike. Steps per second are timed between step 50 and the last step (set-up and final pictures excluded); the
report gives the best run of each side and the median of the per-round ratios.

    python benchmarks/bench_train.py [--rounds 3] [--steps 400] [--cases dcgan]
        [--memory-format contiguous channels_last] [--precision fp32 bf16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import zoo
from zoo.data import load_dataset
from zoo.train import Callback, TrainConfig, train
from zoo.train._objectives import translate_randomly

WARMUP = 50
READ_EVERY = 50
GAN_RECIPE: dict[str, Any] = {
    "generator_hidden": (256, 512, 1024), "discriminator_hidden": (1024, 512, 256), "generator_batchnorm": True,
    "discriminator_dropout": 0.3, "augment_translation": 0.125, "ema_decay": 0.999,
}
CASES: dict[str, dict[str, Any]] = {
    "dense-gan": {"batch": 64, "lr": 2e-4, "betas": (0.5, 0.999), "model": GAN_RECIPE},
    "dense-ae": {"batch": 256, "lr": 1e-3, "betas": (0.9, 0.999), "model": {}},
    "dcgan": {"batch": 64, "recipe": True, "model": {}},  # lr and betas: the spec's recipe
}
GANS = ("dense-gan", "dcgan")


def optimizer_settings(name: str) -> tuple[float, tuple[float, float]]:
    """The case's learning rate and betas; a recipe case reads them from the spec, as ``zoo train`` does."""
    case = CASES[name]
    if case.get("recipe"):
        optimizer = zoo.info(name)["recipe"]["optimizer"]
        return float(optimizer["lr"]), (float(optimizer["betas"][0]), float(optimizer["betas"][1]))
    return case["lr"], case["betas"]


def channels_last(memory_format: str) -> bool:
    return memory_format == "channels_last"


class StepClock(Callback):
    """Times logged steps (every ``log_every``): from the first logged step at or after WARMUP to the last."""

    def __init__(self) -> None:
        self.start_step = 0
        self.start = self.end = 0.0
        self.end_step = 0

    def on_log(self, trainer, step, metrics):  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        if not self.start_step and trainer.step >= WARMUP:
            self.start_step, self.start = trainer.step, now
        self.end_step, self.end = trainer.step, now


def zoo_run(name: str, steps: int, *, memory_format: str = "contiguous", precision: str = "fp32") -> float:
    case = CASES[name]
    clock = StepClock()
    with tempfile.TemporaryDirectory() as out:
        fields: dict[str, Any] = {
            "data": "mnist-5k", "steps": steps, "batch_size": case["batch"], "out": out, "checkpoint_every": 0,
            "device": "cpu", "log_every": READ_EVERY, "memory_format": memory_format, "precision": precision,
        }
        if not case.get("recipe"):
            fields["optimizer"] = {"lr": case["lr"], "betas": case["betas"]}
        config = TrainConfig.model_validate(fields)
        torch.manual_seed(0)
        train(name, config, quiet=True, callbacks=[clock], **case["model"])
    return (clock.end_step - clock.start_step) / (clock.end - clock.start)


def plain_run(name: str, steps: int, *, memory_format: str = "contiguous", precision: str = "fp32") -> float:
    case = CASES[name]
    torch.manual_seed(0)
    data = load_dataset("mnist-5k", "train").images
    model = zoo.create(name, **case["model"]).train()
    if channels_last(memory_format):
        model = model.to(memory_format=torch.channels_last)
    batch = case["batch"]
    lr, betas = optimizer_settings(name)

    def adam(module: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(module.parameters(), lr=lr, betas=betas, fused=True)

    def autocast() -> contextlib.AbstractContextManager[Any]:
        if precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    if name in GANS:
        # The zoo's Adversarial objective with the model's settings: non-saturating loss, one discriminator
        # update per step, translation augmentation and an EMA generator where the configuration has them.
        opt_d, opt_g = adam(model.discriminator), adam(model.generator)
        pairs = []
        if model.generator_ema is not None:
            ema = list(model.generator_ema.parameters()) + list(model.generator_ema.buffers())
            live = list(model.generator.parameters()) + list(model.generator.buffers())
            pairs = [(e, p) for e, p in zip(ema, live, strict=True) if e.is_floating_point()]
        config = model.config
        shift = getattr(config, "augment_translation", 0.0)
        decay = getattr(config, "ema_decay", 0.0)
        assert getattr(config, "loss", "non-saturating") == "non-saturating" and getattr(config, "d_steps", 1) == 1

        def augment(images: torch.Tensor) -> torch.Tensor:
            return translate_randomly(images, shift) if shift > 0 else images
    else:
        opt = adam(model)
    per_epoch = -(-len(data) // batch)
    start = 0.0
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(data))
        i = step % per_epoch
        x = data[order[i * batch:(i + 1) * batch]]
        if name in GANS:
            with autocast():
                with torch.no_grad():
                    fake = model.generator.sample(len(x))
                loss_d = (F.softplus(-model.discriminator(augment(x))).mean()
                          + F.softplus(model.discriminator(augment(fake))).mean())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with autocast():
                loss_g = F.softplus(-model.discriminator(augment(model.generator.sample(len(x))))).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if pairs:
                with torch.no_grad():
                    torch._foreach_lerp_([e for e, _ in pairs], [p for _, p in pairs], 1.0 - decay)
            if (step + 1) % READ_EVERY == 0:
                float(loss_d.detach()), float(loss_g.detach())  # a real loop logs its losses
        else:
            with autocast():
                loss = F.mse_loss(model(x), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if (step + 1) % READ_EVERY == 0:
                float(loss.detach())
        if step + 1 == WARMUP:
            start = time.perf_counter()
    return (steps - WARMUP) / (time.perf_counter() - start)


def cpu_name() -> str:
    """The CPU's model name as ``lscpu`` gives it (``/proc/cpuinfo``), else what ``platform`` knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400, help="steps per run, a multiple of 50")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--memory-format", nargs="+", default=["contiguous"], choices=["contiguous", "channels_last"],
                        help="layout of 4-D weights on both sides (the trainer's memory_format; default contiguous)")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"],
                        help="autocast on both sides")
    args = parser.parse_args()
    device = (f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
              f"torch {torch.__version__}")
    results: dict[str, Any] = {"device": device}
    combos = [(f, p) for f in args.memory_format for p in args.precision]
    for name in args.cases:
        zoo_rates: dict[tuple[str, str], list[float]] = {c: [] for c in combos}
        plain_rates: dict[tuple[str, str], list[float]] = {c: [] for c in combos}
        for _ in range(args.rounds):
            for combo in combos:  # every combination once per round, the loop then the zoo
                fmt, precision = combo
                plain_rates[combo].append(plain_run(name, args.steps, memory_format=fmt, precision=precision))
                zoo_rates[combo].append(zoo_run(name, args.steps, memory_format=fmt, precision=precision))
        for combo in combos:
            zs, ps = zoo_rates[combo], plain_rates[combo]
            # On a shared machine another process can halve one run; the best run of each side is the least
            # disturbed, and the median of the per-round ratios compares runs made seconds apart.
            z, p = max(zs), max(ps)
            paired = statistics.median(a / b for a, b in zip(zs, ps, strict=True))
            key = name if len(combos) == 1 else f"{name} {combo[0]} {combo[1]}"
            results[key] = {"batch": CASES[name]["batch"], "memory_format": combo[0], "precision": combo[1],
                            "zoo_best_steps_per_s": round(z, 2), "plain_fused_best_steps_per_s": round(p, 2),
                            "ratio_best": round(z / p, 3), "ratio_median_of_rounds": round(paired, 3),
                            "zoo_rounds": [round(r, 2) for r in zs], "plain_rounds": [round(r, 2) for r in ps]}
            print(f"{key:30s} batch {CASES[name]['batch']:4d}: best zoo {z:8.2f} steps/s, best plain fused loop "
                  f"{p:8.2f} steps/s, ratio {z / p:.3f}; median of per-round ratios {paired:.3f}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
