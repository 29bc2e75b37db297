"""Extraction on real clips from Debian's opencv-doc package (skipped where it is not installed)."""

import gzip
import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from pconv.maskgen.raw.extract import DEFAULT_CONFIG, ExtractConfig, extract_pool
from pconv.maskgen.raw.pool import RawPool

DATA = Path("/usr/share/doc/opencv-doc/examples/data")
HTML = Path("/usr/share/doc/opencv-doc/opencv4/html")
FAST = ExtractConfig(occlusion=DEFAULT_CONFIG.occlusion, max_pairs=2, max_side=160, step=3)


@pytest.mark.skipif(
    not (DATA / "vtest.avi").is_file() or not (DATA / "tree.avi").is_file(),
    reason="opencv-doc example clips not installed",
)
def test_avi_clips(tmp_path):
    sources = [str(DATA / "vtest.avi"), str(DATA / "tree.avi")]
    report = extract_pool(sources, tmp_path, config=FAST, workers=1)
    assert report.pairs == 4 and report.bad_sources == ()
    pool = RawPool(tmp_path)
    assert len(pool.records) == report.masks_written >= 1
    for record in pool.records:
        assert max(record.height, record.width) == 160
        assert pool.load_hole(record).mean() == pytest.approx(record.hole_ratio)


@pytest.mark.skipif(not (HTML / "box.mp4.gz").is_file(), reason="opencv-doc box.mp4.gz not installed")
def test_gzipped_mp4(tmp_path):
    clip = tmp_path / "box.mp4"
    with gzip.open(HTML / "box.mp4.gz") as packed, open(clip, "wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
    report = extract_pool([clip], tmp_path / "raw", config=FAST, workers=1)
    assert report.pairs == 2 and report.masks_written + report.skipped_static + report.skipped_cut == 2


@pytest.mark.skipif(not (DATA / "vtest.avi").is_file(), reason="opencv-doc vtest.avi not installed")
def test_a_truncated_clip_is_used_with_a_warning_from_the_command_line(tmp_path):
    import subprocess
    import sys

    clip = tmp_path / "vtest_cut.avi"
    data = (DATA / "vtest.avi").read_bytes()
    clip.write_bytes(data[: len(data) // 20])  # about the first 40 of 795 frames
    command = [
        sys.executable,
        "-c",
        "import cli; cli.main()",
        "-q",
        "masks",
        "extract",
        str(clip),
        "--out",
        str(tmp_path / "raw"),
        "--workers",
        "1",
        "--step",
        "10",
        "--max-side",
        "160",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (warning,) = done.stderr.splitlines()
    assert warning.startswith(f"warning: {clip}: decoded ") and warning.endswith(
        " of the 795 frames its header announces (truncated or damaged?); using those"
    )
    decoded = int(warning.split("decoded ")[1].split()[0])
    assert 20 < decoded < 100
    pool = RawPool(tmp_path / "raw")
    assert done.stdout.startswith(f"{(decoded - 1) // 10} pairs: {len(pool.records)} masks written")


@pytest.mark.skipif(not (DATA / "vtest.avi").is_file(), reason="opencv-doc vtest.avi not installed")
def test_accumulated_walkers_reach_densities_no_single_pair_has(tmp_path):
    from pconv.maskgen.raw.accumulate import AccumulateConfig, accumulate_pool

    config = ExtractConfig(occlusion=DEFAULT_CONFIG.occlusion, max_pairs=30, max_side=384, step=2)
    extract_pool([str(DATA / "vtest.avi")], tmp_path / "raw", config=config, workers=1)
    single = RawPool(tmp_path / "raw")
    densest_pair = max(record.hole_ratio for record in single.records)
    target = (2 * densest_pair, 3 * densest_pair)
    accumulate_pool(tmp_path / "raw", tmp_path / "acc", AccumulateConfig(density=target, gap=4), workers=1)
    unions = RawPool(tmp_path / "acc").records
    assert len(unions) >= 5
    by_id = {record.id: record for record in single.records}
    for union in unions:
        made = union.params["accumulate"]
        assert union.hole_ratio >= made["target"] >= target[0] > densest_pair
        frames = made["frames"]
        assert len(frames) >= 2 and all(later - earlier >= 4 for earlier, later in itertools.pairwise(frames))
        joined = np.zeros((union.height, union.width), bool)
        for member in made["members"]:
            joined |= single.load_hole(by_id[member])
        assert np.array_equal(RawPool(tmp_path / "acc").load_hole(union), joined)
