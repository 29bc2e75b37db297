"""Shared by the release tests: loading a release with Hugging Face `datasets` as its users would."""

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def load_with_datasets(tmp_path):
    """Run ``script`` (a loader that prints JSON) on a release folder in a subprocess whose working folder is
    ``tmp_path``: from the repository root `import datasets` would find the project's own folder."""

    def load(script, dist):
        env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "hf-cache"), "HF_HUB_OFFLINE": "1"}
        done = subprocess.run(
            [sys.executable, "-c", script, str(dist)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    return load
