import json

import pconv.maskgen.sets.default_input
import pytest
from click.testing import CliRunner
from pconv import cli
from pconv.maskgen.raw.pool import RawPool
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.default_input import default_input_benchmark


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
    assert result.exit_code == 0 and result.output == f"benchmark of 60 masks in {tmp_path / 'b'}\n"
    assert seen["out"] == tmp_path / "b" and seen["per_bin"] == 5 and seen["augment"] is None


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
