import json

import cv2
import numpy as np
import pytest
import torch
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
        "Error: unknown method 'lama'; use telea, ns, patchmatch, folder:DIR, pconv:CHECKPOINT or "
        "conv:CHECKPOINT\n"
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
    assert not (tmp_path / "report").exists()  # refused before anything was written
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


def _eval(photos, bench, out, *extra: str, method: str = "telea"):
    return run("eval", "--images", f"folder:{photos}", "--masks", str(bench), "--method", method,
               "--out", str(out), "--device", "cpu", *extra)  # fmt: skip


def test_every_bad_photo_is_named_in_one_line_before_anything_is_written(photos, bench, tmp_path):
    cv2.imwrite(str(photos / "grey.png"), np.full((72, 80), 90, np.uint8))
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "report"
    result = _eval(photos, bench, out)
    assert result.exit_code == 1
    assert result.output == (
        "Error: 2 bad photos: broken.jpg (not a readable image (UnidentifiedImageError)); grey.png (a grey "
        f"image (mode L)) in {photos}; or pass --skip-bad-images to leave them out\n"
    )
    assert not out.exists()
    skipped = _eval(photos, bench, out, "--skip-bad-images")
    assert skipped.exit_code == 0, skipped.output
    assert (
        "2 bad photos left out (--skip-bad-images; listed in pairs.json): broken.jpg, grey.png."
        in (out / "table1.md").read_text()
    )
    pairs = json.loads((out / "pairs.json").read_text())
    assert pairs["meta"]["skipped_photos"] == ["broken.jpg", "grey.png"]
    assert not {"broken.jpg", "grey.png"} & {image for image, _ in pairs["pairs"]}


def test_a_bad_mask_is_refused_with_the_benchmark_named(photos, bench, tmp_path):
    cv2.imwrite(str(bench / "masks" / "00003.png"), np.zeros((32, 32), np.uint8))
    result = _eval(photos, bench, tmp_path / "report")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: 1 bad mask: masks/00003.png (32x32, not 64x64) in {bench}; "
        f"see `pconv masks verify {bench}`\n"
    )


def test_overwrite_replaces_an_evaluation_of_other_pairs(photos, bench, tmp_path):
    out = tmp_path / "report"
    assert _eval(photos, bench, out).exit_code == 0
    (photos / "photo000.png").unlink()  # other photos: other pairs
    refused = _eval(photos, bench, out)
    assert refused.exit_code == 1 and "holds other image-mask pairs" in refused.output
    assert "pass --overwrite" in refused.output
    replaced = _eval(photos, bench, out, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    pairs = json.loads((out / "pairs.json").read_text())
    assert "photo000.png" not in {image for image, _ in pairs["pairs"]}
    assert pairs["meta"]["photos"] == 29
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    foreign = _eval(photos, bench, other, "--overwrite")
    assert foreign.exit_code == 1 and "is not an evaluation folder" in foreign.output
    assert (other / "notes.txt").read_text() == "mine"
    fresh = _eval(photos, bench, tmp_path / "new", "--overwrite")  # its own lock file is no foreign file
    assert fresh.exit_code == 0, fresh.output


def test_recorded_paths_do_not_depend_on_how_out_is_spelled(photos, bench, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _eval(photos, bench, "report").exit_code == 0
    assert _eval(photos, bench, tmp_path / "again" / ".." / "report2").exit_code == 0
    for name in ("pairs.json", "config.json", "table1.md"):
        assert (tmp_path / "report" / name).read_bytes() == (tmp_path / "report2" / name).read_bytes()
    assert json.loads((tmp_path / "report" / "pairs.json").read_text())["meta"]["masks"] == "../bench"


def test_compiled_model_method_scores_like_eager_and_is_recorded(
    photos, bench, checkpoint, tmp_path, monkeypatch
):
    """--compile on the CPU, through the aot_eager backend (no C++ compiler needed): the same table."""
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **options: real(fn, backend="aot_eager", **options))
    monkeypatch.setattr("pconv.core.compiling.compile_problem", lambda device: None)
    torch._dynamo.reset()
    model = checkpoint("pconv")
    tables = {}
    for flag in ("--compile", "--no-compile"):
        out = tmp_path / flag.strip("-")
        result = _eval(photos, bench, out, "--batch-size", "5", flag, method=f"pconv:{model}")
        assert result.exit_code == 0, result.output
        tables[flag] = result.output
        recorded = json.loads((out / "config.json").read_text())["method_notes"][f"pconv:{model}"]
        assert recorded.endswith("through torch.compile." if flag == "--compile" else "eagerly.")
    torch._dynamo.reset()
    assert tables["--compile"].replace("through torch.compile.", "eagerly.") == tables["--no-compile"]


def test_compile_without_a_compiler_is_one_line(photos, bench, checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", str(tmp_path / "absent-c++"))
    result = _eval(photos, bench, tmp_path / "report", "--compile", method=f"pconv:{checkpoint('pconv')}")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --compile: torch.compile on the CPU needs a C++ compiler; {tmp_path / 'absent-c++'} was "
        "not found (set CXX); run with --no-compile\n"
    )
    assert not (tmp_path / "report").exists()


def _snapshot(folder):
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_a_refused_second_eval_changes_nothing(photos, bench, tmp_path):
    """Issue 23, item 2: the second writer of one --out is refused before it reads or writes anything
    there, so the first one's output stays byte-identical to a solo run's."""
    import subprocess
    import sys

    solo, out = tmp_path / "solo", tmp_path / "report"
    assert _eval(photos, bench, solo).exit_code == 0
    assert _eval(photos, bench, out).exit_code == 0
    before = _snapshot(out)
    holder = subprocess.Popen(  # the first writer, still running: it holds its lock
        [
            sys.executable,
            "-c",
            "import sys; from pconv.core.locks import locked_folder\n"
            f"with locked_folder({str(out)!r}, name='.pconv-shard-1-of-1.lock'):\n"
            "    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        for extra in (["--seed", "1"], ["--overwrite"], []):
            second = _eval(photos, bench, out, *extra)
            assert second.exit_code == 1 and "in use by another writer" in second.output, second.output
    finally:
        holder.communicate("")
    assert _snapshot(out) == before
    assert _eval(photos, bench, out).exit_code == 0  # the first run, resumed, finds everything done
    assert _snapshot(out) == _snapshot(solo)


@pytest.mark.parametrize("where", ["photos", "photos/report", "bench", "."])
def test_eval_never_writes_into_its_inputs(photos, bench, tmp_path, where):
    """Issue 23, item 1: --out equal to, inside or containing --images or --masks is refused."""
    out = tmp_path / where
    for result in (
        _eval(photos, bench, out),
        run("eval", "inputs", "--images", f"folder:{photos}", "--masks", str(bench), "--out", str(out)),
    ):
        assert result.exit_code == 1 and "the output" in result.output and "the input" in result.output
    assert not (tmp_path / "photos" / "report").exists()
    assert not (photos / "pairs.json").exists() and not (bench / "pairs.json").exists()
