"""What a plugin's ModelSpec is checked for when it registers, beyond its config class: its recipe (the training
defaults it recommends) and config field names that would shadow training fields; and the contract suite's
check that ``sample()`` follows its ``generator=``.

Plugins are registered in-process with ``zoo.register_plugin`` and removed afterwards; the models are the probe
models of ``tests/_probe.py``, so these pass with genzoo-dense installed or blocked.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from pydantic import Field

import zoo
from zoo._registry import get_registry
from zoo.errors import UnknownModelError

import _probe


def _plugin(*specs: zoo.ModelSpec) -> types.SimpleNamespace:
    return types.SimpleNamespace(zoo_models=zoo.hookimpl(lambda: list(specs)))


@pytest.fixture
def registered() -> Iterator[Any]:
    """Registers a plugin object under a test name; returns its ``PluginInfo`` (status and error)."""
    names: list[str] = []

    def register(plugin: object, name: str = "t-specs") -> Any:
        names.append(name)
        zoo.register_plugin(plugin, name=name)
        return next(p for p in get_registry().plugins if p.name == name)

    yield register
    for name in names:
        zoo.unregister_plugin(name)


def _spec(name: str, config: type = _probe.ProbeAEConfig, **fields: Any) -> zoo.ModelSpec:
    return zoo.ModelSpec(name=name, config=config, build=_probe.ProbeAE, **fields)


# -- recipes ---------------------------------------------------------------------------------------------------


def test_a_valid_recipe_registers_and_zoo_info_carries_it(registered: Any) -> None:
    recipe = {"optimizer": {"lr": 2e-4, "betas": (0.5, 0.999)}, "optimizers": {"model": {"lr": 1e-4}},
              "batch_size": 128, "lr_schedule": "cosine"}
    info = registered(_plugin(_spec("t-recipe", recipe=recipe), _spec("t-plain")))
    assert info.status == "ok", info.error
    # Stored as JSON values (the tuple became a list), exactly what the run records.
    assert zoo.info("t-recipe")["recipe"] == {"optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]},
                                              "optimizers": {"model": {"lr": 1e-4}}, "batch_size": 128,
                                              "lr_schedule": "cosine"}
    assert zoo.info("t-plain")["recipe"] == {}


@pytest.mark.parametrize(("recipe", "message"), [
    ({"lr": 2e-4}, "recipe field 'lr' is not a training field; a recipe may set batch_size, "),
    ({"optimiser": {"lr": 2e-4}}, "recipe field 'optimiser' is not a training field; did you mean 'optimizer'?"),
    ({"optimizer": {"lrr": 2e-4}}, "optimizer.lrr: Extra inputs are not permitted"),
    ({"optimizer": {"lr": -1.0}}, "optimizer.lr: Input should be greater than 0"),
    ({"epochs": 2, "steps": 5}, "give epochs or steps, not both"),
    ({"out": "runs/mine"}, "recipe sets 'out', which is the caller's choice"),
])
def test_a_bad_recipe_refuses_the_model_and_marks_the_plugin_broken(registered: Any, recipe: dict[str, Any],
                                                                     message: str) -> None:
    info = registered(_plugin(_spec("t-bad-recipe", recipe=recipe), _spec("t-good")))
    assert info.status == "broken" and "model 't-bad-recipe'" in info.error and message in info.error
    assert "t-good" in zoo.list_models() and "t-bad-recipe" not in zoo.list_models()  # only that model is refused
    with pytest.raises(UnknownModelError, match="'t-bad-recipe' was refused when its plugin registered"):
        zoo.create("t-bad-recipe")


def test_a_recipe_that_is_not_a_dict_is_refused_when_the_spec_is_made() -> None:
    with pytest.raises(zoo.errors.ConfigError, match="recipe must be a dict of training fields"):
        _spec("t-list-recipe", recipe=[("optimizer", {"lr": 1e-3})])


@pytest.mark.dense
def test_the_dense_gans_recommend_the_settings_their_entries_were_trained_with() -> None:
    for name in ("dense-gan", "dense-cgan"):
        assert zoo.info(name)["recipe"] == {"optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]}}
        command = get_registry().weights_entry(f"{name}.mnist5k").command
        assert "--lr 2e-4" in command and "optimizer.betas=[0.5,0.999]" in command


# -- model fields named like training fields ---------------------------------------------------------------------


class SeededConfig(_probe.ProbeAEConfig):
    seed: int = Field(0, ge=0, le=1000, description="a model field that would shadow the training seed")


class AliasedConfig(_probe.ProbeAEConfig):
    warmup: int = Field(0, ge=0, le=10, alias="warmup_steps")


@pytest.mark.parametrize(("config", "field"), [(SeededConfig, "'seed'"), (AliasedConfig, "'warmup'")])
def test_a_model_field_named_like_a_training_field_is_refused(registered: Any, config: type, field: str) -> None:
    info = registered(_plugin(_spec("t-shadow", config=config)))
    assert info.status == "broken"
    assert f"model 't-shadow': config field {field} of {config.__name__} has the name of a training field" in info.error
    assert "rename the model field" in info.error
    assert "t-shadow" not in zoo.list_models()


# -- the contract suite: sample() must follow generator= ----------------------------------------------------------


class CarelessVAE(_probe.ProbeVAE):
    """Draws its noise from the global RNG, ignoring ``generator=``."""

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return super().sample(n)


def test_the_contract_suite_says_when_sample_ignores_its_generator() -> None:
    from zoo.testing.test_contract import _check_sampling_follows_its_generator

    config = _probe.ProbeVAEConfig(data_shape=(1, 4, 4))
    _check_sampling_follows_its_generator(_probe.ProbeVAE(config).eval())
    with pytest.raises(AssertionError, match=r"sample\(n, generator=\) ignores its generator: two draws with the "
                       "same generator seed differ"):
        _check_sampling_follows_its_generator(CarelessVAE(config).eval())
