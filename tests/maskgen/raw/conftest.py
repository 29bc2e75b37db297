"""Sources the extraction and merge tests read: two rendered scenes and a still with a hard cut."""

import cv2
import numpy as np
import pytest

from pconv.core.files import sha256_file
from pconv.maskgen.raw.synth import render_scenes


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    folders = render_scenes(root, scenes=2, frames=4, size=(192, 144), seed=1, workers=1)
    # a third source: a still, then a hard cut to an unrelated picture
    still = root / "still"
    still.mkdir()
    rng = np.random.default_rng(0)
    pictures = [cv2.resize(rng.integers(0, 256, (18, 24, 3), np.uint8), (192, 144)) for _ in range(2)]
    for index, picture in enumerate([pictures[0], pictures[0], pictures[1]]):
        cv2.imwrite(str(still / f"{index}.png"), picture)
    return [str(folder) for folder in folders] + [str(still)]


@pytest.fixture
def folder_digest():
    """Every file of a folder by relative name → SHA-256: what byte-identical pools are compared by."""

    def digest(folder):
        return {
            str(path.relative_to(folder)): sha256_file(path)
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }

    return digest
