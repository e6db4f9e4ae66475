"""``evaluate``: every metric that applies to a model, on a dataset's test split, over several seeds.

Which metrics apply follows from the protocols the model implements, never from its name:

- Encoder + Decoder: ``mse``, ``psnr``, ``probe_accuracy``; with ``corrupt`` (denoising): ``psnr_noisy``,
  ``psnr_denoised``, ``psnr_gain`` (means of per-image PSNRs) and ``psnr_noisy_split``, ``psnr_denoised_split``,
  ``psnr_gain_split`` (PSNRs of the split's MSE); with ``encode_distribution`` (variational): ``elbo``.
- Generator (``sample``, or a GAN's ``.generator``): ``fd``, ``fd_floor``, ``fd_ratio``, ``precision``,
  ``recall``, ``class_entropy``, ``confidence``, in the feature space of the classifier the dataset names
  (``DatasetSpec.classifier``) or the one passed; a class-conditional generator (``sample(n, labels=...)``)
  also gets ``label_accuracy``, ``label_accuracy_worst`` and ``label_confidence``.
- Classifier (``features`` and logits from ``forward``): ``accuracy``, ``nll``.

The protocols are those of :mod:`zoo.protocols`.

docs/evaluation.md defines each metric.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo._config import validate_config
from zoo._entries import Metrics
from zoo._files import atomic_write_bytes, check_writable_target, folder_writers
from zoo._registry import get_registry
from zoo._resolve import load
from zoo._rundir import EVAL_METRICS_NAME
from zoo._specs import Data
from zoo.data import check_compatible, load_dataset
from zoo.errors import ConfigError, DataError, LoadError, UnknownNameError
from zoo.eval._metrics import EVAL_EXTRA, class_entropy, frechet_distance, precision_recall, psnr
from zoo.protocols import (
    Classifier,
    ConditionalGenerator,
    Decoder,
    Denoiser,
    Encoder,
    VariationalAutoencoder,
    data_shape_of,
    sampler_of,
)

logger = logging.getLogger("zoo.eval")

METRICS_NAME = EVAL_METRICS_NAME  # the run directory layout lives in zoo._rundir
RESULT_NAME = "eval.json"
# The denoising test: Gaussian noise of this std (unless noise_std says otherwise), clipped to [0, 1], whatever
# the model was trained with.
NOISE_STD = 0.3
NEIGHBOURS = 3  # k of precision/recall
BATCH = 500  # images per forward pass
MAX_SAMPLES = 100_000
MAX_SEEDS = 100
# Independent random streams per seed: stream 0 (the plain seed) draws the samples, so that evaluation seed s
# sees the same images as `zoo sample --seed s -n NUM_SAMPLES`.
SAMPLE_STREAM, NOISE_STREAM, ELBO_STREAM, SUBSET_STREAM = range(4)
LABEL_STREAM = 4  # class-conditional samples, for label_accuracy

Source = str | os.PathLike[str] | nn.Module


def evaluate(source_or_model: Source, *, data: str | os.PathLike[str] = "mnist-5k", seeds: Sequence[int] = (0, 1, 2),
             num_samples: int = 1000, classifier: Source | None = None, noise_std: float = NOISE_STD) -> dict[str, Any]:
    """Evaluate a model on ``data``'s test split once per seed; return means, standard deviations and values.

    ``source_or_model`` is a model or anything :func:`zoo.load` takes. ``classifier`` (a model or a source)
    supplies the feature space for generators; by default the one the dataset names (its
    ``DatasetSpec.classifier``, e.g. ``digit-cnn.mnist5k`` for ``mnist-5k``). It is moved to the model's
    device. A denoiser is tested on the test images with Gaussian noise of std ``noise_std`` (in (0, 1], data in
    [0, 1]; recorded as the metric ``noise_std``). The result::

        {"architecture": "dense-vae", "dataset": "mnist-5k", "split": "test", "seeds": [0, 1, 2],
         "num_samples": 1000, "classifier": "digit-cnn.mnist5k",
         "metrics": {"mse": {"mean": ..., "std": ..., "values": [...]}, ...}, "notes": []}

    ``std`` is the sample standard deviation over seeds (0 for one seed). Metrics that do not depend on the
    seed (``mse``, ``psnr``, ``probe_accuracy``, ``fd_floor``, ``accuracy``, ``nll``) are computed once and
    repeated, so their std is 0. ``notes`` lists what was skipped and why: on data whose registration names
    no classifier (``DatasetSpec.classifier``), with none passed, a model that is also an autoencoder gets its
    other metrics and a note saying how to get a classifier; a model that is only a generator is refused with it.
    """
    seeds = _check_seeds(seeds)
    if not isinstance(num_samples, int) or isinstance(num_samples, bool) or not 2 <= num_samples <= MAX_SAMPLES:
        raise ConfigError(f"num_samples={num_samples!r}: give an integer from 2 to {MAX_SAMPLES:,}")
    if isinstance(noise_std, bool) or not isinstance(noise_std, int | float) or not 0.0 < noise_std <= 1.0:
        raise ConfigError(f"noise_std={noise_std!r}: give the denoising test's noise std in (0, 1] (data in [0, 1]; "
                          "25/255 = 0.098 is the photographs' usual test)")
    model = _resolve(source_or_model, "model")
    architecture = str(getattr(model, "architecture", type(model).__name__))
    sampler = sampler_of(model)
    autoencoder = isinstance(model, Encoder) and isinstance(model, Decoder)
    is_classifier = not autoencoder and sampler is None and isinstance(model, Classifier)
    if not (autoencoder or sampler is not None or is_classifier):
        raise ConfigError(
            f"cannot evaluate {architecture}: it implements neither encode/decode (an autoencoder), sample (a "
            "generator, or a GAN's .generator) nor features/forward (a classifier); evaluate a zoo model "
            "(`zoo list` shows them)"
        )

    dataset = os.fspath(data)
    test = load_dataset(data, "test")
    data_shape = data_shape_of(model)
    if data_shape is not None:
        check_compatible(data_shape, test.images, where=f"evaluating {architecture} on {dataset}")
    notes: list[str] = []
    if sampler is not None and classifier is None and dataset_classifier(data) is None:
        # No feature space to score samples in: the other metrics still apply; a bare generator has none left.
        hint = _no_classifier_hint(dataset, tuple(test.images.shape[1:]))
        if not autoencoder:
            raise ConfigError(f"cannot evaluate {architecture} on {dataset}: {hint}")
        logger.debug("skipping the generator metrics: %s", hint)  # the result's notes say it
        notes.append(f"generator metrics skipped: {hint}")
        sampler = None
    device = _device(model)
    per_seed: dict[str, list[float]] = {}
    classifier_label: str | None = None
    with torch.no_grad(), _eval_mode(model):
        if is_classifier:
            _classifier_metrics(model, test, seeds, device, per_seed)
        else:
            train = load_dataset(data, "train")
            if autoencoder:
                _autoencoder_metrics(model, train, test, seeds, device, per_seed, float(noise_std))
            if sampler is not None:
                features, classifier_label = _load_classifier(classifier, test, dataset)
                with _eval_mode(features):
                    features.to(device)
                    _generator_metrics(sampler, features, train, test, seeds, num_samples, device, per_seed)
    return {
        "architecture": architecture,
        "dataset": dataset,
        "split": "test",
        "seeds": list(seeds),
        "num_samples": num_samples,
        "classifier": classifier_label,
        "metrics": {name: _summary(values) for name, values in per_seed.items()},
        "notes": notes,
    }


def write_metrics(result: dict[str, Any], run_dir: str | os.PathLike[str]) -> Path:
    """Write ``metrics.json`` (means, the format registry entries read) and ``eval.json`` (the whole result).

    Both are written atomically into ``run_dir``; returns the path of ``metrics.json``.
    """
    directory = Path(run_dir)
    try:
        means = {name: summary["mean"] for name, summary in result["metrics"].items()}
        document = {"dataset": result["dataset"], "split": result["split"], "metrics": means}
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"write_metrics: {exc!r} is missing from the result; pass what zoo.evaluate() returns") \
            from None
    metrics = validate_config(Metrics, json.dumps(document), where=f"the metrics for {directory / METRICS_NAME}")
    path = directory / METRICS_NAME
    for target in (directory / RESULT_NAME, path):  # both or neither: refuse a folder or FIFO before writing one
        check_writable_target(target)
    with folder_writers(directory):  # two evaluations writing at once never leave one's pair half the other's
        atomic_write_bytes(directory / RESULT_NAME, (json.dumps(result, indent=2) + "\n").encode())
        atomic_write_bytes(path, (metrics.model_dump_json(indent=2) + "\n").encode())
    logger.debug("wrote %s and %s to %s", METRICS_NAME, RESULT_NAME, directory)
    return path


# -- what the model is ------------------------------------------------------------------------------------------


def _resolve(source: Source, what: str) -> nn.Module:
    if isinstance(source, nn.Module):
        return source
    if not isinstance(source, str | os.PathLike):
        raise ConfigError(f"the {what} to evaluate is a {type(source).__name__}; pass an nn.Module, a run directory, "
                          "NAME, NAME.TAG or hf-hub:org/repo")
    return load(source)


def _check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence):
        raise ConfigError(f"seeds={seeds!r}: give a sequence of integers, e.g. (0, 1, 2)")
    checked = tuple(seeds)
    if not 1 <= len(checked) <= MAX_SEEDS:
        raise ConfigError(f"seeds: got {len(checked)}; give between 1 and {MAX_SEEDS}")
    for seed in checked:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
            raise ConfigError(f"seed {seed!r}: every seed must be an integer from 0 to 2**32 - 1")
    if len(set(checked)) != len(checked):
        raise ConfigError(f"seeds {list(checked)} repeat a value; each seed must differ")
    return checked


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _stream(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed((stream << 32) + seed)


def _batched(fn: Callable[[Tensor], Tensor], images: Tensor, device: torch.device) -> Tensor:
    return torch.cat([fn(chunk.to(device)).float().cpu() for chunk in images.split(BATCH)])


def _record(per_seed: dict[str, list[float]], name: str, value: float) -> None:
    if not math.isfinite(value):
        raise DataError(f"metric {name} came out {value}; the model produces NaN or infinite values")
    per_seed.setdefault(name, []).append(value)


def _repeat(per_seed: dict[str, list[float]], name: str, value: float, seeds: Sequence[int]) -> None:
    for _ in seeds:
        _record(per_seed, name, value)


def _summary(values: list[float]) -> dict[str, Any]:
    if len(set(values)) == 1:  # exactly 0, not the round-off of the mean of equal values
        return {"mean": values[0], "std": 0.0, "values": values}
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return {"mean": mean, "std": std, "values": values}


# -- autoencoders -----------------------------------------------------------------------------------------------


def _autoencoder_metrics(model: Any, train: Data, test: Data, seeds: Sequence[int], device: torch.device,
                         per_seed: dict[str, list[float]], noise_std: float) -> None:
    images = test.images
    latents = _batched(model.encode, images, device)  # (N, latent_dim)
    reconstructions = _batched(model.decode, latents, device).reshape(images.shape)
    _repeat(per_seed, "mse", float((reconstructions.double() - images.double()).pow(2).mean()), seeds)
    _repeat(per_seed, "psnr", float(psnr(reconstructions, images).mean()), seeds)
    if train.labels is None or test.labels is None:
        logger.info("skipping the linear probe: the dataset has no labels")
    else:
        train_latents = _batched(model.encode, train.images, device)
        accuracy = _linear_probe(train_latents, train.labels, latents, test.labels)
        _repeat(per_seed, "probe_accuracy", accuracy, seeds)
    logger.info("reconstruction: mse %.5f, psnr %.2f dB", per_seed["mse"][0], per_seed["psnr"][0])

    denoises = isinstance(model, Denoiser)
    variational = isinstance(model, VariationalAutoencoder)
    if denoises:  # beside the figures it conditions, in metrics.json and in registry entries
        _repeat(per_seed, "noise_std", noise_std, seeds)
    for seed in seeds:
        if denoises:
            noise = torch.randn(images.shape, generator=_stream(seed, NOISE_STREAM))
            noisy = (images + noise_std * noise).clamp(0.0, 1.0)
            denoised = _batched(lambda x: model.decode(model.encode(x)), noisy, device).reshape(images.shape)
            # psnr_*: the mean over images of each image's PSNR; psnr_*_split: the PSNR of the split's MSE.
            noisy_psnr, denoised_psnr = float(psnr(noisy, images).mean()), float(psnr(denoised, images).mean())
            _record(per_seed, "psnr_noisy", noisy_psnr)
            _record(per_seed, "psnr_denoised", denoised_psnr)
            _record(per_seed, "psnr_gain", denoised_psnr - noisy_psnr)
            noisy_split, denoised_split = _split_psnr(noisy, images), _split_psnr(denoised, images)
            _record(per_seed, "psnr_noisy_split", noisy_split)
            _record(per_seed, "psnr_denoised_split", denoised_split)
            _record(per_seed, "psnr_gain_split", denoised_split - noisy_split)
            logger.info("seed %d: denoising gain %+.2f dB (mean of per-image PSNRs), %+.2f dB (PSNR of the split's "
                        "MSE)", seed, denoised_psnr - noisy_psnr, denoised_split - noisy_split)
        if variational:
            _record(per_seed, "elbo", _elbo(model, images, _stream(seed, ELBO_STREAM), device))


def _split_psnr(images: Tensor, reference: Tensor) -> float:
    """PSNR in dB of the mean squared error over the whole split (data range 1), not a mean of per-image PSNRs."""
    mse = float((images.double() - reference.double()).pow(2).mean())
    return 10.0 * math.log10(1.0 / max(mse, 1e-10))


def _linear_probe(train_latents: Tensor, train_labels: Tensor, test_latents: Tensor, test_labels: Tensor) -> float:
    """Test accuracy of a logistic regression fitted on standardized training latents."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise ImportError(f"the linear probe needs scikit-learn: {EVAL_EXTRA}") from exc
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    # An unconverged probe still scores; say so in the log rather than as a warning that tests turn into errors.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        probe.fit(train_latents.double().numpy(), train_labels.numpy())
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            logger.warning("linear probe: %s", warning.message)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return float(probe.score(test_latents.double().numpy(), test_labels.numpy()))


