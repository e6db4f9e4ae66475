"""Pictures of data and training: image grids (Pillow) and plots (matplotlib, imported only when plotting).

Every ``save_*`` function writes atomically (a temporary file in the same folder, then ``os.replace``), so a
crash or a concurrent reader never sees half a PNG, and returns the path it wrote.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image
from torch import Tensor

from zoo._files import atomic_destination, check_writable_target
from zoo.errors import ConfigError, DataError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

EVAL_EXTRA = "pip install 'genzoo[eval]'"
PathLike = str | os.PathLike[str]
# What Pillow writes for image grids, and what matplotlib writes for plots (by suffix).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
PLOT_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")

__all__ = [
    "check_output_path",
    "comparison_grid",
    "image_grid",
    "interpolation_strip",
    "reconstruction_grid",
    "save_image_grid",
    "save_latent_plot",
    "save_loss_curve",
    "side_by_side",
]


def image_grid(images: Tensor, *, nrow: int | None = None, padding: int = 2, scale: int = 1) -> Image.Image:
    """Tile ``images`` (N, C, H, W) in [0, 1] into one picture, ``nrow`` images per row (default: a square).

    One channel gives an "L" image, three an "RGB" one. Each image is upsampled ``scale`` times (nearest
    neighbour, so small digits stay sharp) and surrounded by ``padding`` black pixels: the picture is
    ``cols * (W * scale + padding) + padding`` pixels wide. Values are clamped to [0, 1] and NaN shows black.
    """
    _check_images(images, "image_grid")
    if nrow is not None and nrow < 1:
        raise ValueError(f"image_grid: nrow={nrow}; expected at least 1")
    if padding < 0 or scale < 1:
        raise ValueError(f"image_grid: padding={padding}, scale={scale}; expected padding >= 0 and scale >= 1")
    pixels = images.detach().to("cpu", torch.float32)
    if scale > 1:
        pixels = pixels.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    count, channels, height, width = pixels.shape
    cols = min(nrow or math.ceil(math.sqrt(count)), count)
    rows = math.ceil(count / cols)
    canvas = torch.zeros(channels, rows * (height + padding) + padding, cols * (width + padding) + padding)
    for index in range(count):
        top = padding + (index // cols) * (height + padding)
        left = padding + (index % cols) * (width + padding)
        canvas[:, top:top + height, left:left + width] = pixels[index]
    return _picture(canvas)


def _picture(canvas: Tensor) -> Image.Image:
    """(C, H, W) floats -> an "L" or "RGB" picture: clamped to [0, 1], NaN black."""
    # (C, H, W) floats -> (H, W[, C]) bytes, the layout Pillow expects.
    data = torch.nan_to_num(canvas, nan=0.0).clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    if canvas.shape[0] == 1:
        return Image.fromarray(data[0].numpy())
    return Image.fromarray(data.permute(1, 2, 0).contiguous().numpy())


def save_image_grid(images: Tensor, path: PathLike, *, nrow: int | None = None, padding: int = 2,
                    scale: int = 1) -> Path:
    """Write :func:`image_grid` of ``images`` to ``path`` (format from the suffix, e.g. .png)."""
    grid = image_grid(images, nrow=nrow, padding=padding, scale=scale)
    return _atomic_write(path, grid.save)


def reconstruction_grid(originals: Tensor, reconstructions: Tensor, path: PathLike, *, nrow: int | None = None,
                        padding: int = 2, scale: int = 1) -> Path:
    """Save originals in the top row(s) and their reconstructions, in the same places, in the rows below.

    ``nrow`` images per row defaults to all of them up to 16.
    """
    _check_images(originals, "reconstruction_grid originals")
    _check_images(reconstructions, "reconstruction_grid reconstructions")
    if originals.shape != reconstructions.shape:
        raise DataError(f"reconstruction_grid: originals have shape {tuple(originals.shape)} but reconstructions "
                        f"{tuple(reconstructions.shape)}; expected the same shape")
    count = originals.shape[0]
    cols = min(nrow or 16, count)
    # Fill the originals' last row with blanks so that each reconstruction sits directly below its original.
    blanks = originals.new_zeros((-count % cols, *originals.shape[1:]))
    both = torch.cat([originals.detach().cpu(), blanks.cpu(), reconstructions.detach().cpu()])
    return save_image_grid(both, path, nrow=cols, padding=padding, scale=scale)


def comparison_grid(rows: Sequence[Tensor], path: PathLike, *, padding: int = 2, scale: int = 1) -> Path:
    """Save image sets of one shape as rows: image ``i`` of every set in column ``i`` (e.g. input, output, target).

    Sets of more than 16 images wrap onto several rows each.
    """
    if not rows:
        raise DataError("comparison_grid: no image sets given; expected at least one (N, C, H, W) tensor")
    for index, images in enumerate(rows):
        _check_images(images, f"comparison_grid set {index}")
        if images.shape != rows[0].shape:
            raise DataError(f"comparison_grid: set {index} has shape {tuple(images.shape)} but set 0 "
                            f"{tuple(rows[0].shape)}; expected sets of one shape")
    count = rows[0].shape[0]
    cols = min(16, count)
    blanks = rows[0].new_zeros((-count % cols, *rows[0].shape[1:])).cpu()
    parts = [part for images in rows for part in (images.detach().cpu(), blanks)]
    return save_image_grid(torch.cat(parts), path, nrow=cols, padding=padding, scale=scale)


def side_by_side(rows: Sequence[Sequence[Tensor]], path: PathLike, *, padding: int = 2) -> Path:
    """Save rows of images at full resolution: row ``i`` holds the ``(C, H, W)`` images ``rows[i]`` left to right
    (e.g. a photograph's noisy input, output and clean target), top-aligned; images may differ in size.

    Every image has the same channel count (1 or 3); rows are separated by ``padding`` black pixels.
    """
    images = [image for row in rows for image in row]
    if not images or not all(rows):
        raise DataError("side_by_side: give at least one row, each of at least one (C, H, W) image")
    for index, image in enumerate(images):
        if not isinstance(image, Tensor) or image.ndim != 3:
            found = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
            raise DataError(f"side_by_side image {index}: got {found}; expected a (C, H, W) tensor")
        _check_images(image[None], f"side_by_side image {index}")
        if image.shape[0] != images[0].shape[0]:
            raise DataError(f"side_by_side: image {index} has {image.shape[0]} channel(s) but image 0 has "
                            f"{images[0].shape[0]}; expected one channel count")
    heights = [max(int(image.shape[1]) for image in row) for row in rows]
    widths = [sum(int(image.shape[2]) + padding for image in row) + padding for row in rows]
    canvas = torch.zeros(images[0].shape[0], sum(heights) + padding * (len(rows) + 1), max(widths))
    top = padding
    for row, height in zip(rows, heights, strict=True):
        left = padding
        for image in row:
            _, h, w = image.shape
            canvas[:, top:top + h, left:left + w] = image.detach().to("cpu", torch.float32)
            left += w + padding
        top += height + padding
    return _atomic_write(path, _picture(canvas).save)


def interpolation_strip(decoder_fn: Callable[[Tensor], Tensor], z0: Tensor, z1: Tensor, steps: int,
                        path: PathLike, *, padding: int = 2, scale: int = 1) -> Path:
    """Decode ``steps`` evenly spaced points on the line from latent ``z0`` to ``z1`` and save them as one row.

    ``z0`` and ``z1`` are ``(D,)`` or ``(1, D)``; ``decoder_fn`` maps ``(steps, D)`` to images ``(steps, C, H, W)``.
    """
    if steps < 2:
        raise ValueError(f"interpolation_strip: steps={steps}; expected at least 2 (both ends)")
    start, end = z0.detach().reshape(1, -1), z1.detach().reshape(1, -1)
    if start.shape != end.shape:
        raise DataError(f"interpolation_strip: z0 has {start.shape[1]} values but z1 {end.shape[1]}; expected "
                        "two latents of the same size")
    weights = torch.linspace(0.0, 1.0, steps, dtype=start.dtype, device=start.device).unsqueeze(1)
    latents = (1.0 - weights) * start + weights * end  # (steps, D)
    with torch.no_grad():
        images = decoder_fn(latents)
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[0] != steps:
        found = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise DataError(f"interpolation_strip: decoder_fn returned {found}; expected images ({steps}, C, H, W)")
    return save_image_grid(images, path, nrow=steps, padding=padding, scale=scale)


def save_loss_curve(metrics: Sequence[Mapping[str, Any]], path: PathLike, *, smoothing: float = 0.0) -> Path:
    """Plot every loss key ("loss", "loss/...") of ``metrics`` against its "step" and save the chart.

    Records without a finite value for a key are skipped for that key. ``smoothing`` in [0, 1) adds an
    exponential moving average drawn over the faded raw values (TensorBoard's slider); 0 draws the raw values.
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"save_loss_curve: smoothing={smoothing}; expected a value in [0, 1)")
    series: dict[str, tuple[list[float], list[float]]] = {}
    for position, record in enumerate(metrics):
        if "step" not in record:
            raise DataError(f"save_loss_curve: metrics record {position} has no 'step' (keys: {sorted(record)})")
        for key, value in record.items():
            if (key == "loss" or key.startswith("loss/")) and _finite_number(value):
                steps, values = series.setdefault(key, ([], []))
                steps.append(float(record["step"]))
                values.append(float(value))
    if not series:
        seen = sorted({key for record in metrics for key in record})
        raise DataError(f"save_loss_curve: no finite loss values to plot; the records have keys {seen}, expected "
                        "'loss' or 'loss/<name>'")

    figure = _figure(figsize=(7.0, 4.0))
    axes = figure.add_subplot()
    for key in sorted(series):
        steps, values = series[key]
        if smoothing > 0.0:
            (raw,) = axes.plot(steps, values, alpha=0.25, linewidth=1.0)
            axes.plot(steps, _ema(values, smoothing), color=raw.get_color(), linewidth=1.5, label=key)
        else:
            axes.plot(steps, values, linewidth=1.5, label=key)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.grid(True, alpha=0.3)
    axes.legend()
    return _save_figure(figure, path)


def save_latent_plot(latents: Tensor, labels: Tensor | None, path: PathLike) -> Path:
    """Scatter latents ``(N, D)`` in 2-D (their first two principal components when D > 2), coloured by label.

    The projection is an exact PCA, so it is deterministic and leaves the global random state alone.
    """
    if not isinstance(latents, Tensor) or latents.ndim != 2 or latents.shape[0] == 0 or latents.shape[1] == 0:
        found = tuple(latents.shape) if isinstance(latents, Tensor) else type(latents).__name__
        raise DataError(f"save_latent_plot: latents are {found}; expected a non-empty (N, D) tensor")
    points = latents.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(points).all()):
        raise DataError("save_latent_plot: latents hold NaN or infinite values; nothing meaningful to plot")
    if labels is not None and tuple(labels.shape) != (points.shape[0],):
        raise DataError(f"save_latent_plot: labels have shape {tuple(labels.shape)}; expected ({points.shape[0]},)")
    projected, axis_names = _project_2d(points)
    xy = projected.numpy()

    figure = _figure(figsize=(6.0, 6.0))
    axes = figure.add_subplot()
    if labels is None:
        axes.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.7)
    else:
        classes = labels.detach().cpu()
        names = sorted(set(classes.tolist()))
        colours = _colours(len(names))
        for colour, name in zip(colours, names, strict=True):
            mask = (classes == name).numpy()
            axes.scatter(xy[mask, 0], xy[mask, 1], s=6, alpha=0.7, color=colour, label=str(name))
        axes.legend(title="label", markerscale=3, fontsize="small", loc="best", ncol=1 + len(names) // 12)
    axes.set_xlabel(axis_names[0])
    axes.set_ylabel(axis_names[1])
    axes.set_title(f"latent space ({points.shape[1]} dims)")
    return _save_figure(figure, path)


def _project_2d(points: Tensor) -> tuple[Tensor, tuple[str, str]]:
    count, dims = points.shape
    if dims == 1:
        return torch.cat([points, torch.zeros(count, 1, dtype=points.dtype)], dim=1), ("z0", "")
    if dims == 2:
        return points, ("z0", "z1")
    centred = points - points.mean(dim=0)
    variances, vectors = torch.linalg.eigh(centred.T @ centred)  # ascending eigenvalues of a D x D matrix
    top = vectors[:, [-1, -2]]
    # Eigenvectors have no fixed sign; make each one's largest entry positive so the plot is reproducible.
    top = top * torch.sign(top.gather(0, top.abs().argmax(dim=0, keepdim=True)))
    share = variances.clamp(min=0) / variances.clamp(min=0).sum().clamp(min=1e-12)
    names = (f"PC1 ({share[-1]:.0%} of variance)", f"PC2 ({share[-2]:.0%} of variance)")
    return centred @ top, names


def _colours(count: int) -> list[Any]:
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["viridis"](i / (count - 1)) for i in range(count)]


