"""PConvUNet / ConvUNet: the paper's architecture, hole-agnosticism, mask propagation, BN freezing."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from pconv.core.weights import IMAGENET_MEAN
from pconv.pconv_model import ConvUNet, PConvUNet, partial_conv2d
from pconv.pconv_model.unet import unet_specs


def small_pconv(layers: int = 4, seed: int = 0) -> PConvUNet:
    torch.manual_seed(seed)
    return PConvUNet(layers=layers, width=0.125)


def blob_mask(batch: int, size: int, seed: int, keep: float = 0.6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    coarse = (torch.rand(batch, 1, size // 4, size // 4, generator=gen) < keep).float()
    return F.interpolate(coarse, size=(size, size), mode="nearest")


def test_specs_follow_the_supplementary_table():
    encoder, decoder = unet_specs(layers=8, in_channels=3, width=1.0)
    assert [(s.kernel_size, s.out_channels, s.stride) for s in encoder] == [
        (7, 64, 2), (5, 128, 2), (5, 256, 2), (3, 512, 2), (3, 512, 2), (3, 512, 2), (3, 512, 2), (3, 512, 2)
    ]  # fmt: skip
    assert [s.batch_norm for s in encoder] == [False] + [True] * 7
    assert {s.activation for s in encoder} == {"relu"}
    # PConv9..PConv16: concat widths 1024 ×4, 768, 384, 192, 67; outputs 512 ×4, 256, 128, 64, 3.
    assert [(s.in_channels, s.out_channels) for s in decoder] == [
        (1024, 512), (1024, 512), (1024, 512), (1024, 512), (768, 256), (384, 128), (192, 64), (67, 3)
    ]  # fmt: skip
    assert all(s.kernel_size == 3 and s.stride == 1 for s in decoder)
    assert [(s.batch_norm, s.activation) for s in decoder] == [(True, "leaky_relu")] * 7 + [(False, "none")]
    enc7, _ = unet_specs(layers=7, in_channels=3, width=1.0)
    assert len(enc7) == 7


@pytest.mark.parametrize("net_cls", [PConvUNet, ConvUNet])
def test_shapes_attributes_and_size_check(net_cls):
    torch.manual_seed(0)
    net = net_cls(layers=4, width=0.125)
    assert net.layers == 4
    mask = (torch.rand(2, 1, 32, 48) > 0.5).float()
    out = net(torch.rand(2, 3, 32, 48), mask)
    assert out.shape == (2, 3, 32, 48) and out.dtype == torch.float32
    with pytest.raises(ValueError, match=r"divisible by 2\*\*layers = 16"):
        net(torch.rand(1, 3, 24, 32), torch.ones(1, 1, 24, 32))
    with pytest.raises(ValueError, match=r"mask must have shape \(1, 1, 32, 32\)"):
        net(torch.rand(1, 3, 32, 32), torch.ones(1, 3, 32, 32))


def test_kaiming_initialization():
    torch.manual_seed(0)
    net = PConvUNet(layers=5, width=1.0)
    conv = net.decoder[0].conv  # 1024 → 512, 3×3, followed by LeakyReLU(0.2)
    std = (2.0 / (1 + 0.2**2) / (1024 * 9)) ** 0.5
    assert conv.weight.std().item() == pytest.approx(std, rel=0.02)
    first = net.encoder[0].conv  # 3 → 64, 7×7, ReLU, has bias (no BN)
    assert first.bias is not None and torch.equal(first.bias, torch.zeros(64))
    assert net.encoder[1].conv.bias is None  # BN follows
    assert torch.equal(net.encoder[1].bn.weight, torch.ones(128))


@pytest.mark.parametrize("train", [False, True])
def test_pconv_unet_is_hole_agnostic(train):
    net = small_pconv().train(train)
    mask = blob_mask(2, 32, 1)
    gen = torch.Generator().manual_seed(2)
    image = torch.rand(2, 3, 32, 32, generator=gen)
    other = image * mask + torch.randn(2, 3, 32, 32, generator=gen) * 100 * (1 - mask)
    with torch.no_grad():  # train mode: BN batch statistics see only zeros at holes, so they agree too
        assert torch.equal(net(image, mask), net(other, mask))


def test_conv_unet_is_not_hole_agnostic_but_fills_holes():
    torch.manual_seed(0)
    net = ConvUNet(layers=4, width=0.125, hole_fill=IMAGENET_MEAN).eval()
    mask = blob_mask(1, 32, 3)
    image = torch.rand(1, 3, 32, 32)
    filled = image * mask + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * (1 - mask)
    with torch.no_grad():
        assert torch.equal(net(image, mask), net(filled, mask))  # hole values are replaced by the fill
        grey = ConvUNet(layers=4, width=0.125).eval()
        grey.load_state_dict(net.state_dict())
        assert not torch.allclose(grey(image, mask), net(image, mask))  # the placeholder value matters
    with pytest.raises(ValueError, match="hole_fill needs 3 values"):
        ConvUNet(layers=4, hole_fill=(0.5, 0.5))


def _capture_masks(net: PConvUNet) -> list[torch.Tensor]:
    masks: list[torch.Tensor] = []
    for block in [*net.encoder, *net.decoder]:
        block.register_forward_hook(lambda _m, _i, out: masks.append(out[1]))
    return masks


@pytest.mark.parametrize("pixel", [(0, 0), (63, 63), (0, 63), (63, 0), (21, 40)])
def test_one_valid_pixel_fills_the_whole_mask(pixel):
    # 64×64 with 6 layers: the deepest map is 1×1, so it is valid for any valid pixel, and from there every
    # decoder window contains a valid upsampled pixel.
    net = small_pconv(layers=6).eval()
    masks = _capture_masks(net)
    mask = torch.zeros(1, 1, 64, 64)
    mask[0, 0, pixel[0], pixel[1]] = 1
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 64), mask)
    assert masks[5].shape[-2:] == (1, 1) and masks[5].eq(1).all()
    assert all(m.eq(1).all() for m in masks[6:])  # every decoder mask, the output's included
    assert torch.isfinite(out).all() and (out != 0).any(dim=1).all()


def test_deepest_map_of_two_leaves_a_border_hole_for_a_far_corner_pixel():
    # The paper's shape (512² with 8 layers ends at 2×2) has this too: a lone valid pixel at the bottom
    # right reaches only the right column of the 2×2 map, and the decoder's 3×3 windows never carry it
    # back to row 0 and column 0, whose outputs stay exactly 0 (Eq. 1). Pinned so that a change shows.
    net = small_pconv(layers=5).eval()
    mask = torch.zeros(1, 1, 64, 64)
    mask[0, 0, 63, 63] = 1
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 64), mask)
    assert (out[..., 0, :] == 0).all() and (out[..., :, 0] == 0).all()
    assert (out[..., 1:, 1:] != 0).any(dim=1).all()


def test_bool_mask_equals_float_mask():
    net = small_pconv().eval()
    mask = blob_mask(1, 32, 9)
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(image, mask.bool()), net(image, mask))


def test_all_hole_input_gives_zeros_not_nan():
    net = small_pconv().eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32))
    assert torch.equal(out, torch.zeros_like(out))


def test_no_gradient_reaches_hole_pixels():
    net = small_pconv().train()
    mask = blob_mask(2, 32, 4)
    image = torch.rand(2, 3, 32, 32, requires_grad=True)
    out = net(image, mask)
    (out * torch.randn_like(out)).sum().backward()
    hole = (mask == 0).expand_as(image)
    assert (image.grad[hole] == 0).all()
    assert (image.grad[~hole] != 0).float().mean() > 0.5


def naive_multichannel_unet(net: PConvUNet, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The network as the paper draws it: channel-wide masks, concatenated, multi-channel PConv."""

    def block(b, x, m):
        conv = b.conv
        out, new = partial_conv2d(
            x, m, conv.weight, conv.bias, stride=conv.stride, padding=conv.padding, multi_channel=True
        )
        if b.bn is not None:
            out = b.bn(out)
        if b.spec.activation == "relu":
            out = F.relu(out)
        elif b.spec.activation == "leaky_relu":
            out = F.leaky_relu(out, 0.2)
        return out, new.expand(-1, out.shape[1], -1, -1)

    h, m = image, mask.expand_as(image)
    skips = [(h, m)]
    for b in net.encoder:
        h, m = block(b, h, m)
        skips.append((h, m))
    skips.pop()
    for b in net.decoder:
        sh, sm = skips.pop()
        up_h, up_m = (F.interpolate(t, scale_factor=2.0, mode="nearest") for t in (h, m))
        h, m = block(b, torch.cat([up_h, sh], 1), torch.cat([up_m, sm], 1))
    return h