def _elbo(model: Any, images: Tensor, generator: torch.Generator, device: torch.device) -> float:
    """Mean over images of log p(x|z) - KL(q(z|x) || N(0, I)), one z ~ q(z|x) per image, in nats.

    The likelihood is Bernoulli summed over pixels (the grey values in [0, 1] as targets), whatever
    reconstruction term the model was trained with, so that ELBOs of different models compare.
    """
    total = 0.0
    for chunk in images.split(BATCH):
        mean, logvar = model.encode_distribution(chunk.to(device))  # (n, D) each
        eps = torch.randn(mean.shape, generator=generator).to(device=device, dtype=mean.dtype)
        probabilities = model.decode(mean + torch.exp(0.5 * logvar) * eps).reshape(chunk.shape)
        # The same clamp as the training objective, so that a saturated pixel costs at most ln(1e6) nats.
        likelihood = -F.binary_cross_entropy(probabilities.clamp(1e-6, 1 - 1e-6).double().cpu(), chunk.double(),
                                             reduction="none").flatten(1).sum(dim=1)  # (n,)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).double().cpu().sum(dim=1)  # (n,)
        total += float((likelihood - kl).sum())
    return total / len(images)


# -- generators -------------------------------------------------------------------------------------------------


def dataset_classifier(data: str | os.PathLike[str]) -> str | None:
    """The classifier a registered dataset names for scoring samples (``DatasetSpec.classifier``), or None."""
    if isinstance(data, os.PathLike):
        return None
    spec = get_registry().datasets.get(data)
    return spec.classifier if spec is not None else None


