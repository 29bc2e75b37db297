import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pconv.core.masks import read_mask_png
from pconv.maskgen.raw.pool import RawPool
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.training import TrainingMasks, export_training_masks

SMALL = {"size": 64, "augment": AugmentConfig(dilation=(1, 6))}


def test_items_are_float_masks_with_one_for_valid(raw_pool):
    masks = TrainingMasks(raw_pool, **SMALL)
    mask = masks[0]
    assert mask.dtype == torch.float32 and mask.shape == (1, 64, 64)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert len(masks) == len(RawPool(raw_pool).records_in("train"))
    with pytest.raises(IndexError):
        masks[len(masks)]


def test_items_depend_on_seed_epoch_and_index_only(raw_pool):
    masks = TrainingMasks(raw_pool, length=8, **SMALL)
    serial = torch.stack([masks[index] for index in range(8)])
    loader = DataLoader(masks, batch_size=3, num_workers=2)
    torch.testing.assert_close(torch.cat(list(loader)), serial)
    masks.set_epoch(1)
    assert not torch.equal(masks[0], serial[0])
    masks.set_epoch(0)
    torch.testing.assert_close(masks[5], serial[5])
    assert not torch.equal(TrainingMasks(raw_pool, seed=1, length=8, **SMALL)[0], serial[0])


def test_training_masks_come_from_the_training_split_only(raw_pool, tmp_path):
    out = export_training_masks(raw_pool, tmp_path / "train", count=6, workers=1, **SMALL)
    pool = RawPool(raw_pool)
    train_ids = {record.id for record in pool.records_in("train")}
    with h5py.File(out / "masks.h5", "r") as h5:
        assert set(h5["raw_id"][()].tolist()) <= train_ids
        stored = h5["masks"][()]
        assert h5.attrs["count"] == 6 and h5.attrs["kind"] == "training set"
    dataset = TrainingMasks(raw_pool, length=6, **SMALL)
    for index in range(6):
        hole = read_mask_png(out / "masks" / f"{index:05d}.png")
        np.testing.assert_array_equal(hole, dataset[index][0].numpy() == 0)
        np.testing.assert_array_equal(stored[index] == 255, hole)


def test_a_pool_without_training_masks_is_refused(make_raw_pool):
    pool = make_raw_pool("testonly", sources=1)  # source 0 is a training source: make it test
    (pool / "split.json").write_text('{"sources": {"clip0.mp4": "test"}}')
    with pytest.raises(ValueError, match="the train split of the pool holds no masks"):
        TrainingMasks(pool)
