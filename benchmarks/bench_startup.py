"""`zoo list` as a fresh process vs `python -c "import torch"`, alternating, median of N rounds.

    python benchmarks/bench_startup.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    zoo_cmd = [shutil.which("zoo") or "zoo", "list"]
    torch_cmd = [sys.executable, "-c", "import torch"]
    wall(zoo_cmd), wall(torch_cmd)  # warm the page cache for both
    zoo_times, torch_times = [], []
    for _ in range(args.rounds):
        torch_times.append(wall(torch_cmd))
        zoo_times.append(wall(zoo_cmd))
    z, t = statistics.median(zoo_times), statistics.median(torch_times)
    print(f"zoo list: {z * 1000:.0f} ms, import torch: {t * 1000:.0f} ms, ratio {z / t:.3f} (target <= 1.3)")


if __name__ == "__main__":
    main()
