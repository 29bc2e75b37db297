import json

import pytest

from pconv.evaluator.evaluate import EvalConfig, evaluate
from pconv.evaluator.groups import groups_of

BINS = [(0, "(0.01,0.1]"), (1, "(0.1,0.2]")]


def test_groupings_are_data():
    paper = groups_of(["paper"], BINS, [0.05])
    assert [g.key for g in paper] == ["(0.01,0.1] N", "(0.01,0.1] B", "(0.1,0.2] N", "(0.1,0.2] B"]
    area = groups_of(["area10", "overall"], BINS, [0.05, 0.1, 0.35, 1.0])
    assert [g.key for g in area] == ["area (0,0.1]", "area (0.3,0.4]", "area (0.9,1]", "all"]
    holds = {g.key: [r for r in (0.05, 0.1, 0.100001, 0.35) if g.holds({"hole_ratio": r})] for g in area}
    assert holds["area (0,0.1]"] == [0.05, 0.1] and holds["area (0.3,0.4]"] == [0.35]
    assert holds["all"] == [0.05, 0.1, 0.100001, 0.35]
    with pytest.raises(ValueError, match="unknown grouping \\['bins'\\]; choose from paper, area10, overall"):
        groups_of(["paper", "bins"], BINS, [])


def test_several_groupings_in_one_report(photos, bench, tmp_path):
    out = tmp_path / "report"
    config = EvalConfig(
        images=f"folder:{photos}",
        masks=bench,
        methods=("telea",),
        out=out,
        seed=3,
        groupings=("overall", "area10"),
    )
    table = evaluate(config, progress=False)
    results = json.loads((out / "results.json").read_text())
    keys = [group["key"] for group in results["groups"]]
    assert keys[0] == "all" and all(key.startswith("area (") for key in keys[1:])
    assert sum(results["table"]["telea"][key]["n"] for key in keys[1:]) == 24  # area bins partition the pairs
    assert keys == [
        "all",
        "area (0,0.1]",
        "area (0.1,0.2]",
        "area (0.2,0.3]",
        "area (0.3,0.4]",
        "area (0.4,0.5]",
        "area (0.5,0.6]",
    ]
    assert "| Metric | Method | all | area (0,0.1] |" in table
    with pytest.raises(ValueError, match="unknown grouping"):
        EvalConfig(images="x", masks=bench, methods=("telea",), out=out, groupings=("cells",))
