"""Per-image ℓ1 (%), PSNR and SSIM, vectorized over a batch in torch: the evaluator's scores, and the ones
training validation logs, so that both measure the same thing.

All three take ``output`` and ``target`` of shape ``(B, 3, H, W)``, float, RGB in [0, 1], and return one
value per image, shape ``(B,)`` float32. They are computed over the **whole image** (the evaluator feeds
them the composite, whose valid pixels are the input's, as the paper's Table 1 does).

* ℓ1 (%): mean |output − target| over every pixel and RGB channel, × 100.
* PSNR (dB): 10·log10(data_range² / MSE), MSE over every pixel and RGB channel; identical images give
  ``+inf`` (means cap it at :data:`PSNR_CAP`).
* SSIM (Wang et al., IEEE TIP 2004, as their reference ``ssim_index.m``): 11×11 Gaussian window with
  σ = 1.5 (normalized to sum 1), K1 = 0.01, K2 = 0.03, data range 1, population (biased) local variances,
  *valid* filtering (no padding: the map is (H−10)×(W−10)), no downsampling; the map's mean per RGB channel,
  then the mean of the three channels. Same as ``skimage.metrics.structural_similarity(...,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)``.

Why SSIM is fast here: the local statistics need only four filtered maps per channel, of ``x + y`` and
``x − y`` and their squares (the means, variances and covariance of x and y are sums and differences of
those), not five. The separable Gaussian runs on the CPU through OpenCV's SIMD ``sepFilter2D`` plane by
plane (torch's depthwise ``conv2d`` is several times slower there) and on GPUs as two matrix products with
a banded matrix, cut into blocks of ``_BLOCK`` outputs so that BLAS does ~(_BLOCK+10)/11 times the
necessary multiply-adds rather than W/11.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor

__all__ = [
    "PSNR_CAP",
    "SSIM_SETTINGS",
    "SSIMSettings",
    "gaussian_window",
    "image_metrics",
    "l1_percent",
    "psnr",
    "ssim",
]

_BLOCK = 64
PSNR_CAP = 100.0
"""dB standing in for +∞ (identical images) in PSNR means; 100 dB is an MSE of 1e-10 at data range 1."""


@dataclass(frozen=True)
class SSIMSettings:
    """The SSIM constants; papers differ, so reports record these exact values."""

    window: int = 11
    sigma: float = 1.5
    k1: float = 0.01
    k2: float = 0.03
    data_range: float = 1.0

    def __post_init__(self) -> None:
        if self.window < 1 or self.window % 2 == 0:
            raise ValueError(f"SSIM window must be a positive odd size, got {self.window}")
        if self.sigma <= 0 or self.data_range <= 0:
            raise ValueError(f"SSIM sigma and data range must be > 0, got {self.sigma}, {self.data_range}")


SSIM_SETTINGS = SSIMSettings()


def _check_pair(output: Tensor, target: Tensor) -> None:
    if output.dim() != 4 or output.shape != target.shape:
        raise ValueError(
            f"output and target must both be (B, C, H, W) of equal shape, got "
            f"{tuple(output.shape)} and {tuple(target.shape)}"
        )


def gaussian_window(size: int, sigma: float) -> Tensor:
    """The 1-D Gaussian, shape ``(size,)`` float64, summing to 1; its outer product is the 2-D window."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def l1_percent(output: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error × 100 per image, ``(B,)`` float32, in [0, 100] for inputs in [0, 1]."""
    _check_pair(output, target)
    return (output.float() - target.float()).abs().flatten(1).mean(1) * 100


def psnr(output: Tensor, target: Tensor, *, data_range: float = 1.0) -> Tensor:
    """PSNR in dB per image, ``(B,)`` float32; ``+inf`` where the images are identical."""
    _check_pair(output, target)
    mse = (output.float() - target.float()).square().flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)  # mse 0 → +inf


def _band(n_in: int, kernel: Tensor, device: torch.device) -> Tensor:
    """``(n_in, n_in − k + 1)`` matrix whose product with a row is its valid correlation with ``kernel``."""
    k = kernel.numel()
    n_out = n_in - k + 1
    band = torch.zeros(n_in, n_out, dtype=torch.float64)
    columns = torch.arange(n_out)
    for offset in range(k):
        band[columns + offset, columns] = kernel[offset]
    return band.to(device=device, dtype=torch.float32)


