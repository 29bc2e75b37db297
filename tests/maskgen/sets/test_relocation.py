"""Records hold paths relative to their own folder: the bytes never depend on how --out was spelled."""

import os
import shutil

import pconv.maskgen.sets.default_input
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench_format import read_benchmark
from pconv.maskgen.sets.default_input import default_input_benchmark

RECORDS = (
    "manifest.csv",
    "build.json",
    "masks.h5",
    "default-input/seed-0/raw/manifest.jsonl",
    "default-input/seed-0/raw/run.json",
    "default-input/seed-0/raw/split.json",
)


def _build(out):
    return default_input_benchmark(
        out, per_bin=2, size=64, border=4, workers=1, augment=AugmentConfig(dilation=(1, 16))
    )


def test_the_same_command_gives_the_same_bytes_however_out_is_spelled_and_wherever_it_lies(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(pconv.maskgen.sets.default_input, "DEFAULT_SCENES", 2)
    monkeypatch.setattr(pconv.maskgen.sets.default_input, "DEFAULT_FRAMES", 4)
    monkeypatch.setattr(pconv.maskgen.sets.default_input, "DEFAULT_SCENE_SIZE", (160, 120))
    monkeypatch.chdir(tmp_path)
    spellings = ["bench", "./spelled/", str(tmp_path / "deeper" / "absolute")]
    for spelling in spellings:
        _build(spelling)
    folders = [tmp_path / "bench", tmp_path / "spelled", tmp_path / "deeper" / "absolute"]
    for name in RECORDS:
        contents = {(folder / name).read_bytes() for folder in folders}
        assert len(contents) == 1, name
        assert str(tmp_path).encode() not in contents.pop(), name
    sources = {record.source for record in read_benchmark(folders[0])}
    assert sources <= {f"default-input/seed-0/scenes/scene_00{n}/frames" for n in range(2)}
    # moved and renamed, it is still what the same command asks for: no byte changes, no mask is rebuilt
    moved = tmp_path / "elsewhere" / "renamed"
    shutil.move(folders[0], moved)
    files = sorted(path for path in moved.rglob("*") if path.is_file())
    before = {path: path.read_bytes() for path in files}
    built = [*(moved / name for name in RECORDS[:3]), *(moved / "masks").iterdir()]
    stamps = {path: path.stat().st_mtime_ns for path in built}
    os.chdir(tmp_path / "elsewhere")
    _build("renamed")
    assert sorted(path for path in moved.rglob("*") if path.is_file()) == files
    assert {path: path.read_bytes() for path in files} == before
    assert {path: path.stat().st_mtime_ns for path in built} == stamps
