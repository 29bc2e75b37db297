"""The kernel-count proxy: ATen operations and bytes per forward, PConvUNet against ConvUNet, on meta."""

import doctest

import pytest
import torch

from pconv.pconv_model import ConvUNet, PConvUNet, profiling
from pconv.pconv_model.profiling import count_ops


def test_doctest():
    assert doctest.testmod(profiling).failed == 0


def _counts(layers: int, size: int, *, train: bool) -> dict[str, profiling.OpCount]:
    counts = {}
    for cls in (PConvUNet, ConvUNet):
        with torch.device("meta"):  # shapes only: nothing is computed or initialized
            net = cls(layers=layers).train(train)
        image = torch.empty(1, 3, size, size, device="meta")
        mask = torch.empty(1, 1, size, size, device="meta")

        def call(net=net, image=image, mask=mask) -> None:
            if train:
                net(image, mask).mean().backward()
            else:
                with torch.no_grad():
                    net(image, mask)

        counts[cls.__name__] = count_ops(call)
    return counts


@pytest.mark.parametrize(("layers", "size"), [(7, 256), (8, 512)])
def test_pconv_runs_few_kernels_more_than_conv(layers, size):
    """Per level the mask plan runs an average pool and a sign (a lerp more in the decoder), each layer one
    ratio multiply; the old per-layer mask path ran about ten kernels per layer (272 against Conv's 67
    at 256², all on the mask and ratio)."""
    infer = _counts(layers, size, train=False)
    pconv, conv = infer["PConvUNet"], infer["ConvUNet"]
    assert pconv.by_name["aten.convolution"] == conv.by_name["aten.convolution"] == 2 * layers
    assert pconv.by_name["aten.avg_pool2d"] == pconv.by_name["aten.sign"] == 2 * layers
    assert pconv.ops <= conv.ops + 8 * layers + 12
    assert pconv.bytes <= 1.3 * conv.bytes
    training = _counts(layers, size, train=True)
    pconv, conv = training["PConvUNet"], training["ConvUNet"]
    assert pconv.ops <= conv.ops + 13 * layers + 12
    assert pconv.bytes <= 1.3 * conv.bytes
