"""Tiny inputs for evaluator tests: a photo folder, a benchmark folder and a model checkpoint."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pconv.core.files import sha256_file
from pconv.core.masks import write_mask_png
from pconv.maskgen.sets.bins import BIN_EDGES, border_distance

SIZE = 64
PER_CELL = 2


def make_photos(folder: Path, count: int = 30) -> Path:
    """``count`` smooth colour photos of 80×72 px (so the loader resizes and centre-crops them)."""
    rng = np.random.default_rng(5)
    folder.mkdir(parents=True)
    for i in range(count):
        small = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
        photo = cv2.resize(small, (80, 72), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"photo{i:03d}.png"), photo)
    return folder


def _hole(ratio: float, split: str, rng: np.random.Generator) -> np.ndarray:
    hole = np.zeros((SIZE, SIZE), bool)
    side = max(2, round((ratio * SIZE * SIZE) ** 0.5))
    if split == "N":
        top = left = (SIZE - side) // 2
    else:
        top, left = 0, int(rng.integers(0, SIZE - side))
    hole[top : top + side, left : left + side] = True
    return hole


def make_benchmark(folder: Path) -> Path:
    """A benchmark in `pconv masks benchmark`'s layout: 6 bins × N/B × PER_CELL 64-px masks.

    The N/B split here uses a 10-px border band (a 50-px band does not fit 64-px masks).
    """
    rng = np.random.default_rng(9)
    (folder / "masks").mkdir(parents=True)
    rows = []
    for index in range(len(BIN_EDGES) - 1):
        low, high = BIN_EDGES[index], BIN_EDGES[index + 1]
        for split in ("N", "B"):
            for _ in range(PER_CELL):
                hole = _hole(float(rng.uniform(low + 0.02, high - 0.02)), split, rng)
                ratio = float(hole.mean())
                name = f"masks/{len(rows):05d}.png"
                write_mask_png(folder / name, hole)
                rows.append(
                    {
                        "file": name,
                        "bin": index,
                        "bin_low": low,
                        "bin_high": high,
                        "split": split,
                        "hole_ratio": ratio,
                        "border_distance": border_distance(hole),
                        "raw_id": 0,
                        "source": "test",
                        "frame": 0,
                        "dilation": 0,
                        "angle": 0.0,
                        "scale": 1.0,
                        "crop_x": 0.0,
                        "crop_y": 0.0,
                        "seed": 0,
                        "attempt": 0,
                        "sha256": sha256_file(folder / name),
                    }
                )
    with open(folder / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def make_checkpoint(path: Path, arch: str, seed: int = 0) -> Path:
    """An untrained 3-level U-Net checkpoint of ``arch`` in pconv_model's checkpoint format."""
    from pconv.pconv_model.checkpoint import build_model, save_checkpoint

    torch.manual_seed(seed)
    model = build_model(arch, layers=3, width=0.125)
    optimizer = torch.optim.Adam(model.parameters())
    save_checkpoint(
        path,
        model=model,
        optimizer=optimizer,
        scaler_state={},
        step=0,
        config={"arch": arch, "phase": "initial", "layers": 3, "width": 0.125},
    )
    return path


@pytest.fixture(autouse=True)
def empty_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No cached weights: every test gives the metric networks' files itself (none are downloaded)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home"


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return make_photos(tmp_path / "photos")


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    return make_benchmark(tmp_path / "bench")


@pytest.fixture
def checkpoint(tmp_path: Path):
    """``checkpoint(arch, seed=0)`` writes a tiny untrained checkpoint and returns its path."""

    def write(arch: str, seed: int = 0) -> Path:
        return make_checkpoint(tmp_path / (f"{arch}.pt" if seed == 0 else f"{arch}-{seed}.pt"), arch, seed)

    return write


def random_inception_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """torch-fidelity's Inception-v3 architecture with random values (He-scaled, so features vary)."""
    import math
    from unittest import mock

    from torch_fidelity import feature_extractor_inceptionv3 as fidelity

    with (
        mock.patch.object(fidelity, "load_state_dict_from_url", lambda *args, **kwargs: None),
        mock.patch.object(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None),
    ):
        net = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    generator = torch.Generator().manual_seed(seed)
    state = net.state_dict()
    for key, value in state.items():
        if value.dim() == 4:
            value.copy_(torch.randn(value.shape, generator=generator) * math.sqrt(2 / value[0].numel()))
        elif key == "fc.weight":
            value.copy_(torch.randn(value.shape, generator=generator) * 4 / math.sqrt(value.shape[1]))
    return state


@pytest.fixture(scope="session")
def inception_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights file of torch-fidelity's Inception-v3 with random values (made once per test session)."""
    path = tmp_path_factory.mktemp("weights") / "inception-random.pth"
    torch.save(random_inception_state(), path)
    return path
