import json

import numpy as np
import pytest

from pconv.core.files import sha256_file
from pconv.core.masks import read_mask_png
from pconv.maskgen.raw.synth import Layer, ground_truth_path, occlusion_truth, render_frame, render_scenes


def translation(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0, x], [0, 1, y], [0, 0, 1]])


def square_scene(shift: int) -> list[Layer]:
    """A static background and a 10×10 square at x 10..19, y 10..19 moving ``shift`` px right."""
    background = Layer(
        texture=np.full((30, 40, 3), 50, np.uint8),
        alpha=np.ones((30, 40), np.float32),
        poses=np.stack([np.eye(3)] * 2),
        kind="background",
    )
    square = Layer(
        texture=np.full((10, 10, 3), 200, np.uint8),
        alpha=np.ones((10, 10), np.float32),
        poses=np.stack([translation(10, 10), translation(10 + shift, 10)]),
        kind="polygon",
    )
    return [background, square]


def test_ground_truth_of_a_moving_square_is_the_covered_strip():
    hole = occlusion_truth(square_scene(4), 0, (40, 30))
    expected = np.zeros((30, 40), bool)
    expected[10:20, 20:24] = True
    np.testing.assert_array_equal(hole, expected)
    frame = render_frame(square_scene(4), 1, (40, 30))
    assert frame[15, 16, 0] == 200 and frame[15, 12, 0] == 50


def test_ground_truth_marks_points_leaving_the_frame():
    layers = square_scene(0)
    moved = Layer(
        texture=layers[0].texture,
        alpha=layers[0].alpha,
        kind="background",
        poses=np.stack([np.eye(3), translation(3, 0)]),
    )  # the camera pans: content moves right
    hole = occlusion_truth([moved, layers[1]], 0, (40, 30))
    assert hole[:, 37:].all() and not hole[:, :7].any() and not hole[:10, 7:10].any()
    assert hole[10:20, 7:10].all()  # background just left of the square slides under it


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    return root, render_scenes(root, scenes=2, frames=3, size=(96, 72), seed=5)


def test_scenes_layout_and_content(scenes):
    root, folders = scenes
    assert folders == [root / "scene_000" / "frames", root / "scene_001" / "frames"]
    assert sorted(path.name for path in folders[0].iterdir()) == ["000000.png", "000001.png", "000002.png"]
    truth = read_mask_png(ground_truth_path(folders[0], 1))
    assert truth.shape == (72, 96)
    info = json.loads((root / "scene_000" / "scene.json").read_text())
    assert info["seed"] == 5 and info["layers"][0] == "background" and len(info["layers"]) >= 4


def test_same_seed_same_bytes_and_resume(scenes, tmp_path):
    root, folders = scenes
    again = render_scenes(tmp_path, scenes=2, frames=3, size=(96, 72), seed=5, workers=1)  # fixture: 2
    files = sorted(path.relative_to(root) for path in root.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    assert all(sha256_file(root / name) == sha256_file(tmp_path / name) for name in files)
    (tmp_path / "scene_001" / "scene.json").unlink()
    (again[1] / "000002.png").unlink()
    render_scenes(tmp_path, scenes=2, frames=3, size=(96, 72), seed=5, workers=1)
    assert sha256_file(again[1] / "000002.png") == sha256_file(folders[1] / "000002.png")
    other = render_scenes(tmp_path / "other", scenes=1, frames=3, size=(96, 72), seed=6)
    assert sha256_file(other[0] / "000000.png") != sha256_file(folders[0] / "000000.png")


def test_bad_scene_requests(tmp_path):
    with pytest.raises(ValueError, match="two frames"):
        render_scenes(tmp_path, scenes=1, frames=1)
    with pytest.raises(ValueError, match="at least 16x16"):
        render_scenes(tmp_path, scenes=1, frames=2, size=(8, 8))


def test_a_shorter_rerun_leaves_no_stale_frames(tmp_path):
    (folder,) = render_scenes(tmp_path, scenes=1, frames=5, size=(96, 72), seed=5, workers=1)
    render_scenes(tmp_path, scenes=1, frames=3, size=(96, 72), seed=5, workers=1)
    assert sorted(path.name for path in folder.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    truth = sorted(path.name for path in (folder.parent / "occlusion").iterdir())
    assert truth == ["000000.png", "000001.png"]


def test_the_layer_range_bounds_the_foreground_layers_and_is_recorded(tmp_path):
    render_scenes(tmp_path, scenes=3, frames=2, size=(64, 48), seed=1, layers=(2, 3), truth=False, workers=1)
    for number in range(3):
        info = json.loads((tmp_path / f"scene_{number:03d}" / "scene.json").read_text())
        assert info["layer_range"] == [2, 3]
        assert 2 <= len(info["layers"]) - 1 <= 3  # the background comes first
    with pytest.raises(ValueError, match="layers must be a range"):
        render_scenes(tmp_path / "bad", scenes=1, frames=2, size=(64, 48), layers=(5, 4))


def test_another_layer_range_renders_the_scene_again(tmp_path):
    (folder,) = render_scenes(tmp_path, scenes=1, frames=2, size=(64, 48), seed=2, layers=(1, 1), workers=1)
    first = (folder / "000000.png").read_bytes()
    render_scenes(tmp_path, scenes=1, frames=2, size=(64, 48), seed=2, layers=(9, 9), workers=1)
    info = json.loads((folder.parent / "scene.json").read_text())
    assert info["layer_range"] == [9, 9] and len(info["layers"]) == 10
    assert (folder / "000000.png").read_bytes() != first


def test_a_layer_is_drawn_within_the_corners_of_its_drawn_part():
    alpha = np.zeros((40, 50), np.float32)
    alpha[10:21, 5:9] = 0.3  # rows 10-20, columns 5-8
    layer = Layer(texture=np.zeros((40, 50, 3), np.uint8), alpha=alpha, poses=np.eye(3)[None], kind="stroke")
    assert layer.corners[:, :2].min(axis=0).tolist() == [4, 9]  # one px to spare for bilinear sampling
    assert layer.corners[:, :2].max(axis=0).tolist() == [10, 22]
    background = Layer(
        texture=np.full((120, 120, 3), 50, np.uint8),
        alpha=np.ones((120, 120), np.float32),
        poses=np.eye(3)[None],
        kind="background",
    )
    bright = np.full((40, 50, 3), 250, np.uint8)
    layer = Layer(texture=bright, alpha=alpha, poses=np.eye(3)[None], kind="stroke")
    frame = render_frame([background, layer], 0, (60, 40))
    changed = np.argwhere(frame[..., 0] != 50)
    assert changed.min(axis=0).tolist() == [10, 5] and changed.max(axis=0).tolist() == [20, 8]
    nothing = np.zeros((40, 50), np.float32)
    empty = Layer(texture=bright, alpha=nothing, poses=np.eye(3)[None], kind="stroke")
    assert empty.corners[:, :2].max(axis=0).tolist() == [51, 41]  # nothing drawn: the whole sprite
