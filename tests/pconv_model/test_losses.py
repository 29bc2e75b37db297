"""InpaintingLoss: every term by hand on tiny inputs, its precision under autocast, the term shares."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vgg import make_layers

from pconv.pconv_model import (
    InpaintingLoss,
    LossWeights,
    PConvUNet,
    VGG16Pools,
    gram_matrix,
    hole_border_region,
    losses,
    total_variation,
)
from pconv.pconv_model.losses import dominant_term_warning, format_shares, term_shares

SHARED_WEIGHTS = Path(__file__).resolve().parents[3] / "shared" / "weights" / "vgg16_imagenet_features.pth"
VGG_POOL3 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]

KEYS = {"valid", "hole", "perceptual", "style_out", "style_comp", "tv", "total"}


class Identity(nn.Module):
    """A feature extractor whose single "feature map" is the image itself: terms become hand-computable."""

    def forward(self, x):
        return [x]


class TinyExtractor(nn.Module):
    """Two small conv stages with parameters, to check freezing and gradient flow."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 5, 3, padding=1, stride=2)

    def forward(self, x):
        f1 = torch.relu(self.a(x))
        return [f1, torch.relu(self.b(f1))]


def center_hole_case():
    """5×5, one hole pixel in the middle; I_gt = 0 except two pixels outside the dilated hole region."""
    mask = torch.ones(1, 1, 5, 5)
    mask[..., 2, 2] = 0
    target = torch.zeros(1, 3, 5, 5)
    target[..., 0, 0] = 5.0  # far from the hole: no TV pair may use it
    target[..., 2, 0] = 7.0  # neighbour of P's left edge (2, 1): the pair (2,0)-(2,1) straddles P
    output = torch.full((1, 3, 5, 5), 0.5)  # I_out: 0.5 at valid pixels
    output[..., 2, 2] = 1.0  # and 1 at the hole
    return output, target, mask


def test_pixel_terms_by_hand():
    output, target, mask = center_hole_case()
    terms = InpaintingLoss(Identity())(output, target, mask)
    # N = C·H·W = 75. Hole: 3 channels × |1 − 0| = 3. Valid: 24 pixels × 3 × 0.5 = 36, minus the two
    # special pixels where |0.5 − 5| and |0.5 − 7| replace 0.5: 36 − 3·0.5·2 + 3·(4.5 + 6.5) = 66.
    assert terms["hole"].item() == pytest.approx(3 / 75)
    assert terms["valid"].item() == pytest.approx(66 / 75)


def test_tv_region_by_hand():
    output, target, mask = center_hole_case()
    region = hole_border_region(mask)
    expected_region = torch.zeros(1, 1, 5, 5)
    expected_region[..., 1:4, 1:4] = 1
    assert torch.equal(region, expected_region)
    # I_comp = 0 everywhere except the hole (1) and the two far pixels (5, 7). Pairs inside P that touch
    # the hole: 2 horizontal + 2 vertical, each |1 − 0| = 1, per channel: 4 × 3 = 12, over N = 75.
    terms = InpaintingLoss(Identity())(output, target, mask)
    assert terms["tv"].item() == pytest.approx(12 / 75)
    comp = mask * target + (1 - mask) * output
    assert total_variation(comp, region).item() == pytest.approx(12 / 75)


def test_perceptual_and_style_by_hand_with_identity_features():
    output, target, mask = center_hole_case()
    terms = InpaintingLoss(Identity())(output, target, mask)
    comp = mask * target + (1 - mask) * output
    # Perceptual with Ψ = identity: mean |I_out − I_gt| + mean |I_comp − I_gt| = 69/75 + 3/75.
    assert terms["perceptual"].item() == pytest.approx(69 / 75 + 3 / 75)

    def gram_by_loops(f):
        _, c, h, w = f.shape
        g = torch.zeros(c, c, dtype=torch.float64)
        for i in range(c):
            for j in range(c):
                g[i, j] = sum(f[0, i, y, x].item() * f[0, j, y, x].item() for y in range(h) for x in range(w))
        return g / (c * h * w)

    g_gt = gram_by_loops(target)
    style_out = (gram_by_loops(output) - g_gt).abs().mean().item()
    style_comp = (gram_by_loops(comp) - g_gt).abs().mean().item()
    assert terms["style_out"].item() == pytest.approx(style_out, rel=1e-6)
    assert terms["style_comp"].item() == pytest.approx(style_comp, rel=1e-6)


