"""Speed of the PConv U-Net against the same-architecture Conv U-Net and an official-style PConv layer.

Three networks with identical convolutions, timed side by side (interleaved, rotating order) in one run:

- ``pconv``: :class:`pconv_model.PConvUNet` (single-channel masks, box-sum window counts);
- ``conv``: :class:`pconv_model.ConvUNet` (the paper's "Conv" baseline: plain zero-padded convolutions);
- ``official``: the same weights run through a reference layer written like NVIDIA's ``PartialConv2d``
  with ``multi_channel=True``: masks as wide as the features, window counts from a C_out×C_in×k×k
  ones-kernel convolution, concatenated masks in the decoder.

"fwd" is inference (eval mode, no autograd); "fwd+bwd" is a training step's forward and backward (train
mode BN, ``output.mean().backward()``). Times (wall clock, or with ``--clock cpu`` the process's CPU
time, which other processes on a shared machine disturb less) are medians over ``--repeats`` after
``--warmup`` rounds; each ratio is the median over rounds of a model's time over the conv model's time in
the same round, so that the drifts of a shared machine cancel. Memory: "saved MiB" is what autograd
keeps for the backward pass (the activations, measured with saved-tensor hooks, so the same on any
device); on CUDA also the peak allocated memory of one training step.

Usage: ``python benchmarks/pconv_speed.py --sizes 256 512 --batches 1 6 --repeats 2``
(on a busy machine add ``--threads 1 --clock cpu``).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from pconv.pconv_model import ConvUNet, PConvUNet
from pconv.pconv_model.unet import PConvBlock
from torch import Tensor, nn


def official_pconv(x: Tensor, mask: Tensor, conv: nn.Module) -> tuple[Tensor, Tensor]:
    """NVIDIA's multi-channel PartialConv2d forward (partialconv2d.py), for a weight of ``conv``.

    Shape: x and mask (N, C_in, H, W); returns out and mask (N, C_out, H', W').
    """
    weight, bias = conv.weight, conv.bias
    with torch.no_grad():
        ones = torch.ones_like(weight)  # C_out × C_in × k × k
        update_mask = F.conv2d(mask, ones, stride=conv.stride, padding=conv.padding, dilation=conv.dilation)
        mask_ratio = weight[0].numel() / (update_mask + 1e-8)
        update_mask = torch.clamp(update_mask, 0, 1)
        mask_ratio = mask_ratio * update_mask
    raw = F.conv2d(x * mask, weight, bias, stride=conv.stride, padding=conv.padding, dilation=conv.dilation)
    if bias is None:
        return raw * mask_ratio, update_mask
    b = bias.view(1, -1, 1, 1)
    return ((raw - b) * mask_ratio + b) * update_mask, update_mask


class OfficialStyleUNet(nn.Module):
    """The PConv U-Net's weights run with :func:`official_pconv` and channel-wide masks."""

    def __init__(self, net: PConvUNet) -> None:
        super().__init__()
        self.net = net

    def _block(self, block: PConvBlock, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        out, mask = official_pconv(x, mask, block.conv)
        if block.bn is not None:
            out = block.bn(out)
        if block.spec.activation == "relu":
            out = F.relu(out)
        elif block.spec.activation == "leaky_relu":
            out = F.leaky_relu(out, 0.2)
        return out, mask

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        mask = mask.expand_as(image)
        h, m = image, mask
        skips = [(image, mask)]
        for block in self.net.encoder:
            h, m = self._block(block, h, m)
            skips.append((h, m))
        skips.pop()
        for block in self.net.decoder:
            skip_h, skip_m = skips.pop()
            up = [F.interpolate(t, scale_factor=2.0, mode="nearest") for t in (h, m)]
            h, m = self._block(block, torch.cat([up[0], skip_h], 1), torch.cat([up[1], skip_m], 1))
        return h


def saved_bytes(step: Callable[[], None]) -> int:
    """Bytes of distinct storages autograd saves for backward during ``step`` (forward and backward)."""
    seen: dict[tuple[int, torch.device], int] = {}

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        seen[(storage.data_ptr(), t.device)] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_config(size: int, batch: int, args: argparse.Namespace, device: torch.device) -> list[str]:
    layers = int(math.log2(size)) - 1  # 8 for 512², 7 for 256², as in the paper
    torch.manual_seed(0)
    pconv = PConvUNet(layers=layers, width=args.width).to(device)
    conv = ConvUNet(layers=layers, width=args.width).to(device)
    nets: dict[str, nn.Module] = {"pconv": pconv, "conv": conv}
    if batch in args.official_batches:
        nets["official"] = OfficialStyleUNet(pconv)
    image = torch.rand(batch, 3, size, size, device=device)
    gen = torch.Generator().manual_seed(1)
    mask = (torch.rand(batch, 1, size // 16, size // 16, generator=gen) > 0.4).float()
    mask = F.interpolate(mask, size=(size, size), mode="nearest").to(device)  # blobby holes, ~40 %

    def fwd(net: nn.Module) -> Callable[[], None]:
        def step() -> None:
            net.eval()
            with torch.no_grad():
                net(image, mask)

        return step

    def train_step(net: nn.Module) -> Callable[[], None]:
        def step() -> None:
            net.train()
            net(image, mask).mean().backward()
            net.zero_grad(set_to_none=True)

        return step

    kinds = {"fwd": fwd, "fwd+bwd": train_step}
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    saved = {name: saved_bytes(train_step(net)) / 2**20 for name, net in nets.items()}  # also warms up
    peak = dict.fromkeys(nets, "")
    if device.type == "cuda":
        for name, net in nets.items():
            torch.cuda.reset_peak_memory_stats(device)
            train_step(net)()
            peak[name] = f" {torch.cuda.max_memory_allocated(device) / 2**20:8.0f}"
    times = {(name, kind): [] for name in nets for kind in kinds}
    names = list(nets)
    for rep in range(args.warmup + args.repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]  # rotate: no model always goes first
        for kind, make in kinds.items():
            for name in order:
                step = make(nets[name])
                sync(device)
                start = clock()
                step()
                sync(device)
                if rep >= args.warmup:
                    times[(name, kind)].append(clock() - start)

    rows = []
    for name in nets:
        cells = []
        for kind in kinds:
            # Ratio per repeat against conv's run in the same round, then the median: slow drifts of a
            # shared machine cancel.
            ratios = [a / b for a, b in zip(times[(name, kind)], times[("conv", kind)], strict=True)]
            cells.append(
                f"{statistics.median(times[(name, kind)]) * 1e3:10.1f} {statistics.median(ratios):6.2f}x"
            )
        rows.append(f"{size:5d} {batch:5d} {name:>9s} {cells[0]} {cells[1]} {saved[name]:10.0f}{peak[name]}")
    return rows


def check_equal(device: torch.device) -> float:
    """Max |PConvUNet − official-style| on a small input: both must compute the same network."""
    torch.manual_seed(0)
    net = PConvUNet(layers=5, width=0.25).to(device).eval()
    image = torch.rand(2, 3, 64, 64, device=device)
    mask = (torch.rand(2, 1, 64, 64, device=device) > 0.7).float()
    with torch.no_grad():
        return (net(image, mask) - OfficialStyleUNet(net)(image, mask)).abs().max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per model (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per model first")
    parser.add_argument("--width", type=float, default=1.0, help="channel width multiplier (1 = paper)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: the process's CPU time, steadier than wall time on a shared machine (with --threads 1)",
    )
    parser.add_argument(
        "--official-batches",
        type=int,
        nargs="*",
        default=[1],
        help="batch sizes at which the (slow) official-style network runs too; none: never",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu, {torch.get_num_threads()} threads"
    )
    print(
        f"torch {torch.__version__}, {name}; {args.clock} clock, repeats={args.repeats}, "
        f"warmup={args.warmup}, width={args.width}"
    )
    began = time.perf_counter()
    if args.official_batches:
        print(f"check: max |pconv - official| on 2x3x64x64 = {check_equal(device):.2e}")
    print(
        " size batch     model    fwd ms  ratio  fwd+bwd ms  ratio  saved MiB"
        + (" peak MiB" if device.type == "cuda" else "")
    )
    for size in args.sizes:
        for batch in args.batches:
            for row in run_config(size, batch, args, device):
                print(row, flush=True)
    elapsed = time.perf_counter() - began
    print(f"ratio: median over rounds of time / conv's time in the same round; whole run {elapsed:.0f} s")


if __name__ == "__main__":
    main()
