import dataclasses
import hashlib
import json
import zipfile

import cv2
import pytest
from click.testing import CliRunner

from pconv.cli import main
from pconv.maskgen.release.publish import _provenance, publish_benchmark
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import build_benchmark
from pconv.maskgen.sets.bench_format import BenchRecord, read_benchmark

SMALL = {"per_bin": 3, "size": 128, "border": 12, "augment": AugmentConfig(dilation=(2, 12))}


@pytest.fixture
def bench(raw_pool, tmp_path):
    return build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)


def test_release_has_card_sums_sheets_histogram_and_archive(bench, tmp_path):
    dist = publish_benchmark(bench, tmp_path / "dist", license_name="CC0-1.0", archive=True)
    card = (dist / "README.md").read_text()
    for needed in (
        "255 = hole",
        "| seed | 0 |",
        "| border | 12 |",
        "| (0.5,0.6] | B | 3 |",
        "## Licence",
        "CC0-1.0",
        "@inproceedings{liu2018partialinpainting",
        "clip1.mp4",
        "dilation",
        "The masks come from the 2 videos or frame folders listed under Sources.",
        "distinct raw masks",
        "dilated with a square kernel of radius 2 to 12 px",
        "first tries the radii that give NVIDIA's stroke width there (N masks, bin by bin: 2-2, 2-2, 2-2, "
        "2-3, 2-3, 4-6 px)",
        "Hole components under 38 px were removed",
        "## Shapes and diversity",
        "ratio 0.1-0.6",
        "each group's medians over those of NVIDIA's whole released test set",
        "ratios of the medians, benchmark / NVIDIA test set (* outside the targets: thickness ±15%",
    ):
        assert needed in card, needed
    sums = (dist / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in sums}
    files = {path.relative_to(dist).as_posix() for path in dist.rglob("*") if path.is_file()} - {"SHA256SUMS"}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest
    sheets = sorted(path.name for path in (dist / "contact_sheets").iterdir())
    assert len(sheets) == 13 and "bin1_0.01-0.1_N.png" in sheets and "overview.png" in sheets
    histogram = cv2.imread(str(dist / "hole_ratio_histogram.png"))
    assert histogram.shape == (480, 900, 3)
    with zipfile.ZipFile(dist / "masks.zip") as archive:
        names = archive.namelist()
        assert names == [record.file for record in read_benchmark(bench)] + ["manifest.csv"]
        assert archive.read("masks/00005.png") == (bench / "masks" / "00005.png").read_bytes()


def test_a_release_keeps_one_copy_of_the_masks_unless_an_archive_is_asked_for(bench, tmp_path):
    dist = publish_benchmark(bench, tmp_path / "dist")
    assert not (dist / "masks.zip").exists()
    assert (dist / "masks.h5").is_file() and len(list((dist / "masks").iterdir())) == 36
    assert "masks.zip" not in (dist / "README.md").read_text()


def test_publishing_twice_gives_the_same_bytes_and_refuses_a_full_folder(bench, tmp_path):
    first = publish_benchmark(bench, tmp_path / "one")
    second = publish_benchmark(bench, tmp_path / "two")
    assert (first / "SHA256SUMS").read_bytes() == (second / "SHA256SUMS").read_bytes()
    with pytest.raises(ValueError, match="is not empty; pass --overwrite"):
        publish_benchmark(bench, first)
    publish_benchmark(bench, first, overwrite=True)
    assert not list(tmp_path.glob(".one.pconv-tmp-*"))


