import json

import numpy as np
import pytest
from pconv.maskgen.raw.pool import RawPool


@pytest.fixture
def make_pool(raw_mask_writer):
    """``make_pool(root)``: two one-mask sources, a.mp4 and b.mp4, with 2 and 4 hole pixels of 48."""

    def make(root, sources=("a.mp4", "b.mp4")):
        for number, source in enumerate(sources):
            hole = np.zeros((6, 8), bool)
            hole[:2, : number + 1] = True
            raw_mask_writer(root, number, hole, source=source, t=0)

    return make


def test_pool_reads_records_masks_and_split(tmp_path, make_pool):
    make_pool(tmp_path)
    (tmp_path / "split.json").write_text(json.dumps({"sources": {"a.mp4": "train", "b.mp4": "test"}}))
    pool = RawPool(tmp_path)
    assert [record.source for record in pool.records] == ["a.mp4", "b.mp4"]
    (test_record,) = pool.records_in("test")
    assert pool.load_hole(test_record).sum() == 4


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda root: None, "not a raw mask pool"),
        (lambda root: (root / "manifest.jsonl").write_text(""), "empty"),
    ],
)
def test_foreign_or_empty_folders_are_refused(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(ValueError, match=message):
        RawPool(tmp_path)


def test_pool_without_split_says_how_to_make_one(tmp_path, make_pool):
    make_pool(tmp_path)
    with pytest.raises(ValueError, match="pconv masks split"):
        RawPool(tmp_path).records_in("train")


@pytest.mark.parametrize(
    "split, message",
    [
        ({}, r"split\.json: 'sources' should be dict, found nothing$"),
        (
            {"sources": {"a.mp4": "val"}},
            r"split\.json: sources must be assigned to 'train' or 'test', not so: a\.mp4$",
        ),
    ],
)
def test_a_damaged_split_file_is_one_line_error(tmp_path, split, message, make_pool):
    make_pool(tmp_path)
    (tmp_path / "split.json").write_text(json.dumps(split))
    with pytest.raises(ValueError, match=message):
        RawPool(tmp_path)


def test_a_manifest_line_that_is_not_an_object_is_named(tmp_path, make_pool):
    make_pool(tmp_path)
    with open(tmp_path / "manifest.jsonl", "a") as handle:
        handle.write("5\n")
    with pytest.raises(ValueError, match=r"manifest\.jsonl:3: expected a JSON object, found int$"):
        RawPool(tmp_path)
