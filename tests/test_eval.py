"""Evaluation: the metric functions on known inputs, ``zoo.evaluate`` on tiny models, and ``zoo eval``.

Everything runs on scikit-learn's 8x8 ``digits`` with tiny untrained models and a tiny random classifier: the
numbers are meaningless, the structure, reproducibility and error handling are what is checked.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from torch import nn

import zoo
import zoo.data
import zoo.eval
from zoo._entries import read_metrics
from zoo.cli import main
from zoo.errors import ConfigError, DataError, LoadError, ZooError
from zoo.eval import class_entropy, frechet_distance, precision_recall, psnr

from _probe import AE, CLASSIFIER, DAE, GAN, VAE

DATA = "digits"
SHAPE = (1, 8, 8)
FAST: dict[str, Any] = {"data": DATA, "seeds": (0, 1), "num_samples": 64}
GENERATOR_METRICS = ["fd", "fd_floor", "fd_ratio", "precision", "recall", "class_entropy", "confidence"]

# The models are the test suite's probes (tests/_probe.py): evaluation is core behaviour and needs no plugin.
pytestmark = pytest.mark.usefixtures("probe_models")


def _tiny(name: str, **overrides: Any) -> nn.Module:
    torch.manual_seed(0)
    return zoo.create(name, data_shape=SHAPE, **overrides).eval()


@pytest.fixture(scope="module")
def classifier(probe_models: object) -> nn.Module:
    return _tiny(CLASSIFIER, hidden=(32,), latent_dim=16)


@pytest.fixture(scope="module")
def classifier_dir(classifier: nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return zoo.save(classifier, tmp_path_factory.mktemp("classifier"))


def _features(n: int, d: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# -- the metric functions ------------------------------------------------------------------------------------------


def test_public_names() -> None:
    assert zoo.eval.__all__ == sorted(zoo.eval.__all__)
    assert set(zoo.eval.__all__) == {
        "NOISE_STD", "class_entropy", "evaluate", "frechet_distance", "precision_recall", "psnr", "write_metrics",
    }
    assert "evaluate" in zoo.__all__ and zoo.__all__ == sorted(zoo.__all__)


def test_frechet_distance_of_identical_sets_is_zero_and_a_mean_shift_adds_its_square() -> None:
    a = _features(500)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # Shifting every one of 8 dimensions by 0.5 leaves the covariance alone and adds 8 * 0.25 to the distance.
    assert frechet_distance(a, a + 0.5) == pytest.approx(2.0, abs=1e-6)
    assert frechet_distance(a, _features(500, seed=1)) > 0.01


def test_precision_recall_identical_disjoint_and_collapsed_sets() -> None:
    a = _features(300)
    assert precision_recall(a, a, k=3) == (1.0, 1.0)
    assert precision_recall(a, a + 100.0, k=3) == (0.0, 0.0)
    # A set collapsed onto one real point lies inside the real manifold but covers almost none of it.
    collapsed = a[:1].repeat(300, 1)
    precision, recall = precision_recall(a, collapsed, k=3)
    assert precision == 1.0 and recall < 0.02


def test_class_entropy() -> None:
    assert class_entropy(torch.full((50,), 7), 10) == 0.0
    assert class_entropy(torch.arange(1000) % 10, 10) == pytest.approx(math.log(10))
    assert class_entropy(torch.tensor([0, 1]), 10) == pytest.approx(math.log(2))


def test_psnr_of_a_known_mse() -> None:
    reference = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    # A uniform error of 0.1 is an MSE of 0.01: 10 log10(1 / 0.01) = 20 dB, for every image.
    assert torch.allclose(psnr(reference + 0.1, reference), torch.full((3,), 20.0, dtype=torch.float64))
    assert torch.allclose(psnr(2 * reference + 0.2, 2 * reference, data_range=2.0),
                          torch.full((3,), 20.0, dtype=torch.float64))
    assert psnr(reference, reference).max() == pytest.approx(100.0)  # perfect: finite, by the MSE floor


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: frechet_distance(_features(1), _features(5)), "N >= 2"),
        (lambda: precision_recall(_features(10), _features(10, d=3)), "dimensions"),
        (lambda: precision_recall(_features(3), _features(10)), "N >= 4"),
        (lambda: precision_recall(_features(10), _features(10) * float("nan")), "NaN"),
        (lambda: psnr(torch.zeros(2, 1, 2, 2), torch.zeros(2, 1, 2, 3)), "same"),
    ],
)
def test_metric_functions_refuse_bad_input(call: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        call()


# -- zoo.evaluate -------------------------------------------------------------------------------------------------


def test_autoencoder_result_structure() -> None:
    result = zoo.evaluate(_tiny(AE, latent_dim=4, hidden=(16,)), **FAST)
    assert {k: v for k, v in result.items() if k != "metrics"} == {
        "architecture": AE, "dataset": DATA, "split": "test", "seeds": [0, 1], "num_samples": 64,
        "classifier": None, "notes": [],
    }
    assert list(result["metrics"]) == ["mse", "psnr", "probe_accuracy"]
    for summary in result["metrics"].values():
        assert set(summary) == {"mean", "std", "values"} and len(summary["values"]) == 2
        assert summary["std"] == 0.0  # none of these depends on the seed
    mse, mean_psnr = result["metrics"]["mse"]["mean"], result["metrics"]["psnr"]["mean"]
    assert 0 < mse < 1 and mean_psnr >= 10 * math.log10(1 / mse) - 1e-9  # mean of logs >= log of the mean (Jensen)
    assert 0.0 <= result["metrics"]["probe_accuracy"]["mean"] <= 1.0
    json.dumps(result)  # plain JSON types only


def test_denoising_and_variational_metrics_are_seeded(classifier: nn.Module) -> None:
    dae = zoo.evaluate(_tiny(DAE, latent_dim=4, hidden=(16,)), **FAST)["metrics"]
    assert {"psnr_noisy", "psnr_denoised", "psnr_gain"} <= set(dae)
    for seed in range(2):
        gain = dae["psnr_denoised"]["values"][seed] - dae["psnr_noisy"]["values"][seed]
        assert dae["psnr_gain"]["values"][seed] == pytest.approx(gain)
    assert dae["psnr_noisy"]["values"][0] != dae["psnr_noisy"]["values"][1]  # fresh noise per seed
    assert dae["noise_std"]["values"] == [0.3, 0.3]  # recorded beside the figures it conditions
    quieter = zoo.evaluate(_tiny(DAE, latent_dim=4, hidden=(16,)), noise_std=0.05, **FAST)["metrics"]
    assert quieter["noise_std"]["mean"] == 0.05
    assert quieter["psnr_noisy"]["mean"] > dae["psnr_noisy"]["mean"] + 10  # 0.3 -> 0.05: about 15 dB less noise
    for bad in (0.0, -0.1, 1.5, float("nan"), True):
        with pytest.raises(ConfigError, match="noise_std"):
            zoo.evaluate(_tiny(DAE, latent_dim=4, hidden=(16,)), noise_std=bad, **FAST)

    vae = _tiny(VAE, hidden=(16,), latent_dim=2)
    first, again = zoo.evaluate(vae, classifier=classifier, **FAST), zoo.evaluate(vae, classifier=classifier, **FAST)
    assert first == again  # reproducible
    metrics = first["metrics"]
    assert list(metrics)[:4] == ["mse", "psnr", "probe_accuracy", "elbo"] and set(GENERATOR_METRICS) <= set(metrics)
    # 64 pixels of an untrained decoder: about -64 ln 2 of likelihood, minus a small KL.
    assert -200 < metrics["elbo"]["mean"] < -20 and metrics["elbo"]["std"] > 0


def test_generator_metrics_with_a_given_classifier(classifier: nn.Module) -> None:
    gan = _tiny(GAN, latent_dim=4, hidden=(16,))
    result = zoo.evaluate(gan, classifier=classifier, **FAST)
    metrics = result["metrics"]
    assert list(metrics) == GENERATOR_METRICS
    assert result["classifier"] == CLASSIFIER
    assert metrics["fd_floor"]["std"] == 0.0 and metrics["fd_floor"]["mean"] > 0
    assert metrics["fd_ratio"]["values"][0] == pytest.approx(metrics["fd"]["values"][0] / metrics["fd_floor"]["mean"])
    assert metrics["fd"]["values"][0] != metrics["fd"]["values"][1]  # different samples per seed
    assert 0 <= metrics["class_entropy"]["mean"] <= math.log(10) + 1e-9
    assert 0.1 <= metrics["confidence"]["mean"] <= 1.0
    assert zoo.evaluate(gan, classifier=classifier, **{**FAST, "seeds": (1,)})["metrics"]["fd"]["values"] == [
        metrics["fd"]["values"][1]
    ]  # a seed gives the same result alone as among others


class ConstantGenerator(nn.Module):
    """Every sample is the same image."""

    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Parameter(torch.full((1, *SHAPE), 0.5))

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.image.expand(n, *SHAPE)


def test_a_constant_generator_covers_one_class(classifier: nn.Module) -> None:
    metrics = zoo.evaluate(ConstantGenerator(), classifier=classifier, **FAST)["metrics"]
    assert metrics["class_entropy"]["values"] == [0.0, 0.0]
    assert metrics["recall"]["mean"] < 0.05
    assert metrics["fd"]["mean"] > metrics["fd_floor"]["mean"]


class TestSplitGenerator(nn.Module):
    """"Samples" the real test images themselves, in order."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        super().__init__()
        self.images = zoo.data.load_dataset(DATA, "test").images

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.images[:n]


