import numpy as np
import pytest

from pconv.core.masks import encode_mask_png
from pconv.maskgen.sets.bench_format import (
    BENCH_COLUMNS,
    CSV_NAME,
    bin_folder_name,
    bin_label,
    hdf5_attributes,
    load_benchmark_hole,
    read_benchmark,
    set_mask_path,
)


def test_labels_and_folder_names_follow_the_edges():
    assert [bin_label(index) for index in range(6)] == [
        "(0.01,0.1]",
        "(0.1,0.2]",
        "(0.2,0.3]",
        "(0.3,0.4]",
        "(0.4,0.5]",
        "(0.5,0.6]",
    ]
    assert bin_label(0, edges=(0.0, 0.25, 1.0)) == "(0,0.25]"
    assert bin_folder_name(0) == "bin1_0.01-0.1"


def test_mask_paths_have_five_digits_or_as_many_as_the_count_needs():
    assert set_mask_path(7, 12_000) == "masks/00007.png"
    assert set_mask_path(7, 1_000_000) == "masks/000007.png"


def _write_manifest(folder, rows):
    header = ["file", *BENCH_COLUMNS, "sha256"]
    lines = [",".join(header), *(",".join(str(row[name]) for name in header) for row in rows)]
    (folder / CSV_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _row(**changes):
    row = {name: "0" for name in ("file", *BENCH_COLUMNS, "sha256")}
    return row | {"file": "masks/00000.png", "bin_low": "0.1", "bin_high": "0.2", "split": "B"} | changes


def test_a_manifest_row_reads_back_typed_with_the_papers_label(tmp_path):
    (tmp_path / "masks").mkdir()
    hole = np.zeros((8, 8), bool)
    hole[2:4, 3:6] = True
    (tmp_path / "masks" / "00000.png").write_bytes(encode_mask_png(hole))
    _write_manifest(tmp_path, [_row(bin="1", hole_ratio="0.09375", scale="1.5")])
    (record,) = read_benchmark(tmp_path)
    assert (record.bin, record.hole_ratio, record.scale, record.split) == (1, 0.09375, 1.5, "B")
    assert record.label == "(0.1,0.2]" == bin_label(1)
    np.testing.assert_array_equal(load_benchmark_hole(tmp_path, record), hole)


def test_a_manifest_lacking_a_column_or_a_number_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a benchmark"):
        read_benchmark(tmp_path)
    (tmp_path / CSV_NAME).write_text("file,bin\nmasks/00000.png,0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a benchmark manifest \\(lacks angle, attempt"):
        read_benchmark(tmp_path)
    _write_manifest(tmp_path, [_row(frame="x")])
    with pytest.raises(ValueError, match=f"{CSV_NAME}:2: bad manifest row"):
        read_benchmark(tmp_path)


def test_hdf5_attributes_are_the_build_parameters_then_its_identity_without_nulls():
    build = {"kind": "benchmark", "params": {"size": 64, "seed": 3}, "version": "1", "raw_pool": "ab"}
    attributes = hdf5_attributes({**build, "raw_accumulation": None})
    assert list(attributes) == ["size", "seed", "kind", "version", "raw_pool", "hole_value"]
    assert attributes["hole_value"] == 255
