"""ONNX export (``zoo.export.export_onnx``, ``zoo export``): every registered architecture runs in onnxruntime
within 1e-4 of PyTorch, at other batch sizes than the one traced; the manifest; dynamic height and width for a
fully convolutional model; an operation no exporter translates is named; the one-line error without the extra.

The PyTorch side of each comparison is computed here from the protocols, not taken from the exporter: a
generator's graph must reproduce ``sample(n, generator=g)`` when fed the noise ``g`` draws.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import zoo
from zoo._registry import get_registry
from zoo.errors import ConfigError, ExportError
from zoo.protocols import ConditionalGenerator, data_shape_of, ema_generator_of, is_gan, sampler_of

from _probe import NAMES as PROBES

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
from zoo.export import MANIFEST_NAME, export_onnx  # noqa: E402

TOLERANCE = 1e-4
BATCH = 5  # neither the batch traced nor the one export_onnx checks with


def _cases(names: list[str]) -> list[Any]:
    return [pytest.param(name, overrides, id=f"{name}-small{i}")
            for name in names for i, overrides in enumerate(get_registry().model(name).small_configs)]


def _create(name: str, overrides: dict[str, Any]) -> nn.Module:
    torch.manual_seed(0)
    return zoo.create(name, **overrides).eval()


def _session(path: Path) -> Any:
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _expected(model: nn.Module, graph: str, inputs: dict[str, Tensor]) -> list[Tensor]:
    """What PyTorch computes for ``graph``, from the protocols the model implements."""
    with torch.no_grad():
        if graph == "encoder":
            x = inputs["images"]
            return list(model.encode_distribution(x)) if hasattr(model, "encode_distribution") else [model.encode(x)]
        if graph == "decoder":
            return [model.decode(inputs["latents"])]
        if graph in ("denoiser", "classifier"):
            return [model(inputs["images"])]
        if graph == "features":
            return [model.features(inputs["images"])]
        if graph == "generator":
            network = model
            if is_gan(model):  # sample() of the model runs its moving-average copy, generator.sample() not
                network = (ema_generator_of(model) or model.generator) if sampler_of(model) is model else (
                    model.generator)
            return [network(*inputs.values())]
    raise AssertionError(f"no reference for graph {graph}")


def _inputs(specs: list[dict[str, Any]], model: nn.Module, size: tuple[int, int] | None = None) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(7)
    size = size or tuple(data_shape_of(model)[-2:])  # a dynamic height and width: try the model's own
    values: dict[str, Tensor] = {}
    for spec in specs:
        shape = [BATCH if d == "batch" else size[0] if d == "height" else size[1] if d == "width" else d
                 for d in spec["shape"]]
        if spec["dtype"] == "int64":
            values[spec["name"]] = torch.randint(0, int(model.num_classes), shape, generator=g)
        elif spec["name"] == "latents":
            values[spec["name"]] = torch.randn(shape, generator=g)
        else:
            values[spec["name"]] = torch.rand(shape, generator=g)
    return values


def _max_errors(model: nn.Module, out: Path) -> dict[str, float]:
    """Largest |onnxruntime - PyTorch| of each graph in the export ``out``, at batch size BATCH."""
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    errors: dict[str, float] = {}
    for graph in manifest["graphs"]:
        inputs = _inputs(graph["inputs"], model)
        got = _session(out / graph["file"]).run(None, {k: v.numpy() for k, v in inputs.items()})
        want = _expected(model, graph["name"], inputs)
        assert len(got) == len(want) == len(graph["outputs"])
        errors[graph["name"]] = 0.0
        for have, expected in zip(got, want, strict=True):
            assert tuple(have.shape) == tuple(expected.shape)
            errors[graph["name"]] = max(errors[graph["name"]], float((torch.from_numpy(have) - expected).abs().max()))
    return errors


def _check_export(model: nn.Module, out: Path) -> dict[str, float]:
    graphs = export_onnx(model, out)
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert [g["name"] for g in manifest["graphs"]] == [g.name for g in graphs]
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST_NAME, *(g.file for g in graphs)])
    for graph in manifest["graphs"]:
        for spec in graph["inputs"] + graph["outputs"]:
            assert spec["shape"][0] == "batch", (graph["name"], spec)
        assert graph["max_abs_error"] is not None and graph["max_abs_error"] <= TOLERANCE
    errors = _max_errors(model, out)
    assert max(errors.values()) <= TOLERANCE, errors
    if "generator" in errors:  # the graph is the sample path: fed the noise sample() draws, it gives its images
        _check_sample_path(model, out, next(g for g in manifest["graphs"] if g["name"] == "generator"))
    return errors


def _check_sample_path(model: nn.Module, out: Path, graph: dict[str, Any]) -> None:
    latent = graph["inputs"][0]["shape"][1:]
    z = torch.randn(BATCH, *latent, generator=torch.Generator().manual_seed(3))
    feed = {"latents": z.numpy()}
    kwargs: dict[str, Any] = {}
    if isinstance(model, ConditionalGenerator):
        labels = torch.arange(BATCH) % model.num_classes
        feed["labels"], kwargs["labels"] = labels.numpy(), labels
    sampler = sampler_of(model)
    assert sampler is not None
    with torch.no_grad():
        want = sampler.sample(BATCH, generator=torch.Generator().manual_seed(3), **kwargs)
    (have,) = _session(out / graph["file"]).run(["images"], feed)
    assert float((torch.from_numpy(have) - want).abs().max()) <= TOLERANCE


@pytest.mark.parametrize(("name", "overrides"), _cases(zoo.list_models()))
def test_every_architecture_exports_and_matches_pytorch(name: str, overrides: dict[str, Any], tmp_path: Path) -> None:
    _check_export(_create(name, overrides), tmp_path / "onnx")


@pytest.mark.usefixtures("probe_models")
@pytest.mark.parametrize("name", PROBES)
def test_probe_models_export(name: str, tmp_path: Path) -> None:
    # The core's own stand-ins for each family, so export is tested with no plugin installed.
    errors = _check_export(_create(name, {"data_shape": (1, 8, 8)}), tmp_path / "onnx")
    expected = {"probe-ae": {"encoder", "decoder"}, "probe-dae": {"encoder", "decoder", "denoiser"},
                "probe-vae": {"encoder", "decoder"}, "probe-gan": {"generator"},
                "probe-classifier": {"classifier", "features"}}
    assert set(errors) == expected[name]


class _FullyConvolutional(nn.Module):
    """A fully convolutional denoising autoencoder: its encoder and denoiser take any image size."""

    data_shape = (1, 8, 8)

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(4, 1, 4, stride=2, padding=1)

    def encode(self, x: Tensor) -> Tensor:
        return self.down(x).relu().mean(dim=(2, 3))  # (N, 4) for any H x W

    def decode(self, z: Tensor) -> Tensor:
        return self.up(z[:, :, None, None].expand(-1, -1, 4, 4)).sigmoid()  # (N, 1, 8, 8)

    def forward(self, x: Tensor) -> Tensor:
        return self.up(self.down(x).relu()).sigmoid()  # (N, 1, H, W)

    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return (x + 0.1 * torch.randn(x.shape, generator=generator)).clamp(0, 1)


def test_fully_convolutional_graphs_take_any_height_and_width(tmp_path: Path) -> None:
    model = _FullyConvolutional().eval()
    graphs = {g.name: g for g in export_onnx(model, tmp_path)}
    assert graphs["denoiser"].inputs[0].shape == ("batch", 1, "height", "width")
    assert graphs["denoiser"].outputs[0].shape == ("batch", 1, "height", "width")
    assert graphs["encoder"].inputs[0].shape == ("batch", 1, "height", "width")
    assert graphs["decoder"].inputs[0].shape == ("batch", 4)  # a latent vector: nothing spatial to vary
    for size in ((8, 8), (16, 24)):
        x = torch.rand(BATCH, 1, *size)
        for name, want in (("denoiser", model(x)), ("encoder", model.encode(x))):
            (have,) = _session(tmp_path / f"{name}.onnx").run(None, {"images": x.numpy()})
            assert float((torch.from_numpy(have) - want.detach()).abs().max()) <= TOLERANCE


class _Unsupported(nn.Module):
    """An encoder ending in an operation neither of PyTorch's ONNX exporters translates."""

    data_shape = (1, 4, 4)

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 3)

    def encode(self, x: Tensor) -> Tensor:
        return torch.polygamma(2, self.linear(x.flatten(1)))


