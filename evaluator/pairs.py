"""The pairs of an evaluation: every benchmark mask with a seeded photo, checked before any work, and
``OUT/pairs.json`` that pins them for resumed runs, shards, merges and `pconv eval inputs`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pconv.core.files import relative_path, sha256_file
from pconv.datasets import image_files, parse_spec
from pconv.datasets.pairing import assign_masks, load_assignment, save_assignment
from pconv.evaluator.checks import bad_masks, bad_photos, describe_bad
from pconv.evaluator.notes import PAIRS_NAME

__all__ = ["EvalPairs", "Mask", "eval_pairs", "keep_pairs", "load_hole"]


@dataclass(frozen=True)
class Mask:
    """A benchmark mask as the evaluator needs it: its name, bin (0-based) and label, and split."""

    file: str
    bin: int
    label: str
    split: str
    hole_ratio: float
    record: Any


def _benchmark(bench: Path) -> list[Mask]:
    from pconv.maskgen.sets.bench_format import read_benchmark

    return [
        Mask(
            file=record.file,
            bin=int(record.bin),
            split=str(record.split),
            label=record.label,
            hole_ratio=float(record.hole_ratio),
            record=record,
        )
        for record in read_benchmark(Path(bench))
    ]


def load_hole(bench: Path, mask: Mask) -> np.ndarray:
    from pconv.maskgen.sets.bench_format import load_benchmark_hole

    return load_benchmark_hole(Path(bench), mask.record)


@dataclass(frozen=True)
class EvalPairs:
    """The seeded photo for every benchmark mask: ``pairs[i] = (photo relative to root, mask file)``,
    ``masks[i]`` the mask of pair ``i``, ``size`` the masks' (square) side, ``photos`` the count of photos
    used, ``skipped`` the bad photos left out (``skip_bad``); ``photos_sha256`` and ``benchmark_sha256`` the
    digests the protocol compares (of the sorted list of photos used, of the benchmark's manifest, which
    holds every mask's SHA-256)."""

    root: Path
    pairs: list[tuple[str, str]]
    masks: list[Mask]
    size: int
    photos: int
    skipped: tuple[str, ...] = ()
    photos_sha256: str = ""
    benchmark_sha256: str = ""


def eval_pairs(images: str, bench: Path, *, seed: int, skip_bad: bool = False) -> EvalPairs:
    """Pair the photos of the dataset spec ``images`` with the benchmark ``bench``'s masks (seeded, without
    replacement; see pconv.datasets.pairing): what every method of an evaluation is scored on.

    Every mask and photo is header-checked first; ValueError names all bad files in one line, unless
    ``skip_bad`` leaves bad photos out (bad masks are always refused: Table 1 needs each of them)."""
    from pconv.maskgen.sets.bench_format import CSV_NAME

    name, root, split = parse_spec(images)
    masks = _benchmark(bench)
    broken, (width, height) = bad_masks(bench, [mask.file for mask in masks])
    if broken:
        raise ValueError(f"{describe_bad(broken, 'masks')} in {bench}; see `pconv masks verify {bench}`")
    if width != height:
        raise ValueError(f"{bench}: masks are {width}x{height}; the evaluator needs square masks")
    names = [photo.relative_to(root).as_posix() for photo in image_files(name, root, split=split)]
    bad = bad_photos(root, names)
    if bad and not skip_bad:
        raise ValueError(
            f"{describe_bad(bad, 'photos')} in {root}; or pass --skip-bad-images to leave them out"
        )
    skipped = {photo for photo, _ in bad}
    names = [photo for photo in names if photo not in skipped]
    if not names:
        raise ValueError(f"{root}: none of its {len(skipped)} photos is usable")
    pairs = assign_masks(names, [mask.file for mask in masks], seed=seed)
    by_file = {mask.file: mask for mask in masks}
    ordered = [by_file[mask_name] for _, mask_name in pairs]
    return EvalPairs(
        root=root,
        pairs=pairs,
        masks=ordered,
        size=width,
        photos=len(names),
        skipped=tuple(sorted(skipped)),
        photos_sha256=hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest(),
        benchmark_sha256=sha256_file(Path(bench) / CSV_NAME),
    )


def _relative_spec(images: str, out: Path) -> str:
    """The dataset spec ``images`` with its root relative to ``out``."""
    name, root, split = parse_spec(images)
    return f"{name}:{relative_path(root, out)}:{split}"


def keep_pairs(out: Path, paired: EvalPairs, *, images: str, bench: Path, seed: int) -> dict[str, Any]:
    """Write ``OUT/pairs.json``, or check that the one there holds the same pairs; returns its metadata."""
    path = Path(out) / PAIRS_NAME
    meta = {
        "images": _relative_spec(images, out),
        "masks": relative_path(bench, out),
        "seed": seed,
        "size": paired.size,
        "photos": paired.photos,
        "skipped_photos": list(paired.skipped),
        "photos_sha256": paired.photos_sha256,
        "benchmark_sha256": paired.benchmark_sha256,
    }
    if not path.is_file():
        save_assignment(path, paired.pairs, meta=meta)
    elif load_assignment(path)[0] != paired.pairs:
        raise ValueError(
            f"{out}: holds other image-mask pairs (its {PAIRS_NAME} differs from this dataset, "
            "benchmark and seed); pass --overwrite to replace that evaluation, or choose another --out"
        )
    return meta


def eval_inputs(images: str, masks: str | Path, methods: Sequence[str] = ()) -> dict[str, Path]:
    """What an evaluation reads, by option, for :func:`~pconv.core.files.refuse_overlap`: the photo
    root, the benchmark and every ``folder:`` method's outputs (an ``--out`` among them would write grids
    into the photo set, which a later run would pair with masks)."""
    found = {"--images": parse_spec(images).root, "--masks": Path(masks)}
    for spec in methods:
        if spec.startswith("folder:"):
            found[f"--method {spec}"] = Path(spec.removeprefix("folder:"))
    return found