def _no_classifier_hint(dataset: str, shape: tuple[int, ...]) -> str:
    """How to get generator metrics on ``dataset``, whose registration names no feature classifier."""
    installed = sorted(name for name, spec in get_registry().models.items() if spec.kind == "classifier")
    example = installed[0] if installed else "CLASSIFIER"
    dims = ",".join(str(d) for d in shape)
    return (f"sample quality (fd, precision, recall, class_entropy, confidence) is measured in a classifier's "
            f"feature space, and none is registered for {dataset}. Pass classifier= (--classifier RUN) a "
            f"zoo.Classifier of {'x'.join(str(d) for d in shape)} images: train one on labelled images of that "
            f"shape, e.g. `zoo train {example} --data LABELLED_DATA --set data_shape=[{dims}] --out "
            f"runs/classifier`, then --classifier runs/classifier (installed classifiers: "
            f"{', '.join(installed) or 'none'}; docs/evaluation.md)")


def _load_classifier(classifier: Source | None, test: Data, dataset: str) -> tuple[nn.Module, str]:
    if classifier is None:
        named = dataset_classifier(dataset)
        if named is None:
            hint = _no_classifier_hint(dataset, tuple(test.images.shape[1:]))
            raise ConfigError(f"cannot compute generator metrics: {hint}")
        try:
            model = _resolve(named, "classifier")
        except (UnknownNameError, LoadError) as exc:
            raise LoadError(
                f"generator metrics on {dataset!r} are computed in the feature space of the classifier {named!r} "
                f"that the dataset names, which cannot be loaded ({exc}). Pass classifier= (--classifier) a "
                "trained classifier's run directory; docs/evaluation.md gives the command that trains one"
            ) from None
        label = named
    else:
        model = _resolve(classifier, "classifier")
        label = os.fspath(classifier) if not isinstance(classifier, nn.Module) else _name_of(model)
    if not isinstance(model, Classifier):
        raise ConfigError(f"classifier {label!r} is a {getattr(model, 'architecture', type(model).__name__)} without "
                          "a features() method; pass a model that implements zoo.Classifier")
    data_shape = data_shape_of(model)
    if data_shape is not None and data_shape != tuple(test.images.shape[1:]):
        raise DataError(f"classifier {label!r} takes images of shape {data_shape} but {dataset} has "
                        f"{tuple(test.images.shape[1:])}; pass a classifier trained on {dataset} with --classifier")
    return model, label