def test_gram_matrix_small_numbers():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C = 2, H·W = 2
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4  # F·Fᵀ / (C·H·W)
    torch.testing.assert_close(gram_matrix(f)[0], expected)
    # Style term between this and all-zero features: mean of |G| over the 2×2 entries = 52 / 16.
    loss = InpaintingLoss(Identity())
    assert loss._sum_l1([gram_matrix(f)], [gram_matrix(torch.zeros_like(f))]).item() == pytest.approx(3.25)


def test_total_uses_configurable_weights():
    output, target, mask = center_hole_case()
    weights = LossWeights(valid=2.0, hole=3.0, perceptual=0.5, style=7.0, tv=11.0)
    t = InpaintingLoss(Identity(), weights=weights)(output, target, mask)
    assert set(t) == KEYS
    expected = (
        2 * t["valid"]
        + 3 * t["hole"]
        + 0.5 * t["perceptual"]
        + 7 * (t["style_out"] + t["style_comp"])
        + 11 * t["tv"]
    )
    assert t["total"].item() == pytest.approx(expected.item())
    default = InpaintingLoss(Identity())(output, target, mask)
    expected = (
        default["valid"]
        + 6 * default["hole"]
        + 0.05 * default["perceptual"]
        + 120 * (default["style_out"] + default["style_comp"])
        + 0.1 * default["tv"]
    )
    assert default["total"].item() == pytest.approx(expected.item())
    with pytest.raises(AttributeError):
        weights.hole = 1.0  # frozen


def test_extractor_is_frozen_but_gradients_reach_the_output():
    torch.manual_seed(0)
    extractor = TinyExtractor()
    loss = InpaintingLoss(extractor).train()
    assert not extractor.training
    output = torch.rand(2, 3, 8, 8, requires_grad=True)
    target = torch.rand(2, 3, 8, 8)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    terms = loss(output, target, mask)
    assert set(terms) == KEYS and all(torch.isfinite(v) for v in terms.values())
    terms["total"].backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in extractor.parameters())
    # Perceptual and style alone also reach the valid pixels of I_out (through Ψ(I_out)).
    output.grad = None
    (terms2 := loss(output, target, mask))["style_out"].backward()
    assert (output.grad * mask).abs().sum() > 0 and set(terms2) == KEYS


def test_identical_images_give_zero_loss():
    image = torch.rand(1, 3, 8, 8)
    mask = (torch.rand(1, 1, 8, 8) > 0.5).float()
    terms = InpaintingLoss(TinyExtractor())(image, image, mask)
    for key in KEYS - {"tv", "total"}:
        assert terms[key].item() == pytest.approx(0.0, abs=1e-6)  # batched convs may round differently
    assert terms["tv"].item() > 0  # TV is about I_comp alone
    assert terms["total"].item() == pytest.approx(0.1 * terms["tv"].item(), abs=1e-5)


def test_shape_errors():
    loss = InpaintingLoss(Identity())
    with pytest.raises(ValueError, match="same"):
        loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"mask must have shape \(1, 1, 8, 8\)"):
        loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.ones(1, 3, 8, 8))