def _filter_valid_matmul(maps: Tensor, kernel: Tensor) -> Tensor:
    """Separable valid filtering of ``(..., H, W)`` float32 maps → ``(..., H−k+1, W−k+1)`` by banded matmuls.

    The path for GPUs, where BLAS is fast and OpenCV cannot reach the data.
    """
    k = kernel.numel()
    width = maps.shape[-1] - k + 1
    height = maps.shape[-2] - k + 1
    band = _band(_BLOCK + k - 1, kernel, maps.device)
    rows = []
    for start in range(0, width, _BLOCK):
        n = min(_BLOCK, width - start)
        matrix = band if n == _BLOCK else _band(n + k - 1, kernel, maps.device)
        rows.append(maps[..., start : start + n + k - 1] @ matrix)
    horizontal = torch.cat(rows, -1)
    columns = []
    for start in range(0, height, _BLOCK):
        n = min(_BLOCK, height - start)
        matrix = band if n == _BLOCK else _band(n + k - 1, kernel, maps.device)
        columns.append(matrix.T @ horizontal[..., start : start + n + k - 1, :])
    return torch.cat(columns, -2)


def _filter_valid_opencv(maps: Tensor, kernel: Tensor) -> Tensor:
    """The same on the CPU, plane by plane with OpenCV's SIMD ``sepFilter2D`` (several times faster there).

    OpenCV does not split one plane across cores at these sizes, and it releases the GIL, so the planes go
    to as many threads as torch uses (1.7× on two cores). Border handling does not matter: only outputs
    whose window lies inside the plane are kept.
    """
    k = kernel.numel()
    height, width = maps.shape[-2:]
    planes = maps.detach().float().contiguous().reshape(-1, height, width).numpy()
    out = torch.empty(planes.shape, dtype=torch.float32)
    target = out.numpy()
    weights = kernel.numpy().astype(np.float32)

    def filter_plane(index: int) -> None:
        filtered = cv2.sepFilter2D(planes[index], cv2.CV_32F, weights, weights, dst=target[index])
        if not np.shares_memory(filtered, target):  # OpenCV allocated instead of writing in place
            target[index] = filtered

    threads = min(torch.get_num_threads(), len(planes))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(filter_plane, range(len(planes))))
    else:
        for index in range(len(planes)):
            filter_plane(index)
    r = k // 2
    return out.reshape(maps.shape)[..., r : height - r, r : width - r]


def _filter_valid(maps: Tensor, kernel: Tensor) -> Tensor:
    """Valid correlation of every ``(H, W)`` plane of ``maps`` with the separable ``kernel ⊗ kernel``."""
    if maps.device.type == "cpu":
        return _filter_valid_opencv(maps, kernel)
    return _filter_valid_matmul(maps, kernel)


def ssim(output: Tensor, target: Tensor, *, settings: SSIMSettings = SSIM_SETTINGS) -> Tensor:
    """Mean SSIM per image, ``(B,)`` float32 in [−1, 1]; 1 for identical images. See the module notes."""
    _check_pair(output, target)
    if min(output.shape[-2:]) < settings.window:
        raise ValueError(
            f"SSIM needs images of at least {settings.window}×{settings.window} pixels, "
            f"got {tuple(output.shape[-2:])}"
        )
    x = output.float()
    y = target.float()
    maps = torch.empty((4, *x.shape), dtype=torch.float32, device=x.device)
    torch.add(x, y, out=maps[0])
    torch.sub(x, y, out=maps[1])
    torch.mul(maps[0], maps[0], out=maps[2])
    torch.mul(maps[1], maps[1], out=maps[3])
    mean_plus, mean_minus, square_plus, square_minus = _filter_valid(
        maps, gaussian_window(settings.window, settings.sigma)
    ).unbind(0)
    c1 = (settings.k1 * settings.data_range) ** 2
    c2 = (settings.k2 * settings.data_range) ** 2
    # With μ± the filtered x ± y and S± their filtered squares: 2μxμy = (μ+² − μ−²)/2 = D/2,
    # μx² + μy² = (μ+² + μ−²)/2 = T/2, 2σxy = (S+ − S− − D)/2, σx² + σy² = (S+ + S− − T)/2.
    # In-place steps: the maps are large and memory traffic, not arithmetic, sets the speed.
    plus2 = mean_plus * mean_plus
    minus2 = mean_minus * mean_minus
    difference = plus2 - minus2
    total = plus2.add_(minus2)
    numerator = (difference * 0.5 + c1).mul_((square_plus - square_minus - difference).mul_(0.5).add_(c2))
    denominator = (total * 0.5 + c1).mul_((square_plus + square_minus - total).mul_(0.5).add_(c2))
    return numerator.div_(denominator).flatten(1).mean(1)


def image_metrics(output: Tensor, target: Tensor) -> dict[str, Tensor]:
    """``{"l1": ..., "psnr": ..., "ssim": ...}``, each ``(B,)`` float32 on the inputs' device."""
    return {"l1": l1_percent(output, target), "psnr": psnr(output, target), "ssim": ssim(output, target)}
