"""The Fréchet distance of two Gaussians fitted to feature sets: FID's arithmetic (Heusel et al. 2017).

torch-fidelity computes the trace of (Σ1 Σ2)^½ from the eigenvalues of the non-symmetric product; here it
comes from symmetric decompositions, exact also when the covariances are singular (groups of fewer than
2048 pairs) and seconds instead of a minute at 2048-d. Tests check both give the same FID to 1e-4.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fid_from_features", "frechet_distance"]


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((Σ1 Σ2)^½) of two symmetric positive semi-definite matrices.

    Σ1 Σ2 has the eigenvalues of the symmetric PSD matrix Σ1^½ Σ2 Σ1^½, so two symmetric
    eigendecompositions give the trace exactly: at 2048 dimensions seconds instead of the minute a general
    matrix square root (``scipy.linalg.sqrtm``) takes, and no ridge is needed when the product is singular.
    """
    values, vectors = np.linalg.eigh(sigma1)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(root @ sigma2 @ root), 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½), the Fréchet distance of two Gaussians (Heusel et al. 2017).

    ``sigma1``, ``sigma2``: covariance matrices (symmetric PSD); the trace of the root comes from
    :func:`_trace_sqrt_product`, exact where the reference code's ``sqrtm`` is approximate.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"Fréchet distance needs equal-sized means and covariances, got {mu1.shape}, "
            f"{mu2.shape}, {sigma1.shape}, {sigma2.shape}"
        )
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * _trace_sqrt_product(sigma1, sigma2))


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID of two feature sets ``(N, D)`` and ``(M, D)``: their means and sample covariances (ddof 1).

    Needs N, M >= 2. With fewer samples than dimensions (N < 2048 for Inception) the covariances are
    singular and FID is biased upwards; compare such values only at equal sample counts. In that case the
    trace of the root is the nuclear norm of A·Bᵀ / √((N−1)(M−1)) (A, B the centred features: the
    singular values of A·Bᵀ are the square roots of the eigenvalues of AᵀA·BᵀB), exact and cheap.
    """
    a, b = np.asarray(features1, dtype=np.float64), np.asarray(features2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"FID needs two (N >= 2, D) feature sets of equal D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) >= a.shape[1]:
        return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    mean_a, mean_b = a.mean(0), b.mean(0)
    centred_a, centred_b = a - mean_a, b - mean_b
    scale = (len(a) - 1) * (len(b) - 1)
    root_trace = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum() / np.sqrt(scale)
    diff = mean_a - mean_b
    return float(
        diff @ diff
        + (centred_a**2).sum() / (len(a) - 1)
        + (centred_b**2).sum() / (len(b) - 1)
        - 2 * root_trace
    )
