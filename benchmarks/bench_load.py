"""`zoo.load(DIR)` of a saved dense-gan vs building the nn.Module by hand + load_file + load_state_dict.

Both in one warm process, alternating, median of N repeats.

    python benchmarks/bench_load.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from safetensors.torch import load_file

import zoo
from zoo_dense import DenseGAN, DenseGANConfig


def by_hand(directory: Path) -> None:
    model = DenseGAN(config=DenseGANConfig())
    model.load_state_dict(load_file(directory / "model.safetensors"))
    model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        zoo.save(zoo.create("dense-gan"), directory)
        zoo.load(directory), by_hand(directory)  # warm: registry built, files cached
        zoo_times, hand_times = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            by_hand(directory)
            hand_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            zoo.load(directory)
            zoo_times.append(time.perf_counter() - start)
    z, h = statistics.median(zoo_times), statistics.median(hand_times)
    print(f"zoo.load: {z * 1000:.2f} ms, by hand: {h * 1000:.2f} ms, ratio {z / h:.3f} (target <= 1.5)")


if __name__ == "__main__":
    main()
