"""Zoo trainer vs a hand-written PyTorch loop: same model, data, optimizer settings and step count.

The hand-written loop is what a careful user writes: ``Adam(fused=True)``, data as one in-memory tensor,
batches by index, and its losses read every 50 steps (not every step). Cases:

- ``dense-gan`` with the shipped recipe of ``dense-gan.mnist5k`` (registry/dense-gan.mnist5k/entry.json:
  batch-normalised generator, discriminator dropout, translation augmentation, EMA generator, Adam 2e-4 with
  betas (0.5, 0.999), batch 64);
- ``dense-ae`` reference config at batch 256.

Runs alternate in one process (plain, zoo, plain, zoo, ...) so that the noise of a shared machine hits both
alike. Steps per second are timed between step 50 and the last step (set-up and final pictures excluded); the
report gives the best run of each side and the median of the per-round ratios.

    python benchmarks/bench_train.py [--rounds 3] [--steps 400]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
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
}


class StepClock(Callback):
    """Times logged steps (every ``log_every``): from the first logged step at or after WARMUP to the last."""

    def __init__(self) -> None:
        self.start_step = 0
        self.start = self.end = 0.0
        self.end_step = 0

    def on_step_end(self, trainer, logs):  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        if not self.start_step and trainer.step >= WARMUP:
            self.start_step, self.start = trainer.step, now
        self.end_step, self.end = trainer.step, now


def zoo_run(name: str, steps: int) -> float:
    case = CASES[name]
    clock = StepClock()
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig.model_validate({
            "data": "mnist-5k", "steps": steps, "batch_size": case["batch"], "out": out, "checkpoint_every": 0,
            "device": "cpu", "log_every": READ_EVERY,
            "optimizer": {"lr": case["lr"], "betas": case["betas"]},
        })
        torch.manual_seed(0)
        train(name, config, quiet=True, callbacks=[clock], **case["model"])
    return (clock.end_step - clock.start_step) / (clock.end - clock.start)


def plain_run(name: str, steps: int) -> float:
    case = CASES[name]
    torch.manual_seed(0)
    data = load_dataset("mnist-5k", "train").images
    model = zoo.create(name, **case["model"]).train()
    batch = case["batch"]

    def adam(module: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(module.parameters(), lr=case["lr"], betas=case["betas"], fused=True)

    if name == "dense-gan":
        opt_d, opt_g = adam(model.discriminator), adam(model.generator)
        ema = list(model.generator_ema.parameters()) + list(model.generator_ema.buffers())
        live = list(model.generator.parameters()) + list(model.generator.buffers())
        pairs = [(e, p) for e, p in zip(ema, live, strict=True) if e.is_floating_point()]
        shift = GAN_RECIPE["augment_translation"]
    else:
        opt = adam(model)
    per_epoch = -(-len(data) // batch)
    start = 0.0
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(data))
        i = step % per_epoch
        x = data[order[i * batch:(i + 1) * batch]]
        if name == "dense-gan":
            with torch.no_grad():
                fake = model.generator.sample(len(x))
            loss_d = (F.softplus(-model.discriminator(translate_randomly(x, shift))).mean()
                      + F.softplus(model.discriminator(translate_randomly(fake, shift))).mean())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_g = F.softplus(-model.discriminator(translate_randomly(model.generator.sample(len(x)), shift))).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            with torch.no_grad():
                torch._foreach_lerp_([e for e, _ in pairs], [p for _, p in pairs], 1.0 - GAN_RECIPE["ema_decay"])
            if (step + 1) % READ_EVERY == 0:
                float(loss_d.detach()), float(loss_g.detach())  # a real loop logs its losses
        else:
            loss = F.mse_loss(model(x), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if (step + 1) % READ_EVERY == 0:
                float(loss.detach())
        if step + 1 == WARMUP:
            start = time.perf_counter()
    return (steps - WARMUP) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400, help="steps per run, a multiple of 50")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    device = f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    results: dict[str, Any] = {"device": device}
    for name in args.cases:
        zoo_rates, plain_rates = [], []
        for _ in range(args.rounds):
            plain_rates.append(plain_run(name, args.steps))
            zoo_rates.append(zoo_run(name, args.steps))
        # On a shared machine another process can halve one run; the best run of each side is the least disturbed,
        # and the median of the per-round ratios compares runs made seconds apart.
        z, p = max(zoo_rates), max(plain_rates)
        paired = statistics.median(a / b for a, b in zip(zoo_rates, plain_rates, strict=True))
        results[name] = {"batch": CASES[name]["batch"], "zoo_best_steps_per_s": round(z, 1),
                         "plain_fused_best_steps_per_s": round(p, 1), "ratio_best": round(z / p, 3),
                         "ratio_median_of_rounds": round(paired, 3),
                         "zoo_rounds": [round(r, 1) for r in zoo_rates],
                         "plain_rounds": [round(r, 1) for r in plain_rates]}
        print(f"{name:10s} batch {CASES[name]['batch']:4d}: best zoo {z:8.1f} steps/s, best plain fused loop "
              f"{p:8.1f} steps/s, ratio {z / p:.3f}; median of per-round ratios {paired:.3f}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
