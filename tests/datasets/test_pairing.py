import json

import numpy as np
import pytest
import torch
from PIL import Image

from pconv.datasets.images import BadImageError
from pconv.datasets.pairing import (
    StepBatchSampler,
    TrainingPairs,
    assign_masks,
    load_assignment,
    save_assignment,
)


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


class FakeMasks:
    """A MaskSource whose mask i at epoch e has (e * 10 + i) hole pixels in its first row."""

    def __init__(self, size=8, count=5):
        self.size, self.count, self.epoch = size, count, 0

    def __len__(self):
        return self.count

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __getitem__(self, index):
        mask = torch.ones(1, self.size, self.size)
        mask.view(-1)[: self.epoch * 10 + index] = 0
        return mask


def test_step_batches_resume_where_they_stopped_and_split_ranks():
    def keys(rank, world, start, stop):
        sampler = StepBatchSampler(
            7, batch_size=3, seed=1, rank=rank, world_size=world, start_step=start, stop_step=stop
        )
        batches = list(sampler)
        assert len(batches) == len(sampler) == stop - start
        return [key for batch in batches for key in batch]

    assert keys(0, 1, 0, 5)[6:] == keys(0, 1, 2, 5)  # resuming at step 2 reads the same stream
    first_epoch = [index for index, _ in keys(0, 1, 0, 5)[:7]]
    assert sorted(first_epoch) == list(range(7))  # one epoch: every photo once
    rank0, rank1 = keys(0, 2, 0, 4), keys(1, 2, 0, 4)
    assert {i for i, _ in rank0[:4]} | {i for i, _ in rank1[:4]} == set(range(7))
    samples = [sample for _, sample in rank0 + rank1]
    assert sorted(samples) == list(range(len(samples)))  # every draw of the job numbered once


def write_photos(folder, count, size=(12, 10)):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return sorted(folder.glob("*.png"))


def test_training_pairs_are_functions_of_their_key(tmp_path):
    photos = write_photos(tmp_path, 3)
    pairs = TrainingPairs(photos, FakeMasks(), size=8, seed=4)
    item = pairs[(1, 12)]
    assert item["image"].shape == (3, 8, 8) and item["mask"].shape == (1, 8, 8) and item["skipped"] == 0
    again = TrainingPairs(photos, FakeMasks(), size=8, seed=4)[(1, 12)]
    assert torch.equal(item["image"], again["image"]) and torch.equal(item["mask"], again["mask"])
    holes = {int((pairs[(0, sample)]["mask"] == 0).sum()) for sample in range(10)}
    assert holes == {0, 1, 2, 3, 4, 10, 11, 12, 13, 14}  # two mask epochs, each a permutation of 5 masks


def test_bad_photos_are_skipped_and_counted_or_refused(tmp_path):
    photos = write_photos(tmp_path, 2)
    Image.new("L", (12, 10)).save(tmp_path / "0.png")  # a grey photo
    item = TrainingPairs(photos, FakeMasks(), size=8, seed=0)[(0, 0)]
    assert item["skipped"] == 1
    with pytest.raises(BadImageError, match="0.png: a grey image"):
        TrainingPairs(photos, FakeMasks(), size=8, seed=0, strict=True)[(0, 0)]
    Image.new("CMYK", (12, 10)).save(tmp_path / "1.png", format="TIFF")
    with pytest.raises(ValueError, match="none of the 2 training images could be read"):
        TrainingPairs(photos, FakeMasks(), size=8, seed=0)[(0, 0)]


def test_oversized_photos_are_skipped_like_bad_ones(tmp_path, monkeypatch):
    photos = write_photos(tmp_path, 2)
    Image.new("RGB", (40, 30)).save(tmp_path / "0.png")
    monkeypatch.setenv("PCONV_MAX_PIXELS", "1000")  # 1200 pixels: over; the 12x10 photo: under
    assert TrainingPairs(photos, FakeMasks(), size=8, seed=0)[(0, 0)]["skipped"] == 1
    with pytest.raises(BadImageError, match="0.png: 40x30 is 1,200 pixels, above the limit of 1,000"):
        TrainingPairs(photos, FakeMasks(), size=8, seed=0, strict=True)[(0, 0)]
