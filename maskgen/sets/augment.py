"""Augmentation of raw occlusion masks into square benchmark and training masks.

One raw mask (any size, from a video) becomes a ``size x size`` mask by, in this order:

1. **dilation** of the holes by ``dilation`` output px: a raw pixel becomes a hole when its distance to
   the nearest raw hole pixel (chessboard for the default square kernel, Euclidean for a disc), rounded
   to whole px, is at most ``dilation / scale`` raw px (floored), i.e. ``dilation`` px once magnified.
   NVIDIA dilated its raw masks by "9 to 49 pixels"; read as kernel sizes, square kernels of radius 4 to
   24, the default, which keeps streaks streaks (see the README's shape measures). The distance map of
   a raw mask is computed once (:func:`raw_distance`), so every radius costs a comparison and the
   ratios of all radii come from one histogram;
2. **rotation, translation and crop in one step**: a square window of ``size`` output px, rotated by
   ``angle`` degrees (any angle) about its centre ``(center_x, center_y)`` in raw px, is resampled
   with nearest neighbour (``cv2.warpAffine``, INTER_NEAREST), so the mask stays strictly binary;
3. **small raw masks are scaled, not tiled**: when the rotated window does not fit inside the raw mask
   (the raw mask is smaller than the crop, or the rotation needs more room than it has) the window is
   magnified by ``scale >= 1`` (nearest neighbour) just enough to fit. Tiling would repeat hole shapes
   and leave seams; scaling keeps one continuous scene;
4. **clipping** (benchmark N masks only): holes within ``clip`` px of the border are removed, giving
   NVIDIA's hole-free frame.

The hole ratio is hole pixels / all ``size * size`` pixels of the final mask.

Every step is a pure function of the raw mask and an :class:`AugmentParams`; randomness enters only
through :func:`random_params` and :func:`sample_in_range`, which take a ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pconv.maskgen.sets.bins import border_split

__all__ = [
    "KERNELS",
    "SCREEN_FACTOR",
    "AugmentConfig",
    "AugmentParams",
    "Window",
    "augment_hole",
    "component_floor",
    "drop_small_components",
    "magnification",
    "magnification_summary",
    "random_params",
    "random_window",
    "raw_distance",
    "raw_limit",
    "sample_in_range",
    "screening_map",
    "source_width",
    "threshold_distance",
    "warp_distance",
]

SCREEN_FACTOR = 4
COMPONENT_TRIES = 3
"""Radii (closest to the target ratio first) a window tries when dropping small components pushes the mask
out of its bin."""
KERNELS = ("square", "disc")
"""Downscaling of the low-resolution copy of a raw mask used to screen crop windows cheaply."""


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random augmentation.

    ``dilation`` is the inclusive range of hole dilation radii in output px (NVIDIA's 9-49 px kernels);
    ``kernel`` their shape, "square" (a ``2r+1`` square) or "disc";
    ``max_angle`` bounds the rotation, drawn uniformly from [-max_angle, max_angle]
    degrees (180 = any angle);
    ``source_width``: thin raw masks that must be magnified (:func:`source_width`) so that strokes are as
    wide whatever the footage's resolution;
    ``min_component``: hole components (8-connected) smaller than this many px of a 512-px mask (scaled
    with the area for other sizes, :func:`component_floor`) are removed from the final mask, 0 = keep all.
    Specks of flow noise, each dilated into its own square, otherwise outnumber the strokes: with all
    kept, the default benchmark had 1.3-2.3 times NVIDIA's components per mask in 8 of 12 cells; the
    default 600 px (150 px at the 256 px the shape measures use) brings every cell within 40 %.
    """

    dilation: tuple[int, int] = (4, 24)
    max_angle: float = 180.0
    kernel: str = "square"
    source_width: bool = True
    min_component: int = 600

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            raise ValueError(f"unknown dilation kernel {self.kernel!r}; choose one of {', '.join(KERNELS)}")
        low, high = self.dilation
        if not 0 <= low <= high <= 200:
            raise ValueError(
                f"dilation must be a range 0 <= low <= high <= 200 of radii in px, got {self.dilation}"
            )
        if not 0 <= self.min_component <= 1_000_000:
            raise ValueError(f"min_component must be 0 to 1,000,000 px, got {self.min_component}")
        if not 0 <= self.max_angle <= 180:
            raise ValueError(f"max_angle must be in [0, 180] degrees, got {self.max_angle}")


