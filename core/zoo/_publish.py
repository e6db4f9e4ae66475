"""Publishing to the Hub: ``zoo.push`` (a model or a run directory), ``zoo publish`` (a registry entry) and the
model card both write.

The card is built with ``huggingface_hub.ModelCard``: ``library_name``, ``license``, ``datasets`` (Hub dataset
ids), ``metrics``, ``pipeline_tag``, ``tags`` and a ``model-index`` that ``model_index_to_eval_results`` parses;
its text says what the model is from the protocols it implements (``zoo._protocols``), never from its name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo._hub import (
    CONFIG_FILE,
    DEFAULT_LICENSE,
    IMAGE_FILES,
    LIBRARY_NAME,
    WEIGHTS_FILE,
    PushResult,
    upload_folder,
)
from zoo._rundir import RunDir
from zoo._text import valid_distribution
from zoo._weights import Metrics, WeightsEntry, read_metrics
from zoo.errors import ConfigError, LoadError

if TYPE_CHECKING:
    from huggingface_hub import ModelCard
    from torch import nn


def push(model_or_run_dir: nn.Module | str | os.PathLike[str], repo_id: str, *, token: str | bool | None = None,
         private: bool | None = None, branch: str | None = None, tag: str | None = None,
         commit_message: str | None = None, license: str = DEFAULT_LICENSE, endpoint: str | None = None
         ) -> PushResult:
    """Publish a zoo model (or a run directory written by ``zoo train``) to the Hub in one commit.

    Creates ``repo_id`` if needed (``private`` applies only then) and ``branch`` if it is new (from main), then
    uploads ``config.json``, ``model.safetensors``, a ``README.md`` model card and the run's picture grids in
    one commit, and tags that commit ``tag`` when given. Returns a :class:`zoo._hub.PushResult`: ``.oid`` is
    the commit to pin with ``hf-hub:org/repo@<sha>``; ``.changed`` is False when the repository already held
    exactly these files (then no commit is made).
    """
    from zoo._registry import get_registry
    from zoo._serialization import load_directory, read_config_document
    from zoo._serialization import save as save_model

    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        staging = Path(tmp)
        training: dict[str, Any] = {}
        metrics: Metrics | None = None
        if isinstance(model_or_run_dir, str | os.PathLike):
            run = Path(model_or_run_dir)
            if not run.is_dir():
                raise LoadError(f"{run} is not a directory; push a model or a run directory from `zoo train`",
                                path=run)
            model = load_directory(run)  # push only what loads: valid config, weights that match it
            for name in (CONFIG_FILE, WEIGHTS_FILE, *IMAGE_FILES):
                if (run / name).is_file():
                    shutil.copyfile(run / name, staging / name)
            training = _training_summary(run)
            metrics = read_metrics(run)
            if metrics is not None and metrics.dataset not in get_registry().datasets:
                # Evaluated on a file: name it by its base name, never by a local path.
                metrics = metrics.model_copy(update={"dataset": Path(metrics.dataset).name or "custom"})
        else:
            model = model_or_run_dir
            save_model(model, staging)
        document = read_config_document(staging / CONFIG_FILE)
        dataset = training.get("data")
        card = model_card(
            repo_id=repo_id, document=document, model=model, dataset=dataset if isinstance(dataset, str) else None,
            metrics=metrics, license=license, images=[n for n in IMAGE_FILES if (staging / n).is_file()],
            training=training,
        )
        card.save(staging / "README.md")
        return upload_folder(staging, repo_id, token=token, private=private, branch=branch, tag=tag,
                             endpoint=endpoint,
                             commit_message=commit_message or f"Upload {document['architecture']} with zoo")


def publish_entry(name: str, repo_id: str, *, token: str | bool | None = None, private: bool | None = None,
                  branch: str | None = None, tag: str | None = None, commit_message: str | None = None,
                  license: str = DEFAULT_LICENSE, endpoint: str | None = None,
                  cache_dir: str | os.PathLike[str] | None = None) -> PushResult:
    """Push the registry entry ``name`` (its verified files and a card from its record) in one commit."""
    from zoo._resolve import entry_file, registry_entry, resolve_entry
    from zoo._serialization import load_directory, read_config_document

    entry = registry_entry(name)
    # A plugin entry's files come from the same endpoint they are published to; every sha256 is verified.
    resolved = resolve_entry(entry, token=token, cache_dir=cache_dir, endpoint=endpoint)
    model = load_directory(resolved.directory)
    with tempfile.TemporaryDirectory(prefix="zoo-publish-") as tmp:
        staging = Path(tmp)
        for file in entry.files:
            # resolve_entry has verified the config and the weights already; only the pictures are left.
            path = (resolved.directory / file if file in (CONFIG_FILE, WEIGHTS_FILE)
                    else entry_file(entry, file, token=token, cache_dir=cache_dir, endpoint=endpoint))
            shutil.copyfile(path, staging / file)
        document = read_config_document(staging / CONFIG_FILE)
        training = {"command": entry.command, "seed": entry.seed, "data": entry.dataset, "split": entry.split}
        card = model_card(
            repo_id=repo_id, document=document, model=model, dataset=entry.dataset, metrics=entry.metrics,
            license=license, images=[n for n in IMAGE_FILES if n in entry.files], training=training, entry=entry,
        )
        card.save(staging / "README.md")
        return upload_folder(staging, repo_id, token=token, private=private, branch=branch, tag=tag,
                             endpoint=endpoint, commit_message=commit_message or f"Publish zoo registry entry {name}")


def _training_summary(run: Path) -> dict[str, Any]:
    """The run's training settings for the card, minus anything machine-local (output path, device)."""
    from zoo._registry import get_registry

    try:
        data = RunDir(run).read_train_config()
    except ConfigError:  # none, or not a run config: the card goes without
        return {}
    summary = {k: v for k, v in data.items() if k not in ("out", "device")}
    # A dataset given as a file path would leak a local path into a public card: keep registered names only.
    if summary.get("data") not in get_registry().datasets:
        summary.pop("data", None)
    return summary


