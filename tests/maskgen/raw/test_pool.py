import json
from dataclasses import replace

import numpy as np
import pytest

from pconv.core.masks import encode_mask_png
from pconv.maskgen.raw.pool import (
    PoolWriter,
    RawMaskRecord,
    RawPool,
    SkippedPair,
    finished_ids,
    raw_mask_path,
)


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


def _record(mask_id, hole, **fields):
    return RawMaskRecord(
        id=mask_id,
        file=raw_mask_path(mask_id),
        source="a.mp4",
        t=mask_id,
        step=1,
        method="dis",
        hole_ratio=float(hole.mean()),
        height=hole.shape[0],
        width=hole.shape[1],
        params={"step": 1, "occlusion": {"method": "dis", "scales": (1, 2)}},
        version="1.0",
        **fields,
    )


def test_the_writer_lists_masks_and_skips_that_the_pool_reads_back(tmp_path):
    hole = np.zeros((6, 8), bool)
    hole[1:3, 2:5] = True
    writer = PoolWriter(tmp_path)
    writer.add_mask(_record(3, hole), encode_mask_png(hole))
    writer.add_skipped(SkippedPair(1, "a.mp4", 1, "static", 0.0001))
    writer.add_skipped(SkippedPair(2, "b.mp4", 0, "bad", error="b.mp4: corrupt frame"))
    writer.add_mask(_record(0, hole), encode_mask_png(hole))
    manifest = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert manifest[0] == json.dumps(_record(3, hole).to_json(), sort_keys=True)  # the bytes appended
    assert manifest[0].startswith('{"file": "masks/000003.png", "height": 6, "hole_ratio": 0.125, "id": 3,')
    pool = RawPool(tmp_path)
    assert [record.id for record in pool.records] == [0, 3]
    assert replace(pool.records[1], params={}) == replace(_record(3, hole), params={})
    assert pool.records[1].params["occlusion"]["scales"] == [1, 2]  # a tuple comes back as JSON's list
    assert (pool.load_hole(pool.records[0]) == hole).all()
    assert [json.loads(line) for line in (tmp_path / "skipped.jsonl").read_text().splitlines()] == [
        {"id": 1, "source": "a.mp4", "t": 1, "reason": "static", "hole_ratio": 0.0001},
        {"id": 2, "source": "b.mp4", "t": 0, "reason": "bad", "error": "b.mp4: corrupt frame"},
    ]


def test_tidy_sorts_the_lists_drops_a_cut_line_and_says_what_is_done(tmp_path):
    hole = np.ones((2, 2), bool)
    writer = PoolWriter(tmp_path)
    for mask_id in (5, 2):
        writer.add_mask(_record(mask_id, hole), encode_mask_png(hole))
    writer.add_skipped(SkippedPair(4, "a.mp4", 4, "cut", 0.9))
    with open(tmp_path / "manifest.jsonl", "a") as handle:
        handle.write('{"id": 9, "fi')  # an interrupted append
    assert writer.tidy() == {2, 4, 5}
    manifest, skipped = finished_ids(tmp_path)
    assert [line["id"] for line in manifest] == [2, 5] and [line["id"] for line in skipped] == [4]
    assert (tmp_path / "manifest.jsonl").read_text().endswith("}\n")
