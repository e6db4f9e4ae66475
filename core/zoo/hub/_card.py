"""The model card (``README.md``) of a zoo repository, built with ``huggingface_hub.ModelCard``.

Its metadata: ``library_name``, ``license``, ``datasets`` (Hub dataset ids), ``metrics``, ``pipeline_tag``, ``tags``
and a ``model-index`` that ``model_index_to_eval_results`` parses. Its text says what the model is from the
protocols it implements (``zoo.protocols``), never from its name.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from zoo._entries import Metrics, WeightsEntry
from zoo._registry import get_registry
from zoo._text import valid_distribution
from zoo.hub._http import LIBRARY_NAME
from zoo.protocols import (
    Autoencoder,
    Classifier,
    ConditionalGenerator,
    Denoiser,
    FlexibleSize,
    data_shape_of,
    family_of,
    sampler_of,
)

if TYPE_CHECKING:
    from huggingface_hub import ModelCard
    from torch import nn

_FAMILY_WORDS = {
    "gan": "generative adversarial network (GAN)",
    "variational-autoencoder": "variational autoencoder",
    "autoencoder": "autoencoder",
    "generator": "generative model",
    "classifier": "image classifier",
}


def _describe(model: nn.Module) -> tuple[str | None, str, str | None]:
    """(family, the words for it, the Hub pipeline_tag), from the protocols the model implements."""
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


def _data_sentence(shape: tuple[int, ...] | None) -> str:
    """The data a model takes, channels spelled out (a card reader should not have to decode `3x64x64`)."""
    if not shape:
        return "The config below says the data shape it takes."
    pixels = f" of {shape[0]} channel{'' if shape[0] == 1 else 's'}, {shape[1]} x {shape[2]} pixels," \
        if len(shape) == 3 else ""
    return (f"One sample is a `{'x'.join(str(d) for d in shape)}` (channels x height x width) float32 image{pixels} "
            "with values in [0, 1]; batches are `(N, C, H, W)`.")


def _takes_other_sizes(model: FlexibleSize, shape: tuple[int, ...]) -> bool:
    """Whether a FlexibleSize model takes a size other than its data_shape (a config may make it fixed-size)."""
    height, width = shape[-2:]
    try:
        return model.nearest_size(2 * height, 2 * width) != (height, width)
    except Exception:  # a card describes; a broken nearest_size is the contract tests' to report
        return False


def _usage(model: nn.Module, shape: tuple[int, ...] | None) -> list[str]:
    example = "x = torch.rand(8, " + ", ".join(str(d) for d in shape) + ")" if shape else "x = ...  # a batch"
    sampler = sampler_of(model)
    if sampler is not None:
        # A GAN may sample through its generator only (zoo.protocols.GAN): the card shows the call that works.
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
        _data_sentence(shape)
        + (" `forward` also takes images of other heights and widths (the model is fully convolutional; "
           "`model.nearest_size(height, width)` gives the nearest size it takes)."
           if shape and isinstance(model, FlexibleSize) and _takes_other_sizes(model, shape) else "")
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



__all__ = ["model_card"]
