"""Speed of the evaluator's metrics: image-mask pairs per second for ℓ1 + PSNR + SSIM at 512².

Goal (issue 6): ≥ 50 pairs/s on the project's 2-core CPU for the metrics alone. Timings on a shared
machine are noisy, so the script also times, in the same run and on the same batches, SSIM written the
obvious way (five maps per channel, depthwise ``conv2d``) and prints the ratio, which noise affects less.

    .venv/bin/python benchmarks/eval_speed.py [--size 512] [--batch 8] [--rounds 5] [--device cpu]
                                              [--threads N]

Besides wall-clock rates it prints pairs per CPU-second (process time, all threads summed): that figure
hardly depends on what else runs on the machine, and times the core count bounds an idle machine's rate.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from pconv.core.metrics import gaussian_window, image_metrics, l1_percent, psnr


def conv_ssim(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Reference SSIM: μ, σ² and σxy from five maps per channel with a separable depthwise conv2d."""
    g = gaussian_window(11, 1.5).float().to(output.device)
    maps = torch.cat([output, target, output * output, target * target, output * target], 1)
    c = maps.shape[1]
    maps = F.conv2d(maps, g.view(1, 1, 1, 11).expand(c, 1, 1, 11).contiguous(), groups=c)
    maps = F.conv2d(maps, g.view(1, 1, 11, 1).expand(c, 1, 11, 1).contiguous(), groups=c)
    mx, my, xx, yy, xy = maps.chunk(5, 1)
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mx * my + c1) * (2 * (xy - mx * my) + c2)) / (
        (mx * mx + my * my + c1) * (xx - mx * mx + yy - my * my + c2)
    )
    return ssim_map.flatten(1).mean(1)


def conv_metrics(output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"l1": l1_percent(output, target), "psnr": psnr(output, target), "ssim": conv_ssim(output, target)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(args.batch, 3, args.size, args.size, generator=generator).to(device)
    output = (target + 0.1 * torch.randn(target.shape, generator=generator).to(device)).clamp(0, 1)
    check = (image_metrics(output, target)["ssim"] - conv_ssim(output, target)).abs().max().item()
    times: dict[str, list[float]] = {"evaluator": [], "depthwise conv2d": []}
    cpu: dict[str, list[float]] = {"evaluator": [], "depthwise conv2d": []}
    for _ in range(args.rounds):  # interleaved, so both see the same background load
        for name, function in (("evaluator", image_metrics), ("depthwise conv2d", conv_metrics)):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start, start_cpu = time.perf_counter(), time.process_time()
            function(output, target)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    print(
        f"l1 + PSNR + SSIM at {args.size}², batch {args.batch}, {args.rounds} rounds, {device}, "
        f"torch threads {torch.get_num_threads()} (max SSIM difference {check:.1e})"
    )
    rates = {}
    for name, values in times.items():
        rates[name] = args.batch / statistics.median(values)
        print(
            f"  {name:17s} {rates[name]:7.1f} pairs/s  (median; best {args.batch / min(values):.1f}); "
            f"{args.batch / statistics.median(cpu[name]):.1f} pairs per CPU-second"
        )
    print(f"  ratio evaluator / depthwise conv2d: {rates['evaluator'] / rates['depthwise conv2d']:.2f}x")
    print(f"  goal >= 50 pairs/s: {'met' if rates['evaluator'] >= 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
