"""How well each flow method finds occlusions: precision, recall, F1 and IoU against generated scenes.

Scores are pooled over all pixels of all pairs (micro-averaged), so large and small holes weigh by
area; time is the wall time of flow + check per pair in this process (frames already decoded).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pconv.core.masks import read_mask_png
from pconv.core.progress import progress_bar
from pconv.maskgen.raw.occlusion import OcclusionConfig, occlusion_from_frames
from pconv.maskgen.raw.synth import ground_truth_path
from pconv.maskgen.raw.video import probe_source, read_pairs

DEFAULT_OCCLUSION = OcclusionConfig()

__all__ = ["MethodScore", "format_scores", "score_counts", "validate_methods"]


@dataclass(frozen=True)
class MethodScore:
    """Pooled pixel counts of one method over all pairs and the scores they give (0 when undefined)."""

    method: str
    pairs: int
    true_positive: int
    false_positive: int
    false_negative: int
    seconds_per_pair: float

    @property
    def precision(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_positive)

    @property
    def recall(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_negative)

    @property
    def f1(self) -> float:
        errors = self.false_positive + self.false_negative
        return 2 * self.true_positive / max(1, 2 * self.true_positive + errors)

    @property
    def iou(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_positive + self.false_negative)


def score_counts(predicted: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    """``(true positives, false positives, false negatives)`` of two ``(H, W)`` bool hole maps."""
    if predicted.shape != truth.shape:
        raise ValueError(f"prediction {predicted.shape} and ground truth {truth.shape} differ in size")
    return (
        int(np.count_nonzero(predicted & truth)),
        int(np.count_nonzero(predicted & ~truth)),
        int(np.count_nonzero(~predicted & truth)),
    )


def validate_methods(
    scenes: Sequence[str | Path],
    *,
    methods: Sequence[str],
    config: OcclusionConfig = DEFAULT_OCCLUSION,
    max_pairs: int | None = None,
    progress: bool = False,
) -> list[MethodScore]:
    """Score ``config`` with each flow method in turn on the frames folders of :func:`render_scenes`.

    Only the method changes between runs; every other setting (flow scale, check, clean-up) is
    ``config``'s. ``max_pairs`` limits the pairs per scene.
    """
    jobs = []
    for scene in scenes:
        folder = Path(scene)
        info = probe_source(folder, max_pairs=max_pairs)
        missing = [t for t in info.starts if not ground_truth_path(folder, t).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{ground_truth_path(folder, missing[0])}: no ground truth for this "
                "pair; validate needs scenes made by `pconv masks synth`"
            )
        jobs.append((folder, info.starts))
    pairs = [
        (folder, t, first, second)
        for folder, starts in jobs
        for t, first, second in read_pairs(folder, starts)
    ]
    scores = []
    bar = progress_bar(total=len(pairs) * len(methods), desc="validate", enabled=progress, unit="pair")
    for method in methods:
        method_config = replace(config, method=method)
        counts = np.zeros(3, np.int64)
        elapsed = 0.0
        for folder, t, first, second in pairs:
            start = time.perf_counter()
            hole = occlusion_from_frames(first, second, method_config)
            elapsed += time.perf_counter() - start
            counts += score_counts(hole, read_mask_png(ground_truth_path(folder, t)))
            bar.update(1)
        seconds = elapsed / max(1, len(pairs))
        scores.append(MethodScore(method, len(pairs), *(int(c) for c in counts), seconds))
    bar.close()
    return scores


def format_scores(scores: Sequence[MethodScore]) -> str:
    """A plain-text table, one row per method."""
    lines = [f"{'method':<10} {'pairs':>5} {'precision':>9} {'recall':>7} {'F1':>6} {'IoU':>6} {'s/pair':>7}"]
    lines += [
        f"{s.method:<10} {s.pairs:>5} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.iou:>6.3f} "
        f"{s.seconds_per_pair:>7.3f}"
        for s in scores
    ]
    return "\n".join(lines)
