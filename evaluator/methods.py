"""Inpainting methods behind one callable interface, named by a spec string.

Specs: ``telea`` and ``ns`` (OpenCV's fast-marching method of Telea 2004 and the Navier-Stokes method of
Bertalmio et al. 2001, the classical family the paper compares against), ``patchmatch`` (Barnes et al.
2009, the paper's "PM" baseline, through the optional PyPatchMatch library), ``folder:DIR`` (outputs computed
elsewhere, e.g. by LaMa or DeepFill, one PNG per pair named ``{pair:05d}.png`` after the pair's index in
the assignment file), ``pconv:CHECKPOINT`` and ``conv:CHECKPOINT`` (this toolkit's models).

A method maps ``images (B, 3, H, W)`` float RGB in [0, 1] and ``masks (B, 1, H, W)`` float, 1 = valid,
plus the pairs' indices, to raw outputs ``(B, 3, H, W)`` in [0, 1]; the evaluator makes the composite
(valid pixels from the input) itself, so every method is scored the same way whatever it returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

from pconv.core.files import sha256_file
from pconv.core.masks import hole_from_valid, image_from_uint8, image_to_uint8
from pconv.datasets.images import read_rgb

__all__ = [
    "OPENCV_RADIUS",
    "PATCHMATCH_RADIUS",
    "FolderMethod",
    "Method",
    "ModelMethod",
    "OpenCVMethod",
    "PatchMatchMethod",
    "folder_output_name",
    "method_slug",
    "parse_method",
]

OPENCV_RADIUS = 3
"""Neighbourhood radius in px of cv2.inpaint for ``telea`` and ``ns`` (OpenCV's documented example)."""

PATCHMATCH_RADIUS = 3
"""Patch radius of ``patchmatch`` (7×7 patches): on 512² photos with irregular holes it filled as well as
radius 5 (hole PSNR 19.7 vs 19.6 dB) in 10 % less time, and the library's default 15 is far slower."""

PATCHMATCH_INSTALL = "pip install 'pconv-toolkit[baselines]'"

_OPENCV_FLAGS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


class Method:
    """One inpainting method: ``spec`` names it in every report; calling it fills a batch. The evaluator
    drives every method through these hooks alone, whatever its kind."""

    spec: str

    def __call__(self, images: Tensor, masks: Tensor, pairs: Sequence[int]) -> Tensor:
        """Raw outputs ``(B, 3, H, W)`` in [0, 1] for the pairs' photos and masks (every subclass fills)."""
        raise NotImplementedError

    def prepare(self, pairs: Sequence[int]) -> None:
        """Raise before anything is written if the method cannot fill ``pairs`` (e.g. missing outputs)."""

    def warm_up(self, batch: int, size: int, announce: Callable[[str], None]) -> None:
        """Do slow one-off work (compiling) before the progress bar, for batches of ``batch`` ``size``²."""

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between runs that add to one evaluation (a checkpoint's SHA-256)."""
        return {}

    def note(self) -> str | None:
        """The report's note on how this method ran, or None."""
        return None


def folder_output_name(pair: int) -> str:
    """File name ``folder:DIR`` methods must give the output for pair ``pair`` (0-based), e.g. 00017.png."""
    return f"{pair:05d}.png"


def method_slug(spec: str) -> str:
    """A file-name-safe version of ``spec`` (``pconv:runs/a/ck.pt`` → ``pconv_runs_a_ck.pt``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_") or "method"


class OpenCVMethod(Method):
    """``telea`` or ``ns``: cv2.inpaint on the 8-bit image with radius :data:`OPENCV_RADIUS`."""

    def __init__(self, *, name: str) -> None:
        if name not in _OPENCV_FLAGS:
            raise ValueError(f"unknown OpenCV method {name!r}; choose telea or ns")
        self.spec = name
        self.flag = _OPENCV_FLAGS[name]

    def note(self) -> str:
        return f"{self.spec}: OpenCV cv2.inpaint (radius {OPENCV_RADIUS}) on the 8-bit image."

    def __call__(self, images: Tensor, masks: Tensor, pairs: Sequence[int]) -> Tensor:
        pixels = image_to_uint8(images)
        holes = hole_from_valid(masks).view(np.uint8) * np.uint8(255)
        filled = np.stack(
            [
                cv2.inpaint(image, hole, OPENCV_RADIUS, self.flag)
                for image, hole in zip(pixels, holes, strict=True)
            ]
        )
        return image_from_uint8(filled).to(images.device)


class PatchMatchMethod(Method):
    """``patchmatch``: PyPatchMatch's inpainting (Barnes et al. 2009) with patch radius
    :data:`PATCHMATCH_RADIUS`, its random search seeded by the pair index so a rerun gives the same fill."""

    spec = "patchmatch"

    def __init__(self) -> None:
        try:
            import patchmatch
        except ImportError:  # ValueError: the CLI turns it into one Error: line
            raise ValueError(
                f"--method patchmatch needs the optional PyPatchMatch library: {PATCHMATCH_INSTALL}"
            ) from None
        if not patchmatch.patchmatch_available:
            raise ValueError(
                "PyPatchMatch is installed without its native library; reinstall it: pip install "
                "--force-reinstall --no-deps --no-cache-dir PyPatchMatch"
            )
        self.library = patchmatch

    def note(self) -> str:
        side = 2 * PATCHMATCH_RADIUS + 1
        return (
            f"patchmatch: PyPatchMatch (Barnes et al. 2009) on the 8-bit image, patch radius "
            f"{PATCHMATCH_RADIUS} ({side}×{side} patches), random search seeded by the pair index."
        )

    def __call__(self, images: Tensor, masks: Tensor, pairs: Sequence[int]) -> Tensor:
        pixels = image_to_uint8(images)
        holes = hole_from_valid(masks).view(np.uint8) * np.uint8(255)
        filled = []
        for image, hole, pair in zip(pixels, holes, pairs, strict=True):
            self.library.set_random_seed(pair)
            filled.append(self.library.inpaint(image, hole, patch_size=PATCHMATCH_RADIUS))
        return image_from_uint8(np.stack(filled)).to(images.device)


class FolderMethod(Method):
    """``folder:DIR``: precomputed outputs ``DIR/{pair:05d}.png`` (8-bit RGB, the benchmark's size)."""

    def __init__(self, *, root: str | Path, spec: str | None = None) -> None:
        self.root = Path(root)
        self.spec = spec or f"folder:{root}"
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.spec}: no such folder of outputs")

    def prepare(self, pairs: Sequence[int]) -> None:
        """FileNotFoundError naming how many of ``pairs`` lack an output and the first."""
        lacking = [pair for pair in pairs if not (self.root / folder_output_name(pair)).is_file()]
        if lacking:
            raise FileNotFoundError(
                f"{self.spec}: no output for {len(lacking)} of {len(pairs)} pairs, first pair {lacking[0]} "
                f"({self.root / folder_output_name(lacking[0])}); outputs are named by their pair's index in "
                "the evaluation's pairs.json"
            )

    def __call__(self, images: Tensor, masks: Tensor, pairs: Sequence[int]) -> Tensor:
        outputs = []
        for pair in pairs:
            path = self.root / folder_output_name(pair)
            if not path.is_file():
                raise FileNotFoundError(
                    f"{self.spec}: no output for pair {pair} ({path}); outputs are named "
                    "by their pair's index in the evaluation's pairs.json"
                )
            rgb = read_rgb(path)
            if rgb.shape[:2] != tuple(images.shape[-2:]):
                raise ValueError(
                    f"{path}: output is {rgb.shape[1]}x{rgb.shape[0]}, the benchmark's images "
                    f"are {images.shape[-1]}x{images.shape[-2]}"
                )
            outputs.append(rgb)
        return image_from_uint8(np.stack(outputs)).to(images.device)


class ModelMethod(Method):
    """``pconv:CK`` / ``conv:CK``: a trained PConvUNet or ConvUNet (``pconv.pconv_model.inpaint``)."""

    def __init__(
        self, *, arch: str, checkpoint: str | Path, device: str | torch.device = "cpu", compile: bool = False
    ) -> None:
        from pconv.pconv_model.inpaint import (
            Inpainter,  # the model stack is loaded only when a model is scored
        )

        self.spec = f"{arch}:{checkpoint}"
        self.checkpoint = path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such checkpoint (method {self.spec})")
        self.inpainter = Inpainter.from_checkpoint(path, device=device, compile=compile)
        if self.inpainter.arch != arch:
            raise ValueError(
                f"{path}: a {self.inpainter.arch} checkpoint, but the method is {arch}: "
                f"use {self.inpainter.arch}:{checkpoint}"
            )

    @property
    def compiled(self) -> bool:
        return self.inpainter.compiled

    def warm_up(self, batch: int, size: int, announce: Callable[[str], None]) -> None:
        """Compile for batches of ``batch`` ``size``² pairs now (see Inpainter.warm_up), if compiled."""
        if self.compiled:
            announce(f"compiling {self.spec} for batches of {size}x{size} pairs")
            self.inpainter.warm_up(batch, size, size)

    def fingerprint(self) -> dict[str, Any]:
        return {"checkpoint_sha256": sha256_file(self.checkpoint)}

    def note(self) -> str:
        how = "through torch.compile" if self.compiled else "eagerly"
        return f"{self.spec}: {self.inpainter.arch} checkpoint, run {how}."

    @torch.no_grad()
    def __call__(self, images: Tensor, masks: Tensor, pairs: Sequence[int]) -> Tensor:
        return self.inpainter(images, masks).clamp(0, 1)


def parse_method(spec: str, *, device: str | torch.device = "cpu", compile: bool = False) -> Method:
    """Build the method a spec names (see the module docstring); ValueError for an unknown spec.
    ``compile`` runs model methods through torch.compile."""
    kind, sep, argument = spec.partition(":")
    if not sep and kind in _OPENCV_FLAGS:
        return OpenCVMethod(name=kind)
    if spec == PatchMatchMethod.spec:
        return PatchMatchMethod()
    if sep and argument and kind == "folder":
        return FolderMethod(root=argument, spec=spec)
    if sep and argument and kind in ("pconv", "conv"):
        return ModelMethod(arch=kind, checkpoint=argument, device=device, compile=compile)
    raise ValueError(
        f"unknown method {spec!r}; use telea, ns, patchmatch, folder:DIR, pconv:CHECKPOINT or conv:CHECKPOINT"
    )
