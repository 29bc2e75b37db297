"""Speed of the PConv U-Net against the same-architecture Conv U-Net and an official-style PConv layer.

Three networks with identical convolutions, timed side by side (interleaved, rotating order) in one run:

- ``pconv``: :class:`pconv_model.PConvUNet` (single-channel masks, box-sum window counts);
- ``conv``: :class:`pconv_model.ConvUNet` (the paper's "Conv" baseline: plain zero-padded convolutions);
- ``official``: the same weights run through a reference layer written like NVIDIA's ``PartialConv2d``
  with ``multi_channel=True``: masks as wide as the features, window counts from a C_out×C_in×k×k
  ones-kernel convolution, concatenated masks in the decoder.

"fwd" is inference (eval mode, no autograd); "fwd+bwd" is a training step's forward and backward (train
mode BN, ``output.mean().backward()``). Times are medians over ``--repeats``. Memory is the bytes autograd
saves for the backward pass (activations; measured with saved-tensor hooks, so it is exact on any
device) and, on CUDA, the peak allocated memory of one training step.

Usage: ``python benchmarks/pconv_speed.py --sizes 256 512 --batches 1 6 --repeats 3``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pconv_model import ConvUNet, PConvUNet
from pconv_model.unet import PConvBlock


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
    if not args.no_official:
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

    times: dict[tuple[str, str], list[float]] = {(n, k): [] for n in nets for k in ("fwd", "fwd+bwd")}
    names = list(nets)
    for rep in range(args.warmup + args.repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for kind, make in (("fwd", fwd), ("fwd+bwd", train_step)):
            for name in order:
                step = make(nets[name])
                sync(device)
                start = time.perf_counter()
                step()
                sync(device)
                if rep >= args.warmup:
                    times[(name, kind)].append(time.perf_counter() - start)

    rows = []
    base = {k: statistics.median(times[("conv", k)]) for k in ("fwd", "fwd+bwd")}
    for name, net in nets.items():
        saved = saved_bytes(train_step(net)) / 2**20
        peak = ""
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            train_step(net)()
            peak = f"{torch.cuda.max_memory_allocated(device) / 2**20:9.0f}"
        med = {k: statistics.median(times[(name, k)]) for k in ("fwd", "fwd+bwd")}
        rows.append(
            f"{size:5d} {batch:5d} {name:>9s} {med['fwd'] * 1e3:10.1f} {med['fwd'] / base['fwd']:6.2f}x "
            f"{med['fwd+bwd'] * 1e3:10.1f} {med['fwd+bwd'] / base['fwd+bwd']:6.2f}x {saved:10.0f} {peak}"
        )
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
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per model (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per model first")
    parser.add_argument("--width", type=float, default=1.0, help="channel width multiplier (1 = paper)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--no-official", action="store_true", help="skip the slow official-style layer")
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
        f"torch {torch.__version__}, {name}; repeats={args.repeats}, warmup={args.warmup}, width={args.width}"
    )
    if not args.no_official:
        print(f"check: max |pconv - official| on 2x3x64x64 = {check_equal(device):.2e}")
    print(
        " size batch     model    fwd ms  ratio  fwd+bwd ms  ratio  saved MiB"
        + (" peak MiB" if device.type == "cuda" else "")
    )
    for size in args.sizes:
        for batch in args.batches:
            for row in run_config(size, batch, args, device):
                print(row, flush=True)


if __name__ == "__main__":
    main()
