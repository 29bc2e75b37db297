"""FID, IS and KID equal torch-fidelity's on the same images and weights; LPIPS equals the lpips package;
P-IDS/U-IDS follow their definition; resumed and sharded runs with features equal one run."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from pconv.cli import main
from pconv.core.sharding import Shard
from pconv.evaluator import store
from pconv.evaluator.evaluate import EvalConfig, evaluate, write_report
from pconv.evaluator.grids import SAMPLES_DIR
from pconv.evaluator.ids import discriminative_scores
from pconv.evaluator.scores import LPIPS


def config_for(photos, bench, out, **extra) -> EvalConfig:
    settings = {"methods": ("telea",), "seed": 3, "batch_size": 5, "min_group_pairs": 20, **extra}
    return EvalConfig(images=f"folder:{photos}", masks=bench, out=out, **settings)


def test_fid_is_kid_equal_torch_fidelity_on_the_same_images(photos, bench, tmp_path, inception_file):
    import torch_fidelity

    out = tmp_path / "report"
    evaluate(config_for(photos, bench, out, inception_weights=inception_file), progress=False)
    overall = json.loads((out / "results.json").read_text())["table"]["telea"]["all"]
    # every pair of the 2-pair cells is a grid sample: the 8-bit composites and ground truths, in pair order
    reference = torch_fidelity.calculate_metrics(
        input1=str(out / SAMPLES_DIR / "telea"),
        input2=str(out / SAMPLES_DIR / "ground_truth"),
        feature_extractor="inception-v3-compat",
        feature_extractor_weights_path=str(inception_file),
        isc=True,
        fid=True,
        kid=True,
        kid_subset_size=24,
        cuda=False,
        cache=False,
        save_cpu_ram=True,
        verbose=False,
    )
    assert overall["n"] == 24
    assert overall["fid"] == pytest.approx(reference["frechet_inception_distance"], rel=1e-4)
    assert overall["is"] == pytest.approx(reference["inception_score_mean"], rel=1e-4)
    assert overall["is_std"] == pytest.approx(reference["inception_score_std"], rel=1e-4)
    assert overall["kid"] == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-4)
    assert overall["kid_std"] == pytest.approx(reference["kernel_inception_distance_std"], rel=1e-4)
    assert overall["fid"] > 0
    recorded = json.loads((out / "config.json").read_text())["inception"]
    assert recorded["network"] == "inception-v3-compat" and recorded["library"] == "torch-fidelity 0.4.0"
    assert recorded["file"] == inception_file.name and len(recorded["sha256"]) == 64


class PoolFeatures(nn.Module):
    """A cheap stand-in for Inception: 4×4-pooled pixels as features, a fixed projection as logits."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = nn.functional.adaptive_avg_pool2d(images, 4).flatten(1)
        projection = torch.linspace(-3, 3, features.shape[1] * 7).view(features.shape[1], 7)
        return features, features @ projection


def test_resumed_and_sharded_runs_with_features_equal_one_run(photos, bench, tmp_path):
    config = {"methods": ("telea", "ns")}
    single = tmp_path / "single"
    evaluate(config_for(photos, bench, single, **config), extractor=PoolFeatures(), progress=False)
    results = json.loads((single / "results.json").read_text())
    assert results["table"]["ns"]["all"]["kid"] is not None and results["table"]["ns"]["all"]["pids"] >= 0
    sharded = tmp_path / "sharded"
    for k in (1, 2, 3):
        evaluate(
            config_for(photos, bench, sharded, **config),
            shard=Shard(k, 3),
            extractor=PoolFeatures(),
            progress=False,
        )
    write_report(sharded, progress=False)
    resumed = tmp_path / "resumed"
    evaluate(config_for(photos, bench, resumed, **config), extractor=PoolFeatures(), progress=False)
    path = store.features_path(resumed, Shard())
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:31]) + lines[31][:50])  # interrupted in the middle of a features line
    evaluate(config_for(photos, bench, resumed, **config), extractor=PoolFeatures(), progress=False)
    for folder in (sharded, resumed):
        for name in ("results.json", "results.csv", "table1.md"):
            assert (folder / name).read_text() == (single / name).read_text()


