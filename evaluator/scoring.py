"""Running the methods and recording per-pair results: load a batch, fill it with every method, score the
composites with every per-pair metric, store features and grid samples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pconv.core.masks import composite, valid_from_hole, white_holes
from pconv.core.progress import progress_bar, progress_message
from pconv.core.sharding import Shard
from pconv.datasets import load_image
from pconv.evaluator import store
from pconv.evaluator.folder import EvalConfig
from pconv.evaluator.grids import INPUT, TARGET, grid_pairs, sample_path, save_sample
from pconv.evaluator.inception import FeatureExtractor
from pconv.evaluator.methods import (
    Method,
)
from pconv.evaluator.pairs import Mask, load_hole
from pconv.evaluator.plan import WorkPlan, plan_work
from pconv.evaluator.scores import PairMetric

__all__ = ["Run", "score_pairs"]


@dataclass(frozen=True)
class Run:
    """What loading, running and recording share: the folder, shard, photos, pairs, device, the Inception
    extractor, the per-pair metrics and the pairs to score (all, or the --max-pairs subset)."""

    out: Path
    shard: Shard
    root: Path
    bench: Path
    size: int
    pairs: list[tuple[str, str]]
    masks: list[Mask]
    device: torch.device
    extractor: FeatureExtractor | None
    metrics: tuple[PairMetric, ...]
    scored: list[int]


def read_plan(config: EvalConfig, run: Run, methods: Sequence[Method]) -> WorkPlan:
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


def score_pairs(config: EvalConfig, run: Run, methods: Sequence[Method], *, progress: bool) -> None:
    """Compute and record the missing results of this shard, ``batch_size`` pairs at a time."""
    plan = read_plan(config, run, methods)
    announce = progress_message if progress else (lambda line: None)
    for method in methods:  # slow one-off work (compiling) before the bar, so its rate counts scoring alone
        if plan.run.get(method.spec):
            method.warm_up(min(config.batch_size, len(plan.pairs)), run.size, announce)
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


def _load_batch(run: Run, batch: Sequence[int]) -> tuple[Tensor, Tensor]:
    """The pairs' photos ``(B, 3, S, S)`` in [0, 1] and masks ``(B, 1, S, S)``, 1 = valid, on the device."""
    images = torch.stack([load_image(run.root / run.pairs[pair][0], size=run.size) for pair in batch])
    holes = np.stack([load_hole(run.bench, run.masks[pair]) for pair in batch])
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
    run: Run,
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
    run: Run, extractor: FeatureExtractor, plan: WorkPlan, name: str, pairs: Sequence[int], filled: Tensor
) -> None:
    """Inception pool features and logits of the composites whose features are missing.

    One composite at a time: BLAS and cuDNN pick their kernels by batch size, so in a batch a composite's
    features would depend on which pairs share it (their last bits do), and a sharded or resumed run,
    whose batches differ, would not give a single run's report byte for byte."""
    for row, pair in enumerate(pairs):
        if (name, pair) not in plan.features:
            continue
        with torch.no_grad():
            features, logits = extractor(filled[row : row + 1])
        store.write_features(
            run.out,
            run.shard,
            method=name,
            pair=pair,
            features=features[0].float().cpu().numpy(),
            logits=logits[0].float().cpu().numpy(),
        )
