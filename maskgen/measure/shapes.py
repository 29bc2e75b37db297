"""Shape and diversity measures that tell NVIDIA-like masks (strokes, outlines, streaks) from blobs.

Defined once, exactly, so figures compare across mask sets (ours, NVIDIA's release, anyone's). Each
mask is first scaled with nearest neighbour so that its longer side is :data:`SHAPE_SIDE` px; then:

* **thickness**: 2 × the mean, over hole pixels, of the Euclidean distance to the nearest valid pixel
  (OpenCV ``distanceTransform``, ``DIST_L2``, mask size 5): the stroke width;
* **boundary density**: 100 × (hole pixels with a valid pixel in their 3×3 neighbourhood, i.e. the hole
  minus its 3×3 erosion with OpenCV's default border) / hole pixels: edge per area;
* **components**: the number of 8-connected hole components;
* **roughness**: the summed length of the external contours over the summed perimeters of their convex
  hulls (``findContours`` with ``RETR_EXTERNAL`` and ``CHAIN_APPROX_NONE``, closed ``arcLength``): 1 for a
  convex shape, more for jagged edges and concave strokes.

Set summaries report medians; the headline compares only masks whose hole ratio lies in
:data:`SHAPE_RATIO_RANGE`. Near-duplicates are judged on 64×64 thumbnails (area-averaged, split at
one half): a mask is a near-duplicate when its best IoU with another mask of the same group exceeds
:data:`NEAR_DUPLICATE_IOU`.
"""

from __future__ import annotations

import collections
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

__all__ = [
    "NEAR_DUPLICATE_IOU",
    "NVIDIA_TEST_MEDIANS",
    "SHAPE_FIELDS",
    "SHAPE_RATIO_RANGE",
    "SHAPE_SIDE",
    "SHAPE_TOLERANCES",
    "THUMBNAIL_SIDE",
    "GroupSummary",
    "Medians",
    "ShapeMeasures",
    "inside_targets",
    "median_ratios",
    "near_duplicate_flags",
    "shape_measures",
    "summarize",
    "thumbnail",
]

SHAPE_SIDE = 256
SHAPE_RATIO_RANGE = (0.1, 0.6)
THUMBNAIL_SIDE = 64
NEAR_DUPLICATE_IOU = 0.9
LOW_TENTH = 0.1
SHAPE_FIELDS = ("thickness", "boundary_density", "components", "roughness")
SHAPE_TOLERANCES = {"thickness": 0.15, "boundary_density": 0.15, "components": 0.40, "roughness": 0.10}
"""How far a cell's median may lie from the reference's (as a fraction of it) and still count as alike:
components vary most from mask to mask, roughness least."""
_ROUNDING = 1e-9  # a ratio of exactly 1.15 is inside ±15 % whatever the float rounding


@dataclass(frozen=True)
class ShapeMeasures:
    """The four shape measures of one mask (see the module docstring); thickness in px at 256."""

    thickness: float
    boundary_density: float
    components: int
    roughness: float


def _scaled(hole: np.ndarray) -> np.ndarray:
    """``hole`` scaled with nearest neighbour so that its longer side is SHAPE_SIDE px, as uint8 0/1."""
    height, width = hole.shape
    factor = SHAPE_SIDE / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(hole.view(np.uint8), size, interpolation=cv2.INTER_NEAREST)