def test_a_batch_of_two_is_the_mean_of_its_samples():
    """Each term of a batch equals the mean of the single-image terms: Grams are per sample (never
    pooled over the batch) and TV is averaged over images, not summed."""
    gen = torch.Generator().manual_seed(3)
    output, target = torch.rand(2, 3, 8, 8, generator=gen), torch.rand(2, 3, 8, 8, generator=gen)
    mask = (torch.rand(2, 1, 8, 8, generator=gen) > 0.4).float()
    mask[1, :, 2:6, 2:6] = 0  # a different hole per sample
    loss = InpaintingLoss(TinyExtractor())
    batch = loss(output, target, mask)
    single = [loss(output[i : i + 1], target[i : i + 1], mask[i : i + 1]) for i in range(2)]
    for key in KEYS:
        assert batch[key].item() == pytest.approx((single[0][key] + single[1][key]).item() / 2, rel=1e-5), key
    features = torch.rand(2, 4, 3, 5, generator=gen)
    grams = gram_matrix(features)
    for i in range(2):
        torch.testing.assert_close(grams[i], features[i].reshape(4, 15) @ features[i].reshape(4, 15).T / 60)


def large_scale_vgg(scale: float) -> VGG16Pools:
    """VGG16 up to pool3, seeded He-initialized weights (as torchvision's VGG), every activation × ``scale``
    (first convolution and all biases scaled: exact for a ReLU network, as for a Caffe-converted file)."""
    torch.manual_seed(0)
    features = make_layers(VGG_POOL3)
    for layer in features:
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            nn.init.uniform_(layer.bias, -0.1, 0.1)
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["features.0.weight"] = state["features.0.weight"] * scale
    for key in [k for k in state if k.endswith(".bias")]:
        state[key] = state[key] * scale
    return VGG16Pools(state)


def untrained_like_case(size: int = 32):
    """Photos in [0, 1] and an output spanning about [-6, 7], as an untrained U-Net's does."""
    gen = torch.Generator().manual_seed(1)
    target = F.avg_pool2d(torch.rand(2, 3, size, size, generator=gen), 5, 1, 2)
    output = 2.0 * torch.randn(2, 3, size, size, generator=gen)
    mask = torch.ones(2, 1, size, size)
    mask[..., 8:20, 10:26] = 0
    return output, target, mask


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_every_term_is_finite_under_autocast_whatever_the_feature_scale(dtype):
    vgg = large_scale_vgg(30000.0)
    output, target, mask = untrained_like_case()
    with torch.no_grad():
        assert vgg(output)[-1].max() > 2 * torch.finfo(torch.float16).max  # pool3 past float16's 65,504
        with torch.autocast("cpu", dtype=dtype):
            raw = vgg(output)
    if dtype == torch.float16:  # the case is real: this torch runs the convolutions in float16 on the CPU
        assert raw[-1].dtype == torch.float16 and not torch.isfinite(raw[-1]).all()
    loss = InpaintingLoss(vgg)
    reference = loss(output, target, mask)
    output.requires_grad_(True)
    with torch.autocast("cpu", dtype=dtype):
        terms = loss(output, target, mask)
    for key in KEYS:
        assert torch.isfinite(terms[key]) and terms[key].dtype == torch.float32, key
        assert terms[key].item() == pytest.approx(reference[key].item(), rel=2e-2), key
    terms["total"].backward()
    assert torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0


