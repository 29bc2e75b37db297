import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torchvision.models.vgg import make_layers

from pconv.cli import main
from pconv.core.files import append_jsonl
from pconv.core.masks import write_mask_png

VGG_POOL3 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Photos, a raw pool with both splits and a random VGG16 pool1-3 state dict file."""
    root = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    (root / "photos").mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(root / "photos" / f"{i}.png")
    for number, source in enumerate(["a.mp4", "a.mp4", "b.mp4", "b.mp4"]):
        hole = np.zeros((40, 40), bool)
        hole[5 + number : 20, 8:25] = True
        write_mask_png(root / "raw" / "masks" / f"{number:06d}.png", hole)
        append_jsonl(
            root / "raw" / "manifest.jsonl",
            {
                "id": number,
                "file": f"masks/{number:06d}.png",
                "source": source,
                "t": number,
                "step": 1,
                "method": "test",
                "hole_ratio": float(hole.mean()),
                "height": 40,
                "width": 40,
            },
        )
    (root / "raw" / "split.json").write_text(json.dumps({"sources": {"a.mp4": "train", "b.mp4": "test"}}))
    torch.manual_seed(0)
    torch.save({f"features.{k}": v for k, v in make_layers(VGG_POOL3).state_dict().items()}, root / "vgg.pth")
    return root


def train_args(root, out, *extra):
    return [
        "-q",
        "train",
        "--dataset",
        "folder",
        "--data",
        str(root / "photos"),
        "--masks",
        str(root / "raw"),
        "--out",
        str(root / out),
        "--iterations",
        "2",
        "--batch-size",
        "2",
        "--image-size",
        "32",
        "--layers",
        "5",
        "--width",
        "0.125",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--vgg-weights",
        str(root / "vgg.pth"),
        *extra,
    ]


@pytest.fixture(scope="module")
def trained(workspace):
    result = CliRunner().invoke(main, train_args(workspace, "run"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"step 2 of 2 (done); checkpoint {workspace / 'run' / 'checkpoint.pt'} in "
    )
    return workspace / "run" / "checkpoint.pt"


def test_train_then_inpaint_an_odd_sized_photo(workspace, trained, tmp_path):
    photo = np.random.default_rng(1).integers(0, 256, (21, 27, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "p.png")
    hole = np.zeros((21, 27), bool)
    hole[4:10, 6:20] = True
    write_mask_png(tmp_path / "m.png", ~hole)  # stored with 0 = hole
    result = CliRunner().invoke(
        main,
        [
            "-q",
            "inpaint",
            "--checkpoint",
            str(trained),
            "--image",
            str(tmp_path / "p.png"),
            "--mask",
            str(tmp_path / "m.png"),
            "--out",
            str(tmp_path / "o.png"),
            "--hole-value",
            "0",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote 1 image(s) to {tmp_path / 'o.png'} in ")
    output = np.asarray(Image.open(tmp_path / "o.png"))
    assert output.shape == photo.shape and np.array_equal(output[~hole], photo[~hole])


def test_resume_and_refusal_to_overwrite(workspace, trained):
    again = CliRunner().invoke(main, train_args(workspace, "run"))
    assert again.exit_code == 1
    assert again.output == (
        f"Error: {workspace / 'run'} already holds a run (checkpoint.pt); pass --resume "
        "to continue it or choose another --out\n"
    )
    resumed = CliRunner().invoke(main, train_args(workspace, "run", "--resume"))
    assert resumed.exit_code == 0 and resumed.output.startswith("step 2 of 2 (done)")


def test_missing_inputs_give_one_line_errors(workspace, tmp_path, trained):
    no_vgg = CliRunner().invoke(main, [*train_args(workspace, "x")[:-1], str(tmp_path / "absent.pth")])
    assert no_vgg.exit_code == 1
    assert no_vgg.output == f"Error: {tmp_path / 'absent.pth'}: no such VGG16 weights file\n"
    no_data = CliRunner().invoke(main, train_args(workspace, "y", "--split", "train"))
    assert no_data.exit_code == 1
    missing = workspace / "photos" / "train"
    assert no_data.output == f"Error: {missing}: no such folder (images of split train)\n"
    Image.new("RGB", (10, 8)).save(tmp_path / "a.png")
    write_mask_png(tmp_path / "m.png", np.zeros((8, 9), bool))
    mismatch = CliRunner().invoke(
        main,
        [
            "-q",
            "inpaint",
            "--checkpoint",
            str(trained),
            "--image",
            str(tmp_path / "a.png"),
            "--mask",
            str(tmp_path / "m.png"),
            "--out",
            str(tmp_path / "o.png"),
        ],
    )
    assert mismatch.exit_code == 1
    assert mismatch.output == f"Error: {tmp_path / 'm.png'}: mask is 9x8 but photo a.png is 10x8\n"
    absent = CliRunner().invoke(
        main,
        [
            "-q",
            "inpaint",
            "--checkpoint",
            str(tmp_path / "none.pt"),
            "--image",
            str(tmp_path / "a.png"),
            "--mask",
            str(tmp_path / "m.png"),
            "--out",
            str(tmp_path / "o.png"),
        ],
    )
    assert absent.exit_code == 1 and absent.output == f"Error: {tmp_path / 'none.pt'}: no such checkpoint\n"


def test_two_process_torchrun_on_cpu(workspace):
    """CI's distributed smoke test: torchrun, gloo, DistributedDataParallel, rank-0 logging, 2 steps."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "pconv.cli",
        *train_args(workspace, "ddp", "--log-every", "1"),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=workspace,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("step 2 of 2 (done)") == 1  # rank 0 alone reports
    run = workspace / "ddp"
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    assert [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()] == [1, 2]
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 2


