import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pconv.cli import main
from pconv.core.sharding import Shard
from pconv.evaluator import store
from pconv.evaluator.evaluate import EvalConfig, evaluate, write_report
from pconv.evaluator.subset import stratified_subset


def test_subset_is_stratified_seeded_and_proportional():
    cells = [(0, "N")] * 50 + [(0, "B")] * 30 + [(1, "N")] * 20
    chosen = stratified_subset(cells, 10, seed=1)
    assert len(chosen) == 10 and chosen == sorted(chosen)
    counts = [sum(cells[p] == cell for p in chosen) for cell in ((0, "N"), (0, "B"), (1, "N"))]
    assert counts == [5, 3, 2]
    assert stratified_subset(cells, 10, seed=1) == chosen and stratified_subset(cells, 10, seed=2) != chosen
    odd = stratified_subset([(0, "N")] * 3 + [(0, "B")] * 3 + [(1, "N")] * 3, 4, seed=0)
    assert len(odd) == 4  # remainders 1/3 each: the earlier cell gets the extra pair
    assert stratified_subset(cells, 500, seed=1) == list(range(100))
    with pytest.raises(ValueError, match="--max-pairs must be >= 1"):
        stratified_subset(cells, 0, seed=1)


def config_for(photos, bench, out, **extra):
    return EvalConfig(
        images=f"folder:{photos}", masks=bench, methods=("telea",), out=out, seed=3, max_pairs=12, **extra
    )


def test_a_subset_writes_the_whole_report_and_says_so(photos, bench, tmp_path):
    out = tmp_path / "report"
    table = evaluate(config_for(photos, bench, out), progress=False)
    results = json.loads((out / "results.json").read_text())
    assert results["table"]["telea"]["all"]["n"] == 12
    assert [results["table"]["telea"][g["key"]]["n"] for g in results["groups"][:-1]] == [1] * 12
    assert "(a subset of 12 of 24 pairs, seed 3)" in table.splitlines()[0]
    assert "A subset: 12 of the 24 pairs (--max-pairs 12, stratified over bin × N/B, seed 3)" in table
    subset = results["protocol"]["subset"]
    assert subset["pairs"] == 12 and subset["of"] == 24 and len(subset["sha256"]) == 64
    assert len(list((out / "grids").glob("bin*.png"))) == 6
    scored = {pair for _, pair in store.read_metrics(out)}
    assert scored == set(results["config"]["subset_pairs"])
    sharded = tmp_path / "sharded"
    for k in (1, 2):
        evaluate(config_for(photos, bench, sharded), shard=Shard(k, 2), progress=False)
    write_report(sharded, progress=False)
    for name in ("results.json", "results.csv", "table1.md"):
        assert (sharded / name).read_text() == (out / name).read_text()


def test_a_folder_method_needs_outputs_only_for_the_subset(photos, bench, tmp_path):
    out = tmp_path / "report"
    evaluate(config_for(photos, bench, out), progress=False)
    folder = tmp_path / "outputs"
    folder.mkdir()
    for pair in json.loads((out / "results.json").read_text())["config"]["subset_pairs"]:
        cv2.imwrite(str(folder / f"{pair:05d}.png"), np.zeros((64, 64, 3), np.uint8))
    result = CliRunner().invoke(
        main,
        [
            "-q",
            "eval",
            "--images",
            f"folder:{photos}",
            "--masks",
            str(bench),
            "--method",
            f"folder:{folder}",
            "--seed",
            "3",
            "--max-pairs",
            "12",
            "--out",
            str(tmp_path / "folder-report"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "a subset of 12 of 24 pairs" in result.output
