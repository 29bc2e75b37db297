"""The exact inputs of an evaluation, for models that run outside this toolkit (``pconv eval inputs``).

A ``folder:DIR`` method is scored on outputs named by pair index. To make them, an external model (LaMa,
DeepFill, ...) needs the photos and masks the evaluator pairs, cropped as it crops them. This writes::

    OUT/pairs.json          the assignment, identical to an evaluation's with the same --images, --masks
                            and --seed
    OUT/images/00000.png    pair 0's photo, centre-cropped to the benchmark's size, holes painted white
                            (so no ground truth reaches the model)
    OUT/masks/00000.png     pair 0's mask, 8-bit, 255 = hole

Run the model on them, write its results as ``RESULTS/00000.png`` ..., then score them with
``pconv eval --method folder:RESULTS`` and the same --images, --masks and --seed. Files are written
atomically and the same request gives the same bytes, so an interrupted export is simply run again.
"""

from __future__ import annotations

from pathlib import Path

from pconv.core.files import atomic_write_bytes, refuse_overlap
from pconv.core.locks import locked_folder
from pconv.core.masks import encode_image_png, valid_from_hole, white_holes, write_mask_png
from pconv.core.progress import progress_bar
from pconv.datasets import load_image
from pconv.evaluator.methods import folder_output_name
from pconv.evaluator.pairs import EvalPairs, eval_inputs, eval_pairs, keep_pairs
from pconv.maskgen.sets.bench_format import load_benchmark_hole

__all__ = ["export_inputs"]


def export_inputs(images: str, bench: Path, out: Path, *, seed: int = 0, progress: bool = False) -> int:
    """Write every pair's input photo and mask into ``out`` (see the module docstring); return the count.

    Refuses an ``out`` that holds the inputs of other pairs (another dataset, benchmark or seed).
    """
    out = Path(out)
    refuse_overlap(out, eval_inputs(images, bench))
    paired = eval_pairs(images, Path(bench), seed=seed)
    with locked_folder(out):
        return _export(out, paired, images=images, bench=Path(bench), seed=seed, progress=progress)


def _export(out: Path, paired: EvalPairs, *, images: str, bench: Path, seed: int, progress: bool) -> int:
    keep_pairs(out, paired, images=images, bench=bench, seed=seed)
    bar = progress_bar(paired.pairs, desc="inputs", unit="pair", enabled=progress)
    for pair, (photo, _) in enumerate(bar):
        hole = load_benchmark_hole(bench, paired.masks[pair].record)
        shown = white_holes(load_image(paired.root / photo, size=paired.size), valid_from_hole(hole))
        atomic_write_bytes(out / "images" / folder_output_name(pair), encode_image_png(shown))
        write_mask_png(out / "masks" / folder_output_name(pair), hole)
    return len(paired.pairs)
