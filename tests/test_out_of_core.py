"""Data larger than memory: a 2 GB uint8 .npy (2.7 million 28x28 images) trains with peak RSS under 1 GB."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.slow
@pytest.mark.dense  # benchmarks/bench_out_of_core.py measures dense-ae, the figure docs/benchmarks.md quotes
def test_two_gigabyte_npy_trains_in_under_one_gigabyte(tmp_path: Path) -> None:
    import bench_out_of_core as bench

    npy = tmp_path / "images.npy"
    try:
        bench.write_npy(npy)
        assert npy.stat().st_size > 2_000_000_000
        result = bench.measure(npy, steps=100, workers=0)
    finally:
        npy.unlink(missing_ok=True)  # pytest keeps recent tmp folders; not 2 GB of them
    assert result["steps"] == 100
    assert result["peak_rss_mb"] < 1024, result


def test_training_doc_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.chdir(tmp_path)
    text = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/training.md lost its example"
    for block in blocks:
        exec(compile(block, "docs/training.md", "exec"), {})