def _name_of(model: nn.Module) -> str:
    source = getattr(model, "zoo_source", None)
    if isinstance(source, dict) and isinstance(source.get("entry"), str):
        return source["entry"]
    return str(getattr(model, "architecture", type(model).__name__))


def _generator_metrics(sampler: Any, classifier: Any, train: Data, test: Data, seeds: Sequence[int],
                       num_samples: int, device: torch.device, per_seed: dict[str, list[float]]) -> None:
    train_features = _batched(classifier.features, train.images, device)  # (N_train, F)
    floor = frechet_distance(train_features, _batched(classifier.features, test.images, device))
    logger.info("Fréchet distance floor (test vs train split): %.4g", floor)
    for seed in seeds:
        samples = _samples(sampler, num_samples, _stream(seed, SAMPLE_STREAM), device)
        if samples.shape[1:] != test.images.shape[1:]:
            raise DataError(f"the model samples images of shape {tuple(samples.shape[1:])} but the data has "
                            f"{tuple(test.images.shape[1:])}; evaluate it on the dataset it was trained on")
        features = _batched(classifier.features, samples, device)  # (num_samples, F)
        logits = _batched(classifier, samples, device)  # (num_samples, classes)
        distance = frechet_distance(train_features, features)
        _record(per_seed, "fd", distance)
        _record(per_seed, "fd_floor", floor)
        if floor > 0:
            _record(per_seed, "fd_ratio", distance / floor)
        # Equal-sized sets, as the k-NN radii shrink as a set grows: a random subset of the training features.
        subset = torch.randperm(len(train_features), generator=_stream(seed, SUBSET_STREAM))[:num_samples]
        precision, recall = precision_recall(train_features[subset], features, k=NEIGHBOURS)
        _record(per_seed, "precision", precision)
        _record(per_seed, "recall", recall)
        probabilities = logits.double().softmax(dim=1)
        _record(per_seed, "class_entropy", class_entropy(probabilities.argmax(dim=1), probabilities.shape[1]))
        _record(per_seed, "confidence", float(probabilities.max(dim=1).values.mean()))
        logger.info("seed %d: fd %.4g, precision %.3f, recall %.3f", seed, distance, precision, recall)
        if isinstance(sampler, ConditionalGenerator):
            _label_metrics(sampler, classifier, seed, num_samples, device, per_seed)


