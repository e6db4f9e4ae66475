"""The contract every registered model keeps, checked for every architecture installed in this environment.

Parametrized over ``zoo.list_models()``, so a third-party plugin installed next to zoo is held to the same
contract as the first-party models, and the checks follow the protocols a model implements (``zoo.protocols``),
never its name. Small instances come from the spec itself: its default config, its ``test_config`` and each of
its ``test_configs``. Shipped inside the package so that plugin authors can run it on their own models (needs
pytest)::

    pytest --pyargs zoo.testing.test_contract -k my-model

The core behaviours of loading (damaged, foreign or pickle-only directories) are checked on a tiny probe model
this module registers itself, so the suite needs no particular plugin.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import Field
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

import zoo
from zoo._config import MAX_PARAMETERS
from zoo._registry import get_registry
from zoo._specs import Data, ModelSpec
from zoo.errors import ConfigError, LoadError, MissingArchitectureError, UnsafeWeightsError, WeightsMismatchError
from zoo.protocols import (
    Autoencoder,
    Classifier,
    ConditionalGenerator,
    FeatureExtractor,
    FlexibleSize,
    Generator,
    data_shape_of,
    is_gan,
    takes_size,
)

MODELS = zoo.list_models()


def _spec(name: str) -> ModelSpec:
    return get_registry().model(name)


def _configs(name: str) -> list[dict[str, Any]]:
    """The default config, then each small config the spec declares (duplicates dropped)."""
    configs: list[dict[str, Any]] = [{}]
    for overrides in _spec(name).small_configs:
        if overrides not in configs:
            configs.append(overrides)
    return configs


CASES = [
    pytest.param(name, overrides, id=f"{name}-{'default' if not overrides else f'small{i}'}")
    for name in MODELS
    for i, overrides in enumerate(_configs(name))
]


def _small(name: str) -> dict[str, Any]:
    return _spec(name).small_configs[0]


def _data(model: nn.Module, n: int, seed: int = 0) -> torch.Tensor:
    shape = data_shape_of(model)
    assert shape is not None, f"{type(model).__name__} must declare the data it takes: a data_shape (C, H, W)"
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


def _create(name: str, overrides: dict[str, Any], seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return zoo.create(name, **overrides)


def _in_unit_range(t: torch.Tensor) -> bool:
    return bool(((t >= 0) & (t <= 1)).all())


def _takes_plain_data(model: nn.Module) -> bool:
    """An unconditional GAN's discriminator scores data alone (a conditional one also takes labels)."""
    return is_gan(model) and not isinstance(model, ConditionalGenerator)


def _outputs(model: nn.Module) -> dict[str, torch.Tensor]:
    """Deterministic outputs of an eval-mode model, for comparing a model with its reloaded copy."""
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        if isinstance(model, Autoencoder):
            x = _data(model, 4)
            out["forward"] = model(x)
            out["encode"] = model.encode(x)
        if _takes_plain_data(model):
            out["discriminator"] = model.discriminator(_data(model, 4))
        if is_gan(model) and isinstance(model.generator, Generator):
            out["generator.sample"] = model.generator.sample(4, generator=torch.Generator().manual_seed(1))
        if isinstance(model, Classifier):
            out["forward"] = model(_data(model, 4))
        if isinstance(model, FeatureExtractor):
            out["features"] = model.features(_data(model, 4))
        if isinstance(model, Generator):
            out["sample"] = model.sample(4, generator=torch.Generator().manual_seed(2))
    return out


# ---------------------------------------------------------------------------------------------------------------
# The spec


@pytest.mark.parametrize("name", MODELS)
def test_spec_has_a_kind_and_a_usable_config(name: str) -> None:
    spec = _spec(name)
    assert isinstance(spec.kind, str) and spec.kind, "the registry fills in a kind from the protocols"
    assert spec.config.model_config.get("extra") == "forbid"


