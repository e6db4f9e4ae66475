"""The metrics themselves, on plain tensors: PSNR, Fréchet distance, precision/recall and class entropy.

Nothing here knows about models or datasets; :mod:`zoo.eval._evaluate` feeds these the images and features.
torchmetrics is imported only when a Fréchet distance is computed.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.errors import DataError

EVAL_EXTRA = "pip install 'genzoo[eval]'"
# Per-image MSE floor: a perfect reconstruction scores 100 dB (at data range 1) instead of infinity.
MIN_MSE = 1e-10
# Rows of the pairwise-distance matrix computed at once; bounds memory at CHUNK * N * 8 bytes.
CHUNK = 1024


def psnr(images: Tensor, reference: Tensor, *, data_range: float = 1.0) -> Tensor:
    """Per-image peak signal-to-noise ratio in dB, ``(N,)``: ``10 log10(data_range² / MSE)``.

    The MSE is floored at 1e-10, so identical images give a finite value (100 dB at data range 1).
    """
    if images.shape != reference.shape or images.ndim < 2:
        raise DataError(f"psnr: images {tuple(images.shape)} and reference {tuple(reference.shape)} must have the "
                        "same (N, ...) shape")
    mse = (images.double() - reference.double()).flatten(1).pow(2).mean(dim=1)  # (N,)
    return 10.0 * torch.log10(data_range**2 / mse.clamp_min(MIN_MSE))


class _Precomputed(nn.Module):
    """The identity, as torchmetrics' ``feature`` extractor: the features are computed once by the caller and
    shared with precision/recall and class coverage instead of being recomputed inside ``update``."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features  # read by FrechetInceptionDistance instead of probing with a dummy image

    def forward(self, features: Tensor) -> Tensor:
        return features  # (N, num_features)


def frechet_distance(real: Tensor, fake: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two sets of features ``(N, D)`` and ``(M, D)``.

    ``|mu_r - mu_f|² + Tr(S_r + S_f - 2 (S_r S_f)^½)``, computed in float64 by torchmetrics'
    ``FrechetInceptionDistance`` with these features in place of Inception's.
    """
    _check_features(real, fake, "frechet_distance", minimum=2)
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
    except ImportError as exc:
        raise ImportError(f"the Fréchet distance needs torchmetrics: {EVAL_EXTRA}") from exc
    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]), normalize=True)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    # Round-off can leave identical sets a hair below zero (about -1e-14); the distance itself never is.
    return max(float(metric.compute()), 0.0)


def precision_recall(real: Tensor, fake: Tensor, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) of ``fake`` features against ``real`` ones.

    Each set's manifold is the union of balls around its points reaching their ``k``-th nearest neighbour in the
    same set. Precision: the share of fake points inside the real manifold; recall: the share of real points
    inside the fake manifold. Both are in [0, 1]; identical sets score 1 and 1.
    """
    _check_features(real, fake, "precision_recall", minimum=k + 1)
    real, fake = real.double(), fake.double()
    real_radii, fake_radii = _kth_neighbour_distances(real, k), _kth_neighbour_distances(fake, k)
    precision = _inside(fake, real, real_radii).double().mean()
    recall = _inside(real, fake, fake_radii).double().mean()
    return float(precision), float(recall)


def _kth_neighbour_distances(points: Tensor, k: int) -> Tensor:
    radii = []
    for chunk in points.split(CHUNK):
        distances = torch.cdist(chunk, points)  # (chunk, N), the point itself at distance 0 included
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(radii)  # (N,)


def _inside(queries: Tensor, points: Tensor, radii: Tensor) -> Tensor:
    hits = []
    for chunk in queries.split(CHUNK):
        distances = torch.cdist(chunk, points)  # (chunk, N)
        hits.append((distances <= radii.unsqueeze(0)).any(dim=1))
    return torch.cat(hits)  # (M,) bool


def class_entropy(predictions: Tensor, num_classes: int) -> float:
    """Entropy in nats of the histogram of predicted classes ``(N,)``: ln(num_classes) when every class is
    predicted equally often, 0 when one class takes all."""
    if predictions.ndim != 1 or predictions.numel() == 0:
        raise DataError(f"class_entropy: predictions have shape {tuple(predictions.shape)}; expected (N,) with N > 0")
    counts = torch.bincount(predictions.long().cpu(), minlength=num_classes).double()
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * shares.log()).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def _check_features(real: Tensor, fake: Tensor, what: str, *, minimum: int) -> None:
    for name, features in (("real", real), ("fake", fake)):
        if features.ndim != 2 or features.shape[0] < minimum:
            raise DataError(f"{what}: {name} features have shape {tuple(features.shape)}; expected (N, D) with N >= "
                            f"{minimum}")
        if not bool(torch.isfinite(features).all()):
            raise DataError(f"{what}: {name} features hold NaN or infinite values")
    if real.shape[1] != fake.shape[1]:
        raise DataError(f"{what}: real features have {real.shape[1]} dimensions but fake ones {fake.shape[1]}")

