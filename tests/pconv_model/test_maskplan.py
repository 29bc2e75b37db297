"""plan_masks against window counts taken layer by layer with ones-kernel convolutions in float64."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pconv.pconv_model import PConvUNet
from pconv.pconv_model.maskplan import DecoderWindow, EncoderWindow, plan_masks


def reference_plan(mask, encoder, decoder):
    """Ratios sum(1)/sum(M) and new masks of every layer, the decoder's masks as wide as its input."""
    current = mask.double()
    levels, layers = [current], []

    def layer(wide, kernel, stride):
        count = F.conv2d(
            wide, torch.ones(1, wide.shape[1], kernel, kernel, dtype=torch.float64), None, stride, kernel // 2
        )
        window = wide.shape[1] * kernel * kernel
        layers.append((torch.where(count > 0, window / count, 0.0), (count > 0).double()))
        return layers[-1][1]

    for window in encoder:
        current = layer(current, window.kernel, window.stride)
        levels.append(current)
    levels.pop()
    for window in decoder:
        up = F.interpolate(current, scale_factor=2.0, mode="nearest").expand(-1, window.up_channels, -1, -1)
        skip = levels.pop().expand(-1, window.skip_channels, -1, -1)
        current = layer(torch.cat([up, skip], 1), window.kernel, 1)
    return layers


def masks_to_plan(batch=2, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    blobs = F.interpolate(
        (torch.rand(batch, 1, size // 8, size // 8, generator=gen) > 0.7).float(), size=size
    )
    sparse = (torch.rand(batch, 1, size, size, generator=gen) > 0.97).float()
    one_pixel = torch.zeros(1, 1, size, size)
    one_pixel[..., size - 1, 5] = 1
    return {
        "blobs": blobs,
        "sparse": sparse,
        "one_pixel": one_pixel,
        "all_hole": torch.zeros(1, 1, size, size),
        "all_valid": torch.ones(1, 1, size, size),
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["blobs", "sparse", "one_pixel", "all_hole", "all_valid"])
def test_plan_equals_layer_by_layer_counts(kind, dtype):
    net = PConvUNet(layers=5, width=0.25)  # windows 7, 5, 5, 3, 3; decoder shares of 1/3, 1/2 and 3/19
    mask = masks_to_plan()[kind].to(dtype)
    plan = plan_masks(mask, encoder=net.encoder_windows, decoder=net.decoder_windows)
    expected = reference_plan(mask, net.encoder_windows, net.decoder_windows)
    assert len(plan) == len(expected) == 10
    tol = 1e-12 if dtype == torch.float64 else 3e-7
    for ratio, new_mask, (want_ratio, want_mask) in zip(plan.ratios, plan.masks, expected, strict=True):
        assert ratio.dtype == new_mask.dtype == dtype
        assert torch.equal(new_mask.double(), want_mask)
        assert torch.equal(ratio == 0, want_ratio == 0)  # exactly 0 where nothing is valid: no inf, no NaN
        torch.testing.assert_close(ratio.double(), want_ratio, rtol=tol, atol=0)


def test_windows_follow_the_architecture():
    net = PConvUNet(layers=8)
    assert net.encoder_windows == tuple(EncoderWindow(k, 2) for k in (7, 5, 5, 3, 3, 3, 3, 3))
    assert [tuple(w) for w in net.decoder_windows] == [
        (3, 512, 512), (3, 512, 512), (3, 512, 512), (3, 512, 512), (3, 512, 256), (3, 256, 128),
        (3, 128, 64), (3, 64, 3),
    ]  # fmt: skip


def test_bounds_remask_and_saturate_float16_only():
    mask = masks_to_plan()["blobs"]
    net = PConvUNet(layers=3, width=0.25)
    plan = plan_masks(mask, encoder=net.encoder_windows, decoder=net.decoder_windows)
    for index, new_mask in enumerate(plan.masks):
        valid = new_mask > 0
        zero, lower, upper = plan.bounds(torch.float16, index)
        assert zero.dtype == lower.dtype == upper.dtype == torch.float16 and zero.item() == 0
        assert (upper[valid] == 65504).all() and (upper[~valid] == 0).all() and torch.equal(lower, -upper)
        zero, lower, upper = plan.bounds(torch.float32, index)
        assert upper.dtype == torch.float32
        assert torch.isinf(upper[valid]).all() and (upper[~valid] == 0).all() and torch.equal(lower, -upper)


def test_bad_windows_are_refused():
    with pytest.raises(ValueError, match="one decoder window per encoder window, got 0 and 1"):
        plan_masks(torch.ones(1, 1, 8, 8), encoder=[EncoderWindow(3, 2)], decoder=[])
    assert DecoderWindow(3, 64, 3).skip_channels == 3
