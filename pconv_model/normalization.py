"""How a model wants its input image: channel order and per-channel mean/std, applied outside the network.

Our own checkpoints take RGB in [0, 1] as it is (:data:`IDENTITY`). Imported releases were trained on other
units: OpenMMLab's PConv models on BGR scaled to [-1, 1] (:data:`SYMMETRIC_BGR`), naoto0804's on RGB
normalized with the ImageNet mean and std (:data:`IMAGENET_RGB`). Partial convolutions re-normalize by the
valid count, so a shift of the input cannot be folded into the first layer's weights: the normalization has
to stay a separate step, recorded in the checkpoint (key ``input``) and applied by the inpainter.

Example:
    >>> import torch
    >>> image = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1)
    >>> SYMMETRIC_BGR.to_network(image).flatten().tolist()
    [1.0, 0.0, -1.0]
    >>> torch.equal(SYMMETRIC_BGR.from_network(SYMMETRIC_BGR.to_network(image)), image)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from .vgg import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["IDENTITY", "IMAGENET_RGB", "SYMMETRIC_BGR", "Normalization"]

ChannelOrder = Literal["rgb", "bgr"]


@dataclass(frozen=True)
class Normalization:
    """``network = (image[order] − mean) / std`` per channel; ``image`` is RGB in [0, 1]."""

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    channels: ChannelOrder = "rgb"

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError(f"mean and std need 3 values each, got {self.mean!r} and {self.std!r}")
        if not all(s > 0 for s in self.std):
            raise ValueError(f"std values must be > 0, got {self.std!r}")
        if self.channels not in ("rgb", "bgr"):
            raise ValueError(f"channel order must be rgb or bgr, got {self.channels!r}")

    def _stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return mean, std

    def to_network(self, image: Tensor) -> Tensor:
        """(B, 3, H, W) RGB in [0, 1] → the network's units and channel order (same shape and dtype)."""
        if self.channels == "bgr":
            image = image.flip(1)
        mean, std = self._stats(image)
        return (image - mean) / std

    def from_network(self, output: Tensor) -> Tensor:
        """(B, 3, H, W) network output → RGB in [0, 1] units (not clamped)."""
        mean, std = self._stats(output)
        output = output * std + mean
        return output.flip(1) if self.channels == "bgr" else output

    def describe(self) -> str:
        """One line for ``pconv model info``."""
        if self == IDENTITY:
            return "RGB in [0, 1], as it is"
        return f"{self.channels.upper()}, (x − mean) / std with x in [0, 1], mean {self.mean}, std {self.std}"

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std), "channels": self.channels}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Normalization:
        """The checkpoint's ``input`` entry; checkpoints without one (``pconv train``'s) take [0, 1] RGB."""
        if data is None:
            return IDENTITY
        try:
            mean = tuple(float(v) for v in data["mean"])
            std = tuple(float(v) for v in data["std"])
            return cls(mean=mean, std=std, channels=data["channels"])  # type: ignore[arg-type]
        except (KeyError, TypeError) as error:
            raise ValueError(f"input normalization {data!r} lacks mean, std or channels ({error})") from None


IDENTITY = Normalization()
SYMMETRIC_BGR = Normalization(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), channels="bgr")
IMAGENET_RGB = Normalization(mean=IMAGENET_MEAN, std=IMAGENET_STD, channels="rgb")
