"""Photos paired with masks: seeded test pairs with benchmark masks, and training pairs drawn step by step.

Test pairs: each benchmark mask gets a photo, "randomly assigning masks to images without replacement".

Every mask is used exactly once, so per-bin counts are the benchmark's. Photos are drawn without
replacement from a seeded permutation; when there are fewer photos than masks, a fresh permutation starts
each time the photos run out (each photo is then used ⌊M/N⌋ or ⌈M/N⌉ times, never twice in one round).
Both lists are sorted first, so the pairs depend only on the two sets of names and the seed, not on
listing order. Save the pairs with :func:`save_assignment` and score every method on that file: all
methods then see identical image-mask pairs. Store names relative to the dataset root and the benchmark
folder so the file can be shared.

Assignment file: JSON ``{"format": 1, "meta": {...}, "pairs": [[image, mask], ...]}`` in mask order.

Training pairs: :class:`TrainingPairs` joins training photos (random crops) with on-the-fly augmented
training masks, and :class:`StepBatchSampler` says which photos and draws make up each optimizer step.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from pconv.core.files import atomic_write_text
from pconv.datasets.images import BadImageError, load_image

__all__ = [
    "ASSIGNMENT_FORMAT",
    "MaskSource",
    "StepBatchSampler",
    "TrainingPairs",
    "assign_masks",
    "load_assignment",
    "save_assignment",
]

ASSIGNMENT_FORMAT = 1


def _sorted_unique(names: Sequence[str], what: str) -> list[str]:
    ordered = sorted(str(name) for name in names)
    if not ordered:
        raise ValueError(f"cannot pair: no {what} given")
    duplicate = next((a for a, b in itertools.pairwise(ordered) if a == b), None)
    if duplicate is not None:
        raise ValueError(f"cannot pair without replacement: {what} {duplicate!r} is listed twice")
    return ordered


def assign_masks(images: Sequence[str], masks: Sequence[str], *, seed: int) -> list[tuple[str, str]]:
    """Pair every mask with a photo drawn without replacement; returns ``(image, mask)`` in mask order."""
    image_list = _sorted_unique(images, "images")
    mask_list = _sorted_unique(masks, "masks")
    rng = np.random.default_rng(seed)
    rounds = -(-len(mask_list) // len(image_list))
    order = np.concatenate([rng.permutation(len(image_list)) for _ in range(rounds)])
    return [(image_list[int(i)], mask) for i, mask in zip(order, mask_list, strict=False)]


def save_assignment(path: Path, pairs: Sequence[tuple[str, str]], *, meta: dict[str, Any]) -> None:
    """Write ``pairs`` and ``meta`` (seed, dataset spec, benchmark, ...: JSON values) atomically."""
    document = {"format": ASSIGNMENT_FORMAT, "meta": meta, "pairs": [[str(i), str(m)] for i, m in pairs]}
    atomic_write_text(path, json.dumps(document, indent=0, sort_keys=True) + "\n")


def load_assignment(path: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Read an assignment file; returns ``(pairs, meta)``. ValueError if ``path`` is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such assignment file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not an assignment file ({error.msg})") from None
    except RecursionError:
        raise ValueError(f"{path}: not an assignment file (JSON nested too deeply)") from None
    if not isinstance(document, dict) or document.get("format") != ASSIGNMENT_FORMAT:
        raise ValueError(f"{path}: not an assignment file of format {ASSIGNMENT_FORMAT}")
    pairs = document.get("pairs")
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(name, str) for name in pair)
        for pair in pairs
    ):
        raise ValueError(f"{path}: 'pairs' must be a list of [image, mask] name pairs")
    return [(image, mask) for image, mask in pairs], dict(document.get("meta", {}))


class MaskSource(Protocol):
    """What training pairs need from a mask dataset (e.g. ``pconv.maskgen.sets.training.TrainingMasks``).

    ``source[i]`` is a float32 ``(1, size, size)`` mask, 1 = valid, whose randomness depends only on
    ``(seed, epoch, i)``; ``set_epoch`` picks the epoch.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> torch.Tensor: ...

    def set_epoch(self, epoch: int) -> None: ...