def test_a_bad_photo_in_a_loader_worker_is_named_and_the_process_exits(workspace, tmp_path):
    """Loader workers ignore SIGTERM (the trainer checkpoints first), so the trainer must stop them itself
    when a worker's error ends the run; otherwise the interpreter waits on them for ever at exit."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.new("L", (40, 36)).save(photos / name)
    Image.new("RGB", (40, 36), (90, 120, 30)).save(photos / "d.png")  # the validation photo
    args = train_args(workspace, tmp_path / "run", "--workers", "1", "--strict-images")
    args[args.index("--data") + 1] = str(photos)
    done = subprocess.run(
        [sys.executable, "-c", "from pconv.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]  # after the warning that validation uses training photos
    assert last.startswith(f"Error: {photos}/") and last.endswith(".png: a grey image (mode L); RGB expected")


def test_compile_flags(workspace, trained, tmp_path, monkeypatch):
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "p.png")
    write_mask_png(tmp_path / "m.png", np.eye(16, dtype=bool))
    inpaint = ["-q", "inpaint", "--checkpoint", str(trained), "--image", str(tmp_path / "p.png")]
    inpaint += ["--mask", str(tmp_path / "m.png"), "--out", str(tmp_path / "o.png"), "--device", "cpu"]
    assert CliRunner().invoke(main, [*inpaint, "--no-compile"]).exit_code == 0
    monkeypatch.setenv("CXX", str(tmp_path / "absent-c++"))
    missing = (
        f"Error: --compile: torch.compile on the CPU needs a C++ compiler; {tmp_path / 'absent-c++'} was "
        "not found (set CXX); run with --no-compile\n"
    )
    for args in (inpaint, train_args(workspace, "compiled")):
        result = CliRunner().invoke(main, [*args, "--compile"])
        assert result.exit_code == 1 and result.output == missing
    assert not (workspace / "compiled").exists()  # refused before the run folder was made
    assert "--compile / --no-compile" in CliRunner().invoke(main, ["train", "--help"]).output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_train_exits_128_plus_the_signal_and_resumes(workspace, signum):
    """Issue 23, item 10: a scheduler must not see a stopped run as a finished one."""
    out = workspace / f"stopped-{signum}"
    args = train_args(workspace, out.name)
    args[args.index("--iterations") + 1] = "100000"
    job = subprocess.Popen(
        [sys.executable, "-c", "from pconv.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "log.jsonl").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    job.send_signal(signum)
    stdout, stderr = job.communicate(timeout=120)
    assert job.returncode == 128 + signum, stderr[-2000:]
    assert "(interrupted; continue with --resume)" in stdout
    step = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    assert 1 <= step < 100000


def test_the_choices_the_help_lists_are_the_librarys():
    """`pconv train/model --help` read pconv_model.choices (no torch); the library must agree with it."""
    from pconv.pconv_model import checkpoint, choices, train
    from pconv.pconv_model.pretrained import LAYOUTS

    assert tuple(checkpoint.ARCHS) == choices.ARCH_NAMES
    assert tuple(LAYOUTS) == choices.LAYOUT_NAMES
    assert train.AMP_MODES is choices.AMP_MODES and train.PHASE_LR is choices.PHASE_LR
