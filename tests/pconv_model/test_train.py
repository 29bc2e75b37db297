import json
import os
import signal
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models.vgg import make_layers

from pconv.core.files import append_jsonl, read_jsonl
from pconv.core.masks import write_mask_png
from pconv.datasets.pairing import TrainingPairs
from pconv.maskgen.sets.training import TrainingMasks
from pconv.pconv_model.checkpoint import build_model, load_checkpoint, model_from_checkpoint
from pconv.pconv_model.losses import InpaintingLoss, dominant_term_note
from pconv.pconv_model.pretrained import describe_checkpoint
from pconv.pconv_model.train import TrainConfig, overlap_warning, score_composite, train, training_augment
from pconv.pconv_model.vgg import VGG16Pools

VGG_POOL3 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]


def random_vgg(seed=0):
    """A VGG16 pool1-3 extractor with random (but seeded) weights: the losses' shape, not their meaning."""
    torch.manual_seed(seed)
    return VGG16Pools({f"features.{k}": v for k, v in make_layers(VGG_POOL3).state_dict().items()})


def write_photos(folder, count=6, size=(48, 40)):
    """Smooth colour gradients with a random tilt: easy to learn, unlike noise."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0 : size[1], 0 : size[0]] / max(size)
    for i in range(count):
        a, b, c = rng.uniform(-1, 1, (3, 3))
        rgb = np.stack([0.5 + 0.4 * np.sin(3 * a[k] * x + 3 * b[k] * y + c[k]) for k in range(3)], axis=-1)
        Image.fromarray((rgb * 255).astype(np.uint8)).save(folder / f"{i:02d}.png")


def write_pool(root, per_source=3):
    """A raw pool of rectangular holes from two sources, one per split."""
    rng = np.random.default_rng(1)
    number = 0
    for source in ("train.mp4", "test.mp4"):
        for _ in range(per_source):
            hole = np.zeros((48, 64), bool)
            top, left = rng.integers(0, 30), rng.integers(0, 40)
            hole[top : top + 10, left : left + 14] = True
            write_mask_png(root / "masks" / f"{number:06d}.png", hole)
            append_jsonl(
                root / "manifest.jsonl",
                {
                    "id": number,
                    "file": f"masks/{number:06d}.png",
                    "source": source,
                    "t": number,
                    "step": 1,
                    "method": "test",
                    "hole_ratio": float(hole.mean()),
                    "height": 48,
                    "width": 64,
                },
            )
            number += 1
    (root / "split.json").write_text(json.dumps({"sources": {"train.mp4": "train", "test.mp4": "test"}}))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    write_photos(root / "photos")
    write_pool(root / "raw")
    return root


@pytest.fixture(scope="module")
def vgg():
    return random_vgg()


def config(workspace, out, **changes):
    fields = dict(
        dataset="folder",
        data=workspace / "photos",
        masks=workspace / "raw",
        out=workspace / out,
        iterations=4,
        batch_size=2,
        image_size=32,
        layers=5,
        width=0.125,
        workers=0,
        log_every=1,
        checkpoint_every=2,
        sample_every=2,
        validate_every=2,
        val_count=2,
        device="cpu",
    )
    fields.update(changes)
    return TrainConfig(**fields)


def losses(run):
    records = read_jsonl(run / "log.jsonl")
    return [{k: v for k, v in record.items() if k != "images_per_s"} for record in records]


@pytest.fixture(scope="module")
def reference(workspace, vgg):
    """An uninterrupted 6-step run that the resume tests compare against."""
    train(config(workspace, "reference", iterations=6), vgg=vgg, progress=False)
    return losses(workspace / "reference")


def test_run_writes_checkpoint_logs_samples_and_validation(workspace, reference):
    run = workspace / "reference"
    assert [record["step"] for record in reference] == [1, 2, 3, 4, 5, 6]
    terms = {"valid", "hole", "perceptual", "style_out", "style_comp", "tv", "total"}
    assert set(reference[0]) >= terms | {"lr", "skipped"}
    assert load_checkpoint(run / "checkpoint.pt", arch="pconv")["step"] == 6
    assert [r["step"] for r in read_jsonl(run / "val.jsonl")] == [2, 4, 6]
    assert sorted(path.name for path in (run / "samples").iterdir()) == [
        "step_00000002.png",
        "step_00000004.png",
        "step_00000006.png",
    ]
    grid = Image.open(run / "samples" / "step_00000002.png")
    assert grid.size == (4 * 34 + 2, 28 + 2 * 34 + 2)  # a header, 4 columns, 2 validation rows, 2-px padding
    header = np.asarray(grid.convert("L"))[:28]
    for column in range(4):  # every column is named: dark text on the white bar above it
        assert header[:, 2 + 34 * column : 2 + 34 * (column + 1)].min() < 128
    assert json.loads((run / "config.json").read_text())["config"]["seed"] == 0


def test_first_batch_term_shares_are_recorded(workspace, reference):
    balance = json.loads((workspace / "reference" / "loss_balance.json").read_text())
    assert balance["step"] == 1 and set(balance["shares"]) == {"valid", "hole", "perceptual", "style", "tv"}
    assert sum(balance["shares"].values()) == pytest.approx(1.0)
    first = reference[0]  # the shares are those of the first logged losses (one process, log_every 1)
    weighted_style = 120 * (first["style_out"] + first["style_comp"]) / first["total"]
    assert balance["shares"]["style"] == pytest.approx(weighted_style, rel=1e-5)


def test_a_dominant_term_is_warned_about_in_one_line(workspace, capsys):
    """A VGG16 whose activations are 10^4 times too large: the style term swamps the loss."""
    state = random_vgg().state_dict()
    for key in [k for k in state if k.endswith(".bias") or k == "features.0.weight"]:
        state[key] = state[key] * 1e4  # every activation × 10^4, exactly (a ReLU network)
    huge = VGG16Pools(state)
    train(config(workspace, "swamped", iterations=1), vgg=huge, progress=False)
    balance = json.loads((workspace / "swamped" / "loss_balance.json").read_text())
    assert balance["shares"]["style"] > 0.9999
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("warning: on the first batch")]
    assert lines == [f"warning: on the first batch, {balance['warning']}"]
    assert "style term is 99.99" in lines[0] and "vgg16-397923af.pth" in lines[0]
    assert "pass --vgg-weights" in lines[0]  # what to do, not only why
    assert "step 1: loss" not in err  # the first loss and its shares print only with progress


def test_a_cpu_run_records_the_precision_that_ran_and_warns_of_shared_validation_photos(
    workspace, reference, vgg, capsys
):
    """--amp defaults to auto, which is float32 on the CPU; config.json says "off", not "bf16". A plain
    folder validates on its training photos: one warning line says so and how to keep them apart."""
    assert config(workspace, "x").amp == "auto"
    assert json.loads((workspace / "reference" / "config.json").read_text())["config"]["amp"] == "off"
    train(config(workspace, "talkative", iterations=1, amp="bf16"), vgg=vgg, progress=True)
    assert json.loads((workspace / "talkative" / "config.json").read_text())["config"]["amp"] == "off"
    err = capsys.readouterr().err.splitlines()
    overlap = [line for line in err if line.startswith("warning: validation photos are training photos")]
    assert len(overlap) == 1 and "--split train --val-split val" in overlap[0]
    (first,) = [line for line in err if line.startswith("step 1: loss ")]
    assert all(f"{term} " in first for term in ("valid", "hole", "perceptual", "style", "tv"))
    assert overlap_warning(config(workspace, "y", split="train", val_split="val")) is None
    assert overlap_warning(config(workspace, "y", split="train", val_split="all")) is not None


def test_a_style_term_that_dwarfs_the_first_loss_is_explained_when_normal():
    normal = {"valid": 0.00003, "hole": 0.0003, "perceptual": 0.0011, "style": 0.9986, "tv": 0.000006}
    note = dominant_term_note(normal)
    assert note is not None and note.startswith("style is 99.860 % of the first loss, as expected")
    assert dominant_term_note({**normal, "style": 0.5, "hole": 0.5}) is None  # balanced: nothing to say
    assert dominant_term_note({"style": 0.99999, "valid": 0.00001}) is None  # the warning's case


def test_a_few_steps_lower_the_loss(workspace, vgg):
    train(
        config(
            workspace,
            "learn",
            iterations=24,
            lr=2e-3,
            checkpoint_every=100,
            sample_every=100,
            validate_every=100,
        ),
        vgg=vgg,
        progress=False,
    )
    pairs = TrainingPairs(
        sorted((workspace / "photos").glob("*.png")),
        TrainingMasks(workspace / "raw", size=32, seed=5),
        size=32,
        seed=5,
    )
    items = [pairs[(i, 1000 + i)] for i in range(6)]  # a fixed batch of draws the run never saw
    image, mask = torch.stack([it["image"] for it in items]), torch.stack([it["mask"] for it in items])
    loss = InpaintingLoss(vgg)

    def total(model):
        with torch.no_grad():
            return loss(model.train()(image, mask), image, mask)["total"].item()

    torch.manual_seed(0)  # the trainer's initial weights
    untrained = build_model("pconv", layers=5, width=0.125)
    path = workspace / "learn" / "checkpoint.pt"
    assert total(model_from_checkpoint(load_checkpoint(path), path)) < 0.7 * total(untrained)


def test_resume_equals_the_uninterrupted_run(workspace, vgg, reference):
    train(config(workspace, "resumed", iterations=3, checkpoint_every=3), vgg=vgg, progress=False)
    result = train(config(workspace, "resumed", iterations=6), vgg=vgg, resume=True, progress=False)
    assert result.step == 6 and not result.interrupted
    assert losses(workspace / "resumed") == reference


def test_sigint_saves_a_checkpoint_and_resume_continues_exactly(workspace, vgg, reference):
    run = workspace / "interrupted"

    def interrupt_after_first_step():
        while not (run / "log.jsonl").is_file():
            time.sleep(0.002)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_after_first_step, daemon=True).start()
    stopped = train(
        config(workspace, "interrupted", iterations=1000, checkpoint_every=1000), vgg=vgg, progress=False
    )
    assert stopped.interrupted and 1 <= stopped.step < 6
    assert load_checkpoint(run / "checkpoint.pt")["step"] == stopped.step
    train(config(workspace, "interrupted", iterations=6), vgg=vgg, resume=True, progress=False)
    assert losses(run) == reference


def test_finetune_starts_from_initial_weights_with_encoder_bn_frozen(workspace, vgg):
    initial = workspace / "reference" / "checkpoint.pt"
    train(
        config(workspace, "finetune", phase="finetune", init=initial, iterations=2), vgg=vgg, progress=False
    )
    before = load_checkpoint(initial)["model"]
    after = load_checkpoint(workspace / "finetune" / "checkpoint.pt")
    assert after["phase"] == "finetune" and losses(workspace / "finetune")[0]["lr"] == 5e-5
    info = dict(describe_checkpoint(workspace / "finetune" / "checkpoint.pt"))  # `pconv model info`
    assert after["phases"] == {"initial": 6} and info["training steps"] == "initial 6, finetune 2"
    assert info["image size"] == "32×32 training crops, batch 2"
    assert info["dataset"] == f"folder:{workspace / 'photos'} (its training split), seed 0"
    encoder_bn = [k for k in before if k.startswith("encoder.") and ".bn." in k]
    decoder_bn = [k for k in before if k.startswith("decoder.") and ".bn.running_mean" in k]
    assert encoder_bn and all(torch.equal(before[k], after["model"][k]) for k in encoder_bn)
    assert any(not torch.equal(before[k], after["model"][k]) for k in decoder_bn)
    with pytest.raises(ValueError, match="a finetune-phase checkpoint; --init needs one from the initial"):
        train(
            config(workspace, "again", phase="finetune", init=workspace / "finetune" / "checkpoint.pt"),
            vgg=vgg,
            progress=False,
        )
    with pytest.raises(ValueError, match="a pconv checkpoint, but the architecture asked for is conv"):
        train(
            config(workspace, "again", arch="conv", phase="finetune", init=initial), vgg=vgg, progress=False
        )


def test_conv_baseline_trains(workspace, vgg):
    result = train(config(workspace, "conv", arch="conv", iterations=2), vgg=vgg, progress=False)
    assert result.step == 2 and load_checkpoint(result.checkpoint)["arch"] == "conv"


def test_runs_are_not_overwritten_and_resume_checks_the_config(workspace, vgg, reference):
    with pytest.raises(ValueError, match="already holds a run"):
        train(config(workspace, "reference"), vgg=vgg, progress=False)
    with pytest.raises(ValueError, match="cannot resume with batch_size=3; the run was started with batch_"):
        train(config(workspace, "reference", batch_size=3), vgg=vgg, resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        train(config(workspace, "nothing"), vgg=vgg, resume=True, progress=False)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(image_size=40), "image size 40 is not a multiple of 2\\*\\*layers = 32"),
        (dict(dataset="coco"), "unknown dataset 'coco'"),
        (dict(amp="fp8"), "amp must be one of auto, bf16, fp16, off"),
        (dict(batch_size=0), "batch_size must be at least 1"),
    ],
)
def test_bad_configs_are_refused(workspace, changes, message):
    with pytest.raises(ValueError, match=message):
        config(workspace, "bad", **changes)


def test_finetune_needs_init_unless_it_resumes(workspace, vgg, tmp_path):
    with pytest.raises(ValueError, match="give --init CK"):
        train(config(workspace, "finetune-without-init", phase="finetune"), vgg=vgg, progress=False)
    assert not (workspace / "finetune-without-init" / "checkpoint.pt").exists()


def test_training_masks_are_scaled_to_the_image_size_and_mixed(workspace):
    assert training_augment(512).dilation == (4, 24) and training_augment(256).dilation == (2, 12)
    assert training_augment(512).kernel == "square"
    masks = TrainingMasks(workspace / "raw", size=32, seed=0, augment=training_augment(32), length=24)
    valid = [float(masks[i].mean()) for i in range(24)]
    assert all(0 < share < 1 for share in valid)  # neither all hole nor all valid: a real learning signal
    assert 0.5 < float(np.mean(valid)) < 0.95


def test_score_composite():
    target = torch.full((1, 3, 4, 4), 0.5)
    mask = torch.ones(1, 1, 4, 4)
    mask[..., :2, :] = 0
    output = target + 0.1  # wrong by 0.1 everywhere; only the hole half counts
    scores = score_composite(output, target, mask)
    assert scores["l1"] == pytest.approx(0.05)
    assert scores["psnr"] == pytest.approx(10 * np.log10(1 / 0.005), rel=1e-4)
    assert score_composite(target, target, mask)["psnr"] == pytest.approx(100.0)


def test_bad_photos_are_skipped_and_counted_or_stop_a_strict_run(workspace, vgg, tmp_path):
    photos = tmp_path / "photos"
    write_photos(photos, count=2)
    for name in ("g1.png", "g2.png", "g3.png", "g4.png"):
        Image.new("L", (40, 40)).save(photos / name)
    train(config(workspace, tmp_path / "run", data=photos, iterations=2), vgg=vgg, progress=False)
    assert read_jsonl(tmp_path / "run" / "log.jsonl")[-1]["skipped"] >= 2  # 4 draws, at most 2 good photos
    train(config(workspace, tmp_path / "cut", data=photos, iterations=2), vgg=vgg, progress=False)
    train(config(workspace, tmp_path / "cut", data=photos), vgg=vgg, resume=True, progress=False)
    train(config(workspace, tmp_path / "whole", data=photos), vgg=vgg, progress=False)
    counts = [
        [record["skipped"] for record in read_jsonl(tmp_path / run / "log.jsonl")] for run in ("cut", "whole")
    ]
    assert counts[0] == counts[1] and counts[0][-1] > counts[0][1]  # the count carries on across a resume
    with pytest.raises(ValueError, match="g\\d.png: a grey image"):
        train(
            config(workspace, tmp_path / "strict", data=photos, iterations=2, strict_images=True),
            vgg=vgg,
            progress=False,
        )


def test_compiled_training_equals_eager(workspace, vgg, reference, monkeypatch):
    """--compile: each step's forward and loss (and so its backward) through torch.compile, here with the
    aot_eager backend (no C++ compiler needed); the losses are the eager run's."""
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **options: real(fn, backend="aot_eager", **options))
    monkeypatch.setattr("pconv.core.compiling.compile_problem", lambda device: None)
    train(config(workspace, "compiled", iterations=6, compile="on"), vgg=vgg, progress=False)
    for got, want in zip(losses(workspace / "compiled"), reference, strict=True):
        assert got == pytest.approx(want, rel=1e-5)
    info = json.loads((workspace / "compiled" / "config.json").read_text())
    assert info["compiled"] is True and info["config"]["compile"] == "on"
    assert json.loads((workspace / "reference" / "config.json").read_text())["compiled"] is False
