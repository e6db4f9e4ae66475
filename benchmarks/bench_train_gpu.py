"""The GPU check of issue 9, as one prepared script: zoo trainer vs a hand-written whole-step CUDA-graph loop.

Cases (the same as ``bench_train.py``): the ``dense-gan.mnist5k`` recipe at batch 64, ``dense-ae`` at batch
256 and ``dcgan`` (issue 17) with its spec's recipe at batch 64, then bf16 against fp32 for each at batch 4,096,
then a short resume check (a run split in two continues from the same step and reaches the same weights as a
straight one, up to GPU non-determinism). The hand-written
loop is the reference of the issue's table: data on the device, capturable fused Adam, learning rates as
tensors, the whole step (both networks, EMA, augmentation, random numbers) captured in one CUDA graph and
replayed, losses summed on the device and read every 50 steps.

    python benchmarks/bench_train_gpu.py [--rounds 3] [--steps 1000] [--device cuda]

``--device cpu`` runs the same code without capture (for checking the script itself, not for figures).
Prints one JSON object; copy its figures into docs/benchmarks.md with the device it names.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import CASES, GANS, READ_EVERY, optimizer_settings

WARMUP = 100  # steps before timing: capture, allocator and clocks settle


class StepClock(Callback):
    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.start_step = self.end_step = 0
        self.start = self.end = 0.0

    def on_log(self, trainer, step, metrics):  # type: ignore[no-untyped-def]
        # on_log follows a host read of the losses, so the device has finished these steps.
        now = time.perf_counter()
        if not self.start_step and trainer.step >= WARMUP:
            self.start_step, self.start = trainer.step, now
        self.end_step, self.end = trainer.step, now


def zoo_run(name: str, steps: int, device: str, *, batch: int | None = None, precision: str = "fp32") -> float:
    case = CASES[name]
    clock = StepClock(torch.device(device))
    with tempfile.TemporaryDirectory() as out:
        fields: dict[str, Any] = {
            "data": "mnist-5k", "steps": steps, "batch_size": batch or case["batch"], "out": out,
            "checkpoint_every": 0, "device": device, "log_every": READ_EVERY, "precision": precision,
        }
        if not case.get("recipe"):  # a recipe case trains with its spec's recipe, as `zoo train` does
            fields["optimizer"] = {"lr": case["lr"], "betas": case["betas"]}
        config = TrainConfig.model_validate(fields)
        torch.manual_seed(0)
        train(name, config, quiet=True, callbacks=[clock], **case["model"])
    return (clock.end_step - clock.start_step) / (clock.end - clock.start)


def graph_run(name: str, steps: int, device: str) -> float:
    """The hand-written whole-step CUDA-graph loop (eager when ``device`` is a CPU)."""
    case = CASES[name]
    dev = torch.device(device)
    torch.manual_seed(0)
    data = load_dataset("mnist-5k", "train").images.to(dev)
    model = zoo.create(name, **case["model"]).to(dev).train()
    batch = case["batch"]
    capture = dev.type == "cuda"
    base_lr, betas = optimizer_settings(name)

    def adam(module: torch.nn.Module) -> torch.optim.Optimizer:
        lr = torch.tensor(base_lr, device=dev)
        return torch.optim.Adam(module.parameters(), lr=lr, betas=betas, fused=True, capturable=capture)

    static = torch.empty((batch, *data.shape[1:]), device=dev)
    sums = torch.zeros(2, device=dev)
    if name in GANS:
        # The zoo's Adversarial objective with the model's settings (non-saturating, one discriminator update),
        # translation augmentation and an EMA generator where the configuration has them.
        opt_d, opt_g = adam(model.discriminator), adam(model.generator)
        pairs = []
        if model.generator_ema is not None:
            ema = list(model.generator_ema.parameters()) + list(model.generator_ema.buffers())
            live = list(model.generator.parameters()) + list(model.generator.buffers())
            pairs = [(e, p) for e, p in zip(ema, live, strict=True) if e.is_floating_point()]
        shift = getattr(model.config, "augment_translation", 0.0)
        decay = getattr(model.config, "ema_decay", 0.0)

        def augment(images: torch.Tensor) -> torch.Tensor:
            return translate_randomly(images, shift) if shift > 0 else images

        def step() -> None:
            with torch.no_grad():
                fake = model.generator.sample(batch)
            loss_d = (F.softplus(-model.discriminator(augment(static))).mean()
                      + F.softplus(model.discriminator(augment(fake))).mean())
            opt_d.zero_grad(set_to_none=False)
            loss_d.backward()
            opt_d.step()
            loss_g = F.softplus(-model.discriminator(augment(model.generator.sample(batch)))).mean()
            opt_g.zero_grad(set_to_none=False)
            loss_g.backward()
            opt_g.step()
            with torch.no_grad():
                if pairs:
                    torch._foreach_lerp_([e for e, _ in pairs], [p for _, p in pairs], 1.0 - decay)
                sums[0] += loss_d.detach()
                sums[1] += loss_g.detach()
    else:
        opt = adam(model)

        def step() -> None:
            loss = F.mse_loss(model(static), static)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            with torch.no_grad():
                sums[0] += loss.detach()

    per_epoch = len(data) // batch  # static shapes: the partial last batch is dropped
    graph = None
    start = 0.0
    for i in range(steps):
        if i % per_epoch == 0:
            order = torch.randperm(len(data), device=dev)
        static.copy_(data[order[(i % per_epoch) * batch:(i % per_epoch + 1) * batch]])
        if graph is not None:
            graph.replay()
        elif capture and i == 3:  # three warm-up steps on a side stream, then capture once and replay
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                step()
            graph.replay()
        elif capture:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                step()
            torch.cuda.current_stream().wait_stream(side)
        else:
            step()
        if (i + 1) % READ_EVERY == 0:
            sums.tolist()  # the loop's one host read per 50 steps
            sums.zero_()
            if i + 1 == WARMUP:
                start = time.perf_counter()
    sums.tolist()
    return (steps - WARMUP) / (time.perf_counter() - start)


def resume_check(device: str) -> dict[str, Any]:
    """dense-ae: 200 steps straight vs 100 + 100 resumed, on ``device``."""
    from safetensors.torch import load_file

    with tempfile.TemporaryDirectory() as tmp:
        def cfg(name: str, steps: int) -> TrainConfig:
            return TrainConfig(data="mnist-5k", steps=steps, batch_size=256, out=f"{tmp}/{name}", device=device,
                               log_every=50)
        train("dense-ae", cfg("straight", 200), quiet=True)
        first = train("dense-ae", cfg("split", 100), quiet=True)
        second = train("dense-ae", cfg("split", 200), resume=True, quiet=True)
        a, b = load_file(f"{tmp}/straight/model.safetensors"), load_file(f"{tmp}/split/model.safetensors")
        diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
        return {"first_run_steps": first.step, "resumed_to": second.step, "max_weight_difference": diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1000, help="steps per run, a multiple of 50")
    parser.add_argument("--large-steps", type=int, default=300, help="steps of each batch-4096 run")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    results: dict[str, Any] = {"device": name, "torch": torch.__version__}
    for case in CASES:
        zoo_rates, graph_rates = [], []
        for _ in range(args.rounds):
            graph_rates.append(graph_run(case, args.steps, args.device))
            zoo_rates.append(zoo_run(case, args.steps, args.device))
        z, g = statistics.median(zoo_rates), statistics.median(graph_rates)
        results[case] = {"zoo_steps_per_s": round(z, 1), "graph_loop_steps_per_s": round(g, 1),
                         "ratio": round(z / g, 3)}
        print(f"{case}: zoo {z:.1f} steps/s, whole-step graph loop {g:.1f} steps/s, ratio {z / g:.3f}", flush=True)
    for case in CASES:
        rates = {p: zoo_run(case, args.large_steps, args.device, batch=4096, precision=p) for p in ("fp32", "bf16")}
        results[f"{case}@4096"] = {p: round(r, 1) for p, r in rates.items()} | {
            "bf16_speedup": round(rates["bf16"] / rates["fp32"], 3)}
        print(f"{case} batch 4096: fp32 {rates['fp32']:.1f}, bf16 {rates['bf16']:.1f} steps/s", flush=True)
    results["resume"] = resume_check(args.device)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
