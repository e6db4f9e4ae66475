"""A zoo denoiser against the classical ones, on the issue's protocol: same crops, same noise, same seed.

Protocol: 64x64 crops of scikit-image's colour photographs ``astronaut`` and ``coffee`` (never in the
``photos`` train split), 24 random crops per photograph, additive Gaussian noise of std sigma/255 (the noisy
crop clipped to [0, 1]), PSNR of each denoised crop against its clean crop (peak 1), the mean over crops.
Methods: scikit-image's total variation (Chambolle, weight 0.08), wavelet (YCbCr, rescaled sigma) and fast
non-local means (h = 0.8 sigma, 5x5 patches, distance 6), the ``bm3d`` package (``bm3d_rgb``), and every
zoo source given with ``--source`` (an entry, a folder or ``hf-hub:``), which denoises the noisy crop in one
forward pass. Times are wall seconds per megapixel of input, on this process's threads.

``--unseen`` adds two photographs of other subjects that no zoo dataset holds, scikit-learn's sample images
``china`` (a temple) and ``flower``, cropped the same way after the protocol's crops (which stay the same): a
check that a learned denoiser generalises. The ``mean`` column stays the protocol's (astronaut and coffee).

    python benchmarks/bench_denoise.py [--source conv-dae.photos] [--sigmas 15 25 50] [--no-bm3d] [--unseen]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import zoo

PHOTOS = ("astronaut", "coffee")
UNSEEN = ("china", "flower")  # scikit-learn's sample images
CROP = 64
CROPS_PER_PHOTO = 24


def photograph(name: str) -> np.ndarray:
    """An RGB photograph ``(H, W, 3)`` as uint8: scikit-image's by name, or one of scikit-learn's sample images."""
    if name in UNSEEN:
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(f"{name}.jpg"))
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


def crops(seed: int = 0, names: tuple[str, ...] = PHOTOS) -> dict[str, np.ndarray]:
    """``{photo: (24, 64, 64, 3) float64 in [0, 1]}``, the same crops for every method."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        image = photograph(name).astype(np.float64) / 255.0
        h, w, _ = image.shape
        tops = rng.integers(0, h - CROP + 1, CROPS_PER_PHOTO)
        lefts = rng.integers(0, w - CROP + 1, CROPS_PER_PHOTO)
        out[name] = np.stack([image[t:t + CROP, s:s + CROP] for t, s in zip(tops, lefts, strict=True)])
    return out


def psnr(clean: np.ndarray, estimate: np.ndarray) -> float:
    mse = float(np.mean((np.clip(estimate, 0.0, 1.0) - clean) ** 2))
    return 10.0 * np.log10(1.0 / max(mse, 1e-12))


def classical(use_bm3d: bool) -> dict[str, Callable[[np.ndarray, float], np.ndarray]]:
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    methods: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
        "scikit-image TV (Chambolle, weight 0.08)":
            lambda x, s: denoise_tv_chambolle(x, weight=0.08, channel_axis=-1),
        "scikit-image wavelet (YCbCr)":
            lambda x, s: denoise_wavelet(x, channel_axis=-1, convert2ycbcr=True, rescale_sigma=True),
        "scikit-image non-local means (fast)":
            lambda x, s: denoise_nl_means(x, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6,
                                          fast_mode=True, channel_axis=-1),
    }
    if use_bm3d:
        import bm3d

        methods["BM3D (bm3d_rgb)"] = lambda x, s: bm3d.bm3d_rgb(x, s)
    return methods


def zoo_method(source: str) -> Callable[[np.ndarray, float], np.ndarray]:
    model = zoo.load(source).eval()

    def denoise(x: np.ndarray, sigma: float) -> np.ndarray:
        batch = torch.from_numpy(x).permute(2, 0, 1)[None].float()
        with torch.inference_mode():
            out = model(batch)
        return out[0].permute(1, 2, 0).double().numpy()

    return denoise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", default=[], help="zoo denoiser(s) to compare")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[15.0, 25.0, 50.0], help="noise std, /255")
    parser.add_argument("--no-bm3d", action="store_true", help="skip BM3D (the slowest method)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unseen", action="store_true", help=f"add {' and '.join(UNSEEN)} (scikit-learn's sample "
                        "images, other subjects) as a generalisation check")
    args = parser.parse_args()

    methods = classical(not args.no_bm3d)
    for source in args.source:
        methods[f"zoo {source}"] = zoo_method(source)
    names = PHOTOS + UNSEEN if args.unseen else PHOTOS
    clean = crops(args.seed, names)
    megapixels = sum(c.shape[0] * CROP * CROP for c in clean.values()) / 1e6
    unseen_column = " unseen mean |" if args.unseen else ""
    print(f"# device: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads")
    print("| sigma | method | " + " | ".join(names) + f" | mean |{unseen_column} s / megapixel |")
    print("|---|---|" + "---|" * len(names) + "---|" * (2 if args.unseen else 1) + "---|")
    for sigma_255 in args.sigmas:
        sigma = sigma_255 / 255.0
        rng = np.random.default_rng(1000 + int(sigma_255))
        noisy = {name: np.clip(c + sigma * rng.standard_normal(c.shape), 0.0, 1.0) for name, c in clean.items()}
        rows = {"noisy input": ({name: statistics.mean(psnr(c, n) for c, n in zip(clean[name], noisy[name],
                                                                                   strict=True))
                                 for name in names}, 0.0)}
        for label, method in methods.items():
            start = time.perf_counter()
            scores = {name: statistics.mean(psnr(c, method(n, sigma))
                                            for c, n in zip(clean[name], noisy[name], strict=True))
                      for name in names}
            rows[label] = (scores, (time.perf_counter() - start) / megapixels)
        for label, (scores, seconds) in rows.items():
            cells = " | ".join(f"{scores[name]:.2f}" for name in names)
            mean = statistics.mean(scores[name] for name in PHOTOS)
            unseen = f" {statistics.mean(scores[name] for name in UNSEEN):.2f} |" if args.unseen else ""
            print(f"| {sigma_255:g} | {label} | {cells} | {mean:.2f} |{unseen} {seconds:.2f} |")


if __name__ == "__main__":
    main()