# ---------------------------------------------------------------------------------------------------------------
# Build, shapes, gradients


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_forward_shapes(name: str, overrides: dict[str, Any]) -> None:
    model = _create(name, overrides).eval()
    assert model.architecture == name
    assert isinstance(model.config, _spec(name).config)
    shape = data_shape_of(model)
    with torch.no_grad():
        if isinstance(model, Autoencoder):
            x = _data(model, 3)
            z = model.encode(x)
            assert z.ndim == 2 and z.shape[0] == 3
            decoded = model.decode(z)
            # A decoder may end linearly (the dense-ae reference does); samples, below, must be in [0, 1].
            assert decoded.shape == x.shape and bool(torch.isfinite(decoded).all())
            assert model(x).shape == x.shape
        if _takes_plain_data(model):
            assert model.discriminator(_data(model, 3)).shape == (3,)
        if is_gan(model) and isinstance(model.generator, Generator):
            samples = model.generator.sample(3, generator=torch.Generator().manual_seed(0))
            assert samples.shape == (3, *_data(model, 1).shape[1:]) and _in_unit_range(samples)
        if isinstance(model, Classifier):
            logits = model(_data(model, 3))
            classes = getattr(model.config, "num_classes", None)
            assert logits.ndim == 2 and logits.shape[0] == 3
            assert classes is None or logits.shape[1] == classes
        if isinstance(model, FeatureExtractor):
            features = model.features(_data(model, 3))
            assert features.ndim == 2 and features.shape[0] == 3
        if isinstance(model, Generator):
            samples = model.sample(3, generator=torch.Generator().manual_seed(0))
            assert samples.ndim == 4 and samples.shape[0] == 3 and _in_unit_range(samples)
            assert shape is None or tuple(samples.shape[1:]) == shape


