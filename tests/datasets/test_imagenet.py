import pytest

from pconv.datasets.imagenet import image_files


def touch(root, *names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_original_splits(tmp_path):
    touch(
        tmp_path,
        "train/n02/n02_1.JPEG",
        "train/n01/n01_2.JPEG",
        "train/n01/n01_1.JPEG",
        "val/ILSVRC2012_val_00000002.JPEG",
        "val/ILSVRC2012_val_00000001.JPEG",
        "test/ILSVRC2012_test_1.JPEG",
    )
    train = [p.name for p in image_files(tmp_path, split="train")]
    assert train == ["n01_1.JPEG", "n01_2.JPEG", "n02_1.JPEG"]
    assert image_files(tmp_path, split="val")[0].name == "ILSVRC2012_val_00000001.JPEG"
    assert len(image_files(tmp_path, split="test")) == 1


def test_malformed_folders_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'val'}: no such folder"):
        image_files(tmp_path, split="val")
    touch(tmp_path, "train/loose.JPEG")
    with pytest.raises(ValueError, match="one sub-folder per class"):
        image_files(tmp_path, split="train")
    (tmp_path / "test").mkdir()
    with pytest.raises(ValueError, match="no image files found"):
        image_files(tmp_path, split="test")
