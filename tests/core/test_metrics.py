import importlib.util
import math

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from pconv.core.metrics import SSIMSettings, gaussian_window, image_metrics, l1_percent, psnr, ssim


def naive_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al.'s formula written out in float64: 2-D window, valid correlation, per channel, mean."""
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for a, b in zip(x, y, strict=True):
        mu_a, mu_b = correlate2d(a, window, "valid"), correlate2d(b, window, "valid")
        var_a = correlate2d(a * a, window, "valid") - mu_a**2
        var_b = correlate2d(b * b, window, "valid") - mu_b**2
        cov = correlate2d(a * b, window, "valid") - mu_a * mu_b
        numerator = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
        values.append((numerator / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))).mean())
    return float(np.mean(values))


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    target = rng.random((2, 3, 40, 53))
    target[1] = np.clip(np.cumsum(rng.normal(0, 0.05, (3, 40, 53)), axis=2) + 0.5, 0, 1)  # smooth image
    output = np.clip(target + rng.normal(0, 0.1, target.shape), 0, 1)
    return output, target


def test_identical_images():
    image = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    metrics = image_metrics(image, image.clone())
    assert torch.equal(metrics["l1"], torch.zeros(3))
    assert torch.isinf(metrics["psnr"]).all() and (metrics["psnr"] > 0).all()
    assert torch.allclose(metrics["ssim"], torch.ones(3), atol=1e-6)


def test_known_shift():
    target = torch.full((1, 3, 20, 20), 0.25)
    target[..., :10] = 0.5
    output = target + 0.1
    assert l1_percent(output, target).item() == pytest.approx(10.0, rel=1e-5)
    assert psnr(output, target).item() == pytest.approx(20.0, rel=1e-5)  # 10·log10(1 / 0.01)


def test_known_noise_psnr():
    rng = np.random.default_rng(3)
    target = rng.random((1, 3, 64, 64))
    sign = rng.choice([-1.0, 1.0], size=target.shape)
    output = target + 0.05 * sign  # |error| is 0.05 everywhere; MSE = 0.0025
    out, tgt = torch.from_numpy(output).float(), torch.from_numpy(target).float()
    assert l1_percent(out, tgt).item() == pytest.approx(5.0, rel=1e-4)
    assert psnr(out, tgt).item() == pytest.approx(10 * math.log10(1 / 0.0025), rel=1e-4)


def test_l1_and_psnr_against_numpy(pair):
    output, target = pair
    out, tgt = torch.from_numpy(output).float(), torch.from_numpy(target).float()
    l1 = np.abs(output - target).reshape(2, -1).mean(1) * 100
    mse = ((output - target) ** 2).reshape(2, -1).mean(1)
    np.testing.assert_allclose(l1_percent(out, tgt).numpy(), l1, rtol=1e-5)
    np.testing.assert_allclose(psnr(out, tgt).numpy(), 10 * np.log10(1 / mse), rtol=1e-5)


def test_ssim_against_naive_formula(pair):
    output, target = pair
    got = ssim(torch.from_numpy(output).float(), torch.from_numpy(target).float()).numpy()
    expected = [naive_ssim(output[i], target[i]) for i in range(2)]
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_ssim_spans_blocks():
    """Images wider and taller than one filtering block, with a ragged last block."""
    rng = np.random.default_rng(11)
    target = rng.random((1, 3, 150, 141))
    output = np.clip(target + rng.normal(0, 0.2, target.shape), 0, 1)
    got = ssim(torch.from_numpy(output).float(), torch.from_numpy(target).float()).item()
    assert got == pytest.approx(naive_ssim(output[0], target[0]), abs=2e-5)


@pytest.mark.skipif(importlib.util.find_spec("skimage") is None, reason="scikit-image is not installed")
def test_ssim_against_skimage(pair):
    from skimage.metrics import structural_similarity

    output, target = pair
    got = ssim(torch.from_numpy(output).float(), torch.from_numpy(target).float()).numpy()
    for i in range(2):
        expected = structural_similarity(
            output[i].transpose(1, 2, 0),
            target[i].transpose(1, 2, 0),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1,
            channel_axis=-1,
        )
        assert got[i] == pytest.approx(expected, abs=2e-5)


def test_gaussian_window():
    g = gaussian_window(11, 1.5)
    assert g.shape == (11,) and g.sum().item() == pytest.approx(1.0) and g.argmax().item() == 5


def test_bad_shapes_and_settings():
    with pytest.raises(ValueError, match=r"equal shape, got \(1, 3, 8, 8\) and \(1, 3, 8, 9\)"):
        l1_percent(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError, match="at least 11×11"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="odd size, got 10"):
        SSIMSettings(window=10)


def test_gpu_filter_path_equals_cpu_path():
    """The banded-matmul filtering used on GPUs gives the OpenCV (CPU) path's values."""
    from pconv.core.metrics import _filter_valid_matmul, _filter_valid_opencv

    maps = torch.rand(2, 3, 150, 141, generator=torch.Generator().manual_seed(4))
    kernel = gaussian_window(11, 1.5)
    torch.testing.assert_close(
        _filter_valid_matmul(maps, kernel), _filter_valid_opencv(maps, kernel), atol=1e-6, rtol=1e-5
    )
