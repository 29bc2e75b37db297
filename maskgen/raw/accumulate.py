"""Denser raw masks from sparse footage: unions of the occlusion maps of several frame pairs of one video
(``pconv masks accumulate``).

Two consecutive frames of slow footage (a few walkers, a hand-held cup) occlude 0.5 % of the frame. The
benchmark builder can reach the high bins from such a mask only by dilating it into blobs. Accumulating
the occlusions of several pairs of the same video, at least ``gap`` frames apart, gives the dense masks
of faster, busier footage and keeps the strokes thin: every member is still an occlusion map, and the
union adds strokes instead of widening them.

Every raw mask of the input pool starts one union (its id is the start's id): the start's pair, then the
next pair at least ``gap`` frames later, and so on, until the union's hole ratio reaches a target drawn
uniformly from ``density`` (seeded by the seed and the start's id), so the output spreads evenly over
that range of densities. A start whose video ends first, or that needs more than ``max_members``
pairs, gives no mask (``skipped.jsonl``, reason "short", with the ratio it reached). A union never
crosses a scene cut that ``extract`` found (its ``skipped.jsonl``): two shots are two scenes. A start
already denser than its target is kept alone. The input must be a pool of single pairs (``extract``'s):
a union of unions would break the gap rule and hide its pairs.

Layout of the output, besides a pool's (see :mod:`pconv.maskgen.raw.pool`)::

    OUT/accumulate.json   the input pool (path and digest) and every setting: a re-run must match it
    OUT/skipped.jsonl     {"id", "source", "t", "reason": "short", "hole_ratio"} per start without a mask
                          (the ratio its union reached)
    OUT/split.json        the input's split, when it has one, carried over at the end

Each manifest row keeps the start's fields and adds ``params["accumulate"]``: the member ids and
frames and the drawn target, so a row says exactly which pairs its mask joins. Resume and byte-identical
output work as for ``extract``: a start is done once its line is in ``manifest.jsonl`` or
``skipped.jsonl``; both are rewritten sorted by id at the end.
"""

from __future__ import annotations

import collections
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pconv.core import __version__
from pconv.core.cache import ArrayCache
from pconv.core.errors import first_line
from pconv.core.files import (
    atomic_write_text,
    read_json_object,
    read_jsonl,
    rebased,
    refuse_overlap,
    relative_path,
)
from pconv.core.masks import encode_mask_png
from pconv.core.output_folder import OutputFolder
from pconv.core.progress import progress_bar
from pconv.core.workers import default_workers, ordered_results, worker_processes, worker_state
from pconv.maskgen.raw.pool import (
    MANIFEST_NAME,
    MASK_DIR,
    SKIPPED_NAME,
    SPLIT_NAME,
    PoolWriter,
    RawMaskRecord,
    RawPool,
    SkippedPair,
    Split,
    finished_ids,
    pool_digest,
    raw_mask_path,
)

__all__ = [
    "ACCUMULATE_NAME",
    "AccumulateConfig",
    "AccumulateReport",
    "accumulate_pool",
    "accumulation_summary",
    "read_accumulation",
]

ACCUMULATE_NAME = "accumulate.json"
TASK_STARTS = 32  # starts per task: fine-grained progress and resume; neighbours share loaded members
CACHE_BYTES = 256 << 20  # member masks kept per process (the members of nearby starts overlap)


@dataclass(frozen=True)
class AccumulateConfig:
    """How unions are made: target hole ratios uniform in ``density``; members at least ``gap`` frames
    apart; at most ``max_members`` pairs per union; ``seed`` for the targets."""

    density: tuple[float, float] = (0.02, 0.3)
    gap: int = 12
    max_members: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        low, high = self.density
        if not 0 < low <= high <= 1:
            raise ValueError(f"density must be a range 0 < low <= high <= 1 of hole ratios, got {low} {high}")
        if self.gap < 1:
            raise ValueError(f"gap must be at least 1 frame, got {self.gap}")
        if self.max_members < 1:
            raise ValueError(f"max members must be at least 1, got {self.max_members}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")

    def describe(self) -> dict[str, Any]:
        """Every setting, JSON-ready (``accumulate.json``, a mask set's ``build.json``)."""
        return {
            "density": list(self.density),
            "gap": self.gap,
            "max_members": self.max_members,
            "seed": self.seed,
        }

    def target(self, start_id: int) -> float:
        """The hole ratio the union starting at raw mask ``start_id`` grows to (rounded: it is recorded)."""
        low, high = self.density
        return round(low + (high - low) * float(np.random.default_rng([self.seed, start_id]).random()), 6)


