"""Occlusion hole maps from forward and backward flow (Sundaram, Brox & Keutzer, ECCV 2010).

A pixel ``x`` of frame t is a hole when it is not visible in frame t+1 (the same thing the generated
scenes' ground truth marks):

* the forward-backward check fails: ``|w_f + w_b(x + w_f)|² ≥ a1·(|w_f|² + |w_b(x + w_f)|²) + a2``
  (the backward flow at the forward target does not lead back; Sundaram's a1 = 0.01, a2 = 0.5);
* optionally, it lies on a motion boundary, ``|∇u|² + |∇v|² > b1·|w_f|² + b2`` (b1 = 0.01, b2 = 0.002),
  where flow is unreliable — Sundaram stops tracks there; it marks both sides of a boundary, so it is
  off by default (it costs precision against the ground truth);
* its forward target ``x + w_f`` leaves the frame.

A consistency (or motion-boundary) failure counts only where frame t has texture nearby: where the grey
image is flat (a white wall, a table, the sky) the flow is a guess and its round trip fails without any
occlusion. Sundaram et al. likewise drop tracks in homogeneous regions, judged by the smaller eigenvalue
of the Gaussian-smoothed structure tensor; :func:`texture_confidence` is that eigenvalue. A failing pixel
stays a hole when some pixel within ``texture_radius`` has a confidence of at least
``texture_threshold``, so the occluded strip a textured object uncovers on a flat background survives.

The raw check is noisy and speckled, so the map is then cleaned: an optional Gaussian soft map
thresholded at 0.6 (this toolkit's own step; the 0.6 echoes NVIDIA, which binarized its soft masks there),
a morphological closing and opening, and removal of hole components smaller than ``min_area`` pixels.
Arrays: flow ``(H, W, 2)`` float32 in pixels, hole maps ``(H, W)`` bool with True = hole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from pconv.maskgen.raw.flow import FLOW_METHODS, scaled_flow

__all__ = [
    "OcclusionConfig",
    "PairKind",
    "classify_pair",
    "consistency_occlusion",
    "motion_boundary",
    "occlusion_from_flows",
    "occlusion_from_frames",
    "out_of_frame",
    "remove_specks",
    "sample_at_target",
    "soft_threshold",
    "texture_confidence",
    "textured_near",
]

PairKind = Literal["mask", "static", "cut"]

TEXTURE_THRESHOLD = 1.0
TEXTURE_RADIUS = 8


@dataclass(frozen=True)
class OcclusionConfig:
    """Every setting from two frames to a hole map; defaults are the best F1 per second measured on the
    generated scenes (see the README's table; ``pconv masks validate`` reproduces it).

    ``alpha2 = 10`` (Sundaram: 0.5) tolerates a round-trip miss of about 3 px: the flow is smooth
    across motion boundaries, so the strict test marks a halo on both sides of every moving edge;
    the looser one keeps the true occlusions (F1 0.53 → 0.60, the largest single gain measured).

    ``texture_threshold`` (grey levels², on 0-255 frames; 0 turns the texture test off) and
    ``texture_sigma`` / ``texture_radius`` (px) set the low-texture test: see :func:`textured_near`.

    ``flow_scale`` shrinks frames before the flow; ``soft_sigma = 0`` turns the soft map off; radii are
    in pixels (0 = off); ``min_hole_ratio`` / ``max_hole_ratio`` bound the hole ratio of pairs kept:
    below is a static pair, above a scene cut (or a failed flow), and neither makes a mask.
    """

    method: str = "dis"
    flow_scale: float = 1.0
    alpha1: float = 0.01
    alpha2: float = 10.0
    motion_boundaries: bool = False
    boundary_alpha1: float = 0.01
    boundary_alpha2: float = 0.002
    texture_threshold: float = TEXTURE_THRESHOLD
    texture_sigma: float = 1.5
    texture_radius: int = TEXTURE_RADIUS
    soft_sigma: float = 0.8
    soft_threshold: float = 0.6
    close_radius: int = 0
    open_radius: int = 0
    min_area: int = 30
    min_hole_ratio: float = 0.002
    max_hole_ratio: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in FLOW_METHODS:
            raise ValueError(f"unknown flow method {self.method!r}; choose one of {', '.join(FLOW_METHODS)}")
        if not 0 < self.flow_scale <= 1:
            raise ValueError(f"flow scale must be in (0, 1], got {self.flow_scale}")
        if min(self.alpha1, self.alpha2) < 0:
            raise ValueError(f"alpha1 and alpha2 must not be negative, got {self.alpha1} and {self.alpha2}")
        if not 0 <= self.soft_threshold <= 1:
            raise ValueError(f"soft threshold must be in [0, 1], got {self.soft_threshold}")
        if min(self.texture_threshold, self.texture_radius) < 0 or self.texture_sigma <= 0:
            raise ValueError(
                f"need texture threshold >= 0, texture radius >= 0 and texture sigma > 0, got "
                f"{self.texture_threshold}, {self.texture_radius} and {self.texture_sigma}"
            )
        if min(self.soft_sigma, self.close_radius, self.open_radius, self.min_area) < 0:
            raise ValueError("soft sigma, closing/opening radii and min area must not be negative")
        if not 0 <= self.min_hole_ratio < self.max_hole_ratio <= 1:
            raise ValueError(
                f"need 0 <= min hole ratio < max hole ratio <= 1, got "
                f"{self.min_hole_ratio} and {self.max_hole_ratio}"
            )


def _target(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x + w(x)`` as two contiguous float32 maps (x and y): what cv2.remap wants, and fast to combine."""
    height, width = flow.shape[:2]
    u, v = cv2.split(flow)
    return u + np.arange(width, dtype=np.float32)[None, :], v + np.arange(height, dtype=np.float32)[:, None]


def sample_at_target(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """``w_b(x + w_f)``: the backward flow sampled bilinearly where each pixel's forward flow lands.

    Targets outside the frame read the nearest border value (they are holes anyway, see out_of_frame).
    """
    xs, ys = _target(forward)
    return cv2.remap(backward, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistency_occlusion(
    forward: np.ndarray, backward: np.ndarray, *, alpha1: float = 0.01, alpha2: float = 0.5
) -> np.ndarray:
    """Sundaram's forward-backward test: True where the round trip misses by more than it tolerates."""
    (fu, fv), (bu, bv) = cv2.split(forward), cv2.split(sample_at_target(forward, backward))
    miss = np.square(fu + bu) + np.square(fv + bv)
    allowed = alpha1 * (np.square(fu) + np.square(fv) + np.square(bu) + np.square(bv)) + alpha2
    return miss >= allowed


def motion_boundary(flow: np.ndarray, *, alpha1: float = 0.01, alpha2: float = 0.002) -> np.ndarray:
    """True where ``|∇u|² + |∇v|² > alpha1·|w|² + alpha2`` (central differences, one-sided at edges)."""
    gradient = sum(np.square(g) for c in (0, 1) for g in np.gradient(flow[..., c]))
    return gradient > alpha1 * np.sum(np.square(flow), axis=2) + alpha2


def texture_confidence(grey: np.ndarray, *, sigma: float = 1.5) -> np.ndarray:
    """The smaller eigenvalue of the structure tensor ``G_sigma * (∇I ∇Iᵀ)`` of a grey image.

    Large only where the image varies in two directions, i.e. where the flow is pinned down; zero on flat
    areas and small along straight edges (the aperture problem). ``grey``: ``(H, W)`` uint8 or float in
    0-255; the gradient is a 3×3 Sobel divided by 8 (grey levels per pixel), so the result is
    ``(H, W)`` float32 in grey levels², ≥ 0.
    """
    image = grey.astype(np.float32)
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8, borderType=cv2.BORDER_REPLICATE)
    jxx, jyy, jxy = (
        cv2.GaussianBlur(product, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)
        for product in (gx * gx, gy * gy, gx * gy)
    )
    half_trace = (jxx + jyy) / 2
    return np.maximum(half_trace - np.sqrt(np.square((jxx - jyy) / 2) + np.square(jxy)), 0)


def textured_near(grey: np.ndarray, *, threshold: float, sigma: float = 1.5, radius: int = 8) -> np.ndarray:
    """True where some pixel within ``radius`` px has a :func:`texture_confidence` of at least ``threshold``.

    The radius keeps a true occlusion next to a textured moving object: the strip it uncovers may lie on
    a flat background, but the object's texture is within a few pixels. ``grey``: ``(H, W)`` 0-255;
    returns ``(H, W)`` bool.
    """
    textured = (texture_confidence(grey, sigma=sigma) >= threshold).astype(np.uint8)
    return (cv2.dilate(textured, _disk(radius)) if radius else textured) > 0


def out_of_frame(flow: np.ndarray) -> np.ndarray:
    """True where ``x + w(x)`` leaves the frame (pixel centres at integers, the frame spans ±0.5 beyond)."""
    height, width = flow.shape[:2]
    xs, ys = _target(flow)
    return (xs < -0.5) | (xs >= width - 0.5) | (ys < -0.5) | (ys >= height - 0.5)


def soft_threshold(hole: np.ndarray, *, sigma: float, threshold: float) -> np.ndarray:
    """Blur the binary map with a Gaussian of ``sigma`` px and keep where it reaches ``threshold``."""
    soft = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)
    return soft >= threshold


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def remove_specks(hole: np.ndarray, min_area: int) -> np.ndarray:
    """Drop 8-connected hole components of fewer than ``min_area`` pixels."""
    if min_area <= 1:
        return hole
    count, labels, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # label 0 is the background
    return keep[labels] if count > 1 else hole


def occlusion_from_flows(
    forward: np.ndarray, backward: np.ndarray, config: OcclusionConfig, grey: np.ndarray | None = None
) -> np.ndarray:
    """The cleaned hole map of frame t from the flows t→t+1 and t+1→t (``(H, W, 2)`` float32 each).

    ``grey``: frame t as ``(H, W)`` 0-255, for the low-texture test (skipped without it, or with
    ``texture_threshold = 0``). Out-of-frame pixels are holes whatever their texture.
    """
    hole = consistency_occlusion(forward, backward, alpha1=config.alpha1, alpha2=config.alpha2)
    if config.motion_boundaries:
        hole |= motion_boundary(forward, alpha1=config.boundary_alpha1, alpha2=config.boundary_alpha2)
    if grey is not None and config.texture_threshold > 0:
        hole &= textured_near(
            grey, threshold=config.texture_threshold, sigma=config.texture_sigma, radius=config.texture_radius
        )
    hole |= out_of_frame(forward)
    if config.soft_sigma > 0:
        hole = soft_threshold(hole, sigma=config.soft_sigma, threshold=config.soft_threshold)
    if config.close_radius:
        hole = cv2.morphologyEx(hole.astype(np.uint8), cv2.MORPH_CLOSE, _disk(config.close_radius)) > 0
    if config.open_radius:
        hole = cv2.morphologyEx(hole.astype(np.uint8), cv2.MORPH_OPEN, _disk(config.open_radius)) > 0
    return remove_specks(hole, config.min_area)


def occlusion_from_frames(first: np.ndarray, second: np.ndarray, config: OcclusionConfig) -> np.ndarray:
    """Hole map of ``first`` (pixels not visible in ``second``) from two ``(H, W, 3)`` uint8 BGR frames."""
    grey = [
        cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame for frame in (first, second)
    ]
    forward = scaled_flow(config.method, grey[0], grey[1], scale=config.flow_scale)
    backward = scaled_flow(config.method, grey[1], grey[0], scale=config.flow_scale)
    return occlusion_from_flows(forward, backward, config, grey[0])


def classify_pair(hole: np.ndarray, config: OcclusionConfig) -> PairKind:
    """``"static"`` below ``min_hole_ratio`` (nothing moved), ``"cut"`` above ``max_hole_ratio``."""
    ratio = float(hole.mean())
    if ratio < config.min_hole_ratio:
        return "static"
    if ratio > config.max_hole_ratio:
        return "cut"
    return "mask"
