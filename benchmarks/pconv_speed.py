"""Speed of the PConv U-Net against the same-architecture Conv U-Net and an official-style PConv layer.

Networks with identical convolutions, timed side by side (interleaved, rotating order) in one run:

- ``pconv``: :class:`pconv_model.PConvUNet` (single-channel masks, every window count from one up-front
  mask plan);
- ``conv``: :class:`pconv_model.ConvUNet` (the paper's "Conv" baseline: plain zero-padded convolutions);
- ``official``: the same weights run through a reference layer written like NVIDIA's ``PartialConv2d``
  with ``multi_channel=True``: masks as wide as the features, window counts from a C_out×C_in×k×k
  ones-kernel convolution, concatenated masks in the decoder;
- ``pconv+c``, ``conv+c``: the first two through ``torch.compile`` (default mode, one static graph per
  shape; compiling happens in the warm-up and its time is printed, not counted).

"fwd" is inference (eval mode, no autograd); "fwd+bwd" is a training step's forward and backward (train
mode BN, ``output.mean().backward()``). Times (wall clock, or with ``--clock cpu`` the process's CPU
time, which other processes on a shared machine disturb less) are medians over ``--repeats`` after
``--warmup`` rounds; each ratio is the median over rounds of a model's time over the conv model's time in
the same round (compiled models: over ``conv+c``'s), so that the drifts of a shared machine cancel.

Proxy, for machines without a GPU: "ops" is the number of ATen operations one pass dispatches (in eager
mode on a GPU each is one or a few kernel launches, which bound small batches) and "MB" the bytes they
read and write (tensor inputs plus outputs, which bound large batches), both counted on the meta device
(``pconv.pconv_model.profiling``), i.e. for the GPU's code path; "x" is the ratio to conv's. Memory:
"saved MiB" is what autograd keeps for the backward pass (eager models; measured with saved-tensor hooks,
so the same on any device); on CUDA also the peak allocated memory of one training step.

Usage (each configuration's rows print as soon as they are measured):
    python benchmarks/pconv_speed.py --sizes 512 --batches 1 --threads 1 --clock cpu   # CPU, ~2 min
    python benchmarks/pconv_speed.py --device cuda                  # all rows, eager and compiled
    python benchmarks/pconv_speed.py --device cuda --models pconv conv official --kinds fwd
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

from pconv.pconv_model import ConvUNet, PConvUNet
from pconv.pconv_model.profiling import count_ops
from pconv.pconv_model.unet import PConvBlock

MODELS = ("pconv", "conv", "official", "pconv+c", "conv+c")
KINDS = ("fwd", "fwd+bwd")


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


def make_step(net: nn.Module, image: Tensor, mask: Tensor, kind: str, base: nn.Module) -> Callable[[], None]:
    """One inference pass ("fwd") or training forward and backward ("fwd+bwd") of ``net``; ``base`` is the
    uncompiled module whose mode and gradients are set."""

    def fwd() -> None:
        base.eval()
        with torch.no_grad():
            net(image, mask)

    def train() -> None:
        base.train()
        net(image, mask).mean().backward()
        base.zero_grad(set_to_none=True)

    return fwd if kind == "fwd" else train


def proxy(layers: int, batch: int, size: int, arch: str, kind: str, width: float) -> tuple[int, int]:
    """(ATen operations, bytes) of one pass, counted on the meta device."""
    with torch.device("meta"):
        net = (ConvUNet if arch == "conv" else PConvUNet)(layers=layers, width=width)
        net = OfficialStyleUNet(net) if arch == "official" else net
        image, mask = torch.empty(batch, 3, size, size), torch.empty(batch, 1, size, size)
    counted = count_ops(make_step(net, image, mask, kind, net))
    return counted.ops, counted.bytes


def build(
    size: int, batch: int, args: argparse.Namespace, device: torch.device
) -> tuple[dict, Tensor, Tensor]:
    """The models of this row (name → (callable, its uncompiled module)) and its inputs."""
    layers = int(math.log2(size)) - 1  # 8 for 512², 7 for 256², as in the paper
    torch._dynamo.reset()  # the last row's graphs: all U-Nets share forward's code and its recompile limit
    torch.manual_seed(0)
    pconv = PConvUNet(layers=layers, width=args.width).to(device)
    conv = ConvUNet(layers=layers, width=args.width).to(device)
    nets: dict[str, tuple[nn.Module, nn.Module]] = {}
    for name in args.models:
        if name == "official" and batch not in args.official_batches:
            continue
        base = {"pconv": pconv, "conv": conv, "official": OfficialStyleUNet(pconv)}[name.removesuffix("+c")]
        # one compiled module per row: each (model, shape) its own static graph
        nets[name] = (torch.compile(base, dynamic=False) if name.endswith("+c") else base, base)
    image = torch.rand(batch, 3, size, size, device=device)
    gen = torch.Generator().manual_seed(1)
    mask = (torch.rand(batch, 1, size // 16, size // 16, generator=gen) > 0.4).float()
    mask = F.interpolate(mask, size=(size, size), mode="nearest").to(device)  # blobby holes, ~40 %
    return nets, image, mask


def run_config(size: int, batch: int, args: argparse.Namespace, device: torch.device) -> list[str]:
    nets, image, mask = build(size, batch, args, device)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    steps = {
        (name, kind): make_step(net, image, mask, kind, base)
        for name, (net, base) in nets.items()
        for kind in args.kinds
    }
    compile_s = {}
    for (name, kind), step in steps.items():  # warm-up; the first call of a compiled model compiles
        began = time.perf_counter()
        step()
        sync(device)
        if name.endswith("+c"):
            compile_s[f"{name} {kind}"] = time.perf_counter() - began
    if compile_s:
        print("      compile s: " + ", ".join(f"{k} {v:.1f}" for k, v in compile_s.items()), flush=True)
    saved = {
        name: f"{saved_bytes(make_step(base, image, mask, 'fwd+bwd', base)) / 2**20:10.0f}"
        if "fwd+bwd" in args.kinds and not name.endswith("+c")
        else f"{'-':>10s}"
        for name, (_, base) in nets.items()
    }
    peak = dict.fromkeys(nets, "")
    if device.type == "cuda" and "fwd+bwd" in args.kinds:
        for name in nets:
            torch.cuda.reset_peak_memory_stats(device)
            steps[(name, "fwd+bwd")]()
            peak[name] = f" {torch.cuda.max_memory_allocated(device) / 2**20:8.0f}"
    times: dict[tuple[str, str], list[float]] = {key: [] for key in steps}
    names = list(nets)
    for rep in range(args.warmup + args.repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]  # rotate: no model always goes first
        for kind in args.kinds:
            for name in order:
                sync(device)
                start = clock()
                steps[(name, kind)]()
                sync(device)
                if rep >= args.warmup:
                    times[(name, kind)].append(clock() - start)

    layers = int(math.log2(size)) - 1
    counts = {
        (arch, kind): proxy(layers, batch, size, arch, kind, args.width)
        for arch in ("pconv", "conv", "official")
        for kind in args.kinds
        if not args.no_proxy
    }
    rows = []
    for name in names:
        cells = []
        for kind in args.kinds:
            # Ratio per repeat against conv's run in the same round, then the median: slow drifts of a
            # shared machine cancel.
            reference = "conv+c" if name.endswith("+c") and "conv+c" in nets else "conv"
            if reference in nets:
                pairs = zip(times[(name, kind)], times[(reference, kind)], strict=True)
                ratio = f"{statistics.median([a / b for a, b in pairs]):6.2f}x"
            else:
                ratio = f"{'-':>7s}"
            cell = f"{statistics.median(times[(name, kind)]) * 1e3:10.2f} {ratio}"
            if not args.no_proxy:
                if name in ("pconv", "conv", "official"):
                    ops, moved = counts[(name, kind)]
                    conv_ops, conv_moved = counts[("conv", kind)]
                    cell += f" {ops:4d} {ops / conv_ops:4.2f}x {moved / 1e6:7.0f} {moved / conv_moved:4.2f}x"
                else:
                    cell += f" {'-':>4s} {'-':>5s} {'-':>7s} {'-':>5s}"
            cells.append(cell)
        rows.append(f"{size:5d} {batch:5d} {name:>9s} {' '.join(cells)} {saved[name]}{peak[name]}")
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
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=None,
        help="default: all on CUDA; pconv, conv and official on the CPU (+c: compiled)",
    )
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per model (default: 20 on CUDA, 2)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed rounds after the first (compiling) call"
    )
    parser.add_argument("--width", type=float, default=1.0, help="channel width multiplier (1 = paper)")
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
        default=None,
        help="batch sizes at which the official-style network runs (default: all on CUDA, 1 on the CPU)",
    )
    parser.add_argument("--no-proxy", action="store_true", help="leave out the ops and bytes columns")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="start no new size x batch configuration after this many seconds (the rows so far stand)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    args.models = args.models or list(MODELS if cuda else MODELS[:3])
    args.repeats = args.repeats or (20 if cuda else 2)
    if args.official_batches is None:
        args.official_batches = args.batches if cuda else [1]
    name = torch.cuda.get_device_name(device) if cuda else f"cpu, {torch.get_num_threads()} threads"
    print(
        f"torch {torch.__version__}, {name}; {args.clock} clock, repeats={args.repeats}, "
        f"warmup={args.warmup}, width={args.width}",
        flush=True,
    )
    began = time.perf_counter()
    if "official" in args.models:
        print(f"check: max |pconv - official| on 2x3x64x64 = {check_equal(device):.2e}", flush=True)
    proxy_head = "  ops     x      MB     x" if not args.no_proxy else ""
    head = " ".join(f"{kind + ' ms':>10s}  ratio{proxy_head}" for kind in args.kinds)
    print(f" size batch     model {head}  saved MiB" + (" peak MiB" if cuda else ""), flush=True)
    configs = [(size, batch) for size in args.sizes for batch in args.batches]
    for index, (size, batch) in enumerate(configs):
        if args.budget_s is not None and time.perf_counter() - began > args.budget_s:
            skipped = ", ".join(f"{s}x{b}" for s, b in configs[index:])
            print(f"      budget of {args.budget_s:.0f} s spent; not measured: {skipped}", flush=True)
            break
        for row in run_config(size, batch, args, device):
            print(row, flush=True)
        print(f"      ({time.perf_counter() - began:.0f} s so far)", flush=True)
    print(
        "ratio: median over rounds of time / conv's (compiled: conv+c's) time in the same round; "
        "ops, MB: ATen operations and bytes read + written per pass (meta device), x: over conv's",
        flush=True,
    )


if __name__ == "__main__":
    main()
