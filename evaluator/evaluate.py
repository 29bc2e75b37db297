"""The evaluation run: pair photos with benchmark masks, run every method, score, resume, shard, merge.

An evaluation folder ``OUT`` holds::

    OUT/config.json        what is scored: dataset spec, benchmark, seed, size, bins, methods (the union of
                           every run into OUT, in order of first appearance)
    OUT/pairs.json         the seeded image-mask assignment (pconv.datasets.pairing), one pair per
                           benchmark mask
    OUT/per_pair/          per-pair metrics and Inception features, one file per shard (pconv.evaluator.store)
    OUT/table1.md, results.csv, results.json, grids/binK.png   the report (pconv.evaluator.report / grids)
    OUT/index.html         the page that shows it all (pconv.evaluator.page)
    OUT/grids/samples/METHOD/   the full-size composites the grids are drawn from, kept so that a resumed
                           run redraws no grid pair (pconv.evaluator.grids)

Nothing is written before every photo and mask has passed its header check (pconv.evaluator.checks) and
every method has loaded; bad photos are all named in one error, or left out with ``skip_bad_images``.
``overwrite`` replaces an earlier evaluation in ``OUT``. Paths recorded in ``config.json`` and
``pairs.json`` (the benchmark, the photos' root) are relative to ``OUT``, so the report's bytes do not
depend on how ``--out`` was spelled.

Every method sees the identical pairs and is scored on its composite: ``mask·image + (1 − mask)·output``
with the mask 1 = valid, so valid pixels are the input's whatever the method returns. Metrics are over the
whole composite against the ground truth.

Resuming: a run skips every (method, pair) already in ``per_pair/`` (and redraws only grid samples that
are missing, e.g. after ``--grid-pairs`` grew); it refuses to mix results of other Inception or LPIPS
weights or of a checkpoint file that changed (``config.json`` keeps their SHA-256). Sharding: ``--shard K/N``
scores one contiguous K-th block of the pairs and leaves the report to ``pconv eval merge OUT``; under
``torchrun`` the ranks shard the pairs the same way and rank 0 writes the report after a barrier. A merge
reads exactly what a single run reads, so the reports are identical.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pconv.core import __version__
from pconv.core.compiling import COMPILE_CHOICES, resolve_compile
from pconv.core.distributed import barrier, dist_env, pick_device
from pconv.core.files import atomic_write_text, read_json_object, refuse_overlap, relative_path, sha256_file
from pconv.core.locks import locked_folder
from pconv.core.masks import composite, valid_from_hole, white_holes
from pconv.core.metrics import PSNR_CAP, SSIM_SETTINGS
from pconv.core.progress import progress_bar, progress_message
from pconv.core.sharding import Shard
from pconv.datasets import image_files, load_image, parse_spec
from pconv.datasets.pairing import assign_masks, load_assignment, save_assignment
from pconv.evaluator import store
from pconv.evaluator.checks import bad_masks, bad_photos, describe_bad
from pconv.evaluator.grids import GRIDS_DIR, INPUT, TARGET, grid_pairs, sample_path, save_sample, write_grids
from pconv.evaluator.groups import DEFAULT_GROUPINGS, MIN_GROUP_PAIRS, groups_of
from pconv.evaluator.inception import FeatureExtractor
from pconv.evaluator.methods import (
    FolderMethod,
    Method,
    ModelMethod,
    method_slug,
    parse_method,
)
from pconv.evaluator.networks import load_networks
from pconv.evaluator.notes import PAIRS_NAME, report_notes
from pconv.evaluator.page import PAGE_NAME, write_report_page
from pconv.evaluator.plots import PLOTS_DIR, write_plots
from pconv.evaluator.protocol import protocol_record
from pconv.evaluator.report import aggregate, render_csv, render_json, render_table1
from pconv.evaluator.scores import DISTRIBUTION_METRICS, PAIR_METRICS, PairMetric, pair_metrics
from pconv.evaluator.subset import stratified_subset, subset_record
from torch import Tensor

__all__ = [
    "EvalConfig",
    "EvalPairs",
    "WorkPlan",
    "eval_pairs",
    "evaluate",
    "keep_pairs",
    "plan_work",
    "write_report",
]

CONFIG_NAME = "config.json"
REPORT_NAMES = ("table1.md", "results.csv", "results.json", PAGE_NAME)


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation; fields match ``pconv eval``'s options.

    ``images`` is a dataset spec (``datasets.parse_spec``), ``masks`` a benchmark folder, ``methods``
    method specs (``pconv.evaluator.methods``). ``inception_weights`` None looks in torch-fidelity's cache
    (and downloads with ``download_weights``), otherwise IS, FID, KID and P/U-IDS are left out.
    ``grid_pairs`` pairs per bin and split are shown in the grids. ``groupings``: the report's columns
    (pconv.evaluator.groups); distribution metrics need ``min_group_pairs`` pairs in a group.
    """

    images: str
    masks: Path
    methods: tuple[str, ...]
    out: Path
    seed: int = 0
    batch_size: int = 8
    inception_weights: Path | None = None
    grid_pairs: int = 2
    device: str = "cpu"
    skip_bad_images: bool = False
    overwrite: bool = False
    compile: str = "auto"
    max_pairs: int | None = None
    download_weights: bool = False
    lpips_net: str = "vgg"
    lpips_weights: Path | None = None
    groupings: tuple[str, ...] = DEFAULT_GROUPINGS
    min_group_pairs: int = MIN_GROUP_PAIRS

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError("give at least one --method")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"a method is listed twice: {list(self.methods)}")
        if self.compile not in COMPILE_CHOICES:
            raise ValueError(f"compile must be one of {', '.join(COMPILE_CHOICES)}, got {self.compile!r}")
        if self.batch_size < 1 or self.grid_pairs < 0:
            raise ValueError(
                f"batch size must be >= 1 and grid pairs >= 0, got {self.batch_size}, {self.grid_pairs}"
            )
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ValueError(f"--max-pairs must be >= 1, got {self.max_pairs}")
        if self.min_group_pairs < 2:
            raise ValueError(f"distribution metrics need groups of >= 2 pairs, got {self.min_group_pairs}")
        groups_of(self.groupings, [], [])  # ValueError for an unknown grouping


