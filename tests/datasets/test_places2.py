import pytest

from pconv.datasets.places2 import image_files


def make_places(root, folder="data_256"):
    (root / "places365_train_standard.txt").write_text("/b/bar/00000001.jpg 1\n/a/abbey/00000002.jpg 0\n")
    (root / "places365_val.txt").write_text("Places365_val_00000001.jpg 165\n")
    for name in ("b/bar/00000001.jpg", "a/abbey/00000002.jpg"):
        (root / folder / name).parent.mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_bytes(b"")
    (root / "val_256").mkdir()
    (root / "val_256" / "Places365_val_00000001.jpg").write_bytes(b"")


def test_official_lists_resolve_to_sorted_files(tmp_path):
    make_places(tmp_path)
    train = image_files(tmp_path, split="train")
    assert [p.relative_to(tmp_path).as_posix() for p in train] == [
        "data_256/a/abbey/00000002.jpg",
        "data_256/b/bar/00000001.jpg",
    ]
    assert image_files(tmp_path, split="val") == [tmp_path / "val_256" / "Places365_val_00000001.jpg"]


def test_large_images_are_preferred(tmp_path):
    make_places(tmp_path)
    (tmp_path / "x").mkdir()
    make_places(tmp_path / "x")  # a second tree only to borrow its files
    (tmp_path / "x" / "data_256").rename(tmp_path / "data_large")
    assert image_files(tmp_path, split="train")[0].parent.parent.parent.name == "data_large"


@pytest.mark.parametrize(
    "breakage, error, message",
    [
        (lambda root: (root / "places365_val.txt").unlink(), FileNotFoundError, "no places365_val.txt"),
        (
            lambda root: (root / "val_256" / "Places365_val_00000001.jpg").unlink(),
            FileNotFoundError,
            "listed in places365_val.txt but missing",
        ),
        (
            lambda root: (root / "val_256").rename(root / "val_small"),
            FileNotFoundError,
            "neither val_large nor val_256 exists",
        ),
        (lambda root: (root / "places365_val.txt").write_text("\n"), ValueError, "file list is empty"),
        (
            lambda root: (root / "places365_val.txt").write_text("../../etc/passwd 1\n"),
            ValueError,
            "refusing the path '../../etc/passwd'",
        ),
    ],
)
def test_malformed_layouts_give_one_line_errors(tmp_path, breakage, error, message):
    make_places(tmp_path)
    breakage(tmp_path)
    with pytest.raises(error, match=message):
        image_files(tmp_path, split="val")


def test_challenge_split_uses_its_own_list(tmp_path):
    make_places(tmp_path)
    with pytest.raises(FileNotFoundError, match="no places365_train_challenge.txt"):
        image_files(tmp_path, split="train-challenge")
