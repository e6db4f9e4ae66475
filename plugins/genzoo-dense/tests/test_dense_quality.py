"""The pieces the pretrained-quality work added: the class-conditional GAN (``dense-cgan``, its objective,
``zoo sample --label`` and evaluation's label metrics), the full-covariance VAE sampler, translation of the clean
digits when training a denoiser, and the split-level PSNRs of the denoising evaluation.

Skipped when genzoo-dense is not installed or is blocked.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from torch import nn

import zoo
from zoo import Data
from zoo.cli import main
from zoo.protocols import ConditionalGenerator
from zoo.train import objective_for

pytestmark = pytest.mark.dense  # the first-party models: skipped when genzoo-dense is missing or blocked

SMALL_CGAN = {"data_shape": (1, 6, 5), "num_classes": 3, "latent_dim": 4, "generator_hidden": (16,),
              "discriminator_hidden": (16,)}


def _objective(name: str, model: nn.Module) -> Any:
    """The objective ``zoo train`` gives ``model``: the one genzoo-dense's spec for ``name`` names."""
    from zoo_dense.plugin import zoo_models

    spec = next(spec for spec in zoo_models() if spec.name == name)
    return objective_for(model, spec.objective)


def _cgan(**overrides: object) -> Any:
    torch.manual_seed(0)
    return zoo.create("dense-cgan", **{**SMALL_CGAN, **overrides}).eval()


# -- dense-cgan ---------------------------------------------------------------------------------------------------


def test_cgan_is_a_conditional_generator_whose_samples_follow_the_labels_asked_for() -> None:
    model = _cgan()
    assert isinstance(model, ConditionalGenerator) and model.num_classes == 3
    seed = 0
    labels = torch.tensor([0, 1, 2, 2])
    drawn = model.sample(4, labels=labels, generator=torch.Generator().manual_seed(seed))
    assert drawn.shape == (4, 1, 6, 5) and bool(((drawn >= 0) & (drawn <= 1)).all())
    assert not drawn.requires_grad and drawn.grad_fn is None
    # Same noise, other labels: other images; same noise and labels: the same images.
    again = model.sample(4, labels=labels, generator=torch.Generator().manual_seed(seed))
    other = model.sample(4, labels=torch.tensor([1, 2, 0, 0]), generator=torch.Generator().manual_seed(seed))
    assert torch.equal(drawn, again) and not torch.equal(drawn, other)
    # An int asks for one class throughout; the EMA generator draws them, by the live one's labels path.
    ones = model.sample(3, labels=1, generator=torch.Generator().manual_seed(seed))
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(seed))
    assert model.generator_ema is not None
    assert torch.allclose(ones, model.generator_ema(z, torch.ones(3, dtype=torch.long)))


