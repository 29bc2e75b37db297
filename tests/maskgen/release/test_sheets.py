import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pconv.cli import main
from pconv.maskgen.release.figures import CAPTION, GAP, THUMB
from pconv.maskgen.release.sheets import compare_sheets, load_set, sample_cell


def _write(root, holes):
    root.mkdir(parents=True)
    for number, hole in enumerate(holes):
        cv2.imwrite(str(root / f"{number:02d}.png"), hole.astype(np.uint8) * 255)
    return root


def _bands(rows, count):
    """256² masks of one full-width band of ``rows`` rows (B masks, hole ratio rows / 256), each lower."""
    holes = []
    for number in range(count):
        hole = np.zeros((256, 256), bool)
        hole[number : number + rows] = True
        holes.append(hole)
    return holes


@pytest.fixture
def folders(tmp_path):
    ours = _write(tmp_path / "ours", _bands(16, 5))  # 0.0625: (0.01,0.1] B, five masks
    reference = _write(tmp_path / "ref", _bands(16, 2) + _bands(40, 1))  # two there, one in (0.1,0.2] B
    return ours, reference


def test_each_cell_shows_our_sample_above_the_references(folders, tmp_path):
    ours, reference = folders
    sets = [load_set(ours, name="ours", workers=1), load_set(reference, name="ref", workers=1)]
    files = compare_sheets(sets, tmp_path / "sheets", per_cell=3, seed=0)
    assert [path.name for path in files] == ["bin1_0.01-0.1_B.png", "bin2_0.1-0.2_B.png", "overview.png"]
    first = cv2.imread(str(files[0]), cv2.IMREAD_GRAYSCALE)
    row = CAPTION + THUMB + 2 * GAP  # one captioned row of thumbnails
    assert first.shape == (2 * row, 3 * (THUMB + GAP) + GAP)  # three of ours above two of the reference
    thumb = first[CAPTION + GAP : CAPTION + GAP + THUMB, GAP : GAP + THUMB]
    assert (thumb == 255).sum() == 16 * 256 and (thumb == 0).sum() == 240 * 256  # a band, white = hole
    assert (first[row + CAPTION :, 2 * (THUMB + GAP) + GAP :] == 255).all()  # the reference's third is blank
    second = cv2.imread(str(files[1]), cv2.IMREAD_GRAYSCALE)
    assert second.shape == (row, THUMB + 2 * GAP)  # only the reference has a (0.1,0.2] B mask
    overview = cv2.imread(str(files[2]), cv2.IMREAD_GRAYSCALE)
    assert overview.shape == (3 * row, first.shape[1])
    again = compare_sheets(sets, tmp_path / "again", per_cell=3, seed=0)
    assert [path.read_bytes() for path in again] == [path.read_bytes() for path in files]
    with pytest.raises(ValueError, match="is not empty"):
        compare_sheets(sets, tmp_path / "sheets")
    with pytest.raises(ValueError, match="--per-cell must be at least 1"):
        compare_sheets(sets, tmp_path / "none", per_cell=0)
    assert not (tmp_path / "none").exists()


def test_samples_are_seeded_sorted_and_whole_when_the_cell_is_small():
    first = sample_cell(100, 8, np.random.default_rng(3))
    assert first == sample_cell(100, 8, np.random.default_rng(3)) and first == sorted(set(first))
    assert len(first) == 8 and all(0 <= item < 100 for item in first)
    assert sample_cell(5, 8, np.random.default_rng(3)) == [0, 1, 2, 3, 4]


def test_sheets_command_draws_the_cells_of_both_folders(folders, tmp_path):
    ours, reference = folders
    out = tmp_path / "sheets"
    args = [
        "-q",
        "masks",
        "sheets",
        str(ours),
        "--compare",
        str(reference),
        "--out",
        str(out),
        "--workers",
        "1",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output == f"2 cells drawn into {out}, with overview.png\n"
    result = CliRunner().invoke(main, [*args[:4], "--out", str(ours / "sheets")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {ours / 'sheets'}: the output lies inside the input FOLDER {ours}; write it elsewhere\n"
    )
    assert not (ours / "sheets").exists()
