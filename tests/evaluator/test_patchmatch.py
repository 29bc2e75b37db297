"""`--method patchmatch`: the paper's PM baseline through the optional `baselines` extra."""

import builtins

import pytest

from pconv.evaluator import store
from pconv.evaluator.evaluate import EvalConfig, evaluate
from pconv.evaluator.methods import parse_method


def test_patchmatch_is_scored_beside_telea_and_fills_the_holes(photos, bench, tmp_path):
    pytest.importorskip("patchmatch", reason="the baselines extra (PyPatchMatch) is not installed")
    out = tmp_path / "report"
    config = EvalConfig(
        images=f"folder:{photos}", masks=bench, methods=("telea", "patchmatch"), out=out, seed=3, batch_size=6
    )
    table = evaluate(config, progress=False)
    assert "| PSNR (dB) | patchmatch |" in table
    records = store.read_metrics(out)
    assert len(records) == 2 * 24
    # a real fill, close to telea's on these smooth photos (white holes score far lower), and the same on
    # a rerun: its random search is seeded per pair
    mean = {m: sum(records[(m, pair)]["psnr"] for pair in range(24)) / 24 for m in ("telea", "patchmatch")}
    assert mean["patchmatch"] > mean["telea"] - 3
    again = tmp_path / "again"
    evaluate(EvalConfig(**{**vars(config), "out": again}), progress=False)
    assert store.read_metrics(again)[("patchmatch", 5)] == records[("patchmatch", 5)]


def test_without_the_extra_one_line_says_how_to_install_it(monkeypatch):
    real_import = builtins.__import__

    def no_patchmatch(name, *args, **kwargs):
        if name == "patchmatch":
            raise ModuleNotFoundError("No module named 'patchmatch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_patchmatch)
    with pytest.raises(
        ValueError, match=r"^--method patchmatch needs .*pip install 'pconv-toolkit\[baselines\]'$"
    ):
        parse_method("patchmatch")
