import csv
import json
import re
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from pconv import cli

SMALL = ["--per-bin", "2", "--size", "128", "--border", "12", "--dilation", "2", "12", "--workers", "1"]


def _run(*args):
    return CliRunner().invoke(cli.main, ["--quiet", "masks", *map(str, args)])


def test_benchmark_publish_verify_round_trip(raw_pool, tmp_path):
    bench, dist = tmp_path / "bench", tmp_path / "dist"
    result = _run("benchmark", "--raw", raw_pool, "--out", bench, *SMALL)
    assert result.exit_code == 0, result.output
    took = r"in \d+ s\n"  # the time a command took ends its summary line
    assert re.fullmatch(
        rf"benchmark of 24 masks \(masks/, manifest.csv, masks.h5\) in {bench} {took}", result.output
    )
    assert len(list((bench / "masks").iterdir())) == 24
    again = CliRunner().invoke(
        cli.main, ["masks", "benchmark", "--raw", str(raw_pool), "--out", str(bench), *SMALL]
    )
    assert (
        again.exit_code == 0
        and again.stderr == f"{bench} already holds this benchmark, complete: nothing to do\n"
    )
    assert not (bench / ".pconv.lock").exists()  # the lock lives only while its writer runs
    (bench / ".pconv.lock").write_text("12345\n")  # as a kill -9 leaves it: neither a stray nor published
    assert _run("verify", bench).exit_code == 0
    published = _run("publish", bench, "--out", dist).output
    size = sum(path.stat().st_size for path in dist.rglob("*") if path.is_file()) / 1e6
    files = sum(1 for path in dist.rglob("*") if path.is_file())
    assert published.startswith(
        "release of 24 masks (PNGs, masks.h5; README.md dataset card, index.html, SHA256SUMS, contact "
        f"sheets, histogram) in {dist}: {files} files, {size:.1f} MB, in "
    )
    assert re.search(took, published)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bench", "dist", "raw"]
    result = _run("verify", dist)
    assert result.exit_code == 0 and re.search(
        rf"\n{re.escape(str(dist))}: every check passed {took}$", result.output
    )
    checks = result.output.splitlines()[:-1]
    assert checks[0] == f"  ok  checksums: {files - 1} files against SHA256SUMS, none unlisted"
    assert "  ok  counts and order: 6 bins x 2 splits x 2 masks, bins ascending, N before B" in checks
    assert "  ok  border: 12 N masks without a hole within 12 px of the edge, 12 B masks with one" in checks
    assert "  ok  duplicates: none among 24 masks" in checks


def test_a_benchmark_inside_another_is_refused(raw_pool, tmp_path):
    bench = tmp_path / "bench"
    assert _run("benchmark", "--raw", raw_pool, "--out", bench, *SMALL).exit_code == 0
    result = _run("benchmark", "--raw", raw_pool, "--out", bench / "inner", *SMALL)
    assert result.exit_code == 1
    assert (
        result.output
        == f"Error: {bench / 'inner'}: lies inside the mask set {bench}; choose a folder outside it\n"
    )
    assert not (bench / "inner").exists()


def test_verify_lists_each_violation_and_fails(raw_pool, tmp_path):
    bench = tmp_path / "bench"
    _run("benchmark", "--raw", raw_pool, "--out", bench, *SMALL)
    (bench / "masks" / "00003.png").unlink()
    result = _run("verify", bench)
    assert result.exit_code == 1
    assert result.output == f"masks/00003.png: missing\nError: 1 violation in {bench}\n"


def test_a_different_benchmark_in_the_folder_is_a_one_line_error(raw_pool, tmp_path):
    bench = tmp_path / "bench"
    _run("benchmark", "--raw", raw_pool, "--out", bench, *SMALL)
    result = _run("benchmark", "--raw", raw_pool, "--out", bench, *SMALL, "--seed", "3")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {bench} already holds a different benchmark (differs in: seed); "
        "pass --overwrite to replace it\n"
    )
    result = _run("benchmark", "--raw", raw_pool, "--out", bench, *SMALL, "--seed", "3", "--overwrite")
    assert result.exit_code == 0


def test_bad_pools_are_one_line_errors(tmp_path):
    result = _run("benchmark", "--raw", tmp_path / "nothing", "--out", tmp_path / "bench", *SMALL)
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'nothing'}: no such raw mask pool folder\n"
    (tmp_path / "foreign").mkdir()
    result = _run("benchmark", "--raw", tmp_path / "foreign", "--out", tmp_path / "bench", *SMALL)
    assert result.exit_code == 1 and "not a raw mask pool" in result.output
    assert not (tmp_path / "bench").exists()


