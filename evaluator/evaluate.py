"""The evaluation run: pair photos with benchmark masks, run every method, score, resume, shard, merge.

An evaluation folder ``OUT`` holds::

    OUT/config.json        what is scored: dataset spec, benchmark, seed, size, bins, methods (the union of
                           every run into OUT, in order of first appearance)
    OUT/pairs.json         the seeded image-mask assignment (pconv.datasets.pairing), one pair per
                           benchmark mask
    OUT/per_pair/          per-pair metrics and Inception features, one file per shard (pconv.evaluator.store)
    OUT/table1.md, results.csv, results.json, grids/binK.png   the report (pconv.evaluator.report / grids)
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
are missing, e.g. after ``--grid-pairs`` grew); it refuses to mix results of other Inception weights or
of a checkpoint file that changed (``config.json`` keeps their SHA-256). Sharding: ``--shard K/N`` scores
one contiguous K-th block of the pairs and leaves the report to ``pconv eval merge OUT``; under
``torchrun`` the ranks shard the pairs the same way and rank 0 writes the report after a barrier. A merge
reads exactly what a single run reads, so the reports are identical.
"""

from __future__ import annotations

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
from pconv.core.errors import first_line
from pconv.core.files import atomic_write_text, read_json_object, refuse_overlap, relative_path, sha256_file
from pconv.core.locks import locked_folder
from pconv.core.masks import composite, valid_from_hole, white_holes
from pconv.core.metrics import PSNR_CAP, SSIM_SETTINGS, image_metrics
from pconv.core.progress import progress_bar, progress_message
from pconv.core.sharding import Shard
from pconv.datasets import image_files, load_image, parse_spec
from pconv.datasets.pairing import assign_masks, load_assignment, save_assignment
from pconv.evaluator import store
from pconv.evaluator.checks import bad_masks, bad_photos, describe_bad
from pconv.evaluator.grids import GRIDS_DIR, INPUT, TARGET, grid_pairs, sample_path, save_sample, write_grids
from pconv.evaluator.inception import (
    IS_MIN_SPLIT_SIZE,
    IS_SPLITS,
    FeatureExtractor,
    InceptionExtractor,
    cached_inception_weights,
)
from pconv.evaluator.methods import (
    PATCHMATCH_RADIUS,
    FolderMethod,
    Method,
    ModelMethod,
    method_slug,
    parse_method,
)
from pconv.evaluator.report import aggregate, cells_of, render_csv, render_json, render_table1
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
PAIRS_NAME = "pairs.json"
REPORT_NAMES = ("table1.md", "results.csv", "results.json")


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation; fields match ``pconv eval``'s options.

    ``images`` is a dataset spec (``datasets.parse_spec``), ``masks`` a benchmark folder, ``methods``
    method specs (``pconv.evaluator.methods``). ``inception_weights`` None looks in torchvision's cache and
    otherwise skips IS and FID. ``grid_pairs`` pairs per bin and split are shown in the grids.
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
    return {
        **extras,
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


def _check_resumable(out: Path, stored: dict[str, Any], feature_note: str, digests: dict[str, str]) -> None:
    held = stored.get("inception")
    if held and feature_note and held != feature_note:
        raise ValueError(
            f"{out}: its Inception features come from {held}, this run would add features from "
            f"{feature_note}; use the same --inception-weights or another --out"
        )
    for spec, digest in digests.items():
        if stored.get("checkpoints", {}).get(spec, digest) != digest:
            raise ValueError(
                f"{out}: method {spec} was scored with another version of that checkpoint file "
                "(its SHA-256 changed); score the new one into another --out"
            )


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
    used, ``skipped`` the bad photos left out (``skip_bad``)."""

    root: Path
    pairs: list[tuple[str, str]]
    masks: list[_Mask]
    size: int
    photos: int
    skipped: tuple[str, ...] = ()


def eval_pairs(images: str, bench: Path, *, seed: int, skip_bad: bool = False) -> EvalPairs:
    """Pair the photos of the dataset spec ``images`` with the benchmark ``bench``'s masks (seeded, without
    replacement; see pconv.datasets.pairing): what every method of an evaluation is scored on.

    Every mask and photo is header-checked first; ValueError names all bad files in one line, unless
    ``skip_bad`` leaves bad photos out (bad masks are always refused: Table 1 needs each of them)."""
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
        root=root, pairs=pairs, masks=ordered, size=width, photos=len(names), skipped=tuple(sorted(skipped))
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
    }
    if not path.is_file():
        save_assignment(path, paired.pairs, meta=meta)
    elif load_assignment(path)[0] != paired.pairs:
        raise ValueError(
            f"{out}: holds other image-mask pairs (its {PAIRS_NAME} differs from this dataset, "
            "benchmark and seed); pass --overwrite to replace that evaluation, or choose another --out"
        )
    return meta


_REPORT_FILES = (CONFIG_NAME, PAIRS_NAME, store.PER_PAIR_DIR, GRIDS_DIR, *REPORT_NAMES)


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
    config: EvalConfig, shard: Shard, methods: Sequence[Method], feature_note: str, digests: dict[str, str]
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
        _check_resumable(out, stored, feature_note, digests)
    names = list(stored["methods"]) if stored else []
    names += [method for method in config.methods if method not in names]
    _check_slugs(names)
    for method in methods:
        if isinstance(method, FolderMethod):
            method.check(list(shard.jobs(len(pairs))))
    meta = keep_pairs(out, paired, images=config.images, bench=config.masks, seed=config.seed)
    bins = sorted({(mask.bin, mask.label) for mask in ordered})
    document = {
        **meta,
        "methods": names,
        "bins": [list(b) for b in bins],
        "grid_pairs": config.grid_pairs,
        "inception": feature_note or (stored or {}).get("inception"),
        "checkpoints": {**(stored or {}).get("checkpoints", {}), **digests},
    }
    compiled = {method.spec: method.compiled for method in methods if isinstance(method, ModelMethod)}
    if compiled or (stored or {}).get("compiled"):  # whether each model ran through torch.compile
        document["compiled"] = {**(stored or {}).get("compiled", {}), **compiled}
    if stored != document:
        atomic_write_text(config_path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return document, pairs, ordered


def _extractor(
    config: EvalConfig, injected: FeatureExtractor | None, device: torch.device
) -> tuple[FeatureExtractor | None, str]:
    if injected is not None:
        return injected, "an injected feature extractor"
    path = config.inception_weights or cached_inception_weights()
    if path is None:
        return None, ""
    extractor = InceptionExtractor(weights=path).to(device)
    return extractor, f"torchvision inception_v3 weights {Path(path).name} (sha256 {sha256_file(path)[:16]}…)"


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
    features, feature_note = _extractor(config, extractor, device)
    # the lock comes before OUT is read or written: a refused second run must change nothing
    with locked_folder(config.out, name=f".pconv-shard-{shard.index}-of-{shard.count}.lock"):
        document, pairs, masks = _prepare(config, shard, methods, feature_note, _checkpoint_digests(methods))
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
            features,
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


def _plan(config: EvalConfig, run: _Run, methods: Sequence[Method]) -> WorkPlan:
    """Read what ``OUT`` holds for this shard (metrics, features, grid samples) and plan the rest."""
    store.repair(run.out, run.shard)
    jobs = list(run.shard.jobs(len(run.pairs)))
    shown = set(grid_pairs([(mask.bin, mask.split) for mask in run.masks], per_cell=config.grid_pairs))
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
    scores = {key: value.double().cpu().tolist() for key, value in image_metrics(filled, image).items()}
    for row, pair in enumerate(pairs):
        if pair in plan.shown:
            save_sample(run.out, name, pair, filled[row])
        if (name, pair) not in plan.scores:  # only its grid sample was missing
            continue
        mask = run.masks[pair]
        store.write_metrics(
            run.out,
            run.shard,
            {
                "method": name,
                "pair": pair,
                "image": run.pairs[pair][0],
                "mask": run.pairs[pair][1],
                "bin": mask.bin,
                "split": mask.split,
                "hole_ratio": mask.hole_ratio,
                "l1": scores["l1"][row],
                "psnr": min(scores["psnr"][row], PSNR_CAP),
                "ssim": scores["ssim"][row],
            },
        )


def _record_features(
    run: _Run, extractor: FeatureExtractor, plan: WorkPlan, name: str, pairs: Sequence[int], filled: Tensor
) -> None:
    """Inception pool features and class probabilities of the composites whose features are missing."""
    with torch.no_grad():
        features, logits = extractor(filled)
    probs = torch.softmax(logits.double(), 1).float().cpu().numpy()
    for row, pair in enumerate(pairs):
        if (name, pair) in plan.features:
            store.write_features(
                run.out,
                run.shard,
                method=name,
                pair=pair,
                features=features[row].float().cpu().numpy(),
                probs=probs[row],
            )


def _feature_sets(
    records: dict[tuple[str, int], dict[str, Any]], methods: Sequence[str], count: int
) -> dict[str, dict[str, Any]] | None:
    """Per method, every pair's probabilities and features and the ground truth's; None if any lack.

    ``records``: the folder's stored features (``store.read_features``)."""
    needed = [*methods, store.REAL]
    if any((name, pair) not in records for name in needed for pair in range(count)):
        return None
    real = {pair: store.decode_array(records[(store.REAL, pair)]["features"]) for pair in range(count)}
    return {
        name: {
            "probs": {p: store.decode_array(records[(name, p)]["probs"]) for p in range(count)},
            "fake": {p: store.decode_array(records[(name, p)]["features"]) for p in range(count)},
            "real": real,
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


def _bins(value: list[Any], config_path: Path) -> list[tuple[int, str]]:
    """config.json's ``bins``: ``[index, label]`` pairs; anything else is one line naming the file."""
    if not all(
        isinstance(item, list) and len(item) == 2 and type(item[0]) is int and isinstance(item[1], str)
        for item in value
    ):
        raise ValueError(f"{config_path}: 'bins' should be a list of [index, label] pairs")
    return [(index, label) for index, label in value]


def _write_report(out: Path, config_path: Path, *, progress: bool) -> str:
    fields = {"methods": list, "bins": list, "images": str, "masks": str, "seed": int, "grid_pairs": int}
    document = read_json_object(config_path, required={**fields, "size": int, "photos": int})
    pairs, _ = load_assignment(out / PAIRS_NAME)
    done = store.read_metrics(out)
    records: dict[str, list[dict[str, Any]]] = {}
    for method in document["methods"]:
        lacking = [pair for pair in range(len(pairs)) if (method, pair) not in done]
        if lacking:
            raise ValueError(
                f"{out}: method {method} lacks {len(lacking)} of {len(pairs)} pairs (first: "
                f"pair {lacking[0]}); run the missing shards before merging"
            )
        records[method] = [done[(method, pair)] for pair in range(len(pairs))]
    cells = cells_of(_bins(document["bins"], config_path))
    stored_features = store.read_features(out)
    features = _feature_sets(stored_features, document["methods"], len(pairs))
    try:
        table = aggregate(records, cells, features=features)
    except (KeyError, TypeError, ValueError) as error:  # a per-pair record without bin, split or a metric
        raise ValueError(
            f"{out / store.PER_PAIR_DIR}: a record is not a pconv eval result ({type(error).__name__}: "
            f"{first_line(error)})"
        ) from None
    partial = features is None and bool(stored_features)
    notes = _notes(document, len(pairs), features is not None, partial_features=partial)
    title = (
        f"Table 1: {document['images']} × {document['masks']} ({len(pairs)} pairs, seed {document['seed']})"
    )
    markdown = render_table1(table, cells, title=title, notes=notes)
    meta = {
        "config": document,
        "versions": _versions(),
        "notes": notes,
        "psnr_cap_db": PSNR_CAP,
        "ssim_settings": vars(SSIM_SETTINGS),
        "inception": features is not None,
    }
    atomic_write_text(out / "results.json", render_json(table, cells, meta=meta))
    atomic_write_text(out / "results.csv", render_csv(table, cells))
    atomic_write_text(out / "table1.md", markdown)
    write_grids(
        out,
        records[document["methods"][0]],
        document["methods"],
        bins=[index for index, _ in _bins(document["bins"], config_path)],
        per_cell=document["grid_pairs"],
        progress=progress,
    )
    return markdown


def _notes(document: dict[str, Any], count: int, inception: bool, *, partial_features: bool) -> list[str]:
    notes = [
        f"Every method is scored on the same {count} image-mask pairs ({PAIRS_NAME}: one photo per benchmark "
        f"mask, seeded assignment without replacement, seed {document['seed']}), photos centre-cropped to "
        f"{document['size']}², on the composite (valid pixels from the input), over the whole image.",
        "ℓ1 (%) = mean |composite − ground truth| over all pixels and RGB channels in [0, 1], × 100.",
        f"PSNR = 10·log10(1 / MSE) over all pixels and RGB channels (data range 1); a pair with MSE 0 "
        f"counts as {PSNR_CAP:g} dB.",
        "SSIM (Wang et al. 2004): 11×11 Gaussian window σ 1.5, K1 0.01, K2 0.03, data range 1, population "
        "variances, valid filtering (no padding), no downsampling, mean per RGB channel then averaged.",
        "telea / ns: OpenCV cv2.inpaint (radius 3) on the 8-bit image.",
    ]
    if "patchmatch" in document["methods"]:
        notes.append(
            f"patchmatch: PyPatchMatch (Barnes et al. 2009) on the 8-bit image, patch radius "
            f"{PATCHMATCH_RADIUS} ({2 * PATCHMATCH_RADIUS + 1}×{2 * PATCHMATCH_RADIUS + 1} patches), "
            "random search seeded by the pair index."
        )
    skipped = document.get("skipped_photos") or []
    if skipped:
        notes.append(
            f"{len(skipped)} bad photos left out (--skip-bad-images; listed in {PAIRS_NAME}): "
            + ", ".join(skipped[:5])
            + (", …" if len(skipped) > 5 else "")
            + "."
        )
    if document["photos"] < count:
        notes.append(
            f"Only {document['photos']} photos for {count} masks: photos are reused, each at most "
            f"once per round of {document['photos']} masks."
        )
    if inception:
        notes.append(
            f"IS: {IS_SPLITS} splits of at least {IS_MIN_SPLIT_SIZE} pairs, mean ± std (– in cells "
            f"of fewer than {IS_SPLITS * IS_MIN_SPLIT_SIZE} pairs); FID: composites vs the same "
            f"pairs' ground truth, 2048-d pool features, sample covariances (biased upwards when a "
            f"cell has fewer than 2048 pairs); "
            f"{document.get('inception') or 'Inception-v3 features'}."
        )
    elif partial_features:
        notes.append(
            "IS and FID skipped: some methods were scored in a run without Inception-v3 weights, so "
            "their features are missing; run `pconv eval` again on this folder with "
            "--inception-weights PATH to add them."
        )
    else:
        notes.append(
            "IS and FID skipped: no Inception-v3 weights (give --inception-weights PATH, a "
            "torchvision-format inception_v3 state dict; nothing is downloaded)."
        )
    return notes
