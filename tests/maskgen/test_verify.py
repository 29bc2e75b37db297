import cv2
import pytest

from maskgen.augment import AugmentConfig
from maskgen.bench import build_benchmark
from maskgen.publish import publish_benchmark
from maskgen.verify import verify_benchmark

SMALL = {"per_bin": 3, "size": 128, "border": 12, "augment": AugmentConfig(dilation=(2, 12))}


@pytest.fixture
def dist(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    return publish_benchmark(bench, tmp_path / "dist")


def test_a_fresh_benchmark_and_release_pass(dist, tmp_path):
    assert verify_benchmark(tmp_path / "bench") == []
    assert verify_benchmark(dist) == []


def test_a_flipped_pixel_is_caught(dist):
    path = dist / "masks" / "00007.png"
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    image[64, 64] = 255 - image[64, 64]
    cv2.imwrite(str(path), image)
    problems = verify_benchmark(dist)
    assert "masks/00007.png: checksum differs from SHA256SUMS" in problems
    assert "masks/00007.png: sha256 differs from the manifest" in problems
    assert any(problem.startswith("masks/00007.png: hole ratio 0.") for problem in problems)
    assert "masks.h5: mask 7 differs from masks/00007.png" in problems


def test_a_moved_file_is_caught(dist):
    (dist / "masks" / "00003.png").rename(dist / "masks" / "moved.png")
    problems = verify_benchmark(dist)
    assert "masks/00003.png: missing" in problems
    assert "masks/00003.png: listed in SHA256SUMS but missing" in problems
    assert "masks/moved.png: in masks/ but not in the manifest" in problems
    assert "masks/moved.png: not listed in SHA256SUMS" in problems


def test_grey_values_a_wrong_size_and_a_broken_order_are_caught(tmp_path, raw_pool):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    grey = cv2.imread(str(bench / "masks" / "00001.png"), cv2.IMREAD_UNCHANGED)
    grey[0, 0] = 17
    cv2.imwrite(str(bench / "masks" / "00001.png"), grey)
    cv2.imwrite(str(bench / "masks" / "00002.png"), cv2.resize(grey, (64, 64)))
    manifest = bench / "manifest.csv"
    lines = manifest.read_text().splitlines(keepends=True)
    lines[1], lines[7] = lines[7], lines[1]  # first N mask of bin 1 swapped with one of bin 2
    manifest.write_text("".join(lines))
    problems = verify_benchmark(bench)
    assert "masks/00001.png: pixel values [0, 17, 255], expected only 0 and 255" in problems
    assert "masks/00002.png: 64x64 px, expected 128x128" in problems
    assert any(problem.startswith("manifest row 1: masks/00006.png bin 1 N, expected masks/00000.png bin 0 N")
               for problem in problems)
