import csv
import math

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from pconv.cli import main
from pconv.maskgen.release.external import bin_masks, mask_set_stats, measure_masks, ratio_table, stats_table
from pconv.maskgen.release.shapes import SHAPE_FIELDS, ShapeMeasures, inside_targets, median_ratios


def _mask(ratio_rows, *, size=100, at_border=False):
    hole = np.zeros((size, size), bool)
    top = 0 if at_border else 20
    hole[top : top + ratio_rows, 20:80] = True  # 60 px per row
    return hole


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "external"
    (root / "sub").mkdir(parents=True)
    cv2.imwrite(str(root / "a.png"), _mask(5).astype(np.uint8) * 255)  # 300 px = 0.03, N at border 20
    cv2.imwrite(str(root / "sub" / "b.png"), _mask(40, at_border=True).astype(np.uint8) * 255)  # 0.24, B
    rgb = np.repeat((_mask(60).astype(np.uint8) * 255)[:, :, None], 3, axis=2)
    cv2.imwrite(str(root / "sub" / "c.png"), rgb)  # RGB, 0.36; rows 20..79 stay 20 px from the bottom: N
    cv2.imwrite(str(root / "empty.png"), np.zeros((100, 100), np.uint8))  # no hole: outside the bins
    (root / "notes.txt").write_text("not a mask")
    return root


def test_measures_use_the_shared_bins_recursively(folder):
    measures, thumbnails = measure_masks(folder, border=20, workers=1)
    assert len(thumbnails) == 4 and thumbnails[0].shape == (64, 64)
    assert [item.file for item in measures] == ["a.png", "empty.png", "sub/b.png", "sub/c.png"]
    assert [(item.hole_ratio, item.bin, item.split) for item in measures] == [
        (0.03, 0, "N"),
        (0.0, None, "N"),
        (0.24, 2, "B"),
        (0.36, 3, "N"),
    ]
    assert measures[2].border_distance == 0 and measures[0].border_distance == 20


def test_the_dark_hole_convention_inverts_the_ratio(folder):
    measures, _ = measure_masks(folder, hole_value=0, border=20, workers=1)
    assert [round(item.hole_ratio, 2) for item in measures] == [0.97, 1.0, 0.76, 0.64]
    assert [item.bin for item in measures] == [None, None, None, None]


def test_stats_table_counts_each_bin_and_the_rest(folder):
    table = stats_table(mask_set_stats("external", *measure_masks(folder, border=20, workers=1)))
    assert table.splitlines()[0] == "4 masks"
    assert "(0.2,0.3]   B            1   0.2400   0.2400   0.2400     0.0%             0.0" in table
    # 40 x 60 px block touching the top edge, scaled 2.56x: one component, convex, raw origin unknown
    row = next(line for line in table.splitlines() if line.startswith("(0.2,0.3] B "))
    fields = row.split()
    assert fields[2] == "1" and fields[5:] == ["1", "1.00", "0.0%", "-", "-"]
    assert "outside the bins: 1 (ratios 0.0000 to 0.0000)" in table
    assert table.splitlines()[-1] == "sizes: 100x100"


def test_binning_copies_files_into_bin_folders_with_an_index(folder, tmp_path):
    out = tmp_path / "binned"
    bin_masks(folder, out, border=20)
    assert (out / "bin1_0.01-0.1" / "N" / "a.png").read_bytes() == (folder / "a.png").read_bytes()
    assert (out / "bin3_0.2-0.3" / "B" / "sub" / "b.png").is_file()
    assert (out / "bin4_0.3-0.4" / "N" / "sub" / "c.png").is_file()
    assert (out / "outside" / "empty.png").is_file()
    rows = list(csv.DictReader((out / "bins.csv").read_text().splitlines()))
    assert [row["destination"] for row in rows][:2] == ["bin1_0.01-0.1/N/a.png", "outside/empty.png"]
    assert rows[1]["bin"] == ""
    with pytest.raises(ValueError, match="is not empty"):
        bin_masks(folder, out)