@pytest.mark.parametrize("name", MODELS)
def test_models_that_take_data_declare_its_shape(name: str) -> None:
    model = _create(name, _small(name))
    if isinstance(model, Autoencoder | FeatureExtractor) or is_gan(model):
        assert data_shape_of(model) is not None, "declare data_shape (zoo.protocols.DataShaped) on the model"


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_other_sizes_it_says_it_takes(name: str, overrides: dict[str, Any]) -> None:
    model = _create(name, overrides).eval()
    if not isinstance(model, FlexibleSize):
        pytest.skip("not a FlexibleSize")
    shape = data_shape_of(model)
    assert shape is not None and len(shape) == 3, "a FlexibleSize model declares its data_shape (C, H, W)"
    channels, height, width = shape
    assert takes_size(model, height, width) == (True, (height, width)), "nearest_size(H, W) of data_shape is (H, W)"
    for asked in ((height + 5, width + 3), (2 * height + 1, max(1, width // 2))):
        _, size = takes_size(model, *asked)
        assert takes_size(model, *size) == (True, size), f"nearest_size{asked} = {size}, a size it does not take"
        if isinstance(model, Autoencoder):
            x = torch.rand(2, channels, *size, generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                assert model(x).shape == x.shape, f"forward on {size[0]}x{size[1]}, a size nearest_size accepts"


@pytest.mark.parametrize("name", MODELS)
def test_samples_in_eval_use_carry_no_autograd_history(name: str) -> None:
    model = _create(name, _small(name)).eval()
    if not isinstance(model, Generator):
        pytest.skip("not a Generator")
    samples = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert not samples.requires_grad and samples.grad_fn is None
    samples.numpy()  # what users do next


def _samplers(model: nn.Module) -> dict[str, Any]:
    """The ``sample(n, generator=)`` methods of ``model`` (and of a GAN's generator module), by name."""
    found: dict[str, Any] = {}
    if is_gan(model) and isinstance(model.generator, Generator):
        found["generator.sample"] = model.generator.sample
    if isinstance(model, Generator):
        found["sample"] = model.sample
    return found


def _check_sampling_follows_its_generator(model: nn.Module) -> None:
    for label, sample in _samplers(model).items():
        with torch.no_grad():
            torch.manual_seed(11)  # the global RNG differs between the two draws; the generator's seed does not
            first = sample(3, generator=torch.Generator().manual_seed(5))
            torch.manual_seed(12)
            second = sample(3, generator=torch.Generator().manual_seed(5))
        assert torch.equal(first, second), (
            f"{label}(n, generator=) ignores its generator: two draws with the same generator seed differ. Draw all "
            "randomness from it (torch.randn(..., generator=generator), torch.randint(..., generator=generator)); "
            "zoo sample --seed, sample grids and evaluation rely on it"
        )


@pytest.mark.parametrize("name", MODELS)
def test_sampling_follows_its_generator(name: str) -> None:
    model = _create(name, _small(name)).eval()
    if not _samplers(model):
        pytest.skip("not a Generator")
    _check_sampling_follows_its_generator(model)


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_objective_gives_finite_grads_to_every_trainable_parameter(name: str, overrides: dict[str, Any]) -> None:
    from zoo.train import objective_for

    model = _create(name, overrides).train()
    objective = objective_for(model, _spec(name).objective)
    images = _data(model, 4)
    batch = Data(images, torch.zeros(4, dtype=torch.long))  # class 0 exists for every labelled objective
    for network, _, _ in objective.updates(model):
        loss, logs = objective.loss(model, network, batch)
        assert loss.ndim == 0 and bool(torch.isfinite(loss)), f"{network} loss {loss}"
        assert all(not value.requires_grad for value in logs.values()), "logged values must be detached"
        loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for param_name, param in trainable:
        assert param.grad is not None, f"{param_name} got no gradient from the objective's losses"
        assert torch.isfinite(param.grad).all(), f"{param_name} has a non-finite gradient"


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_parameter_count_is_exact(name: str, overrides: dict[str, Any]) -> None:
    model = _create(name, overrides)
    config = model.config
    if not isinstance(config, zoo.ModelConfig) or type(config).parameter_count is zoo.ModelConfig.parameter_count:
        pytest.skip(f"{type(config).__name__} does not override zoo.ModelConfig.parameter_count()")
    # Buffers (BatchNorm statistics, spectral-norm vectors, sampler tables) are not parameters.
    assert config.parameter_count() == sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------------------------
# Serialization


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_save_load_round_trip_is_exact(name: str, overrides: dict[str, Any], tmp_path: Path) -> None:
    model = _create(name, overrides, seed=0).eval()
    _check_sampling_follows_its_generator(model)  # else samples differ for that reason, not the reload
    expected = _outputs(model)
    zoo.save(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]

    torch.manual_seed(1)  # the reloaded model starts from different random weights
    loaded = zoo.load(tmp_path)
    assert type(loaded) is type(model)
    assert loaded.architecture == name and loaded.config == model.config and not loaded.training
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    assert all(torch.equal(state[k], loaded_state[k]) for k in state)
    actual = _outputs(loaded)
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(value, actual[key]), f"{key} differs after save/load"


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_config_json_round_trip(name: str, overrides: dict[str, Any]) -> None:
    config = _create(name, overrides).config
    again = type(config).model_validate_json(config.model_dump_json())
    assert again == config
    if type(config).model_config.get("frozen"):
        assert hash(again) == hash(config)
    json.dumps(zoo.info(name)["config_schema"])  # `zoo info` can show every config


@pytest.mark.parametrize("name", MODELS)
def test_tampered_weights_are_refused(name: str, tmp_path: Path) -> None:
    zoo.save(_create(name, _small(name)), tmp_path)
    weights = tmp_path / "model.safetensors"
    original = load_file(weights)
    with safe_open(weights, "pt") as handle:
        metadata = handle.metadata()  # kept: it records tied parameters, which are stored once
    first = sorted(original)[0]
    reshapable = next(k for k in sorted(original) if original[k].numel() > 1)

    def tampered(tensors: dict[str, torch.Tensor], mentions: str) -> None:
        save_file(tensors, weights, metadata=metadata)
        with pytest.raises(WeightsMismatchError) as excinfo:
            zoo.load(tmp_path)
        assert str(weights) in str(excinfo.value) and mentions in str(excinfo.value)

    tampered({k: v for k, v in original.items() if k != first}, f"missing: ['{first}']")
    tampered({**original, "extra.weight": torch.zeros(2)}, "unexpected: ['extra.weight']")
    wrong = original[reshapable].reshape(-1) if original[reshapable].ndim > 1 else original[reshapable][None]
    tampered({**original, reshapable: wrong.contiguous()}, reshapable)


# ---------------------------------------------------------------------------------------------------------------
# Config validation


def _integer_fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fields whose value is an int, or a tuple of ints, with the schema of the int."""
    fields = {}
    for field, prop in schema.get("properties", {}).items():
        if prop.get("type") == "integer":
            fields[field] = prop
        elif prop.get("type") == "array" and prop.get("items", {}).get("type") == "integer":
            fields[field] = prop
    return fields


@pytest.mark.parametrize("name", MODELS)
def test_unknown_config_key_is_rejected(name: str) -> None:
    with pytest.raises(ConfigError, match="not_a_field"):
        zoo.create(name, not_a_field=1)


@pytest.mark.parametrize("name", MODELS)
def test_negative_sizes_are_rejected(name: str) -> None:
    schema = _spec(name).config.model_json_schema()
    checked = 0
    for field, prop in _integer_fields(schema).items():
        minimum = prop.get("minimum", prop.get("items", {}).get("minimum"))
        if minimum is None or minimum < 0:
            continue
        value: Any = (-1,) if prop.get("type") == "array" else -1
        with pytest.raises(ConfigError, match=field):
            zoo.create(name, **{field: value})
        checked += 1
    if not checked:
        pytest.skip("no bounded integer fields")


@pytest.mark.parametrize("name", MODELS)
def test_config_over_the_parameter_budget_is_rejected_before_allocation(name: str) -> None:
    config_cls = _spec(name).config
    if not issubclass(config_cls, zoo.ModelConfig):
        pytest.skip(f"{config_cls.__name__} is a plain pydantic config; zoo.ModelConfig adds the parameter budget")
    overrides: dict[str, Any] = {}
    for field, prop in _integer_fields(config_cls.model_json_schema()).items():
        if "prefixItems" in prop:
            continue  # a fixed-length tuple such as data_shape is not a width
        if prop["type"] == "integer":
            overrides[field] = prop.get("maximum", 10**9)
        else:
            overrides[field] = (prop["items"].get("maximum", 10**9),) * prop.get("maxItems", 64)
    try:
        config = config_cls.model_validate_json(json.dumps(overrides))
    except ValueError:
        with pytest.raises(ConfigError):
            zoo.create(name, **overrides)
        return
    count = config.parameter_count()
    assert 0 < count <= MAX_PARAMETERS, (
        f"the largest {config_cls.__name__} is accepted but parameter_count() says {count}; bound its fields or "
        "override parameter_count()"
    )


# ---------------------------------------------------------------------------------------------------------------
# Strict loading of damaged or foreign directories: core behaviour, checked once on a probe model of this module


PROBE = "zoo-contract-probe"


class ProbeConfig(zoo.ModelConfig):
    data_shape: tuple[int, int, int] = (1, 3, 3)
    latent_dim: int = Field(2, ge=1, le=64)
    hidden: tuple[int, ...] = Field((4,), max_length=8)

    def parameter_count(self) -> int:
        widths = [math.prod(self.data_shape), *self.hidden, self.latent_dim]
        return sum(a * b + b for a, b in zip(widths, widths[1:], strict=False)) + (
            self.latent_dim * math.prod(self.data_shape) + math.prod(self.data_shape)
        )


class ProbeAE(nn.Module):
    def __init__(self, config: ProbeConfig) -> None:
        super().__init__()
        self.config = config
        widths = [math.prod(config.data_shape), *config.hidden, config.latent_dim]
        self.encoder = nn.Sequential(*(nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False)))
        self.decoder = nn.Linear(config.latent_dim, math.prod(config.data_shape))

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.config.data_shape

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))  # (N, latent_dim)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z)).unflatten(1, self.config.data_shape)  # (N, C, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


@zoo.hookimpl
def zoo_models() -> list[ModelSpec]:
    return [ModelSpec(name=PROBE, config=ProbeConfig, build=ProbeAE)]


@pytest.fixture(scope="module")
def probe_registered() -> Iterator[None]:
    zoo.register_plugin(sys.modules[__name__], name=PROBE)
    try:
        yield
    finally:
        zoo.unregister_plugin(PROBE)


@pytest.fixture
def saved_probe(probe_registered: None, tmp_path: Path) -> Path:
    directory = tmp_path / "probe"
    zoo.save(_create(PROBE, {}), directory)
    return directory


def test_probe_model_round_trips(saved_probe: Path) -> None:
    assert _spec(PROBE).kind == "autoencoder"  # derived from its protocols
    assert isinstance(zoo.load(saved_probe), ProbeAE)


def test_truncated_weights_are_refused(saved_probe: Path) -> None:
    weights = saved_probe / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(LoadError, match="corrupt or truncated") as excinfo:
        zoo.load(saved_probe)
    assert not isinstance(excinfo.value, WeightsMismatchError)
    assert str(weights) in str(excinfo.value)


def test_non_json_config_is_refused(saved_probe: Path) -> None:
    (saved_probe / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON") as excinfo:
        zoo.load(saved_probe)
    assert str(saved_probe / "config.json") in str(excinfo.value)


def test_hostile_config_is_refused_before_allocation(saved_probe: Path) -> None:
    path = saved_probe / "config.json"
    document = json.loads(path.read_text())
    document["config"]["hidden"] = [10**6] * 8
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match="parameters") as excinfo:
        zoo.load(saved_probe)
    assert str(path) in str(excinfo.value)


def test_unknown_architecture_names_the_distribution(saved_probe: Path) -> None:
    path = saved_probe / "config.json"
    document = json.loads(path.read_text())
    document["architecture"] = "acme-flow"
    document["provider"] = {"distribution": "acme-zoo", "version": "1.2.3"}
    path.write_text(json.dumps(document))
    with pytest.raises(MissingArchitectureError, match=r"pip install acme-zoo==1\.2\.3") as excinfo:
        zoo.load(saved_probe)
    assert str(path) in str(excinfo.value)
    assert excinfo.value.architecture == "acme-flow"


def test_directory_without_weights_is_refused(saved_probe: Path) -> None:
    (saved_probe / "model.safetensors").unlink()
    with pytest.raises(LoadError, match="has no model.safetensors") as excinfo:
        zoo.load(saved_probe)
    assert str(saved_probe) in str(excinfo.value)


@pytest.mark.parametrize("keep_config", [True, False], ids=["with-config", "pickle-only"])
def test_pickle_weights_are_never_loaded(saved_probe: Path, keep_config: bool) -> None:
    (saved_probe / "model.safetensors").unlink()
    if not keep_config:
        (saved_probe / "config.json").unlink()
    (saved_probe / "pytorch_model.bin").write_bytes(b"\x80\x04not loaded")
    with pytest.raises(UnsafeWeightsError, match="pytorch_model.bin") as excinfo:
        zoo.load(saved_probe)
    assert str(saved_probe) in str(excinfo.value)


def test_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as excinfo:
        zoo.load(tmp_path)
    assert str(tmp_path) in str(excinfo.value)