def _label_metrics(sampler: Any, classifier: Any, seed: int, num_samples: int, device: torch.device,
                   per_seed: dict[str, list[float]]) -> None:
    """``label_accuracy``: the share of samples drawn for class ``c`` (every class equally often) that the
    classifier reads as ``c``; ``label_accuracy_worst``: that share for the class drawn worst;
    ``label_confidence``: the classifier's mean probability of the asked class."""
    labels = torch.arange(num_samples) % sampler.num_classes  # (num_samples,)
    generator = _stream(seed, LABEL_STREAM)
    chunks = [sampler.sample(len(chunk), generator=generator, labels=chunk.to(device)).detach().float().cpu()
              for chunk in labels.split(10_000)]
    probabilities = _batched(classifier, torch.cat(chunks), device).double().softmax(dim=1)  # (num_samples, classes)
    if probabilities.shape[1] < sampler.num_classes:
        raise DataError(f"the classifier tells {probabilities.shape[1]} classes apart but the model draws "
                        f"{sampler.num_classes}; pass a classifier of the model's classes")
    right = (probabilities.argmax(dim=1) == labels).double()  # (num_samples,)
    _record(per_seed, "label_accuracy", float(right.mean()))
    counts = torch.bincount(labels, minlength=sampler.num_classes)  # (classes,); 0 for classes never asked
    hits = torch.zeros(sampler.num_classes, dtype=torch.float64).index_add_(0, labels, right)
    asked = counts > 0
    _record(per_seed, "label_accuracy_worst", float((hits[asked] / counts[asked]).min()))
    _record(per_seed, "label_confidence", float(probabilities.gather(1, labels.unsqueeze(1)).mean()))