def test_a_non_binary_raw_mask_is_binarized_and_an_unreadable_one_is_named(raw_pool, tmp_path):
    path = raw_pool / "masks" / "000007.png"
    grey = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(path), np.where(grey > 0, 200, 40).astype(np.uint8))  # split at 128: same holes
    assert _run("benchmark", "--raw", raw_pool, "--out", tmp_path / "ok", *SMALL).exit_code == 0
    path.write_bytes(b"broken")
    result = _run("benchmark", "--raw", raw_pool, "--out", tmp_path / "bad", *SMALL)
    assert (
        result.exit_code == 1
        and result.output
        == f"Error: {path}: not a readable image (no PNG, JPEG, BMP, WebP, TIFF or PPM header)\n"
    )


def test_stats_and_bin_read_either_convention(tmp_path):
    folder = tmp_path / "qd"
    folder.mkdir()
    valid = np.full((64, 64), 255, np.uint8)
    valid[20:40, 20:40] = 0  # dark = hole: 400 px = 0.098
    cv2.imwrite(str(folder / "m.png"), valid)
    result = _run("stats", folder, "--hole-value", "0", "--border", "10", "--csv", tmp_path / "m.csv")
    assert result.exit_code == 0
    assert "(0.01,0.1]  N            1   0.0977   0.0977   0.0977     0.0%            20.0" in result.output
    assert "m.png,64,64,0.09765625,20,0,N" in (tmp_path / "m.csv").read_text()
    result = _run("bin", folder, "--out", tmp_path / "binned", "--hole-value", "0", "--border", "10")
    assert result.output.startswith(f"1 masks sorted into {tmp_path / 'binned'}: 1 in bins, 0 outside in ")
    assert (tmp_path / "binned" / "bin1_0.01-0.1" / "N" / "m.png").is_file()
    result = _run("stats", folder)  # read as 255 = hole the same file is 90 % hole
    assert "outside the bins: 1 (ratios 0.9023 to 0.9023)" in result.output


def test_export_train_writes_a_mask_set(raw_pool, tmp_path):
    out = tmp_path / "train"
    result = _run(
        "export-train",
        "--raw",
        raw_pool,
        "--count",
        "5",
        "--out",
        out,
        "--size",
        "64",
        "--dilation",
        "1",
        "4",
        "--workers",
        "1",
    )
    assert result.exit_code == 0 and result.output.startswith(f"5 training masks in {out} in ")
    assert sorted(path.name for path in (out / "masks").iterdir()) == [f"{i:05d}.png" for i in range(5)]
    assert (out / "manifest.csv").read_text().startswith("file,hole_ratio,border_distance,raw_id,")


def test_export_train_writes_webdataset_shards_in_manifest_order(raw_pool, tmp_path):
    import webdataset

    out = tmp_path / "train"
    options = ["export-train", "--raw", raw_pool, "--count", "5", "--out", out, "--size", "64"]
    result = _run(*options, "--webdataset", "--shard-masks", "2")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"3 WebDataset shards in {out / 'webdataset'}\n5 training masks in {out} in "
    )
    shards = sorted(str(path) for path in (out / "webdataset").iterdir())
    assert [Path(path).name for path in shards] == [f"masks-00000{k}.tar" for k in range(3)]
    samples = list(webdataset.WebDataset(shards, shardshuffle=False))
    with open(out / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [sample["__key__"] for sample in samples] == [f"masks/{i:05d}" for i in range(5)]
    for sample, row in zip(samples, rows, strict=True):
        fields = json.loads(sample["json"])
        assert sample["png"] == (out / row["file"]).read_bytes()
        assert fields["hole_ratio"] == float(row["hole_ratio"]) and fields["raw_id"] == int(row["raw_id"])
        assert fields["source"] == row["source"] and "sha256" not in fields
    assert _run(*options, "--overwrite").exit_code == 0
    assert not (out / "webdataset").exists()  # --overwrite clears the old shards with the rest of the set


def test_min_component_reaches_the_build_and_is_recorded(raw_pool, tmp_path):
    bench = tmp_path / "bench"
    result = _run("benchmark", "--raw", raw_pool, "--out", bench, *SMALL, "--min-component", "0")
    assert result.exit_code == 0, result.output
    assert json.loads((bench / "build.json").read_text())["params"]["min_component"] == 0
    other = tmp_path / "other"
    refused = _run("benchmark", "--raw", raw_pool, "--out", other, *SMALL, "--min-component", "-3")
    assert refused.exit_code == 1 and len(refused.output.splitlines()) == 1
    assert "--min-component" in refused.output and not other.exists()
