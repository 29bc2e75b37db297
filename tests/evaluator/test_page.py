"""The report's index.html, opened in a headless Chromium from the file system."""

from pconv.evaluator.evaluate import EvalConfig, evaluate

BIN_LABELS = ("(0.01,0.1]", "(0.1,0.2]", "(0.2,0.3]", "(0.3,0.4]", "(0.4,0.5]", "(0.5,0.6]")


def test_the_report_page_shows_table1_and_every_grid_with_nothing_failing(photos, bench, tmp_path, open_page):
    out = tmp_path / "report"
    config = EvalConfig(images=f"folder:{photos}", masks=bench, methods=("telea", "ns"), out=out, seed=3)
    evaluate(config, progress=False)
    visit = open_page(out / "index.html", tmp_path / "report.png")
    assert visit.errors == [] and visit.failed == []
    assert all(url.startswith(out.resolve().as_uri() + "/") for url in visit.requested[1:]), visit.requested
    plots = sorted(path.relative_to(out).as_posix() for path in (out / "plots").glob("*.png"))
    assert plots  # the metric-vs-hole-ratio plots are shown, found by their folder
    expected = [f"grids/bin{k}.png" for k in range(1, 7)] + plots
    assert list(visit.images) == expected and all(width > 0 for width in visit.images.values())
    text = visit.text
    assert text.startswith("Table 1: folder:")
    for label in BIN_LABELS:
        assert f"{label} N" in text and f"{label} B" in text
    assert "n\t\t2\t2\t2\t2\t2\t2\t2\t2\t2\t2\t2\t2\t24" in text  # the count row: 2 pairs per cell, 24 in all
    for needed in ("telea", "ns", "PSNR (dB)", "SSIM", "results.csv", "results.json", "pairs.json"):
        assert needed in text, needed
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
