import json

import pytest

from pconv.core.files import append_jsonl
from pconv.maskgen.raw.pool import RawPool
from pconv.maskgen.raw.split import split_pool, split_sources


def fake_pool(root, sources):
    for number, source in enumerate(sources):
        append_jsonl(
            root / "manifest.jsonl",
            {
                "id": number,
                "file": f"masks/{number:06d}.png",
                "source": source,
                "t": number,
                "hole_ratio": 0.1,
                "height": 4,
                "width": 4,
            },
        )


@pytest.mark.parametrize(
    "count, fraction, tests", [(10, 0.3, 3), (2, 0.3, 1), (2, 0.9, 1), (7, 0.5, 4), (3, 0.1, 1), (1, 0.3, 1)]
)
def test_rounding_and_both_sides_non_empty(count, fraction, tests):
    sides = split_sources([f"v{index}.mp4" for index in range(count)], test_fraction=fraction, seed=0)
    assert list(sides.values()).count("test") == tests and len(sides) == count


def test_same_seed_same_split_other_seed_differs():
    names = [f"v{index}.mp4" for index in range(20)]
    first = split_sources(names, test_fraction=0.3, seed=1)
    assert first == split_sources(names[::-1], test_fraction=0.3, seed=1)
    assert first != split_sources(names, test_fraction=0.3, seed=2)


def test_split_pool_keeps_whole_sources_apart(tmp_path):
    fake_pool(tmp_path, ["a.mp4", "a.mp4", "b.mp4", "c.mp4", "c.mp4", "d.mp4"])
    sides = split_pool(tmp_path, test_fraction=0.5, seed=3)
    document = json.loads((tmp_path / "split.json").read_text())
    assert document["sources"] == sides and document["seed"] == 3 and document["test_fraction"] == 0.5
    assert list(sides.values()).count("test") == 2
    pool = RawPool(tmp_path)
    train, test = pool.records_in("train"), pool.records_in("test")
    names = ["a.mp4", "a.mp4", "b.mp4", "c.mp4", "c.mp4", "d.mp4"]
    assert [r.source for r in test] == [name for name in names if sides[name] == "test"]
    assert [r.source for r in train] == [name for name in names if sides[name] == "train"]
    assert document["masks"] == {"train": len(train), "test": len(test)}


def test_bad_fraction(tmp_path):
    fake_pool(tmp_path, ["a.mp4"])
    with pytest.raises(ValueError, match="test fraction must be between 0 and 1"):
        split_pool(tmp_path, test_fraction=1.0)
