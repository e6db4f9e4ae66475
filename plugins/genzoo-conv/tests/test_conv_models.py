"""What is specific to the first-party genzoo-conv models (the shipped contract covers what every model keeps).

Skipped when the plugin is not installed or is blocked (``ZOO_BLOCK_PLUGINS=conv``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import zoo
from zoo.errors import ConfigError

CONV = ["dcgan", "conv-cgan", "conv-ae", "conv-dae", "conv-vae"]
PACKAGE = Path(__file__).resolve().parents[1] / "zoo_conv"

pytestmark = pytest.mark.conv  # the first-party conv models: skipped when genzoo-conv is missing or blocked


def _in_unit_range(t: torch.Tensor) -> bool:
    return bool(((t >= 0) & (t <= 1)).all())


def test_registry_lists_the_conv_models_with_kinds_from_their_protocols() -> None:
    kinds = {name: zoo.info(name)["kind"] for name in CONV}
    assert kinds == {"dcgan": "gan", "conv-cgan": "gan", "conv-ae": "autoencoder", "conv-dae": "autoencoder",
                     "conv-vae": "variational-autoencoder"}


def test_the_plugin_uses_only_the_public_api() -> None:
    # A third-party package could have written it: no `zoo._private` import anywhere in the distribution.
    private = re.compile(r"\bzoo\._\w|\bfrom zoo import _")
    offenders = [path.name for path in PACKAGE.glob("*.py") if private.search(path.read_text())]
    assert offenders == []


@pytest.mark.parametrize(
    ("name", "overrides", "nearest"),
    [
        ("dcgan", {"data_shape": (3, 30, 30)}, "use 28 or 32"),
        ("dcgan", {"data_shape": (1, 28, 28), "stages": 3}, "use 24 or 32"),
        ("conv-cgan", {"data_shape": (1, 28, 30)}, "width 30 is not a multiple of 4"),
        ("conv-ae", {"data_shape": (3, 2, 8)}, "halves it): use 4;"),
        ("conv-vae", {"data_shape": (1, 20, 20), "channels": (8, 8, 8)}, "use 16 or 24"),
    ],
)
def test_a_shape_the_architecture_cannot_take_is_refused_naming_the_nearest_valid(
        name: str, overrides: dict[str, object], nearest: str) -> None:
    with pytest.raises(ConfigError, match="data_shape") as excinfo:
        zoo.create(name, **overrides)
    assert nearest in str(excinfo.value)


@pytest.mark.parametrize("channels", [1, 2, 3, 5])
def test_any_channel_count(channels: int) -> None:
    model = zoo.create("dcgan", data_shape=(channels, 16, 12), latent_dim=4, generator_channels=4,
                       discriminator_channels=4).eval()
    samples = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (3, channels, 16, 12) and _in_unit_range(samples)
    assert model.discriminator(samples).shape == (3,)


def test_out_of_bounds_shapes_are_refused() -> None:
    with pytest.raises(ConfigError, match="data_shape"):
        zoo.create("conv-dae", data_shape=(65, 8, 8))
    with pytest.raises(ConfigError, match="data_shape"):
        zoo.create("conv-dae", data_shape=(3, 8, 1025))


def test_dcgan_default_is_the_classic_mnist_design() -> None:
    model = zoo.create("dcgan")
    convs = [(m.in_channels, m.out_channels) for m in model.generator.modules()
             if isinstance(m, torch.nn.ConvTranspose2d)]
    assert convs == [(128, 64), (64, 1)]
    assert model.generator.project.out_features == 128 * 7 * 7
    assert model.discriminator(torch.rand(2, 1, 28, 28)).shape == (2,)


def test_spectral_norm_and_batchnorm_are_options() -> None:
    plain = zoo.create("dcgan", data_shape=(1, 8, 8), generator_channels=4, discriminator_channels=4)
    normed = zoo.create("dcgan", data_shape=(1, 8, 8), generator_channels=4, discriminator_channels=4,
                        spectral_norm=True, discriminator_batchnorm=True, generator_batchnorm=False)
    def names(model: torch.nn.Module, cls: type) -> int:
        return sum(isinstance(m, cls) for m in model.modules())
    assert names(plain.generator, torch.nn.BatchNorm2d) == 2 and names(plain.discriminator, torch.nn.BatchNorm2d) == 0
    assert names(normed.generator, torch.nn.BatchNorm2d) == 0 and names(normed.discriminator, torch.nn.BatchNorm2d) == 1
    assert any("parametrizations" in n for n, _ in normed.discriminator.named_parameters())


@pytest.mark.parametrize("architecture", ["dcgan", "conv-cgan"])
def test_minibatch_std_lets_the_discriminator_tell_a_collapsed_batch(architecture: str) -> None:
    from zoo_conv._layers import MinibatchStd

    model = zoo.create(architecture, data_shape=(1, 8, 8), generator_channels=4, discriminator_channels=4,
                       minibatch_std=True)
    assert sum(p.numel() for p in model.parameters()) == model.config.parameter_count()
    layer = MinibatchStd()
    varied, collapsed = torch.rand(4, 2, 3, 3), torch.rand(1, 2, 3, 3).expand(4, 2, 3, 3)
    assert layer(varied).shape == (4, 3, 3, 3) and layer(varied)[:, 2].min() > 0
    assert torch.equal(layer(collapsed)[:, 2], torch.zeros(4, 3, 3))  # a collapsed batch has no spread
    assert torch.equal(layer(varied[:1])[:, 2], torch.zeros(1, 3, 3))  # nor has a batch of one
    images = torch.rand(4, 1, 8, 8)
    args = () if architecture == "dcgan" else (torch.arange(4) % 2,)
    assert model.discriminator(images, *args).shape == (4,)


def test_conditional_samples_follow_their_labels_argument() -> None:
    model = zoo.create("conv-cgan", data_shape=(3, 8, 8), num_classes=4, latent_dim=4, generator_channels=4,
                       discriminator_channels=4).eval()
    assert isinstance(model, zoo.ConditionalGenerator) and model.num_classes == 4
    seed = torch.Generator().manual_seed(3)
    same = model.sample(5, labels=2, generator=seed)
    assert same.shape == (5, 3, 8, 8) and _in_unit_range(same)
    again = model.sample(5, labels=torch.full((5,), 2), generator=torch.Generator().manual_seed(3))
    assert torch.equal(same, again)
    with pytest.raises(ValueError, match="0..3"):
        model.sample(2, labels=4)
    assert model.discriminator(same, torch.full((5,), 2)).shape == (5,)


def test_the_denoiser_is_fully_convolutional() -> None:
    torch.manual_seed(0)
    model = zoo.create("conv-dae", data_shape=(3, 8, 8), depth=3, width=4).eval()
    photo = torch.rand(2, 3, 37, 53)  # another size than the training crops, odd sides included
    with torch.no_grad():
        denoised = model(model.corrupt(photo, generator=torch.Generator().manual_seed(0)))
    assert denoised.shape == photo.shape and _in_unit_range(denoised)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.rand(1, 1, 8, 8))


def test_the_denoiser_draws_a_noise_level_per_image_in_its_range() -> None:
    model = zoo.create("conv-dae", data_shape=(1, 32, 32), depth=2, width=2, noise_range=(0.02, 0.2))
    clean = torch.full((64, 1, 32, 32), 0.5)
    noisy = model.corrupt(clean, generator=torch.Generator().manual_seed(0))
    stds = (noisy - clean).flatten(1).std(dim=1)
    assert 0.015 < float(stds.min()) and float(stds.max()) < 0.22 and float(stds.max() - stds.min()) > 0.1
    with pytest.raises(ConfigError, match="noise_range"):
        zoo.create("conv-dae", noise_range=(0.3, 0.1))


def test_the_denoiser_can_learn_without_a_colour_prior() -> None:
    model = zoo.create("conv-dae", data_shape=(3, 4, 4), depth=2, width=2, channel_shuffle=1.0)
    clean = torch.stack([torch.full((4, 4), float(v)) for v in (0.1, 0.5, 0.9)]).expand(256, 3, 4, 4)
    shuffled = model.shuffle_channels(clean, generator=torch.Generator().manual_seed(0))
    values = shuffled[:, :, 0, 0]  # (256, 3): one value per channel, a permutation of (0.1, 0.5, 0.9) per image
    assert torch.equal(values.sort(dim=1).values, clean[:, :, 0, 0])
    assert len({tuple(row) for row in values.tolist()}) == 6  # every order of three channels occurs
    assert (shuffled == shuffled[:, :, :1, :1]).all()  # whole channels move, not pixels
    kept = zoo.create("conv-dae", data_shape=(3, 4, 4), depth=2, width=2)  # channel_shuffle=0 by default
    assert kept.shuffle_channels(clean) is clean
    gray = zoo.create("conv-dae", data_shape=(1, 4, 4), depth=2, width=2, channel_shuffle=1.0)
    assert torch.equal(gray.shuffle_channels(clean[:, :1]), clean[:, :1])
    half = zoo.create("conv-dae", data_shape=(3, 4, 4), depth=2, width=2, channel_shuffle=0.5)
    moved = (half.shuffle_channels(clean, generator=torch.Generator().manual_seed(1)) != clean).flatten(1).any(1)
    assert 0.3 < float(moved.float().mean()) < 0.55  # half the images drawn, 5/6 of those reordered


def test_the_denoiser_keeps_its_output_on_any_size_after_save_and_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = zoo.create("conv-dae", data_shape=(3, 8, 8), depth=3, width=4).eval()
    photo = torch.rand(1, 3, 20, 24)
    zoo.save(model, tmp_path)
    loaded = zoo.load(tmp_path)
    with torch.no_grad():
        assert torch.equal(model(photo), loaded(photo))


def test_a_spatial_bottleneck_makes_the_autoencoders_fully_convolutional() -> None:
    for name in ("conv-ae", "conv-vae"):
        model = zoo.create(name, data_shape=(3, 16, 16), channels=(4, 4), bottleneck="spatial",
                           latent_channels=2).eval()
        with torch.no_grad():
            assert model(torch.rand(2, 3, 32, 48)).shape == (2, 3, 32, 48)
            assert model.encode(torch.rand(2, 3, 16, 16)).shape == (2, 2 * 4 * 4)
        with pytest.raises(ValueError, match="multiples of 4"):
            model(torch.rand(1, 3, 30, 32))
    dense = zoo.create("conv-ae", data_shape=(3, 16, 16), channels=(4, 4)).eval()
    with pytest.raises(ValueError, match="spatial"):
        dense(torch.rand(1, 3, 32, 32))


def test_the_vae_sampler_is_fitted_to_the_latents() -> None:
    pytest.importorskip("sklearn")
    model = zoo.create("conv-vae", data_shape=(1, 8, 8), channels=(4,), latent_dim=2, sampler_components=2).eval()
    latents = torch.cat([torch.randn(50, 2) * 0.1 + 3, torch.randn(50, 2) * 0.1 - 3])
    model.fit_sampler(latents)
    assert sorted(model.sampler_means[:, 0].round().tolist()) == [-3.0, 3.0]
    assert model.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 1, 8, 8)


@pytest.mark.parametrize("name", CONV)
def test_each_architecture_trains_end_to_end(name: str, tmp_path: Path) -> None:
    from zoo.train import TrainConfig, train

    overrides = {"data_shape": (1, 8, 8), **_tiny(name)}
    result = train(name, TrainConfig(data="digits", steps=3, batch_size=16, out=str(tmp_path / name)), quiet=True,
                   **overrides)
    assert result.status == "completed"
    loaded = zoo.load(result.out)
    assert loaded.architecture == name


def _tiny(name: str) -> dict[str, object]:
    return {
        "dcgan": {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4},
        "conv-cgan": {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4},
        "conv-ae": {"channels": (4, 4), "latent_dim": 4},
        "conv-dae": {"depth": 3, "width": 4},
        "conv-vae": {"channels": (4, 4), "latent_dim": 2, "sampler_components": 2},
    }[name]


def test_the_gans_recommend_their_training_settings() -> None:
    for name in ("dcgan", "conv-cgan"):
        assert zoo.info(name)["recipe"] == {"optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]}}
    assert zoo.info(name)["distribution"] == "genzoo-conv"  # registered through its entry point


def test_a_run_records_the_recipe_unless_overridden(tmp_path: Path) -> None:
    import json

    from zoo.train import TrainConfig, train

    result = train("dcgan", TrainConfig(data="digits", steps=1, batch_size=8, out=str(tmp_path / "run")), quiet=True,
                   data_shape=(1, 8, 8), **_tiny("dcgan"))
    recorded = json.loads((Path(result.out) / "train_config.json").read_text())
    assert recorded["optimizer"]["lr"] == 2e-4 and recorded["optimizer"]["betas"] == [0.5, 0.999]


def test_the_mode_seeking_term_charges_a_generator_that_ignores_its_noise() -> None:
    from types import SimpleNamespace

    from zoo_conv._train import cgan_objective

    torch.manual_seed(0)
    model = zoo.create("conv-cgan", data_shape=(1, 8, 8), num_classes=3, diversity_weight=1.0, **_tiny("conv-cgan"))
    objective = cgan_objective(model)
    batch = SimpleNamespace(images=torch.rand(6, 1, 8, 8), labels=torch.tensor([0, 1, 2, 0, 1, 2]))
    loss, logs = objective.loss(model, "generator", batch)
    loss = loss.detach()
    assert float(logs["diversity"]) > 0 and torch.isfinite(loss)
    with torch.no_grad():
        model.generator.project.weight[:, : model.config.latent_dim] = 0  # the noise no longer reaches the images
    collapsed, logs = objective.loss(model, "generator", batch)
    assert float(logs["diversity"]) < 1e-6 and float(collapsed.detach()) > 1e3 * float(loss)
    plain, logs = cgan_objective(zoo.create("conv-cgan", data_shape=(1, 8, 8), num_classes=3, diversity_weight=0.0,
                                            **_tiny("conv-cgan"))).loss(model, "generator", batch)
    assert "diversity" not in logs and float(plain.detach()) < 100  # 0 turns it off


# -- dcgan with clusters: self-conditioning ------------------------------------------------------------------------

_SELF_CONDITIONED = {"data_shape": (1, 8, 8), "latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4,
                     "clusters": 3}


def test_self_conditioning_refuses_options_its_networks_would_ignore() -> None:
    with pytest.raises(ConfigError, match="clusters=1: give 0"):
        zoo.create("dcgan", clusters=1)
    with pytest.raises(ConfigError, match=r"loss='hinge', d_steps=2 cannot be combined with clusters=3"):
        zoo.create("dcgan", clusters=3, loss="hinge", d_steps=2)


def test_self_conditioned_dcgan_is_an_unconditional_generator() -> None:
    model = zoo.create("dcgan", **_SELF_CONDITIONED).eval()
    # No labels in its interface: zoo eval and the CLI treat it as any dcgan.
    assert isinstance(model, zoo.Generator) and not isinstance(model, zoo.ConditionalGenerator)
    assert model.discriminator(torch.rand(5, 1, 8, 8)).shape == (5,)
    assert model.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 1, 8, 8)


def _blobs(n: int) -> torch.Tensor:
    """``n`` 1x8x8 images, each one of three flat grey levels plus a little noise: three obvious clusters."""
    levels = torch.tensor([0.1, 0.5, 0.9])[torch.arange(n) % 3]
    return (levels.view(n, 1, 1, 1) + 0.01 * torch.randn(n, 1, 8, 8)).clamp(0, 1)


def test_the_clusters_move_during_cluster_steps_then_hold() -> None:
    torch.manual_seed(0)
    model = zoo.create("dcgan", **{**_SELF_CONDITIONED, "cluster_steps": 20})
    discriminator = model.discriminator
    for _ in range(20):
        discriminator.update_clusters(_blobs(12))
    # Every grey level found its own centroid (first seeds are the first batch's images, one per level).
    levels = sorted(round(float(c.mean()), 1) for c in discriminator.centroids)
    assert levels == [0.1, 0.5, 0.9]
    held = discriminator.centroids.clone()
    discriminator.update_clusters(_blobs(12).flip(0) * 0.5)
    assert torch.equal(discriminator.centroids, held)


def test_samples_draw_clusters_at_their_training_frequency() -> None:
    torch.manual_seed(0)
    model = zoo.create("dcgan", **_SELF_CONDITIONED)
    model.discriminator.update_clusters(_blobs(3))
    images = torch.cat([_blobs(3)[:1].expand(6, -1, -1, -1), _blobs(3)[1:]])  # 6, 1 and 1 of the three levels
    model.fit_cluster_frequency(images)
    assert sorted(model.cluster_frequency.tolist()) == pytest.approx([0.125, 0.125, 0.75])
    model.eval()
    seen: list[int] = []
    sampler = model.sampling_generator
    original = sampler.clusters

    def spy(picks: torch.Tensor) -> torch.Tensor:
        clusters = original(picks)
        seen.extend(clusters.tolist())
        return clusters

    sampler.clusters = spy  # type: ignore[method-assign]
    model.sample(2000, generator=torch.Generator().manual_seed(1))
    common = int(model.cluster_frequency.argmax())
    assert abs(seen.count(common) / 2000 - 0.75) < 0.04


def test_self_conditioned_training_fits_the_cluster_frequency(tmp_path: Path) -> None:
    from zoo.train import TrainConfig, train

    result = train("dcgan", TrainConfig(data="digits", steps=4, batch_size=16, out=str(tmp_path / "run")),
                   quiet=True, **{**_SELF_CONDITIONED, "cluster_steps": 2})
    model = zoo.load(result.out)
    assert int(model.discriminator.cluster_updates) == 4  # the counter runs on; the centroids held after 2
    frequency = model.cluster_frequency
    assert float(frequency.sum()) == pytest.approx(1.0) and not torch.equal(frequency, torch.full((3,), 1 / 3))


@pytest.mark.parametrize("clusters", [0, 3])
def test_temperature_scales_the_sampled_noise_but_not_training_or_the_cluster_pick(clusters: int) -> None:
    fields = {**_SELF_CONDITIONED, "clusters": clusters}
    warm = zoo.create("dcgan", **fields).eval()
    cool = zoo.create("dcgan", **fields, temperature=0.5).eval()
    cool.load_state_dict(warm.state_dict())
    latents = torch.randn(6, warm.sampling_generator.latent_dim, generator=torch.Generator().manual_seed(0))
    scaled = latents.clone()
    scaled[:, : fields["latent_dim"]] *= 0.5  # the noise; a self-conditioned latent's last coordinate picks the cluster
    drawn = cool.sample(6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(drawn, warm.sampling_generator(scaled))
    assert not torch.allclose(drawn, warm.sample(6, generator=torch.Generator().manual_seed(0)))
    if not clusters:  # training draws its fakes at temperature 1
        torch.manual_seed(1)
        trained_cool = cool.generator.sample(4)
        torch.manual_seed(1)
        assert torch.equal(trained_cool, warm.generator.sample(4))
