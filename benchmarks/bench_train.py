"""Zoo trainer vs a hand-written PyTorch loop: same model, optimizer, in-memory data and step count.

Runs alternate in one process (A, B, A, B, ...) so machine noise hits both alike; prints samples/s of the
training steps (first steps excluded as warm-up) and the ratio zoo / plain. Peak memory is measured per run
in a fresh subprocess (ru_maxrss) so the two do not share an allocator high-water mark.

    python benchmarks/bench_train.py [--rounds 3] [--steps 400]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

import zoo
from zoo.data import load_dataset
from zoo.train import Callback, TrainConfig, train

WARMUP = 20
CASES = {"dense-ae": 256, "dense-gan": 64}


class StepClock(Callback):
    def __init__(self) -> None:
        self.start = self.end = 0.0

    def on_step_end(self, trainer, logs):  # type: ignore[no-untyped-def]
        if trainer.step == WARMUP:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


def zoo_run(name: str, batch: int, steps: int) -> float:
    clock = StepClock()
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(data="mnist-5k", steps=steps, batch_size=batch, out=out, checkpoint_every=0,
                             device="cpu")
        train(name, config, quiet=True, callbacks=[clock])
    return (steps - WARMUP) * batch / (clock.end - clock.start)


def plain_run(name: str, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    data = load_dataset("mnist-5k", "train").images
    model = zoo.create(name).train()
    if name == "dense-gan":
        opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
        opt_g = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
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
            loss_d = F.softplus(-model.discriminator(x)).mean() + F.softplus(model.discriminator(fake)).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_g = F.softplus(-model.discriminator(model.generator.sample(len(x)))).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            float(loss_d.detach()), float(loss_g.detach())  # a real loop logs its losses too
        else:
            loss = F.mse_loss(model(x), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            float(loss.detach())
        if step + 1 == WARMUP:
            start = time.perf_counter()
    return (steps - WARMUP) * batch / (time.perf_counter() - start)


def peak_rss_mb(kind: str, name: str, batch: int, steps: int) -> float:
    code = (
        "import resource, sys; sys.path.insert(0, 'benchmarks'); import bench_train as b; "
        f"b.{kind}_run({name!r}, {batch}, {steps}); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    results = {}
    for name, batch in CASES.items():
        zoo_rates, plain_rates = [], []
        for _ in range(args.rounds):
            plain_rates.append(plain_run(name, batch, args.steps))
            zoo_rates.append(zoo_run(name, batch, args.steps))
        z, p = statistics.median(zoo_rates), statistics.median(plain_rates)
        rss_zoo = peak_rss_mb("zoo", name, batch, args.steps)
        rss_plain = peak_rss_mb("plain", name, batch, args.steps)
        results[name] = {"batch": batch, "zoo_samples_per_s": round(z), "plain_samples_per_s": round(p),
                         "ratio": round(z / p, 3), "peak_rss_mb_zoo": round(rss_zoo), "peak_rss_mb_plain":
                         round(rss_plain), "rss_ratio": round(rss_zoo / rss_plain, 3)}
        print(f"{name:10s} batch {batch:4d}: zoo {z:9.0f} samples/s, plain {p:9.0f} samples/s, ratio {z / p:.3f}; "
              f"peak RSS zoo {rss_zoo:.0f} MB, plain {rss_plain:.0f} MB, ratio {rss_zoo / rss_plain:.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
