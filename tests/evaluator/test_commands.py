import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from pconv import cli
from pconv.core.masks import read_mask_png
from pconv.datasets import load_image


def run(*args: str):
    return CliRunner().invoke(cli.main, ["-q", *args])


def test_eval_needs_its_options():
    result = run("eval", "--method", "telea")
    assert result.exit_code == 1
    assert result.output == "Error: missing --images, --masks, --out\n"


def test_unknown_method_is_one_line(photos, bench, tmp_path):
    result = run(
        "eval",
        "--images",
        f"folder:{photos}",
        "--masks",
        str(bench),
        "--method",
        "lama",
        "--out",
        str(tmp_path / "report"),
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: unknown method 'lama'; use telea, ns, folder:DIR, pconv:CHECKPOINT or conv:CHECKPOINT\n"
    )


def test_folder_method_with_missing_output(photos, bench, tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    result = run(
        "eval",
        "--images",
        f"folder:{photos}",
        "--masks",
        str(bench),
        "--method",
        f"folder:{outputs}",
        "--out",
        str(tmp_path / "report"),
    )
    assert result.exit_code == 1
    assert result.output == (
        f"Error: folder:{outputs}: no output for 24 of 24 pairs, first pair 0 "
        f"({outputs}/00000.png); outputs are named by their pair's index in the "
        "evaluation's pairs.json\n"
    )


def test_shards_then_merge(photos, bench, tmp_path):
    out = tmp_path / "report"
    common = [
        "eval",
        "--images",
        f"folder:{photos}",
        "--masks",
        str(bench),
        "--method",
        "telea",
        "--out",
        str(out),
        "--device",
        "cpu",
    ]
    first = run(*common, "--shard", "1/2")
    assert first.exit_code == 0, first.output
    assert first.output == f"shard 1/2 done; when every shard is, run: pconv eval merge {out}\n"
    early = run("eval", "merge", str(out))
    assert early.exit_code == 1
    assert early.output == (
        f"Error: {out}: method telea lacks 12 of 24 pairs (first: pair 12); run the "
        "missing shards before merging\n"
    )
    assert run(*common, "--shard", "2/2").exit_code == 0
    merged = run("eval", "merge", str(out))
    assert merged.exit_code == 0, merged.output
    assert merged.output == (out / "table1.md").read_text()
    assert json.loads((out / "results.json").read_text())["table"]["telea"]["all"]["n"] == 24


def test_merge_of_a_foreign_folder(tmp_path):
    result = run("eval", "merge", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path}: not an evaluation folder (no config.json); run `pconv eval` first\n"
    )


def test_exported_inputs_are_the_evaluated_pairs(photos, bench, tmp_path):
    exported = tmp_path / "inputs"
    common = ["--images", f"folder:{photos}", "--masks", str(bench)]
    result = run("eval", "inputs", *common, "--out", str(exported), "--seed", "3")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"24 pairs -> {exported}/images and {exported}/masks")
    pairs = json.loads((exported / "pairs.json").read_text())["pairs"]
    photo, mask = pairs[0]
    hole = read_mask_png(bench / mask)
    assert np.array_equal(read_mask_png(exported / "masks" / "00000.png"), hole)
    truth = load_image(photos / photo, size=64).permute(1, 2, 0).numpy()
    expected = (truth * 255).round()
    expected[hole] = 255
    image = cv2.imread(str(exported / "images" / "00000.png"))[..., ::-1]
    assert np.array_equal(image, expected.astype(np.uint8))
    # scored as a folder method, the exported images are "fill the holes with white" on the same pairs
    report = tmp_path / "report"
    result = run(
        "eval", *common, "--method", f"folder:{exported / 'images'}", "--out", str(report), "--seed", "3"
    )
    assert result.exit_code == 0, result.output
    assert json.loads((report / "pairs.json").read_text())["pairs"] == pairs
    lines = (report / "per_pair" / "shard-1-of-1.jsonl").read_text().splitlines()
    record = next(record for record in map(json.loads, lines) if record["pair"] == 0)
    assert record["l1"] == pytest.approx((1 - truth[hole]).sum() / truth.size * 100, rel=1e-5)
    again = run("eval", "inputs", *common, "--out", str(exported), "--seed", "4")
    assert again.exit_code == 1 and "holds other image-mask pairs" in again.output
