"""The pictures of a release: contact sheets of masks (like the paper's Fig. 4) and the hole-ratio histogram.

Both are drawn with OpenCV into uint8 arrays (encoded by :func:`pconv.core.masks.encode_png`, so the same
masks give the same bytes). Thumbnails are :data:`THUMB` px, half a 512² mask, so strokes of a few pixels
stay visible; a sheet has only as many columns and rows as it has masks, so a bin with few masks shows no
empty cells. The histogram's count axis has whole-number ticks at a round step, its top a tick, so a bar
of one mask ends exactly at the "1".
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pconv.maskgen.sets.bins import SPLITS

__all__ = ["THUMB", "contact_sheet", "count_ticks", "ratio_histogram", "side_by_side"]

THUMB = 256  # px per thumbnail
GAP = 2  # px of grey between thumbnails
CAPTION = 42  # px of the caption bar
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _caption(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` (H, W) uint8 with a white caption bar of ``text`` on top."""
    bar = np.full((CAPTION, image.shape[1]), 255, np.uint8)
    cv2.putText(bar, text, (8, CAPTION - 13), FONT, 0.9, 0, 2, cv2.LINE_AA)
    return np.vstack([bar, image])


def contact_sheet(holes: list[np.ndarray], *, columns: int, title: str) -> np.ndarray:
    """A grid of mask thumbnails (white = hole, grey lines between them) under a caption.

    At most ``columns`` per row, fewer when there are fewer masks. Shape: each hole ``(H, W)`` bool;
    returns ``(CAPTION + rows * (THUMB + GAP) + GAP, cols * (THUMB + GAP) + GAP)`` uint8.
    """
    if not holes:
        raise ValueError("a contact sheet needs at least one mask")
    cols = min(columns, len(holes))
    rows = -(-len(holes) // cols)
    step = THUMB + GAP
    grid = np.full((rows * step + GAP, cols * step + GAP), 128, np.uint8)
    for number, hole in enumerate(holes):
        row, col = divmod(number, cols)
        thumb = cv2.resize(hole.view(np.uint8) * np.uint8(255), (THUMB, THUMB), interpolation=cv2.INTER_AREA)
        grid[row * step + GAP : row * step + GAP + THUMB, col * step + GAP : col * step + GAP + THUMB] = thumb
    if len(holes) % cols:  # the last row's empty cells: white like the caption, not grey like a mask frame
        grid[(rows - 1) * step + GAP :, (len(holes) % cols) * step + GAP :] = 255
    return _caption(grid, title)


def side_by_side(sheets: list[np.ndarray]) -> np.ndarray:
    """Sheets stacked top to bottom, narrower ones padded with white on the right. Shape: (H, W) uint8."""
    width = max(sheet.shape[1] for sheet in sheets)
    return np.vstack(
        [np.pad(sheet, ((0, 0), (0, width - sheet.shape[1])), constant_values=255) for sheet in sheets]
    )


def count_ticks(peak: int, *, most: int = 6) -> list[int]:
    """Whole-number ticks from 0 at a round step (1, 2, 5 × 10^k) up to the first tick at or above ``peak``.

    Example:
        >>> count_ticks(3), count_ticks(7), count_ticks(1000)
        ([0, 1, 2, 3], [0, 2, 4, 6, 8], [0, 200, 400, 600, 800, 1000])
    """
    peak = max(1, peak)
    step = 1
    while math.ceil(peak / step) > most - 1:
        step = _next_step(step)
    return list(range(0, math.ceil(peak / step) * step + 1, step))


def _next_step(step: int) -> int:
    """1 → 2 → 5 → 10 → 20 → 50 ..."""
    return step * 5 // 2 if str(step)[0] == "2" else step * 2


_SIZE = (480, 900)  # height, width in px
_MARGINS = {"left": 80, "bottom": 60, "top": 40, "right": 20}
_COLOURS = {"N": (140, 70, 20), "B": (230, 170, 90)}  # BGR: N dark, B light
_BLACK = (0, 0, 0)


def ratio_histogram(ratios: list[float], splits: list[str], *, step: float = 0.01) -> np.ndarray:
    """Masks per ``step`` of hole ratio, N (dark) and B (light) stacked, with labelled axes.

    ``ratios`` and ``splits`` are per mask. Returns ``(480, 900, 3)`` uint8 BGR.
    """
    image = np.full((*_SIZE, 3), 255, np.uint8)
    top_ratio = max(0.7, max(ratios) + step)
    counts = _split_counts(ratios, splits, bins=round(top_ratio / step), step=step)
    ticks = count_ticks(int((counts["N"] + counts["B"]).max()))
    _draw_bars(image, counts, scale=ticks[-1])
    _draw_axes(image, top_ratio=top_ratio, ticks=ticks, step=step)
    cv2.putText(
        image,
        f"Hole ratios of {len(ratios)} masks",
        (_MARGINS["left"], 25),
        FONT,
        0.6,
        _BLACK,
        1,
        cv2.LINE_AA,
    )
    for number, split in enumerate(SPLITS):
        x = _SIZE[1] - _MARGINS["right"] - 220 + number * 110
        cv2.rectangle(image, (x, 14), (x + 14, 28), _COLOURS[split], -1)
        cv2.putText(image, f"{split} masks", (x + 20, 27), FONT, 0.5, _BLACK, 1, cv2.LINE_AA)
    return image


def _split_counts(ratios: list[float], splits: list[str], *, bins: int, step: float) -> dict[str, np.ndarray]:
    """Masks per ``step`` of ratio for each split, ``(bins,)`` int each; the last bin takes the rest."""
    counts = {split: np.zeros(bins, int) for split in SPLITS}
    for ratio, split in zip(ratios, splits, strict=True):
        counts[split][min(bins - 1, int(ratio / step))] += 1
    return counts


def _plot_area() -> tuple[int, int, int]:
    """Width and height of the plot inside the margins, and the y of its bottom edge, in px."""
    height, width = _SIZE
    plot_w = width - _MARGINS["left"] - _MARGINS["right"]
    return plot_w, height - _MARGINS["top"] - _MARGINS["bottom"], height - _MARGINS["bottom"]


def _draw_bars(image: np.ndarray, counts: dict[str, np.ndarray], *, scale: int) -> None:
    """One stacked bar per bin (N below B), ``scale`` masks reaching the top of the plot."""
    plot_w, plot_h, floor = _plot_area()
    left, bins = _MARGINS["left"], len(counts["N"])
    for index in range(bins):
        x0 = left + int(index * plot_w / bins)
        x1 = left + int((index + 1) * plot_w / bins) - 1
        base = 0
        for split in SPLITS:
            value = counts[split][index]
            if value:
                y0 = floor - round((base + value) * plot_h / scale)
                y1 = floor - round(base * plot_h / scale)
                cv2.rectangle(image, (x0, y0), (x1, y1), _COLOURS[split], -1)
            base += value


def _draw_axes(image: np.ndarray, *, top_ratio: float, ticks: list[int], step: float) -> None:
    """Both axes with their ticks and labels (the count axis label turned upright)."""
    plot_w, plot_h, floor = _plot_area()
    left, top, width = _MARGINS["left"], _MARGINS["top"], _SIZE[1]
    cv2.line(image, (left, floor), (width - _MARGINS["right"], floor), _BLACK, 1)
    cv2.line(image, (left, top), (left, floor), _BLACK, 1)
    for tick in np.arange(0, top_ratio + 1e-9, 0.1):
        x = left + int(tick / top_ratio * plot_w)
        cv2.line(image, (x, floor), (x, floor + 5), _BLACK, 1)
        cv2.putText(image, f"{tick:.1f}", (x - 12, floor + 20), FONT, 0.45, _BLACK, 1, cv2.LINE_AA)
    for tick in ticks:
        y = floor - round(tick * plot_h / ticks[-1])
        cv2.line(image, (left - 5, y), (left, y), _BLACK, 1)
        (text_w, _), _ = cv2.getTextSize(str(tick), FONT, 0.45, 1)
        cv2.putText(image, str(tick), (left - 9 - text_w, y + 5), FONT, 0.45, _BLACK, 1, cv2.LINE_AA)
    cv2.putText(
        image,
        "hole ratio",
        (left + plot_w // 2 - 40, _SIZE[0] - 15),
        FONT,
        0.55,
        _BLACK,
        1,
        cv2.LINE_AA,
    )
    label = np.full((24, 160, 3), 255, np.uint8)
    cv2.putText(label, f"masks per {step:g}", (4, 17), FONT, 0.55, _BLACK, 1, cv2.LINE_AA)
    rotated = cv2.rotate(label, cv2.ROTATE_90_COUNTERCLOCKWISE)
    y = top + plot_h // 2 - rotated.shape[0] // 2
    image[y : y + rotated.shape[0], 4 : 4 + rotated.shape[1]] = rotated