@dataclass(frozen=True)
class Window:
    """Where the output square lies in the raw mask: rotation (degrees, counter-clockwise), magnification
    (output px per raw px, >= 1) and centre (raw px, x = column, y = row)."""

    angle: float
    scale: float
    center_x: float
    center_y: float


@dataclass(frozen=True)
class AugmentParams:
    """Everything that turns one raw mask into one output mask: the window, the dilation radius in output
    px, the width of the cleared border frame (0 = none) and the smallest hole component kept (output px,
    0 = all)."""

    window: Window
    dilation: int
    clip: int = 0
    min_component: int = 0


def _fit(angle: float, raw_shape: tuple[int, int], size: int) -> tuple[float, float, float]:
    """Magnification and the half extents (raw px) of a window of ``size`` px rotated by ``angle``.

    The rotated square's bounding box has side ``size * (|cos| + |sin|)`` output px; the window is
    magnified just enough (scale >= 1) for that box to fit inside the raw mask.
    """
    height, width = raw_shape
    theta = math.radians(angle)
    extent = size * (abs(math.cos(theta)) + abs(math.sin(theta)))
    scale = max(1.0, math.ceil(extent / min(height, width) * 1e4) / 1e4)
    half = extent / scale / 2
    return scale, min(half, width / 2), min(half, height / 2)


def random_window(
    rng: np.random.Generator, raw_shape: tuple[int, int], size: int, config: AugmentConfig
) -> Window:
    """A random rotated window of ``size`` output px that lies wholly inside a raw mask of ``raw_shape``.

    The angle is uniform in [-max_angle, max_angle]; the window is magnified just enough to fit when the
    raw mask is too small for its rotated extent; its centre is uniform over all positions that fit.
    Values are rounded (angle 0.01 deg, centre 0.01 px, scale up to 1e-4) so a manifest row reproduces
    them exactly.
    """
    height, width = raw_shape
    angle = round(float(rng.uniform(-config.max_angle, config.max_angle)), 2)
    scale, half_x, half_y = _fit(angle, raw_shape, size)
    center_x = round(float(rng.uniform(half_x, width - half_x)), 2)
    center_y = round(float(rng.uniform(half_y, height - half_y)), 2)
    return Window(angle=angle, scale=scale, center_x=center_x, center_y=center_y)


def _window_matrix(window: Window, canvas: float, zoom: float) -> np.ndarray:
    """2x3 affine map from raw px to a canvas of side ``canvas`` output px whose centre is the window's
    centre, with both sides divided by ``zoom``."""
    matrix = cv2.getRotationMatrix2D((window.center_x, window.center_y), window.angle, window.scale)
    middle = (canvas - 1) / 2
    matrix[:, 2] += (middle - window.center_x, middle - window.center_y)
    matrix[:, 2] /= zoom
    return matrix


def raw_distance(raw_hole: np.ndarray, kernel: str = "disc") -> np.ndarray:
    """Distance from every raw pixel to the nearest raw hole pixel: the map all dilations are read from.

    ``kernel`` "disc" measures Euclidean distance (a dilation by radius r is a disc), "square" the
    chessboard distance (a dilation by r is a ``2r+1`` square, exact: no rounding).

    Shape: ``raw_hole`` ``(H, W)`` uint8 (non-zero = hole) or bool. Returns ``(H, W)`` uint8 distances in
    raw px, rounded to the nearest integer, 0 on holes, saturated at 255 (also everywhere when there is
    no hole at all).
    """
    source = raw_hole.view(np.uint8) if raw_hole.dtype == np.bool_ else raw_hole
    valid = cv2.compare(source, 0, cv2.CMP_EQ)
    if kernel == "square":  # the chessboard distance is exact with the 3x3 mask
        return cv2.convertScaleAbs(cv2.distanceTransform(valid, cv2.DIST_C, 3))
    return cv2.convertScaleAbs(cv2.distanceTransform(valid, cv2.DIST_L2, cv2.DIST_MASK_PRECISE))


