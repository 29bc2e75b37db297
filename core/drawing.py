"""Labels drawn into pictures: a header bar that names the columns of an image grid."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["column_header"]

FONT = cv2.FONT_HERSHEY_SIMPLEX


def column_header(names: Sequence[str], *, column: int, offset: int = 0, height: int = 28) -> np.ndarray:
    """A white bar naming each column of a grid whose columns are ``column`` px apart, the first starting
    ``offset`` px from the left; each name is centred on its column, shrunk to fit when the column is
    narrow. Returns ``(height, offset + len(names) * column, 3)`` uint8 (black on white; BGR = RGB).
    """
    bar = np.full((height, offset + len(names) * column, 3), 255, np.uint8)
    for number, name in enumerate(names):
        scale = 0.5
        while scale > 0.25 and cv2.getTextSize(name, FONT, scale, 1)[0][0] > column - 4:
            scale -= 0.05
        width = cv2.getTextSize(name, FONT, scale, 1)[0][0]
        x = offset + number * column + max(0, (column - width) // 2)
        cv2.putText(bar, name, (x, height - 9), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return bar
