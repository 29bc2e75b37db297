"""Turn a downloaded PConv release into our checkpoint format, and describe any checkpoint of ours.

An imported checkpoint is an ordinary checkpoint (see :mod:`pconv.pconv_model.checkpoint`: format, arch
``pconv``, phase ``finetune``, step, config, model) without optimizer, scaler or RNG state, plus:

    input    the :class:`~pconv.pconv_model.normalization.Normalization` the model was trained on, as a
             dict; :class:`~pconv.pconv_model.inpaint.Inpainter` applies it (and so ``pconv inpaint`` and
             ``pconv eval --method pconv:CK``)
    source   provenance: format, file name, SHA-256 of the file, training steps (None where the file
             does not say), the source's mask convention
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pconv.core.files import atomic_output, refuse_overlap, sha256_file

from ..checkpoint import CHECKPOINT_FORMAT, check_finite, load_checkpoint, model_from_checkpoint
from ..normalization import Normalization
from .layouts import LAYOUTS, convert_generator, generator_weights
from .safe_load import load_weights_only

__all__ = ["ImportResult", "describe_checkpoint", "import_checkpoint"]


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_checkpoint` wrote; ``notes``: one-line remarks for the user."""

    out: Path
    layers: int
    training_steps: int | None
    notes: tuple[str, ...]


def _training_steps(document: Any, path: tuple[str, ...]) -> int | None:
    for part in path:
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    try:
        return int(document)
    except (TypeError, ValueError):
        return None


def import_checkpoint(src: Path, out: Path, *, fmt: str) -> ImportResult:
    """Convert the ``fmt`` checkpoint ``src`` (``mmagic`` or ``naoto0804``) into our format at ``out``.

    Raises FileNotFoundError for a missing file and ValueError for a file of another format, missing,
    unexpected or wrongly shaped generator keys, or contents the safe unpickler refuses.
    """
    if fmt not in LAYOUTS:
        raise ValueError(f"unknown checkpoint format {fmt!r}; choose one of {', '.join(LAYOUTS)}")
    layout, src = LAYOUTS[fmt], Path(src)
    refuse_overlap(out, {"SRC": src})
    document, note = load_weights_only(src)
    model = convert_generator(generator_weights(document, layout, src), layout, src)
    check_finite(model.state_dict(), src)
    steps = _training_steps(document, layout.steps)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "arch": "pconv",
        "phase": "finetune",
        "step": steps or 0,
        "config": {"arch": "pconv", "phase": "finetune", "layers": model.layers, "width": model.width},
        "model": model.state_dict(),
        "input": layout.normalization.to_dict(),
        "source": {
            "format": layout.name,
            "file": src.name,
            "sha256": sha256_file(src),
            "training_steps": steps,
            "mask_convention": layout.mask_convention,
        },
    }
    with atomic_output(Path(out)) as temp:
        torch.save(checkpoint, temp)
    notes = (note,) if note else ()
    return ImportResult(out=Path(out), layers=model.layers, training_steps=steps, notes=notes)


def describe_checkpoint(path: Path) -> list[tuple[str, str]]:
    """(field, value) lines for ``pconv model info``: architecture, layers, parameters, input, mask,
    provenance, training image size and dataset, and steps per phase. Raises as
    :func:`~pconv.pconv_model.checkpoint.load_checkpoint`."""
    document = load_checkpoint(Path(path))
    model = model_from_checkpoint(document, Path(path))
    encoder = ", ".join(
        f"{b.spec.kernel_size}×{b.spec.kernel_size}→{b.spec.out_channels}" for b in model.encoder
    )
    step = 2**model.layers
    source = document.get("source")
    config = document["config"]
    if source is None:
        provenance = "trained with pconv train"
        phases = {**document.get("phases", {}), document["phase"]: document["step"]}
        steps = ", ".join(f"{phase} {count:,}" for phase, count in phases.items())
        size = config.get("image_size")
        image = f"{size}×{size} training crops, batch {config.get('batch_size')}" if size else "not recorded"
        split = config.get("split") or "its training split"
        dataset = f"{config.get('dataset')}:{config.get('data')} ({split}), seed {config.get('seed')}"
    else:
        provenance = f"{source['format']} file {source['file']}, sha256 {source['sha256']}"
        known = source["training_steps"]
        steps = "unknown" if known is None else f"{known:,} (as recorded in the source file)"
        image = dataset = "not recorded in the source file"
    mask = "1 = valid (tensors), files 255 = hole"
    if source is not None:
        mask += f"; the source's convention: {source['mask_convention']}"
    return [
        ("checkpoint", str(path)),
        (
            "architecture",
            f"{type(model).__name__} ({document['arch']}), {model.layers} layers, width {model.width}, "
            f"any H×W (padded to multiples of {step})",
        ),
        ("encoder", f"{encoder}, stride 2"),
        ("decoder", f"nearest ×2, skip concat, 3×3 ×{len(model.decoder)}"),
        ("parameters", f"{sum(p.numel() for p in model.parameters()):,}"),
        ("input", Normalization.from_dict(document.get("input")).describe()),
        ("mask", mask),
        ("provenance", provenance),
        ("image size", image),
        ("dataset", dataset),
        ("training steps", steps),
    ]
