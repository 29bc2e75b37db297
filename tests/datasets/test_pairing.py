import json

import pytest

from datasets.pairing import assign_masks, load_assignment, save_assignment


def test_every_mask_once_images_without_replacement():
    images = [f"img{i}.jpg" for i in range(10)]
    masks = [f"{i:05d}.png" for i in range(6)]
    pairs = assign_masks(images, masks, seed=0)
    assert [mask for _, mask in pairs] == masks
    assert len({image for image, _ in pairs}) == 6
    assert assign_masks(list(reversed(images)), masks, seed=0) == pairs
    assert assign_masks(images, masks, seed=1) != pairs


def test_fewer_images_than_masks_reuses_them_in_rounds():
    pairs = assign_masks(["a", "b", "c"], [str(i) for i in range(7)], seed=2)
    counts = {name: sum(image == name for image, _ in pairs) for name in "abc"}
    assert sorted(counts.values()) == [2, 2, 3]
    assert len({image for image, _ in pairs[:3]}) == 3 and len({image for image, _ in pairs[3:6]}) == 3


def test_duplicates_and_empty_lists_are_refused():
    with pytest.raises(ValueError, match="images 'a' is listed twice"):
        assign_masks(["a", "a"], ["m"], seed=0)
    with pytest.raises(ValueError, match="no masks given"):
        assign_masks(["a"], [], seed=0)


def test_assignment_round_trip_and_bad_files(tmp_path):
    pairs = assign_masks(["x.jpg", "y.jpg"], ["0.png", "1.png"], seed=5)
    save_assignment(tmp_path / "pairs.json", pairs, meta={"seed": 5, "images": "folder:photos"})
    assert load_assignment(tmp_path / "pairs.json") == (pairs, {"seed": 5, "images": "folder:photos"})
    (tmp_path / "bad.json").write_text(json.dumps({"format": 1, "pairs": [["only-one"]]}))
    with pytest.raises(ValueError, match="list of \\[image, mask\\] name pairs"):
        load_assignment(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text("[")
    with pytest.raises(ValueError, match="not an assignment file"):
        load_assignment(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="no such assignment file"):
        load_assignment(tmp_path / "absent.json")
