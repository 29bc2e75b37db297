import hashlib
import json

import cv2
import h5py
import numpy as np
import pytest

from pconv.core.files import read_jsonl
from pconv.maskgen.raw.pool import RawPool
from pconv.maskgen.sets.augment import (
    AugmentConfig,
    AugmentParams,
    Window,
    augment_hole,
    component_floor,
    raw_distance,
)
from pconv.maskgen.sets.bench import (
    B_RANK_FACTOR,
    CELL_DILATION,
    DENSITY_WINDOW,
    WINDOW_TRIES,
    BenchRecipe,
    _first_choices,
    build_benchmark,
)
from pconv.maskgen.sets.bench_format import load_benchmark_hole, read_benchmark
from pconv.maskgen.sets.bins import mask_stats
from pconv.maskgen.sets.maskset import RawSource
from pconv.maskgen.sets.maskset import _finish as REAL_FINISH

SMALL = {"per_bin": 3, "size": 128, "border": 12, "augment": AugmentConfig(dilation=(2, 12))}


def _hashes(bench):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in (bench / "masks").iterdir()}


def _h5_contents(path):
    with h5py.File(path, "r") as h5:
        data = {name: h5[name][()] for name in h5}
        attrs = dict(h5.attrs)
    return data, attrs


def test_benchmark_has_every_invariant_in_nvidia_order(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    records = read_benchmark(bench)
    assert [record.file for record in records] == [f"masks/{index:05d}.png" for index in range(36)]
    assert sorted(_hashes(bench)) == [f"{index:05d}.png" for index in range(36)]
    pool = RawPool(raw_pool)
    test_ids = {record.id for record in pool.records_in("test")}
    for index, record in enumerate(records):
        assert (record.bin, record.split) == (index // 6, "N" if index % 6 < 3 else "B")
        raw = cv2.imread(str(bench / record.file), cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint8 and raw.shape == (128, 128) and set(np.unique(raw)) <= {0, 255}
        hole = load_benchmark_hole(bench, record)
        stats = mask_stats(hole, border=12)
        assert (stats.bin, stats.split, stats.hole_ratio, stats.border_distance) == (
            record.bin,
            record.split,
            record.hole_ratio,
            record.border_distance,
        )
        assert record.bin_low < record.hole_ratio <= record.bin_high
        assert record.raw_id in test_ids
        assert record.sha256 == hashlib.sha256((bench / record.file).read_bytes()).hexdigest()
    assert len({record.sha256 for record in records}) == 36


def test_a_manifest_row_regenerates_its_mask(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    record = read_benchmark(bench)[20]
    pool = RawPool(raw_pool)
    (raw,) = [item for item in pool.records if item.id == record.raw_id]
    params = AugmentParams(
        window=Window(record.angle, record.scale, record.crop_x, record.crop_y),
        dilation=record.dilation,
        clip=12 if record.split == "N" else 0,
    )
    kernel = json.loads((bench / "build.json").read_text())["params"]["kernel"]  # the recipe's, like size
    hole = augment_hole(raw_distance(pool.load_hole(raw), kernel), params, size=128)
    np.testing.assert_array_equal(hole, load_benchmark_hole(bench, record))


def test_hdf5_holds_masks_columns_and_parameters(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, seed=4, **SMALL)
    data, attrs = _h5_contents(bench / "masks.h5")
    records = read_benchmark(bench)
    assert data["masks"].shape == (36, 128, 128) and data["masks"].dtype == np.uint8
    np.testing.assert_array_equal(data["masks"][7] == 255, load_benchmark_hole(bench, records[7]))
    assert [value.decode() for value in data["split"]][:6] == ["N"] * 3 + ["B"] * 3
    np.testing.assert_array_equal(data["hole_ratio"], [record.hole_ratio for record in records])
    assert attrs["seed"] == 4 and list(attrs["bin_edges"]) == [0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert attrs["border"] == 12 and attrs["hole_value"] == 255 and attrs["version"]
    params = json.loads((bench / "build.json").read_text())["params"]
    assert params["density_window"] == DENSITY_WINDOW and params["window_tries"] == WINDOW_TRIES
    with h5py.File(bench / "masks.h5", "r") as h5:
        assert h5["masks"].chunks == (1, 128, 128) and h5["masks"].compression == "gzip"


def test_worker_count_does_not_change_a_byte(raw_pool, tmp_path):
    one = build_benchmark(raw_pool, tmp_path / "one", workers=1, **SMALL)
    two = build_benchmark(raw_pool, tmp_path / "two", workers=2, **SMALL)
    assert _hashes(one) == _hashes(two)
    assert (one / "manifest.csv").read_bytes() == (two / "manifest.csv").read_bytes()
    data_one, attrs_one = _h5_contents(one / "masks.h5")
    data_two, attrs_two = _h5_contents(two / "masks.h5")
    assert data_one.keys() == data_two.keys() and attrs_one.keys() == attrs_two.keys()
    for name in data_one:
        np.testing.assert_array_equal(data_one[name], data_two[name])
    other = build_benchmark(raw_pool, tmp_path / "other", workers=1, seed=1, **SMALL)
    assert _hashes(other) != _hashes(one)


def test_an_interrupted_build_resumes_to_the_same_bytes(raw_pool, tmp_path, monkeypatch):
    import pconv.maskgen.sets.maskset

    whole = build_benchmark(raw_pool, tmp_path / "whole", workers=1, **SMALL)
    cut = tmp_path / "cut"
    real_append, calls = pconv.maskgen.sets.maskset.append_jsonl, []

    def append_then_stop(path, record):
        real_append(path, record)
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(pconv.maskgen.sets.maskset, "CHUNK", 5)
    monkeypatch.setattr(pconv.maskgen.sets.maskset, "append_jsonl", append_then_stop)
    with pytest.raises(KeyboardInterrupt):
        build_benchmark(raw_pool, cut, workers=1, **SMALL)
    monkeypatch.undo()
    assert sorted(path.name for path in cut.iterdir()) == [".progress.jsonl", "build.json", "masks"]
    (cut / "masks" / "00004.png").unlink()  # a listed mask lost: it is made again
    with open(cut / ".progress.jsonl", "a") as handle:
        handle.write('{"rows": [{"ind')  # a line cut short by the interruption
    build_benchmark(raw_pool, cut, workers=1, **SMALL)
    assert not (cut / ".progress.jsonl").exists()
    assert _hashes(cut) == _hashes(whole)
    assert (cut / "manifest.csv").read_bytes() == (whole / "manifest.csv").read_bytes()
    assert build_benchmark(raw_pool, cut, workers=1, **SMALL) == cut  # complete: nothing to do


def test_a_different_benchmark_is_refused_unless_overwrite(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    with pytest.raises(
        ValueError,
        match=r"already holds a different benchmark \(differs in: seed\); pass "
        r"--overwrite",
    ):
        build_benchmark(raw_pool, bench, workers=1, seed=9, **SMALL)
    build_benchmark(raw_pool, bench, workers=1, seed=9, overwrite=True, **SMALL)
    assert read_benchmark(bench)[0].seed == 9


def test_a_foreign_folder_is_refused(raw_pool, tmp_path):
    (tmp_path / "bench" / "masks").mkdir(parents=True)
    with pytest.raises(ValueError, match="no build made"):
        build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)


def test_an_unfillable_bin_names_the_bin_and_writes_nothing(make_raw_pool, tmp_path):
    sparse = make_raw_pool("sparse", density=(1,))
    pattern = (
        r"^cannot fill bin \(0\.\d,0\.\d\] N: 500 attempts on 12 test raw masks .* the pool lacks "
        r"test masks with denser holes \(the densest covers 0\.\d\d at full dilation\)$"
    )
    with pytest.raises(ValueError, match=pattern):
        build_benchmark(sparse, tmp_path / "bench", workers=1, **SMALL)
    assert not (tmp_path / "bench").exists()


def test_a_pool_without_split_is_refused(make_raw_pool, tmp_path):
    pool = make_raw_pool("nosplit")
    (pool / "split.json").unlink()
    with pytest.raises(ValueError, match="pconv masks split"):
        build_benchmark(pool, tmp_path / "bench", workers=1, **SMALL)


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda root: None, "no such raw mask pool"),
        (lambda root: root.mkdir(), "not a raw mask pool"),
        (lambda root: (root.mkdir(), (root / "manifest.jsonl").write_text("")), "empty"),
    ],
)
def test_bad_pools_are_refused(tmp_path, setup, message):
    setup(tmp_path / "raw")
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        build_benchmark(tmp_path / "raw", tmp_path / "bench", workers=1, **SMALL)
    assert not (tmp_path / "bench").exists()


def test_an_overwrite_that_cannot_be_built_keeps_the_old_benchmark(raw_pool, make_raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    before = _hashes(bench)
    sparse = make_raw_pool("sparse", density=(1,))
    with pytest.raises(ValueError, match="^cannot fill bin"):
        build_benchmark(sparse, bench, workers=1, overwrite=True, **SMALL)
    assert _hashes(bench) == before and (bench / "manifest.csv").is_file()


def test_a_failure_mid_build_leaves_nothing(raw_pool, tmp_path, monkeypatch):
    import pconv.maskgen.sets.maskset

    real_finish = pconv.maskgen.sets.maskset._finish

    def finish_until_ten(out, recipe, made, index):
        if index == 10:
            raise ValueError("raw mask unreadable")
        return real_finish(out, recipe, made, index)

    monkeypatch.setattr(pconv.maskgen.sets.maskset, "_finish", finish_until_ten)
    with pytest.raises(ValueError, match="raw mask unreadable"):
        build_benchmark(raw_pool, tmp_path / "new", workers=1, **SMALL)
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="raw mask unreadable"):
        build_benchmark(raw_pool, tmp_path / "kept", workers=1, **SMALL)
    assert [path.name for path in (tmp_path / "kept").iterdir()] == ["notes.txt"]


def test_a_corrupt_test_raw_mask_is_named_and_nothing_is_left(raw_pool, tmp_path):
    pool = RawPool(raw_pool)
    for record in pool.records_in("test"):
        (raw_pool / record.file).write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"masks/0000\d\d\.png: not a readable image"):
        build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    assert not (tmp_path / "bench").exists()


def test_a_complete_benchmark_missing_a_file_is_not_taken_as_done(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    (bench / "masks" / "00004.png").unlink()
    with pytest.raises(ValueError, match=r"holds this benchmark, but masks/00004\.png is missing \(1 files"):
        build_benchmark(raw_pool, bench, workers=1, **SMALL)


def test_a_duplicate_mask_is_drawn_again_with_its_next_attempt(raw_pool, tmp_path, monkeypatch):
    from pconv.maskgen.sets.bench import BenchRecipe

    real_make = BenchRecipe.make

    def copy_mask_zero(self, source, index, first_attempt):
        if index == 1 and first_attempt == 0:  # mask 1 comes out equal to mask 0
            return real_make(self, source, 0, 0)
        return real_make(self, source, index, first_attempt)

    monkeypatch.setattr(BenchRecipe, "make", copy_mask_zero)
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    records = read_benchmark(bench)
    assert records[1].sha256 != records[0].sha256
    assert records[1].attempt > records[0].attempt
    assert len({record.sha256 for record in records}) == len(records)


def _fail_at(monkeypatch, index, error):
    """Make writing mask ``index`` raise ``error`` (replacing any earlier such patch)."""
    import pconv.maskgen.sets.maskset

    def finish(out, recipe, made, number):
        if number == index:
            raise error
        return REAL_FINISH(out, recipe, made, number)

    monkeypatch.setattr(pconv.maskgen.sets.maskset, "_finish", finish)


def test_an_overwrite_failing_mid_build_gives_the_old_benchmark_back(raw_pool, tmp_path, monkeypatch):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    before = {path.relative_to(bench): path.read_bytes() for path in bench.rglob("*") if path.is_file()}
    for error in (ValueError("disk trouble"), KeyboardInterrupt()):
        _fail_at(monkeypatch, 20, error)
        with pytest.raises(type(error)):
            build_benchmark(raw_pool, bench, workers=1, overwrite=True, **{**SMALL, "per_bin": 4})
        monkeypatch.undo()
        after = {path.relative_to(bench): path.read_bytes() for path in bench.rglob("*") if path.is_file()}
        assert after == before and not list(bench.glob(".replaced-*"))


def test_a_resumed_build_that_fails_keeps_its_work(raw_pool, tmp_path, monkeypatch):
    import pconv.maskgen.sets.maskset

    monkeypatch.setattr(pconv.maskgen.sets.maskset, "CHUNK", 5)
    _fail_at(monkeypatch, 12, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    _fail_at(monkeypatch, 27, OSError("disk full"))
    with pytest.raises(OSError, match="disk full"):
        build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    lines = read_jsonl(tmp_path / "bench" / ".progress.jsonl")
    listed = [row["index"] for line in lines for row in line["rows"]]
    assert sorted(listed) == list(range(25))  # both runs' finished chunks, kept for the next resume
    monkeypatch.undo()
    build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    whole = build_benchmark(raw_pool, tmp_path / "whole", workers=1, **SMALL)
    assert _hashes(tmp_path / "bench") == _hashes(whole)


def test_each_bin_first_tries_raw_masks_of_its_own_density():
    ranked = tuple(range(100, 0, -1))  # index 100 is the sparsest raw mask, index 1 the densest
    windows = [set(_first_choices(0, block, 6, 1, ranked).tolist()) for block in range(6)]
    width = round(100 * DENSITY_WINDOW)
    assert all(len(window) == width for window in windows)
    assert windows[0] == set(range(100, 100 - width, -1))  # the sparsest, clipped at the end of the ranks
    assert windows[5] == set(range(1, width + 1))  # the densest
    assert max(windows[2]) < max(windows[1]) < max(windows[0])  # denser bins, denser raw masks
    assert set().union(*windows) == set(range(1, 101))  # every raw mask serves some bin
    again = _first_choices.__wrapped__(0, 2, 6, 1, ranked)
    assert again.tolist() == _first_choices(0, 2, 6, 1, ranked).tolist()
    assert again.tolist() != _first_choices(1, 2, 6, 1, ranked).tolist()  # the seed orders the window


def test_n_masks_first_try_raw_masks_denser_by_the_frame_area():
    recipe = BenchRecipe(per_bin=10, size=512, border=50)
    factor = 512**2 / 412**2
    assert recipe.rank_factor("B") == B_RANK_FACTOR and recipe.rank_factor("N") == pytest.approx(factor)
    assert recipe.describe()["n_density_factor"] == round(factor, 6)
    ranked = tuple(range(100, 0, -1))
    width = round(100 * DENSITY_WINDOW)
    start = round(1.5 / 6 * 100 * factor - width / 2)  # bin 1 of 6: rank 0.25 × 1.54
    assert set(_first_choices(0, 1, 6, 0, ranked, factor).tolist()) == set(ranked[start : start + width])
    assert set(_first_choices(0, 5, 6, 0, ranked, factor).tolist()) == set(range(1, width + 1))  # capped


def test_a_full_disk_during_benchmark_is_one_line(raw_pool, tmp_path):
    """Issue 23, item 6: h5py's failing close must not bury the OSError saying why (as a traceback)."""
    import subprocess
    import sys

    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (8000, 8000))\n"
        "from pconv.cli import main\n"
        "main(sys.argv[1:])"
    )
    args = ["-q", "masks", "benchmark", "--raw", raw_pool, "--out", tmp_path / "bench", "--per-bin", 3]
    args += ["--size", 128, "--border", 12, "--workers", 1]
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr[-3000:]
    assert (
        done.stderr.startswith("Error: ") and "masks.h5: could not be written (File too large)" in done.stderr
    )


def test_magnified_raw_masks_are_thinned_and_may_dilate_back_what_was_peeled(raw_mask_writer, tmp_path):
    raw = tmp_path / "raw"
    band = np.zeros((64, 160), bool)  # magnified 2 times for a 128-px crop
    band[20:28, 10:150] = True  # 8 rows: source_width peels 2 raw px, 4 output px, off each side
    raw_mask_writer(raw, 0, band, source="clip.mp4", t=0)
    (raw / "split.json").write_text(json.dumps({"sources": {"clip.mp4": "test"}}))
    thinned = RawSource(raw, "test", "square", thin_for=128)
    assert thinned.peeled(0) == 4.0
    distance, _ = thinned.load(0)
    assert (distance[:, 80] == 0).nonzero()[0].tolist() == [22, 23, 24, 25]
    as_read = RawSource(raw, "test", "square")
    assert as_read.peeled(0) == 0.0 and (as_read.load(0)[0][:, 80] == 0).sum() == 8
    recipe = BenchRecipe(per_bin=1, size=128, border=12, augment=AugmentConfig(dilation=(2, 12)))
    assert recipe.describe()["source_width"] is True
    assert BenchRecipe(augment=AugmentConfig(source_width=False)).describe()["source_width"] is False


def test_each_cell_prefers_the_radii_of_its_stroke_width():
    """The table's rows at the default bins' middles, scaled with the size and kept inside the range."""
    recipe = BenchRecipe(per_bin=10)
    for split in ("N", "B"):
        for block, (_, low, high) in enumerate(CELL_DILATION[split]):
            assert recipe.preferred_dilation(block, split) == (low, high)
    half = BenchRecipe(per_bin=10, size=256, border=25)
    assert half.preferred_dilation(5, "B") == (round(CELL_DILATION["B"][5][1] / 2), 12)
    narrow = BenchRecipe(per_bin=10, augment=AugmentConfig(dilation=(2, 5)))
    assert narrow.preferred_dilation(0, "N") == (4, 5) and narrow.preferred_dilation(5, "N") == (5, 5)
    coarse = BenchRecipe(per_bin=10, edges=(0.01, 0.3, 0.6))  # bin middles 0.15 and 0.45
    assert coarse.preferred_dilation(1, "B") == CELL_DILATION["B"][4][1:]
    described = recipe.describe()
    assert described["preferred_dilation"]["N"][5] == list(CELL_DILATION["N"][5][1:])
    assert described["min_component"] == 600


def test_no_benchmark_mask_keeps_a_component_under_the_floor(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    floor = component_floor(AugmentConfig(), 128)
    for record in read_benchmark(bench):
        hole = load_benchmark_hole(bench, record)
        areas = cv2.connectedComponentsWithStats(hole.view(np.uint8), connectivity=8)[2][1:, cv2.CC_STAT_AREA]
        assert areas.size and areas.min() >= floor