# -- the model card ---------------------------------------------------------------------------------------

_FAMILY_WORDS = {
    "gan": "generative adversarial network (GAN)",
    "variational-autoencoder": "variational autoencoder",
    "autoencoder": "autoencoder",
    "generator": "generative model",
    "classifier": "image classifier",
}


def _describe(model: nn.Module) -> tuple[str | None, str, str | None]:
    """(family, the words for it, the Hub pipeline_tag), from the protocols the model implements."""
    from zoo._protocols import Autoencoder, Classifier, ConditionalGenerator, Denoiser, family_of, sampler_of

    family = family_of(model)
    words = _FAMILY_WORDS.get(family or "", "model")
    if family == "autoencoder" and isinstance(model, Denoiser):
        words = "denoising autoencoder"
    if isinstance(sampler_of(model), ConditionalGenerator):
        words = f"class-conditional {words}"
    if sampler_of(model) is not None:
        task: str | None = "unconditional-image-generation"
    elif isinstance(model, Autoencoder):
        task = "image-to-image"
    elif isinstance(model, Classifier):
        task = "image-classification"
    else:
        task = None
    return family, words, task


def _usage(model: nn.Module, shape: tuple[int, ...] | None) -> list[str]:
    from zoo._protocols import Autoencoder, Classifier, ConditionalGenerator, sampler_of

    example = "x = torch.rand(8, " + ", ".join(str(d) for d in shape) + ")" if shape else "x = ...  # a batch"
    sampler = sampler_of(model)
    if sampler is not None:
        # A GAN may sample through its generator only (zoo._protocols.GAN): the card shows the call that works.
        call = "model" if sampler is model else "model.generator"
        lines = [f"images = {call}.sample(16)  # (16, C, H, W), values in [0, 1]"]
        if isinstance(sampler, ConditionalGenerator):
            lines.append(f"sevens = {call}.sample(16, labels=7)  # one class of {sampler.num_classes}")
        if isinstance(model, Autoencoder):
            lines += [example, "reconstructions = model(x)"]
        return lines
    if isinstance(model, Autoencoder):
        return [example, "reconstructions = model(x)  # the same shape as x"]
    if isinstance(model, Classifier):
        return [example, "predicted = model(x).argmax(dim=1)"]
    return [example, "output = model(x)"]