@pytest.mark.parametrize(
    ("labels", "message"),
    [(torch.tensor([0, 3]), r"0\.\.2"), (torch.tensor([0.0, 1.0]), "integer tensor"), (torch.tensor([0]), r"\(2,\)"),
     (-1, r"0\.\.2")],
)
def test_cgan_refuses_labels_it_cannot_draw(labels: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _cgan().sample(2, labels=labels)


def test_cgan_objective_needs_labels_and_trains_the_class_head_on_real_images_only() -> None:
    from zoo.errors import TrainingError

    model = _cgan().train()
    objective = _objective("dense-cgan", model)
    images = torch.rand(4, 1, 6, 5, generator=torch.Generator().manual_seed(0))
    with pytest.raises(TrainingError, match="labelled data"):
        objective.loss(model, "discriminator", Data(images))
    labels = torch.tensor([0, 1, 2, 0])
    loss, logs = objective.loss(model, "discriminator", Data(images, labels))
    loss.backward()
    assert {"loss/discriminator", "classification/real"} <= set(logs)
    assert all(p.grad is None for p in model.generator.parameters())  # fakes are drawn without history here
    model.zero_grad()
    loss, logs = objective.loss(model, "generator", Data(images, labels))
    loss.backward()
    assert "classification/fake" in logs
    assert all(p.grad is not None for p in model.generator.parameters())
    without: Any = zoo.create("dense-cgan", **{**SMALL_CGAN, "classifier_weight": 0.0})
    assert without.discriminator.classify is None
    assert without.config.parameter_count() == sum(p.numel() for p in without.parameters())


def test_zoo_sample_label_draws_that_class_and_refuses_unconditional_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = zoo.save(_cgan(), tmp_path / "cgan")
    out = tmp_path / "twos.png"
    assert main(["sample", str(run), "--label", "2", "-n", "4", "--seed", "3", "--out", str(out)]) == 0
    assert "wrote 4 samples" in capsys.readouterr().out
    expected = zoo.load(run).sample(4, labels=2, generator=torch.Generator().manual_seed(3))
    assert Image.open(out).size[0] > 0 and expected.shape == (4, 1, 6, 5)
    assert main(["sample", str(run), "--label", "3", "--out", str(out)]) != 0  # 3 classes: 0..2
    assert "--label 3" in capsys.readouterr().err
    gan = zoo.save(zoo.create("dense-gan", data_shape=(1, 6, 5), latent_dim=4, generator_hidden=(8,),
                              discriminator_hidden=(8,)), tmp_path / "gan")
    assert main(["sample", str(gan), "--label", "1", "--out", str(out)]) != 0
    assert "not class-conditional" in capsys.readouterr().err


class _TestDigits(nn.Module):
    """A 'conditional generator' that returns real test digits of the class asked for (or of ``wrong`` + class)."""

    def __init__(self, test: Data, shift: int = 0) -> None:
        super().__init__()
        self.num_classes = 10
        self.images, self.labels, self.shift = test.images, test.labels, shift
        self.dummy = nn.Parameter(torch.zeros(1))

    def sample(self, n: int, *, generator: torch.Generator | None = None,
               labels: torch.Tensor | int | None = None) -> torch.Tensor:
        if labels is None:
            labels = torch.randint(0, 10, (n,), generator=generator)
        wanted = (torch.as_tensor(labels).expand(n) + self.shift) % 10
        picks = [int((self.labels == c).nonzero()[i % 50]) for i, c in enumerate(wanted.tolist())]
        return self.images[picks]


@pytest.mark.slow  # three evaluations on mnist-5k with the pretrained classifier: about 11 s
def test_evaluation_scores_how_often_the_classifier_reads_the_label_asked_for() -> None:
    from zoo.data import load_dataset

    test = load_dataset("mnist-5k", "test")
    right = zoo.evaluate(_TestDigits(test), seeds=(0,), num_samples=200)["metrics"]
    wrong = zoo.evaluate(_TestDigits(test, shift=1), seeds=(0,), num_samples=200)["metrics"]
    assert right["label_accuracy"]["mean"] > 0.9 and right["label_confidence"]["mean"] > 0.85
    assert wrong["label_accuracy"]["mean"] < 0.1 and wrong["label_confidence"]["mean"] < 0.1
    assert "label_accuracy" not in zoo.evaluate(zoo.create("dense-gan"), seeds=(0,), num_samples=50)["metrics"]
    assert right["label_accuracy_worst"]["mean"] >= 0.6 and wrong["label_accuracy_worst"]["mean"] < 0.1
    one_wrong = zoo.evaluate(_OneClassWrong(test), seeds=(0,), num_samples=200)["metrics"]
    assert one_wrong["label_accuracy"]["mean"] > 0.8 and one_wrong["label_accuracy_worst"]["mean"] < 0.1


class _OneClassWrong(_TestDigits):
    """Real test digits of the class asked for, except that a 3 is asked and a 4 comes."""

    def sample(self, n: int, *, generator: torch.Generator | None = None,
               labels: torch.Tensor | int | None = None) -> torch.Tensor:
        if labels is None:
            labels = torch.randint(0, 10, (n,), generator=generator)
        wanted = torch.as_tensor(labels).expand(n).clone()
        wanted[wanted == 3] = 4
        return super().sample(n, generator=generator, labels=wanted)


# -- dense-vae's full-covariance sampler --------------------------------------------------------------------------


def test_full_covariance_gmm_sampler_recovers_correlated_clusters_and_survives_save_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model: Any = zoo.create("dense-vae", data_shape=(1, 6, 5), encoder_hidden=(8,), latent_dim=2, decoder_hidden=(8,),
                       sampler="gmm-full", sampler_components=2).eval()
    covariance = torch.tensor([[1.0, 0.9], [0.9, 1.0]])
    centres = torch.tensor([[-8.0, 0.0], [8.0, 0.0]])
    noise = torch.randn(2000, 2, generator=torch.Generator().manual_seed(1)) @ torch.linalg.cholesky(covariance).T
    model.fit_sampler(centres.repeat_interleave(1000, dim=0) + noise)
    fitted = model.sampler_scale_tril @ model.sampler_scale_tril.transpose(1, 2)  # (2, 2, 2)
    assert torch.allclose(fitted, covariance.expand(2, 2, 2), atol=0.1)  # the correlation a diagonal one misses
    assert torch.allclose(model.sampler_means[model.sampler_means[:, 0].argsort()], centres, atol=0.1)
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    reloaded: Any = zoo.load(zoo.save(model, tmp_path))
    assert torch.equal(reloaded.sample(5, generator=torch.Generator().manual_seed(0)), samples)
    assert "sampler_scale_tril" not in zoo.create("dense-vae", sampler="gmm").state_dict()
    objective = _objective("dense-vae", model)
    assert objective.fit_sampler


# -- dense-dae: translated clean digits, and the split PSNRs -------------------------------------------------------


class _Recorder(nn.Module):
    """Returns its input and keeps it: what the reconstruction objective fed the model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x.detach().clone()
        return x


def test_reconstruction_translates_the_clean_images_it_corrupts_and_targets() -> None:
    from zoo.train import Reconstruction

    images = torch.zeros(64, 1, 28, 28)
    images[:, :, 14, 14] = 1.0  # one bright pixel in the middle
    recorder = _Recorder()
    loss, _ = Reconstruction(translate=2 / 28).loss(recorder, "model", Data(images))
    assert float(loss) == 0.0  # the target moved with the input: the objective shifts before corrupting
    positions = recorder.seen.flatten(1).argmax(dim=1)
    rows, cols = positions // 28, positions % 28
    assert int((rows - 14).abs().max()) <= 2 and int((cols - 14).abs().max()) <= 2
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) > 5  # moved, by different amounts
    model = zoo.create("dense-dae", augment_translation=2 / 28)
    assert _objective("dense-dae", model).translate == 2 / 28


def test_denoising_reports_per_image_and_split_psnr() -> None:
    torch.manual_seed(0)
    model = zoo.create("dense-dae", latent_dim=8, decoder_hidden=(16,))
    metrics = zoo.evaluate(model, seeds=(0, 1))["metrics"]
    for seed in range(2):
        noisy, denoised = metrics["psnr_noisy_split"]["values"][seed], metrics["psnr_denoised_split"]["values"][seed]
        assert metrics["psnr_gain_split"]["values"][seed] == pytest.approx(denoised - noisy)
        # The mean of per-image PSNRs is at least the PSNR of the mean MSE (log is concave).
        assert metrics["psnr_noisy"]["values"][seed] >= noisy
        assert metrics["psnr_denoised"]["values"][seed] >= denoised
    # Gaussian noise of std 0.3, clipped to [0, 1], leaves an MSE below 0.09 on digits.
    assert 10 * math.log10(1 / 0.09) < metrics["psnr_noisy_split"]["mean"] < 20


def test_sampler_temperature_scales_the_sampled_deviation() -> None:
    torch.manual_seed(0)
    model: Any = zoo.create("dense-vae", data_shape=(1, 6, 5), encoder_hidden=(8,), latent_dim=3,
                            decoder_hidden=(8,), sampler_temperature=0.5).eval()
    eps = torch.randn(4, 3, generator=torch.Generator().manual_seed(7))
    drawn = model.sample(4, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(drawn, model.decode(0.5 * eps))
    assert not torch.allclose(drawn, model.decode(eps))
    with pytest.raises(ValueError, match="sampler_temperature"):
        zoo.create("dense-vae", sampler_temperature=0.0)
