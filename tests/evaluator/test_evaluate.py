import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from pconv.core.files import sha256_file
from pconv.core.masks import read_mask_png
from pconv.core.sharding import Shard
from pconv.datasets import load_image
from pconv.evaluator import store
from pconv.evaluator.evaluate import EvalConfig, evaluate, write_report


class UniformClassifier(nn.Module):
    """Predicts the uniform distribution over 5 classes; its features are the image's channel means."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return images.mean((2, 3)), torch.zeros(images.shape[0], 5)


def config_for(photos, bench, out, methods=("telea", "ns"), **extra) -> EvalConfig:
    return EvalConfig(
        images=f"folder:{photos}", masks=bench, methods=tuple(methods), out=out, seed=3, batch_size=5, **extra
    )


def test_single_run_writes_table1(photos, bench, tmp_path):
    out = tmp_path / "report"
    table = evaluate(config_for(photos, bench, out), progress=False)
    assert table == (out / "table1.md").read_text()
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("| Metric"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == [
        "Metric",
        "Method",
        "(0.01,0.1] N",
        "(0.01,0.1] B",
        "(0.1,0.2] N",
        "(0.1,0.2] B",
        "(0.2,0.3] N",
        "(0.2,0.3] B",
        "(0.3,0.4] N",
        "(0.3,0.4] B",
        "(0.4,0.5] N",
        "(0.4,0.5] B",
        "(0.5,0.6] N",
        "(0.5,0.6] B",
        "all",
    ]
    assert "| n | | " + " | ".join(["2"] * 12 + ["24"]) + " |" in lines
    rows = [line.split("|")[1:3] for line in lines if line.startswith("| ") and "Method" not in line]
    assert [(m.strip(), n.strip()) for m, n in rows[1:]] == [
        ("ℓ1 (%)", "telea"),
        ("ℓ1 (%)", "ns"),
        ("PSNR (dB)", "telea"),
        ("PSNR (dB)", "ns"),
        ("SSIM", "telea"),
        ("SSIM", "ns"),
    ]
    assert "IS, FID, KID, P-IDS and U-IDS left out: no Inception weights" in table
    assert "LPIPS left out: no backbone weights" in table
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
    assert csv_lines[0] == "method,metric,grouping,group,n,value,std"
    assert len(csv_lines) == 1 + 2 * 3 * 13
    assert sorted(p.name for p in (out / "grids").glob("*.png")) == [f"bin{k}.png" for k in range(1, 7)]
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
    for name in ("results.json", "table1.md", "results.csv", "index.html"):
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
    for name in ("results.json", "results.csv", "index.html"):
        assert (out / name).read_bytes() == (single / name).read_bytes()
    for k in range(1, 7):
        assert (out / "grids" / f"bin{k}.png").read_bytes() == (single / "grids" / f"bin{k}.png").read_bytes()
    for metric in ("l1", "psnr", "ssim"):
        assert (out / "plots" / f"{metric}.png").read_bytes() == (
            single / "plots" / f"{metric}.png"
        ).read_bytes()


def test_plots_and_labelled_grids(photos, bench, tmp_path):
    out = tmp_path / "report"
    evaluate(config_for(photos, bench, out), progress=False)
    assert sorted(path.name for path in (out / "plots").iterdir()) == ["l1.png", "psnr.png", "ssim.png"]
    plot = cv2.imread(str(out / "plots" / "psnr.png"))
    assert plot.shape == (400, 700, 3) and (plot < 128).any()
    grid = cv2.imread(str(out / "grids" / "bin1.png"))
    # title and column names (2 × 28 px), then 4 rows of a 64-px tile with a 28-px PSNR line under it;
    # a 110-px label column, then input, telea, ns and the ground truth
    assert grid.shape == (2 * 28 + 4 * (64 + 28), 110 + 4 * 64, 3)
    assert (grid[:28] < 128).any()  # the title
    for row in range(4):
        top = 56 + row * 92
        assert (grid[top : top + 64, :110] < 128).any()  # pair, split and hole ratio
        assert (grid[top + 64 : top + 92, 110 + 64 : 110 + 192] < 128).any()  # each method's PSNR
        assert not (grid[top + 64 : top + 92, 110 : 110 + 64] < 128).any()  # none under the input


def test_distribution_metrics_only_for_groups_of_the_minimum_size(photos, bench, tmp_path):
    out = tmp_path / "report"
    table = evaluate(
        config_for(photos, bench, out, methods=["telea"]), extractor=UniformClassifier(), progress=False
    )
    results = json.loads((out / "results.json").read_text())
    for cell in results["table"]["telea"].values():  # 2 or 24 pairs: below the default 100
        assert cell["is"] is None and cell["fid"] is None and cell["kid"] is None and cell["pids"] is None
    for label in ("IS", "FID", "KID", "P-IDS", "U-IDS"):
        assert f"| {label} | telea | " + " | ".join(["–"] * 13) + " |" in table
    assert "– for IS, FID, KID, P-IDS and U-IDS: the group has fewer than 100 pairs" in table
    out = tmp_path / "small"
    evaluate(
        config_for(photos, bench, out, methods=["telea"], min_group_pairs=20),
        extractor=UniformClassifier(),
        progress=False,
    )
    results = json.loads((out / "results.json").read_text())
    overall = results["table"]["telea"]["all"]  # 24 pairs >= 20
    assert overall["is"] == pytest.approx(1.0) and overall["is_std"] == pytest.approx(0.0, abs=1e-12)
    assert overall["fid"] >= 0 and 0 <= overall["pids"] <= 1 and 0 <= overall["uids"] <= 1
    assert results["table"]["telea"]["(0.5,0.6] B"]["is"] is None


def test_growing_grids_on_resume_redraws_only_the_samples(photos, bench, tmp_path):
    out = tmp_path / "report"
    evaluate(config_for(photos, bench, out, methods=["telea"], grid_pairs=1), progress=False)
    metrics = dict(store.read_metrics(out))
    evaluate(config_for(photos, bench, out, methods=["telea"], grid_pairs=2), progress=False)
    assert store.read_metrics(out) == metrics
    assert (
        len(list((out / "grids" / "samples" / "telea").iterdir())) == 24
    )  # every pair of 2-pair cells is shown
    assert len(store.metrics_path(out, Shard()).read_text().splitlines()) == 24  # none written twice


def test_resume_refuses_other_inception_weights_or_a_changed_checkpoint(photos, bench, tmp_path, checkpoint):
    out = tmp_path / "report"
    evaluate(
        config_for(photos, bench, out, methods=["telea"], inception_weights=None),
        extractor=UniformClassifier(),
        progress=False,
    )
    config = json.loads((out / "config.json").read_text())
    config["inception"] = {"network": "inception-v3-compat", "file": "other.pth", "sha256": "0123"}
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="its inception scores come from inception-v3-compat weights other"):
        evaluate(
            config_for(photos, bench, out, methods=["telea"]), extractor=UniformClassifier(), progress=False
        )
    model = checkpoint("pconv")
    scored = tmp_path / "scored"
    evaluate(config_for(photos, bench, scored, methods=[f"pconv:{model}"]), progress=False)
    assert json.loads((scored / "config.json").read_text())["fingerprints"] == {
        f"pconv:{model}": {"checkpoint_sha256": sha256_file(model)}
    }
    retrained = checkpoint("pconv", seed=1)
    model.write_bytes(retrained.read_bytes())
    with pytest.raises(ValueError, match=f"method pconv:{model} was scored with another version"):
        evaluate(config_for(photos, bench, scored, methods=[f"pconv:{model}"]), progress=False)


def test_methods_whose_sample_folders_collide_are_refused(photos, bench, tmp_path):
    for name in ("a b", "a_b"):
        (tmp_path / name).mkdir()
    with pytest.raises(ValueError, match="would share the sample folder"):
        evaluate(
            config_for(
                photos,
                bench,
                tmp_path / "report",
                methods=[f"folder:{tmp_path}/a b", f"folder:{tmp_path}/a_b"],
            ),
            progress=False,
        )


def test_features_missing_for_some_methods_are_explained(photos, bench, tmp_path):
    out = tmp_path / "report"
    evaluate(config_for(photos, bench, out, methods=["telea"]), extractor=UniformClassifier(), progress=False)
    table = evaluate(config_for(photos, bench, out, methods=["ns"]), progress=False)
    assert "IS, FID, KID, P-IDS and U-IDS left out: some methods were scored in a run without" in table


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
    with pytest.raises(ValueError, match="holds other image-mask pairs"):
        evaluate(other, progress=False)


ONE_GPU_MACHINE = """\
import torch

torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1


def _queried(*args, **kwargs):
    raise RuntimeError("a CPU rank queried the accelerator")


torch._C._get_accelerator = _queried
"""


def torchrun_eval(photos, bench, out, tmp_path, device):
    """``torchrun --nproc-per-node 2 pconv eval`` on a machine that looks like it has one GPU (on any
    machine: CUDA's answers are faked, and asking torch for the accelerator fails)."""
    fake = tmp_path / "one-gpu"
    fake.mkdir(exist_ok=True)
    (fake / "sitecustomize.py").write_text(ONE_GPU_MACHINE)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "pconv.cli",
        "-q",
        "eval",
        "--images",
        f"folder:{photos}",
        "--masks",
        str(bench),
        "--method",
        "telea",
        "--out",
        str(out),
        "--seed",
        "3",
        "--batch-size",
        "5",
        "--device",
        device,
    ]
    paths = [str(fake), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)


def test_torchrun_two_ranks_equal_single_run(photos, bench, tmp_path):
    """Two CPU ranks under torchrun split the pairs; rank 0 writes the report a single run writes. The
    machine looks like it has one GPU: CPU ranks must not touch it."""
    single = tmp_path / "single"
    evaluate(config_for(photos, bench, single, methods=["telea"]), progress=False)
    out = tmp_path / "torchrun"
    result = torchrun_eval(photos, bench, out, tmp_path, "cpu")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == (single / "table1.md").read_text().replace(str(single), str(out))
    shards = sorted(p.name for p in (out / "per_pair").iterdir())
    assert shards == ["shard-1-of-2.jsonl", "shard-2-of-2.jsonl"]
    assert (out / "results.json").read_text() == (single / "results.json").read_text()


def test_torchrun_with_more_ranks_than_gpus_is_one_line(photos, bench, tmp_path):
    result = torchrun_eval(photos, bench, tmp_path / "report", tmp_path, "auto")
    assert result.returncode != 0
    wanted = (
        "Error: 2 processes on this machine but 1 CUDA device(s), one each wanted: start at most 1 "
        "(torchrun --nproc-per-node 1) or pass --device cpu\n"
    )
    # Each rank says it in one line before touching the GPU; the first rank to exit makes torchrun
    # stop the other, which may not have spoken yet.
    assert 1 <= result.stderr.count(wanted) <= 2
    assert "exitcode  : 1 " in result.stderr  # the root cause is our clean exit, not a crash
    assert result.stderr.count("Traceback (most recent call last)") == 1  # torchrun's own; no rank's
    assert not (tmp_path / "report").exists()
