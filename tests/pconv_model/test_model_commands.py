"""The whole chain on the command line: import a release, describe it, inpaint with it, score it."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pconv import cli
from pconv.core.masks import write_mask_png

from ..evaluator.conftest import make_benchmark, make_photos
from .pretrained.conftest import write_mmagic, write_naoto0804

pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args: str):
    return CliRunner().invoke(cli.main, ["-q", *map(str, args)])


def test_import_info_inpaint_and_eval(tmp_path, monkeypatch):
    monkeypatch.delenv("PCONV_DEBUG", raising=False)
    src = write_mmagic(tmp_path / "pconv_places.pth", layers=4, seed=0)
    imported = run("model", "import", "--format", "mmagic", src, "--out", tmp_path / "places.pt")
    assert imported.exit_code == 0, imported.output
    assert imported.output == (
        "pconv_places.pth: its metadata holds numpy or datetime values; read allowing only those\n"
        f"wrote {tmp_path / 'places.pt'}: 4-layer PConv U-Net from mmagic, 500,000 training steps\n"
    )

    info = run("model", "info", tmp_path / "places.pt")
    assert info.exit_code == 0, info.output
    text = info.output
    assert (
        "architecture    PConvUNet (pconv), 4 layers, width 1.0, any H×W (padded to multiples of 16)\n"
        in text
    )
    assert "encoder         7×7→64, 5×5→128, 5×5→256, 3×3→512, stride 2\n" in text
    assert (
        "input           BGR, (x − mean) / std with x in [0, 1], mean (0.5, 0.5, 0.5), std (0.5, 0.5, 0.5)\n"
        in text
    )
    assert (
        "mask            1 = valid (tensors), files 255 = hole; the source's convention: 1 = hole at" in text
    )
    assert "provenance      mmagic file pconv_places.pth, sha256 " in text
    assert "training steps  500,000 (as recorded in the source file)\n" in text
    assert "image size      not recorded in the source file\n" in text

    rgb = np.random.default_rng(0).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    hole = np.zeros((37, 50), bool)
    hole[:10, 30:] = True  # touches the top and right edges
    write_mask_png(tmp_path / "mask.png", hole)
    filled = run(
        "inpaint",
        "--checkpoint",
        tmp_path / "places.pt",
        "--image",
        tmp_path / "photo.png",
        "--mask",
        tmp_path / "mask.png",
        "--out",
        tmp_path / "filled.png",
        "--device",
        "cpu",
    )
    assert filled.exit_code == 0, filled.output
    out = np.asarray(Image.open(tmp_path / "filled.png"))
    assert out.shape == rgb.shape and np.array_equal(out[~hole], rgb[~hole])

    photos, bench = make_photos(tmp_path / "photos"), make_benchmark(tmp_path / "bench")
    report = run(
        "eval",
        "--images",
        f"folder:{photos}",
        "--masks",
        bench,
        "--method",
        "telea",
        "--method",
        "ns",
        "--method",
        f"pconv:{tmp_path / 'places.pt'}",
        "--out",
        tmp_path / "report",
        "--device",
        "cpu",
    )
    assert report.exit_code == 0, report.output
    table = (tmp_path / "report" / "table1.md").read_text()
    assert f"pconv:{tmp_path / 'places.pt'}" in table and "telea" in table
    config = json.loads((tmp_path / "report" / "config.json").read_text())
    fingerprints = config["fingerprints"]  # a resumed run must score the same checkpoint file
    assert set(fingerprints[f"pconv:{tmp_path / 'places.pt'}"]) == {"checkpoint_sha256"}
    assert fingerprints["telea"] == {}


def test_naoto0804_import_and_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("PCONV_DEBUG", raising=False)
    src = write_naoto0804(tmp_path / "1000000.pth", layers=4)
    result = run("model", "import", "--format", "naoto0804", src, "--out", tmp_path / "naoto.pt")
    assert (
        result.output
        == f"wrote {tmp_path / 'naoto.pt'}: 4-layer PConv U-Net from naoto0804, 1,000,000 training steps\n"
    )
    info = run("model", "info", tmp_path / "naoto.pt").output
    assert "input           RGB, (x − mean) / std with x in [0, 1], mean (0.485, 0.456, 0.406)" in info

    wrong = run("model", "import", "--format", "mmagic", src, "--out", tmp_path / "x.pt")
    assert wrong.exit_code == 1
    assert wrong.output == (
        f"Error: {src}: looks like a naoto0804 checkpoint (weights under 'model'), not mmagic; "
        "use --format naoto0804\n"
    )
    missing = run("model", "import", "--format", "mmagic", tmp_path / "none.pth", "--out", tmp_path / "x.pt")
    assert (missing.exit_code, missing.output) == (
        1,
        f"Error: {tmp_path / 'none.pth'}: no such checkpoint file\n",
    )
    (tmp_path / "notes.txt").write_text("hello")
    junk = run("model", "info", tmp_path / "notes.txt")
    assert junk.exit_code == 1 and junk.output.startswith(f"Error: {tmp_path / 'notes.txt'}: not a readable")
    assert not (tmp_path / "x.pt").exists()
