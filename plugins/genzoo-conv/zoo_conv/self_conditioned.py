"""A self-conditioned DCGAN (Liu et al. 2020, "Diverse Image Generation via Self-Conditioned GANs"): ``dcgan`` with
``clusters`` > 0.

No labels are needed. The discriminator groups the training images into ``clusters`` clusters by mini-batch
k-means on their pixels (Sculley 2010), moving the centroids during the first ``cluster_steps`` steps and then
holding them; both networks are the class-conditional ones of ``conv-cgan`` with the cluster as the class. A
conditional generator only has to cover one cluster at a time, which a single unconditional generator on MNIST
does poorly (it leaves half its digits unclear). ``sample`` draws clusters at the frequency the training data
fills them, fitted when training ends (uniform before), so it is an unconditional generator like any ``dcgan``.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import Tensor, nn

from zoo_conv._layers import GANWithEMA, randn
from zoo_conv.cgan import ConditionalConvGenerator, ProjectionDiscriminator, conditional_fakes
from zoo_conv.dcgan import DCGANConfig

# Images assigned per chunk when fitting the cluster frequencies, to bound the distance matrix's memory.
_CHUNK = 4096


class ClusteringDiscriminator(nn.Module):
    """The projection discriminator plus the k-means centroids that label what it sees.

    ``discriminator(x)`` scores images ``(N, C, H, W)`` against their nearest centroid's cluster, ``(N,)``;
    ``scores(x, labels)`` is the projection discriminator's, for the objective.
    """

    centroids: Tensor  # (clusters, C * H * W)
    cluster_sizes: Tensor  # (clusters,)
    cluster_updates: Tensor  # () int64

    def __init__(self, *, config: DCGANConfig) -> None:
        super().__init__()
        self.data_shape = config.data_shape
        self.projection = ProjectionDiscriminator(config=config.conditional())
        self.register_buffer("centroids", torch.zeros(config.clusters, math.prod(config.data_shape)))
        self.register_buffer("cluster_sizes", torch.zeros(config.clusters))  # images each centroid has absorbed
        self.register_buffer("cluster_updates", torch.zeros((), dtype=torch.long))
        self.cluster_steps = config.cluster_steps

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.projection(x, self.assign(x) if labels is None else labels)  # (N,)

    def scores(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.projection.scores(x, labels)

    @torch.no_grad()
    def assign(self, x: Tensor) -> Tensor:
        """The nearest centroid of each image ``(N, C, H, W)``: ``(N,)`` int64."""
        return torch.cdist(x.flatten(1).float(), self.centroids).argmin(dim=1)

    @torch.no_grad()
    def update_clusters(self, x: Tensor) -> None:
        """One mini-batch k-means step on images ``(N, C, H, W)`` while ``cluster_updates < cluster_steps``.

        Written without host reads (no data-dependent branch), so a captured CUDA graph replays it. The first step
        seeds the centroids with the batch's images (a little noise keeps repeated seeds apart when there are
        more clusters than images); each later image moves its centroid by 1 / (images it has absorbed).
        """
        points = x.flatten(1).float()  # (N, D)
        seeds = points[torch.arange(len(self.centroids), device=points.device) % len(points)]
        seeds = seeds + 1e-3 * torch.randn_like(seeds)
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(seeds, 0)  # every rank starts from rank 0's seeds
        unseeded = (self.cluster_sizes == 0).unsqueeze(1)  # (K, 1)
        self.centroids.copy_(torch.where(unseeded, seeds, self.centroids))
        self.cluster_sizes.clamp_(min=1.0)
        nearest = self.assign(x)  # (N,)
        ones = torch.ones_like(nearest, dtype=torch.float)
        counts = torch.zeros_like(self.cluster_sizes).index_add_(0, nearest, ones)  # (K,)
        sums = torch.zeros_like(self.centroids).index_add_(0, nearest, points)  # (K, D)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)  # every rank moves the centroids by the whole global batch
            dist.all_reduce(sums)
        moving = (self.cluster_updates < self.cluster_steps).float()  # 0 once the clusters are held
        counts = counts * moving
        self.cluster_sizes.add_(counts)
        self.centroids.add_((sums * moving - counts.unsqueeze(1) * self.centroids) / self.cluster_sizes.unsqueeze(1))
        self.cluster_updates.add_(1)


class SelfConditionedGenerator(nn.Module):
    """Latents ``(N, latent_dim + 1)`` -> images ``(N, C, H, W)`` in [0, 1]: the last coordinate picks the
    cluster (its normal CDF against the cumulative ``cluster_frequency``), the others, scaled by ``temperature``,
    feed ``.network``, the conditional generator. A Gaussian latent thus draws clusters at their frequency, and a
    whole draw is one function of the latents, as for any unconditional generator (and so exports to one graph)."""

    cluster_frequency: Tensor  # (clusters,)

    def __init__(self, *, config: DCGANConfig) -> None:
        super().__init__()
        self.network = ConditionalConvGenerator(config=config.conditional())
        self.latent_dim = config.latent_dim + 1
        self.temperature = config.temperature
        self.register_buffer("cluster_frequency", torch.full((config.clusters,), 1.0 / config.clusters))

    def clusters(self, picks: Tensor) -> Tensor:
        """Standard normal draws ``(N,)`` -> clusters ``(N,)``, each drawn with its ``cluster_frequency``."""
        quantiles = 0.5 * (1.0 + torch.erf(picks / math.sqrt(2.0)))  # (N,) uniform in [0, 1]
        edges = self.cluster_frequency.cumsum(0)[:-1]  # (clusters - 1,)
        return (quantiles.unsqueeze(1) >= edges).long().sum(1)  # (N,) in 0 .. clusters - 1

    def forward(self, latents: Tensor) -> Tensor:
        # Sampling only (training draws through .network): the noise, not the cluster pick, is scaled.
        return self.network(self.temperature * latents[:, :-1], self.clusters(latents[:, -1]))


class SelfConditionedDCGAN(GANWithEMA):
    """``.generator`` and ``.generator_ema`` (or None), :class:`SelfConditionedGenerator`, and
    ``.discriminator``, :class:`ClusteringDiscriminator`."""

    generator: SelfConditionedGenerator
    discriminator: ClusteringDiscriminator

    def __init__(self, *, config: DCGANConfig) -> None:
        super().__init__(config, lambda: SelfConditionedGenerator(config=config),
                         lambda: ClusteringDiscriminator(config=config))

    @property
    def cluster_frequency(self) -> Tensor:
        """``(clusters,)``: the share of the training data in each cluster, at which samples draw them."""
        return self.generator.cluster_frequency

    def fakes(self, labels: Tensor, noise: Tensor | None = None) -> Tensor:
        """Training fakes ``(N, C, H, W)`` of clusters ``labels`` ``(N,)`` from the live generator."""
        return conditional_fakes(self.generator.network, labels, noise)

    def forward(self, latents: Tensor) -> Tensor:
        return self.generator(latents)  # (N, latent_dim + 1) -> (N, C, H, W)

    @torch.no_grad()
    def fit_cluster_frequency(self, images: Tensor) -> None:
        """Set ``cluster_frequency`` (of both generators) to the share of ``images`` ``(N, C, H, W)`` nearest each
        centroid."""
        counts = torch.zeros_like(self.cluster_frequency)
        for start in range(0, len(images), _CHUNK):
            chunk = images[start:start + _CHUNK].to(counts.device)
            counts.index_add_(0, self.discriminator.assign(chunk), torch.ones(len(chunk), device=counts.device))
        if counts.sum() > 0:
            for generator in (self.generator, self.generator_ema):
                if isinstance(generator, SelfConditionedGenerator):
                    generator.cluster_frequency.copy_(counts / counts.sum())

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1], clusters drawn at their frequency and the noise at
        ``temperature``; from the moving-average generator when there is one."""
        source = self.sampling_generator
        weight = self.generator.network.project.weight
        latents = randn(n, self.generator.latent_dim, device=weight.device, dtype=weight.dtype, generator=generator)
        return source(latents)  # (n, C, H, W)
