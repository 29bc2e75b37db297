import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from pconv.core.files import read_jsonl, relative_path
from pconv.core.sharding import Shard
from pconv.maskgen.raw import extract
from pconv.maskgen.raw.extract import DEFAULT_CONFIG, ExtractConfig, extract_pool
from pconv.maskgen.raw.pool import RawPool

CONFIG = replace(DEFAULT_CONFIG, max_pairs=3)



@pytest.fixture(scope="module")
def full_run(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    report = extract_pool(sources, out, config=CONFIG, workers=1)
    return out, report


def test_pool_layout_and_counts(full_run, sources):
    out, report = full_run
    assert report.pairs == 8 and report.resumed == 0 and report.bad_sources == ()
    assert (report.masks_written, report.skipped_static, report.skipped_cut) == (6, 1, 1)
    pool = RawPool(out)
    assert [record.id for record in pool.records] == list(range(6))
    record = pool.records[4]
    expected = (relative_path(sources[1], out), 1, "masks/000004.png", "dis")  # sources relative to the pool
    assert (record.source, record.t, record.file, record.method) == expected
    assert pool.load_hole(record).shape == (144, 192) and record.params["occlusion"]["alpha2"] == 10.0
    skipped = read_jsonl(out / "skipped.jsonl")
    assert [(item["id"], item["t"], item["reason"]) for item in skipped] == [(6, 0, "static"), (7, 1, "cut")]
    assert (out / "manifest.jsonl").read_text().count("\n") == 6


def test_worker_count_does_not_change_the_pool(folder_digest, full_run, sources, tmp_path):
    out, _ = full_run
    extract_pool(sources, tmp_path, config=CONFIG, workers=2)
    assert folder_digest(tmp_path) == folder_digest(out)


def test_resume_after_an_interrupted_run(folder_digest, full_run, sources, tmp_path_factory):
    out, _ = full_run
    raw = tmp_path_factory.mktemp("raw")  # beside the full run: the same relative source paths
    shutil.copytree(out, raw, dirs_exist_ok=True)
    # an interruption: three masks done, a fourth renamed into place without its line, a half-written
    # manifest line, a temporary file, and the skipped list not yet written
    lines = (raw / "manifest.jsonl").read_text().splitlines(keepends=True)
    (raw / "manifest.jsonl").write_text("".join(lines[:3]) + lines[3][:40])
    for number in (4, 5):
        (raw / "masks" / f"{number:06d}.png").unlink()
    (raw / "masks" / ".000004.png.pconv-tmp-99").write_bytes(b"half")
    (raw / "skipped.jsonl").unlink()
    report = extract_pool(sources, raw, config=CONFIG, workers=1)
    assert (report.resumed, report.masks_written, report.skipped_static + report.skipped_cut) == (3, 3, 2)
    assert folder_digest(raw) == folder_digest(out)
    again = extract_pool(sources, raw, config=CONFIG, workers=1)
    assert (again.resumed, again.masks_written) == (8, 0) and folder_digest(raw) == folder_digest(out)


def test_other_settings_are_refused(full_run, sources, tmp_path):
    out, _ = full_run
    shutil.copytree(out, tmp_path / "raw")
    with pytest.raises(ValueError, match="holds a pool made with other config"):
        extract_pool(sources, tmp_path / "raw", config=replace(CONFIG, step=2), workers=1)


def test_bad_sources(sources, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match=f"^{broken}: cannot be opened"):
        extract_pool([broken, *sources], tmp_path / "raw", config=CONFIG, workers=1)
    assert not (tmp_path / "raw").exists()
    report = extract_pool([broken, sources[0]], tmp_path / "raw", config=CONFIG, workers=1, skip_bad=True)
    assert report.bad_sources == (f"{broken}: cannot be opened as a video (unknown format or corrupt file)",)
    assert report.pairs == 3
    with pytest.raises(ValueError, match="given twice"):
        extract_pool([sources[0], sources[0]], tmp_path / "other", workers=1)


def test_config_checks_and_records_every_setting():
    with pytest.raises(ValueError, match="step"):
        ExtractConfig(step=0)
    run = json.loads(json.dumps(DEFAULT_CONFIG.__dict__, default=lambda value: value.__dict__))
    assert run["occlusion"]["method"] == "dis"


def test_a_frame_failing_mid_run_is_named_and_the_rest_resumes(sources, tmp_path):
    folder = tmp_path / "clip"
    shutil.copytree(sources[0], folder)
    good = (folder / "000002.png").read_bytes()
    (folder / "000002.png").write_bytes(b"broken")
    with pytest.raises(ValueError, match="000002.png: not a readable image"):
        extract_pool([folder], tmp_path / "raw2", config=CONFIG, workers=2)
    with pytest.raises(ValueError, match="000002.png: not a readable image"):
        extract_pool([folder], tmp_path / "raw", config=CONFIG, workers=1)
    (folder / "000002.png").write_bytes(good)  # a changed source: its pool cannot resume (issue 23, item 8)
    with pytest.raises(ValueError, match="1 source"):
        extract_pool([folder], tmp_path / "raw", config=CONFIG, workers=1)
    report = extract_pool([folder], tmp_path / "raw3", config=CONFIG, workers=1)
    assert report.masks_written + report.skipped_static == 3


@pytest.mark.parametrize("workers", [1, 2])
def test_skip_bad_covers_a_source_that_breaks_mid_way(sources, tmp_path, workers):
    folder = tmp_path / "clip"
    shutil.copytree(sources[0], folder)
    (folder / "000002.png").write_bytes(b"broken")
    raw = tmp_path / "raw"
    report = extract_pool([folder, sources[1]], raw, config=CONFIG, workers=workers, skip_bad=True)
    broken = f"{folder / '000002.png'}: not a readable image (no PNG, JPEG, BMP, WebP, TIFF or PPM header)"
    assert report.bad_sources == (broken,)
    assert report.pairs == 6 and report.skipped_bad == 2  # pair (0, 1) came before the broken frame
    bad = [record for record in read_jsonl(raw / "skipped.jsonl") if record["reason"] == "bad"]
    assert {record["source"] for record in bad} == {"../clip"} and len(bad) == report.skipped_bad
    assert bad[0]["error"] == report.bad_sources[0]
    again = extract_pool([folder, sources[1]], raw, config=CONFIG, workers=workers, skip_bad=True)
    assert (again.resumed, again.masks_written, again.bad_sources) == (6, 0, ())


def test_all_bad_sources_fail_even_with_skip_bad(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=f"^no usable source: all 2 are bad \\(first: {broken}: cannot"):
        extract_pool([broken, tmp_path / "empty"], tmp_path / "raw", config=CONFIG, workers=1, skip_bad=True)
    assert not (tmp_path / "raw").exists()


def test_one_source_under_two_spellings_is_refused(sources, tmp_path):
    with pytest.raises(ValueError, match=f"^source given twice: {sources[0]}/ \\(as '{sources[0]}' and"):
        extract_pool([sources[0], sources[0] + "/"], tmp_path / "raw", config=CONFIG, workers=1)


def test_frames_too_small_for_the_flow_are_a_bad_source(sources, tmp_path):
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    for index in range(3):
        cv2.imwrite(str(tiny / f"{index}.png"), np.full((8, 8, 3), index * 50, np.uint8))
    with pytest.raises(
        ValueError,
        match=f"^{tiny}: frames of 8x8 px are too small: optical flow needs at least 32 px a side$",
    ):
        extract_pool([tiny], tmp_path / "a", config=CONFIG, workers=1)
    coarse = replace(CONFIG, occlusion=replace(CONFIG.occlusion, flow_scale=0.1))
    with pytest.raises(ValueError, match="frames of 192x144 px are too small at flow scale 0.1"):
        extract_pool([sources[0]], tmp_path / "b", config=coarse, workers=1)


def test_a_shard_made_with_the_old_job_split_is_refused(full_run, sources, tmp_path):
    out, _ = full_run
    shutil.copytree(out, tmp_path / "raw")
    run = json.loads((tmp_path / "raw" / "run.json").read_text())
    assert run["sharding"] == "contiguous blocks"
    del run["sharding"]  # as written before shards became contiguous blocks of jobs
    (tmp_path / "raw" / "run.json").write_text(json.dumps(run))
    with pytest.raises(ValueError, match="holds a pool made with other sharding"):
        extract_pool(sources, tmp_path / "raw", config=CONFIG, workers=1)


class FakeBar:
    """Records the progress bar's updates (the bar of extract_pool, through a monkeypatched factory)."""

    def __init__(self, **options):
        self.initial, self.updates = options.get("initial", 0), []

    def update(self, count):
        self.updates.append(count)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_moves_once_per_pair_whatever_the_workers(sources, tmp_path, monkeypatch, workers):
    bars = []
    monkeypatch.setattr(
        extract, "progress_bar", lambda **options: bars.append(FakeBar(**options)) or bars[-1]
    )
    report = extract_pool(sources, tmp_path / "raw", config=CONFIG, workers=workers, progress=True)
    probe_bar, pair_bar = bars
    assert probe_bar.updates == [1] * len(sources)
    assert pair_bar.initial == 0 and pair_bar.updates == [1] * report.pairs


def test_a_resumed_run_starts_its_bar_at_the_pairs_done(full_run, sources, tmp_path_factory, monkeypatch):
    raw = tmp_path_factory.mktemp("raw")  # beside the full run: the same relative source paths
    shutil.copytree(full_run[0], raw, dirs_exist_ok=True)
    lines = (raw / "manifest.jsonl").read_text().splitlines(keepends=True)
    (raw / "manifest.jsonl").write_text("".join(lines[:-2]))
    bars = []
    monkeypatch.setattr(
        extract, "progress_bar", lambda **options: bars.append(FakeBar(**options)) or bars[-1]
    )
    report = extract_pool(sources, raw, config=CONFIG, workers=1)
    assert bars[1].initial == report.resumed and bars[1].updates == [1, 1]


@pytest.mark.parametrize("workers", [1, 2])
def test_warnings_come_before_the_first_mask(sources, tmp_path, workers):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0" * 64)
    raw = tmp_path / "raw"
    heard = []

    def warn(message):
        heard.append((message, (raw / "manifest.jsonl").is_file()))

    report = extract_pool([broken, *sources], raw, config=CONFIG, workers=workers, skip_bad=True, warn=warn)
    assert heard == [(f"skipped bad source: {report.bad_sources[0]}", False)]


def test_a_resume_after_frames_were_replaced_is_refused(folder_digest, sources, tmp_path):
    """Issue 23, item 8: frames replaced at the same paths between a kill and a resume must not mix."""
    folder = tmp_path / "clip"
    shutil.copytree(sources[0], folder)
    raw = tmp_path / "raw"
    extract_pool([folder], raw, config=CONFIG, workers=1, shard=Shard(1, 2))  # an unfinished pool
    before = folder_digest(raw)
    frame = folder / "000002.png"
    assert cv2.imwrite(str(frame), cv2.imread(str(Path(sources[1]) / "000002.png")))
    with pytest.raises(
        ValueError, match=r"1 source\(s\) changed since this pool was started \(first: \.\./clip"
    ):
        extract_pool([folder], raw, config=CONFIG, workers=1, shard=Shard(1, 2))
    assert folder_digest(raw) == before
