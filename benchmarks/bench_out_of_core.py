"""Training on data larger than memory: a 2 GB uint8 ``.npy`` of 2.7 million 28x28 images, streamed from disk.

Writes the file (random pixels) into a temporary folder unless ``--npy`` names one, trains ``dense-ae`` on it in a
fresh process for ``--steps`` steps at batch 256, and reports that process's peak resident memory
(``resource.getrusage(...).ru_maxrss``; DataLoader workers, when asked for, are counted separately as children).
Held in memory as float32, the same images would take 8.4 GB.

    python benchmarks/bench_out_of_core.py [--steps 300] [--workers 0] [--npy /tmp/big.npy] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COUNT = 2_700_000
SIDE = 28
CHUNK = 100_000

CHILD = """
import json, resource, sys, time
from zoo.train import TrainConfig, train
npy, out, steps, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
config = TrainConfig(data=npy, steps=steps, batch_size=256, out=out, checkpoint_every=0, device="cpu",
                     data_workers=workers)
start = time.perf_counter()
result = train("dense-ae", config, quiet=True)
wall = time.perf_counter() - start
self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"steps": result.step, "wall_s": round(wall, 1), "peak_rss_mb": round(self_mb),
                  "peak_rss_worker_mb": round(children_mb)}))
"""


def write_npy(path: Path, count: int = COUNT, seed: int = 0) -> None:
    """A C-ordered uint8 (count, 28, 28) .npy written in chunks, so this process never holds it either."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (count, SIDE, SIDE)})
        for start in range(0, count, CHUNK):
            fh.write(rng.integers(0, 256, size=(min(CHUNK, count - start), SIDE, SIDE), dtype=np.uint8).tobytes())


def measure(npy: Path, *, steps: int, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        proc = subprocess.run([sys.executable, "-c", CHILD, str(npy), str(Path(out) / "run"), str(steps),
                               str(workers)], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--npy", type=Path, help="use this .npy instead of writing one")
    parser.add_argument("--keep", action="store_true", help="keep the written file")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="zoo-out-of-core-")
    npy = args.npy or Path(folder) / "images.npy"
    if args.npy is None:
        start = time.perf_counter()
        write_npy(npy)
        print(f"wrote {npy} ({npy.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - start:.0f} s", flush=True)
    try:
        result = measure(npy, steps=args.steps, workers=args.workers)
        result["file_gb"] = round(npy.stat().st_size / 1e9, 2)
        result["workers"] = args.workers
        print(json.dumps(result))
    finally:
        if args.npy is None and not args.keep:
            npy.unlink(missing_ok=True)
            os.rmdir(folder)


if __name__ == "__main__":
    main()
