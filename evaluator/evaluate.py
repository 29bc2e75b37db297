"""The evaluation run: pair photos with benchmark masks, run every method, score, resume, shard, merge.

:func:`evaluate` reads like LaMa's evaluator: load the methods and metric networks, prepare the folder
(pconv.evaluator.folder: pairs and config.json, every check first), run what the plan says is missing
(pconv.evaluator.plan / scoring), record the report (pconv.evaluator.results). Methods are driven only
through their hooks (pconv.evaluator.methods), metrics only through theirs (pconv.evaluator.scores).

An evaluation folder ``OUT`` holds::

    OUT/config.json        what is scored: dataset spec, benchmark, seed, size, bins, methods (the union of
                           every run into OUT, in order of first appearance)
    OUT/pairs.json         the seeded image-mask assignment (pconv.datasets.pairing), one pair per
                           benchmark mask
    OUT/per_pair/          per-pair metrics and Inception features, one file per shard (pconv.evaluator.store)
    OUT/table1.md, results.csv, results.json, plots/, grids/binK.png   the report (pconv.evaluator.results)
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
weights or of a method whose fingerprint changed (``config.json`` keeps each checkpoint's SHA-256).
Sharding: ``--shard K/N`` scores one contiguous K-th block of the pairs and leaves the report to
``pconv eval merge OUT``; under ``torchrun`` the ranks shard the pairs the same way and rank 0 writes the
report after a barrier. A merge reads exactly what a single run reads, so the reports are identical.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pconv.core.compiling import resolve_compile
from pconv.core.distributed import barrier, dist_env, pick_device
from pconv.core.files import refuse_overlap
from pconv.core.sharding import Shard
from pconv.datasets import parse_spec
from pconv.evaluator.folder import EvalConfig, eval_folder, prepare_folder
from pconv.evaluator.inception import FeatureExtractor
from pconv.evaluator.methods import (
    parse_method,
)
from pconv.evaluator.networks import load_networks
from pconv.evaluator.pairs import EvalPairs, eval_inputs, eval_pairs, keep_pairs
from pconv.evaluator.plan import WorkPlan, plan_work
from pconv.evaluator.results import write_report
from pconv.evaluator.scores import pair_metrics
from pconv.evaluator.scoring import Run, score_pairs

__all__ = [
    "EvalConfig",
    "EvalPairs",
    "WorkPlan",
    "eval_inputs",
    "eval_pairs",
    "evaluate",
    "keep_pairs",
    "plan_work",
    "write_report",
]


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
    with eval_folder(config, shard).locked() as folder:
        document, pairs, masks, scored = prepare_folder(folder, config, shard, methods, nets.records)
        _, root, _ = parse_spec(config.images)
        run = Run(
            out=Path(config.out),
            shard=shard,
            root=root,
            bench=Path(config.masks),
            size=document["size"],
            pairs=pairs,
            masks=masks,
            device=device,
            extractor=nets.extractor,
            metrics=tuple(pair_metrics(nets.lpips)),
            scored=scored,
        )
        score_pairs(config, run, methods, progress=progress and shard.index == 1)
    if distributed:
        barrier()
    if shard.count > 1 and not (distributed and shard.index == 1):
        return None
    return write_report(config.out, progress=progress)
