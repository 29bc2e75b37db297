"""PartialConv2d against a naive per-window float64 implementation of Eq. 1-2."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pconv.pconv_model import PartialConv2d, partial_conv2d, partial_conv2d_cat
from pconv.pconv_model.layers import _window_sum


def naive_pconv(x, mask, weight, bias, stride, padding, dilation, multi_channel):
    """Eq. 1-2 window by window in float64; the mask is zero-padded (outside = hole)."""
    x, mask, weight = x.double(), mask.double(), weight.double()
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    mask = mask.expand(n, c, h, w) if multi_channel else mask
    xp = F.pad(x, (padding, padding, padding, padding))
    mp = F.pad(mask, (padding, padding, padding, padding))
    out_h = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    out_w = (w + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = torch.zeros(n, c_out, out_h, out_w, dtype=torch.float64)
    new_mask = torch.zeros(n, 1, out_h, out_w, dtype=torch.float64)
    for b in range(n):
        for i in range(out_h):
            for j in range(out_w):
                rows = slice(i * stride, i * stride + dilation * (kh - 1) + 1, dilation)
                cols = slice(j * stride, j * stride + dilation * (kw - 1) + 1, dilation)
                m = mp[b, :, rows, cols]
                sum_m = m.sum()
                if sum_m == 0:
                    continue
                sum_1 = m.numel()
                xm = xp[b, :, rows, cols] * m  # (1 or C, kh, kw) mask broadcasts over channels
                out[b, :, i, j] = (weight * xm).sum(dim=(1, 2, 3)) * sum_1 / sum_m
                if bias is not None:
                    out[b, :, i, j] += bias.double()
                new_mask[b, 0, i, j] = 1
    return out, new_mask


def random_mask(shape, kind, gen):
    if kind == "hole":
        return torch.zeros(shape)
    if kind == "valid":
        return torch.ones(shape)
    return (torch.rand(shape, generator=gen) > 0.6).double()


CASES = [
    # kernel, stride, padding, dilation
    (3, 1, 1, 1),
    (3, 2, 1, 1),
    (5, 2, 2, 1),
    (7, 2, 3, 1),
    (3, 1, 2, 2),
    (3, 2, 0, 1),
    (1, 1, 0, 1),
]


@pytest.mark.parametrize("multi_channel", [False, True])
@pytest.mark.parametrize("kind", ["random", "hole", "valid"])
@pytest.mark.parametrize(("k", "stride", "padding", "dilation"), CASES)
def test_matches_naive_float64(k, stride, padding, dilation, kind, multi_channel):
    gen = torch.Generator().manual_seed(k * 100 + stride * 10 + padding + dilation)
    x = torch.randn(2, 3, 9, 8, generator=gen, dtype=torch.float64)
    mask = random_mask((2, 3 if multi_channel else 1, 9, 8), kind, gen)
    weight = torch.randn(4, 3, k, k, generator=gen, dtype=torch.float64)
    bias = torch.randn(4, generator=gen, dtype=torch.float64)
    out, new_mask = partial_conv2d(
        x, mask, weight, bias, stride=stride, padding=padding, dilation=dilation, multi_channel=multi_channel
    )
    ref_out, ref_mask = naive_pconv(x, mask, weight, bias, stride, padding, dilation, multi_channel)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    assert torch.equal(new_mask, ref_mask)


def test_float32_matches_naive_and_has_no_bias_in_holes():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 5, 12, 12, generator=gen)
    mask = torch.ones(1, 1, 12, 12)
    mask[..., 2:9, 3:10] = 0  # a hole larger than a window: outputs inside see no valid pixel
    weight = torch.randn(6, 5, 3, 3, generator=gen)
    bias = torch.full((6,), 0.75)
    out, new_mask = partial_conv2d(x, mask, weight, bias, padding=1)
    ref_out, ref_mask = naive_pconv(x, mask, weight, bias, 1, 1, 1, False)
    torch.testing.assert_close(out.double(), ref_out, rtol=1e-5, atol=1e-5)
    assert torch.equal(new_mask.double(), ref_mask)
    assert (new_mask[..., 4:7, 5:8] == 0).all()
    assert (out[..., 4:7, 5:8] == 0).all()  # Eq. 1: 0 where sum(M) = 0, no bias


def test_border_is_renormalized():
    # All-valid image, padding 1: a corner window sees 4 of 9 pixels, so the ratio is 9/4 there.
    x = torch.ones(1, 1, 4, 4)
    weight = torch.ones(1, 1, 3, 3)
    out, new_mask = partial_conv2d(x, torch.ones(1, 1, 4, 4), weight, None, padding=1)
    assert out[0, 0, 0, 0].item() == pytest.approx(4 * 9 / 4)
    assert out[0, 0, 0, 1].item() == pytest.approx(6 * 9 / 6)
    assert out[0, 0, 1, 1].item() == pytest.approx(9.0)
    assert new_mask.eq(1).all()


def test_multi_channel_with_single_channel_mask_equals_single_channel():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 8, 8, generator=gen, dtype=torch.float64)
    mask = (torch.rand(2, 1, 8, 8, generator=gen) > 0.5).double()
    weight = torch.randn(3, 4, 3, 3, generator=gen, dtype=torch.float64)
    a = partial_conv2d(x, mask, weight, None, padding=1, multi_channel=True)
    b = partial_conv2d(x, mask.expand(2, 4, 8, 8), weight, None, padding=1, multi_channel=True)
    c = partial_conv2d(x, mask, weight, None, padding=1)
    for other in (b, c):
        torch.testing.assert_close(a[0], other[0], rtol=1e-12, atol=1e-12)
        assert torch.equal(a[1], other[1])


@pytest.mark.parametrize("premasked", [False, True])
def test_cat_equals_multi_channel_on_expanded_masks(premasked):
    gen = torch.Generator().manual_seed(2)
    feats = [torch.randn(2, c, 8, 8, generator=gen, dtype=torch.float64) for c in (3, 5)]
    masks = [(torch.rand(2, 1, 8, 8, generator=gen) > p).double() for p in (0.3, 0.8)]
    if premasked:
        feats = [f * m for f, m in zip(feats, masks, strict=True)]
    weight = torch.randn(4, 8, 3, 3, generator=gen, dtype=torch.float64)
    bias = torch.randn(4, generator=gen, dtype=torch.float64)
    out, new_mask = partial_conv2d_cat(feats, masks, weight, bias, stride=2, padding=1, premasked=premasked)
    wide = torch.cat([m.expand_as(f) for f, m in zip(feats, masks, strict=True)], dim=1)
    ref_out, ref_mask = naive_pconv(torch.cat(feats, 1), wide, weight, bias, 2, 1, 1, True)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    assert torch.equal(new_mask, ref_mask)


def test_no_gradient_reaches_holes_and_module_equals_function():
    gen = torch.Generator().manual_seed(3)
    layer = PartialConv2d(3, 4, 3, stride=1, padding=1)
    x = torch.randn(2, 3, 8, 8, generator=gen, requires_grad=True)
    mask = (torch.rand(2, 1, 8, 8, generator=gen) > 0.5).float()
    out, new_mask = layer(x, mask)
    ref, ref_mask = partial_conv2d(x, mask, layer.weight, layer.bias, padding=1)
    assert torch.equal(out, ref) and torch.equal(new_mask, ref_mask)
    out.pow(2).sum().backward()
    hole = (mask == 0).expand_as(x)
    assert (x.grad[hole] == 0).all()
    assert (x.grad[~hole] != 0).any()
    assert layer.weight.grad is not None and torch.isfinite(layer.weight.grad).all()
    assert layer.bias.grad is not None


def test_module_initialization_and_repr():
    layer = PartialConv2d(64, 128, 5, stride=2, padding=2, multi_channel=True)
    std = (2.0 / (64 * 25)) ** 0.5  # He et al., fan-in
    assert layer.weight.std().item() == pytest.approx(std, rel=0.03)
    assert torch.equal(layer.bias, torch.zeros(128))
    assert "multi_channel=True" in repr(layer)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [
        ((3, 3), (1, 1), (1, 1), (1, 1)),
        ((7, 5), (2, 3), (3, 1), (1, 2)),
        ((3, 3), (2, 2), (0, 2), (3, 1)),
        ((7, 5), (2, 1), (3, 2), (1, 1)),
        ((3, 3), (2, 2), (2, 1), (1, 1)),
    ],
)
@pytest.mark.parametrize("pooled", [False, True])  # True: the GPU's average pool (where it applies)
def test_window_sum_equals_ones_conv(kernel, stride, padding, dilation, pooled):
    x = (torch.rand(2, 1, 23, 19, generator=torch.Generator().manual_seed(4)) > 0.5).float() * 67
    ref = F.conv2d(x, torch.ones(1, 1, *kernel), stride=stride, padding=padding, dilation=dilation)
    assert torch.equal(_window_sum(x, kernel, stride, padding, dilation, pooled=pooled), ref)


def _cpu_conv_supports(dtype: torch.dtype) -> bool:
    try:
        F.conv2d(torch.ones(1, 1, 3, 3, dtype=dtype), torch.ones(1, 1, 3, 3, dtype=dtype))
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize(
    "dtype",
    [
        pytest.param(d, marks=pytest.mark.skipif(not _cpu_conv_supports(d), reason=f"CPU conv2d lacks {d}"))
        for d in (torch.float16, torch.bfloat16)
    ],
)
@pytest.mark.parametrize("multi_channel", [False, True])
def test_half_precision_is_finite_and_close(dtype, multi_channel):
    gen = torch.Generator().manual_seed(5)
    c = 64  # window 64·9 = 576 entries: counts in float16 would already round past 2048 in wider layers
    x = torch.randn(2, c, 10, 10, generator=gen)
    mask = (torch.rand(2, c if multi_channel else 1, 10, 10, generator=gen) > 0.9).float()
    mask[1] = 0  # an all-hole sample
    weight = torch.randn(8, c, 3, 3, generator=gen) / 24
    bias = torch.randn(8, generator=gen)
    out, new_mask = partial_conv2d(
        x.to(dtype), mask.to(dtype), weight.to(dtype), bias.to(dtype), padding=1, multi_channel=multi_channel
    )
    ref, ref_mask = naive_pconv(x.to(dtype), mask, weight.to(dtype), bias.to(dtype), 1, 1, 1, multi_channel)
    assert out.dtype == dtype and new_mask.dtype == dtype
    assert torch.isfinite(out).all()
    assert (out[1] == 0).all() and (new_mask[1] == 0).all()
    assert torch.equal(new_mask.double(), ref_mask)
    tol = 2e-2 if dtype == torch.bfloat16 else 5e-3
    torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol * ref.abs().max().item())


def test_autocast_bfloat16_counts_stay_exact():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(1, 300, 6, 6, generator=gen)
    mask = (torch.rand(1, 300, 6, 6, generator=gen) > 0.5).float()  # counts up to 2700: not exact in bf16
    weight = torch.randn(4, 300, 3, 3, generator=gen) / 50
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = partial_conv2d(x, mask, weight, None, padding=1, multi_channel=True)
    ref, _ = naive_pconv(x, mask, weight, None, 1, 1, 1, True)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), ref, rtol=3e-2, atol=3e-2 * ref.abs().max().item())


def test_bad_shapes_raise_value_error():
    x = torch.randn(1, 3, 8, 8)
    w = torch.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"mask must have shape \(1, 1, 8, 8\)"):
        partial_conv2d(x, torch.ones(1, 3, 8, 8), w)
    with pytest.raises(ValueError, match="mask must have shape"):
        partial_conv2d(x, torch.ones(1, 1, 8, 7), w)
    with pytest.raises(ValueError, match=r"weight must have shape \(C_out, 3, k_h, k_w\)"):
        partial_conv2d(x, torch.ones(1, 1, 8, 8), torch.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match="x must be 4-D"):
        partial_conv2d(x[0], torch.ones(1, 1, 8, 8), w)
    with pytest.raises(ValueError, match="one mask per feature map"):
        partial_conv2d_cat([x, x], [torch.ones(1, 1, 8, 8)], torch.randn(4, 6, 3, 3))


@pytest.mark.skipif(not _cpu_conv_supports(torch.bfloat16), reason="CPU conv2d lacks bfloat16")
def test_bfloat16_window_counts_are_exact():
    """Counts above 256 are not bfloat16 integers; the ratio window/count must still use the exact count.

    x = 1 and one unit weight on a channel that is valid everywhere make Wᵀ(X⊙M) exactly 1, so the
    output is the ratio itself: bf16(fp32(C·k·k / count)), bit for bit.
    """
    gen = torch.Generator().manual_seed(7)
    c = 300
    mask = (torch.rand(2, c, 12, 12, generator=gen) > 0.3).float()
    mask[:, 0] = 1
    weight = torch.zeros(1, c, 3, 3)
    weight[0, 0, 1, 1] = 1
    out, new_mask = partial_conv2d(
        torch.ones(2, c, 12, 12, dtype=torch.bfloat16),
        mask.bfloat16(),
        weight.bfloat16(),
        None,
        padding=1,
        multi_channel=True,
    )
    count = F.conv2d(mask.double(), torch.ones(1, c, 3, 3, dtype=torch.float64), padding=1)
    assert count.max() > 1500 and torch.equal(new_mask.double(), (count > 0).double())
    expected = (c * 9 / count).float().bfloat16()
    assert torch.equal(out, expected)
