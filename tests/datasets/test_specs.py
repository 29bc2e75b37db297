from pathlib import Path

import pytest

from pconv import datasets


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("places2:/data/places365:val", ("places2", Path("/data/places365"), "val")),
        ("places2:/data/places365", ("places2", Path("/data/places365"), "val")),
        ("imagenet:/d/ilsvrc:train", ("imagenet", Path("/d/ilsvrc"), "train")),
        ("celeba-hq:faces", ("celeba-hq", Path("faces"), "test")),
        ("folder:photos", ("folder", Path("photos"), "all")),
        ("folder:C:/photos:test", ("folder", Path("C:/photos"), "test")),
    ],
)
def test_parse_spec(spec, expected):
    name, root, split = datasets.parse_spec(spec)
    assert (name, root, split) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("places2", "is not NAME:ROOT\\[:SPLIT\\]"),
        ("coco:/data", "unknown dataset 'coco'; choose one of imagenet, places2, celeba-hq, folder"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        datasets.parse_spec(spec)


def test_image_files_dispatches_by_name(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    assert datasets.image_files("folder", tmp_path, split="all") == [tmp_path / "a.png"]
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.image_files("mnist", tmp_path, split="all")
