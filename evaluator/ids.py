"""P-IDS and U-IDS, the Inception discriminative scores of Zhao et al. 2021 (CoModGAN; MAT reports them too).

A linear SVM learns to tell the real images' Inception pool features from the fakes' (here: the
composites of the same pairs). U-IDS is its error rate on those same features (0.5 when it cannot tell
them apart); P-IDS is the share of pairs whose fake gets a higher decision value ("more real") than its
own real image. Settings are those of CoModGAN's reference code
(``metrics/inception_discriminative_score.py``):
``sklearn.svm.LinearSVC(dual=False)`` (primal solver: there are more samples than a dual problem copes
with quickly, and it needs no iteration cap to converge), squared hinge loss, L2 penalty, C = 1, real
labelled 1 and fake 0, fitted and scored on all features with no split. The primal solver is
deterministic, so the scores need no seed.

Identical real and fake sets: every decision value of a fake equals its real's, so P-IDS = 0 (the
comparison is strict), and each feature is once labelled real and once fake with the same prediction, so
exactly half the labels are wrong: U-IDS = 0.5.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SVM_SETTINGS", "discriminative_scores"]

SVM_SETTINGS = {"class": "sklearn.svm.LinearSVC", "dual": False, "C": 1.0, "loss": "squared_hinge"}


def discriminative_scores(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    """``(P-IDS, U-IDS)`` of paired feature sets ``real[i]``, ``fake[i]`` ``(N, D)``, N >= 1."""
    from sklearn.svm import LinearSVC  # scikit-learn loads only when these scores are computed

    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if real.shape != fake.shape or real.ndim != 2 or len(real) == 0:
        raise ValueError(
            f"P/U-IDS need two paired (N >= 1, D) feature sets, got {real.shape} and {fake.shape}"
        )
    inputs = np.concatenate([real, fake])
    labels = np.concatenate([np.ones(len(real), np.int64), np.zeros(len(fake), np.int64)])
    svm = LinearSVC(dual=SVM_SETTINGS["dual"], C=SVM_SETTINGS["C"], loss=SVM_SETTINGS["loss"])
    svm.fit(inputs, labels)
    uids = 1.0 - float(svm.score(inputs, labels))
    pids = float(np.mean(svm.decision_function(fake) > svm.decision_function(real)))
    return pids, uids
