import pytest
from PIL import Image

from pconv.datasets.folder import image_files


def test_all_and_named_splits(tmp_path):
    for name in ("train/a.png", "train/b.png", "test/c.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    assert [path.name for path in image_files(tmp_path)] == ["c.png", "a.png", "b.png"]
    assert [path.name for path in image_files(tmp_path, split="train")] == ["a.png", "b.png"]
    with pytest.raises(FileNotFoundError, match=r"val: no such folder"):
        image_files(tmp_path, split="val")
    with pytest.raises(ValueError, match="folder has no split 'dev'"):
        image_files(tmp_path, split="dev")


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path}: no image files found"):
        image_files(tmp_path)
