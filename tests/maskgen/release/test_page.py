"""A release's index.html, opened in a headless Chromium from the file system."""

import pytest

from pconv.maskgen.release.publish import publish_benchmark
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import build_benchmark
from pconv.maskgen.sets.bench_format import bin_label

SMALL = {"per_bin": 5, "size": 128, "border": 12, "augment": AugmentConfig(dilation=(2, 12))}


@pytest.fixture
def dist(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    return publish_benchmark(bench, tmp_path / "dist", webdataset=True, per_shard=25)


def test_the_release_page_shows_every_bin_and_loads_only_its_own_files(dist, tmp_path, open_page):
    visit = open_page(dist / "index.html", tmp_path / "release.png")
    assert visit.errors == [] and visit.failed == []
    assert all(url.startswith(dist.resolve().as_uri() + "/") for url in visit.requested[1:]), visit.requested
    strips = [f"masks/{number:05d}.png" for block in range(12) for number in range(5 * block, 5 * block + 5)]
    assert list(visit.images) == [*strips, "hole_ratio_histogram.png", "contact_sheets/overview.png"]
    assert visit.images["masks/00000.png"] == 128 and visit.images["hole_ratio_histogram.png"] == 900
    text = visit.text
    assert text.startswith("Irregular hole mask benchmark\n")
    for index in range(6):
        for split in ("N", "B"):
            assert f"bin {bin_label(index)} {split}: 5 masks (first 5 shown)" in text
    for needed in (
        "60 binary hole masks",
        "255 = hole",
        "Loading",
        "load_dataset",
        "WebDataset",
        "CC-BY-4.0",
    ):
        assert needed in text, needed
    assert (tmp_path / "release.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_browser_check_catches_missing_files_outside_fetches_and_script_errors(tmp_path, open_page):
    (tmp_path / "broken.html").write_text(
        '<p>text</p><img src="missing.png"><link rel="stylesheet" href="https://example.invalid/a.css">'
        '<script>console.error("boom"); undefinedFunction();</script>'
    )
    visit = open_page(tmp_path / "broken.html", tmp_path / "broken.png")
    assert visit.text == "text" and visit.images == {"missing.png": 0}
    assert len(visit.failed) == 2 and "https://example.invalid/a.css" in visit.requested
    assert any("boom" in error for error in visit.errors) and any(
        "Uncaught" in error for error in visit.errors
    )
