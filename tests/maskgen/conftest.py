"""Fixtures shared by the benchmark tests: small raw pools in the pool layout (pconv.maskgen.raw.pool)."""

import json

import cv2
import numpy as np
import pytest

from pconv.core.files import append_jsonl
from pconv.core.masks import write_mask_png


def _scribble(rng, height, width, strokes, blobs):
    hole = np.zeros((height, width), np.uint8)
    for _ in range(strokes):
        points = rng.integers(0, [width, height], size=(3, 2)).astype(np.int32)
        cv2.polylines(hole, [points], False, 255, int(rng.integers(1, 3)))
    for _ in range(blobs):
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        axes = (int(rng.integers(2, width // 10)), int(rng.integers(2, height // 10)))
        cv2.ellipse(hole, centre, axes, 0, 0, 360, 255, -1)
    return hole > 0


def add_raw_mask(root, number, hole, *, source, t):
    """Write ``hole`` (bool, True = hole) as raw mask ``number`` of the pool ``root``: PNG, manifest line."""
    write_mask_png(root / "masks" / f"{number:06d}.png", hole)
    append_jsonl(
        root / "manifest.jsonl",
        {
            "id": number,
            "file": f"masks/{number:06d}.png",
            "source": source,
            "t": t,
            "step": 1,
            "method": "dis",
            "hole_ratio": float(hole.mean()),
            "height": hole.shape[0],
            "width": hole.shape[1],
        },
    )


def write_raw_pool(root, *, sources=4, per_source=6, height=144, width=192, seed=0, density=(1, 4, 10)):
    """A raw pool of random strokes and blobs; odd sources are test, even ones train."""
    rng = np.random.default_rng(seed)
    split, number = {}, 0
    for source_number in range(sources):
        source = f"clip{source_number}.mp4"
        split[source] = "test" if source_number % 2 else "train"
        for t in range(per_source):
            amount = density[t % len(density)]
            hole = _scribble(rng, height, width, strokes=amount, blobs=amount)
            add_raw_mask(root, number, hole, source=source, t=t)
            number += 1
    (root / "split.json").write_text(json.dumps({"sources": split}))
    return root


@pytest.fixture
def raw_pool(tmp_path):
    """A small raw pool with sparse and dense masks, enough for every bin at 128 px."""
    return write_raw_pool(tmp_path / "raw")


@pytest.fixture
def make_raw_pool(tmp_path):
    """Write a raw pool with custom settings: ``make_raw_pool(name, **write_raw_pool options)``."""
    return lambda name, **options: write_raw_pool(tmp_path / name, **options)


@pytest.fixture
def raw_mask_writer():
    """:func:`add_raw_mask`, for test modules that build pools of their own."""
    return add_raw_mask
