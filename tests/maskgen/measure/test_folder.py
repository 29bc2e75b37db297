import csv

import cv2
import numpy as np
import pytest

from pconv.maskgen.measure.folder import bin_masks, measure_masks
from pconv.maskgen.measure.tables import mask_set_stats

from .conftest import mask_rows


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


def test_a_benchmark_is_read_through_its_masks_folder_with_its_raw_ids(tmp_path, fake_benchmark):
    bench = fake_benchmark(tmp_path / "bench", ["4", "4", "9"])
    measures, thumbnails = measure_masks(bench, border=20, workers=1)
    assert [item.file for item in measures] == ["masks/00000.png", "masks/00001.png", "masks/00002.png"]
    assert [item.raw_id for item in measures] == ["4", "4", "9"]
    stats = mask_set_stats("bench", measures, thumbnails)
    assert (stats.headline.distinct_raw, stats.headline.most_uses) == (2, 2)


def test_a_benchmark_nested_in_a_mask_folder_is_refused(tmp_path, fake_benchmark):
    fake_benchmark(tmp_path / "outer" / "inner", ["1", "2", "3"])
    cv2.imwrite(str(tmp_path / "outer" / "a.png"), mask_rows(5).astype(np.uint8) * 255)
    with pytest.raises(ValueError, match="a benchmark inside the mask folder"):
        measure_masks(tmp_path / "outer", workers=1)
