"""load_vgg16_features: torchvision-format state dicts, the hub cache, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.models.vgg import cfgs, make_layers

from pconv.core.weights import IMAGENET_MEAN, IMAGENET_STD
from pconv.pconv_model import InpaintingLoss, load_vgg16_features
from pconv.pconv_model.vgg import POOL_INDICES, vgg16_cache_path

SHARED_WEIGHTS = Path(__file__).resolve().parents[3] / "shared" / "weights" / "vgg16_imagenet_features.pth"


def random_vgg_state(seed: int = 0) -> tuple[torch.nn.Sequential, dict[str, torch.Tensor]]:
    """torchvision VGG16 ``features`` up to pool3 with random weights, and its state dict as files hold it."""
    torch.manual_seed(seed)
    features = make_layers(cfgs["D"])[:17]
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.bias"] = torch.zeros(4096)  # extra keys of a full VGG16 file are ignored
    return features, state


def reference_pools(features: torch.nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    h = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    pools = []
    for i, layer in enumerate(features):
        h = layer(h)
        if i in POOL_INDICES:
            pools.append(h)
    return pools


def test_inputs_are_normalized_with_the_imagenet_statistics():
    assert IMAGENET_MEAN == (0.485, 0.456, 0.406) and IMAGENET_STD == (0.229, 0.224, 0.225)


def test_loads_a_torchvision_state_dict_and_matches_torchvision(tmp_path):
    features, state = random_vgg_state()
    path = tmp_path / "vgg.pth"
    torch.save(state, path)
    vgg = load_vgg16_features(path)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ours, ref = vgg(x), reference_pools(features.eval(), x)
    assert [tuple(p.shape) for p in ours] == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4)]
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)
    assert load_vgg16_features(str(path)) is not None  # str paths too


def test_extractor_is_frozen_and_passes_gradients(tmp_path):
    _, state = random_vgg_state()
    torch.save(state, tmp_path / "vgg.pth")
    vgg = load_vgg16_features(tmp_path / "vgg.pth")
    vgg.train()
    assert not vgg.training and not any(p.requires_grad for p in vgg.parameters())
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    sum(p.sum() for p in vgg(x)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_missing_file_is_a_one_line_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such VGG16 weights file") as info:
        load_vgg16_features(tmp_path / "nope.pth")
    assert str(tmp_path / "nope.pth") in str(info.value) and "\n" not in str(info.value)


def test_bad_files_are_value_errors(tmp_path):
    _, state = random_vgg_state()
    del state["features.14.weight"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(ValueError, match=r"missing features\.14\.weight"):
        load_vgg16_features(tmp_path / "missing.pth")

    _, state = random_vgg_state()
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(
        ValueError, match=r"features\.0\.weight has shape \(64, 1, 3, 3\), expected \(64, 3, 3, 3\)"
    ):
        load_vgg16_features(tmp_path / "shape.pth")

    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    with pytest.raises(ValueError, match="holds a Tensor, expected a state dict"):
        load_vgg16_features(tmp_path / "tensor.pth")

    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable VGG16 weights file"):
        load_vgg16_features(tmp_path / "text.pth")


def test_default_weights_come_from_the_hub_cache_only(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    cached = vgg16_cache_path()
    assert cached == tmp_path / "checkpoints" / Path(torchvision.models.VGG16_Weights.IMAGENET1K_V1.url).name
    with pytest.raises(FileNotFoundError, match="download=True") as info:
        load_vgg16_features()
    assert str(cached) in str(info.value) and "\n" not in str(info.value)

    features, state = random_vgg_state(seed=1)
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    vgg = load_vgg16_features()  # found in the cache: torchvision's weights API loads it, no download
    torch.testing.assert_close(vgg.features[14].weight, features[14].weight)


@pytest.mark.skipif(not SHARED_WEIGHTS.is_file(), reason=f"{SHARED_WEIGHTS} not present")
def test_shared_imagenet_weights_give_a_sensible_loss():
    vgg = load_vgg16_features(SHARED_WEIGHTS)
    gen = torch.Generator().manual_seed(0)
    target = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 64, 64, generator=gen), 5, 1, 2)
    mask = torch.ones(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 0
    loss = InpaintingLoss(vgg)
    same = loss(target, target, mask)
    noisy = loss(target + 0.1 * torch.randn(1, 3, 64, 64, generator=gen), target, mask)
    assert all(torch.isfinite(v) for v in noisy.values())
    assert noisy["style_out"] > noisy["style_comp"] > 0  # I_comp keeps the valid pixels clean
    # Not exactly 0: the target goes through VGG alone, the outputs batched, and batched convs round
    # differently.
    assert same["perceptual"] < 1e-3 * noisy["perceptual"]
