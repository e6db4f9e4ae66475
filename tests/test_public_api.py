"""The public names are a promise: changing them is a deliberate edit of this file."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import zoo
from zoo import errors

PUBLIC = {
    # The protocols (zoo.protocols) are part of the plugin contract, so they are public by name.
    "zoo": ["Autoencoder", "Classifier", "ConditionalGenerator", "Data", "DataShaped", "DatasetSpec", "Decoder",
            "Denoiser", "Discriminator", "EMAGenerator", "Encoder", "FeatureExtractor", "FlexibleSize", "GAN",
            "Generator",
            "LatentSampler", "ModelConfig", "ModelSpec", "PushResult", "VariationalAutoencoder", "WeightsEntry",
            "__version__", "create", "entries_from_folder", "errors", "evaluate", "export_onnx", "hookimpl",
            "hookspecs", "info", "list_models", "load", "protocols", "pull", "push", "register_plugin",
            "reload_registry", "save", "unregister_plugin"],
    "zoo.protocols": ["Autoencoder", "Classifier", "ConditionalGenerator", "DataShaped", "Decoder", "Denoiser",
                      "Discriminator", "DEFAULT_OBJECTIVE_FAMILIES", "EMAGenerator", "Encoder", "FAMILIES",
                      "FeatureExtractor", "FlexibleSize", "GAN", "Generator", "LatentSampler",
                      "VariationalAutoencoder", "data_shape_of", "ema_generator_of", "family_of", "gan_fakes", "is_gan",
                      "sampler_of", "takes_size"],
    "zoo.train": ["Adversarial", "Callback", "Classification", "ELBO", "EarlyStopping", "MetricsLog", "Objective",
                  "OptimizerConfig", "Progress", "Reconstruction", "RunArtifacts", "RunResult", "SampleSnapshots",
                  "TrainConfig", "Trainer", "Update", "objective_for", "train", "translate_randomly", "update_ema"],
    "zoo.testing": ["HubServer"],
    "zoo.export": ["DEFAULT_OPSET", "EXPORTERS", "ExportedGraph", "Exporter", "MANIFEST_NAME", "ONNX_EXTRA",
                   "TensorSpec", "export_onnx"],
    "zoo.data": ["StreamedData", "builtin_datasets", "check_compatible", "load_dataset", "load_images",
                 "validate_images", "validate_labels"],
    "zoo.sampling": ["fit_mixture", "register_mixture", "sample_mixture"],
    "zoo.eval": ["NOISE_STD", "class_entropy", "evaluate", "frechet_distance", "precision_recall", "psnr",
                 "write_metrics"],
    "zoo.errors": ["AmbiguousModelError", "ChecksumError", "ConfigError", "DataError", "ExportError", "HubAuthError",
                   "HubError",
                   "HubNotFoundError", "HubProtocolError", "HubRedirectError", "HubServerError", "HubTimeoutError",
                   "LoadError", "MissingArchitectureError", "MissingFileError", "NonFiniteLossError", "PluginError",
                   "ResumeMismatchError", "TrainingError", "UnknownModelError", "UnknownNameError",
                   "UnsafeWeightsError",
                   "WeightsMismatchError", "ZooError"],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_exported_names_are_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__, key=str.lower) == sorted(PUBLIC[module_name], key=str.lower)
    for name in module.__all__:
        assert hasattr(module, name), name


def test_pinned_signatures() -> None:
    assert str(inspect.signature(zoo.list_models)) == "(pattern: 'str' = '*') -> 'list[str]'"
    assert list(inspect.signature(zoo.create).parameters) == ["name", "overrides"]
    assert list(inspect.signature(zoo.load).parameters) == ["source", "token", "cache_dir", "endpoint"]
    assert list(inspect.signature(zoo.save).parameters) == ["model", "directory"]
    assert list(inspect.signature(zoo.push).parameters)[:7] == ["model_or_run_dir", "repo_id", "token", "private",
                                                               "branch", "tag", "commit_message"]


def test_every_error_derives_from_one_base() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ZooError)


def test_errors_carry_structured_fields() -> None:
    # Callers read fields, as httpx's exceptions carry their request; each field lives on the classes that use it.
    values = {"path": "runs/ae", "architecture": "dense-ae", "name": "dense-ae", "repo_id": "alice/ae",
              "status": 404, "plugin": "acme", "hook": "zoo_models", "operation": "aten::foo"}
    for name in errors.__all__:
        cls = getattr(errors, name)
        error = cls("message", **{field: values[field] for field in cls.FIELDS})
        expected = {field: Path(values[field]) if field == "path" else values[field] for field in cls.FIELDS}
        assert error.fields() == expected and str(error) == "message"
        assert all(getattr(cls("message"), field) is None for field in cls.FIELDS)
        with pytest.raises(TypeError, match="takes no field"):
            cls("message", nonsense=1)
    assert errors.PluginError.FIELDS == ("plugin", "hook", "architecture")
    assert errors.HubError.FIELDS == ("repo_id", "status") and errors.ZooError.FIELDS == ()


def test_unknown_model_is_an_unknown_name_and_missing_file_a_hub_not_found() -> None:
    assert issubclass(errors.UnknownModelError, errors.UnknownNameError)
    assert issubclass(errors.UnknownNameError, LookupError)
    assert issubclass(errors.MissingFileError, errors.HubNotFoundError)


def test_version_comes_from_the_installed_metadata() -> None:
    from importlib.metadata import version

    assert zoo.__version__ == version("genzoo")


def test_importing_zoo_and_its_plain_modules_loads_no_torch() -> None:
    import subprocess
    import sys

    code = "import sys, zoo, zoo.errors, zoo.protocols, zoo.hookspecs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_lazy_names_resolve_to_their_defining_modules() -> None:
    assert zoo.PushResult is importlib.import_module("zoo.hub").PushResult
    assert zoo.create is importlib.import_module("zoo._api").create
    assert set(dir(zoo)) >= set(zoo.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        zoo.nonexistent  # noqa: B018
