"""zoo.sampling: the Gaussian-mixture latent sampler VAEs share (fitted after training, kept in buffers)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.sampling import fit_mixture, register_mixture, sample_mixture

pytest.importorskip("sklearn")


def two_clusters(n: int = 400) -> torch.Tensor:
    torch.manual_seed(0)
    centres = torch.tensor([[-4.0, 0.0], [4.0, 1.0]])
    return centres[torch.arange(n) % 2] + 0.3 * torch.randn(n, 2)  # (n, 2)


@pytest.mark.parametrize("full", [False, True])
def test_a_fitted_mixture_samples_near_the_clusters_and_is_saved_as_buffers(full: bool) -> None:
    module = nn.Module()
    register_mixture(module, components=2, dim=2, full=full)
    assert set(module.state_dict()) == {"sampler_weights", "sampler_means", "sampler_logvars"} | (
        {"sampler_scale_tril"} if full else set())
    fit_mixture(module, two_clusters(), full=full)
    assert sorted(module.sampler_means[:, 0].round().tolist()) == [-4.0, 4.0]
    generator = torch.Generator().manual_seed(1)
    z = sample_mixture(module, torch.randn(1000, 2, generator=generator), full=full, generator=generator)
    assert z.shape == (1000, 2)
    near = torch.cdist(z, module.sampler_means).min(dim=1).values
    assert (near < 1.5).float().mean() > 0.99  # every sample from one of the two components
    assert 0.4 < (z[:, 0] > 0).float().mean() < 0.6  # both, in proportion to the weights


def test_fit_refuses_latents_it_cannot_fit() -> None:
    module = nn.Module()
    register_mixture(module, components=3, dim=2, full=False)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        fit_mixture(module, torch.zeros(10, 5), full=False)
    with pytest.raises(ValueError, match="at least sampler_components=3"):
        fit_mixture(module, torch.zeros(2, 2), full=False)
    with pytest.raises(ValueError, match="NaN or Inf"):
        fit_mixture(module, torch.full((10, 2), float("nan")), full=False)
