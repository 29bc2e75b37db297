"""Training speed: images per second of PConvUNet and ConvUNet at 256² and 512², eager and compiled.

Each timed step is the trainer's own (pconv.pconv_model.train.train_step): U-Net forward, the full loss with
VGG16 up to pool3 on output, composite and ground truth, backward and an Adam step; bf16 autocast on
CUDA, float32 on the CPU, as `pconv train` runs. "compiled" rows run the step's forward and loss (and so
its backward) through torch.compile, as `pconv train --compile` does (train.forward_loss); the first
step compiles, and its time is printed apart. The VGG weights are random unless --vgg-weights is given:
speed does not depend on their values. The U-Net depth follows the paper (7 layers at 256², 8 at 512²).
Masks are random rectangles, photos random noise.

    python benchmarks/train_speed.py                       # CPU, batch 1, both archs, 256 and 512, eager
    python benchmarks/train_speed.py --devices cuda        # batch 6, eager and compiled rows

Prints rows per (device, size, mode) as they are measured: the median images/s over --repeats timed
steps of each arch, the two archs' steps interleaved, and the PConv / Conv speed ratio (the stabler
figure on a shared machine).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torchvision.models.vgg import make_layers

from pconv.pconv_model.checkpoint import build_model
from pconv.pconv_model.losses import InpaintingLoss
from pconv.pconv_model.train import forward_loss, train_step
from pconv.pconv_model.vgg import VGG16Pools, load_vgg16_features

LAYERS_FOR_SIZE = {256: 7, 512: 8}
VGG_POOL3 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]
MODES = ("eager", "compiled")


def batch(size: int, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(batch_size, 3, size, size, generator=generator)
    mask = torch.ones(batch_size, 1, size, size)
    mask[..., size // 4 : size // 2, size // 3 : 2 * size // 3] = 0
    return image.to(device), mask.to(device)


def trainer(
    arch: str,
    size: int,
    *,
    vgg: torch.nn.Module,
    batch_size: int,
    device: torch.device,
    width: float,
    compiled: bool,
) -> Callable[[], None]:
    """One training step of a fresh ``arch`` U-Net on a fixed batch, synchronized on CUDA."""
    torch.manual_seed(0)
    model = build_model(arch, layers=LAYERS_FOR_SIZE[size], width=width).to(device).train()
    loss_fn = InpaintingLoss(vgg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    amp_dtype = torch.bfloat16 if device.type == "cuda" else None
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    forward = forward_loss(model, loss_fn, amp_dtype=amp_dtype, compile=compiled)
    image, mask = batch(size, batch_size, device)

    def step() -> None:
        train_step(model, loss_fn, optimizer, scaler, image, mask, amp_dtype=amp_dtype, forward=forward)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step


def images_per_second(
    steps: dict[str, Callable[[], None]], *, batch_size: int, repeats: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Images/s of every timed step per arch, the archs' steps interleaved (rotating order) so that a
    shared machine's drifts hit both; and each arch's first step in seconds (it compiles, if compiled)."""
    first = {}
    for arch, step in steps.items():
        start = time.perf_counter()
        step()
        first[arch] = time.perf_counter() - start
    rates: dict[str, list[float]] = {arch: [] for arch in steps}
    names = list(steps)
    for index in range(warmup + repeats):
        for arch in names[index % len(names) :] + names[: index % len(names)]:
            start = time.perf_counter()
            steps[arch]()
            if index >= warmup:
                rates[arch].append(batch_size / (time.perf_counter() - start))
    return rates, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], choices=sorted(LAYERS_FOR_SIZE))
    parser.add_argument("--archs", nargs="+", default=["pconv", "conv"], choices=["pconv", "conv"])
    parser.add_argument(
        "--devices", nargs="+", default=None, help="default: cpu, plus cuda when a GPU is present"
    )
    parser.add_argument(
        "--modes", nargs="+", choices=MODES, default=None, help="default: both on CUDA, eager on the CPU"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="default: 1 on the CPU, 6 on a GPU")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed steps per row, median reported (default: 20 on CUDA, 2)",
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps after the first one")
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier of the U-Net")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--vgg-weights", type=Path, default=None)
    parser.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="start no new size x mode row after this many seconds (the rows so far stand)",
    )
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
        f"warmup {args.warmup}",
        flush=True,
    )
    print(
        f"{'device':>6} {'mode':>8} {'arch':>5} {'size':>5} {'layers':>6} {'batch':>5} {'images/s':>9} "
        f"{'s/image':>8} {'first step s':>12}",
        flush=True,
    )
    began = time.perf_counter()
    for name in devices:
        device = torch.device(name)
        cuda = device.type == "cuda"
        batch_size = args.batch_size or (6 if cuda else 1)
        repeats = args.repeats or (20 if cuda else 2)
        for size in args.sizes:
            for mode in args.modes or (MODES if cuda else ("eager",)):
                if args.budget_s is not None and time.perf_counter() - began > args.budget_s:
                    print(
                        f"budget of {args.budget_s:.0f} s spent; {name} {mode} {size}² not measured",
                        flush=True,
                    )
                    continue
                torch._dynamo.reset()  # the last row's graphs share this one's code and its recompile limit
                steps = {
                    arch: trainer(
                        arch,
                        size,
                        vgg=vgg,
                        batch_size=batch_size,
                        device=device,
                        width=args.width,
                        compiled=mode == "compiled",
                    )
                    for arch in args.archs
                }
                rates, first = images_per_second(
                    steps, batch_size=batch_size, repeats=repeats, warmup=args.warmup
                )
                medians = {arch: statistics.median(values) for arch, values in rates.items()}
                for arch, median in medians.items():
                    print(
                        f"{name:>6} {mode:>8} {arch:>5} {size:>5} {LAYERS_FOR_SIZE[size]:>6} {batch_size:>5} "
                        f"{median:>9.3f} {1 / median:>8.3f} {first[arch]:>12.1f}",
                        flush=True,
                    )
                if len(medians) == 2:
                    ratio = medians["pconv"] / medians["conv"]
                    print(
                        f"{name:>6} {mode:>8} pconv/conv speed ratio at {size}²: {ratio:.2f} "
                        f"({time.perf_counter() - began:.0f} s so far)",
                        flush=True,
                    )
                del steps  # free this row's models before the next


if __name__ == "__main__":
    main()
