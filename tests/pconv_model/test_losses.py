"""InpaintingLoss: every term against a hand computation on tiny inputs."""

from __future__ import annotations

import pytest
import torch
from pconv.pconv_model import InpaintingLoss, LossWeights, gram_matrix, hole_border_region, total_variation
from torch import nn

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