def test_publishing_a_folder_that_is_no_benchmark_fails(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a benchmark"):
        publish_benchmark(tmp_path, tmp_path / "dist")
    assert not (tmp_path / "dist").exists()


def test_a_damaged_benchmark_is_not_published(bench, tmp_path):
    path = bench / "masks" / "00000.png"
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    image[0, 0] = 255 - image[0, 0]
    cv2.imwrite(str(path), image)
    pattern = (
        r"fails verification, not publishing it: masks/00000\.png: sha256 differs from the manifest "
        r"\(and \d+ more; see `pconv masks verify"
    )
    with pytest.raises(ValueError, match=pattern):
        publish_benchmark(bench, tmp_path / "dist")
    assert not (tmp_path / "dist").exists()


def test_overwrite_replaces_only_an_earlier_release(bench, tmp_path):
    for out in (bench, tmp_path, bench / "dist"):
        with pytest.raises(ValueError, match="the output (is|contains|lies inside) the input BENCH"):
            publish_benchmark(bench, out, overwrite=True)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"is not an earlier release \(no SHA256SUMS\)"):
        publish_benchmark(bench, mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"
    dist = publish_benchmark(bench, tmp_path / "dist")
    (dist / "stale.txt").write_text("from an older release")
    publish_benchmark(bench, dist, overwrite=True)
    assert not (dist / "stale.txt").exists() and (dist / "SHA256SUMS").is_file()


def test_a_compare_folder_puts_its_shape_rows_beside_ours_on_the_card_and_page(bench, tmp_path):
    dist = publish_benchmark(bench, tmp_path / "dist", compare=bench / "masks")
    card = (dist / "README.md").read_text()
    assert "Side by side with `masks`, measured the same way" in card
    rows = [line.split() for line in card.splitlines() if line.startswith(("benchmark ", "masks "))]
    assert len(rows) == 2 * 13 and [row[0] for row in rows[:2]] == ["benchmark", "masks"]
    for ours, theirs in zip(rows[::2], rows[1::2], strict=True):  # the same masks, measured the same way
        assert ours[1:-2] == theirs[1:-2] and theirs[-2:] == ["-", "-"]  # a bare folder: raw masks unknown
    ratios = card.split("ratios of the medians, benchmark / masks")[1].split("```")[0].splitlines()[2:]
    assert [line[22:].split() for line in ratios[:-1]] == [["1.00", "1.00", "1.00", "1.00", "yes"]] * 13
    assert ratios[-1] == "cells inside the targets: 12 of 12"
    assert "Side by side with <code>masks</code>" in (dist / "index.html").read_text()
    with pytest.raises(FileNotFoundError, match="no such mask folder"):
        publish_benchmark(bench, tmp_path / "other", compare=tmp_path / "missing")
    assert not (tmp_path / "other").exists()


def test_build_json_stats_and_card_report_the_magnification(bench, tmp_path):
    scales = sorted(record.scale for record in read_benchmark(bench))
    middle = (scales[17] + scales[18]) / 2  # 36 masks
    build = json.loads((bench / "build.json").read_text())
    assert build["magnification"] == {
        "median": round(middle, 4),
        "min": round(scales[0], 4),
        "max": round(scales[-1], 4),
    }
    assert scales[-1] > 1  # the test pool's frames are smaller than a rotated 128-px crop needs
    result = CliRunner().invoke(main, ["-q", "masks", "stats", str(bench), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "magnification (output px per source px, the manifest's scale): "
        f"median {middle:.2f}, {scales[0]:.2f} to {scales[-1]:.2f}"
    )
    card = (publish_benchmark(bench, tmp_path / "dist") / "README.md").read_text()
    assert (
        f"magnified {round(scales[0], 4):g} to {round(scales[-1], 4):g} times (median {round(middle, 4):g}; "
        "nearest neighbour) so the crop fits inside the source frame, and cropped. Raw masks that had to be "
        "magnified were thinned first" in card
    )


def test_the_card_counts_the_scenes_that_gave_masks_among_those_rendered():
    first = BenchRecord(
        file="masks/00000.png", bin=0, bin_low=0.01, bin_high=0.1, split="N", hole_ratio=0.05,
        border_distance=60, raw_id=1, source="default-input/seed-0-scenes-12/scenes/scene_003/frames",
        frame=0, dilation=4, angle=0.0, scale=1.25, crop_x=1.0, crop_y=1.0, seed=0, attempt=0, sha256="0",
    )  # fmt: skip
    second = dataclasses.replace(
        first, raw_id=2, source="default-input/seed-0-scenes-12/scenes/scene_007/frames"
    )
    params = {"dilation": [4, 24], "kernel": "square", "max_angle": 180, "source_width": True}
    (text,) = _provenance([first, second, second], params, None)
    assert text.startswith(
        "The masks come from **generated scenes**, not real video: 2 of the 12 scenes rendered for the "
        "toolkit's built-in default input"
    )
    assert (
        "They use 2 distinct raw masks (occlusion maps of one frame pair each); the most used one makes 2"
        in text
    )
