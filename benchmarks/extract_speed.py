"""Extraction speed and quality per flow method on generated 768×576 scenes.

For each method, on the same frame pairs: the bare flow time (forward + backward flow on frames already
in memory), the whole pipeline time (``extract_pool`` with one worker: decode PNGs, flow, check,
clean-up, encode and write masks and manifest), their ratio (goal ≤ 1.3), pairs per second, and the
occlusion F1 of the written masks against the scenes' ground truth. Then the default method's
throughput with two worker processes. Times are wall clock and CPU time (OpenCV single-threaded, so CPU
time is the cost on one core and is steadier when other jobs share the machine).

    .venv/bin/python benchmarks/extract_speed.py [--scenes 3] [--pairs 2] [--slow-pairs 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from pconv.core.masks import read_mask_png
from pconv.maskgen.raw.extract import DEFAULT_CONFIG, extract_pool
from pconv.maskgen.raw.flow import FLOW_METHODS, scaled_flow
from pconv.maskgen.raw.pool import RawPool
from pconv.maskgen.raw.synth import ground_truth_path, render_scenes
from pconv.maskgen.raw.validate import MethodScore, score_counts
from pconv.maskgen.raw.video import probe_source, read_pairs

SLOW = ("deepflow", "tvl1")


def timed(action):
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bench_method(method: str, folders: list[Path], pairs: int, work: Path) -> str:
    """One table row: ``pairs`` pairs of each of ``folders`` through bare flow, then through extract_pool."""
    config = replace(
        DEFAULT_CONFIG,
        max_pairs=pairs,
        occlusion=replace(DEFAULT_CONFIG.occlusion, method=method, min_hole_ratio=0.0, max_hole_ratio=1.0),
    )
    frames = [
        (first, second)
        for folder in folders
        for _, first, second in read_pairs(folder, probe_source(folder, max_pairs=pairs).starts)
    ]
    grey = [[cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in pair] for pair in frames]

    def bare() -> None:
        for first, second in grey:
            scaled_flow(method, first, second, scale=config.occlusion.flow_scale)
            scaled_flow(method, second, first, scale=config.occlusion.flow_scale)

    _, bare_wall, bare_cpu = timed(bare)
    out = work / f"raw-{method}"
    _, whole_wall, whole_cpu = timed(lambda: extract_pool(folders, out, config=config, workers=1))
    counts = np.zeros(3, np.int64)
    pool = RawPool(out)
    for record in pool.records:
        counts += score_counts(
            pool.load_hole(record), read_mask_png(ground_truth_path(Path(record.source), record.t))
        )
    n = len(frames)
    score = MethodScore(method, n, *(int(c) for c in counts), whole_wall / n)
    return (
        f"{method:<10} {n:>5} {n / whole_wall:>8.2f} {whole_wall / n:>8.3f} "
        f"{whole_cpu / n:>8.3f} {bare_cpu / n:>8.3f} {whole_wall / bare_wall:>10.2f} "
        f"{whole_cpu / bare_cpu:>9.2f} {score.precision:>6.3f} {score.recall:>6.3f} {score.f1:>6.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=3, help="generated scenes (one source each)")
    parser.add_argument("--pairs", type=int, default=2, help="pairs per scene for dis and farneback")
    parser.add_argument("--slow-scenes", type=int, default=2, help="scenes for deepflow and tvl1")
    parser.add_argument("--slow-pairs", type=int, default=1, help="pairs per scene for deepflow and tvl1")
    parser.add_argument("--throughput-pairs", type=int, default=8, help="pairs per scene, 2-worker run")
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="pconv-bench-") as temp:
        work = Path(temp)
        folders = render_scenes(
            work / "scenes",
            scenes=args.scenes,
            frames=args.throughput_pairs + 1,
            size=(768, 576),
            seed=args.seed,
        )
        print(f"{args.scenes} generated scenes, 768x576, seed {args.seed}; OpenCV threads 1, one process")
        print(
            f"{'method':<10} {'pairs':>5} {'pairs/s':>8} {'s/pair':>8} {'cpu/pair':>8} {'flow cpu':>8} "
            f"{'whole/flow':>10} {'(cpu)':>9} {'prec':>6} {'recall':>6} {'F1':>6}"
        )
        for method in FLOW_METHODS:
            if method in SLOW:
                row = bench_method(method, folders[: args.slow_scenes], args.slow_pairs, work)
            else:
                row = bench_method(method, folders, args.pairs, work)
            print(row, flush=True)
        config = replace(DEFAULT_CONFIG, max_pairs=args.throughput_pairs)
        report, wall, _ = timed(lambda: extract_pool(folders, work / "raw-2w", config=config, workers=2))
        print(
            f"default ({DEFAULT_CONFIG.occlusion.method}) with 2 workers: {report.pairs} pairs in "
            f"{wall:.1f} s = {wall / report.pairs:.3f} s/pair (worker start-up included)"
        )


if __name__ == "__main__":
    main()