def test_an_operation_the_exporter_cannot_translate_is_named(tmp_path: Path, capfd: pytest.CaptureFixture[str]
                                                            ) -> None:
    with pytest.raises(ExportError) as excinfo:
        export_onnx(_Unsupported(), tmp_path, exporter="torchscript")
    assert excinfo.value.operation == "aten::polygamma" and excinfo.value.architecture == "_Unsupported"
    assert "cannot export the encoder" in str(excinfo.value) and "aten::polygamma" in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert capfd.readouterr().out == ""  # the exporter's graph dump stays out of the user's terminal


def test_nothing_to_export_and_a_foreign_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="implements none of the protocols"):
        export_onnx(nn.Linear(2, 2), tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an ONNX export"):
        export_onnx(_FullyConvolutional(), tmp_path / "b")


def test_without_the_extra_the_error_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"pip install 'genzoo\[onnx\]'"):
        export_onnx(_FullyConvolutional(), tmp_path)
    assert not tmp_path.joinpath(MANIFEST_NAME).exists()


def _cli_main() -> Any:
    for module in ("zoo.cli", "zoo._cli"):
        try:
            return importlib.import_module(module).main
        except ImportError:
            continue
    raise AssertionError("no zoo command line module")


@pytest.mark.usefixtures("probe_models")
def test_cli_exports_a_saved_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _create("probe-vae", {"data_shape": (1, 8, 8)})
    zoo.save(model, tmp_path / "vae")
    out = tmp_path / "onnx"
    assert _cli_main()(["export", str(tmp_path / "vae"), "--format", "onnx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "encoder.onnx: images['batch', 1, 8, 8] -> mean['batch', 2], logvar['batch', 2]" in printed, printed
    assert max(_max_errors(model, out).values()) <= TOLERANCE
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["architecture"] == "probe-vae" and manifest["config"]["data_shape"] == [1, 8, 8]


def test_cli_refusals_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    main = _cli_main()
    assert main(["export", "no-such-model", "--out", str(tmp_path / "x")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("zoo: error:") and "\n" not in err, err
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", "no-such-model", "--out", str(tmp_path / "x")]) != 0
    err = capsys.readouterr().err.strip()
    assert "pip install 'genzoo[onnx]'" in err and "\n" not in err, err


@pytest.mark.slow  # the torch.export-based exporter takes seconds per graph
def test_the_torch_export_based_exporter_gives_the_same_graphs(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    model = _FullyConvolutional().eval()
    graphs = {g.name: g for g in export_onnx(model, tmp_path, exporter="dynamo")}
    assert {g.exporter for g in graphs.values()} == {"dynamo"}
    assert graphs["denoiser"].inputs[0].shape == ("batch", 1, "height", "width")
    x = torch.rand(BATCH, 1, 16, 24)
    (have,) = _session(tmp_path / "denoiser.onnx").run(None, {"images": x.numpy()})
    assert float((torch.from_numpy(have) - model(x).detach()).abs().max()) <= TOLERANCE


@pytest.mark.slow
def test_auto_names_the_operation_when_both_exporters_refuse(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    with pytest.raises(ExportError) as excinfo:
        export_onnx(_Unsupported(), tmp_path)
    assert excinfo.value.operation is not None and "polygamma" in excinfo.value.operation
    assert "torchscript" in str(excinfo.value) and "dynamo" in str(excinfo.value) and "\n" not in str(excinfo.value)


@pytest.mark.dense
def test_export_doc_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.chdir(tmp_path)
    text = (Path(__file__).resolve().parents[1] / "docs" / "export.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/export.md lost its example"
    for block in blocks:
        exec(compile(block, "docs/export.md", "exec"), {})
    assert (tmp_path / "exported" / "vae" / MANIFEST_NAME).is_file()