def _ema(values: list[float], smoothing: float) -> list[float]:
    smoothed, current = [], values[0]
    for value in values:
        current = smoothing * current + (1.0 - smoothing) * value
        smoothed.append(current)
    return smoothed


def _finite_number(value: Any) -> bool:
    if isinstance(value, Tensor):
        return value.numel() == 1 and bool(torch.isfinite(value).all())
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_images(images: Any, what: str) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        found = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise DataError(f"{what}: got {found}; expected a (N, C, H, W) tensor with C = 1 or 3")
    if images.shape[0] == 0 or images.shape[2] == 0 or images.shape[3] == 0:
        raise DataError(f"{what}: got {tuple(images.shape)}; expected at least one non-empty image")


def _figure(*, figsize: tuple[float, float]) -> Figure:
    # Figure + an Agg canvas, not pyplot: no global backend switch, no figure registry to leak.
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"plots need matplotlib: {EVAL_EXTRA}") from exc
    figure = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save_figure(figure: Figure, path: PathLike) -> Path:
    return _atomic_write(path, lambda target: figure.savefig(target, format=_suffix(path)))


def _suffix(path: PathLike) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if not suffix:
        raise ConfigError(f"{path}: give the file a suffix (.png) so that the image format is known")
    return suffix


def check_output_path(path: PathLike, *, plot: bool = False, suffixes: Sequence[str] | None = None) -> Path:
    """``path`` as a Path, or ConfigError when it cannot take a picture: unknown suffix, a folder or a device.

    Call it before long work so that a typo in an output path fails at once, not after training or sampling.
    """
    target = Path(path)
    check_writable_target(target)
    allowed = tuple(suffixes) if suffixes is not None else PLOT_SUFFIXES if plot else IMAGE_SUFFIXES
    if target.suffix.lower() not in allowed:
        found = f"has the suffix {target.suffix!r}" if target.suffix else "has no suffix"
        raise ConfigError(f"{path} {found}; the suffix chooses the file format: give one of {', '.join(allowed)}")
    return target


def _atomic_write(path: PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary_path)`` next to ``path``, then move the finished file into place."""
    target = Path(path)
    check_writable_target(target)
    suffix = _suffix(target)
    if "." + suffix not in IMAGE_SUFFIXES + PLOT_SUFFIXES:
        check_output_path(target, suffixes=IMAGE_SUFFIXES + PLOT_SUFFIXES)
    with atomic_destination(target) as temporary:
        write(temporary)
    logger.debug("wrote %s", target)
    return target
