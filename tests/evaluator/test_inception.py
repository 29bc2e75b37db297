import numpy as np
import pytest
import torch
from pconv.evaluator.inception import (
    InceptionExtractor,
    fid_from_features,
    frechet_distance,
    inception_score,
)
from torch import nn
from torchvision.models import inception_v3


class UniformClassifier(nn.Module):
    """Always predicts the uniform distribution over 7 classes."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = images.shape[0]
        return images.flatten(1)[:, :4], torch.zeros(n, 7)


def test_uniform_classifier_scores_one():
    _, logits = UniformClassifier()(torch.rand(23, 3, 8, 8))
    mean, std = inception_score(torch.softmax(logits, 1).numpy())
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_confident_diverse_classifier_scores_class_count():
    probs = np.tile(np.eye(5), (10, 1))  # 50 one-hot rows; every split of 5 consecutive rows holds each class
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(5.0) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_bad_input():
    with pytest.raises(ValueError, match=r"got shape \(0, 3\)"):
        inception_score(np.zeros((0, 3)))


def test_fid_identical_sets_is_zero():
    features = np.random.default_rng(0).normal(size=(300, 16))
    assert fid_from_features(features, features.copy()) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(6, 6))
    sigma1 = a @ a.T + np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    # Σ2 = 4 Σ1 → (Σ1 Σ2)^½ = 2 Σ1 → trace term tr(Σ1 + 4Σ1 − 4Σ1) = tr(Σ1)
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1))
    assert frechet_distance(mu1, sigma1, mu2, 4 * sigma1) == pytest.approx(expected, rel=1e-9)
    # diagonal Gaussians: Σ (σ1 − σ2)² over the standard deviations
    s1, s2 = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 0.5])
    got = frechet_distance(np.zeros(3), np.diag(s1**2), np.ones(3), np.diag(s2**2))
    assert got == pytest.approx(3 + ((s1 - s2) ** 2).sum(), rel=1e-9)


def test_fid_of_samples_approaches_closed_form():
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 1.0, size=(20000, 3))
    y = rng.normal(1.0, 2.0, size=(20000, 3))
    assert fid_from_features(x, y) == pytest.approx(3 * 1 + 3 * 1, rel=0.05)


def test_fid_bad_input():
    with pytest.raises(ValueError, match=r"got \(1, 4\) and \(5, 4\)"):
        fid_from_features(np.zeros((1, 4)), np.zeros((5, 4)))


def test_inception_extractor_from_file(tmp_path):
    path = tmp_path / "inception.pth"
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), path)
    extractor = InceptionExtractor(weights=path)
    features, logits = extractor(torch.rand(2, 3, 64, 80))
    assert features.shape == (2, 2048) and logits.shape == (2, 1000)
    assert torch.isfinite(features).all() and torch.isfinite(logits).all()


def test_inception_extractor_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such Inception-v3 weights file"):
        InceptionExtractor(weights=tmp_path / "absent.pth")
    foreign = tmp_path / "foreign.pth"
    torch.save({"conv.weight": torch.zeros(1)}, foreign)
    with pytest.raises(ValueError, match="not a torchvision inception_v3 state dict"):
        InceptionExtractor(weights=foreign)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable Inception-v3 weights file"):
        InceptionExtractor(weights=junk)


def test_frechet_distance_equals_the_matrix_square_root_route():
    import scipy.linalg

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(40, 8)), rng.normal(size=(40, 8)) * 1.5 + 0.3
    sigma1, sigma2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mu1, mu2 = a.mean(0), b.mean(0)
    reference = float(
        ((mu1 - mu2) ** 2).sum()
        + np.trace(sigma1)
        + np.trace(sigma2)
        - 2 * np.trace(np.real(scipy.linalg.sqrtm(sigma1 @ sigma2)))
    )
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(reference, rel=1e-9)
    assert fid_from_features(a, b) == pytest.approx(reference, rel=1e-9)


def test_fid_with_fewer_samples_than_dimensions_equals_the_covariance_route():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(12, 30)), rng.normal(size=(9, 30)) + 0.5  # singular covariances
    via_covariances = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert fid_from_features(a, b) == pytest.approx(via_covariances, rel=1e-8)


def test_inception_score_needs_splits_of_the_minimum_size():
    probs = np.full((19, 3), 1 / 3)
    with pytest.raises(ValueError, match="10 splits of at least 2 images needs 20 images, got 19"):
        inception_score(probs, splits=10, min_split_size=2)
    assert inception_score(probs[:10], splits=10)[0] == pytest.approx(1.0)
