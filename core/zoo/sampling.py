"""A Gaussian-mixture latent sampler that any VAE can keep: fitted to its encoded training latents after training.

Sampling a VAE's prior ``N(0, I)`` reaches codes its decoder never saw; a mixture fitted to the aggregate posterior
(the encoded training set) gives much better samples. The mixture lives in four buffers of the model, so that it
is saved, loaded (strictly) and pushed with the weights:

- ``sampler_weights`` ``(K,)``, ``sampler_means`` ``(K, D)``, ``sampler_logvars`` ``(K, D)`` (diagonal
  log-variances), and, for full-covariance components only, ``sampler_scale_tril`` ``(K, D, D)`` (Cholesky factors).

>>> register_mixture(self, components=10, dim=16, full=False)   # in __init__: starts as the prior
>>> fit_mixture(self, latents, full=False)                       # in fit_sampler (needs scikit-learn)
>>> z = sample_mixture(self, noise, full=False, generator=g)     # in sample: noise (n, D) -> latents (n, D)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["fit_mixture", "register_mixture", "sample_mixture"]


def register_mixture(module: nn.Module, *, components: int, dim: int, full: bool) -> None:
    """Register the mixture's buffers on ``module``, equal weights, zero means and unit variances (the prior).

    The buffers always exist with fixed shapes, so that strict loading works whether or not it was fitted.
    """
    module.register_buffer("sampler_weights", torch.full((components,), 1.0 / components))
    module.register_buffer("sampler_means", torch.zeros(components, dim))
    module.register_buffer("sampler_logvars", torch.zeros(components, dim))
    if full:
        module.register_buffer("sampler_scale_tril", torch.eye(dim).repeat(components, 1, 1))


@torch.no_grad()
def fit_mixture(module: nn.Module, latents: Tensor, *, full: bool) -> None:
    """Fit ``module``'s mixture (diagonal, or full-covariance with ``full``) to ``latents`` ``(N, D)``.

    Only the ``sampler_*`` buffers change. Uses scikit-learn's ``GaussianMixture`` (seeded, so a refit of the same
    latents gives the same mixture).
    """
    try:
        from sklearn.mixture import GaussianMixture
    except ImportError as exc:
        raise ImportError(f"{type(module).__name__}.fit_sampler needs scikit-learn; install it with "
                          "`pip install scikit-learn` (or `pip install genzoo[eval]`)") from exc
    means: Tensor = module.sampler_means  # type: ignore[assignment]
    k, d = means.shape
    if latents.ndim != 2 or latents.shape[1] != d:
        raise ValueError(f"fit_sampler expects latents of shape (N, {d}), got {tuple(latents.shape)}")
    if latents.shape[0] < k:
        raise ValueError(f"fit_sampler needs at least sampler_components={k} latents, got {latents.shape[0]}; "
                         "encode more of the training set")
    if not torch.isfinite(latents).all():
        raise ValueError("fit_sampler got latents holding NaN or Inf")
    gmm = GaussianMixture(n_components=k, covariance_type="full" if full else "diag", random_state=0)
    gmm.fit(latents.detach().to("cpu", torch.float64).numpy())
    module.sampler_weights.copy_(torch.from_numpy(gmm.weights_))  # type: ignore[operator]
    means.copy_(torch.from_numpy(gmm.means_))
    covariances = torch.from_numpy(gmm.covariances_)  # (K, D, D) full, (K, D) diagonal
    logvars: Tensor = module.sampler_logvars  # type: ignore[assignment]
    if full:
        module.sampler_scale_tril.copy_(torch.linalg.cholesky(covariances))  # type: ignore[operator]
        logvars.copy_(covariances.diagonal(dim1=1, dim2=2).log())
    else:
        logvars.copy_(covariances.log())


def sample_mixture(module: nn.Module, noise: Tensor, *, full: bool,
                   generator: torch.Generator | None = None) -> Tensor:
    """Latents ``(n, D)`` from ``module``'s mixture: a component per row drawn by weight (with ``generator``),
    then its mean plus its scale applied to the row of standard normal ``noise`` ``(n, D)``."""
    means: Tensor = module.sampler_means  # type: ignore[assignment]
    weights: Tensor = module.sampler_weights  # type: ignore[assignment]
    source = generator.device if generator is not None else means.device
    component = torch.multinomial(weights.to(source), noise.shape[0], replacement=True, generator=generator)
    component = component.to(means.device)  # (n,)
    if full:
        scale_tril: Tensor = module.sampler_scale_tril  # type: ignore[assignment]
        return means[component] + (scale_tril[component] @ noise.unsqueeze(2)).squeeze(2)
    logvars: Tensor = module.sampler_logvars  # type: ignore[assignment]
    return means[component] + torch.exp(0.5 * logvars[component]) * noise  # (n, D)
