"""Mixed precision of the inpainting loss: every term under fp16 and bf16 autocast at two VGG16 scales.

Issue 13: `pconv train --amp fp16` stopped on a NaN loss, because float16 ends at 65,504 and the VGG16's
activations do not. For a VGG16 in torchvision's units and the same network at Caffe scale (every
activation × 57.6 = 255 × the mean ImageNet std, as a VGG16 converted from Caffe's 0-255 input gives), on
an untrained PConvUNet's output, this prints:

- the largest pool3 activation, and whether the VGG16 alone under fp16 autocast overflows;
- each loss term in float32 and under fp16 and bf16 autocast, whether it is finite, its relative
  difference to float32, whether the gradient reaching the output is finite, and the time of a
  forward + backward of the loss;
- the weighted terms' shares and the first-batch warning the trainer would print.

With ``--train DIR`` it then writes a tiny dataset into DIR (photos, a raw mask pool, both VGG16 files)
and runs ``pconv train --amp fp16`` on each VGG16 file, printing every logged total and the trainer's
loss-balance lines. The VGG16 is ``--vgg-weights``, else ``../shared/weights/vgg16_imagenet_features.pth``
beside the checkout when present, else seeded random weights (He-initialized, like torchvision's VGG).

    .venv/bin/python benchmarks/amp_check.py --device cuda --train /tmp/amp-check      # < 1 min on an H100
    .venv/bin/python benchmarks/amp_check.py --device cpu --size 64 --batch 2 --train /tmp/amp-check
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models.vgg import make_layers

from pconv.core.files import append_jsonl
from pconv.core.masks import write_mask_png
from pconv.pconv_model import InpaintingLoss, PConvUNet, VGG16Pools
from pconv.pconv_model.losses import dominant_term_warning, format_shares, term_shares

SHARED_VGG = Path(__file__).resolve().parents[2] / "shared" / "weights" / "vgg16_imagenet_features.pth"
CAFFE_SCALE = 57.6  # 255 × mean(0.229, 0.224, 0.225)
KEYS = ("valid", "hole", "perceptual", "style_out", "style_comp", "tv", "total")
AMP = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def vgg_state(path: Path | None) -> tuple[dict[str, torch.Tensor], str]:
    """A VGG16 pool1-3 state dict (``features.N.*``) and where it came from."""
    if path is not None:
        return torch.load(path, map_location="cpu", weights_only=True), str(path)
    torch.manual_seed(0)
    features = make_layers([64, 64, "M", 128, 128, "M", 256, 256, 256, "M"])
    for layer in features:
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            nn.init.uniform_(layer.bias, -0.1, 0.1)
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    return state, "seeded random He-initialized weights (scale only roughly torchvision's)"


def scaled(state: dict[str, torch.Tensor], scale: float) -> dict[str, torch.Tensor]:
    """Every activation × ``scale``, exactly (a ReLU network): the first convolution and all biases scaled."""
    return {k: v * scale if k.endswith(".bias") or k == "features.0.weight" else v for k, v in state.items()}


def photos(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth colour waves with some fine texture: ``(count, size, size, 3)`` float in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(count):
        a, b, c = rng.uniform(-1, 1, (3, 3))
        waves = [0.5 + 0.35 * np.sin(8 * a[k] * x + 8 * b[k] * y + 3 * c[k]) for k in range(3)]
        images.append(np.clip(np.stack(waves, -1) + rng.normal(0, 0.05, (size, size, 3)), 0, 1))
    return np.stack(images)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_loss(state: dict[str, torch.Tensor], device: torch.device, size: int, batch: int) -> bool:
    """Print the table for both scales; True when every term and gradient under autocast is finite."""
    target = torch.from_numpy(photos(batch, size)).permute(0, 3, 1, 2).float().to(device)
    mask = torch.ones(batch, 1, size, size, device=device)
    mask[..., size // 4 : size // 2, size // 3 : 3 * size // 4] = 0
    torch.manual_seed(0)
    layers = int(math.log2(size)) - 1 if size < 512 else 8
    with torch.no_grad():
        output = PConvUNet(layers=layers).to(device).train()(target, mask).float()
    span = f"[{output.min():.2f}, {output.max():.2f}]"
    print(f"untrained PConvUNet({layers} layers) output on {batch}×{size}²: {span}")
    all_finite = True
    for label, scale in (("torchvision units", 1.0), (f"Caffe scale ×{CAFFE_SCALE}", CAFFE_SCALE)):
        vgg = VGG16Pools(scaled(state, scale)).to(device)
        loss = InpaintingLoss(vgg)
        with torch.no_grad():
            peak = vgg(output)[-1].max().item()
            with torch.autocast(device.type, dtype=torch.float16):
                overflow = not all(torch.isfinite(f).all() for f in vgg(output))
        print(f"\n{label}: pool3 max {peak:,.0f}; VGG16 alone under fp16 autocast overflows: {overflow}")
        print(
            f"  {'amp':5s}"
            + "".join(f"{key:>13s}" for key in KEYS)
            + "   finite  max rel diff  grad finite  ms"
        )
        reference: dict[str, float] = {}
        for name, dtype in AMP.items():
            prediction = output.clone().requires_grad_(True)
            sync(device)
            start = time.perf_counter()
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                terms = loss(prediction, target, mask)
            terms["total"].backward()
            sync(device)
            elapsed = 1000 * (time.perf_counter() - start)
            values = {key: terms[key].item() for key in KEYS}
            reference = reference or values
            finite = all(math.isfinite(v) for v in values.values())
            grad_finite = bool(torch.isfinite(prediction.grad).all())
            all_finite &= finite and grad_finite
            rel = max(abs(values[k] - reference[k]) / max(abs(reference[k]), 1e-12) for k in KEYS)
            print(
                f"  {name:5s}"
                + "".join(f"{values[key]:13.5g}" for key in KEYS)
                + f"   {finite!s:6s}  {rel:12.2e}  {grad_finite!s:11s}  {elapsed:.0f}"
            )
        shares = term_shares(reference)
        print(f"  shares (fp32): {format_shares(shares)}")
        print(f"  first-batch warning: {dominant_term_warning(shares)}")
    return all_finite


def write_dataset(root: Path, state: dict[str, torch.Tensor], size: int = 64) -> None:
    """Photos, a raw mask pool with a train/test split, and the two VGG16 files, for `pconv train`."""
    for number, image in enumerate(photos(12, size + 16, seed=1)):
        (root / "photos").mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255).astype(np.uint8)).save(root / "photos" / f"{number:02d}.png")
    rng = np.random.default_rng(2)
    raw = root / "raw"
    (raw / "manifest.jsonl").unlink(missing_ok=True)
    for number in range(8):
        hole = np.zeros((size, size), bool)
        top, left = rng.integers(0, size // 2, 2)
        hole[top : top + size // 4, left : left + size // 3] = True
        write_mask_png(raw / "masks" / f"{number:06d}.png", hole)
        record = {
            "id": number,
            "file": f"masks/{number:06d}.png",
            "source": f"{'train' if number < 6 else 'test'}.mp4",
        }
        record |= {"t": number, "step": 1, "method": "synthetic", "hole_ratio": float(hole.mean())}
        append_jsonl(raw / "manifest.jsonl", {**record, "height": size, "width": size})
    (raw / "split.json").write_text(json.dumps({"sources": {"train.mp4": "train", "test.mp4": "test"}}))
    torch.save(state, root / "vgg-torchvision-units.pth")
    torch.save(scaled(state, CAFFE_SCALE), root / "vgg-caffe-scale.pth")


def check_training(root: Path, device: str, steps: int) -> bool:
    """`pconv train --amp fp16` with each VGG16 file; True when both finish with finite losses."""
    ok = True
    for name in ("vgg-torchvision-units", "vgg-caffe-scale"):
        out = root / f"run-{name}"
        command = [sys.executable, "-m", "pconv.cli", "-q", "train", "--dataset", "folder"]
        command += ["--data", str(root / "photos"), "--masks", str(root / "raw"), "--out", str(out)]
        command += ["--iterations", str(steps), "--batch-size", "4", "--image-size", "64", "--layers", "6"]
        command += ["--width", "0.25", "--workers", "0", "--log-every", "1", "--device", device]
        command += ["--amp", "fp16", "--no-compile"]  # 20 steps: compiling would cost more than training
        command += ["--vgg-weights", str(root / f"{name}.pth"), "--checkpoint-every", str(steps)]
        if (out / "checkpoint.pt").exists():  # a second call on the same DIR: nothing left to train
            command.append("--resume")
        print(f"\n$ pconv {' '.join(command[3:])}")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        print(done.stdout.strip() or done.stderr.strip()[-2000:])
        if (out / "loss_balance.json").is_file():
            balance = json.loads((out / "loss_balance.json").read_text())
            print(f"first batch: {format_shares(balance['shares'])}\nwarning: {balance['warning']}")
        totals = [record["total"] for record in map(json.loads, (out / "log.jsonl").read_text().splitlines())]
        finite = done.returncode == 0 and all(math.isfinite(t) for t in totals)
        ok &= finite
        print(f"exit {done.returncode}; totals {', '.join(f'{t:.4g}' for t in totals)}; all finite: {finite}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--vgg-weights", type=Path, default=SHARED_VGG if SHARED_VGG.is_file() else None)
    parser.add_argument("--size", type=int, default=256, help="image side for the loss check (a power of 2)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument(
        "--train", type=Path, default=None, metavar="DIR", help="also run pconv train --amp fp16 in DIR"
    )
    parser.add_argument("--train-steps", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    state, source = vgg_state(args.vgg_weights)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name}; VGG16: {source}")
    if device.type == "cuda":
        print(f"bf16 native: {torch.cuda.is_bf16_supported(including_emulation=False)}")
    ok = check_loss(state, device, args.size, args.batch)
    if args.train is not None:
        write_dataset(args.train, state)
        ok &= check_training(args.train, args.device, args.train_steps)
    print(f"\nevery term and gradient finite: {ok}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