def _samples(sampler: Any, count: int, generator: torch.Generator, device: torch.device) -> Tensor:
    chunks, left = [], count
    while left > 0:  # one call for up to 10,000 samples, so seed s matches `zoo sample --seed s`
        chunk = sampler.sample(min(left, 10_000), generator=generator)
        chunks.append(chunk.detach().float().cpu())
        left -= chunk.shape[0]
    samples = torch.cat(chunks)
    if samples.ndim != 4 or samples.shape[0] != count:
        raise DataError(f"sample({count}) returned shape {tuple(samples.shape)}; expected ({count}, C, H, W)")
    if not bool(torch.isfinite(samples).all()):
        raise DataError("the model's samples hold NaN or infinite values")
    return samples


# -- classifiers ------------------------------------------------------------------------------------------------


def _classifier_metrics(model: Any, test: Data, seeds: Sequence[int], device: torch.device,
                        per_seed: dict[str, list[float]]) -> None:
    if test.labels is None:
        raise DataError("evaluating a classifier needs labelled test data; this dataset has no labels")
    logits = _batched(model, test.images, device).double()  # (N, classes)
    if logits.ndim != 2 or logits.shape[0] != len(test):
        raise DataError(f"the classifier returned shape {tuple(logits.shape)}; expected ({len(test)}, classes)")
    _repeat(per_seed, "accuracy", float((logits.argmax(dim=1) == test.labels).double().mean()), seeds)
    _repeat(per_seed, "nll", float(F.cross_entropy(logits, test.labels)), seeds)
