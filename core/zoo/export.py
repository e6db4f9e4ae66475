"""ONNX export: the graphs that make sense for a model's protocols, each checked against PyTorch in onnxruntime.

What is exported follows the protocols a model implements (:mod:`zoo.protocols`), never its name:

========================  ==========================================================  =========================
protocol                  graph (file)                                                inputs -> outputs
========================  ==========================================================  =========================
Encoder                   ``encoder.onnx``                                            images -> latents
VariationalAutoencoder    ``encoder.onnx``: ``encode_distribution``                   images -> mean, logvar
Decoder                   ``decoder.onnx``                                            latents -> images
Denoiser (autoencoder)    ``denoiser.onnx``: the whole model, noisy in, clean out     images -> reconstructions
GAN                       ``generator.onnx``: the network ``sample`` draws from       latents (, labels) -> images
                          (the moving-average copy when there is one)
Generator (neither)       ``generator.onnx``: ``forward(latents)`` of the model
Classifier                ``classifier.onnx``                                         images -> logits
FeatureExtractor          ``features.onnx``                                           images -> features
========================  ==========================================================  =========================

Every graph has a dynamic batch size; an image input is also dynamic in height and width when the model accepts
images of twice the size (found by trying, so a fully convolutional network gets it and a dense one does not).
A generator's latent shape is the shape of the noise its ``sample`` draws (seen by watching ``torch.randn``), a
conditional generator (:class:`~zoo.protocols.ConditionalGenerator`) takes ``labels`` (int64, ``(batch,)``).
Random draws stay outside the graphs: feed your own noise (``latents``), and a VAE's fitted latent sampler is not
exported. ``export.json`` describes each file's inputs and outputs and the error measured against PyTorch.

The graphs come from PyTorch's TorchScript-based exporter (``dynamo=False``), about fifty times faster than the
``torch.export``-based one (``dynamo=True``) for these small graphs; a graph it cannot translate (e.g. a batch norm
over a computed number of channels) is retried with the ``torch.export``-based one (``exporter="auto"``).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from zoo._files import atomic_write_bytes
from zoo.errors import ConfigError, ExportError
from zoo.protocols import (
    Autoencoder,
    ConditionalGenerator,
    Decoder,
    Denoiser,
    Encoder,
    FeatureExtractor,
    Generator,
    VariationalAutoencoder,
    data_shape_of,
    ema_generator_of,
    is_gan,
    sampler_of,
)

logger = logging.getLogger(__name__)

ONNX_EXTRA = "pip install 'genzoo[onnx]'"
MANIFEST_NAME = "export.json"
DEFAULT_OPSET = 18  # the torch.export-based exporter's own; onnxruntime 1.17 and later run it
# Exported graphs agree with PyTorch to float32 round-off; the check refuses more than this, relative to the
# outputs' magnitude (max(1, max |output|)).
TOLERANCE = 1e-4
# Batch sizes of the example traced and of the check: different, so a batch size baked into the graph shows.
TRACE_BATCH, CHECK_BATCH = 2, 3
_NOISE = (torch.randn, torch.randn_like, torch.normal, torch.Tensor.normal_)
# How the exporters name the operation they refuse, most specific first.
_BLAMES = (
    re.compile(r"Exporting the operator '?([A-Za-z0-9_:.]+)'? to ONNX"),
    re.compile(r"ONNX export of (?:operator )?'?([A-Za-z0-9_:.]+)'?"),
    re.compile(r"(?:No decompositions registered|Unsupported FX nodes|not supported)[^']*'?((?:torch\.ops\.)?"
               r"aten[.:]+[A-Za-z0-9_.]+)"),
    re.compile(r"((?:aten|prim|quantized|torchvision)::[A-Za-z0-9_.]+|torch\.ops\.[A-Za-z0-9_.]+)"),
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the torch.export-based exporter colours its messages
Exporter = Literal["auto", "torchscript", "dynamo"]
EXPORTERS: tuple[Exporter, ...] = ("auto", "torchscript", "dynamo")

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of an exported graph: ``shape`` names its dynamic axes (``"batch"``, ``"height"``)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class ExportedGraph:
    """One ONNX file of an export, as ``export.json`` describes it."""

    name: str
    file: str
    description: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    # Largest absolute difference from PyTorch in onnxruntime, over every output and check; None: not checked.
    max_abs_error: float | None
    exporter: str  # "torchscript" or "dynamo": which of PyTorch's exporters wrote it


def export_onnx(model_or_source: nn.Module | PathLike, out_dir: PathLike, *, opset: int = DEFAULT_OPSET,
                check: bool = True, exporter: Exporter = "auto") -> list[ExportedGraph]:
    """Export the graphs that fit ``model_or_source`` (a model, or any source :func:`zoo.load` takes) as ONNX
    files into ``out_dir``, with an ``export.json`` manifest; returns what the manifest describes.

    With ``check`` (the default) each graph runs in onnxruntime at another batch size (and image size, when
    dynamic) than the one traced, and an :class:`~zoo.errors.ExportError` is raised when it differs from PyTorch.
    An operation the exporter cannot translate is an ``ExportError`` naming it (``exc.operation``).

    ``exporter``: "torchscript" (PyTorch's TorchScript-based exporter), "dynamo" (its ``torch.export``-based
    one) or "auto": the TorchScript one, and for a graph it cannot translate, the ``torch.export`` one when
    onnxscript is installed. Needs the ``onnx`` extra (onnx, onnxruntime, onnxscript).
    """
    if exporter not in EXPORTERS:
        raise ConfigError(f"exporter={exporter!r}: choose one of {', '.join(EXPORTERS)}")
    _require("onnx")
    if check:
        _require("onnxruntime")
    if exporter == "dynamo":
        _require("onnxscript")
    out = _check_folder(Path(out_dir))
    model = _model(model_or_source)
    if any(t.device.type != "cpu" for t in (*model.parameters(), *model.buffers())):
        model = copy.deepcopy(model).cpu()  # graphs are traced and checked on the CPU; the caller's model stays put
    architecture = getattr(model, "architecture", None) or type(model).__name__
    was_training = model.training
    model.eval()
    graphs: list[ExportedGraph] = []
    try:
        plans = _plans(model, str(architecture))
        out.mkdir(parents=True, exist_ok=True)
        for plan in plans:
            graphs.append(_export(plan, out, str(architecture), opset=opset, check=check, exporter=exporter))
    finally:
        model.train(was_training)
    manifest = {
        "format": "onnx",
        "architecture": architecture,
        "config": _config_of(model),
        "opset": opset,
        "torch": torch.__version__,
        "graphs": [asdict(graph) for graph in graphs],
    }
    atomic_write_bytes(out / MANIFEST_NAME, (json.dumps(manifest, indent=2) + "\n").encode())
    logger.debug("exported %s to %s: %s", architecture, out, ", ".join(g.file for g in graphs))
    return graphs


# -- what to export --------------------------------------------------------------------------------------------
@dataclass
class _Plan:
    name: str
    description: str
    module: nn.Module
    inputs: list[tuple[str, Tensor]]  # names and example values (batch TRACE_BATCH)
    outputs: list[str]
    draw: Callable[[int, tuple[int, ...] | None], list[Tensor]]  # inputs of another batch size (and image size)


class _Call(nn.Module):
    """``fn(module, *inputs)`` as a module, so that a method (``encode``, ``decode``) is traced as ``forward``."""

    def __init__(self, module: nn.Module, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.module = module
        self.fn = fn
        # The exporter puts the module it is given in eval mode and back into the mode it found: eval here.
        self.eval()

    def forward(self, *inputs: Tensor) -> Any:
        return self.fn(self.module, *inputs)


def _plans(model: nn.Module, architecture: str) -> list[_Plan]:
    plans: list[_Plan] = []
    shape = data_shape_of(model)
    if isinstance(model, Encoder | FeatureExtractor | Denoiser) and shape is None:
        raise ExportError(f"{architecture}: cannot export a graph that takes images without knowing their shape; "
                          "give the model a data_shape (zoo.DataShaped)", architecture=architecture)
    images = _images_maker(shape or (1,))
    if isinstance(model, VariationalAutoencoder):
        plans.append(_image_plan("encoder", "encode_distribution: images -> mean and log-variance of q(z|x)",
                                 _Call(model, lambda m, x: m.encode_distribution(x)), images, ["mean", "logvar"]))
    elif isinstance(model, Encoder):
        plans.append(_image_plan("encoder", "encode: images -> latents", _Call(model, lambda m, x: m.encode(x)),
                                 images, ["latents"]))
    if isinstance(model, Decoder):
        with torch.no_grad():
            latent_shape = tuple(model.encode(images(TRACE_BATCH, None)).shape[1:]) if isinstance(
                model, Encoder) else _latent_shape(model, model, architecture)
        plans.append(_latent_plan("decoder", "decode: latents -> images", _Call(model, lambda m, z: m.decode(z)),
                                  latent_shape, None))
    if isinstance(model, Denoiser) and isinstance(model, Autoencoder):
        plans.append(_image_plan("denoiser", "the whole denoiser: corrupted images -> reconstructions",
                                 _Call(model, lambda m, x: m(x)), images, ["reconstructions"]))
    if is_gan(model) or (isinstance(model, Generator) and not isinstance(model, Decoder)):
        network = _sampling_network(model)
        classes = int(model.num_classes) if isinstance(model, ConditionalGenerator) else None
        latent_shape = _latent_shape(model, network, architecture)
        which = "the moving-average generator" if network is ema_generator_of(model) else "the generator"
        description = f"{which}: latents{' and labels' if classes else ''} -> images in [0, 1], as sample() draws"
        plans.append(_latent_plan("generator", description, _Call(network, lambda m, *x: m(*x)), latent_shape,
                                  classes))
    if isinstance(model, FeatureExtractor):
        if callable(getattr(model, "forward", None)) and _is_classifier(model, images):
            plans.append(_image_plan("classifier", "images -> class logits", _Call(model, lambda m, x: m(x)),
                                     images, ["logits"]))
        plans.append(_image_plan("features", "features: images -> the feature vectors evaluation compares",
                                 _Call(model, lambda m, x: m.features(x)), images, ["features"]))
    if not plans:
        raise ExportError(f"{architecture}: nothing to export: the model implements none of the protocols an "
                          "export is defined for (Encoder, Decoder, Denoiser, Generator, GAN, FeatureExtractor)",
                          architecture=architecture)
    return plans


def _sampling_network(model: nn.Module) -> nn.Module:
    """The network ``sample`` runs: for a GAN that samples itself, its moving-average generator when it keeps one,
    else its generator (whose own ``sample`` the GAN relies on otherwise); any other generator: the model."""
    if not is_gan(model):
        return model
    generator = getattr(model, "generator", None)
    if isinstance(model, Generator):  # the model's own sample(), which draws from the moving average if any
        generator = ema_generator_of(model) or generator
    return generator if isinstance(generator, nn.Module) else model


def _is_classifier(model: nn.Module, images: Callable[[int, tuple[int, ...] | None], Tensor]) -> bool:
    """A feature extractor whose forward gives one row of logits per image (zoo.Classifier)."""
    try:
        with torch.no_grad():
            out = model(images(TRACE_BATCH, None))
    except Exception:  # a forward that needs other inputs: not a classifier
        return False
    return isinstance(out, Tensor) and out.ndim == 2 and out.shape[0] == TRACE_BATCH


def _images_maker(shape: tuple[int, ...]) -> Callable[[int, tuple[int, ...] | None], Tensor]:
    def draw(n: int, size: tuple[int, ...] | None) -> Tensor:
        full = (*shape[:-2], *size) if size is not None else shape
        return torch.rand(n, *full, generator=torch.Generator().manual_seed(n))
    return draw


def _image_plan(name: str, description: str, module: nn.Module,
                images: Callable[[int, tuple[int, ...] | None], Tensor], outputs: list[str]) -> _Plan:
    return _Plan(name, description, module, [("images", images(TRACE_BATCH, None))], outputs,
                 lambda n, size: [images(n, size)])


def _latent_plan(name: str, description: str, module: nn.Module, latent_shape: tuple[int, ...],
                 classes: int | None) -> _Plan:
    def draw(n: int, size: tuple[int, ...] | None) -> list[Tensor]:
        full = (*latent_shape[:-2], *size) if size is not None else latent_shape
        g = torch.Generator().manual_seed(n)
        values = [torch.randn(n, *full, generator=g)]
        if classes is not None:
            values.append(torch.randint(0, classes, (n,), generator=g))
        return values

    names = ["latents", *(["labels"] if classes is not None else [])]
    return _Plan(name, description, module, list(zip(names, draw(TRACE_BATCH, None), strict=True)), ["images"], draw)


class _NoiseWatch(TorchFunctionMode):
    """Records the shapes of the Gaussian noise drawn inside its block."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        result = func(*args, **(kwargs or {}))
        if func in _NOISE and isinstance(result, Tensor):
            self.shapes.append(tuple(result.shape))
        return result