@pytest.mark.parametrize("train", [False, True])
def test_equals_naive_multichannel_network(train):
    net = small_pconv(layers=4, seed=5).train(train)
    for bn in (b.bn for b in [*net.encoder, *net.decoder] if b.bn is not None):
        torch.nn.init.uniform_(bn.weight, 0.5, 1.5)  # give BN a non-trivial shift, so holes move
        torch.nn.init.uniform_(bn.bias, -0.5, 0.5)
        bn.running_mean.uniform_(-0.2, 0.2)
    mask = blob_mask(2, 32, 6, keep=0.3)
    image = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            net(image, mask), naive_multichannel_unet(net, image, mask), rtol=1e-4, atol=1e-5
        )


def test_freeze_encoder_bn_survives_train():
    net = small_pconv()
    net.train()
    net.freeze_encoder_bn()
    net.train()  # e.g. the trainer's loop calls .train() again
    enc_bns = [b.bn for b in net.encoder if b.bn is not None]
    dec_bns = [b.bn for b in net.decoder if b.bn is not None]
    assert all(not bn.training for bn in enc_bns) and all(bn.training for bn in dec_bns)
    before = [(bn.running_mean.clone(), bn.weight.clone()) for bn in enc_bns]
    dec_before = dec_bns[0].running_mean.clone()
    net(torch.rand(2, 3, 32, 32), blob_mask(2, 32, 7)).square().mean().backward()
    for bn, (mean, weight) in zip(enc_bns, before, strict=True):
        assert torch.equal(bn.running_mean, mean) and torch.equal(bn.weight, weight)
        assert bn.weight.grad is None and bn.bias.grad is None
        assert not bn.weight.requires_grad
    assert not torch.equal(dec_bns[0].running_mean, dec_before)
    assert dec_bns[0].weight.grad is not None
    assert net.encoder[1].conv.weight.grad is not None  # the encoder's convolutions still learn


