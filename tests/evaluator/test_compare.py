import copy
import json

import pytest
from click.testing import CliRunner

from pconv.cli import main
from pconv.evaluator.compare import compare_reports
from pconv.evaluator.evaluate import EvalConfig, evaluate


@pytest.fixture
def report(photos, bench, tmp_path):
    out = tmp_path / "base"
    evaluate(
        EvalConfig(images=f"folder:{photos}", masks=bench, methods=("telea", "ns"), out=out, seed=3),
        progress=False,
    )
    return out


def variant(report, tmp_path, name, change):
    document = json.loads((report / "results.json").read_text())
    changed = copy.deepcopy(document)
    change(changed["protocol"])
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(changed))
    return folder


def test_the_protocol_is_recorded(report):
    protocol = json.loads((report / "results.json").read_text())["protocol"]
    assert protocol["seed"] == 3 and protocol["pairs"] == 24 and protocol["resolution"]["size"] == 64
    assert protocol["photos"]["count"] == 30 and len(protocol["photos"]["sha256"]) == 64
    assert len(protocol["benchmark"]["sha256"]) == 64
    assert set(protocol["metrics"]) == {"l1", "psnr", "ssim"}  # no LPIPS or Inception weights here
    assert protocol["metrics"]["ssim"]["sigma"] == 1.5


def test_identical_protocols_are_comparable(report, tmp_path):
    same = variant(report, tmp_path, "same", lambda protocol: None)
    comparison = compare_reports([report, same])
    assert comparison.columns == ["base: telea", "base: ns", "same: telea", "same: ns"]
    assert comparison.differences == [] and "≠" not in comparison.markdown()
    assert "Every report has the same protocol." in comparison.markdown()


@pytest.mark.parametrize(
    ("field", "change", "expected"),
    [
        (
            "photos",
            lambda p: p["photos"].update(sha256="0" * 64),
            "photos: other has 30 photos, list sha256 000000000000",
        ),
        ("photos", lambda p: p["photos"].update(count=29), "photos: other has 29 photos"),
        (
            "benchmark",
            lambda p: p["benchmark"].update(sha256="f" * 64),
            "benchmark: other has sha256 ffffffffffff",
        ),
        ("seed", lambda p: p.update(seed=4), "seed: other has 4, base 3"),
        ("resolution", lambda p: p["resolution"].update(size=512), "resolution: other has 512², base 64²"),
    ],
)
def test_each_protocol_difference_is_named_and_marked(report, tmp_path, field, change, expected):
    other = variant(report, tmp_path, "other", change)
    comparison = compare_reports([report, other])
    assert len(comparison.differences) == 1 and comparison.differences[0].startswith(expected)
    for _, _, cells in comparison.rows:
        assert [ok for _, ok in cells] == [True, True, False, False]


def test_other_weights_mark_only_that_metric(report, tmp_path):
    def with_weights(sha):
        def change(protocol):
            protocol["metrics"]["lpips"] = {"network": "lpips vgg", "file": "vgg16.pth", "sha256": sha}

        return change

    first = variant(report, tmp_path, "first", with_weights("a" * 64))
    second = variant(report, tmp_path, "second", with_weights("b" * 64))
    comparison = compare_reports([first, second])
    assert comparison.differences == ["lpips: second differs from first in weights"]
    assert all(all(ok for _, ok in cells) for column, _, cells in comparison.rows if column.key != "lpips")


def test_compare_command_prints_markdown_and_csv(report, photos, bench, tmp_path):
    out = tmp_path / "seed4"
    evaluate(
        EvalConfig(images=f"folder:{photos}", masks=bench, methods=("telea",), out=out, seed=4),
        progress=False,
    )
    runner = CliRunner()
    result = runner.invoke(main, ["eval", "compare", str(report), str(out)])
    assert result.exit_code == 0, result.output
    assert "| Metric | Group | base: telea | base: ns | seed4: telea |" in result.output
    assert "- seed: seed4 has 4, base 3" in result.output
    result = runner.invoke(main, ["eval", "compare", "--csv", str(report), str(out)])
    lines = result.output.splitlines()
    assert lines[0] == "metric,group,column,value,comparable"
    assert len(lines) == 1 + 3 * 13 * 3 and lines[-1].endswith(",no")
    result = runner.invoke(main, ["eval", "compare", str(tmp_path / "nothing")])
    assert (
        result.exit_code == 1 and result.output.startswith("Error: ") and len(result.output.splitlines()) == 1
    )
