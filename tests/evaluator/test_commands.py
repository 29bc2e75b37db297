import json

from click.testing import CliRunner

import cli


def run(*args: str):
    return CliRunner().invoke(cli.main, ["-q", *args])


def test_eval_needs_its_options():
    result = run("eval", "--method", "telea")
    assert result.exit_code == 2
    assert result.output.endswith("Error: missing --images, --masks, --out\n")


def test_unknown_method_is_one_line(photos, bench, tmp_path):
    result = run("eval", "--images", f"folder:{photos}", "--masks", str(bench), "--method", "lama",
                 "--out", str(tmp_path / "report"))
    assert result.exit_code == 1
    assert result.output == ("Error: unknown method 'lama'; use telea, ns, folder:DIR, pconv:CHECKPOINT or "
                             "conv:CHECKPOINT\n")


def test_folder_method_with_missing_output(photos, bench, tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    result = run("eval", "--images", f"folder:{photos}", "--masks", str(bench),
                 "--method", f"folder:{outputs}", "--out", str(tmp_path / "report"))
    assert result.exit_code == 1
    assert result.output == (f"Error: folder:{outputs}: no output for 24 of 24 pairs, first pair 0 "
                             f"({outputs}/00000.png); outputs are named by their pair's index in the "
                             "evaluation's pairs.json\n")


def test_shards_then_merge(photos, bench, tmp_path):
    out = tmp_path / "report"
    common = ["eval", "--images", f"folder:{photos}", "--masks", str(bench), "--method", "telea",
              "--out", str(out), "--device", "cpu"]
    first = run(*common, "--shard", "1/2")
    assert first.exit_code == 0, first.output
    assert first.output == f"shard 1/2 done; when every shard is, run: pconv eval merge {out}\n"
    early = run("eval", "merge", str(out))
    assert early.exit_code == 1
    assert early.output == (f"Error: {out}: method telea lacks 12 of 24 pairs (first: pair 12); run the "
                            "missing shards before merging\n")
    assert run(*common, "--shard", "2/2").exit_code == 0
    merged = run("eval", "merge", str(out))
    assert merged.exit_code == 0, merged.output
    assert merged.output == (out / "table1.md").read_text()
    assert json.loads((out / "results.json").read_text())["table"]["telea"]["all"]["n"] == 24


def test_merge_of_a_foreign_folder(tmp_path):
    result = run("eval", "merge", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path}: not an evaluation folder (no config.json); run "
                             "`pconv eval` first\n")