class TrainingPairs(Dataset):
    """Training photos paired with on-the-fly augmented training masks, keyed by ``(image index, sample)``.

    ``sample`` is the global number of the draw (unique across ranks and epochs, see
    :class:`StepBatchSampler`); the random crop comes from ``default_rng([seed, sample])`` and the mask
    from a seeded permutation of the mask dataset, taken epoch by epoch: mask ``sample`` is
    ``masks[perm_e[sample % M]]`` at mask epoch ``e = sample // M``. Every item is therefore a pure function
    of its key, whatever the worker processes or a resume do.

    Unreadable, missing, grey, CMYK or 16-bit photos are skipped (the next photo is taken) and counted in
    the item's ``skipped``; ``strict=True`` raises instead.

    Items: ``{"image": (3, size, size) float32 in [0, 1], "mask": (1, size, size) float32 1 = valid,
    "skipped": int}``.
    """

    def __init__(
        self, images: Sequence[Path], masks: MaskSource, *, size: int, seed: int, strict: bool = False
    ) -> None:
        if not images:
            raise ValueError("training pairs need at least one image")
        if len(masks) == 0:
            raise ValueError("training pairs need at least one mask")
        self.images = list(images)
        self.masks = masks
        self.size = size
        self.seed = seed
        self.strict = strict
        self._mask_epoch = -1
        self._mask_order = np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self.images)

    def _mask(self, sample: int) -> torch.Tensor:
        epoch, offset = divmod(sample, len(self.masks))
        if epoch != self._mask_epoch:
            self._mask_order = np.random.default_rng([self.seed, epoch]).permutation(len(self.masks))
            self._mask_epoch = epoch
            self.masks.set_epoch(epoch)
        return self.masks[int(self._mask_order[offset])]

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, sample = key
        rng = np.random.default_rng([self.seed, sample])
        for skipped in range(len(self.images)):
            path = self.images[(index + skipped) % len(self.images)]
            try:
                image = load_image(path, size=self.size, crop="random", rng=rng)
            except (BadImageError, FileNotFoundError):
                if self.strict:
                    raise
                continue
            return {"image": image, "mask": self._mask(sample), "skipped": skipped}
        raise ValueError(f"none of the {len(self.images)} training images could be read")


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of steps ``start_step`` … ``stop_step - 1`` for one rank, as ``(image index, sample)`` keys.

    Each rank reads its own stream: the concatenation, epoch after epoch, of what
    ``DistributedSampler(shuffle=True, seed=seed)`` gives it for that epoch; step ``s`` takes positions
    ``s·B … s·B + B − 1`` of the stream. The order depends only on (seed, rank, world size, step), so a
    resumed run reads exactly the batches the interrupted one would have read (same world size and batch
    size). ``sample = position · world_size + rank`` numbers every draw of the whole job once.
    """

    def __init__(
        self,
        num_images: int,
        *,
        batch_size: int,
        seed: int,
        rank: int,
        world_size: int,
        start_step: int,
        stop_step: int,
    ) -> None:
        self.sampler = DistributedSampler(
            range(num_images), num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=False
        )
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.start_step = start_step
        self.stop_step = stop_step

    def __len__(self) -> int:
        return max(0, self.stop_step - self.start_step)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        per_epoch = len(self.sampler)
        position = self.start_step * self.batch_size
        stop = self.stop_step * self.batch_size
        batch: list[tuple[int, int]] = []
        while position < stop:
            epoch, offset = divmod(position, per_epoch)
            self.sampler.set_epoch(epoch)
            for index in list(self.sampler)[offset:]:
                batch.append((index, position * self.world_size + self.rank))
                position += 1
                if len(batch) == self.batch_size:
                    yield batch
                    batch = []
                if position == stop:
                    break