def _latent_shape(model: nn.Module, network: nn.Module, architecture: str) -> tuple[int, ...]:
    """The shape of one latent ``network`` maps to an image: that of the noise ``model.sample`` draws, else the
    ``latent_dim`` of the network or of the model's config."""
    sampler = sampler_of(model)
    if sampler is not None:
        watch = _NoiseWatch()
        with torch.no_grad(), watch:
            sampler.sample(TRACE_BATCH, generator=torch.Generator().manual_seed(0))
        drawn = [s[1:] for s in watch.shapes if len(s) >= 2 and s[0] == TRACE_BATCH]
        if drawn:
            return drawn[0]
    for owner in (network, getattr(model, "config", None)):
        latent_dim = getattr(owner, "latent_dim", None)
        if isinstance(latent_dim, int):
            return (latent_dim,)
    raise ExportError(f"{architecture}: cannot tell the shape of the latents its generator takes: sample() draws no "
                      "torch.randn noise and no latent_dim attribute or config field names it; give the network a "
                      "latent_dim", architecture=architecture)


# -- exporting one graph ---------------------------------------------------------------------------------------
def _export(plan: _Plan, out: Path, architecture: str, *, opset: int, check: bool, exporter: Exporter
            ) -> ExportedGraph:
    examples = tuple(value for _, value in plan.inputs)
    with torch.no_grad():
        reference = _as_tuple(plan.module(*examples))
        if len(reference) != len(plan.outputs):
            raise ExportError(f"{architecture}: the {plan.name} returned {len(reference)} tensors, expected "
                              f"{len(plan.outputs)} ({', '.join(plan.outputs)})", architecture=architecture)
        size = _doubled_size(plan, reference)
    input_axes = {name: _axes(value, size is not None) for name, value in plan.inputs}
    output_axes = {name: _output_axes(plan, name, i, reference, size) for i, name in enumerate(plan.outputs)}
    path = out / f"{plan.name}.onnx"
    tries: list[Exporter] = [exporter]
    if exporter == "auto":
        tries = ["torchscript", "dynamo"] if _importable("onnxscript") else ["torchscript"]
    refusals: list[_Refused] = []
    for used in tries:
        try:
            _write(plan, examples, path, used, opset, input_axes, output_axes)
            with _translated_errors(used):
                error = _check(plan, path, size) if check else None
            break
        except _Refused as refused:
            refusals.append(refused)
            if used != tries[-1]:
                logger.info("the %s exporter cannot export the %s of %s (%s); trying the %s exporter", used,
                            plan.name, architecture, refused.reason, tries[-1])
    else:
        reasons = "; ".join(f"{r.exporter} exporter: {r.reason}" for r in refusals) if len(refusals) > 1 else (
            refusals[0].reason)
        operation = next((r.operation for r in refusals if r.operation), None)
        fix = refusals[-1].fix
        raise ExportError(f"{architecture}: cannot export the {plan.name} to ONNX (opset {opset}): {reasons}; {fix}",
                          architecture=architecture, operation=operation) from refusals[-1].__cause__
    return ExportedGraph(
        name=plan.name, file=path.name, description=plan.description,
        inputs=tuple(_spec(name, value, input_axes[name]) for name, value in plan.inputs),
        outputs=tuple(_spec(name, value, output_axes[name]) for name, value in zip(plan.outputs, reference,
                                                                                   strict=True)),
        max_abs_error=error,
        exporter=used,
    )