@dataclass(frozen=True)
class AccumulateReport:
    """What a run did: ``starts`` (raw masks of the input), of those ``resumed`` done by an earlier run;
    this run's ``masks_written`` and ``skipped_short``."""

    starts: int
    masks_written: int
    skipped_short: int
    resumed: int


def read_accumulation(raw: Path) -> dict[str, Any] | None:
    """A pool's ``accumulate.json`` with its settings checked (None for a pool of single pairs); a damaged
    one is a one-line ValueError, since its settings reach build files and dataset cards."""
    path = Path(raw) / ACCUMULATE_NAME
    if not path.is_file():
        return None
    run = read_json_object(path, required={"config": dict})
    settings = run["config"]
    try:
        density = tuple(float(value) for value in settings["density"])
        config = AccumulateConfig(
            density=(density[0], density[1]),
            gap=int(settings["gap"]),
            max_members=int(settings["max_members"]),
            seed=int(settings["seed"]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a record of `pconv masks accumulate` ({first_line(error)})") from None
    if config.describe() != settings:
        raise ValueError(f"{path}: not a record of `pconv masks accumulate` (unexpected settings)")
    return run


def _union(
    members: Sequence[RawMaskRecord],
    start: int,
    target: float,
    config: AccumulateConfig,
    cache: ArrayCache[np.ndarray],  # hole maps (uint8, 1 = hole) by record id
    cuts: Sequence[int] = (),
) -> tuple[np.ndarray, list[RawMaskRecord]]:
    """The union growing from ``members[start]`` (one source, sorted by frame) towards ``target``, with its
    members; it stops short when the source ends, at the first scene cut after the start (``cuts``: the
    first frames of the pairs ``extract`` found to be cuts), or when ``max_members`` is reached.
    ``(H, W)`` uint8, 1 = hole."""
    first = members[start]
    union = cache.get(first.id).copy()
    area = union.size
    holes = cv2.countNonZero(union)
    chosen = [first]
    shot_end = min((cut for cut in cuts if cut >= first.t), default=None)  # pairs from t_cut on: next shot
    for record in members[start + 1 :]:
        if holes >= target * area or len(chosen) == config.max_members:
            break
        if shot_end is not None and record.t >= shot_end:
            break
        if record.t < chosen[-1].t + config.gap:
            continue
        if (record.height, record.width) != (first.height, first.width):
            raise ValueError(
                f"{first.source}: raw masks {first.id} and {record.id} differ in size "
                f"({first.width}x{first.height} and {record.width}x{record.height}); cannot join them"
            )
        cv2.bitwise_or(union, cache.get(record.id), dst=union)
        holes = cv2.countNonZero(union)
        chosen.append(record)
    return union, chosen


def _by_source(pool: RawPool) -> dict[str, list[RawMaskRecord]]:
    """The pool's records per source, sorted by frame."""
    grouped: dict[str, list[RawMaskRecord]] = collections.defaultdict(list)
    for record in pool.records:
        grouped[record.source].append(record)
    return {source: sorted(members, key=lambda r: (r.t, r.id)) for source, members in grouped.items()}


def _scene_cuts(raw: Path) -> dict[str, list[int]]:
    """Per source, the first frames of the pairs ``extract`` skipped as scene cuts (none for pools without
    ``skipped.jsonl``)."""
    path = raw / SKIPPED_NAME
    cuts: dict[str, list[int]] = collections.defaultdict(list)
    for line in read_jsonl(path) if path.is_file() else []:
        if line.get("reason") == "cut" and isinstance(line.get("t"), int):
            cuts[str(line.get("source"))].append(line["t"])
    return dict(cuts)


@dataclass(frozen=True)
class _Members:
    """What every task of a run reads, made once per process: records by source (sorted by frame), each
    record's place there, scene cuts per source, the settings, and a cache of member hole maps."""

    by_source: dict[str, list[RawMaskRecord]]
    positions: dict[int, tuple[str, int]]
    cuts: dict[str, list[int]]
    config: AccumulateConfig
    cache: ArrayCache[np.ndarray]


def _read_members(raw: Path, config: AccumulateConfig) -> _Members:
    """Worker initializer: read the pool once per process."""
    pool = RawPool(raw)
    by_source = _by_source(pool)
    positions = {
        record.id: (source, n) for source, members in by_source.items() for n, record in enumerate(members)
    }
    by_id = {record.id: record for record in pool.records}
    cache = ArrayCache(lambda number: pool.load_hole(by_id[number]).view(np.uint8), CACHE_BYTES)
    return _Members(by_source, positions, _scene_cuts(raw), config, cache)


def _task(out: Path, starts: Sequence[int]) -> list[dict[str, Any]]:
    """Make the unions of the raw masks ``starts`` (ids, one source); write each PNG into ``out`` and
    return one result per start, in order."""
    shared: _Members = worker_state()
    config, writer = shared.config, PoolWriter(out)
    results = []
    for start_id in starts:
        source, start = shared.positions[start_id]
        target = config.target(start_id)
        cuts = shared.cuts.get(source, ())
        union, chosen = _union(shared.by_source[source], start, target, config, shared.cache, cuts)
        ratio = cv2.countNonZero(union) / union.size
        result = {"id": start_id, "kind": "short", "hole_ratio": ratio}
        if ratio >= target:
            writer.write_png(start_id, encode_mask_png(union.view(bool)))
            result["kind"] = "mask"
            result["members"] = [record.id for record in chosen]
            result["frames"] = [record.t for record in chosen]
            result["target"] = target
        results.append(result)
    return results


def _tasks(by_source: dict[str, list[RawMaskRecord]], done: set[int]) -> list[list[int]]:
    """Runs of up to :data:`TASK_STARTS` consecutive starts (ids) not yet done, source by source (sorted):
    neighbouring starts share most members, so one process loads them once."""
    tasks = []
    for source in sorted(by_source):
        todo = [record.id for record in by_source[source] if record.id not in done]
        tasks += [todo[i : i + TASK_STARTS] for i in range(0, len(todo), TASK_STARTS)]
    return tasks


def accumulate_pool(
    raw: Path,
    out: Path,
    config: AccumulateConfig = AccumulateConfig(),
    *,
    workers: int | None = None,
    progress: bool = False,
) -> AccumulateReport:
    """Write the unions of every raw mask of the pool ``raw`` into the pool folder ``out`` (see the
    module docstring). Resumes an unfinished run with the same input and settings; refuses a folder that
    holds another pool, ``out`` inside ``raw``, and an input that is itself accumulated."""
    raw, out = Path(raw), Path(out)
    pool = RawPool(raw)  # first: a missing or broken input fails before OUT is created
    refuse_overlap(out, {"RAW": raw})
    if read_accumulation(raw) is not None:
        raise ValueError(f"{raw}: already accumulated; accumulate the pool of single pairs it was made from")
    split = read_json_object(raw / SPLIT_NAME) if pool.split is not None else None
    run = {
        "config": config.describe(),
        "input": relative_path(raw, out),
        "input_digest": pool_digest(raw),
        "starts": len(pool.records),
        "version": __version__,
    }
    folder = OutputFolder(
        out,
        identity_name=ACCUMULATE_NAME,
        files=(MANIFEST_NAME, SKIPPED_NAME, MASK_DIR),
        required={"config": dict},
    )
    with folder.locked():
        done = _open(folder, run)
        try:
            counts = _accumulate(pool, out, config, done, workers or default_workers(), progress)
        except BaseException:
            if not any(finished_ids(out)):  # nothing worth resuming: leave no pool-looking folder behind
                folder.clear()
            raise
        if pool_digest(raw) != run["input_digest"]:
            raise ValueError(f"{raw}: the pool changed during the run; accumulate it again into a new folder")
        _finish(folder, config, raw, split)
    return AccumulateReport(
        starts=len(pool.records),
        masks_written=counts["mask"],
        skipped_short=counts["short"],
        resumed=len(done),
    )


def _open(folder: OutputFolder, run: dict[str, Any]) -> set[int]:
    """Start the run in the locked ``folder``, or check that it holds this very run; the starts done."""
    out = folder.path
    state = folder.state(
        differs=lambda held: (
            None
            if held == run
            else f"{out}: holds a pool accumulated from other input or settings; use a new folder"
        ),
        foreign=f"{out}: holds another raw mask pool; use a new folder",
    )
    if state == "fresh":
        folder.write_identity(run)
    (out / MASK_DIR).mkdir(exist_ok=True)
    return PoolWriter(out).tidy()  # drops a line an interruption cut short before appending


def _accumulate(
    pool: RawPool, out: Path, config: AccumulateConfig, done: set[int], workers: int, progress: bool
) -> dict[str, int]:
    """The work of :func:`accumulate_pool` once ``out`` is locked and checked: this run's counts."""
    by_id = {record.id: record for record in pool.records}
    counts = {"mask": 0, "short": 0}
    tasks = [(out, starts) for starts in _tasks(_by_source(pool), done)]
    writer = PoolWriter(out)
    bar = progress_bar(
        total=len(pool.records), desc="accumulate", enabled=progress, unit="mask", initial=len(done)
    )
    with worker_processes(workers, initializer=_read_members, initargs=(pool.root, config)) as executor, bar:
        for results in ordered_results(executor, _task, tasks):
            for result in results:
                _record(writer, pool.root, result, by_id[result["id"]])
                counts[result["kind"]] += 1
            bar.update(len(results))
    return counts


def _finish(folder: OutputFolder, config: AccumulateConfig, raw: Path, split: dict[str, Any] | None) -> None:
    """Rewrite the finished lists sorted and carry the input's split over; a run that made no mask at all
    leaves nothing and says which setting to lower."""
    out = folder.path
    manifest, skipped = finished_ids(out)
    if not manifest:
        folder.clear()
        raise ValueError(
            f"{raw}: no raw mask reached its target density {config.density[0]}-{config.density[1]} "
            f"with at most {config.max_members} pairs {config.gap} frames apart; lower --density"
        )
    PoolWriter(out).rewrite(manifest, skipped)
    if split is not None:
        _carry_split(split, raw, out, manifest)


def _record(writer: PoolWriter, raw: Path, result: dict[str, Any], start: RawMaskRecord) -> None:
    """Append one start's line: the mask's (its PNG is already in place; the start's fields, rebased,
    plus the members) or the skipped one."""
    source = rebased(start.source, raw, writer.root)
    if result["kind"] != "mask":
        writer.add_skipped(SkippedPair(start.id, source, start.t, "short", result["hole_ratio"]))
        return
    accumulate = {key: result[key] for key in ("members", "frames", "target")}
    record = RawMaskRecord(
        id=start.id,
        file=raw_mask_path(start.id),
        source=source,
        t=start.t,
        step=start.step,
        method=start.method,
        hole_ratio=result["hole_ratio"],
        height=start.height,
        width=start.width,
        params={**start.params, "accumulate": accumulate},
        version=__version__,
    )
    writer.add_mask(record)


def _carry_split(split: dict[str, Any], raw: Path, out: Path, manifest: list[dict[str, Any]]) -> None:
    """The input's ``split.json`` (as read at the start) with sources rebased to ``out`` and the new mask
    counts."""
    sources = {rebased(source, raw, out): side for source, side in split["sources"].items()}
    masks = {
        side: sum(1 for record in manifest if sources.get(record["source"]) == side)
        for side in ("train", "test")
    }
    document = {**split, "sources": sources, "masks": masks}
    atomic_write_text(out / SPLIT_NAME, json.dumps(document, indent=1, sort_keys=True) + "\n")


def accumulation_summary(pool: RawPool, part: Split | None = None) -> dict[str, Any] | None:
    """How an accumulated pool was made, for a mask set's metadata: its settings and the fewest, median
    and most pairs per raw mask of ``part`` (all of them for None); None for a pool of single pairs."""
    run = read_accumulation(pool.root)
    if run is None:
        return None
    records = pool.records if part is None else pool.records_in(part)
    counts = []
    for record in records:
        made = record.params.get("accumulate")
        if not isinstance(made, dict) or not isinstance(made.get("members"), list) or not made["members"]:
            raise ValueError(f"{pool.root}: raw mask {record.id} does not list the pairs it joins")
        counts.append(len(made["members"]))
    pairs = {"min": min(counts), "median": statistics.median(counts), "max": max(counts)}
    return {**run["config"], "pairs_per_mask": pairs}
