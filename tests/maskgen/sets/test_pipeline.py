import json
import re

import pytest
from click.testing import CliRunner

import pconv.maskgen.sets.default_input
from pconv import cli
from pconv.maskgen.raw.pool import RawPool
from pconv.maskgen.raw.split import split_sources
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import build_benchmark
from pconv.maskgen.sets.default_input import (
    DEFAULT_FRAMES,
    DEFAULT_SCENES,
    DEFAULT_TEST_FRACTION,
    MIN_SCENES,
    default_input_benchmark,
    default_input_folder,
    rendered_scenes,
    scenes_for,
)


def _tiny_input(monkeypatch):
    monkeypatch.setattr(pconv.maskgen.sets.default_input, "DEFAULT_SCENES", 2)
    monkeypatch.setattr(pconv.maskgen.sets.default_input, "DEFAULT_FRAMES", 4)
    monkeypatch.setattr(pconv.maskgen.sets.default_input, "DEFAULT_SCENE_SIZE", (160, 120))
    calls = []
    monkeypatch.setattr(
        pconv.maskgen.sets.default_input,
        "build_benchmark",
        lambda raw, out, **options: calls.append((raw, out, options)) or out,
    )
    return calls


def test_the_default_input_runs_scenes_extract_split_then_the_benchmark(monkeypatch, tmp_path):
    calls = _tiny_input(monkeypatch)
    bench = tmp_path / "bench"
    assert default_input_benchmark(bench, per_bin=4, seed=2, workers=1) == bench
    ((raw, out, options),) = calls
    assert raw == bench / "default-input" / "seed-2" / "raw" and out == bench
    assert options["augment"] == AugmentConfig() and options["per_bin"] == 4 and options["seed"] == 2
    pool = RawPool(raw)
    assert pool.split is not None and set(pool.split.values()) == {"train", "test"}
    assert {record.source for record in pool.records} <= {f"../scenes/scene_00{n}/frames" for n in range(2)}
    assert json.loads((raw / "split.json").read_text())["seed"] == 2


def test_a_second_run_reuses_every_stage(monkeypatch, tmp_path):
    calls = _tiny_input(monkeypatch)
    bench = tmp_path / "bench"
    default_input_benchmark(bench, per_bin=4, workers=1, augment=AugmentConfig(dilation=(1, 5)))
    work = bench / "default-input" / "seed-0"
    stamps = {path: path.stat().st_mtime_ns for path in work.rglob("*.png")}
    default_input_benchmark(bench, per_bin=4, workers=1, augment=AugmentConfig(dilation=(1, 5)))
    assert {path: path.stat().st_mtime_ns for path in work.rglob("*.png")} == stamps
    assert calls[1][2]["augment"] == AugmentConfig(dilation=(1, 5))