class DtypeProbe(nn.Module):
    """A one-convolution extractor that records the dtype its convolution computed in."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.seen: list[torch.dtype] = []

    def forward(self, x):
        f = self.conv(x)
        self.seen.append(f.dtype)
        return [f]


@pytest.mark.parametrize(
    "autocast_dtype, native_bf16, expected",
    [
        (None, True, torch.float32),
        (torch.bfloat16, True, torch.bfloat16),
        (torch.float16, True, torch.bfloat16),
        (torch.float16, False, torch.float32),  # e.g. CUDA before Ampere
    ],
)
def test_features_leave_float16_for_bfloat16_or_float32(autocast_dtype, native_bf16, expected, monkeypatch):
    monkeypatch.setattr(losses, "_native_bf16", lambda device_type: native_bf16)
    probe = DtypeProbe()
    output, target, mask = untrained_like_case(8)
    enabled = autocast_dtype is not None
    with torch.autocast("cpu", dtype=autocast_dtype or torch.bfloat16, enabled=enabled):
        InpaintingLoss(probe)(output, target, mask)
        assert torch.get_autocast_dtype("cpu") == (autocast_dtype or torch.bfloat16)  # restored after
    assert probe.seen == [expected, expected]  # the target's features, then the outputs'


def test_term_shares_by_hand():
    terms = {"valid": 1.0, "hole": 0.5, "perceptual": 20.0, "style_out": 0.01, "style_comp": 0.015, "tv": 2.0}
    shares = term_shares(terms)  # weighted: 1, 3, 1, 120 × 0.025 = 3, 0.2; total 8.2
    expected = {"valid": 1 / 8.2, "hole": 3 / 8.2, "perceptual": 1 / 8.2, "style": 3 / 8.2, "tv": 0.2 / 8.2}
    assert shares == pytest.approx(expected)
    assert term_shares(terms, LossWeights(valid=0, hole=0, perceptual=0, style=0, tv=1)) == {
        "valid": 0.0,
        "hole": 0.0,
        "perceptual": 0.0,
        "style": 0.0,
        "tv": 1.0,
    }
    assert (
        format_shares(shares)
        == "valid 12.195 %, hole 36.585 %, perceptual 12.195 %, style 36.585 %, tv 2.439 %"
    )
    assert format_shares({"style": 0.99998, "tv": 2.4e-8}) == "style 99.998 %, tv 2.4e-06 %"
    for bad in (float("nan"), float("inf"), 0.0):
        with pytest.raises(ValueError, match="shares need a finite, positive total"):
            term_shares(
                {**terms, "valid": bad, "hole": 0, "perceptual": 0, "style_out": 0, "style_comp": 0, "tv": 0}
            )


def test_a_dominant_term_gets_one_line_naming_the_vgg_scale():
    balanced = {"valid": 0.0002, "hole": 0.0003, "perceptual": 0.0015, "style": 0.998, "tv": 0.0}
    assert dominant_term_warning(balanced) is None
    caffe = {"valid": 1e-7, "hole": 1e-7, "perceptual": 0.00003, "style": 0.99997, "tv": 0.0}
    warning = dominant_term_warning(caffe)
    assert warning.startswith(
        "the style term is 99.997 % of the loss, so the other terms barely train the model"
    )
    assert "too large" in warning and "vgg16-397923af.pth" in warning and "Caffe (0-255 units)" in warning
    assert "\n" not in warning
    pixels = {"valid": 0.5, "hole": 0.49999, "perceptual": 1e-6, "style": 1e-6, "tv": 0.0}
    assert dominant_term_warning(pixels) is None  # no single term dominates
    assert "the hole term is 99.999 %" in dominant_term_warning({**pixels, "valid": 0.0, "hole": 0.99999})
    assert "too small" in dominant_term_warning({**pixels, "valid": 0.0, "hole": 0.99999})
    assert dominant_term_warning(balanced, limit=0.99) == dominant_term_warning(balanced, limit=0.9)


@pytest.mark.skipif(not SHARED_WEIGHTS.is_file(), reason=f"{SHARED_WEIGHTS} not present")
def test_first_batch_shares_tell_caffe_scale_from_torchvision_scale():
    """Real ImageNet VGG16 weights, an untrained U-Net: only the Caffe-scale copy (×57.6) warns."""
    state = torch.load(SHARED_WEIGHTS, weights_only=True)
    gen = torch.Generator().manual_seed(0)
    target = F.avg_pool2d(torch.rand(3, 3, 64, 64, generator=gen), 7, 1, 3)
    mask = torch.ones(3, 1, 64, 64)
    mask[..., 10:40, 20:50] = 0
    torch.manual_seed(0)
    with torch.no_grad():
        output = PConvUNet(layers=6, width=0.25).train()(target, mask)
        warnings = []
        for scale in (1.0, 57.6):
            scaled = {
                k: v * scale if k.endswith(".bias") or k == "features.0.weight" else v
                for k, v in state.items()
            }
            terms = InpaintingLoss(VGG16Pools(scaled))(output, target, mask)
            warnings.append(dominant_term_warning(term_shares({k: v.item() for k, v in terms.items()})))
    assert warnings[0] is None
    assert warnings[1] is not None and warnings[1].startswith("the style term is 99.99")
