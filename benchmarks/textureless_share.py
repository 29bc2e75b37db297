"""Share of hole pixels on textureless areas of real footage, with the low-texture test off and on.

On real clips most false holes are flow failures where there is nothing to track (a white wall, a table,
the sky). For ``--pairs`` pairs spread evenly over each clip this prints, with the texture test off and
on (the other settings are the defaults): the hole ratio, the share of hole pixels that lie in textureless
areas, and seconds per pair (flow + check, frames already decoded, this process only).

"Textureless" is one fixed measure, independent of the detector's threshold: the standard deviation of
the grey frame t (0-255) over a 15×15 window is below 2 grey levels.

    .venv/bin/python benchmarks/textureless_share.py /tmp/clips/*.mp4 /tmp/clips/*.avi [--pairs 40]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from pconv.maskgen.raw.occlusion import OcclusionConfig, occlusion_from_frames
from pconv.maskgen.raw.video import probe_source, read_pairs

WINDOW = 15
FLAT_STD = 2.0


def textureless(frame: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: True where the grey frame's local standard deviation is under FLAT_STD."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (WINDOW, WINDOW))
    variance = cv2.blur(grey * grey, (WINDOW, WINDOW)) - mean * mean
    return variance < FLAT_STD**2


def spread(starts: tuple[int, ...], pairs: int) -> list[int]:
    """``pairs`` start frames spread evenly over a clip (all of them when it has fewer)."""
    picks = np.linspace(0, len(starts) - 1, num=min(pairs, len(starts))).round().astype(int)
    return [starts[i] for i in sorted(set(picks.tolist()))]


def measure(source: str, pairs: int, configs: dict[str, OcclusionConfig], max_side: int | None) -> str:
    """One table row per setting for one clip."""
    info = probe_source(source, max_side=max_side)
    frames = list(read_pairs(source, spread(info.starts, pairs), max_side=max_side))
    rows = []
    for name, config in configs.items():
        hole_pixels = flat_hole = total = 0
        seconds = 0.0
        for _, first, second in frames:
            start = time.perf_counter()
            hole = occlusion_from_frames(first, second, config)
            seconds += time.perf_counter() - start
            hole_pixels += int(hole.sum())
            flat_hole += int((hole & textureless(first)).sum())
            total += hole.size
        rows.append(
            f"| {Path(source).name} | {name} | {len(frames)} | {hole_pixels / total:.3f} | "
            f"{flat_hole / max(1, hole_pixels):.3f} | {seconds / len(frames):.3f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--pairs", type=int, default=40, help="pairs per clip, spread evenly")
    parser.add_argument("--max-side", type=int, default=None, help="shrink frames to this longer side")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    default = OcclusionConfig()
    configs = {"texture test off": replace(default, texture_threshold=0), "on (default)": default}
    print("| clip | setting | pairs | hole ratio | holes in textureless areas | s/pair |")
    print("|---|---|---|---|---|---|")
    for clip in args.clips:
        print(measure(clip, args.pairs, configs, args.max_side), flush=True)


if __name__ == "__main__":
    main()
