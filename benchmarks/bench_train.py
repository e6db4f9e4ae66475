"""Zoo trainer vs a hand-written PyTorch loop: same model, data, optimizer settings and step count.

The hand-written loop is what a careful user writes: ``Adam(fused=True)``, data as one in-memory tensor,
batches by ``index_select`` (as the trainer gathers them), and its losses read every 50 steps (not every step).
Cases:

- ``dense-gan`` with the shipped recipe of ``dense-gan.mnist5k`` (registry/dense-gan.mnist5k/entry.json:
  batch-normalised generator, discriminator dropout, translation augmentation, EMA generator, Adam 2e-4 with
  betas (0.5, 0.999), batch 64);
- ``dense-ae`` reference config at batch 256;
- ``dcgan`` (the conv plugin) with its spec's recipe (``zoo.info("dcgan")["recipe"]``: Adam 2e-4, betas (0.5,
  0.999)) at the trainer's default batch 64: the zoo side is given no optimizer settings, so the recipe applies
  as it does for ``zoo train dcgan``; the loop reads the same recipe.

``--loop`` picks the hand-written GAN loops measured against the trainer: ``standard`` (the PyTorch DCGAN
example's: the generator's loss is backpropagated through a discriminator that still requires gradients, whose
weight gradients are computed and then discarded by the next ``zero_grad``) and ``frozen`` (the discriminator's
parameters set ``requires_grad_(False)`` while the generator's loss graph is built, as pix2pix/CycleGAN's
``set_requires_grad`` does and as the trainer does: the strongest hand-written baseline). Autoencoder cases have
one loop.

``--memory-format`` and ``--precision`` set both sides alike: the trainer's ``memory_format`` and ``precision``
fields, and in the loop ``model.to(memory_format=torch.channels_last)`` and ``torch.autocast("cpu", bfloat16)``
around the forward passes. Several values measure each combination in every round.

Runs alternate in one process so that the noise of a shared machine hits every side alike; the order of the
sides is reversed every other round (loop first, then zoo first), so a load that rises or falls during a round
favours neither. Steps are timed between step 50 and the last step (set-up and final pictures excluded), twice:
wall-clock steps per second, the figure a user sees, and steps per second of the process's CPU time
(``time.process_time``), which leaves out the time another process holds the core and so measures each side's
own work on a loaded machine (with one torch thread it is that thread's time; with several it sums them). The
report gives, for each, the best run of each side and the median of the per-round ratios.

    python benchmarks/bench_train.py [--rounds 3] [--steps 400] [--cases dcgan] [--loop standard frozen]
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
from collections.abc import Iterator
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
LOOPS = ("standard", "frozen")
Rates = tuple[float, float]  # (wall-clock steps/s, CPU-time steps/s)


def optimizer_settings(name: str) -> tuple[float, tuple[float, float]]:
    """The case's learning rate and betas; a recipe case reads them from the spec, as ``zoo train`` does."""
    case = CASES[name]
    if case.get("recipe"):
        optimizer = zoo.info(name)["recipe"]["optimizer"]
        return float(optimizer["lr"]), (float(optimizer["betas"][0]), float(optimizer["betas"][1]))
    return case["lr"], case["betas"]


def channels_last(memory_format: str) -> bool:
    return memory_format == "channels_last"


def clocks() -> Rates:
    """Now, by the wall clock and by this process's CPU time."""
    return time.perf_counter(), time.process_time()


def rates(steps: int, start: Rates, end: Rates) -> Rates:
    return steps / (end[0] - start[0]), steps / (end[1] - start[1])


class StepClock(Callback):
    """Times logged steps (every ``log_every``): from the first logged step at or after WARMUP to the last."""

    def __init__(self) -> None:
        self.start_step = 0
        self.start = self.end = (0.0, 0.0)
        self.end_step = 0

    def on_log(self, trainer: Any, step: int, metrics: dict[str, float]) -> None:
        now = clocks()
        if not self.start_step and trainer.step >= WARMUP:
            self.start_step, self.start = trainer.step, now
        self.end_step, self.end = trainer.step, now


def zoo_run(name: str, steps: int, *, memory_format: str = "contiguous", precision: str = "fp32") -> Rates:
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
    return rates(clock.end_step - clock.start_step, clock.start, clock.end)