def test_real_test_images_score_the_floor(classifier: nn.Module) -> None:
    count = len(zoo.data.load_dataset(DATA, "test"))
    metrics = zoo.evaluate(TestSplitGenerator(), classifier=classifier, **{**FAST, "num_samples": count})["metrics"]
    assert metrics["fd"]["mean"] == pytest.approx(metrics["fd_floor"]["mean"], rel=1e-9)
    assert metrics["fd_ratio"]["mean"] == pytest.approx(1.0, rel=1e-9)


def test_a_classifier_is_scored_by_accuracy(classifier: nn.Module) -> None:
    metrics = zoo.evaluate(classifier, **FAST)["metrics"]
    assert list(metrics) == ["accuracy", "nll"]
    assert 0.0 <= metrics["accuracy"]["mean"] <= 1.0 and metrics["nll"]["mean"] > 0


def test_a_model_without_encoder_or_sampler_is_refused() -> None:
    with pytest.raises(ZooError, match="neither encode/decode"):
        zoo.evaluate(nn.Linear(4, 2), **FAST)


def test_a_missing_default_classifier_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.eval import _evaluate

    monkeypatch.setattr(_evaluate, "dataset_classifier", lambda data: "digit-cnn.no-such-tag")
    with pytest.raises(LoadError, match=r"digit-cnn\.no-such-tag.*classifier="):
        zoo.evaluate(ConstantGenerator(), **FAST)


