"""Data larger than memory: a 2 GB uint8 .npy (2.7 million 28x28 images) trains with peak RSS under 1 GB."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.slow
def test_two_gigabyte_npy_trains_in_under_one_gigabyte(tmp_path: Path) -> None:
    import bench_out_of_core as bench

    npy = tmp_path / "images.npy"
    bench.write_npy(npy)
    assert npy.stat().st_size > 2_000_000_000
    result = bench.measure(npy, steps=100, workers=0)
    assert result["steps"] == 100
    assert result["peak_rss_mb"] < 1024, result