@pytest.mark.parametrize(
    "setup, error, message",
    [
        (lambda root: None, FileNotFoundError, "no such mask folder"),
        (lambda root: root.mkdir(), ValueError, "no mask images"),
        (
            lambda root: (root.mkdir(), (root / "x.png").write_bytes(b"not a png")),
            ValueError,
            "x.png: not a readable image",
        ),
    ],
)
def test_bad_folders_give_one_line_errors(tmp_path, setup, error, message):
    setup(tmp_path / "masks")
    with pytest.raises(error, match=message):
        bin_masks(tmp_path / "masks", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_workers_give_the_same_measures_as_one_process(folder):
    assert measure_masks(folder, border=20, workers=2)[0] == measure_masks(folder, border=20, workers=1)[0]


def _fake_benchmark(root, raw_ids):
    (root / "masks").mkdir(parents=True)
    rows = ["file,raw_id"]
    for number, raw_id in enumerate(raw_ids):
        cv2.imwrite(str(root / "masks" / f"{number:05d}.png"), _mask(20 + 5 * number).astype(np.uint8) * 255)
        rows.append(f"masks/{number:05d}.png,{raw_id}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    (root / "default-input" / "raw" / "masks").mkdir(parents=True)
    cv2.imwrite(
        str(root / "default-input" / "raw" / "masks" / "000000.png"), _mask(50).astype(np.uint8) * 255
    )
    return root


def test_a_benchmark_is_read_through_its_masks_folder_with_its_raw_ids(tmp_path):
    bench = _fake_benchmark(tmp_path / "bench", ["4", "4", "9"])
    measures, thumbnails = measure_masks(bench, border=20, workers=1)
    assert [item.file for item in measures] == ["masks/00000.png", "masks/00001.png", "masks/00002.png"]
    assert [item.raw_id for item in measures] == ["4", "4", "9"]
    stats = mask_set_stats("bench", measures, thumbnails)
    assert (stats.headline.distinct_raw, stats.headline.most_uses) == (2, 2)


def test_a_benchmark_nested_in_a_mask_folder_is_refused(tmp_path):
    _fake_benchmark(tmp_path / "outer" / "inner", ["1", "2", "3"])
    cv2.imwrite(str(tmp_path / "outer" / "a.png"), _mask(5).astype(np.uint8) * 255)
    with pytest.raises(ValueError, match="a benchmark inside the mask folder"):
        measure_masks(tmp_path / "outer", workers=1)


def test_stats_compare_prints_both_sets_row_by_row(folder, tmp_path):
    bench = _fake_benchmark(tmp_path / "bench", ["4", "4", "9"])
    result = CliRunner().invoke(
        main,
        ["-q", "masks", "stats", str(bench), "--border", "20", "--workers", "1", "--compare", str(folder)],
    )
    assert result.exit_code == 0, result.output
    compared = result.output.split("\n\n")[-2].splitlines()  # the ratios follow (tested below)
    assert compared[0].split()[:3] == ["set", "group", "masks"]
    headline = [line for line in compared if "ratio 0.1-0.6" in line]
    assert [line.split()[0] for line in headline] == [str(bench), str(folder)]
    assert headline[0].split()[-2:] == ["2", "2"] and headline[1].split()[-2:] == ["-", "-"]


def _bands(rows, starts):
    """A 256² mask of full-width bands of ``rows`` rows: they touch both side edges (B masks), so only
    their long sides are boundary and each is thickness 2 × the mean row distance to the nearest side."""
    hole = np.zeros((256, 256), bool)
    for start in starts:
        hole[start : start + rows] = True
    return hole


def _write(root, masks):
    root.mkdir(parents=True)
    for number, hole in enumerate(masks):
        cv2.imwrite(str(root / f"{number}.png"), hole.astype(np.uint8) * 255)
    return root


@pytest.fixture
def ours_and_reference(tmp_path):
    # ours: (0.01,0.1] B two 8-row bands (5.0 px / 25.0 / 2 / 1.00); (0.1,0.2] B one 32-row band (17.0 / 6.25)
    ours = _write(tmp_path / "ours", [_bands(8, [40, 120]), _bands(32, [100])])
    # reference: three 6-row bands (4.0 / 33.3 / 3 / 1.00); one 30-row band (16.0 / 6.67 / 1 / 1.00)
    reference = _write(tmp_path / "reference", [_bands(6, [40, 120, 200]), _bands(30, [100])])
    return ours, reference


def test_stats_compare_prints_each_cells_ratios_and_counts_the_cells_inside_the_targets(ours_and_reference):
    ours, reference = ours_and_reference
    result = CliRunner().invoke(
        main, ["-q", "masks", "stats", str(ours), "--workers", "1", "--compare", str(reference)]
    )
    assert result.exit_code == 0, result.output
    table = result.output.split("\n\n")[-1].splitlines()
    assert table[0] == (
        f"ratios of the medians, {ours} / {reference} (* outside the targets: thickness ±15%, boundary ±15%, "
        "components ±40%, roughness ±10%)"
    )
    assert table[1].split() == ["group", "thick", "px", "bound/100", "comps", "rough", "inside"]
    rows = {line[:22].strip(): line[22:].split() for line in table[2:-1]}
    # 5.0 / 4.0, 25.0 / 33.3, 2 / 3 (inside ±40 %), 1.00 / 1.00
    assert rows["(0.01,0.1] B"] == ["1.25*", "0.75*", "0.67", "1.00", "no"]
    # 17.0 / 16.0, 6.25 / 6.67, 1 / 1, 1.00 / 1.00
    assert rows["(0.1,0.2] B"] == ["1.06", "0.94", "1.00", "1.00", "yes"]
    assert rows["ratio 0.1-0.6"] == ["1.06", "0.94", "1.00", "1.00", "yes"]
    assert rows["(0.1,0.2] N"] == ["-", "-", "-", "-", "no"]  # empty in both sets
    assert len(rows) == 13
    assert table[-1] == "cells inside the targets: 1 of 12"
    medians = result.output.split("\n\n")[-2].splitlines()  # each set's medians, row by row
    assert [line.split()[4:8] for line in medians if "(0.01,0.1] B" in line] == [
        ["5.0", "25.0", "2", "1.00"],
        ["4.0", "33.3", "3", "1.00"],
    ]


def test_ratio_table_marks_each_measure_outside_its_own_tolerance(ours_and_reference):
    ours, _ = ours_and_reference
    stats = mask_set_stats("ours", *measure_masks(ours, workers=1))
    summary = stats.cells[1, "B"]  # 17.0 / 6.25 / 1 / 1.00
    edge = ShapeMeasures(17.0 / 1.15, 6.25 / 0.85, 1 / 1.4, 1 / 1.1)  # every ratio on its tolerance's edge
    beyond = ShapeMeasures(17.0 / 1.16, 6.25 / 0.84, 1 / 1.41, 1 / 1.11)
    assert inside_targets(median_ratios(summary, edge)) == dict.fromkeys(SHAPE_FIELDS, True)
    assert inside_targets(median_ratios(summary, beyond)) == dict.fromkeys(SHAPE_FIELDS, False)
    table = ratio_table(stats, "ref", {(1, "B"): edge, (0, "B"): beyond, None: beyond}).splitlines()
    assert table[-1] == "cells inside the targets: 1 of 12"
    assert next(line for line in table if line.startswith("(0.1,0.2] B")).split()[2:] == [
        "1.15",
        "0.85",
        "1.40",
        "1.10",
        "yes",
    ]
    assert next(line for line in table if line.startswith("ratio 0.1-0.6")).split()[2:] == [
        "1.16*",
        "0.84*",
        "1.41*",
        "1.11*",
        "no",
    ]
    no_thickness = median_ratios(summary, ShapeMeasures(0.0, 6.25, 1, 1.0))  # a reference median of 0
    assert math.isnan(no_thickness["thickness"]) and not inside_targets(no_thickness)["thickness"]
