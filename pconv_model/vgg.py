"""Frozen ImageNet VGG16 up to pool3: the feature extractor of the paper's perceptual and style losses.

Weights come from torchvision's cache (``VGG16_Weights.IMAGENET1K_V1``) or from any torchvision-format
VGG16 state dict (``features.N.weight`` / ``features.N.bias`` keys; ``classifier.*`` and deeper layers
are ignored). There is no random fallback: a loss on an untrained VGG trains silently to the wrong target.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn

from pconv.core.weights import IMAGENET_MEAN, IMAGENET_STD, hub_checkpoint_path, load_torch_file

__all__ = [
    "POOL_INDICES",
    "VGG16Pools",
    "load_vgg16_features",
    "vgg16_cache_path",
]

# Layer layout of torchvision's ``vgg16().features`` up to pool3: channel counts, "M" = max-pool.
_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M")
POOL_INDICES: tuple[int, ...] = (4, 9, 16)
"""Indices of pool1, pool2, pool3 in ``vgg16().features`` (and in :attr:`VGG16Pools.features`)."""


def _build_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in _CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(item)
    return nn.Sequential(*layers)


class VGG16Pools(nn.Module):
    """VGG16 ``features[:17]`` with frozen weights; returns the pool1, pool2 and pool3 activations.

    Parameters never receive gradients, but gradients flow through to the input image. The module stays
    in eval mode whatever ``.train()`` says.

    The activations are in the weights file's units, unbounded: torchvision's ``vgg16-397923af.pth``
    (trained on ImageNet-normalized input) is what the paper's loss weights assume; a VGG16 converted from
    Caffe (0-255 input) gives activations about 58 times larger (see pconv.pconv_model.losses).

    Shape:
        forward: x (B, 3, H, W) RGB in [0, 1] (normalized inside with the ImageNet mean and std).
            Returns [(B, 64, H/2, W/2), (B, 128, H/4, W/4), (B, 256, H/8, W/8)].
    """

    def __init__(self, state_dict: Mapping[str, Tensor], *, source: str = "state dict") -> None:
        super().__init__()
        self.features = _build_features()
        wanted = {f"features.{name}": param for name, param in self.features.state_dict().items()}
        missing = sorted(k for k in wanted if k not in state_dict)
        if missing:
            raise ValueError(
                f"{source} is not a torchvision VGG16 state dict: missing {', '.join(missing)} "
                f"(expected keys features.N.weight / features.N.bias)"
            )
        for key, param in wanted.items():
            if tuple(state_dict[key].shape) != tuple(param.shape):
                raise ValueError(
                    f"{source}: {key} has shape {tuple(state_dict[key].shape)}, expected {tuple(param.shape)}"
                )
        self.features.load_state_dict({k.removeprefix("features."): state_dict[k] for k in wanted})
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG16Pools:
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"VGG16 input must have shape (B, 3, H, W), got {tuple(x.shape)}")
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        pools = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in POOL_INDICES:
                pools.append(h)
        return pools


def vgg16_cache_path() -> Path:
    """Where torchvision's weights API keeps the ImageNet VGG16 file: ``torch.hub.get_dir()/checkpoints``."""
    return hub_checkpoint_path(torchvision.models.VGG16_Weights.IMAGENET1K_V1.url)


def load_vgg16_features(weights: str | Path | None = None, *, download: bool = False) -> VGG16Pools:
    """Load the frozen VGG16 pool1-3 extractor for :class:`~pconv.pconv_model.losses.InpaintingLoss`.

    Args:
        weights: path to a torchvision-format VGG16 state dict (``features.*`` keys suffice), or None for
            torchvision's ``VGG16_Weights.IMAGENET1K_V1`` from the local torch hub cache.
        download: with ``weights=None``, let torchvision download the file when it is not cached. Off by
            default so that nothing reaches the network unasked.

    Raises:
        FileNotFoundError: the file (or the cache entry) does not exist; the message says how to get it.
        ValueError: the file is not a VGG16 state dict (missing keys or wrong shapes).
    """
    if weights is not None:
        path = Path(weights)
        state = load_torch_file(path, what="VGG16 weights file")
        if not isinstance(state, Mapping):
            raise ValueError(
                f"{path} holds a {type(state).__name__}, expected a state dict (features.* keys)"
            )
        return VGG16Pools(state, source=str(path))
    cached = vgg16_cache_path()
    if not cached.is_file() and not download:
        raise FileNotFoundError(
            f"VGG16 ImageNet weights not in the torch hub cache ({cached}): run "
            "load_vgg16_features(download=True) once with network access, or pass the path of a "
            "torchvision-format VGG16 state dict (features.N.* keys)"
        )
    state = torchvision.models.VGG16_Weights.IMAGENET1K_V1.get_state_dict(progress=False, weights_only=True)
    return VGG16Pools(state, source=str(cached))
