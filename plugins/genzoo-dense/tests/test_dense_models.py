"""What is specific to the first-party genzoo-dense models (the shipped contract covers what every model keeps).

Skipped when the plugin is not installed or is blocked (``ZOO_BLOCK_PLUGINS=dense``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError

DENSE = ["dense-ae", "dense-dae", "dense-vae", "dense-gan"]

pytestmark = pytest.mark.dense  # the first-party models: skipped when genzoo-dense is missing or blocked


def _spec(name: str) -> zoo.ModelSpec:
    """The spec genzoo-dense hands zoo for ``name``, from the plugin's own hook (zoo's registry is private)."""
    from zoo_dense.plugin import zoo_models

    return next(spec for spec in zoo_models() if spec.name == name)


def _small(name: str, index: int = 0) -> dict[str, Any]:
    return _spec(name).small_configs[index]


def _in_unit_range(t: torch.Tensor) -> bool:
    return bool(((t >= 0) & (t <= 1)).all())


def test_registry_lists_the_first_party_models() -> None:
    assert set(DENSE) | {"digit-cnn"} <= set(zoo.list_models())


def test_kinds_are_derived_from_the_protocols() -> None:
    # The dense specs name no kind; the registry derives it from what each model implements.
    kinds = {name: zoo.info(name)["kind"] for name in [*DENSE, "digit-cnn"]}
    assert kinds == {"dense-ae": "autoencoder", "dense-dae": "autoencoder", "dense-vae": "variational-autoencoder",
                     "dense-gan": "gan", "digit-cnn": "classifier"}


def test_dense_ae_default_is_the_reference_design() -> None:
    model = zoo.create("dense-ae")
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears == [(784, 64), (64, 64), (64, 784)]
    assert isinstance(model.encoder[-1], nn.ReLU)  # the latent is activated
    assert model.config.parameter_count() == 105_360


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"encoder_hidden": (64,) * 9}, "at most 8"),
        ({"activation": "tanh"}, "activation"),
        ({"data_shape": (5, 28, 28)}, "data_shape"),
        ({"data_shape": (3, 128, 128)}, "flattens to 49,152"),
        ({"latent_dim": "64"}, "latent_dim"),  # strict: no silent coercion
        ({"latent_dim": 4096, "decoder_hidden": (4096,) * 4}, "parameters, above the limit"),
    ],
)
def test_dense_ae_rejects_nonsense(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        zoo.create("dense-ae", **overrides)


def test_list_overrides_become_tuples() -> None:
    model = zoo.create("dense-ae", encoder_hidden=[32], data_shape=[1, 8, 8])
    assert model.config.encoder_hidden == (32,) and model.config.data_shape == (1, 8, 8)


@pytest.mark.parametrize("name", ["dense-ae", "dense-dae", "dense-vae"])
def test_autoencoders_take_flat_and_image_input_and_answer_in_kind(name: str) -> None:
    model = zoo.create(name).eval()
    images = torch.rand(3, 1, 28, 28)
    flat = images.flatten(1)  # (3, 784): the form the reference design and most users hold
    with torch.no_grad():
        assert torch.equal(model.encode(flat), model.encode(images))
        out_flat, out_images = model(flat), model(images)
    assert out_flat.shape == (3, 784) and out_images.shape == (3, 1, 28, 28)
    assert torch.equal(out_flat, out_images.flatten(1))


def test_gan_discriminator_takes_flat_input() -> None:
    model = zoo.create("dense-gan", **_small("dense-gan")).eval()
    images = torch.rand(4, *model.data_shape)
    with torch.no_grad():
        assert torch.equal(model.discriminator(images.flatten(1)), model.discriminator(images))


def test_dense_dae_corrupts_flat_input_in_its_shape() -> None:
    model = zoo.create("dense-dae")
    flat = torch.rand(5, 784)
    assert model.corrupt(flat, generator=torch.Generator().manual_seed(0)).shape == (5, 784)


@pytest.mark.parametrize("shape", [(2, 783), (2, 1, 28, 27), (2, 28, 28)])
def test_wrongly_shaped_input_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 1, 28, 28\) or flat \(N, 784\)"):
        zoo.create("dense-ae")(torch.rand(*shape))


@pytest.mark.parametrize("corruption", ["gaussian", "masking"])
def test_dense_dae_corrupts_reproducibly_within_range(corruption: str) -> None:
    model = zoo.create("dense-dae", corruption=corruption, noise_level=0.5).eval()
    x = torch.rand(64, 1, 28, 28)
    a = model.corrupt(x, generator=torch.Generator().manual_seed(0))
    b = model.corrupt(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not torch.equal(a, x) and _in_unit_range(a)
    if corruption == "masking":
        dropped = ((a == 0) & (x > 0)).float().mean().item()
        assert 0.45 < dropped < 0.55
    assert torch.equal(model(x), model.decode(model.encode(x)))  # forward does not corrupt


def test_dense_vae_encode_is_the_mean_and_eval_is_deterministic() -> None:
    model = zoo.create("dense-vae").eval()
    x = torch.rand(5, 1, 28, 28)
    mean, logvar = model.encode_distribution(x)
    assert mean.shape == logvar.shape == (5, 16)
    assert torch.equal(model.encode(x), mean)
    assert torch.equal(model(x), model.decode(mean))
    model.train()
    assert not torch.equal(model(x), model(x))  # sampled in training mode


def test_dense_vae_gmm_sampler_fits_and_survives_save_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = zoo.create("dense-vae", **_small("dense-vae")).eval()  # gmm sampler, 3 components, 2-d latents
    assert model.config.sampler == "gmm" and model.config.latent_dim == 2
    centres = torch.tensor([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])
    latents = centres.repeat_interleave(50, dim=0) + 0.1 * torch.randn(150, 2)
    before = model.sample(4, generator=torch.Generator().manual_seed(0))
    model.fit_sampler(latents)
    means = model.sampler_means[model.sampler_means[:, 0].argsort()]
    assert torch.allclose(means, centres, atol=0.1)
    assert torch.allclose(model.sampler_weights, torch.full((3,), 1 / 3), atol=0.01)
    after = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(before, after) and _in_unit_range(after)
    zoo.save(model, tmp_path)
    loaded = zoo.load(tmp_path)
    assert torch.equal(loaded.sampler_means, model.sampler_means)
    assert torch.equal(loaded.sample(4, generator=torch.Generator().manual_seed(0)), after)


def test_dense_vae_fit_sampler_refuses_bad_latents() -> None:
    model = zoo.create("dense-vae", sampler_components=4)
    with pytest.raises(ValueError, match=r"latents of shape \(N, 16\)"):
        model.fit_sampler(torch.zeros(10, 3))
    with pytest.raises(ValueError, match="at least sampler_components=4"):
        model.fit_sampler(torch.zeros(3, 16))


def test_dense_gan_training_samples_carry_gradients_and_ema_copy_is_frozen() -> None:
    model = zoo.create("dense-gan", **{**_small("dense-gan", 1), "ema_decay": 0.9}).train()
    assert model.generator.sample(2).requires_grad  # what the adversarial objective trains through
    assert not model.sample(2).requires_grad  # what users get
    ema = model.generator_ema
    assert ema is not None and not ema.training
    assert not any(p.requires_grad for p in ema.parameters())
    assert any(k.startswith("generator_ema.") for k in model.state_dict())
    with torch.no_grad():
        for p in ema.parameters():
            p.add_(1.0)  # now model.sample must differ from model.generator.sample
    seed = torch.Generator().manual_seed(0)
    with torch.no_grad():
        assert not torch.equal(model.sample(3, generator=seed), model.generator.eval().sample(3, generator=seed))
    assert zoo.create("dense-gan").generator_ema is None


def test_dense_gan_spectral_norm_wraps_every_discriminator_linear() -> None:
    model = zoo.create("dense-gan", spectral_norm=True)
    linears = [m for m in model.discriminator.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3 and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in linears)


@pytest.mark.parametrize("ema_decay", [1.0, -0.1])
def test_dense_gan_rejects_ema_decay_outside_unit_interval(ema_decay: float) -> None:
    with pytest.raises(ConfigError, match="ema_decay"):
        zoo.create("dense-gan", ema_decay=ema_decay)


def test_samples_are_reproducible_with_a_seeded_generator() -> None:
    # Noise is drawn on the generator's device, so a CPU generator also reproduces a CUDA model's samples
    # (checked on a GPU machine; CPU-only CI can check reproducibility alone).
    model = zoo.create("dense-gan", **_small("dense-gan")).eval()
    a = model.sample(2, generator=torch.Generator().manual_seed(3))
    b = model.sample(2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("name", "overrides", "expected"),
    [
        ("dense-ae", {"loss": "bce", "output_activation": "sigmoid"}, {"loss_kind": "bce", "corruption": None}),
        ("dense-dae", {}, {"loss_kind": "mse"}),
        ("dense-vae", {"beta": 4.0, "reconstruction": "mse"}, {"beta": 4.0, "reconstruction": "mse"}),
        (
            "dense-gan",
            {"loss": "wasserstein-gp", "d_steps": 5, "gp_weight": 5.0, "ema_decay": 0.5},
            {"loss_kind": "wasserstein-gp", "d_steps": 5, "gp_weight": 5.0, "ema_decay": 0.5},
        ),
    ],
)
def test_dense_objectives_follow_the_config(name: str, overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    train = pytest.importorskip("zoo.train")
    model = zoo.create(name, **overrides)
    factory = _spec(name).objective
    assert factory is not None
    objective = factory(model)
    assert isinstance(objective, train.Objective)
    for attribute, value in expected.items():
        assert getattr(objective, attribute) == value
    if name == "dense-dae":
        assert objective.corruption == model.corrupt


def test_first_party_package_exports() -> None:
    import zoo_dense

    assert zoo_dense.__all__ == sorted(zoo_dense.__all__)
    assert all(isinstance(getattr(zoo_dense, n), type) for n in zoo_dense.__all__)
    assert math.prod(zoo_dense.DenseAEConfig().data_shape) == 784