def _write(plan: _Plan, examples: tuple[Tensor, ...], path: Path, exporter: Exporter, opset: int,
           input_axes: dict[str, dict[int, str]], output_axes: dict[str, dict[int, str]]) -> None:
    with _translated_errors(exporter), _quiet_exporter():
        if exporter == "dynamo":
            _export_dynamo(plan, examples, path, input_axes, opset)
        else:
            torch.onnx.export(plan.module, examples, str(path), dynamo=False, opset_version=opset,
                              input_names=[name for name, _ in plan.inputs], output_names=plan.outputs,
                              dynamic_axes={**input_axes, **output_axes}, verbose=False)
        import onnx

        onnx.checker.check_model(str(path))


def _export_dynamo(plan: _Plan, examples: tuple[Tensor, ...], path: Path, input_axes: dict[str, dict[int, str]],
                   opset: int) -> None:
    dims: dict[str, Any] = {}
    shapes = tuple({axis: dims.setdefault(label, torch.export.Dim.AUTO) for axis, label in input_axes[name].items()}
                   for name, _ in plan.inputs)
    program = torch.onnx.export(plan.module, examples, dynamo=True, opset_version=opset,
                                input_names=[name for name, _ in plan.inputs], output_names=plan.outputs,
                                dynamic_shapes=(shapes,), optimize=True, verbose=False)
    if program is None:
        raise RuntimeError("torch.onnx.export(dynamo=True) returned no program")
    program.save(str(path))


