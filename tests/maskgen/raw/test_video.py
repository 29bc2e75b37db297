from pathlib import Path

import cv2
import numpy as np
import pytest

from pconv.maskgen.raw.video import pair_starts, probe_source, read_pairs, resize_longer_side


def write_frames(folder: Path, count: int, size=(40, 30)) -> list[np.ndarray]:
    """Frames whose pixels say their index, written as PNGs (lossless)."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = [np.full((size[1], size[0], 3), 10 * index, np.uint8) for index in range(count)]
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{index:04d}.png"), frame)
    return frames


def write_video(path: Path, count: int, size=(64, 48)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for index in range(count):
        writer.write(np.full((size[1], size[0], 3), 20 * index, np.uint8))
    writer.release()
    return path


def test_pair_starts_follow_step_and_limit():
    assert pair_starts(5) == [0, 1, 2, 3]
    assert pair_starts(7, step=2) == [0, 2, 4]
    assert pair_starts(7, step=2, max_pairs=2) == [0, 2]
    assert pair_starts(1) == []
    with pytest.raises(ValueError, match="step"):
        pair_starts(5, step=0)


def test_resize_keeps_aspect_and_leaves_small_frames():
    image = np.zeros((300, 400, 3), np.uint8)
    assert resize_longer_side(image, 100).shape == (75, 100, 3)
    assert resize_longer_side(image, 500) is image
    assert resize_longer_side(image, None) is image


def test_frame_folder_pairs(tmp_path):
    write_frames(tmp_path / "clip", 6)
    (tmp_path / "clip" / "notes.txt").write_text("not a frame")
    info = probe_source(tmp_path / "clip", step=2, max_side=20)
    assert info.starts == (0, 2) and (info.height, info.width) == (15, 20)
    pairs = list(read_pairs(tmp_path / "clip", info.starts, step=2, max_side=20))
    assert [(t, first[0, 0, 0], second[0, 0, 0]) for t, first, second in pairs] == [(0, 0, 20), (2, 20, 40)]
    assert pairs[0][1].shape == (15, 20, 3)


def test_video_pairs_are_decoded_in_order(tmp_path):
    video = write_video(tmp_path / "clip.avi", 6)
    info = probe_source(video, max_pairs=3)
    assert info.starts == (0, 1, 2) and (info.height, info.width) == (48, 64)
    pairs = list(read_pairs(video, [1, 2], step=2))
    levels = [(t, round(float(one.mean()) / 20), round(float(two.mean()) / 20)) for t, one, two in pairs]
    assert levels == [(1, 1, 3), (2, 2, 4)]


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda root: (
                (root / "bad.mp4").write_bytes(np.random.default_rng(0).bytes(5000)) and root / "bad.mp4"
            ),
            "bad.mp4: cannot be opened as a video (unknown format or corrupt file)",
        ),
        (
            lambda root: (root / "empty").mkdir() or root / "empty",
            "empty: a frame folder needs at least two frames, found 0",
        ),
        (
            lambda root: write_video(root / "one.avi", 1),
            "one.avi: fewer than two frames to pair (found 1, step 1)",
        ),
        (lambda root: root / "missing.mp4", "missing.mp4: no such video file or frame folder"),
    ],
)
def test_bad_sources_name_the_file(tmp_path, make, message):
    source = make(tmp_path)
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        probe_source(source)
    assert str(error.value) == f"{tmp_path}/{message}"


def test_unreadable_frame_is_named(tmp_path):
    write_frames(tmp_path / "clip", 3)
    (tmp_path / "clip" / "0001.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="0001.png: not a readable image"):
        list(read_pairs(tmp_path / "clip", [0]))
