import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from pconv import cli
from pconv.core.locks import LOCK_NAME, locked_beside, locked_folder

HOLD = """
import sys, time
from pconv.core.locks import locked_folder
with locked_folder(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of ``tmp_path / 'out'``."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "out")], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_a_second_writer_stops_at_once_naming_the_holder(tmp_path, holder):
    expected = f"in use by another writer \\(pid {holder.pid}\\)"
    with pytest.raises(ValueError, match=expected), locked_folder(tmp_path / "out"):
        pass
    result = CliRunner().invoke(
        cli.main, ["-q", "masks", "synth", "--out", str(tmp_path / "out"), "--scenes", "1"]
    )
    assert result.exit_code == 1 and result.output == (
        f"Error: {tmp_path / 'out'}: in use by another writer (pid {holder.pid}); "
        "wait for it to finish or stop it\n"
    )


def test_a_killed_holder_releases_the_lock(tmp_path, holder):
    holder.kill()
    holder.wait()
    with locked_folder(tmp_path / "out") as folder:
        assert (folder / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / "out" / LOCK_NAME).exists()  # never left in a finished output


def test_a_folder_is_locked_once_and_a_created_empty_folder_goes(tmp_path):
    refused = pytest.raises(ValueError, match=f"in use by another writer \\(pid {os.getpid()}\\)")
    with locked_folder(tmp_path / "new"), refused, locked_folder(tmp_path / "new"):
        pass
    assert not (tmp_path / "new").exists()
    with locked_beside(tmp_path / "release") as parent:
        assert (parent / f".release{LOCK_NAME}").is_file()
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_runs_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "masks").mkdir()
    stale = tmp_path / "masks" / f".00001.png.pconv-tmp-{dead.pid}"
    big = tmp_path / f".masks.h5.pconv-tmp-{dead.pid}"
    alive = tmp_path / f".masks.h5.pconv-tmp-{os.getppid()}"
    for path in (stale, big, alive):
        path.write_bytes(b"x")
    time.sleep(0.1)
    with locked_folder(tmp_path):
        pass
    assert not stale.exists() and not big.exists() and alive.exists()