def _doubled_size(plan: _Plan, reference: tuple[Tensor, ...]) -> tuple[int, ...] | None:
    """Twice the image size of the first input, when the module takes it (a fully convolutional network)."""
    first = plan.inputs[0][1]
    if first.ndim != 4 or not first.is_floating_point():
        return None
    size = (first.shape[2] * 2, first.shape[3] * 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = _as_tuple(plan.module(*plan.draw(TRACE_BATCH, size)))
    except Exception:  # a layer whose size is fixed (a Linear after a flatten): static height and width
        return None
    return size if len(outputs) == len(reference) else None


def _axes(value: Tensor, spatial: bool) -> dict[int, str]:
    axes = {0: "batch"}
    if spatial and value.ndim == 4 and value.is_floating_point():
        axes.update({2: "height", 3: "width"})
    return axes


def _output_axes(plan: _Plan, name: str, index: int, reference: tuple[Tensor, ...],
                 size: tuple[int, ...] | None) -> dict[int, str]:
    axes = {0: "batch"}
    if size is not None:
        with torch.no_grad():
            resized = _as_tuple(plan.module(*plan.draw(TRACE_BATCH, size)))[index]
        for axis in range(1, reference[index].ndim):
            if resized.shape[axis] != reference[index].shape[axis]:
                axes[axis] = {2: "height", 3: "width"}.get(axis, f"{name}_{axis}")
    return axes


def _spec(name: str, value: Tensor, axes: dict[int, str]) -> TensorSpec:
    shape = tuple(axes.get(axis, int(d)) for axis, d in enumerate(value.shape))
    return TensorSpec(name=name, dtype=str(value.dtype).removeprefix("torch."), shape=shape)


def _check(plan: _Plan, path: Path, size: tuple[int, ...] | None) -> float:
    """Largest absolute difference between onnxruntime and PyTorch, at another batch size (and image size)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    worst = 0.0
    for inputs in [plan.draw(CHECK_BATCH, None), *([plan.draw(CHECK_BATCH, size)] if size else [])]:
        with torch.no_grad():
            expected = _as_tuple(plan.module(*inputs))
        feed = {name: value.numpy() for (name, _), value in zip(plan.inputs, inputs, strict=True)}
        got = session.run(plan.outputs, feed)
        for name, want, have in zip(plan.outputs, expected, got, strict=True):
            have_t = torch.from_numpy(have)
            if have_t.shape != want.shape:
                raise _Refused("", None, f"the graph gives {name} of shape {tuple(have_t.shape)} for inputs of "
                               f"batch {CHECK_BATCH}, PyTorch {tuple(want.shape)}",
                               "a size is baked into the graph (a shape read as a Python number in forward); compute "
                               "it from tensor shapes")
            error = float((have_t.double() - want.double()).abs().max()) if want.numel() else 0.0
            scale = max(1.0, float(want.abs().max()) if want.numel() else 0.0)
            if not error <= TOLERANCE * scale:
                raise _Refused("", None, f"in onnxruntime the graph differs from PyTorch by {error:.3g} in {name} "
                               f"(allowed {TOLERANCE * scale:.3g})", "forward may depend on the data through Python "
                               "control flow, which the exporter records for the example input only")
            worst = max(worst, error)
    return worst


class _Refused(Exception):
    """One exporter's failure on one graph: the operation it blames, why, and what would fix it."""

    def __init__(self, exporter: str, operation: str | None, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.exporter, self.operation, self.reason, self.fix = exporter, operation, reason, fix


@contextlib.contextmanager
def _translated_errors(exporter: str) -> Iterator[None]:
    """An exporter's failure (and a failed check) as a :class:`_Refused` naming the exporter and the operation."""
    try:
        yield
    except _Refused as refused:
        refused.exporter = exporter
        raise
    except Exception as exc:  # torch.onnx.errors.*, tracing errors (RuntimeError), torch.export's errors
        text = _ANSI.sub("", str(exc)).strip()
        operation = _operation_in(text)
        first = text.splitlines()[0][:200] if text else type(exc).__name__
        reason = f"operation {operation} is not supported" if operation else f"{type(exc).__name__}: {first}"
        fix = ("replace that operation in the model, or try another --opset" if operation else
               "`zoo -v export ...` shows the exporter's traceback")
        raise _Refused(exporter, operation, reason, fix) from exc


def _operation_in(text: str) -> str | None:
    """The operation an exporter's message blames: its own phrasing first, then the first operator named."""
    for pattern in _BLAMES:
        found = pattern.search(text)
        if found:
            return found.group(1)
    return None


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporters warn about their own deprecation and about traced shape checks; the check below is what
    tells whether the graph is right, so their warnings only go to the debug log."""
    # torch 2.13's TorchScript exporter switches its C++ log on for good (setup_onnx_logging tests the function
    # _jit_is_onnx_log_enabled instead of calling it) and then prints the whole graph to stdout when it fails.
    # The torch.export-based one warns of every torchvision op it lacks and narrates its optimisation passes.
    chatty = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [log.level for log in chatty]
    for log in chatty:
        log.setLevel(logging.ERROR)
    log_was_on = torch._C._jit_is_onnx_log_enabled()
    print_log = torch._C._jit_onnx_log
    torch._C._jit_onnx_log = lambda *parts: logger.debug("torch.onnx: %s", " ".join(map(str, parts)))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        torch._C._jit_onnx_log = print_log
        torch._C._jit_set_onnx_log_enabled(log_was_on)
        for log, level in zip(chatty, levels, strict=True):
            log.setLevel(level)
    for warning in caught:
        logger.debug("torch.onnx: %s", warning.message)


# -- sources and folders ---------------------------------------------------------------------------------------
def _model(model_or_source: nn.Module | PathLike) -> nn.Module:
    if isinstance(model_or_source, nn.Module):
        return model_or_source
    from zoo._resolve import load

    return load(model_or_source)


def _check_folder(out: Path) -> Path:
    """``out``, unless it is a file or a folder holding anything but an earlier export."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: it is a file; give the folder to export into, e.g. exported/", path=out)
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name != MANIFEST_NAME and p.suffix != ".onnx")
        if foreign:
            raise ConfigError(f"{out} holds files that are not an ONNX export ({', '.join(foreign[:5])}); export into "
                              "a new or empty folder", path=out)
    return out


def _config_of(model: nn.Module) -> Any:
    config = getattr(model, "config", None)
    dump = getattr(config, "model_dump", None)
    return dump(mode="json") if callable(dump) else None


def _as_tuple(value: Any) -> tuple[Tensor, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _require(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"ONNX export needs {module}: {ONNX_EXTRA}") from exc


__all__ = ["DEFAULT_OPSET", "EXPORTERS", "MANIFEST_NAME", "ONNX_EXTRA", "ExportedGraph", "Exporter", "TensorSpec",
           "export_onnx"]
