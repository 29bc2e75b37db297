import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pconv import cli
from pconv.core.files import relative_path, sha256_file


def run(*args: str):
    return CliRunner().invoke(cli.main, ["--quiet", "masks", *args])


def one_frame_video(path):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    writer.write(np.zeros((24, 32, 3), np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    result = run(
        "synth",
        "--out",
        str(root),
        "--scenes",
        "2",
        "--frames",
        "3",
        "--size",
        "128x96",
        "--seed",
        "4",
        "--workers",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"2 scenes of 3 frames at 128x96 in {root} in ")
    assert result.output.endswith(" s\n") and len(result.output.splitlines()) == 1
    return root


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda root: (root / "bad.mp4").write_bytes(b"\x00" * 64) and root / "bad.mp4",
            "bad.mp4: cannot be opened as a video (unknown format or corrupt file)",
        ),
        (
            lambda root: (root / "empty").mkdir() or root / "empty",
            "empty: a frame folder needs at least two frames, found 0",
        ),
        (
            lambda root: one_frame_video(root / "one.avi"),
            "one.avi: fewer than two frames to pair (found 1, step 1)",
        ),
    ],
)
def test_bad_source_is_one_line_and_exit_1(tmp_path, make, message):
    source = make(tmp_path)
    result = run("extract", str(source), "--out", str(tmp_path / "raw"), "--workers", "1")
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path}/{message}\n"


def test_extract_skip_bad_merge_and_split(scenes, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 64)
    sources = [str(scenes / f"scene_00{index}" / "frames") for index in (0, 1)]
    raw = tmp_path / "raw"
    result = run("extract", str(bad), *sources, "--out", str(raw), "--workers", "1", "--skip-bad")
    assert result.exit_code == 0, result.output
    assert (
        result.stderr == f"skipped bad source: {bad}: cannot be opened as a video (unknown format or "
        "corrupt file)\n"
    )
    assert result.stdout.startswith("4 pairs: ") and f"1 bad sources -> {raw} in " in result.stdout
    for shard in ("1/2", "2/2"):
        result = run(
            "extract",
            str(bad),
            *sources,
            "--out",
            str(tmp_path / shard.replace("/", "of")),
            "--workers",
            "1",
            "--skip-bad",
            "--shard",
            shard,
        )
        assert result.exit_code == 0, result.output
    result = run("merge", str(tmp_path / "1of2"), str(tmp_path / "2of2"), "--out", str(tmp_path / "merged"))
    assert result.exit_code == 0 and result.output.startswith("merged 2 shards: ")
    for name in ("manifest.jsonl", "skipped.jsonl", "run.json"):
        assert sha256_file(tmp_path / "merged" / name) == sha256_file(tmp_path / "raw" / name)
    result = run("split", str(tmp_path / "raw"), "--test-fraction", "0.5", "--seed", "1")
    assert result.exit_code == 0
    assert result.output.startswith(f"1 train and 1 test sources -> {tmp_path / 'raw' / 'split.json'} in ")
    split = json.loads((tmp_path / "raw" / "split.json").read_text())["sources"]
    assert set(split) == {relative_path(source, tmp_path / "raw") for source in sources}


def test_extract_options_reach_the_manifest(scenes, tmp_path):
    result = run(
        "extract",
        str(scenes / "scene_000" / "frames"),
        "--out",
        str(tmp_path),
        "--workers",
        "1",
        "--method",
        "farneback",
        "--step",
        "2",
        "--max-side",
        "64",
        "--min-hole-ratio",
        "0",
    )
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "manifest.jsonl").read_text().splitlines()[0])
    assert (record["method"], record["step"], record["width"], record["params"]["max_side"]) == (
        "farneback",
        2,
        64,
        64,
    )


def test_validate_prints_a_table(scenes):
    result = run("validate", str(scenes), "--methods", "dis,farneback")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["method", "pairs"] and [line.split()[0] for line in lines[1:]] == [
        "dis",
        "farneback",
    ]
    assert lines[1].split()[1] == "4"


def test_validate_errors(tmp_path):
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    expected = f"Error: {tmp_path}: no scene_*/scene.json; make scenes with `pconv masks synth`\n"
    assert result.output == expected
    result = run("validate", str(tmp_path), "--methods", "raft")
    assert (
        result.exit_code == 1
        and result.output.startswith("Error: ")
        and "unknown method raft" in result.output
    )
    assert len(result.output.splitlines()) == 1


def test_bad_size_and_split_of_a_missing_pool(tmp_path):
    result = run("synth", "--out", str(tmp_path), "--size", "big")
    assert result.output == (
        "Error: Invalid value for '--size': size must look like WxH (e.g. 768x576), got 'big'\n"
    )
    assert result.exit_code == 1
    result = run("split", str(tmp_path / "nothing"))
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'nothing'}: no such raw mask pool folder\n"


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--flow-scale", "0", "Error: flow scale must be in (0, 1], got 0.0\n"),
        ("--alpha1", "-1", "Error: alpha1 and alpha2 must not be negative, got -1.0 and 10.0\n"),
        (
            "--texture-radius",
            "1.5",
            "Error: Invalid value for '--texture-radius': '1.5' is not a valid integer.\n",
        ),
    ],
)
def test_check_options_out_of_range_are_refused_in_one_line_before_anything_is_written(
    tmp_path, option, value, message
):
    result = run("extract", str(tmp_path / "frames"), "--out", str(tmp_path / "raw"), option, value)
    assert result.exit_code == 1 and result.output == message
    assert not (tmp_path / "raw").exists()


def test_check_and_cleanup_options_reach_the_manifest(scenes, tmp_path):
    result = run(
        "extract",
        str(scenes / "scene_000" / "frames"),
        "--out",
        str(tmp_path),
        "--workers",
        "1",
        "--alpha1",
        "0.02",
        "--alpha2",
        "0.5",
        "--motion-boundaries",
        "--texture-threshold",
        "2.5",
        "--texture-sigma",
        "2",
        "--texture-radius",
        "3",
        "--soft-sigma",
        "0",
        "--close-radius",
        "1",
        "--open-radius",
        "2",
        "--min-area",
        "0",
        "--min-hole-ratio",
        "0",
    )
    assert result.exit_code == 0, result.output
    params = json.loads((tmp_path / "manifest.jsonl").read_text().splitlines()[0])["params"]["occlusion"]
    expected = {
        "alpha1": 0.02,
        "alpha2": 0.5,
        "motion_boundaries": True,
        "texture_threshold": 2.5,
        "texture_sigma": 2.0,
        "texture_radius": 3,
        "soft_sigma": 0.0,
        "close_radius": 1,
        "open_radius": 2,
        "min_area": 0,
    }
    assert {key: params[key] for key in expected} == expected


def test_validate_takes_the_check_settings(scenes):
    default = run("validate", str(scenes), "--methods", "dis")
    sundaram = run("validate", str(scenes), "--methods", "dis", "--alpha2", "0.5", "--motion-boundaries")
    assert default.exit_code == 0 and sundaram.exit_code == 0, sundaram.output
    f1 = [float(result.output.splitlines()[1].split()[4]) for result in (default, sundaram)]
    assert f1[0] != f1[1]


def test_ffmpeg_stays_quiet_around_the_one_line_error(tmp_path):
    """FFmpeg writes to the process's stderr (CliRunner cannot see it), so run a real process."""
    import subprocess
    import sys

    clip = tmp_path / "cut.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 4)  # an mp4 header without its moov atom
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
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr == f"Error: {clip}: cannot be opened as a video (unknown format or corrupt file)\n"
