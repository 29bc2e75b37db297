"""Inference: fill the holes of photos of any shape with a trained checkpoint, keeping every valid pixel.

Sizes: the U-Net needs H and W divisible by 2**layers (256 for the paper's 8 layers). Other sizes are
padded on the bottom and right by mirror reflection of the photo *and* its mask up to the next multiple,
inpainted, and cropped back; nothing is resized, so valid pixels and the output's geometry are exact.
Memory grows with the pixel count (about 1 KB per pixel for the paper's model), so photos above
``pconv.core.limits.INPAINT_LIMIT`` (2048×2048, ``PCONV_MAX_INPAINT_PIXELS``) are refused before any work.
Reflection gives the network real-looking context at the border instead of a band of zeros; a mask
reflected into the padding keeps holes near the border as holes there too. Pads larger than the photo
reflect repeatedly.

The result is always the composite ``M⊙I + (1−M)⊙I_out`` (clamped to [0, 1]): valid pixels are the
input's, bit for bit.

Folders: ``inpaint_files`` pairs photos and masks by file stem (``a.jpg`` ↔ ``a.png``), or applies a
single mask to every photo, and writes ``OUT/<stem>.png``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from pconv.core.compiling import compile_network
from pconv.core.files import atomic_write_bytes, list_images, refuse_overlap
from pconv.core.limits import INPAINT_LIMIT
from pconv.core.locks import locked_folder
from pconv.core.masks import composite, encode_image_png, image_from_uint8, read_mask_png, valid_from_hole
from pconv.core.progress import progress_bar, progress_message
from pconv.datasets.images import check_image, read_rgb

from .checkpoint import load_checkpoint, model_from_checkpoint
from .normalization import IDENTITY, Normalization

__all__ = ["WARM_UP_SIZES", "Inpainter", "inpaint_files", "pad_reflect", "pair_by_stem"]

WARM_UP_SIZES = 4
"""Padded photo sizes a compiled :func:`inpaint_files` compiles for before it starts."""


def pad_reflect(x: Tensor, height: int, width: int) -> Tensor:
    """Extend ``x`` (B, C, H, W) to (B, C, height, width) by mirroring at the bottom and right edges.

    Pads larger than the side reflect repeatedly; a side of one pixel is repeated.
    """
    while x.shape[-2] < height or x.shape[-1] < width:
        h, w = x.shape[-2:]
        pad_h = min(height - h, max(h - 1, 0))
        pad_w = min(width - w, max(w - 1, 0))
        if pad_h == 0 and pad_w == 0:  # 1-pixel sides cannot reflect
            return F.pad(x, (0, width - w, 0, height - h), mode="replicate")
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
    return x


class Inpainter:
    """A trained U-Net in eval mode that fills holes of any-size photos.

    Call: ``image`` (B, 3, H, W) float in [0, 1], ``mask`` (B, 1, H, W) float {0, 1}, 1 = valid; returns
    the composite (B, 3, H, W) float32 in [0, 1] whose valid pixels equal the input's. ``normalization``
    maps images to the units the model was trained on and its output back (imported models need it).
    The network runs in float32 (``compile``: through ``torch.compile``, see
    :mod:`pconv.core.compiling`).

    Compiled, every call of a new input shape compiles first: :meth:`warm_up` does it before a job
    starts, and calls with fewer images than the largest batch seen are padded to it (repeating the last
    image) so that one shape serves a whole run.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        arch: str,
        layers: int,
        device: str | torch.device = "cpu",
        normalization: Normalization = IDENTITY,
        compile: bool = False,
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.arch = arch
        self.layers = layers
        self.normalization = normalization
        self.compiled = compile
        self._network = compile_network(self.model) if compile else self.model
        self._batch = 0  # compiled: the batch size every call is padded to

    @classmethod
    def from_checkpoint(
        cls, path: Path, *, device: str | torch.device = "cpu", compile: bool = False
    ) -> Inpainter:
        """Load a training or imported checkpoint (either architecture) with its input normalization."""
        document = load_checkpoint(Path(path))
        model = model_from_checkpoint(document, Path(path))
        return cls(
            model,
            arch=document["arch"],
            layers=int(document["config"]["layers"]),
            device=device,
            normalization=Normalization.from_dict(document.get("input")),
            compile=compile,
        )

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the network sees for a ``height`` × ``width`` photo: the next multiples of 2**layers."""
        step = 2**self.layers
        return -(-height // step) * step, -(-width // step) * step

    def warm_up(self, batch: int, height: int, width: int) -> None:
        """Compile now for ``batch`` photos of ``height`` × ``width`` (one call on zeros); nothing to do for
        an eager network."""
        if self.compiled:
            self(torch.zeros(batch, 3, height, width), torch.ones(batch, 1, height, width))

    def __call__(self, image: Tensor, mask: Tensor) -> Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"image must have shape (B, 3, H, W), got {tuple(image.shape)}")
        b, _, h, w = image.shape
        if tuple(mask.shape) != (b, 1, h, w):
            raise ValueError(
                f"mask must have shape ({b}, 1, {h}, {w}) to match the image, got {tuple(mask.shape)}"
            )
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask values must be 0 (hole) or 1 (valid)")
        padded_h, padded_w = self.padded_size(h, w)
        image = image.to(self.device, torch.float32)
        mask = mask.to(self.device, torch.float32)
        with torch.no_grad():
            network_input = self.normalization.to_network(pad_reflect(image, padded_h, padded_w))
            output = self._run(network_input, pad_reflect(mask, padded_h, padded_w))
            output = self.normalization.from_network(output)
        return composite(output[..., :h, :w].clamp(0, 1), image, mask)

    def _run(self, image: Tensor, mask: Tensor) -> Tensor:
        b = image.shape[0]
        if not self.compiled or b >= self._batch:
            self._batch = max(self._batch, b) if self.compiled else 0
            return self._network(image, mask)
        extra = self._batch - b  # repeat the last photo: the compiled shape, without a recompile
        image = torch.cat([image, image[-1:].expand(extra, -1, -1, -1)])
        mask = torch.cat([mask, mask[-1:].expand(extra, -1, -1, -1)])
        return self._network(image, mask)[:b]


def pair_by_stem(images: Sequence[Path], masks: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Match photos and masks by file stem; ValueError naming the first photo or mask left without a partner.

    A single mask is paired with every photo.
    """
    if len(masks) == 1:
        return [(image, masks[0]) for image in images]
    by_stem = {mask.stem: mask for mask in masks}
    missing = [image.name for image in images if image.stem not in by_stem]
    if missing:
        raise ValueError(f"no mask named like {missing[0]} ({len(missing)} photo(s) without a mask)")
    if len(by_stem) != len(masks) or len({image.stem for image in images}) != len(images):
        raise ValueError("photo or mask file stems repeat; pairing by name needs unique stems")
    unused = sorted(set(by_stem) - {image.stem for image in images})
    if unused:
        raise ValueError(f"mask {by_stem[unused[0]].name} has no photo ({len(unused)} unused mask(s))")
    return [(image, by_stem[image.stem]) for image in images]