def test_the_classifier_is_the_one_the_dataset_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.eval import _evaluate

    assert _evaluate.dataset_classifier("mnist-5k") == "digit-cnn.mnist5k"
    assert _evaluate.dataset_classifier("digits") is None
    with pytest.raises(ConfigError, match=r"none is registered for digits\. Pass classifier= .*zoo train"):
        zoo.evaluate(ConstantGenerator(), **FAST)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"seeds": ()}, ConfigError, "between 1 and"),
        ({"seeds": (0, 0)}, ConfigError, "repeat"),
        ({"seeds": (-1,)}, ConfigError, "seed -1"),
        ({"seeds": 3}, ConfigError, "sequence"),
        ({"num_samples": 1}, ConfigError, "num_samples"),
        ({"data": "mnist-5k"}, DataError, r"\(1, 8, 8\)"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        zoo.evaluate(_tiny(AE, latent_dim=4), **{**FAST, **options})


def test_a_classifier_for_other_images_is_refused() -> None:
    torch.manual_seed(0)
    mnist_classifier = zoo.create(CLASSIFIER, hidden=(2,), latent_dim=4)  # takes (1, 28, 28)
    with pytest.raises(DataError, match=r"classifier .* \(1, 28, 28\)"):
        zoo.evaluate(ConstantGenerator(), classifier=mnist_classifier, **FAST)


# -- the command line ---------------------------------------------------------------------------------------------


def test_cli_eval_prints_a_table_and_writes_metrics_into_the_run_dir(
    tmp_path: Path, classifier_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = zoo.save(_tiny(VAE, hidden=(16,), latent_dim=2), tmp_path / "run")
    argv = ["eval", str(run), "--data", DATA, "--seeds", "2", "--num-samples", "64",
            "--classifier", str(classifier_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{VAE} on digits (test split), seeds [0, 1]" in out
    assert all(f"\n{name} " in out for name in ("mse", "elbo", "fd_ratio", "recall"))
    assert f"wrote {run / 'metrics.json'}" in out

    saved = read_metrics(run)  # the registry's reader accepts it
    assert saved is not None and saved.dataset == DATA and saved.split == "test"
    whole = json.loads((run / "eval.json").read_text())
    assert saved.metrics == {name: s["mean"] for name, s in whole["metrics"].items()}
    assert whole["classifier"] == str(classifier_dir)

    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == whole and "wrote" in captured.err


def test_cli_eval_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = zoo.save(_tiny(AE, latent_dim=4), tmp_path / "run")
    assert main(["eval", str(run), "--data", DATA, "--seeds", "0"]) == 2
    assert "--seeds 0" in capsys.readouterr().err


def test_cli_interpolate_writes_a_strip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = zoo.save(_tiny(AE, latent_dim=4), tmp_path / "run")
    out = tmp_path / "strip.png"
    assert main(["interpolate", str(run), "--out", str(out), "--steps", "5", "--data", DATA]) == 0
    assert "wrote 5 images" in capsys.readouterr().out
    with Image.open(out) as image:
        assert image.size == (5 * (8 * 2 + 2) + 2, 8 * 2 + 4)
    assert main(["interpolate", str(run), "--out", str(out), "--data", DATA, "--pair", "0", "9999"]) == 2


def test_import_zoo_stays_light() -> None:
    code = ("import sys, zoo, zoo.cli._main; zoo.cli._main.build_parser(); "
            "print(sorted(m for m in ('torchmetrics', 'sklearn', 'zoo.eval') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.dense  # the documented example evaluates dense-vae with a digit-cnn
def test_docs_examples_run() -> None:
    """Every ```python block of docs/evaluation.md, in order, in one namespace."""
    text = (Path(__file__).parents[1] / "docs" / "evaluation.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    namespace: dict[str, object] = {"__name__": "docs_evaluation"}
    for block in blocks:
        exec(compile(block, "docs/evaluation.md", "exec"), namespace)


def test_eval_of_a_run_writes_both_result_files_or_neither(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A FIFO named metrics.json: eval.json was written first, then the error; the results table was never shown.
    zoo.save(zoo.create(AE), tmp_path)
    os.mkfifo(tmp_path / "metrics.json")
    code = main(["eval", str(tmp_path), "--seeds", "1"])
    out, err = capsys.readouterr()
    assert code != 0 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("zoo: error: ")]
    assert errors == [err.strip().splitlines()[-1]] and "metrics.json: it is a FIFO" in errors[0]
    assert "mse" in out  # the results are shown even though they could not be written
    assert not (tmp_path / "eval.json").exists()


def test_cli_eval_of_a_registry_name_leaves_a_folder_of_that_name_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    result = zoo.evaluate(_tiny(AE, latent_dim=4), data=DATA, seeds=(0,), num_samples=64)
    folder = zoo.save(_tiny(AE, latent_dim=4), tmp_path / AE)  # ./probe-ae, beside the name probe-ae
    (folder / "metrics.json").write_text('{"mine": true}\n')
    scored: list[object] = []
    monkeypatch.setattr(zoo, "evaluate", lambda source, **kw: scored.append(source) or result)
    monkeypatch.chdir(tmp_path)
    assert main(["eval", AE, "--data", DATA, "--seeds", "1"]) == 0
    assert scored == [AE] and "wrote" not in capsys.readouterr().out
    assert (folder / "metrics.json").read_text() == '{"mine": true}\n'  # the registry model was scored, not it
    assert not (folder / "eval.json").exists()
    assert main(["eval", f"./{AE}", "--data", DATA, "--seeds", "1"]) == 0  # the folder itself: written there
    assert "mine" not in (folder / "metrics.json").read_text()


def test_writers_into_one_run_folder_take_turns(tmp_path: Path) -> None:
    # Two `zoo eval RUN` at once could leave metrics.json from one and eval.json from the other.
    import threading
    import time

    from zoo._files import folder_writers
    from zoo.eval import write_metrics

    result = zoo.evaluate(_tiny(AE, latent_dim=4), data=DATA, seeds=(0,), num_samples=64)
    run = zoo.save(_tiny(AE, latent_dim=4), tmp_path / "run")
    done = threading.Event()
    writer = threading.Thread(target=lambda: (write_metrics(result, run), done.set()))
    with folder_writers(run):  # another writer (a save, an evaluation) holds the folder
        writer.start()
        time.sleep(0.3)
        assert not done.is_set() and not (run / "metrics.json").exists()
    writer.join(10)
    assert done.is_set() and (run / "metrics.json").exists() and (run / "eval.json").exists()
