"""`pconv masks accumulate`: unions of several frame pairs of one source, grown to a drawn density."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pconv import cli
from pconv.core.files import append_jsonl
from pconv.core.masks import read_mask_png
from pconv.maskgen.raw.accumulate import (
    ACCUMULATE_NAME,
    AccumulateConfig,
    accumulate_pool,
    accumulation_summary,
)
from pconv.maskgen.raw.pool import RawPool
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import build_benchmark
from pconv.maskgen.sets.bench_format import BUILD_NAME

SMALL = {"per_bin": 2, "size": 128, "border": 12, "augment": AugmentConfig(dilation=(1, 12)), "workers": 1}


@pytest.fixture
def band_pool(tmp_path, raw_mask_writer):
    """A pool whose mask at frame t (0, 2, ..., 10) is column t of a 10x20 frame: union ratios are exact
    counts of columns (each column is 1/20 of the frame)."""
    root = tmp_path / "raw"
    for number, t in enumerate(range(0, 12, 2)):
        hole = np.zeros((10, 20), bool)
        hole[:, t] = True
        raw_mask_writer(root, number, hole, source="a.mp4", t=t)
    return root


def run(*args: str):
    return CliRunner().invoke(cli.main, ["--quiet", "masks", *args])


def manifest(root):
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def test_unions_join_pairs_gap_frames_apart_until_the_target(tmp_path, band_pool):
    raw = band_pool
    # every target in [0.14, 0.15]: three columns (0.15) reach it, two (0.10) do not
    config = AccumulateConfig(density=(0.14, 0.15), gap=4, seed=3)
    report = accumulate_pool(raw, tmp_path / "acc", config, workers=1)
    assert (report.starts, report.masks_written, report.skipped_short, report.resumed) == (6, 2, 4, 0)
    rows = manifest(tmp_path / "acc")
    assert [row["id"] for row in rows] == [0, 1]
    first = rows[0]["params"]["accumulate"]
    assert first["frames"] == [0, 4, 8]  # frame 2 and 6 are closer than the gap to the last member
    assert first["members"] == [0, 2, 4]
    assert first["target"] == config.target(0) and 0.14 <= first["target"] <= 0.15
    assert rows[1]["params"]["accumulate"]["frames"] == [2, 6, 10]
    hole = read_mask_png(tmp_path / "acc" / rows[0]["file"])
    assert np.flatnonzero(hole.any(axis=0)).tolist() == [0, 4, 8]
    assert rows[0]["hole_ratio"] == pytest.approx(0.15)
    skipped = [json.loads(line) for line in (tmp_path / "acc" / "skipped.jsonl").read_text().splitlines()]
    assert [(row["id"], row["reason"]) for row in skipped] == [
        (2, "short"),
        (3, "short"),
        (4, "short"),
        (5, "short"),
    ]
    assert [row["hole_ratio"] for row in skipped] == pytest.approx([0.10, 0.10, 0.05, 0.05])  # reached


def test_a_union_stops_at_a_scene_cut(tmp_path, band_pool):
    raw = band_pool  # frames 0, 2, ..., 10; the pair starting at frame 5 was a cut
    append_jsonl(
        raw / "skipped.jsonl", {"id": 99, "source": "a.mp4", "t": 5, "reason": "cut", "hole_ratio": 0.9}
    )
    append_jsonl(
        raw / "skipped.jsonl", {"id": 98, "source": "a.mp4", "t": 1, "reason": "static", "hole_ratio": 0}
    )
    report = accumulate_pool(raw, tmp_path / "acc", AccumulateConfig(density=(0.09, 0.1), gap=2), workers=1)
    frames = {row["t"]: row["params"]["accumulate"]["frames"] for row in manifest(tmp_path / "acc")}
    assert frames == {0: [0, 2], 2: [2, 4], 6: [6, 8], 8: [8, 10]}  # 4 would need 6, across the cut
    assert report.skipped_short == 2  # frame 4 (the cut follows it) and frame 10 (the video ends)


def test_max_members_and_a_start_already_dense_enough(tmp_path, band_pool):
    raw = band_pool
    two_columns = AccumulateConfig(density=(0.09, 0.1), gap=1, max_members=2)
    report = accumulate_pool(raw, tmp_path / "two", two_columns, workers=1)
    assert (report.masks_written, report.skipped_short) == (5, 1)  # the last start has no later pair
    assert all(len(row["params"]["accumulate"]["members"]) == 2 for row in manifest(tmp_path / "two"))
    with pytest.raises(ValueError, match="with at most 1 pairs 1 frames apart"):
        accumulate_pool(raw, tmp_path / "one", AccumulateConfig(density=(0.09, 0.1), gap=1, max_members=1))
    alone = accumulate_pool(raw, tmp_path / "alone", AccumulateConfig(density=(0.01, 0.05), gap=1), workers=1)
    assert alone.masks_written == 6
    assert all(row["params"]["accumulate"]["members"] == [row["id"]] for row in manifest(tmp_path / "alone"))


def test_no_union_reaching_its_target_is_one_clear_error_that_leaves_nothing(tmp_path, band_pool):
    raw = band_pool
    with pytest.raises(ValueError, match="no raw mask reached its target density 0.9-0.95"):
        accumulate_pool(raw, tmp_path / "acc", AccumulateConfig(density=(0.9, 0.95)), workers=1)
    assert not (tmp_path / "acc").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(ValueError, match="no raw mask reached"):
        accumulate_pool(raw, tmp_path / "kept", AccumulateConfig(density=(0.9, 0.95)), workers=1)
    assert list((tmp_path / "kept").iterdir()) == []
    # the advice works in the same folder
    assert (
        accumulate_pool(
            raw, tmp_path / "kept", AccumulateConfig(density=(0.04, 0.05)), workers=1
        ).masks_written
        == 6
    )


def test_an_accumulated_pool_is_not_accumulated_again(tmp_path, band_pool):
    raw = band_pool
    accumulate_pool(raw, tmp_path / "acc", AccumulateConfig(density=(0.09, 0.1), gap=1), workers=1)
    with pytest.raises(ValueError, match="already accumulated; accumulate the pool of single pairs"):
        accumulate_pool(tmp_path / "acc", tmp_path / "again", AccumulateConfig(), workers=1)
    assert not (tmp_path / "again").exists()


def test_same_bytes_for_any_worker_count_and_out_spelling(tmp_path, make_raw_pool):
    raw = make_raw_pool("raw", sources=3, per_source=40, density=(1, 2))
    config = AccumulateConfig(density=(0.05, 0.2), gap=2, seed=1)
    accumulate_pool(raw, tmp_path / "one", config, workers=1)
    (tmp_path / "deep").mkdir()
    accumulate_pool(raw, tmp_path / "deep" / ".." / "two", config, workers=2)
    for name in ("manifest.jsonl", "skipped.jsonl", "split.json", ACCUMULATE_NAME):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    rows = manifest(tmp_path / "one")
    assert len(rows) > 20
    for row in rows:
        assert (tmp_path / "one" / row["file"]).read_bytes() == (tmp_path / "two" / row["file"]).read_bytes()
    other = accumulate_pool(
        raw, tmp_path / "three", AccumulateConfig(density=(0.05, 0.2), gap=2, seed=2), workers=1
    )
    assert other.masks_written > 0
    assert (tmp_path / "three" / "manifest.jsonl").read_bytes() != (
        tmp_path / "one" / "manifest.jsonl"
    ).read_bytes()


def test_sources_and_split_are_rebased_and_the_pool_builds_a_benchmark(tmp_path, make_raw_pool):
    raw = make_raw_pool("pools/raw", sources=4, per_source=30, density=(1, 2, 4))
    out = tmp_path / "acc"
    accumulate_pool(raw, out, AccumulateConfig(density=(0.01, 0.3), gap=2), workers=1)
    pool = RawPool(out)
    assert {record.source for record in pool.records} <= {f"../pools/raw/clip{k}.mp4" for k in range(4)}
    assert pool.split == {f"../pools/raw/clip{k}.mp4": "test" if k % 2 else "train" for k in range(4)}
    counts = json.loads((out / "split.json").read_text())["masks"]
    assert counts["test"] == len(pool.records_in("test")) and counts["train"] == len(pool.records_in("train"))
    summary = accumulation_summary(pool, "test")
    assert summary["gap"] == 2 and summary["density"] == [0.01, 0.3]
    assert (
        1
        <= summary["pairs_per_mask"]["min"]
        <= summary["pairs_per_mask"]["median"]
        <= summary["pairs_per_mask"]["max"]
    )
    bench = build_benchmark(out, tmp_path / "bench", **SMALL)
    build = json.loads((bench / BUILD_NAME).read_text())
    assert build["raw_accumulation"] == summary
    single = build_benchmark(raw, tmp_path / "single", **SMALL)
    assert json.loads((single / BUILD_NAME).read_text())["raw_accumulation"] is None
    assert run("verify", str(bench)).exit_code == 0
    assert run("publish", str(bench), "--out", str(tmp_path / "release")).exit_code == 0
    card = (tmp_path / "release" / "README.md").read_text()
    pairs = summary["pairs_per_mask"]
    assert (
        f"each the union of the occlusion maps of {pairs['min']} to {pairs['max']} frame pairs" in card
        and "at least 2 frames apart" in card
        and "drawn from 0.01-0.3" in card
    )


def test_an_interrupted_run_resumes_and_another_run_is_refused(tmp_path, make_raw_pool):
    raw = make_raw_pool("raw", sources=2, per_source=40, density=(1, 2))
    config = AccumulateConfig(density=(0.05, 0.2), gap=2)
    accumulate_pool(raw, tmp_path / "whole", config, workers=1)
    out = tmp_path / "cut"
    accumulate_pool(raw, out, config, workers=1)
    lines = (out / "manifest.jsonl").read_text().splitlines(keepends=True)
    (out / "manifest.jsonl").write_text("".join(lines[:5]) + lines[5][:20])  # killed while appending
    (out / "skipped.jsonl").write_text("")
    (out / "split.json").unlink()
    report = accumulate_pool(raw, out, config, workers=2)
    assert report.resumed == 5
    for name in ("manifest.jsonl", "skipped.jsonl", "split.json"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    with pytest.raises(ValueError, match="holds a pool accumulated from other input or settings"):
        accumulate_pool(raw, out, AccumulateConfig(density=(0.05, 0.2), gap=3), workers=1)
    with pytest.raises(ValueError, match="holds another raw mask pool"):
        accumulate_pool(raw, make_raw_pool("other"), config, workers=1)


def test_cli_summary_and_one_line_errors(tmp_path, make_raw_pool):
    raw = make_raw_pool("raw", sources=2, per_source=20, density=(1, 2))
    out = tmp_path / "acc"
    result = run(
        "accumulate", str(raw), "--out", str(out), "--density", "0.05", "0.2", "--gap", "2", "--workers", "1"
    )
    assert result.exit_code == 0, result.output
    written = len(manifest(out))
    assert result.output.startswith(
        f"40 raw masks: {written} unions written, {40 - written} too short, 0 done before -> {out} in "
    )
    again = run(
        "accumulate", str(raw), "--out", str(out), "--density", "0.05", "0.2", "--gap", "2", "--workers", "1"
    )
    assert f"0 unions written, 0 too short, 40 done before -> {out} in " in again.output
    for args, message in [
        (["--density", "0.3", "0.2"], "LOW must not exceed HIGH"),
        (["--density", "0", "0.2"], "0<x<=1"),
        (["--gap", "0"], "x>=1"),
        (["--max-members", "0"], "x>=1"),
    ]:
        bad = run("accumulate", str(raw), "--out", str(tmp_path / "bad"), *args)
        assert bad.exit_code == 1 and message in bad.output, bad.output
    missing = run("accumulate", str(tmp_path / "nothing"), "--out", str(tmp_path / "new"))
    assert missing.exit_code == 1
    assert (
        missing.output.strip().splitlines()[-1].startswith("Error: ")
        and "no such raw mask pool" in missing.output
    )
    inside = run("accumulate", str(raw), "--out", str(raw / "sub"))
    assert inside.exit_code == 1 and "the output lies inside the input RAW" in inside.output