def _files(path: Path, what: str) -> list[Path]:
    if path.is_dir():
        files = list_images(path, recursive=False)
        if not files:
            raise ValueError(f"{path}: no {what} files found")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what} file or folder")
    return [path]


def _image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from the file's header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, Image.DecompressionBombError) as error:
        raise ValueError(f"{path}: not a readable image ({type(error).__name__})") from None


def inpaint_files(
    inpainter: Inpainter, *, image: Path, mask: Path, out: Path, hole_value: int = 255, progress: bool = True
) -> list[Path]:
    """Inpaint one photo (``out`` is the PNG to write) or a folder of them (``out`` is a folder).

    Masks may be in either file convention (``hole_value`` 255: white = hole; 0: black = hole; see
    ``pconv.core.files.read_mask_png``) and must have the photo's size. Returns the files written.
    """
    written = Path(out) / f"{Path(image).stem}.png" if Path(image).is_file() and Path(out).is_dir() else out
    refuse_overlap(written, {"--image": image, "--mask": mask})
    images, masks = _files(Path(image), "image"), _files(Path(mask), "mask")
    if Path(image).is_file() and len(masks) != 1:
        raise ValueError(f"{mask}: one photo needs one mask file, not a folder")
    pairs = pair_by_stem(images, masks)
    if Path(image).is_file():
        targets = [Path(out) / f"{images[0].stem}.png" if Path(out).is_dir() else Path(out)]
    else:
        if Path(out).exists() and not Path(out).is_dir():
            raise ValueError(f"{out}: is a file; a folder of photos needs an output folder")
        targets = [Path(out) / f"{photo.stem}.png" for photo, _ in pairs]
    for photo, mask_file in pairs:  # every photo and size checked before the first output is written
        check_image(photo)
        INPAINT_LIMIT.check(photo, *_image_size(photo))
        photo_size, mask_size = _image_size(photo), _image_size(mask_file)
        if photo_size != mask_size:
            raise ValueError(
                f"{mask_file}: mask is {mask_size[0]}x{mask_size[1]} but photo {photo.name} is "
                f"{photo_size[0]}x{photo_size[1]}"
            )
    with contextlib.nullcontext() if Path(image).is_file() else locked_folder(out):
        _warm_up(inpainter, [_image_size(photo) for photo, _ in pairs], progress=progress)
        return _write_all(inpainter, pairs, targets, hole_value=hole_value, progress=progress)


def _warm_up(inpainter: Inpainter, sizes: Sequence[tuple[int, int]], *, progress: bool) -> None:
    """Compile before the progress bar starts, so that its rate and ETA count inpainting alone: once for
    each padded size among ``sizes`` ((width, height) pairs), up to :data:`WARM_UP_SIZES` of them (any
    further size compiles when it comes)."""
    if not inpainter.compiled:
        return
    padded = list(dict.fromkeys(inpainter.padded_size(h, w) for w, h in sizes))[:WARM_UP_SIZES]
    for height, width in padded:
        if progress:
            progress_message(f"compiling the network for {height}x{width} inputs")
        inpainter.warm_up(1, height, width)


def _write_all(
    inpainter: Inpainter,
    pairs: Sequence[tuple[Path, Path]],
    targets: Sequence[Path],
    *,
    hole_value: int,
    progress: bool,
) -> list[Path]:
    written = []
    for (photo, mask_file), target in zip(
        progress_bar(pairs, desc="inpaint", enabled=progress, unit="img"), targets, strict=True
    ):
        rgb = read_rgb(photo)
        hole = read_mask_png(mask_file, hole_value=hole_value)
        result = inpainter(image_from_uint8(rgb)[None], valid_from_hole(hole)[None])[0]
        atomic_write_bytes(target, encode_image_png(result))
        written.append(target)
    return written
