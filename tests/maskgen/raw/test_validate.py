import numpy as np
import pytest

from pconv.maskgen.raw.synth import render_scenes
from pconv.maskgen.raw.validate import MethodScore, format_scores, score_counts, validate_methods


def test_scores_from_counts():
    predicted = np.array([[1, 1, 0, 0]], bool)
    truth = np.array([[1, 0, 1, 0]], bool)
    assert score_counts(predicted, truth) == (1, 1, 1)
    score = MethodScore("dis", 1, 1, 1, 1, 0.1)
    assert (score.precision, score.recall, score.f1, score.iou) == (0.5, 0.5, 0.5, 1 / 3)
    assert MethodScore("dis", 0, 0, 0, 0, 0.0).f1 == 0


def test_validate_scores_each_method(tmp_path):
    folders = render_scenes(tmp_path, scenes=1, frames=3, size=(192, 144), seed=0)
    scores = validate_methods(folders, methods=["dis", "farneback"], max_pairs=2)
    assert [score.method for score in scores] == ["dis", "farneback"]
    assert all(score.pairs == 2 and 0 <= score.f1 <= 1 and score.seconds_per_pair > 0 for score in scores)
    assert scores[0].true_positive > 0
    table = format_scores(scores).splitlines()
    assert table[0].split() == ["method", "pairs", "precision", "recall", "F1", "IoU", "s/pair"]
    assert table[1].startswith("dis ")


def test_validate_needs_ground_truth(tmp_path):
    folders = render_scenes(tmp_path, scenes=1, frames=2, size=(64, 48), seed=3)
    (folders[0].parent / "occlusion" / "000000.png").unlink()
    with pytest.raises(FileNotFoundError, match="000000.png: no ground truth"):
        validate_methods(folders, methods=["dis"])