@dataclass(frozen=True)
class _Mask:
    """A benchmark mask as the evaluator needs it: its name, bin (0-based) and label, and split."""

    file: str
    bin: int
    label: str
    split: str
    hole_ratio: float
    record: Any


def _benchmark(bench: Path) -> list[_Mask]:
    from pconv.maskgen.sets.bench import read_benchmark

    return [
        _Mask(
            file=record.file,
            bin=int(record.bin),
            split=str(record.split),
            label=f"({record.bin_low:g},{record.bin_high:g}]",
            hole_ratio=float(record.hole_ratio),
            record=record,
        )
        for record in read_benchmark(Path(bench))
    ]


def _load_hole(bench: Path, mask: _Mask) -> np.ndarray:
    from pconv.maskgen.sets.bench import load_benchmark_hole

    return load_benchmark_hole(Path(bench), mask.record)


def _versions() -> dict[str, str]:
    from importlib import metadata

    import cv2
    import scipy
    import torchvision

    try:
        extras = {"pypatchmatch": metadata.version("pypatchmatch")}
    except metadata.PackageNotFoundError:
        extras = {}
    scoring = {name: metadata.version(name) for name in ("torch-fidelity", "lpips", "scikit-learn")}
    return {
        **extras,
        **scoring,
        "pconv-toolkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def _checkpoint_digests(methods: Sequence[Method]) -> dict[str, str]:
    """SHA-256 of every model method's checkpoint file: a resumed run must score the same weights."""
    return {
        method.spec: sha256_file(method.checkpoint) for method in methods if isinstance(method, ModelMethod)
    }


def _check_resumable(
    out: Path, stored: dict[str, Any], networks: dict[str, Any], digests: dict[str, str]
) -> None:
    """Refuse to add results of other metric networks or of a changed checkpoint to ``out``."""
    for name, record in networks.items():
        held = stored.get(name)
        if held and record and held != record:
            raise ValueError(
                f"{out}: its {name} scores come from {_weights_text(held)}, this run's from "
                f"{_weights_text(record)}; use the same weights or another --out"
            )
    for spec, digest in digests.items():
        if stored.get("checkpoints", {}).get(spec, digest) != digest:
            raise ValueError(
                f"{out}: method {spec} was scored with another version of that checkpoint file "
                "(its SHA-256 changed); score the new one into another --out"
            )


def _weights_text(record: dict[str, Any]) -> str:
    digest = str(record.get("sha256"))[:16]
    return f"{record.get('network', '?')} weights {record.get('file', '?')} (sha256 {digest}…)"


def _check_slugs(methods: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for spec in methods:
        other = seen.setdefault(method_slug(spec), spec)
        if other != spec:
            raise ValueError(
                f"methods {other!r} and {spec!r} would share the sample folder "
                f"{method_slug(spec)!r}; rename one of their files or folders"
            )


@dataclass(frozen=True)
class EvalPairs:
    """The seeded photo for every benchmark mask: ``pairs[i] = (photo relative to root, mask file)``,
    ``masks[i]`` the mask of pair ``i``, ``size`` the masks' (square) side, ``photos`` the count of photos
    used, ``skipped`` the bad photos left out (``skip_bad``); ``photos_sha256`` and ``benchmark_sha256`` the
    digests the protocol compares (of the sorted list of photos used, of the benchmark's manifest, which
    holds every mask's SHA-256)."""

    root: Path
    pairs: list[tuple[str, str]]
    masks: list[_Mask]
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
    from pconv.maskgen.sets.bench import CSV_NAME

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


_REPORT_FILES = (CONFIG_NAME, PAIRS_NAME, store.PER_PAIR_DIR, GRIDS_DIR, PLOTS_DIR, *REPORT_NAMES)


def _clear(out: Path) -> None:
    """Delete an earlier evaluation in ``out`` (``--overwrite``); refuse a folder that is not one."""
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not ((out / CONFIG_NAME).is_file() or (out / PAIRS_NAME).is_file()):
        raise ValueError(
            f"{out} is not an evaluation folder (no {CONFIG_NAME} or {PAIRS_NAME}); --overwrite replaces "
            "only evaluations, so choose an empty or new --out"
        )
    for name in _REPORT_FILES:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _prepare(
    config: EvalConfig,
    shard: Shard,
    methods: Sequence[Method],
    networks: dict[str, Any],
    digests: dict[str, str],
) -> tuple[dict[str, Any], list[tuple[str, str]], list[_Mask]]:
    """Pairs and the OUT/config.json of this evaluation, created or checked against an existing one; every
    check (photos, masks, folder outputs for this shard's pairs) passes before anything is written."""
    paired = eval_pairs(config.images, config.masks, seed=config.seed, skip_bad=config.skip_bad_images)
    pairs, ordered = paired.pairs, paired.masks
    out = Path(config.out)
    config_path = out / CONFIG_NAME
    if config.overwrite:
        _clear(out)
    stored = read_json_object(config_path, required={"methods": list}) if config_path.is_file() else None
    if stored:
        _check_resumable(out, stored, networks, digests)
    names = list(stored["methods"]) if stored else []
    names += [method for method in config.methods if method not in names]
    _check_slugs(names)
    scored = list(range(len(pairs)))
    if config.max_pairs is not None:
        scored = stratified_subset([(m.bin, m.split) for m in ordered], config.max_pairs, seed=config.seed)
    for method in methods:
        if isinstance(method, FolderMethod):
            method.check([scored[index] for index in shard.jobs(len(scored))])
    meta = keep_pairs(out, paired, images=config.images, bench=config.masks, seed=config.seed)
    bins = sorted({(mask.bin, mask.label) for mask in ordered})
    document = {
        **meta,
        "methods": names,
        "bins": [list(b) for b in bins],
        "grid_pairs": config.grid_pairs,
        **{name: record or (stored or {}).get(name) for name, record in networks.items()},
        "groupings": list(config.groupings),
        "min_group_pairs": config.min_group_pairs,
        "checkpoints": {**(stored or {}).get("checkpoints", {}), **digests},
        "subset": None,
    }
    if len(scored) < len(pairs):
        record = subset_record(scored, max_pairs=config.max_pairs or 0, seed=config.seed, total=len(pairs))
        document.update(subset=record, subset_pairs=scored)
    compiled = {method.spec: method.compiled for method in methods if isinstance(method, ModelMethod)}
    if compiled or (stored or {}).get("compiled"):  # whether each model ran through torch.compile
        document["compiled"] = {**(stored or {}).get("compiled", {}), **compiled}
    if stored != document:
        atomic_write_text(config_path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return document, pairs, ordered, scored


def evaluate(
    config: EvalConfig,
    *,
    shard: Shard | None = None,
    extractor: FeatureExtractor | None = None,
    progress: bool = True,
) -> str | None:
    """Score ``config.methods`` on this shard's pairs; returns Table 1 (Markdown) when it wrote the report.

    ``shard`` None means the whole run, or the torchrun rank's share when run under torchrun.
    ``extractor`` replaces Inception-v3 (tests inject a tiny classifier); None loads the configured weights.
    The report is written when the run covers every pair (shard 1/1), else by ``write_report``.
    """
    env = dist_env()
    if env.distributed and shard not in (None, Shard()):
        raise ValueError("use either torchrun or --shard, not both")
    shard = Shard(env.rank + 1, env.world_size) if env.distributed else shard or Shard()
    device = pick_device(config.device, env)  # under torchrun each rank drives its own GPU
    if env.distributed and device.type == "cuda":
        torch.cuda.set_device(device)
    if not env.distributed or torch.distributed.is_initialized():
        return _evaluate(config, shard, env.distributed, device, extractor, progress)
    torch.distributed.init_process_group(backend="gloo")  # gloo: the barrier works on CPUs and GPUs alike
    try:
        return _evaluate(config, shard, True, device, extractor, progress)
    finally:
        torch.distributed.destroy_process_group()


def eval_inputs(images: str, masks: str | Path, methods: Sequence[str] = ()) -> dict[str, Path]:
    """What an evaluation reads, by option, for :func:`~pconv.core.files.refuse_overlap`: the photo
    root, the benchmark and every ``folder:`` method's outputs (an ``--out`` among them would write grids
    into the photo set, which a later run would pair with masks)."""
    found = {"--images": parse_spec(images).root, "--masks": Path(masks)}
    for spec in methods:
        if spec.startswith("folder:"):
            found[f"--method {spec}"] = Path(spec.removeprefix("folder:"))
    return found


def _evaluate(
    config: EvalConfig,
    shard: Shard,
    distributed: bool,
    device: torch.device,
    extractor: FeatureExtractor | None,
    progress: bool,
) -> str | None:
    if config.overwrite and shard.count > 1:
        raise ValueError("--overwrite would delete the other shards' results; clear the folder once instead")
    refuse_overlap(config.out, eval_inputs(config.images, config.masks, config.methods))
    compiled = resolve_compile(config.compile, device)
    methods = [parse_method(spec, device=device, compile=compiled) for spec in config.methods]
    nets = load_networks(config, device, injected=extractor)
    # the lock comes before OUT is read or written: a refused second run must change nothing
    with locked_folder(config.out, name=f".pconv-shard-{shard.index}-of-{shard.count}.lock"):
        document, pairs, masks, scored = _prepare(
            config, shard, methods, nets.records, _checkpoint_digests(methods)
        )
        _, root, _ = parse_spec(config.images)
        run = _Run(
            Path(config.out),
            shard,
            root,
            Path(config.masks),
            document["size"],
            pairs,
            masks,
            device,
            nets.extractor,
            tuple(pair_metrics(nets.lpips)),
            scored,
        )
        _score(config, run, methods, progress=progress and shard.index == 1)
    if distributed:
        barrier()
    if shard.count > 1 and not (distributed and shard.index == 1):
        return None
    return write_report(config.out, progress=progress)


Key = tuple[str, int]


@dataclass(frozen=True)
class WorkPlan:
    """What a run still has to do on its pairs; everything else is already in ``OUT``.

    ``pairs``: every pair with anything to do, ascending (the photos and masks to load). ``run``: per
    method spec (and ``store.REAL``, the ground truth, when features are on), the pairs to compute its
    composite for. ``scores`` and ``features``: the ``(name, pair)`` whose metrics and Inception features
    to record. ``shown``: the pairs of ``pairs`` whose grid samples are (re)drawn.
    """

    pairs: tuple[int, ...]
    run: dict[str, frozenset[int]]
    scores: frozenset[Key]
    features: frozenset[Key]
    shown: frozenset[int]


def plan_work(
    pairs: Sequence[int],
    methods: Sequence[str],
    *,
    shown: AbstractSet[int],
    scored: AbstractSet[Key],
    featured: AbstractSet[Key] | None,
    drawn: AbstractSet[Key],
) -> WorkPlan:
    """The work missing on ``pairs`` (this shard's), from what ``OUT`` holds; pure, so resuming is testable.

    ``scored`` and ``featured``: the ``(method, pair)`` with metrics and with features stored (``featured``
    None: no feature extractor, so no features are wanted, not even the ground truth's). ``shown``: the
    pairs of the grids; ``drawn``: the ``(name, pair)`` whose grid sample exists, names being methods,
    ``INPUT`` and ``TARGET``. A method is run on a pair when its metrics or features are missing, or the
    pair is shown and its sample is missing (e.g. after ``--grid-pairs`` grew).
    """
    names = [*methods, store.REAL] if featured is not None else list(methods)

    def lacks_sample(name: str, pair: int) -> bool:
        return pair in shown and (name, pair) not in drawn

    def missing(name: str, pair: int) -> bool:
        if featured is not None and (name, pair) not in featured:
            return True
        return name != store.REAL and ((name, pair) not in scored or lacks_sample(name, pair))

    todo = tuple(
        pair
        for pair in pairs
        if any(missing(name, pair) for name in names) or any(lacks_sample(n, pair) for n in (INPUT, TARGET))
    )
    run = {name: frozenset(pair for pair in todo if missing(name, pair)) for name in names}
    return WorkPlan(
        pairs=todo,
        run=run,
        scores=frozenset((m, p) for m in methods for p in run[m] if (m, p) not in scored),
        features=frozenset(
            (n, p) for n in names for p in run[n] if featured is not None and (n, p) not in featured
        ),
        shown=frozenset(pair for pair in todo if pair in shown),
    )


@dataclass(frozen=True)
class _Run:
    """What loading, running and recording share: the folder, shard, photos, pairs, device and extractor."""

    out: Path
    shard: Shard
    root: Path
    bench: Path
    size: int
    pairs: list[tuple[str, str]]
    masks: list[_Mask]
    device: torch.device
    extractor: FeatureExtractor | None
    metrics: tuple[PairMetric, ...]
    scored: list[int]


def _plan(config: EvalConfig, run: _Run, methods: Sequence[Method]) -> WorkPlan:
    """Read what ``OUT`` holds for this shard (metrics, features, grid samples) and plan the rest."""
    store.repair(run.out, run.shard)
    jobs = [run.scored[index] for index in run.shard.jobs(len(run.scored))]
    cells = [(run.masks[pair].bin, run.masks[pair].split) for pair in run.scored]
    shown = {run.scored[index] for index in grid_pairs(cells, per_cell=config.grid_pairs)}
    names = [*(method.spec for method in methods), INPUT, TARGET]
    drawn = {
        (name, pair)
        for pair in jobs
        if pair in shown
        for name in names
        if sample_path(run.out, name, pair).is_file()
    }
    featured = set(store.read_features(run.out)) if run.extractor is not None else None
    scored = set(store.read_metrics(run.out))
    specs = [method.spec for method in methods]
    return plan_work(jobs, specs, shown=shown, scored=scored, featured=featured, drawn=drawn)


def _score(config: EvalConfig, run: _Run, methods: Sequence[Method], *, progress: bool) -> None:
    """Compute and record the missing results of this shard, ``batch_size`` pairs at a time."""
    plan = _plan(config, run, methods)
    for method in methods:  # compile before the bar starts, so that its rate counts scoring alone
        if isinstance(method, ModelMethod) and method.compiled and plan.run.get(method.spec):
            if progress:
                progress_message(f"compiling {method.spec} for batches of {run.size}x{run.size} pairs")
            method.warm_up(min(config.batch_size, len(plan.pairs)), run.size)
    bar = progress_bar(total=len(plan.pairs), desc="eval", unit="pair", enabled=progress)
    for start in range(0, len(plan.pairs), config.batch_size):
        batch = list(plan.pairs[start : start + config.batch_size])
        images, valid = _load_batch(run, batch)
        for row, pair in enumerate(batch):
            if pair in plan.shown:
                save_sample(run.out, INPUT, pair, white_holes(images[row], valid[row]))
                save_sample(run.out, TARGET, pair, images[row])
        for name, method in [*((m.spec, m) for m in methods), (store.REAL, None)]:
            rows = [row for row, pair in enumerate(batch) if pair in plan.run.get(name, ())]
            if rows:
                chosen = [batch[row] for row in rows]
                filled = _composite(method, images[rows], valid[rows], chosen, run.device)
                _record(run, plan, name, chosen, filled, images[rows], is_method=method is not None)
        bar.update(len(batch))
    bar.close()


def _load_batch(run: _Run, batch: Sequence[int]) -> tuple[Tensor, Tensor]:
    """The pairs' photos ``(B, 3, S, S)`` in [0, 1] and masks ``(B, 1, S, S)``, 1 = valid, on the device."""
    images = torch.stack([load_image(run.root / run.pairs[pair][0], size=run.size) for pair in batch])
    holes = np.stack([_load_hole(run.bench, run.masks[pair]) for pair in batch])
    return images.to(run.device), valid_from_hole(holes).to(run.device)


def _composite(
    method: Method | None, image: Tensor, mask: Tensor, pairs: Sequence[int], device: torch.device
) -> Tensor:
    """What is scored: the method's output in the holes, the photo elsewhere; the photo itself for None."""
    if method is None:
        return image
    with torch.no_grad():
        output = method(image, mask, pairs).to(device)
    return composite(output, image, mask)


def _record(
    run: _Run,
    plan: WorkPlan,
    name: str,
    pairs: Sequence[int],
    filled: Tensor,
    image: Tensor,
    *,
    is_method: bool,
) -> None:
    """Store the composites' missing features, and for a method its grid samples and missing metrics."""
    if run.extractor is not None and any((name, pair) in plan.features for pair in pairs):
        _record_features(run, run.extractor, plan, name, pairs, filled)
    if not is_method:
        return
    scores = {
        metric.columns[0].key: metric.score(filled, image).double().cpu().tolist() for metric in run.metrics
    }
    for row, pair in enumerate(pairs):
        if pair in plan.shown:
            save_sample(run.out, name, pair, filled[row])
        if (name, pair) not in plan.scores:  # only its grid sample was missing
            continue
        mask = run.masks[pair]
        record = {
            "method": name,
            "pair": pair,
            "image": run.pairs[pair][0],
            "mask": run.pairs[pair][1],
            "bin": mask.bin,
            "split": mask.split,
            "hole_ratio": mask.hole_ratio,
        }
        store.write_metrics(
            run.out, run.shard, {**record, **{key: values[row] for key, values in scores.items()}}
        )


def _record_features(
    run: _Run, extractor: FeatureExtractor, plan: WorkPlan, name: str, pairs: Sequence[int], filled: Tensor
) -> None:
    """Inception pool features and logits of the composites whose features are missing."""
    with torch.no_grad():
        features, logits = extractor(filled)
    for row, pair in enumerate(pairs):
        if (name, pair) in plan.features:
            store.write_features(
                run.out,
                run.shard,
                method=name,
                pair=pair,
                features=features[row].float().cpu().numpy(),
                logits=logits[row].float().cpu().numpy(),
            )


def _feature_sets(
    records: dict[tuple[str, int], dict[str, Any]], methods: Sequence[str], scored: Sequence[int]
) -> dict[str, dict[str, np.ndarray]] | None:
    """Per method ``{"pairs", "fake", "real", "logits"}``: the ``scored`` pairs (ascending) and their rows
    of features (the ground truth's are ``real``); None if any method or the ground truth lacks a pair.
    ``records``: ``store.read_features``."""
    needed = [*methods, store.REAL]
    if any((name, pair) not in records for name in needed for pair in scored):
        return None

    def stacked(name: str, field: str) -> np.ndarray:
        return np.stack([store.decode_array(records[(name, pair)][field]) for pair in scored])

    real, pairs = stacked(store.REAL, "features"), np.asarray(scored)
    return {
        name: {
            "pairs": pairs,
            "fake": stacked(name, "features"),
            "real": real,
            "logits": stacked(name, "logits"),
        }
        for name in methods
    }


def write_report(out: Path, *, progress: bool = True) -> str:
    """Join every shard's per-pair results in ``out`` into table1.md, results.csv, results.json and grids.

    Raises ValueError naming the first incomplete method when some pairs have not been scored yet.
    Returns the Markdown table.
    """
    out = Path(out)
    config_path = out / CONFIG_NAME
    if not config_path.is_file():
        raise FileNotFoundError(f"{out}: not an evaluation folder (no {CONFIG_NAME}); run `pconv eval` first")
    with locked_folder(out, name=".pconv-report.lock"):
        return _write_report(out, config_path, progress=progress)


def _write_report(out: Path, config_path: Path, *, progress: bool) -> str:
    fields = {"methods": list, "bins": list, "images": str, "masks": str, "seed": int, "grid_pairs": int}
    document = read_json_object(config_path, required={**fields, "size": int, "photos": int})
    pairs, _ = load_assignment(out / PAIRS_NAME)
    scored = [int(pair) for pair in document.get("subset_pairs") or range(len(pairs))]
    records = _complete_records(out, document["methods"], scored)
    every = [record for method_records in records.values() for record in method_records]
    metrics = [m for m in PAIR_METRICS if all(m.columns[0].key in r for r in every)]
    bins = [(int(index), str(label)) for index, label in document["bins"]]
    groups = groups_of(
        document.get("groupings", DEFAULT_GROUPINGS), bins, [float(r["hole_ratio"]) for r in every]
    )
    stored_features = store.read_features(out)
    features = _feature_sets(stored_features, document["methods"], scored)
    min_pairs = int(document.get("min_group_pairs", MIN_GROUP_PAIRS))
    table = aggregate(
        records,
        groups,
        pair_metrics=metrics,
        distribution=DISTRIBUTION_METRICS if features is not None else (),
        features=features,
        min_pairs=min_pairs,
    )
    partial = features is None and bool(stored_features)
    notes = report_notes(
        document, len(scored), features is not None, partial_features=partial, lpips=len(metrics) > 3
    )
    title = (
        f"Table 1: {document['images']} × {document['masks']} ({_pair_count(document, len(scored))}, "
        f"seed {document['seed']})"
    )
    columns = [column for metric in [*metrics, *DISTRIBUTION_METRICS] for column in metric.columns]
    markdown = render_table1(table, groups, columns, title=title, notes=notes)
    meta = {
        "config": document,
        "versions": _versions(),
        "notes": notes,
        "psnr_cap_db": PSNR_CAP,
        "ssim_settings": vars(SSIM_SETTINGS),
        "inception": features is not None,
        "protocol": protocol_record(
            document, len(scored), metrics, DISTRIBUTION_METRICS if features is not None else ()
        ),
    }
    atomic_write_text(out / "results.json", render_json(table, groups, meta=meta))
    atomic_write_text(out / "results.csv", render_csv(table, groups, columns))
    atomic_write_text(out / "table1.md", markdown)
    write_plots(out, table, groups, columns)
    write_grids(
        out,
        records,
        document["methods"],
        bins=bins,
        per_cell=document["grid_pairs"],
        progress=progress,
    )
    write_report_page(out)
    return markdown


def _pair_count(document: dict[str, Any], count: int) -> str:
    subset = document.get("subset")
    return f"{count} pairs" if not subset else f"a subset of {count} of {subset['of']} pairs"


def _complete_records(
    out: Path, methods: Sequence[str], scored: Sequence[int]
) -> dict[str, list[dict[str, Any]]]:
    """Every method's records of the ``scored`` pairs, in order; ValueError names the first incomplete one."""
    done = store.read_metrics(out)
    records: dict[str, list[dict[str, Any]]] = {}
    for method in methods:
        lacking = [pair for pair in scored if (method, pair) not in done]
        if lacking:
            raise ValueError(
                f"{out}: method {method} lacks {len(lacking)} of {len(scored)} pairs (first: "
                f"pair {lacking[0]}); run the missing shards before merging"
            )
        records[method] = [done[(method, pair)] for pair in scored]
    return records