def shape_measures(hole: np.ndarray) -> ShapeMeasures:
    """Measure one mask. Shape: ``hole`` is ``(H, W)`` bool, True = hole, with at least one hole pixel."""
    if hole.ndim != 2 or hole.dtype != np.bool_:
        raise ValueError(f"a hole map must be a 2-D bool array, got {hole.dtype} of shape {hole.shape}")
    scaled = _scaled(hole)
    area = int(np.count_nonzero(scaled))
    if area == 0:
        raise ValueError("a mask without hole pixels (at 256 px) has no shape to measure")
    if area == scaled.size:  # no valid pixel to measure a distance to: the hole is the whole frame
        thickness = float(min(scaled.shape))
    else:
        thickness = 2.0 * float(cv2.distanceTransform(scaled, cv2.DIST_L2, 5)[scaled > 0].mean())
    eroded = cv2.erode(scaled, np.ones((3, 3), np.uint8))
    boundary = 100.0 * float(area - np.count_nonzero(eroded)) / area
    components = cv2.connectedComponents(scaled, connectivity=8)[0] - 1
    contours, _ = cv2.findContours(scaled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    length = sum(cv2.arcLength(contour, True) for contour in contours)
    hull = sum(cv2.arcLength(cv2.convexHull(contour), True) for contour in contours)
    roughness = length / hull if hull > 0 else 1.0  # only single pixels: nothing jagged to measure
    return ShapeMeasures(thickness, boundary, int(components), float(roughness))


def thumbnail(hole: np.ndarray) -> np.ndarray:
    """The 64×64 bool thumbnail near-duplicates are judged on (area average split at one half)."""
    small = cv2.resize(
        hole.view(np.uint8) * np.uint8(255), (THUMBNAIL_SIDE, THUMBNAIL_SIDE), interpolation=cv2.INTER_AREA
    )
    return small >= 128


def near_duplicate_flags(thumbnails: Sequence[np.ndarray], *, chunk: int = 1024) -> np.ndarray:
    """For each thumbnail, whether its best IoU with any other of the group exceeds NEAR_DUPLICATE_IOU.

    Exact, all pairs (O(n²), about a second for 2,000 masks); two empty thumbnails count as equal.
    Returns ``(n,)`` bool.
    """
    count = len(thumbnails)
    if count < 2:
        return np.zeros(count, bool)
    flat = np.stack([item.reshape(-1) for item in thumbnails]).astype(np.float32)
    sizes = flat.sum(axis=1)
    flags = np.zeros(count, bool)
    for start in range(0, count, chunk):
        block = flat[start : start + chunk]
        inter = block @ flat.T
        union = sizes[start : start + chunk, None] + sizes[None, :] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        rows = np.arange(len(block))
        iou[rows, start + rows] = -1.0  # a mask is no duplicate of itself
        flags[start : start + chunk] = iou.max(axis=1) > NEAR_DUPLICATE_IOU
    return flags


@dataclass(frozen=True)
class GroupSummary:
    """One group of masks (a bin × split, or a whole set): medians of the shape measures, diversity and
    where ratios sit in their bin. ``distinct_raw``/``most_uses`` are None when the masks' raw source is
    unknown (masks not made by this toolkit); ``low_tenth`` is None for a group that spans bins."""

    count: int
    thickness: float
    boundary_density: float
    components: float
    roughness: float
    near_duplicates: float
    distinct_raw: int | None
    most_uses: int | None
    low_tenth: float | None


def summarize(
    shapes: Sequence[ShapeMeasures],
    duplicate_flags: Sequence[bool],
    *,
    raw_ids: Sequence[object] | None = None,
    ratio_positions: Sequence[float] | None = None,
) -> GroupSummary:
    """Summarize a non-empty group. ``ratio_positions`` are the masks' ratios as fractions of their bin's
    range (0 = the lower edge): ``low_tenth`` is the share below one tenth."""
    if not shapes:
        raise ValueError("cannot summarize an empty group of masks")
    uses = collections.Counter(raw_ids) if raw_ids is not None else None
    return GroupSummary(
        count=len(shapes),
        thickness=statistics.median(item.thickness for item in shapes),
        boundary_density=statistics.median(item.boundary_density for item in shapes),
        components=statistics.median(item.components for item in shapes),
        roughness=statistics.median(item.roughness for item in shapes),
        near_duplicates=float(np.mean(duplicate_flags)),
        distinct_raw=len(uses) if uses is not None else None,
        most_uses=max(uses.values()) if uses else None,
        low_tenth=(
            float(np.mean(np.asarray(ratio_positions) <= LOW_TENTH)) if ratio_positions is not None else None
        ),
    )


class Medians(Protocol):
    """Anything with the four shape medians: a GroupSummary, or ShapeMeasures holding published figures."""

    thickness: float
    boundary_density: float
    components: float
    roughness: float


def median_ratios(ours: Medians, reference: Medians) -> dict[str, float]:
    """Each of the four medians of ``ours`` over the reference's (SHAPE_FIELDS order); nan where the
    reference's is 0 (no ratio to speak of)."""
    ratios = {}
    for name in SHAPE_FIELDS:
        base = float(getattr(reference, name))
        ratios[name] = float(getattr(ours, name)) / base if base != 0 else math.nan
    return ratios


def inside_targets(ratios: dict[str, float]) -> dict[str, bool]:
    """Per measure, whether its ratio lies within SHAPE_TOLERANCES of 1 (nan is never inside)."""
    return {name: abs(ratios[name] - 1.0) <= SHAPE_TOLERANCES[name] + _ROUNDING for name in SHAPE_FIELDS}


NVIDIA_TEST_MEDIANS: dict[tuple[int, str] | None, ShapeMeasures] = {
    (0, "N"): ShapeMeasures(5.8, 28.1, 6, 1.19),
    (0, "B"): ShapeMeasures(5.6, 29.2, 8, 1.16),
    (1, "N"): ShapeMeasures(7.9, 20.4, 9, 1.36),
    (1, "B"): ShapeMeasures(7.2, 22.2, 12, 1.32),
    (2, "N"): ShapeMeasures(10.3, 14.8, 7, 1.54),
    (2, "B"): ShapeMeasures(9.5, 17.1, 11, 1.44),
    (3, "N"): ShapeMeasures(13.6, 10.8, 5, 1.66),
    (3, "B"): ShapeMeasures(11.8, 12.8, 9, 1.56),
    (4, "N"): ShapeMeasures(16.1, 8.8, 3, 1.72),
    (4, "B"): ShapeMeasures(14.0, 10.4, 7, 1.64),
    (5, "N"): ShapeMeasures(29.4, 4.6, 1, 1.39),
    (5, "B"): ShapeMeasures(23.7, 5.7, 4, 1.53),
    None: ShapeMeasures(13.1, 11.2, 6, 1.51),
}
"""The medians of NVIDIA's whole released test set (12,000 masks), per (bin, split) of the paper's six bins
and (key None) over ratio 0.1-0.6, measured as above: the reference our masks aim at."""