def model_card(*, repo_id: str, document: dict[str, Any], model: nn.Module, dataset: str | None,
               metrics: Metrics | None, license: str, images: list[str], training: dict[str, Any],
               entry: WeightsEntry | None = None) -> ModelCard:
    """The ``README.md`` of a zoo repository: Hub metadata (YAML) and a human-readable body."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    from zoo._protocols import data_shape_of
    from zoo._registry import get_registry

    registry = get_registry()
    architecture = document["architecture"]
    name = repo_id.rsplit("/", 1)[-1]
    family, words, task = _describe(model)
    spec = registry.datasets.get(dataset) if dataset else None
    hub_dataset = getattr(spec, "hub_dataset", None)
    metrics_dataset = registry.datasets.get(metrics.dataset) if metrics is not None else None
    eval_results = None
    if metrics is not None and task is not None:
        dataset_id = getattr(metrics_dataset, "hub_dataset", None) or metrics.dataset
        eval_results = [
            EvalResult(task_type=task, dataset_type=dataset_id, dataset_name=metrics.dataset,
                       dataset_split=metrics.split, metric_type=metric, metric_name=metric, metric_value=value)
            for metric, value in metrics.metrics.items()
        ]
    tags = [architecture, *([family] if family else []), *([dataset] if dataset else []), "zoo", "pytorch",
            "safetensors"]
    data = ModelCardData(
        library_name=LIBRARY_NAME, license=license, tags=list(dict.fromkeys(tags)), pipeline_tag=task,
        datasets=[hub_dataset] if hub_dataset else None,
        metrics=list(metrics.metrics) if metrics is not None else None,
        model_name=name if eval_results else None, eval_results=eval_results,
    )
    shape = data_shape_of(model)
    article = "an" if words[0] in "aeiou" else "a"
    trained = f" trained on `{dataset}`" + (f" (a subset of [{hub_dataset}](https://huggingface.co/datasets/"
                                            f"{hub_dataset}))" if hub_dataset else "") if dataset else ""
    install = " ".join(dict.fromkeys(["genzoo", *_distribution(document)]))
    usage = _usage(model, shape)
    lines = [
        f"# {name}",
        "",
        f"{article[0].upper()}{article[1:]} {words}{trained}: architecture `{architecture}`, published with "
        "[zoo](https://pypi.org/project/genzoo/). The repository holds `config.json` (the architecture and its "
        "validated config) and `model.safetensors` (the weights); loading never runs code from it.",
        "",
        "## Data",
        "",
        (f"One sample is a `{'x'.join(str(d) for d in shape)}` (channels x height x width) float32 image with values "
         "in [0, 1]; batches are `(N, C, H, W)`." if shape else "The config above says the data shape it takes.")
        + (" Generated samples have the same shape and range." if task == "unconditional-image-generation" else ""),
        "",
        "## Usage",
        "",
        "```python",
        f"# pip install {install}",
        *(["import torch"] if any("torch." in line for line in usage) else []),
        "import zoo",
        "",
        f'model = zoo.load("hf-hub:{repo_id}")  # or pin a commit or tag: "hf-hub:{repo_id}@<sha>"',
        *usage,
        "```",
        "",
        f"From a shell: `zoo pull {repo_id} --out models/{name}`, then `zoo.load(\"models/{name}\")`.",
    ]
    for image in images:
        title = "Samples" if image == "samples.png" else "Reconstructions (originals above, reconstructions below)"
        lines += ["", f"## {title}", "", f"![{image.removesuffix('.png')}]({image})"]
    if metrics is not None:
        lines += ["", "## Metrics", "", f"On `{metrics.dataset}` ({metrics.split} split):", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {metric} | {value:.6g} |" for metric, value in metrics.metrics.items()]
    if training:
        lines += ["", "## Training", "", "```json", json.dumps(training, indent=2), "```"]
    if entry is not None and entry.note:
        lines += ["", f"Registry entry `{entry.name}`: {entry.note}"]
    lines += ["", "## Config", "", "```json", json.dumps(document["config"], indent=2), "```", ""]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))


def _distribution(document: dict[str, Any]) -> list[str]:
    """The provider distribution named in the config, only when it is a valid package name."""
    provider = document.get("provider")
    name = provider.get("distribution") if isinstance(provider, dict) else None
    return [name] if isinstance(name, str) and valid_distribution(name) else []

