import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from datasets import load_image
from evaluator import store
from evaluator.evaluate import EvalConfig, evaluate, write_report
from maskgen.fileio import read_mask_png
from maskgen.sharding import Shard


class UniformClassifier(nn.Module):
    """Predicts the uniform distribution over 5 classes; its features are the image's channel means."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return images.mean((2, 3)), torch.zeros(images.shape[0], 5)


def config_for(photos, bench, out, methods=("telea", "ns"), **extra) -> EvalConfig:
    return EvalConfig(images=f"folder:{photos}", masks=bench, methods=tuple(methods), out=out, seed=3,
                      batch_size=5, **extra)


def test_single_run_writes_table1(photos, bench, tmp_path):
    out = tmp_path / "report"
    table = evaluate(config_for(photos, bench, out), progress=False)
    assert table == (out / "table1.md").read_text()
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("| Metric"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == ["Metric", "Method", "(0.01,0.1] N", "(0.01,0.1] B", "(0.1,0.2] N", "(0.1,0.2] B",
                       "(0.2,0.3] N", "(0.2,0.3] B", "(0.3,0.4] N", "(0.3,0.4] B", "(0.4,0.5] N",
                       "(0.4,0.5] B", "(0.5,0.6] N", "(0.5,0.6] B", "all"]
    assert "| n | | " + " | ".join(["2"] * 12 + ["24"]) + " |" in lines
    rows = [line.split("|")[1:3] for line in lines if line.startswith("| ") and "Method" not in line]
    assert [(m.strip(), n.strip()) for m, n in rows[1:]] == [
        ("ℓ1 (%)", "telea"), ("ℓ1 (%)", "ns"), ("PSNR (dB)", "telea"), ("PSNR (dB)", "ns"),
        ("SSIM", "telea"), ("SSIM", "ns")]
    assert "IS and FID skipped: no Inception-v3 weights" in table
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["methods"] == ["telea", "ns"] and results["config"]["seed"] == 3
    assert {"torch", "opencv", "pconv-toolkit"} <= set(results["versions"])
    assert results["ssim_settings"] == {"window": 11, "sigma": 1.5, "k1": 0.01, "k2": 0.03, "data_range": 1.0}
    cell = results["table"]["telea"]["(0.5,0.6] B"]
    assert cell["n"] == 2 and 0 < cell["l1"] < 100 and 0 < cell["ssim"] <= 1 and "is" not in cell
    # bigger holes, bigger error: the all-pairs mean lies between the first and last bin's
    first, last = results["table"]["telea"]["(0.01,0.1] N"], results["table"]["telea"]["(0.5,0.6] N"]
    assert first["l1"] < results["table"]["telea"]["all"]["l1"] < last["l1"]
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0] == "method,metric,bin,bin_label,split,n,value,std"
    assert len(csv_lines) == 1 + 2 * 3 * 13
    assert sorted(p.name for p in (out / "grids").iterdir()) == [f"bin{k}.png" for k in range(1, 7)]
    per_pair = store.read_metrics(out)
    assert len(per_pair) == 2 * 24
    record = per_pair[("telea", 0)]
    assert {"image", "mask", "bin", "split", "l1", "psnr", "ssim"} <= set(record)


def test_valid_pixels_come_from_the_input(photos, bench, tmp_path):
    """A method returning black everywhere is scored on its composite, which keeps the valid pixels."""
    folder = tmp_path / "black"
    folder.mkdir()
    for pair in range(24):
        cv2.imwrite(str(folder / f"{pair:05d}.png"), np.zeros((64, 64, 3), np.uint8))
    out = tmp_path / "report"
    evaluate(config_for(photos, bench, out, methods=[f"folder:{folder}"]), progress=False)
    records = store.read_metrics(out)
    for pair in (0, 23):
        record = records[(f"folder:{folder}", pair)]
        hole = read_mask_png(bench / record["mask"])
        image = load_image(photos / record["image"], size=64)
        expected = float((image * torch.from_numpy(hole)).abs().mean() * 100)
        assert record["l1"] == pytest.approx(expected, rel=1e-5)


def test_resume_skips_done_pairs_and_equals_single_run(photos, bench, tmp_path):
    single = tmp_path / "single"
    evaluate(config_for(photos, bench, single), progress=False)
    out = tmp_path / "interrupted"
    config = config_for(photos, bench, out)
    evaluate(config, progress=False)
    path = store.metrics_path(out, Shard())
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:17]) + lines[17][:30])  # interrupted in the middle of a line
    (out / "table1.md").unlink()
    evaluate(config, progress=False)
    assert len(path.read_text().splitlines()) == 48
    before = path.read_bytes()
    evaluate(config, progress=False)  # nothing left to do
    assert path.read_bytes() == before
    for name in ("results.json", "table1.md", "results.csv"):
        assert (out / name).read_text() == (single / name).read_text().replace(str(single), str(out))


def test_shards_and_merge_equal_single_run(photos, bench, tmp_path):
    single = tmp_path / "single"
    evaluate(config_for(photos, bench, single), progress=False)
    out = tmp_path / "sharded"
    for k in (1, 2, 3):
        assert evaluate(config_for(photos, bench, out), shard=Shard(k, 3), progress=False) is None
    partial = tmp_path / "partial"
    evaluate(config_for(photos, bench, partial), shard=Shard(1, 2), progress=False)
    with pytest.raises(ValueError, match=r"method telea lacks 12 of 24 pairs \(first: pair 12\)"):
        write_report(partial, progress=False)
    markdown = write_report(out, progress=False)
    assert markdown == (single / "table1.md").read_text()
    for name in ("results.json", "results.csv"):
        assert (out / name).read_bytes() == (single / name).read_bytes()
    for k in range(1, 7):
        assert (out / "grids" / f"bin{k}.png").read_bytes() == (single / "grids" / f"bin{k}.png").read_bytes()


def test_uniform_classifier_gives_inception_score_one(photos, bench, tmp_path):
    out = tmp_path / "report"
    table = evaluate(config_for(photos, bench, out, methods=["telea"]), extractor=UniformClassifier(),
                     progress=False)
    results = json.loads((out / "results.json").read_text())
    for cell in results["table"]["telea"].values():
        assert cell["is"] == pytest.approx(1.0) and cell["is_std"] == pytest.approx(0.0, abs=1e-12)
        assert cell["fid"] >= 0
    assert "| IS | telea | 1.000 ± 0.000 |" in table
    assert "| FID | telea |" in table and "IS and FID skipped" not in table


def test_model_methods(photos, bench, tmp_path, checkpoint):
    pconv = checkpoint("pconv")
    out = tmp_path / "report"
    evaluate(config_for(photos, bench, out, methods=[f"pconv:{pconv}"]), progress=False)
    records = store.read_metrics(out)
    assert len(records) == 24 and all(np.isfinite(r["l1"]) for r in records.values())
    with pytest.raises(ValueError, match=f"a pconv checkpoint, but the method is conv: use pconv:{pconv}"):
        evaluate(config_for(photos, bench, tmp_path / "other", methods=[f"conv:{pconv}"]), progress=False)


def test_other_pairs_in_the_same_folder_are_refused(photos, bench, tmp_path):
    out = tmp_path / "report"
    evaluate(config_for(photos, bench, out, methods=["telea"]), progress=False)
    other = EvalConfig(images=f"folder:{photos}", masks=bench, methods=("telea",), out=out, seed=4)
    with pytest.raises(ValueError, match="holds an evaluation of other image-mask pairs"):
        evaluate(other, progress=False)


def test_torchrun_two_ranks_equal_single_run(photos, bench, tmp_path):
    """Two CPU ranks under torchrun split the pairs; rank 0 writes the report a single run writes."""
    single = tmp_path / "single"
    evaluate(config_for(photos, bench, single, methods=["telea"]), progress=False)
    out = tmp_path / "torchrun"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(Path(sys.executable).with_name("pconv")), "-q", "eval", "--images", f"folder:{photos}",
               "--masks", str(bench), "--method", "telea", "--out", str(out), "--seed", "3",
               "--batch-size", "5", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == (single / "table1.md").read_text().replace(str(single), str(out))
    shards = sorted(p.name for p in (out / "per_pair").iterdir())
    assert shards == ["shard-1-of-2.jsonl", "shard-2-of-2.jsonl"]
    assert (out / "results.json").read_text() == (single / "results.json").read_text()