def lpips_backbone_file(path, net: str):
    """The lpips package's network with a random backbone, and that backbone as a torchvision state dict."""
    import lpips

    torch.manual_seed(7)
    reference = lpips.LPIPS(net=net, pnet_rand=True, verbose=False).eval()
    state = {
        f"features.{layer}.{name}": value
        for part in reference.net.children()
        for layer, module in part.named_children()
        for name, value in module.state_dict().items()
    }
    torch.save(state, path)
    return reference


@pytest.mark.parametrize("net", ["vgg", "alex"])
def test_lpips_equals_the_lpips_package(tmp_path, net):
    reference = lpips_backbone_file(tmp_path / f"{net}.pth", net)
    ours = LPIPS(net=net, weights=tmp_path / f"{net}.pth")
    generator = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 3, 64, 64, generator=generator), torch.rand(3, 3, 64, 64, generator=generator)
    expected = reference(x, y, normalize=True).flatten()
    assert torch.allclose(ours.score(x, y), expected, rtol=1e-5, atol=0)
    assert ours.record["network"] == f"lpips {net}" and ours.record["file"] == f"{net}.pth"


def test_lpips_column_in_the_report(photos, bench, tmp_path):
    lpips_backbone_file(tmp_path / "vgg.pth", "vgg")
    out = tmp_path / "report"
    table = evaluate(config_for(photos, bench, out, lpips_weights=tmp_path / "vgg.pth"), progress=False)
    results = json.loads((out / "results.json").read_text())
    values = [cell["lpips"] for cell in results["table"]["telea"].values()]
    assert all(value > 0 for value in values) and "| LPIPS | telea |" in table
    assert "LPIPS (Zhang et al. 2018): lpips 0.1.4" in table
    with pytest.raises(ValueError, match="lpips scores come from lpips vgg weights vgg.pth"):
        other = tmp_path / "other.pth"
        lpips_backbone_file(other, "vgg")
        torch.save({k: v + 1 for k, v in torch.load(other).items()}, other)
        evaluate(config_for(photos, bench, out, lpips_weights=other), progress=False)


def direct_ids(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    """The definition written out: a linear SVM's d(x) = w·x + b; U-IDS its error rate, P-IDS the share
    of pairs with d(fake) > d(real)."""
    from sklearn.svm import LinearSVC

    svm = LinearSVC(dual=False).fit(np.concatenate([real, fake]), [1] * len(real) + [0] * len(fake))
    w, b = svm.coef_[0], svm.intercept_[0]
    wrong = sum(float(x @ w + b) <= 0 for x in real) + sum(float(x @ w + b) > 0 for x in fake)
    better = sum(float(f @ w + b) > float(r @ w + b) for r, f in zip(real, fake, strict=True))
    return better / len(real), wrong / (2 * len(real))


def test_ids_follow_the_definition():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 5))
    fake = real + rng.normal(0.4, 1.0, size=(60, 5))
    pids, uids = discriminative_scores(real, fake)
    expected = direct_ids(real, fake)
    assert pids == pytest.approx(expected[0], abs=1e-12) and uids == pytest.approx(expected[1], abs=1e-12)
    assert 0 < pids < 0.5 and 0 < uids < 0.5
    far = discriminative_scores(real, real + 100)  # separable: no error, no fake looks more real
    assert far == (0.0, 0.0)


def test_ids_of_identical_sets():
    """Same features as real and fake: equal decision values (P-IDS 0, the comparison is strict) and each
    feature once right and once wrong (U-IDS exactly 0.5)."""
    features = np.random.default_rng(1).normal(size=(40, 6))
    assert discriminative_scores(features, features.copy()) == (0.0, 0.5)


def test_missing_weights_are_a_note_and_a_wrong_file_is_one_error_line(photos, bench, tmp_path):
    runner = CliRunner()
    base = ["eval", "--images", f"folder:{photos}", "--masks", str(bench), "--method", "telea"]
    result = runner.invoke(main, ["-q", *base, "--out", str(tmp_path / "plain")])
    assert result.exit_code == 0, result.output
    assert result.output.count("left out: no Inception weights") == 1
    assert "| FID |" not in result.output and "| LPIPS |" not in result.output
    for flag in ("--inception-weights", "--lpips-weights"):
        wrong = tmp_path / "wrong.pth"
        torch.save({"conv.weight": torch.zeros(1)}, wrong)
        out = tmp_path / f"wrong{flag}"
        result = runner.invoke(main, ["-q", *base, "--out", str(out), flag, str(wrong)])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {wrong}: not ")
        assert not out.exists()
