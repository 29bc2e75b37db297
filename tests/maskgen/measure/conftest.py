"""Mask folders shared by the measuring tests: a few masks of known ratios, a fake benchmark."""

import cv2
import numpy as np
import pytest


def mask_rows(ratio_rows, *, size=100, at_border=False):
    """A ``size``² hole map of ``ratio_rows`` rows of 60 hole px, 20 px from the top unless ``at_border``."""
    hole = np.zeros((size, size), bool)
    top = 0 if at_border else 20
    hole[top : top + ratio_rows, 20:80] = True  # 60 px per row
    return hole


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "external"
    (root / "sub").mkdir(parents=True)
    cv2.imwrite(str(root / "a.png"), mask_rows(5).astype(np.uint8) * 255)  # 300 px = 0.03, N at border 20
    cv2.imwrite(str(root / "sub" / "b.png"), mask_rows(40, at_border=True).astype(np.uint8) * 255)  # 0.24, B
    rgb = np.repeat((mask_rows(60).astype(np.uint8) * 255)[:, :, None], 3, axis=2)
    cv2.imwrite(str(root / "sub" / "c.png"), rgb)  # RGB, 0.36; rows 20..79 stay 20 px from the bottom: N
    cv2.imwrite(str(root / "empty.png"), np.zeros((100, 100), np.uint8))  # no hole: outside the bins
    (root / "notes.txt").write_text("not a mask")
    return root


@pytest.fixture
def fake_benchmark():
    """Writes a benchmark folder of masks of 20, 25, ... rows with these raw ids, and a raw pool inside it."""

    def write(root, raw_ids):
        (root / "masks").mkdir(parents=True)
        rows = ["file,raw_id"]
        for number, raw_id in enumerate(raw_ids):
            hole = mask_rows(20 + 5 * number)
            cv2.imwrite(str(root / "masks" / f"{number:05d}.png"), hole.astype(np.uint8) * 255)
            rows.append(f"masks/{number:05d}.png,{raw_id}")
        (root / "manifest.csv").write_text("\n".join(rows) + "\n")
        (root / "default-input" / "raw" / "masks").mkdir(parents=True)
        cv2.imwrite(
            str(root / "default-input" / "raw" / "masks" / "000000.png"), mask_rows(50).astype(np.uint8) * 255
        )
        return root

    return write
