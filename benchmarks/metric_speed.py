"""Throughput of the evaluator's network metrics: LPIPS (VGG16 and AlexNet backbones) and Inception-v3
features (torch-fidelity's TF port, what FID, IS, KID and P/U-IDS need), in pairs per second at 512².

Speed does not depend on the weights' values, so the networks get random ones (nothing is downloaded):
the Inception file is written to a temporary folder and loaded the way the evaluator loads it. Each metric
runs on the evaluator's objects, batched as ``pconv eval --batch-size`` batches them; one pair is one LPIPS
comparison, or the Inception features of one composite plus its ground truth (two images).

    .venv/bin/python benchmarks/metric_speed.py [--size 512] [--batch 8] [--rounds 3] [--devices cpu cuda]
                                                [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from unittest import mock

import torch
from torch_fidelity import feature_extractor_inceptionv3 as fidelity
from torchvision.models import alexnet, vgg16

from pconv.evaluator.inception import INCEPTION_NAME, InceptionExtractor
from pconv.evaluator.scores import LPIPS


def random_inception_file(folder: Path) -> Path:
    """torch-fidelity's Inception-v3 with its random initial values, saved as a weights file."""
    with (
        mock.patch.object(fidelity, "load_state_dict_from_url", lambda *args, **kwargs: None),
        mock.patch.object(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None),
    ):
        net = fidelity.FeatureExtractorInceptionV3(INCEPTION_NAME, ["2048"])
    path = folder / "inception-random.pth"
    torch.save(net.state_dict(), path)
    return path


def both(extractor: InceptionExtractor, fake: torch.Tensor, real: torch.Tensor) -> None:
    """What a pair costs: the features of its composite and of its ground truth."""
    extractor(fake)
    extractor(real)


def rate(step: Callable[[], object], pairs: int, rounds: int, device: torch.device) -> tuple[float, float]:
    """Median pairs/s of ``rounds`` timed calls after one warm-up call, and pairs per CPU-second."""
    step()
    walls, cpus = [], []
    for _ in range(rounds):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return pairs / statistics.median(walls), pairs / statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--devices", nargs="+", default=["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        backbones = {"vgg": vgg16, "alex": alexnet}
        files = {}
        for net, build in backbones.items():
            files[net] = Path(folder) / f"{net}.pth"
            torch.save(build(weights=None).state_dict(), files[net])
        inception = random_inception_file(Path(folder))
        print(
            f"{args.size}², batch {args.batch}, torch {torch.__version__}, {torch.get_num_threads()} threads"
        )
        print("| device | metric | pairs/s | pairs per CPU-s |")
        print("|---|---|---|---|")
        for name in args.devices:
            device = torch.device(name)
            fake = torch.rand(args.batch, 3, args.size, args.size, device=device)
            real = torch.rand(args.batch, 3, args.size, args.size, device=device)
            for net in backbones:
                metric = LPIPS(net=net, weights=files[net], device=device)
                wall, cpu = rate(partial(metric.score, fake, real), args.batch, args.rounds, device)
                print(f"| {name} | LPIPS {net} | {wall:.1f} | {cpu:.1f} |")
            extractor = InceptionExtractor(weights=inception).to(device)
            wall, cpu = rate(partial(both, extractor, fake, real), args.batch, args.rounds, device)
            print(f"| {name} | Inception features (composite + ground truth) | {wall:.1f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
