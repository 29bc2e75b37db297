"""Training speed: images per second of PConvUNet and ConvUNet at 256² and 512², on the CPU (and GPU).

Each timed step is the trainer's own (pconv.pconv_model.train.train_step): U-Net forward, the full loss with
VGG16 up to pool3 on output, composite and ground truth, backward and an Adam step. The VGG weights are
random unless --vgg-weights is given: speed does not depend on their values. The U-Net depth follows
the paper (7 layers at 256², 8 at 512²). Masks are random rectangles, photos random noise.

    python benchmarks/train_speed.py                       # CPU, batch 1, both archs, 256 and 512
    python benchmarks/train_speed.py --device cuda --batch-size 6 --repeats 5

Prints one row per (device, arch, size) with the median images/s over --repeats timed steps, and the
PConv / Conv speed ratio, which is the stabler figure on a shared machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from pconv.pconv_model.checkpoint import build_model
from pconv.pconv_model.losses import InpaintingLoss
from pconv.pconv_model.train import train_step
from pconv.pconv_model.vgg import VGG16Pools, load_vgg16_features
from torchvision.models.vgg import make_layers

LAYERS_FOR_SIZE = {256: 7, 512: 8}
VGG_POOL3 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]


def batch(size: int, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(batch_size, 3, size, size, generator=generator)
    mask = torch.ones(batch_size, 1, size, size)
    mask[..., size // 4 : size // 2, size // 3 : 2 * size // 3] = 0
    return image.to(device), mask.to(device)


def images_per_second(
    arch: str,
    size: int,
    *,
    vgg: torch.nn.Module,
    batch_size: int,
    repeats: int,
    warmup: int,
    device: torch.device,
    width: float,
) -> list[float]:
    torch.manual_seed(0)
    model = build_model(arch, layers=LAYERS_FOR_SIZE[size], width=width).to(device).train()
    loss_fn = InpaintingLoss(vgg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    amp_dtype = torch.bfloat16 if device.type == "cuda" else None
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    image, mask = batch(size, batch_size, device)
    rates = []
    for index in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        train_step(model, loss_fn, optimizer, scaler, image, mask, amp_dtype=amp_dtype)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if index >= warmup:
            rates.append(batch_size / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], choices=sorted(LAYERS_FOR_SIZE))
    parser.add_argument("--archs", nargs="+", default=["pconv", "conv"], choices=["pconv", "conv"])
    parser.add_argument(
        "--devices", nargs="+", default=None, help="default: cpu, plus cuda when a GPU is present"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="default: 1 on the CPU, 6 on a GPU")
    parser.add_argument("--repeats", type=int, default=2, help="timed steps per row (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier of the U-Net")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--vgg-weights", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    torch.manual_seed(0)
    vgg = (
        load_vgg16_features(args.vgg_weights)
        if args.vgg_weights
        else VGG16Pools({f"features.{k}": v for k, v in make_layers(VGG_POOL3).state_dict().items()})
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, width {args.width}, "
        f"warmup {args.warmup}, repeats {args.repeats}"
    )
    print(f"{'device':>6} {'arch':>5} {'size':>5} {'layers':>6} {'batch':>5} {'images/s':>9} {'s/image':>8}")
    for name in devices:
        device = torch.device(name)
        batch_size = args.batch_size or (6 if device.type == "cuda" else 1)
        for size in args.sizes:
            medians = {}
            for arch in args.archs:
                rates = images_per_second(
                    arch,
                    size,
                    vgg=vgg,
                    batch_size=batch_size,
                    repeats=args.repeats,
                    warmup=args.warmup,
                    device=device,
                    width=args.width,
                )
                medians[arch] = statistics.median(rates)
                print(
                    f"{name:>6} {arch:>5} {size:>5} {LAYERS_FOR_SIZE[size]:>6} {batch_size:>5} "
                    f"{medians[arch]:>9.3f} {1 / medians[arch]:>8.2f}",
                    flush=True,
                )
            if len(medians) == 2:
                ratio = medians["pconv"] / medians["conv"]
                print(f"{name:>6} pconv/conv speed ratio at {size}²: {ratio:.2f}")


if __name__ == "__main__":
    main()