@pytest.mark.parametrize("net_cls", [PConvUNet, ConvUNet])
def test_bfloat16_forward_is_finite(net_cls):
    torch.manual_seed(0)
    net = net_cls(layers=4, width=0.125).eval()
    mask = blob_mask(1, 32, 8)
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        ref = net(image, mask)
        out = net.to(torch.bfloat16)(image.bfloat16(), mask.bfloat16())
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), ref, rtol=0.1, atol=0.1 * ref.abs().max().item())


@pytest.mark.parametrize("net_cls", [PConvUNet, ConvUNet])
def test_nan_and_inf_under_the_holes_do_not_matter(net_cls):
    torch.manual_seed(0)
    net = net_cls(layers=4, width=0.125).eval()
    mask = blob_mask(2, 32, 9)
    image = torch.rand(2, 3, 32, 32)
    poisoned = image.clone()
    poisoned[:, 0][mask[:, 0] == 0] = float("nan")
    poisoned[:, 1][mask[:, 0] == 0] = float("inf")
    with torch.no_grad():
        assert torch.equal(net(poisoned, mask), net(image * mask, mask))


def test_freeze_encoder_bn_survives_requires_grad():
    net = small_pconv()
    net.freeze_encoder_bn()
    net.requires_grad_(True)  # e.g. a user unfreezing everything else before building an optimizer
    net.train()
    enc_bns = [b.bn for b in net.encoder if b.bn is not None]
    assert not any(bn.weight.requires_grad or bn.bias.requires_grad or bn.training for bn in enc_bns)
    assert net.encoder[0].conv.weight.requires_grad


