"""Training checkpoints: written atomically, read with ``weights_only=True``, checked against the model.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (so the safe unpickler can read
it; nothing in it can run code when loaded)::

    format       CHECKPOINT_FORMAT
    arch         "pconv" | "conv"
    phase        "initial" | "finetune"
    step         optimizer steps taken
    config       the TrainConfig as JSON-able values (layers, width, seed, ...)
    model        the model's state dict (without DDP's "module." prefix)
    optimizer    Adam's state dict
    scaler       the fp16 GradScaler's state dict, or {} when unused
    rng          {"torch", "cuda", "numpy", "python"} generator states (see :func:`capture_rng`)

Checkpoints imported from other projects (``pconv model import``, :mod:`pconv.pconv_model.pretrained`)
have no optimizer, scaler or rng, and two more entries: ``input`` (the image normalization the model was
trained on, :mod:`pconv.pconv_model.normalization`; absent means RGB in [0, 1]) and ``source``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pconv.core.files import atomic_output
from pconv.core.weights import load_torch_file

from .choices import ARCH_NAMES, MAX_LAYERS, MAX_WIDTH
from .unet import ConvUNet, PConvUNet, unet_specs

__all__ = [
    "ARCHS",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_KEYS",
    "MAX_LAYERS",
    "MAX_WIDTH",
    "build_model",
    "capture_rng",
    "check_finite",
    "load_checkpoint",
    "model_from_checkpoint",
    "restore_rng",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = 1
ARCHS: dict[str, type[PConvUNet] | type[ConvUNet]] = dict(zip(ARCH_NAMES, (PConvUNet, ConvUNet), strict=True))


def build_model(arch: str, *, layers: int, width: float) -> PConvUNet | ConvUNet:
    """The U-Net of ``arch`` (``pconv``: partial convolutions; ``conv``: the paper's Conv baseline)."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return ARCHS[arch](layers=layers, width=width)


def capture_rng() -> dict[str, Any]:
    """The global generators' states as tensors and plain lists (safe for ``weights_only`` loading)."""
    numpy_state = np.random.get_state(legacy=False)
    state = numpy_state["state"]
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(state["key"].astype(np.int64)),
            "pos": int(state["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng` saved (CUDA states only where the same devices exist)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
            "has_gauss": numpy["has_gauss"],
            "gauss": numpy["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


CHECKPOINT_KEYS = frozenset(
    {
        "format",
        "arch",
        "phase",
        "step",
        "config",
        "model",
        "optimizer",
        "scaler",
        "rng",
        "counters",
        "input",
        "source",
        "phases",
    }
)
"""Every top-level entry a checkpoint may hold: those :func:`save_checkpoint` and ``pconv model import``
write. Anything else (a crafted 512 MiB tensor under a new name) is refused rather than carried along."""


def save_checkpoint(
    path: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler_state: dict[str, Any],
    step: int,
    config: dict[str, Any],
    counters: dict[str, int] | None = None,
    phases: dict[str, int] | None = None,
) -> None:
    """Write a checkpoint so that readers see the old file or the whole new one, never half of it (synced to
    disk before the rename, so a node crash cannot leave an empty file either). ``counters``: run totals
    a resume carries on (e.g. photos skipped); ``phases``: steps of the earlier phases the model went
    through (``{"initial": N}`` in a finetune run)."""
    document = {
        "format": CHECKPOINT_FORMAT,
        "arch": config["arch"],
        "phase": config["phase"],
        "step": step,
        "config": config,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler_state,
        "rng": capture_rng(),
        "counters": dict(counters or {}),
        "phases": dict(phases or {}),
    }
    with atomic_output(path, durable=True) as temp:
        torch.save(document, temp)


def load_checkpoint(path: Path, *, arch: str | None = None) -> dict[str, Any]:
    """Read a checkpoint onto the CPU with the safe unpickler; ``arch`` (if given) must match its own.

    Raises FileNotFoundError for a missing file and ValueError for anything that is not a checkpoint
    of this toolkit, or one of the other architecture.
    """
    path = Path(path)
    document = load_torch_file(path, what="checkpoint")
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a pconv checkpoint of format {CHECKPOINT_FORMAT}")
    for key, kind in (("arch", str), ("config", dict), ("model", dict)):
        if not isinstance(document.get(key), kind):
            raise ValueError(f"{path}: not a complete pconv checkpoint ({key!r} should be {kind.__name__})")
    unknown = sorted(str(key) for key in document if key not in CHECKPOINT_KEYS)
    if unknown:
        raise ValueError(
            f"{path}: unknown checkpoint entr{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}"
        )
    if document["arch"] not in ARCHS:
        raise ValueError(f"{path}: unknown architecture {document['arch']!r}")
    if arch is not None and document["arch"] != arch:
        raise ValueError(f"{path}: a {document['arch']} checkpoint, but the architecture asked for is {arch}")
    return document


def _checked_shape(document: dict[str, Any], path: Path) -> tuple[int, float]:
    """The ``(layers, width)`` the checkpoint's config claims, once its weights confirm them.

    Checked before the model is built: a config claiming a huge width would otherwise allocate gigabytes
    before the weights are found not to fit.
    """
    config = document["config"]
    layers, width = config.get("layers"), config.get("width")
    if not isinstance(layers, int) or isinstance(layers, bool) or not 1 <= layers <= MAX_LAYERS:
        raise ValueError(f"{path}: config 'layers' should be a whole number 1-{MAX_LAYERS}, not {layers!r}")
    if not isinstance(width, int | float) or isinstance(width, bool) or not 0 < width <= MAX_WIDTH:
        raise ValueError(f"{path}: config 'width' should be a number in (0, {MAX_WIDTH:g}], not {width!r}")
    encoder, decoder = unet_specs(layers=layers, in_channels=3, width=float(width))
    for part, specs in (("encoder", encoder), ("decoder", decoder)):
        for index, spec in enumerate(specs):
            key = f"{part}.{index}.conv.weight"
            found = document["model"].get(key)
            shape = tuple(found.shape) if isinstance(found, torch.Tensor) else None
            expected = (spec.out_channels, spec.in_channels, spec.kernel_size, spec.kernel_size)
            if shape != expected:
                raise ValueError(
                    f"{path}: config says layers={layers}, width={width:g}, but the weights' {key} is "
                    f"{'missing' if shape is None else 'x'.join(map(str, shape))}, not "
                    f"{'x'.join(map(str, expected))}"
                )
    return layers, float(width)


def check_finite(weights: dict[str, Any], path: Path) -> None:
    """Refuse weights holding NaN or infinity: such a model fills every hole with black (exit 0 from
    ``inpaint``) or fails an evaluation after scoring every pair; one line names the file and tensor."""
    for name, tensor in weights.items():
        if (
            isinstance(tensor, torch.Tensor)
            and tensor.is_floating_point()
            and not torch.isfinite(tensor).all()
        ):
            raise ValueError(
                f"{path}: weight {name} holds NaN or infinite values; the checkpoint is unusable"
            )


def model_from_checkpoint(document: dict[str, Any], path: Path) -> PConvUNet | ConvUNet:
    """The checkpoint's model, built from its recorded arch, layers and width, with its weights loaded."""
    layers, width = _checked_shape(document, path)
    check_finite(document["model"], path)
    model = build_model(document["arch"], layers=layers, width=width)
    try:
        model.load_state_dict(document["model"])
    except RuntimeError as error:
        lines = str(error).splitlines()
        raise ValueError(f"{path}: weights do not fit the model ({lines[-1].strip()})") from None
    return model
