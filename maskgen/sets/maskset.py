"""Writing a mask set folder (the benchmark, an exported training set) in parallel, resumably, reproducibly.

The folder's layout is :mod:`pconv.maskgen.sets.bench_format`'s.

The ``source`` column is relative to ``OUT`` (the pool records it relative to itself): a benchmark built
from its default input records ``default-input/seed-0/scenes/scene_003/frames``, one from videos beside it
``../clips/a.mp4``. No file holds a path as typed, so ``--out bench``, ``./bench/`` and ``/abs/bench`` give
the same bytes, and moving or renaming the folder (with its sources) keeps every record true.

Mask ``i`` is a pure function of the raw pool, the recipe and ``i`` (its random generator is seeded from
the recipe's seed and ``i``, never from a worker), so any ``workers`` gives the same bytes. Duplicates
(equal PNG bytes, i.e. equal masks: the encoder is deterministic) are resolved after all masks exist, in
file order: a mask equal to an earlier one is drawn again with its next attempt number.

``build.json`` is written first (and again, with the magnification, just after the manifest); ``manifest.csv``
last of the masks' files. A folder with ``build.json`` and no manifest is
an interrupted run: the same request resumes it (``.progress.jsonl`` lists the finished masks, their
PNGs were renamed into place before being listed), a different one is refused unless ``overwrite``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import h5py
import numpy as np

from pconv.core import __version__
from pconv.core.cache import ArrayCache
from pconv.core.errors import first_line
from pconv.core.files import (
    append_jsonl,
    atomic_output,
    atomic_write_bytes,
    atomic_write_text,
    read_json_object,
    read_jsonl,
    rebased,
    sha256_file,
)
from pconv.core.masks import encode_mask_png, read_mask_png
from pconv.core.output_folder import FolderState, OutputFolder
from pconv.core.progress import progress_bar
from pconv.core.workers import ordered_results, worker_processes, worker_state
from pconv.maskgen.raw.accumulate import accumulation_summary
from pconv.maskgen.raw.pool import RawMaskRecord, RawPool, Split, pool_digest
from pconv.maskgen.sets.augment import (
    AugmentConfig,
    AugmentParams,
    magnification,
    magnification_summary,
    raw_distance,
    screening_map,
    source_width,
)
from pconv.maskgen.sets.bench_format import (
    BUILD_NAME,
    CSV_NAME,
    HDF5_NAME,
    MASK_DIR,
    hdf5_attributes,
    set_mask_path,
)
from pconv.maskgen.sets.bins import MaskStats

__all__ = [
    "Made",
    "RawSource",
    "Recipe",
    "check_destination",
    "drawn_row",
    "finished_set",
    "pool_digest",
    "write_mask_set",
]


def drawn_row(stats: MaskStats, record: RawMaskRecord, params: AugmentParams, *, seed: int) -> dict[str, Any]:
    """The :data:`DRAWN_COLUMNS` of a mask with these statistics, drawn from ``record`` with ``params``."""
    window = params.window
    return {
        "hole_ratio": stats.hole_ratio,
        "border_distance": stats.border_distance,
        "raw_id": record.id,
        "source": record.source,
        "frame": record.t,
        "dilation": params.dilation,
        "angle": window.angle,
        "scale": window.scale,
        "crop_x": window.center_x,
        "crop_y": window.center_y,
        "seed": seed,
    }


PROGRESS_NAME = ".progress.jsonl"
CHUNK = 40  # masks per task: small enough for smooth progress and resume, large enough to amortise IPC
GZIP_LEVEL = 1  # HDF5 chunk compression: fast, and masks compress well anyway
CACHE_BYTES = 512 << 20  # raw masks kept per process: a few thousand at 640x480, a few hundred at 1080p


class RawSource:
    """The raw masks of one part of a pool, loaded on demand as (distance map, screen) with an LRU cache.

    Which raw mask a random draw picks depends only on the sorted records, never on the cache.
    """

    def __init__(self, raw: Path, part: Split, kernel: str = "disc", *, thin_for: int | None = None) -> None:
        self.pool = RawPool(raw)
        self.kernel = kernel
        self.thin_for = thin_for
        """Crop side (px) raw masks are thinned for (augment.source_width), or None to use them as read."""
        self._peeled: dict[int, int] = {}
        self.records: list[RawMaskRecord] = self.pool.records_in(part)
        self.ranked_by_ratio = tuple(
            sorted(range(len(self.records)), key=lambda i: (self.records[i].hole_ratio, i))
        )
        """Indices of the records from the sparsest raw mask to the densest."""
        self._cache: ArrayCache[tuple[np.ndarray, np.ndarray]] = ArrayCache(self._distance, CACHE_BYTES)

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distance, screen)`` of record ``index``: see augment.raw_distance and screening_map."""
        return self._cache.get(index)

    def peeled(self, index: int) -> float:
        """Output px thinning took off each side of record ``index``'s strokes (0 when not thinned): the
        dilation may add that much beyond its range, so bins the magnified strokes reached stay reachable."""
        if self.thin_for is None:
            return 0.0
        self.load(index)  # thins it in this process if not yet done
        shape = (self.records[index].height, self.records[index].width)
        return self._peeled[index] * magnification(shape, self.thin_for)

    def _distance(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        hole = self.pool.load_hole(self.records[index])
        if self.thin_for is not None:
            hole, self._peeled[index] = source_width(hole, self.thin_for)
        distance = raw_distance(hole, self.kernel)
        return distance, screening_map(distance)


@dataclass(frozen=True)
class Made:
    """One finished mask: ``hole`` ``(S, S)`` bool (True = hole) and its manifest row (without file and
    sha256), including the attempt number that produced it."""

    hole: np.ndarray
    row: dict[str, Any]


class Recipe(Protocol):
    """What a mask set is: how many masks, from which part of the pool, and how mask ``i`` is made."""

    kind: str
    part: Split
    size: int
    unique: bool
    augment: AugmentConfig

    @property
    def count(self) -> int: ...

    @property
    def columns(self) -> tuple[str, ...]: ...

    def describe(self) -> dict[str, Any]:
        """Every parameter, JSON-ready: written to build.json and the HDF5 attributes."""
        ...

    def probe_indices(self) -> list[int]:
        """Masks to make before writing anything, so an impossible request fails with nothing written."""
        ...

    def make(self, source: RawSource, index: int, first_attempt: int) -> Made:
        """Mask ``index`` from its first successful attempt >= ``first_attempt``; raise ValueError when the
        pool cannot make it."""
        ...


def recipe_source(raw: Path, recipe: Recipe) -> RawSource:
    """The raw masks of ``recipe``'s part, thinned for its crop size when its augmentation asks for it."""
    augment = recipe.augment
    return RawSource(raw, recipe.part, augment.kernel, thin_for=recipe.size if augment.source_width else None)


def _worker_source(raw: Path, recipe: Recipe) -> tuple[Recipe, RawSource]:
    """Worker initializer: the recipe and its raw masks, read once per process."""
    return recipe, recipe_source(raw, recipe)


def _make_chunk(out: Path, indices: Sequence[int]) -> list[tuple[int, str, bytes, dict[str, Any]]]:
    """Make, encode and write masks (with the process's :func:`_worker_source`); return (index, sha256,
    compressed HDF5 chunk, row) for each."""
    recipe, source = worker_state()
    return [_finish(out, recipe, recipe.make(source, index, 0), index) for index in indices]


def _finish(out: Path, recipe: Recipe, made: Made, index: int) -> tuple[int, str, bytes, dict[str, Any]]:
    data = encode_mask_png(made.hole)
    atomic_write_bytes(out / set_mask_path(index, recipe.count), data)
    return index, hashlib.sha256(data).hexdigest(), _chunk(made.hole), made.row


def _chunk(hole: np.ndarray) -> bytes:
    """The HDF5 chunk of one mask, compressed where the mask is made (in the workers): zlib level 1 is
    exactly what the dataset's gzip filter stores, so the writer only copies bytes."""
    return zlib.compress((hole.view(np.uint8) * np.uint8(255)).tobytes(), GZIP_LEVEL)


def _identity(raw: Path, recipe: Recipe) -> dict[str, Any]:
    return {
        "kind": recipe.kind,
        "params": recipe.describe(),
        "raw_pool": pool_digest(raw),
        "raw_accumulation": accumulation_summary(RawPool(raw), recipe.part),
        "version": __version__,
    }


def _set_folder(out: Path, overwrite: bool) -> OutputFolder:
    # webdataset/: the shards `export-train --webdataset` adds (pconv.maskgen.sets.tar_shards)
    return OutputFolder(
        out,
        identity_name=BUILD_NAME,
        files=(MASK_DIR, CSV_NAME, HDF5_NAME, PROGRESS_NAME, "webdataset"),
        complete_name=CSV_NAME,
        overwrite=overwrite,
    )


def _held_state(folder: OutputFolder, identity: dict[str, Any]) -> FolderState:
    """What ``folder`` holds, checked before anything is touched: "complete" (the same set, finished),
    "resume" (the same set, interrupted), "fresh" (nothing of ours) or "replace" (``overwrite`` and
    something to clear); ValueError for anything else."""

    def differs(held: dict[str, Any]) -> str | None:
        if {key: held.get(key) for key in identity} == identity:  # see check_destination for a subset
            return None
        params, asked = held.get("params", {}), identity["params"]
        changed = sorted(key for key in {**params, **asked} if params.get(key) != asked.get(key))
        return (
            f"{folder.path} already holds a different {held.get('kind', 'mask set')} (differs in: "
            f"{', '.join(changed) or 'raw pool or version'}); pass --overwrite to replace it"
        )

    foreign = (
        f"{folder.path} holds masks or a manifest that no build made ({BUILD_NAME} missing); "
        "pass --overwrite to replace them"
    )
    return folder.state(differs=differs, foreign=foreign)


def _refuse_nested(out: Path) -> None:
    """A set inside another set's folder would be counted as strays by the outer one's ``verify``."""
    for parent in Path(out).resolve().parents:
        if (parent / BUILD_NAME).is_file() and (parent / MASK_DIR).is_dir():
            raise ValueError(f"{out}: lies inside the mask set {parent}; choose a folder outside it")


def check_destination(out: Path, recipe: Recipe, *, overwrite: bool = False) -> None:
    """Refuse at once an ``out`` holding a different set or files no build made, or lying inside another
    set, before any long work that precedes the build (the default input's scenes and extraction); the
    raw pool is not compared, since it may not exist yet."""
    _refuse_nested(Path(out))
    identity = {"kind": recipe.kind, "params": recipe.describe(), "version": __version__}
    _held_state(_set_folder(Path(out), overwrite), identity)


def finished_set(raw: Path, out: Path, recipe: Recipe) -> bool:
    """Whether ``out`` holds this very set, finished: the same request from a pool of the same digest
    (build.json) and a manifest. A re-run can then say so and stop; files gone missing raise."""
    out = Path(out)
    if not ((out / BUILD_NAME).is_file() and (out / CSV_NAME).is_file()):
        return False
    held, identity = read_json_object(out / BUILD_NAME), _identity(Path(raw), recipe)
    if any(held.get(key) != value for key, value in identity.items()):
        return False
    _check_complete(out, recipe)
    return True


def _check_complete(out: Path, recipe: Recipe) -> None:
    """A finished set whose files have gone missing is not silently accepted as done."""
    names = [*(set_mask_path(index, recipe.count) for index in range(recipe.count)), HDF5_NAME]
    missing = [name for name in names if not (out / name).is_file()]
    if missing:
        raise ValueError(
            f"{out} holds this {recipe.kind}, but {missing[0]} is missing ({len(missing)} "
            "files in all); pass --overwrite to build it again"
        )


def _resumed(out: Path, recipe: Recipe) -> dict[int, tuple[str, dict[str, Any]]]:
    """Masks finished by an interrupted run whose PNG is still intact: index -> (sha256, row)."""
    progress = out / PROGRESS_NAME
    done: dict[int, tuple[str, dict[str, Any]]] = {}
    if progress.is_file():
        for line in read_jsonl(progress):
            for item in line["rows"]:
                done[int(item["index"])] = (str(item["sha256"]), dict(item["row"]))
    intact = {}
    for index, (digest, row) in done.items():
        path = out / set_mask_path(index, recipe.count)
        if index < recipe.count and path.is_file() and sha256_file(path) == digest:
            intact[index] = (digest, row)
    return intact


def _column_data(values: list[Any]) -> np.ndarray:
    if all(isinstance(value, int) for value in values):
        return np.asarray(values, np.int64)
    if all(isinstance(value, int | float) for value in values):
        return np.asarray(values, np.float64)
    return np.asarray([str(value) for value in values], dtype=h5py.string_dtype())


def _manifest_text(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_mask_set(
    raw: Path, out: Path, recipe: Recipe, *, workers: int = 1, overwrite: bool = False, progress: bool = False
) -> Path:
    """Make every mask of ``recipe`` from the raw pool ``raw`` into the folder ``out``; return ``out``.

    Resumes an interrupted run of the same request, returns at once when it is already complete, and
    refuses a folder holding a different set unless ``overwrite``. Raises ValueError (naming the bin or
    mask and what the pool lacks) when the pool cannot make a mask. What a failure leaves:

    * a fresh build that fails (the pool cannot make a mask, a raw mask is unreadable) leaves nothing,
      since running it again would fail the same way; an interrupted one keeps its files for a resume;
    * a resumed build keeps everything it and earlier runs finished, whatever stops it;
    * with ``overwrite`` the old set is moved aside and comes back if the new one does not complete, so
      a replacement happens whole or not at all.
    """
    raw, out = Path(raw), Path(out)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    _refuse_nested(out)
    folder = _set_folder(out, overwrite)
    with folder.locked():
        return _build(raw, folder, recipe, workers=workers, progress=progress)


@contextlib.contextmanager
def _new_hdf5(path: Path, final: Path) -> Iterator[h5py.File]:
    """``h5py.File(path, "w")`` whose failures read as one OSError naming ``final``: on a full disk the
    write fails first and the close then fails too, with a RuntimeError that would bury the reason."""
    h5 = h5py.File(path, "w")
    try:
        yield h5
    except OSError as error:
        with contextlib.suppress(Exception):
            h5.close()
        reason = os.strerror(error.errno) if error.errno else first_line(error)
        raise OSError(f"{final}: could not be written ({reason})") from None
    except BaseException:
        with contextlib.suppress(Exception):
            h5.close()
        raise
    try:
        h5.close()
    except RuntimeError as error:
        raise OSError(f"{final}: could not be written ({first_line(error)})") from None


def _build(raw: Path, folder: OutputFolder, recipe: Recipe, *, workers: int, progress: bool) -> Path:
    """:func:`write_mask_set` once its folder is locked."""
    out = folder.path
    main_source = recipe_source(raw, recipe)  # checks the pool up front: missing, empty, foreign, no split
    identity = _identity(raw, recipe)
    state = _held_state(folder, identity)
    if state == "complete":
        _check_complete(out, recipe)
        return out
    done = _resumed(out, recipe) if state == "resume" else {}
    if not done:  # an impossible request fails here, before anything is written or cleared
        for index in recipe.probe_indices():
            recipe.make(main_source, index, 0)
    with folder.replacing() if state == "replace" else contextlib.nullcontext():
        try:
            folder.write_identity(identity)
            table = _write_masks(
                raw, out, recipe, identity, main_source, done, workers=workers, progress=progress
            )
            atomic_write_text(out / CSV_NAME, _manifest_text(table, _columns(recipe)))
            magnified = magnification_summary([row["scale"] for row in table])
            folder.write_identity({**identity, "magnification": magnified})
        except (ValueError, OSError):
            if state == "fresh":  # it would fail the same way again: leave nothing
                folder.clear()
            raise
    (out / PROGRESS_NAME).unlink(missing_ok=True)
    return out


def _columns(recipe: Recipe) -> tuple[str, ...]:
    """The manifest's columns (and the HDF5 file's datasets besides ``masks``)."""
    return ("file", *recipe.columns, "sha256")


def _write_masks(
    raw: Path,
    out: Path,
    recipe: Recipe,
    identity: dict[str, Any],
    main_source: RawSource,
    done: dict[int, tuple[str, dict[str, Any]]],
    *,
    workers: int,
    progress: bool,
) -> list[dict[str, Any]]:
    """Make every mask not ``done`` into ``out`` and write ``masks.h5``; the manifest's rows."""
    with atomic_output(out / HDF5_NAME) as temp, _new_hdf5(temp, out / HDF5_NAME) as h5:
        masks = h5.create_dataset(
            "masks",
            shape=(recipe.count, recipe.size, recipe.size),
            dtype=np.uint8,
            chunks=(1, recipe.size, recipe.size),
            compression="gzip",
            compression_opts=GZIP_LEVEL,
        )
        bar = progress_bar(total=recipe.count, desc=f"build {recipe.kind}", enabled=progress, unit="mask")
        with bar:
            finished = _Finished(out, recipe, masks)
            finished.add_resumed(done, bar)
            finished.make_rest(raw, workers, bar)
        if recipe.unique:
            finished.resolve_duplicates(main_source)
        table = [
            {
                "file": set_mask_path(index, recipe.count),
                **_rebased_row(finished.rows[index], raw, out),
                "sha256": finished.digests[index],
            }
            for index in range(recipe.count)
        ]
        _record_hdf5(h5, table, recipe, identity)
    return table


def _record_hdf5(
    h5: h5py.File, table: list[dict[str, Any]], recipe: Recipe, identity: dict[str, Any]
) -> None:
    """Every manifest column as a dataset; the recipe, tool version and raw pool as attributes."""
    for column in _columns(recipe):
        h5.create_dataset(column, data=_column_data([row[column] for row in table]))
    for key, value in hdf5_attributes(identity).items():
        h5.attrs[key] = json.dumps(value) if isinstance(value, dict) else value


def _rebased_row(row: dict[str, Any], raw: Path, out: Path) -> dict[str, Any]:
    """``row`` with its source (relative to the pool ``raw``) made relative to the set folder ``out``."""
    return {**row, "source": rebased(row["source"], raw, out)} if "source" in row else row


class _Finished:
    """The masks made so far, by index: each one's PNG digest and row, its chunk in ``masks`` and a line
    in the progress file (what a resume trusts)."""

    def __init__(self, out: Path, recipe: Recipe, masks: h5py.Dataset) -> None:
        self.out, self.recipe, self.masks = out, recipe, masks
        self.digests: dict[int, str] = {}
        self.rows: dict[int, dict[str, Any]] = {}

    def _keep(self, index: int, digest: str, compressed: bytes, row: dict[str, Any]) -> None:
        self.masks.id.write_direct_chunk((index, 0, 0), compressed)
        self.digests[index], self.rows[index] = digest, row

    def add_resumed(self, done: dict[int, tuple[str, dict[str, Any]]], bar: Any) -> None:
        """The masks an interrupted run finished, read back from their PNGs."""
        for index, (digest, row) in sorted(done.items()):
            hole = read_mask_png(self.out / set_mask_path(index, self.recipe.count))
            self._keep(index, digest, _chunk(hole), row)
            bar.update(1)

    def make_rest(self, raw: Path, workers: int, bar: Any) -> None:
        """Every other mask, in chunks of :data:`CHUNK`, by ``workers`` processes."""
        todo = [index for index in range(self.recipe.count) if index not in self.digests]
        tasks = [(self.out, todo[start : start + CHUNK]) for start in range(0, len(todo), CHUNK)]
        with worker_processes(workers, initializer=_worker_source, initargs=(raw, self.recipe)) as executor:
            for chunk in ordered_results(executor, _make_chunk, tasks):
                for index, digest, compressed, row in chunk:
                    self._keep(index, digest, compressed, row)
                self._log(chunk)
                bar.update(len(chunk))

    def _log(self, chunk: list[tuple[int, str, bytes, dict[str, Any]]]) -> None:
        rows = [{"index": index, "sha256": digest, "row": row} for index, digest, _, row in chunk]
        append_jsonl(self.out / PROGRESS_NAME, {"rows": rows})

    def resolve_duplicates(self, source: RawSource) -> None:
        """Walk the masks in file order; draw any mask equal to an earlier one again (next attempt)."""
        seen: set[str] = set()
        for index in range(self.recipe.count):
            while self.digests[index] in seen:
                made = self.recipe.make(source, index, int(self.rows[index]["attempt"]) + 1)
                finished = _finish(self.out, self.recipe, made, index)
                self._keep(*finished)
                self._log([finished])
            seen.add(self.digests[index])
