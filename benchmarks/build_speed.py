"""Time to build the 12,000-mask benchmark from an existing raw pool (goal: <= 60 s on 2 cores).

Without ``--pool`` the built-in default input's pool is made first (generated scenes -> extract ->
split, as ``pconv masks benchmark`` without ``--raw`` does; not part of the timed build) and the
default input's dilation range (9..99 px) is used; with ``--pool`` NVIDIA's 9..49 px unless
``--dilation`` says otherwise. The build is then timed with one worker process and with
``--workers`` processes, side by side: CPU time of the main process plus its workers is reported too,
because wall time is noisy when other jobs share the machine.

    .venv/bin/python benchmarks/build_speed.py [--pool RAW [--dilation 9 99]] [--per-bin 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from pconv.maskgen.raw.pool import RawPool
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import build_benchmark
from pconv.maskgen.sets.default_input import default_input_pool


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def default_pool(work: Path) -> Path:
    start = time.perf_counter()
    raw = default_input_pool(work, workers=2)
    print(f"default-input pool made in {time.perf_counter() - start:.1f} s (not timed below)")
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=Path, help="existing raw pool (default: make the default input's)")
    parser.add_argument("--per-bin", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--dilation",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="dilation radii in px (default: the augmentation's, 4 24 with a square kernel)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        pool = args.pool or default_pool(work)
        augment = AugmentConfig(dilation=tuple(args.dilation)) if args.dilation else AugmentConfig()
        test = RawPool(pool).records_in("test")
        print(
            f"pool: {pool} ({len(test)} test raw masks), dilation {augment.dilation[0]}-"
            f"{augment.dilation[1]} px, {12 * args.per_bin} masks of 512x512"
        )
        times = {}
        for workers in (1, args.workers):
            wall, cpu = time.perf_counter(), cpu_seconds()
            build_benchmark(
                pool, work / f"bench-{workers}", per_bin=args.per_bin, workers=workers, augment=augment
            )
            times[workers] = time.perf_counter() - wall
            masks = 12 * args.per_bin
            print(
                f"workers={workers}: {times[workers]:.1f} s wall ({masks / times[workers]:.0f} masks/s), "
                f"{cpu_seconds() - cpu:.1f} s CPU"
            )
        manifests = [(work / f"bench-{workers}" / "manifest.csv").read_bytes() for workers in times]
        same = manifests[0] == manifests[-1]
        verdict = "met" if times[args.workers] <= 60 else "missed"
        print(
            f"speed-up with {args.workers} workers: {times[1] / times[args.workers]:.2f}x; "
            f"identical manifests: {same}; goal <= 60 s with {args.workers} workers: {verdict}"
        )


if __name__ == "__main__":
    main()
