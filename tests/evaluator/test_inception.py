import numpy as np
import pytest
import torch

from pconv.evaluator.frechet import fid_from_features, frechet_distance
from pconv.evaluator.inception import INCEPTION, InceptionExtractor
from pconv.evaluator.weights import resolve_weights


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


def test_fid_bad_input():
    with pytest.raises(ValueError, match=r"got \(1, 4\) and \(5, 4\)"):
        fid_from_features(np.zeros((1, 4)), np.zeros((5, 4)))


def test_fid_equals_torch_fidelity_on_both_routes():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(4)
    for n in (40, 9):  # more samples than dimensions, and fewer (singular covariances)
        a = rng.normal(size=(n, 8)).astype(np.float32)
        b = (rng.normal(size=(n, 8)) * 1.5 + 0.3).astype(np.float32)
        reference = fid_statistics_to_metric(
            fid_features_to_statistics(torch.from_numpy(a)),
            fid_features_to_statistics(torch.from_numpy(b)),
            verbose=False,
        )["frechet_inception_distance"]
        assert fid_from_features(a, b) == pytest.approx(reference, rel=1e-6)  # its means are float32


def test_inception_extractor_from_file(inception_file):
    extractor = InceptionExtractor(weights=inception_file)
    features, logits = extractor(torch.rand(2, 3, 64, 80))
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.isfinite(features).all() and torch.isfinite(logits).all()
    assert features.std(0).mean() > 0  # the images give different features


def test_inception_extractor_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such Inception-v3 weights file"):
        InceptionExtractor(weights=tmp_path / "absent.pth")
    foreign = tmp_path / "foreign.pth"
    torch.save({"conv.weight": torch.zeros(1)}, foreign)
    with pytest.raises(ValueError, match=r"foreign.pth: not torch-fidelity's Inception-v3 weights"):
        InceptionExtractor(weights=foreign)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable Inception-v3 weights file"):
        InceptionExtractor(weights=junk)


def test_weights_come_from_the_path_the_cache_or_an_announced_download(tmp_path, monkeypatch):
    source_file = tmp_path / "served.pth"
    source_file.write_bytes(b"x" * 3 * 2**20)
    assert resolve_weights(INCEPTION, None) is None  # the test cache is empty and nothing downloads
    with pytest.raises(FileNotFoundError, match="absent.pth: no such torch-fidelity Inception-v3 weights"):
        resolve_weights(INCEPTION, tmp_path / "absent.pth")
    assert resolve_weights(INCEPTION, source_file) == source_file
    served = type(INCEPTION)(INCEPTION.what, source_file.as_uri())
    lines: list[str] = []
    path = resolve_weights(served, None, download=True, echo=lines.append)
    assert path == served.cached and path.read_bytes() == source_file.read_bytes()
    assert len(lines) == 1 and "served.pth (3.0 MiB)" in lines[0]
    assert not list(path.parent.glob(".*tmp*"))
    assert resolve_weights(served, None, download=True, echo=lines.append) == path and len(lines) == 1