@pytest.mark.parametrize("autocast", [False, True])
def test_float16_one_valid_pixel_saturates_instead_of_overflowing(autocast):
    """The issue's case: untrained, 8 layers, eval mode, one valid pixel. Each layer multiplies the lone
    pixel's response by about sqrt(2)·k (window/count with a single valid entry), past float16's 65504."""
    torch.manual_seed(0)
    net = PConvUNet(layers=8, width=0.25).eval()
    peaks: list[float] = []
    for block in [*net.encoder, *net.decoder]:
        block.register_forward_hook(lambda _m, _i, out: peaks.append(out[0].abs().max().item()))
    image, mask = torch.rand(1, 3, 256, 256), torch.zeros(1, 1, 256, 256)
    mask[0, 0, 85, 128] = 1
    with torch.no_grad():
        net(image, mask)
        reference, peaks[:] = list(peaks), []
        assert max(reference) > 65504  # float32 goes beyond float16's range: the case is a real one
        if autocast:
            with torch.autocast("cpu", dtype=torch.float16):
                out = net(image, mask)
        else:
            out = net.half()(image.half(), mask.half())
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    assert max(peaks) == 65504  # saturated, not inf
    first_over = next(i for i, peak in enumerate(reference) if peak > 65504)
    # up to there float16 follows float32
    assert peaks[:first_over] == pytest.approx(reference[:first_over], rel=0.01)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_in_range_equals_float32_and_is_not_clamped(dtype):
    net = small_pconv(layers=4, seed=1).eval()
    mask = blob_mask(2, 32, 10)
    image = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ref = net(image, mask)
        out = net.to(dtype)(image.to(dtype), mask.to(dtype))
    assert out.dtype == dtype and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05 * ref.abs().max().item())


@pytest.mark.parametrize("train", [False, True])
def test_gradients_equal_naive_multichannel_network(train):
    net = small_pconv(layers=4, seed=7).train(train)
    for bn in (b.bn for b in [*net.encoder, *net.decoder] if b.bn is not None):
        torch.nn.init.uniform_(bn.weight, 0.5, 1.5)
        torch.nn.init.uniform_(bn.bias, -0.5, 0.5)
    mask = blob_mask(2, 32, 11, keep=0.3)
    image = torch.rand(2, 3, 32, 32)
    weights = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(12))
    grads = []
    for forward in (net, lambda i, m: naive_multichannel_unet(net, i, m)):
        net.zero_grad()
        state = {k: v.clone() for k, v in net.state_dict().items()}  # BN running stats move in train mode
        (forward(image, mask) * weights).sum().backward()
        net.load_state_dict(state)
        grads.append({name: p.grad.clone() for name, p in net.named_parameters()})
    for name, grad in grads[0].items():
        scale = grads[1][name].abs().max().item()
        torch.testing.assert_close(grad, grads[1][name], rtol=1e-4, atol=1e-6 * scale, msg=name)


def _compile_cases():
    mask = blob_mask(2, 32, 13, keep=0.5)
    full = torch.ones(2, 1, 32, 32)  # all valid: eager takes its CPU shortcut, compiled code cannot
    return {"blobs": mask, "all_valid": full}


@pytest.mark.parametrize("case", ["blobs", "all_valid"])
def test_compiled_network_equals_eager_without_graph_breaks(case):
    """fullgraph=True fails on any graph break; aot_eager runs the traced graphs (forward and backward)
    without a C++ compiler, so it is the same check on any machine."""
    net = small_pconv(layers=3, seed=8)
    mask, image = _compile_cases()[case], torch.rand(2, 3, 32, 32)
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    with torch.no_grad():
        for mode in (False, True):
            net.train(mode)
            assert torch.equal(compiled(image, mask), net(image, mask))
        net.eval()
        half = (image.half(), mask.half())
        assert torch.equal(compiled.half()(*half), net(*half))  # the float16 clamp path too
        net.float()
    net.train()
    grads = []
    for forward in (compiled, net):
        net.zero_grad()
        forward(image, mask).square().mean().backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for compiled_grad, eager_grad in zip(*grads, strict=True):
        assert torch.equal(compiled_grad, eager_grad)


@pytest.mark.skipif(
    not os.environ.get("PCONV_TEST_INDUCTOR"),
    reason="set PCONV_TEST_INDUCTOR=1: inductor compiles for minutes",
)
def test_inductor_compiled_network_is_close_to_eager():
    net = small_pconv(layers=3, seed=9).eval()
    mask, image = blob_mask(1, 32, 14), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(net, fullgraph=True)(image, mask), net(image, mask))
