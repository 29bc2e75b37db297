import json

import pytest

from pconv.datasets.celeba_hq import SPLIT_NAME, image_files, make_split, read_split, write_split


def test_split_is_deterministic_disjoint_and_ninety_ten():
    names = [f"{i:05d}.jpg" for i in range(30000)]
    split = make_split(names, seed=0)
    assert len(split["train"]) == 27000 and len(split["test"]) == 3000
    assert set(split["train"]).isdisjoint(split["test"])
    assert set(split["train"]) | set(split["test"]) == set(names)
    assert make_split(list(reversed(names)), seed=0) == split  # listing order does not matter
    assert make_split(names, seed=1)["test"] != split["test"]


def make_folder(root, count=20):
    root.mkdir(exist_ok=True)
    for i in range(count):
        (root / f"{i:05d}.jpg").write_bytes(b"")


def test_split_file_is_written_read_and_preferred(tmp_path):
    make_folder(tmp_path / "faces")
    written = write_split(tmp_path / "faces", tmp_path / "split.json", seed=4)
    assert read_split(tmp_path / "split.json") == written
    drawn = [p.name for p in image_files(tmp_path / "faces", split="test")]
    assert drawn == make_split([f"{i:05d}.jpg" for i in range(20)], seed=0)["test"] and len(drawn) == 2
    (tmp_path / "split.json").rename(tmp_path / "faces" / SPLIT_NAME)
    assert [p.name for p in image_files(tmp_path / "faces", split="test")] == written["test"]


def test_split_file_naming_absent_images_is_refused(tmp_path):
    make_folder(tmp_path)
    (tmp_path / SPLIT_NAME).write_text(json.dumps({"train": ["gone.jpg"], "test": []}))
    with pytest.raises(ValueError, match="1 file\\(s\\) of the train split are missing, e.g. gone.jpg"):
        image_files(tmp_path, split="train")
    (tmp_path / SPLIT_NAME).write_text("{}")
    with pytest.raises(ValueError, match="not a CelebA-HQ split file"):
        image_files(tmp_path, split="train")


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder \\(CelebA-HQ images\\)"):
        image_files(tmp_path / "nowhere", split="train")


def test_split_command_writes_the_file_train_and_eval_then_use(tmp_path):
    from click.testing import CliRunner

    from pconv import cli

    make_folder(tmp_path / "faces")
    result = CliRunner().invoke(cli.main, ["data", "celeba-split", str(tmp_path / "faces"), "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"18 train and 2 test images (seed 7) -> {tmp_path / 'faces' / SPLIT_NAME} in "
    )
    chosen = json.loads((tmp_path / "faces" / SPLIT_NAME).read_text())["test"]
    assert chosen == make_split([f"{i:05d}.jpg" for i in range(20)], seed=7)["test"]
    assert [p.name for p in image_files(tmp_path / "faces", split="test")] == chosen  # not seed 0's draw
    missing = CliRunner().invoke(cli.main, ["data", "celeba-split", str(tmp_path / "none")])
    assert missing.exit_code == 1 and missing.output.startswith("Error: ") and "none" in missing.output
