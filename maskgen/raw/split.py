"""Source-level train/test split of a raw pool: every mask of one video lands on the same side.

Masks of one video are alike (neighbouring pairs share shapes), so splitting by mask would leak test
shapes into training; the paper kept its 55,116 training and 24,866 test raw masks apart by video.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from pconv.core import __version__
from pconv.core.files import atomic_write_text
from pconv.core.locks import locked_folder
from pconv.maskgen.raw.pool import SPLIT_NAME, RawPool, Split

__all__ = ["split_pool", "split_sources"]


def split_sources(sources: list[str], *, test_fraction: float, seed: int) -> dict[str, Split]:
    """Assign each source to "train" or "test".

    The sources are sorted, shuffled with ``numpy.random.default_rng(seed)`` and the first
    ``n_test = floor(test_fraction · n + 0.5)`` go to test (round half up), clamped to ``[1, n - 1]``
    when there are two or more sources so that neither side is empty. A single source goes to test:
    the benchmark needs test masks, and training can use any other mask set.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if not sources:
        raise ValueError("no source to split")
    ordered = sorted(set(sources))
    order = np.random.default_rng(seed).permutation(len(ordered))
    count = len(ordered)
    n_test = 1 if count == 1 else min(count - 1, max(1, math.floor(test_fraction * count + 0.5)))
    test = {ordered[index] for index in order[:n_test]}
    return {source: ("test" if source in test else "train") for source in ordered}


def split_pool(raw: Path, *, test_fraction: float = 0.3, seed: int = 0) -> dict[str, str]:
    """Split the sources of the raw pool ``raw`` and write ``RAW/split.json`` atomically.

    ``split.json``: ``{"seed", "test_fraction", "sources": {source: side}, "masks": {side: count},
    "version"}``. Returns the ``sources`` mapping.
    """
    if not Path(raw).is_dir():
        RawPool(raw)  # its one-line error; the lock would create the missing folder
    with locked_folder(raw):  # before the manifest is read: a writer still adding masks refuses this
        return _split(RawPool(raw), test_fraction=test_fraction, seed=seed)


def _split(pool: RawPool, *, test_fraction: float, seed: int) -> dict[str, str]:
    sources = split_sources(
        [record.source for record in pool.records], test_fraction=test_fraction, seed=seed
    )
    masks = {
        side: sum(1 for record in pool.records if sources[record.source] == side)
        for side in ("train", "test")
    }
    document = {
        "seed": seed,
        "test_fraction": test_fraction,
        "sources": sources,
        "masks": masks,
        "version": __version__,
    }
    atomic_write_text(pool.root / SPLIT_NAME, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return dict(sources)
