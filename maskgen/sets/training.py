"""Masks for training: a torch Dataset that augments raw masks on the fly, and a fixed exported set.

Usable in three lines::

    from pconv.maskgen.sets.training import TrainingMasks
    masks = TrainingMasks("raw", size=512, seed=0)
    mask = masks[0]            # float32 tensor (1, 512, 512), 1 = valid, 0 = hole (the paper's M)

Item ``i`` of epoch ``e`` is drawn from ``numpy.random.default_rng([seed, e, i])`` only, so DataLoader
workers, DDP ranks and shuffling do not change which mask an index gives; call ``set_epoch(e)`` before
each epoch for fresh augmentations (with ``persistent_workers=True`` the workers keep the epoch they were
started with, so leave it off or rebuild the loader). ``pconv masks export-train`` writes exactly the
items of epoch 0 to a mask-set folder (see :mod:`pconv.maskgen.sets.maskset`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from pconv.core.masks import valid_from_hole
from pconv.core.workers import default_workers
from pconv.maskgen.raw.pool import RawMaskRecord, Split
from pconv.maskgen.sets.augment import AugmentConfig, AugmentParams, augment_hole, random_params
from pconv.maskgen.sets.bench_format import DRAWN_COLUMNS
from pconv.maskgen.sets.bins import DEFAULT_SET_SIZE, MIN_SET_SIZE, mask_stats
from pconv.maskgen.sets.maskset import Made, RawSource, drawn_row, write_mask_set

__all__ = ["TRAIN_COLUMNS", "TrainRecipe", "TrainingMasks", "export_training_masks", "training_hole"]

TRAIN_COLUMNS = DRAWN_COLUMNS
DRAWS = 20  # an augmentation whose crop misses every hole is drawn again, at most this many times
DEFAULT_AUGMENT = AugmentConfig()


def training_hole(
    source: RawSource, index: int, *, epoch: int, seed: int, size: int, config: AugmentConfig
) -> tuple[np.ndarray, AugmentParams, RawMaskRecord]:
    """Training mask ``index`` of ``epoch``: a random raw mask of the source, randomly augmented.

    A crop without any hole is drawn again (up to :data:`DRAWS` times): an all-valid mask teaches nothing.
    Returns the ``(size, size)`` bool hole map (True = hole), its parameters and its raw record.
    """
    rng = np.random.default_rng([seed, epoch, index])
    for _ in range(DRAWS):
        number = int(rng.integers(len(source)))
        distance, _ = source.load(number)
        params = random_params(rng, distance.shape, size=size, config=config)
        hole = augment_hole(distance, params, size=size)
        if hole.any():
            break
    return hole, params, source.records[number]


class TrainingMasks(Dataset):
    """Randomly augmented masks from a raw pool's training split, as the paper's M (1 = valid, 0 = hole).

    ``length`` sets the epoch size (default: one item per raw mask); item ``i`` picks a random raw mask,
    so any length works. Raises for a missing, empty or foreign pool or one without ``split.json``.
    """

    def __init__(
        self,
        raw: str | os.PathLike[str],
        *,
        size: int = DEFAULT_SET_SIZE,
        seed: int = 0,
        part: Split = "train",
        augment: AugmentConfig = DEFAULT_AUGMENT,
        length: int | None = None,
    ) -> None:
        if size < MIN_SET_SIZE:
            raise ValueError(f"mask size must be at least {MIN_SET_SIZE} px, got {size}")
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        if length is not None and length < 1:
            raise ValueError(f"length must be at least 1, got {length}")
        self.source = RawSource(
            Path(raw), part, augment.kernel, thin_for=size if augment.source_width else None
        )
        self.size, self.seed, self.augment = size, seed, augment
        self.length = length if length is not None else len(self.source)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the augmentations of ``epoch`` from now on."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        """Float32 ``(1, size, size)``: 1 = valid, 0 = hole."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} training masks")
        hole, _, _ = training_hole(
            self.source, index, epoch=self.epoch, seed=self.seed, size=self.size, config=self.augment
        )
        return valid_from_hole(hole)


@dataclass(frozen=True)
class TrainRecipe:
    """A fixed training set: items 0..count-1 of epoch 0 of ``TrainingMasks(raw, size=, seed=)``."""

    count: int
    size: int = DEFAULT_SET_SIZE
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    kind: ClassVar[str] = "training set"
    part: ClassVar[Split] = "train"
    unique: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")

    @property
    def columns(self) -> tuple[str, ...]:
        return TRAIN_COLUMNS

    def describe(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "size": self.size,
            "seed": self.seed,
            "dilation": list(self.augment.dilation),
            "max_angle": self.augment.max_angle,
            "kernel": self.augment.kernel,
            "source_width": self.augment.source_width,
            "epoch": 0,
        }

    def probe_indices(self) -> list[int]:
        return [0]

    def make(self, source: RawSource, index: int, first_attempt: int) -> Made:
        hole, params, record = training_hole(
            source, index, epoch=0, seed=self.seed, size=self.size, config=self.augment
        )
        return Made(hole=hole, row=drawn_row(mask_stats(hole), record, params, seed=self.seed))


def export_training_masks(
    raw: Path,
    out: Path,
    *,
    count: int,
    size: int = DEFAULT_SET_SIZE,
    seed: int = 0,
    augment: AugmentConfig = DEFAULT_AUGMENT,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write ``count`` augmented training masks from the pool's training split to ``out``; return ``out``."""
    recipe = TrainRecipe(count=count, size=size, seed=seed, augment=augment)
    return write_mask_set(
        Path(raw),
        Path(out),
        recipe,
        workers=workers or default_workers(),
        overwrite=overwrite,
        progress=progress,
    )
