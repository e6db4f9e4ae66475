"""The public names are a promise: changing them is a deliberate edit of this file."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import zoo
from zoo import errors

PUBLIC = {
    # The protocols (zoo._protocols) are part of the plugin contract, so they are public by name.
    "zoo": ["Autoencoder", "Classifier", "ConditionalGenerator", "Data", "DataShaped", "DatasetSpec", "Decoder",
            "Denoiser", "Discriminator", "EMAGenerator", "Encoder", "FeatureExtractor", "GAN", "Generator",
            "LatentSampler", "ModelConfig", "ModelSpec", "VariationalAutoencoder", "WeightsEntry", "__version__",
            "create", "errors", "evaluate", "hookimpl", "info", "list_models", "load", "pull", "push",
            "register_plugin", "reload_registry", "save", "unregister_plugin"],
    "zoo.train": ["Adversarial", "Callback", "Classification", "ELBO", "EarlyStopping", "MetricsLog", "Objective",
                  "OptimizerConfig", "Progress", "Reconstruction", "RunArtifacts", "RunResult", "SampleSnapshots",
                  "TrainConfig", "Trainer", "objective_for", "train"],
    "zoo.testing": ["HubServer"],
    "zoo.data": ["StreamedData", "builtin_datasets", "check_compatible", "load_dataset", "validate_images",
                 "validate_labels"],
    "zoo.eval": ["class_entropy", "evaluate", "frechet_distance", "precision_recall", "psnr", "write_metrics"],
    "zoo.errors": ["AmbiguousModelError", "ChecksumError", "ConfigError", "DataError", "HubAuthError", "HubError",
                   "HubNotFoundError", "HubProtocolError", "HubRedirectError", "HubServerError", "HubTimeoutError",
                   "LoadError", "MissingArchitectureError", "NonFiniteLossError", "PluginError",
                   "ResumeMismatchError", "TrainingError", "UnknownModelError", "UnsafeWeightsError",
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
    # Callers read fields, as httpx's exceptions carry their request; every error takes the same keywords.
    for name in errors.__all__:
        error = getattr(errors, name)("message", path="runs/ae", architecture="dense-ae", plugin="acme")
        assert error.fields() == {"path": Path("runs/ae"), "architecture": "dense-ae", "plugin": "acme"}
        assert error.repo_id is None and error.hook is None and str(error) == "message"
