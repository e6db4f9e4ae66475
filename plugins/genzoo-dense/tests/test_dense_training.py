"""genzoo-dense's recipes through the zoo's trainer: the reference autoencoder's quality and the GAN recipe's
moving parts (several discriminator steps, hinge loss, batch norm, dropout, translation, moving average) under
exact resume. The trainer itself is tested on probe models in ``tests/test_trainer.py``, its static step (which
only zoo's private step selection can force on a CPU) on a probe GAN with the same moving parts.

Skipped when genzoo-dense is not installed or is blocked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import zoo
from zoo.train import TrainConfig, train

pytestmark = pytest.mark.dense  # the first-party models: skipped when genzoo-dense is missing or blocked

# The GAN recipe of the README with every option that changes what a training step does, at digits' 8x8 size.
GAN_RECIPE: dict[str, Any] = {"data_shape": (1, 8, 8), "generator_hidden": (32,), "discriminator_hidden": (32,),
                              "d_steps": 2, "loss": "hinge", "generator_batchnorm": True, "discriminator_dropout": 0.3,
                              "augment_translation": 0.125, "ema_decay": 0.9}


def _cfg(tmp_path: Path, name: str, **kw: Any) -> TrainConfig:
    values = {"data": "digits", "batch_size": 32, "out": str(tmp_path / name), "checkpoint_every": 10,
              "log_every": 5, "device": "cpu", "optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]}}
    values.update(kw)
    return TrainConfig.model_validate_json(json.dumps(values))


def _same_run(a: Path, b: Path) -> None:
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    assert (a / "metrics.jsonl").read_text() == (b / "metrics.jsonl").read_text()


def test_gan_recipe_resumes_bit_identically(tmp_path: Path) -> None:
    train("dense-gan", _cfg(tmp_path, "straight", steps=30), quiet=True, **GAN_RECIPE)
    assert train("dense-gan", _cfg(tmp_path, "split", steps=15), quiet=True, **GAN_RECIPE).step == 15
    resumed = train("dense-gan", _cfg(tmp_path, "split", steps=30), resume=True, quiet=True, **GAN_RECIPE)
    assert resumed.step == 30
    assert any(k.startswith("generator_ema.") for k in load_file(tmp_path / "split" / "model.safetensors"))
    _same_run(tmp_path / "straight", tmp_path / "split")


@pytest.mark.slow
def test_reference_recipe_lands_near_the_reference_mse(tmp_path: Path) -> None:
    """dense-ae, reference config, MSE, Adam 1e-3, batch 256, 10 epochs on mnist-5k: test MSE about 0.033."""
    result = train("dense-ae", TrainConfig(data="mnist-5k", epochs=10, batch_size=256, out=str(tmp_path / "ref")),
                   quiet=True)
    from zoo.data import load_dataset

    test = load_dataset("mnist-5k", "test").images
    with torch.no_grad():
        mse = torch.nn.functional.mse_loss(zoo.load(result.out)(test), test).item()
    assert 0.026 <= mse <= 0.040, mse