def warp_distance(distance: np.ndarray, window: Window, size: int) -> np.ndarray:
    """The raw distance map resampled (nearest neighbour) onto the output square of ``window``.

    Shape: ``(H, W)`` uint8 from :func:`raw_distance` -> ``(size, size)`` uint8, still in raw px.
    """
    matrix = _window_matrix(window, size, 1.0)
    return cv2.warpAffine(distance, matrix, (size, size), flags=cv2.INTER_NEAREST, borderValue=255)


def magnification(raw_shape: tuple[int, int], size: int, angle: float = 0.0) -> float:
    """Output px per raw px of a ``size``-px window rotated by ``angle`` in a raw mask of ``raw_shape``."""
    return _fit(angle, raw_shape, size)[0]


def magnification_summary(scales: Sequence[float]) -> dict[str, float]:
    """Median, smallest and largest magnification of a set's masks (``scale`` of each one's window): how far
    the footage was blown up to fill the crop, which widens every stroke as much. Empty for no masks."""
    if not scales:
        return {}
    return {
        "median": round(float(statistics.median(scales)), 4),
        "min": round(float(min(scales)), 4),
        "max": round(float(max(scales)), 4),
    }


def source_width(raw_hole: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """The raw mask thinned so that its strokes, once magnified to fill a ``size``-px crop, are about as
    wide as they were in the source: what the footage's resolution adds is taken off before dilation.

    A raw mask of short side ``H < size`` is magnified at least ``m = size / H`` times (nearest neighbour),
    so a stroke ``w`` raw px wide becomes ``m·w`` output px, and 240-px footage gives strokes twice as wide
    as 480-px footage of the same scene. Peeling ``k = round(h·(m − 1)/m)`` raw px off every side, ``h`` the
    mask's typical half-width (``2 × mean − 1`` of the chessboard distance of its hole pixels to a valid
    pixel, exact for a straight band), leaves strokes of ``m·(w − 2k) ≈ w`` output px. The ridge of every
    stroke (hole pixels whose distance is a 3×3 local maximum) is kept, so thin strokes narrow to their
    centre line instead of vanishing. Masks needing no magnification, or whose ``k`` rounds to 0, are
    returned unchanged: footage of 480 px and more on its short side keeps its raw masks bit for bit.

    Shape: ``raw_hole`` ``(H, W)`` bool or uint8 (non-zero = hole). Returns ``(H, W)`` bool and ``k``.
    """
    hole = raw_hole.astype(bool) if raw_hole.dtype != np.bool_ else raw_hole
    factor = magnification(hole.shape, size)
    if factor <= 1.0 or not hole.any():
        return hole, 0
    padded = np.pad(hole.view(np.uint8), 1)  # outside the frame counts as valid, as NVIDIA's crops see it
    inner = cv2.distanceTransform(padded, cv2.DIST_C, 3)[1:-1, 1:-1]
    half = 2.0 * float(inner[hole].mean()) - 1.0
    peel = round(half * (factor - 1.0) / factor)
    if peel <= 0:
        return hole, 0
    ridge = hole & (inner >= cv2.dilate(inner, np.ones((3, 3), np.uint8)))
    return (inner > peel) | ridge, peel


def raw_limit(dilation: int, scale: float) -> int:
    """The largest raw distance (whole px) that a dilation of ``dilation`` output px reaches."""
    return math.floor(dilation / scale)


def component_floor(config: AugmentConfig, size: int) -> int:
    """The smallest hole component (px) a ``size``-px mask keeps: ``min_component`` scaled from 512 px."""
    return round(config.min_component * (size / 512) ** 2)


def drop_small_components(hole: np.ndarray, min_component: int) -> np.ndarray:
    """``hole`` without its 8-connected components of fewer than ``min_component`` px (in place)."""
    if min_component <= 1:
        return hole
    count, labels, stats, _ = cv2.connectedComponentsWithStats(hole.view(np.uint8), connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] < min_component
    small[0] = False  # label 0 is the background
    if count > 1 and small.any():
        hole[small[labels]] = False
    return hole


def threshold_distance(
    warped: np.ndarray, dilation: int, scale: float, clip: int, min_component: int = 0
) -> np.ndarray:
    """The final hole map: pixels within ``dilation`` output px of a hole, minus a ``clip``-px frame, minus
    components under ``min_component`` px.

    Shape: ``warped`` ``(S, S)`` uint8 from :func:`warp_distance`; returns ``(S, S)`` bool, True = hole.
    """
    hole = warped <= raw_limit(dilation, scale)
    if clip > 0:
        hole[:clip] = False
        hole[-clip:] = False
        hole[:, :clip] = False
        hole[:, -clip:] = False
    return drop_small_components(hole, min_component)


def augment_hole(distance: np.ndarray, params: AugmentParams, *, size: int) -> np.ndarray:
    """Apply one augmentation: the pure function under both the benchmark builder and training masks.

    Shape: ``distance`` ``(H, W)`` uint8 from :func:`raw_distance`; returns ``(size, size)`` bool, True =
    hole.
    """
    warped = warp_distance(distance, params.window, size)
    return threshold_distance(warped, params.dilation, params.window.scale, params.clip, params.min_component)


def random_params(
    rng: np.random.Generator, raw_shape: tuple[int, int], *, size: int, config: AugmentConfig
) -> AugmentParams:
    """Unconstrained random augmentation (training masks): random window, radius uniform in the range."""
    window = random_window(rng, raw_shape, size, config)
    low, high = config.dilation
    dilation = int(rng.integers(low, high + 1))
    return AugmentParams(window=window, dilation=dilation, min_component=component_floor(config, size))


def screening_map(distance: np.ndarray) -> np.ndarray:
    """A low-resolution copy of a raw distance map for :func:`sample_in_range`: each cell of
    :data:`SCREEN_FACTOR` x :data:`SCREEN_FACTOR` raw px keeps its smallest distance, so thin occlusion
    edges survive the downscaling.

    Shape: ``(H, W)`` uint8 -> ``(ceil(H / 4), ceil(W / 4))`` uint8, raw px.
    """
    height, width = distance.shape
    rows, cols = -(-height // SCREEN_FACTOR), -(-width // SCREEN_FACTOR)
    padded = np.full((rows * SCREEN_FACTOR, cols * SCREEN_FACTOR), 255, np.uint8)
    padded[:height, :width] = distance
    return padded.reshape(rows, SCREEN_FACTOR, cols, SCREEN_FACTOR).min(axis=(1, 3))


def _ratios_by_limit(warped: np.ndarray, area: float) -> np.ndarray:
    """Hole ratio for every raw distance limit 0..255: count(warped <= limit) / area.

    Shape: ``warped`` 2-D uint8; returns ``(256,)`` float64.
    """
    counts = cv2.calcHist([warped], [0], None, [256], [0, 256]).ravel()
    return np.cumsum(counts) / area


def _targeted_window(
    screen: np.ndarray,
    raw_shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    size: int,
    low: float,
    high: float,
    clip: int,
    config: AugmentConfig,
) -> Window | None:
    """A window whose estimated hole ratio can land in (low, high], chosen by box filters (integral images)
    over the low-resolution map, or None when no position of this raw mask can."""
    height, width = raw_shape
    angle = round(float(rng.uniform(-config.max_angle, config.max_angle)), 2)
    scale, half_x, half_y = _fit(angle, raw_shape, size)
    kept = (size - 2 * clip) / size  # side of the counted region (all, or inside the clipped frame)
    cells = max(1, round(size * kept / scale / SCREEN_FACTOR))
    # cells whose centre may be the window's centre (one cell of slack; the centre is clipped below)
    col0, col1 = max(0, math.floor(half_x / SCREEN_FACTOR) - 1), math.ceil((width - half_x) / SCREEN_FACTOR)
    row0, row1 = max(0, math.floor(half_y / SCREEN_FACTOR) - 1), math.ceil((height - half_y) / SCREEN_FACTOR)
    fits = None
    for radius, bound in zip(config.dilation, (high * 1.25, low * 0.8), strict=True):
        # fraction (x 255) of hole cells in the box around each cell at this radius; the ratio grows with
        # the radius, so the smallest radius must not overshoot the bin and the largest must reach it
        hole = cv2.compare(screen, raw_limit(radius, scale), cv2.CMP_LE)
        fraction = cv2.boxFilter(hole, cv2.CV_32F, (cells, cells), borderType=cv2.BORDER_CONSTANT)
        estimate = fraction[row0:row1, col0:col1] * (kept * kept / 255)
        fits = estimate <= bound if fits is None else fits & (estimate > bound)
    candidates = np.flatnonzero(fits)
    if candidates.size == 0:
        return None
    row, col = divmod(int(rng.choice(candidates)), fits.shape[1])
    jitter = rng.uniform(-0.5, 0.5, size=2) * SCREEN_FACTOR
    center_x = float(np.clip((col0 + col + 0.5) * SCREEN_FACTOR + jitter[0], half_x, width - half_x))
    center_y = float(np.clip((row0 + row + 0.5) * SCREEN_FACTOR + jitter[1], half_y, height - half_y))
    return Window(angle=angle, scale=scale, center_x=round(center_x, 2), center_y=round(center_y, 2))


def sample_in_range(
    distance: np.ndarray,
    screen: np.ndarray,
    rng: np.random.Generator,
    *,
    size: int,
    low: float,
    high: float,
    clip: int,
    border: int,
    config: AugmentConfig,
) -> tuple[np.ndarray, AugmentParams] | None:
    """Targeted sampling: a mask from this raw mask whose hole ratio lies in (low, high], or None.

    The crop is drawn among the positions whose estimated ratio (box filters over the low-resolution
    ``screen`` map at the smallest and largest dilation) can reach the interval; the warped distance map
    of that window then gives the ratio of every dilation radius at once (one histogram), and the radius
    is the one whose ratio comes closest to a target drawn uniformly in (low, high], among those that
    land inside the interval (and, when ``clip`` is 0, put a hole pixel within ``border`` px of the edge,
    the B rule). Aiming at a target, rather than taking any radius that fits, spreads the ratios over the
    bin instead of piling them just above its lower edge. No blind rejection: a window and a radius are
    only tried when they can land in the bin.

    Shape: ``distance`` ``(H, W)`` uint8 from :func:`raw_distance`, ``screen`` from
    :func:`screening_map`. Returns (``(size, size)`` bool hole map, params) or None when this raw mask
    cannot reach the interval.
    """
    target = float(rng.uniform(low, high))  # aim inside the bin, not at its edge: ratios spread over it
    window = _targeted_window(
        screen, distance.shape, rng, size=size, low=target, high=target, clip=clip, config=config
    )
    if window is None:
        return None
    warped = warp_distance(distance, window, size)
    inner = warped[clip : size - clip, clip : size - clip] if clip else warped
    ratios = _ratios_by_limit(inner, float(size * size))
    radii = np.arange(config.dilation[0], config.dilation[1] + 1)
    limits = np.floor(radii / window.scale).astype(np.intp)
    fits = (ratios[limits] > low) & (ratios[limits] <= high)
    if not clip:  # B: some hole pixel must lie inside the border band
        band = min(
            warped[:border].min(), warped[-border:].min(), warped[:, :border].min(), warped[:, -border:].min()
        )
        fits &= limits >= band
    if not fits.any():
        return None
    # the radii that fit, closest to the target first; dropping small components lowers the ratio (and may
    # empty the band of a B mask), so each is checked on its final mask
    order = np.argsort(np.abs(ratios[limits[fits]] - target), kind="stable")
    floor = component_floor(config, size)
    for dilation in radii[fits][order][:COMPONENT_TRIES]:
        params = AugmentParams(window=window, dilation=int(dilation), clip=clip, min_component=floor)
        hole = threshold_distance(warped, params.dilation, window.scale, clip, floor)
        if floor <= 1 or _still_fits(hole, low, high, clip, border):
            return hole, params
    return None


def _still_fits(hole: np.ndarray, low: float, high: float, clip: int, border: int) -> bool:
    """Whether a mask whose small components were dropped still lies in (low, high] and, for a B mask
    (``clip`` 0), still has a hole pixel in the ``border``-px band (the binning rule of :mod:`bins`)."""
    ratio = np.count_nonzero(hole) / hole.size
    return low < ratio <= high and (clip > 0 or border_split(hole, border) == "B")