def plain_run(name: str, steps: int, *, memory_format: str = "contiguous", precision: str = "fp32",
              loop: str = "standard") -> Rates:
    """The hand-written loop; ``loop="frozen"`` builds the generator's loss with the discriminator frozen."""
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

        critic = list(model.discriminator.parameters())

        def frozen_critic() -> contextlib.AbstractContextManager[Any]:
            return frozen(critic) if loop == "frozen" else contextlib.nullcontext()
    else:
        opt = adam(model)
    per_epoch = -(-len(data) // batch)
    start = (0.0, 0.0)
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(data))
        i = step % per_epoch
        x = data.index_select(0, order[i * batch:(i + 1) * batch])
        if name in GANS:
            with autocast():
                with torch.no_grad():
                    fake = model.generator.sample(len(x))
                loss_d = (F.softplus(-model.discriminator(augment(x))).mean()
                          + F.softplus(model.discriminator(augment(fake))).mean())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with autocast(), frozen_critic():
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
            start = clocks()
    return rates(steps - WARMUP, start, clocks())


@contextlib.contextmanager
def frozen(params: list[torch.nn.Parameter]) -> Iterator[None]:
    """``params`` without ``requires_grad`` while the block builds its graph (pix2pix's ``set_requires_grad``)."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


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
    parser.add_argument("--loop", nargs="+", default=["standard"], choices=list(LOOPS),
                        help="hand-written GAN loops to measure: standard, and/or frozen (discriminator frozen during "
                             "the generator's update, as the trainer does)")
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
        loops = list(args.loop) if name in GANS else ["standard"]
        zoo_rates: dict[tuple[str, str], list[Rates]] = {c: [] for c in combos}
        plain_rates: dict[tuple[str, str, str], list[Rates]] = {(*c, loop): [] for c in combos for loop in loops}
        for round_ in range(args.rounds):
            for combo in combos:  # every combination once per round; the order of the sides flips every round
                fmt, precision = combo
                sides: list[str] = ["zoo", *loops]
                for side in sides if round_ % 2 else sides[::-1]:
                    if side == "zoo":
                        zoo_rates[combo].append(zoo_run(name, args.steps, memory_format=fmt, precision=precision))
                    else:
                        plain_rates[(*combo, side)].append(
                            plain_run(name, args.steps, memory_format=fmt, precision=precision, loop=side))
        for combo in combos:
            zs = zoo_rates[combo]
            for loop in loops:
                ps = plain_rates[(*combo, loop)]
                key = name if len(combos) == 1 else f"{name} {combo[0]} {combo[1]}"
                key += f" vs {loop} loop" if len(loops) > 1 else ""
                entry: dict[str, Any] = {"batch": CASES[name]["batch"], "memory_format": combo[0],
                                         "precision": combo[1], "loop": loop}
                line = [f"{key:40s} batch {CASES[name]['batch']:4d}:"]
                for index, clock in enumerate(("wall", "cpu")):
                    z_all, p_all = [r[index] for r in zs], [r[index] for r in ps]
                    # On a shared machine another process can halve one run; the best run of each side is the
                    # least disturbed, and the median of the per-round ratios compares runs made seconds apart.
                    z, p = max(z_all), max(p_all)
                    paired = statistics.median(a / b for a, b in zip(z_all, p_all, strict=True))
                    suffix = "" if clock == "wall" else "_cpu"
                    entry.update({f"zoo_best_steps_per_s{suffix}": round(z, 2),
                                  f"plain_fused_best_steps_per_s{suffix}": round(p, 2),
                                  f"ratio_best{suffix}": round(z / p, 3),
                                  f"ratio_median_of_rounds{suffix}": round(paired, 3),
                                  f"zoo_rounds{suffix}": [round(r, 2) for r in z_all],
                                  f"plain_rounds{suffix}": [round(r, 2) for r in p_all]})
                    line.append(f"{clock}: best zoo {z:7.2f}, best loop {p:7.2f} steps/s, ratio {z / p:.3f}, "
                                f"median of per-round ratios {paired:.3f};")
                results[key] = entry
                print(" ".join(line), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
