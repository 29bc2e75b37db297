"""A set brought in with `pconv masks bin` publishes in the same formats as a benchmark."""

import base64
import csv
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pconv import cli
from pconv.core.masks import read_mask_png
from pconv.maskgen.measure.folder import bin_masks
from pconv.maskgen.release.publish_binned import publish_binned
from pconv.maskgen.sets.bench_format import bin_label
from pconv.maskgen.sets.bins import mask_stats

BORDER = 10
LOAD = """
import base64, json, sys
import datasets
rows = []
for row in datasets.load_dataset(sys.argv[1], split="test"):
    image = row.pop("image")
    rows.append({**row, "pixels": base64.b64encode(image.tobytes()).decode(), "size": image.size})
print(json.dumps(rows))
"""


@pytest.fixture
def binned(tmp_path):
    """Twelve 64² masks in the dark-hole convention (0 = hole, like NVIDIA's training masks), in two
    folders, one of them all valid (outside every bin)."""
    rng = np.random.default_rng(0)
    for number in range(12):
        valid = np.full((64, 64), 255, np.uint8)
        side = 6 + 3 * number
        top, left = (0, 0) if number % 2 else (BORDER + 2, BORDER + 2)
        if number:
            valid[top : top + side, left : left + side // 2 + int(rng.integers(1, 8))] = 0
        path = tmp_path / "theirs" / ("a" if number < 6 else "b") / f"{number:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), valid)
    bin_masks(tmp_path / "theirs", tmp_path / "binned", hole_value=0, border=BORDER)
    return tmp_path / "binned"


def test_a_binned_set_loads_with_datasets_and_webdataset_and_matches_its_pixels(
    binned, tmp_path, load_with_datasets
):
    import webdataset

    dist = publish_binned(
        binned, tmp_path / "dist", webdataset=True, per_shard=5, license_name="CC-BY-NC 4.0"
    )
    with open(dist / "bins.csv", newline="") as handle:
        index = {f"masks/{row['destination']}": row for row in csv.DictReader(handle)}
    rows = load_with_datasets(LOAD, dist)
    assert sorted(row["file"] for row in rows) == sorted(index) and len(rows) == 12
    for row in rows:
        pixels = np.frombuffer(base64.b64decode(row["pixels"]), np.uint8).reshape(row["size"][::-1])
        stats = mask_stats(pixels < 128, border=BORDER)  # the files keep the source's 0 = hole
        expected = index[row["file"]]
        assert row["original"] == expected["file"] and row["hole_ratio"] == stats.hole_ratio
        assert row["bin"] == stats.bin and row["split"] == stats.split
        assert row["bin_label"] == ("outside" if stats.bin is None else bin_label(stats.bin))
        assert (dist / row["file"]).read_bytes() == (binned / expected["destination"]).read_bytes()
    shards = sorted(str(path) for path in (dist / "webdataset").iterdir())
    assert len(shards) == 3
    streamed = list(webdataset.WebDataset(shards, shardshuffle=False))
    assert [json.loads(sample["json"])["file"] for sample in streamed] == list(index)  # bins.csv order
    for sample in streamed:
        assert sample["png"] == (dist / json.loads(sample["json"])["file"]).read_bytes()
    card = (dist / "README.md").read_text()
    assert 'license: other\nlicense_name: "CC-BY-NC 4.0"\n' in card
    assert (
        '    - "masks/**"\n' in card
        and "**0 = hole**" in card
        and "11 lie in the bins, 1 outside them" in card
    )
    sums = dict(line.split("  ")[::-1] for line in (dist / "SHA256SUMS").read_text().splitlines())
    files = {path.relative_to(dist).as_posix() for path in dist.rglob("*") if path.is_file()} - {"SHA256SUMS"}
    assert set(sums) == files and "masks/outside/a/00.png" in files and "index.html" in files
    hole = read_mask_png(dist / "masks/outside/a/00.png", hole_value=0)
    assert not hole.any()


def test_the_publish_command_takes_a_binned_folder(binned, tmp_path):
    runner = CliRunner()
    again = str(binned)  # the same masks under another name: its rows must equal ours
    result = runner.invoke(
        cli.main,
        [
            "--quiet",
            "masks",
            "publish",
            str(binned),
            "--out",
            str(tmp_path / "dist"),
            "--compare",
            again,
            "--compare-hole-value",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"release of 12 masks (PNGs; README.md dataset card, index.html, SHA256SUMS, contact sheets, "
        f"histogram) in {tmp_path / 'dist'}: "
    )
    assert (tmp_path / "dist" / "index.html").is_file() and not (tmp_path / "dist" / "webdataset").exists()
    card = (tmp_path / "dist" / "README.md").read_text()
    assert "Side by side with `binned`, measured the same way" in card
    rows = [line.split() for line in card.splitlines() if line.startswith(("binned ", "theirs "))]
    assert len(rows) == 2 * 13 and rows[0][:4] == ["theirs", "(0.01,0.1]", "N", "3"]
    assert all(ours[1:] == other[1:] for ours, other in zip(rows[::2], rows[1::2], strict=True))
    result = runner.invoke(
        cli.main, ["--quiet", "masks", "publish", str(binned), "--out", str(tmp_path / "x"), "--archive"]
    )
    assert result.exit_code == 1 and result.output.startswith("Error: --archive is for benchmarks")