def test_the_command_without_raw_runs_the_default_input(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(
        pconv.maskgen.sets.default_input,
        "default_input_benchmark",
        lambda out, **options: seen.update(out=out, **options),
    )
    result = CliRunner().invoke(
        cli.main,
        ["--quiet", "masks", "benchmark", "--out", str(tmp_path / "b"), "--per-bin", "5", "--workers", "1"],
    )
    raw = tmp_path / "b" / "default-input" / "seed-0-scenes-12" / "raw"
    assert result.exit_code == 0 and result.output.startswith(
        f"benchmark of 60 masks (masks/, manifest.csv, masks.h5) in {tmp_path / 'b'} (raw pool "
    )
    assert re.search(rf" \(raw pool {re.escape(str(raw))}\) in \d+ s\n$", result.output)
    assert seen["out"] == tmp_path / "b" and seen["per_bin"] == 5 and seen["augment"] is None
    assert seen["keep_scenes"] is False


def test_bad_options_and_other_benchmarks_are_refused_before_any_scene_is_rendered(monkeypatch, tmp_path):
    _tiny_input(monkeypatch)
    monkeypatch.setattr(
        pconv.maskgen.sets.default_input, "render_scenes", lambda *args, **kwargs: pytest.fail("rendered")
    )
    with pytest.raises(ValueError, match="border must be between 1 and half the mask size"):
        default_input_benchmark(tmp_path / "a", border=300, workers=1)
    held = tmp_path / "held"
    (held / "masks").mkdir(parents=True)
    with pytest.raises(ValueError, match="no build made"):
        default_input_benchmark(held, workers=1)
    (held / "build.json").write_text(json.dumps({"kind": "benchmark", "params": {"per_bin": 7}}))
    with pytest.raises(ValueError, match="already holds a different benchmark"):
        default_input_benchmark(held, workers=1)
    assert not (tmp_path / "a").exists() and not (held / "default-input").exists()


def test_the_input_is_scaled_to_the_masks_asked_for_and_the_full_default_keeps_its_folder(tmp_path):
    assert scenes_for(60) == MIN_SCENES == 12  # --per-bin 5
    assert scenes_for(12 * 20) == 18 and scenes_for(12 * 100) == 89
    assert scenes_for(12 * 133) == 119 and scenes_for(12 * 134) == scenes_for(12_000) == DEFAULT_SCENES
    counts = [scenes_for(12 * per_bin) for per_bin in range(1, 1001)]
    assert counts == sorted(counts)
    for per_bin, scenes in zip(range(1, 134), counts, strict=False):  # the split rounds to whole scenes
        sides = split_sources([f"s{n}" for n in range(scenes)], test_fraction=DEFAULT_TEST_FRACTION, seed=0)
        test_masks = (DEFAULT_FRAMES - 1) * sum(side == "test" for side in sides.values())
        assert test_masks >= 12 * per_bin + 12, per_bin  # a scene's worth of static pairs to spare
    assert default_input_folder(tmp_path, seed=3, count=60) == tmp_path / "default-input" / "seed-3-scenes-12"
    assert default_input_folder(tmp_path, seed=3) == tmp_path / "default-input" / "seed-3"


def test_the_scenes_rendered_are_read_back_from_a_sources_default_input_folder():
    assert rendered_scenes("default-input/seed-0/scenes/scene_003/frames") == DEFAULT_SCENES == 120
    assert rendered_scenes("default-input/seed-3-scenes-12/scenes/scene_003/frames") == 12
    assert rendered_scenes("../clips/a.mp4") is None and rendered_scenes("default-input/other/x") is None
    assert rendered_scenes("") is None


def test_scene_frames_are_deleted_after_extraction_unless_kept_and_a_rerun_reads_no_source(
    monkeypatch, tmp_path, capsys
):
    _tiny_input(monkeypatch)
    bench = tmp_path / "bench"
    default_input_benchmark(bench, per_bin=4, workers=1, progress=True)
    work = bench / "default-input" / "seed-0"
    assert not (work / "scenes").exists() and (work / "raw" / "split.json").is_file()
    stages = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert stages == [
        "[1/4] render scenes: 2 of 4 frames at 160x120",
        "[2/4] extract masks: 6 pairs",
        "[3/4] split: 1 test and 1 train scenes",
        "[4/4] build benchmark: 48 masks of 512 px",
    ]
    for stage in ("render_scenes", "extract_pool", "split_pool"):  # the finished pool is not redone
        monkeypatch.setattr(
            pconv.maskgen.sets.default_input, stage, lambda *a, name=stage, **k: pytest.fail(name)
        )
    default_input_benchmark(bench, per_bin=4, workers=1, progress=True)
    assert "[1-3/4] raw pool " in capsys.readouterr().err
    kept = tmp_path / "kept"
    monkeypatch.undo()
    _tiny_input(monkeypatch)
    default_input_benchmark(kept, per_bin=4, workers=1, keep_scenes=True)
    assert len(list((kept / "default-input" / "seed-0" / "scenes").glob("scene_*/frames/*.png"))) == 8


def test_a_small_benchmark_from_the_real_default_input(tmp_path, capsys):
    """`--per-bin 5`: 12 scenes whose test split holds more distinct raw masks than the 60 masks, every bin
    filled, frames deleted; a re-run says it is complete and returns at once."""
    bench = tmp_path / "bench"
    default_input_benchmark(bench, per_bin=5, workers=2)
    raw = bench / "default-input" / "seed-0-scenes-12" / "raw"
    assert len(RawPool(raw).records_in("test")) >= 60
    assert not (raw.parent / "scenes").exists()
    rows = (bench / "manifest.csv").read_text().splitlines()[1:]
    assert len(rows) == 60
    default_input_benchmark(bench, per_bin=5, workers=2, progress=True)
    assert capsys.readouterr().err == f"{bench} already holds this benchmark, complete: nothing to do\n"


def test_a_small_benchmark_built_from_the_full_input_before_scaling_is_still_found_complete(
    monkeypatch, tmp_path, capsys
):
    """Before scaling, `--per-bin 5` used the full default input in seed-0/: a re-run must not render a
    scaled input and then refuse the folder for its other pool digest."""
    for name, value in (("DEFAULT_SCENES", 3), ("MIN_SCENES", 1), ("DEFAULT_FRAMES", 4)):
        monkeypatch.setattr(pconv.maskgen.sets.default_input, name, value)
    monkeypatch.setattr(pconv.maskgen.sets.default_input, "DEFAULT_SCENE_SIZE", (160, 120))
    small = {"per_bin": 1, "size": 64, "border": 4, "augment": AugmentConfig(dilation=(1, 16))}
    bench = tmp_path / "bench"
    assert scenes_for(12) == 1 and default_input_folder(bench, count=12).name == "seed-0-scenes-1"
    raw = pconv.maskgen.sets.default_input.default_input_pool(bench / "default-input" / "seed-0", workers=1)
    build_benchmark(raw, bench, workers=1, **small)  # what the earlier version did
    for stage in ("render_scenes", "extract_pool", "split_pool"):
        monkeypatch.setattr(
            pconv.maskgen.sets.default_input, stage, lambda *a, name=stage, **k: pytest.fail(name)
        )
    default_input_benchmark(bench, workers=1, progress=True, **small)
    assert capsys.readouterr().err == f"{bench} already holds this benchmark, complete: nothing to do\n"
    assert not (bench / "default-input" / "seed-0-scenes-1").exists()
