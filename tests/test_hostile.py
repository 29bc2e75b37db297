"""Crafted input fed to every command: each case must give exit 1, one ``Error:`` line, and write nothing
outside the output folder (issue 11)."""

import json
import struct
import zlib

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from pconv import cli
from pconv.core.files import append_jsonl
from pconv.core.masks import write_mask_png
from pconv.maskgen.sets.bench_format import BENCH_COLUMNS
from pconv.maskgen.sets.bins import BIN_EDGES
from pconv.pconv_model.unet import PConvUNet


def run(*args):
    return CliRunner().invoke(cli.main, ["--quiet", *map(str, args)])


def one_error_line(result, *needles):
    """The result is exit 1 with exactly one line, an ``Error:`` naming every needle."""
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert str(needle) in lines[0], result.output
    return lines[0]


def huge_png_header(path, width=30000, height=30000):
    """A 74-byte PNG whose header claims ``width × height`` RGBA 16-bit pixels (7.2 GB decoded)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def write_pool(root, rows):
    """A raw pool with one real 32x32 mask and the given manifest rows (dicts merged into a valid row)."""
    write_mask_png(root / "masks" / "000000.png", np.eye(32, dtype=bool))
    for number, row in enumerate(rows):
        base = {"id": number, "file": "masks/000000.png", "source": f"c{number}", "t": 0, "hole_ratio": 0.03}
        append_jsonl(root / "manifest.jsonl", {**base, "height": 32, "width": 32, **row})
    (root / "split.json").write_text(json.dumps({"sources": {f"c{n}": "test" for n in range(len(rows))}}))
    return root


def write_shard(root, index, rows, run=None):
    """A finished extract shard ``index``/2 of a two-job run."""
    write_mask_png(root / "masks" / f"{index - 1:06d}.png", np.eye(32, dtype=bool))
    document = {
        "sources": ["../x"],  # relative to the shard folder, as extract writes them: both shards name one x
        "config": {},
        "shard": f"{index}/2",
        "sharding": "s",
        "version": "0",
        "jobs": 2,
    }
    (root / "run.json").write_text(json.dumps(document) if run is None else run)
    for row in rows:
        append_jsonl(
            root / "manifest.jsonl",
            {"id": index - 1, "file": f"masks/{index - 1:06d}.png", "source": "../x", **row},
        )
    (root / "skipped.jsonl").write_text("")
    return root


# 1. paths from manifests, shards and reports stay inside their folder


@pytest.mark.parametrize("name", ["../../victim/pwned.png", "ABSOLUTE"])
def test_merge_refuses_a_shard_row_leading_outside(tmp_path, name):
    victim = tmp_path / "victim"
    victim.mkdir()
    target = victim / "pwned.png"
    if name == "ABSOLUTE":
        target.write_bytes(b"precious")
        target.chmod(0o600)
        name = str(target)
    first = write_shard(tmp_path / "s1", 1, [{"file": name}])
    second = write_shard(tmp_path / "s2", 2, [{}])
    line = one_error_line(
        run("masks", "merge", first, second, "--out", tmp_path / "out"), "refusing the path"
    )
    assert name in line
    assert sorted(path.name for path in victim.iterdir()) == (["pwned.png"] if target.exists() else [])
    if target.exists():
        assert target.read_bytes() == b"precious" and target.stat().st_mode & 0o777 == 0o600


def test_merge_refuses_a_mask_symlink_leading_outside(tmp_path):
    secret = tmp_path / "secret.png"
    write_mask_png(secret, np.eye(8, dtype=bool))
    first = write_shard(tmp_path / "s1", 1, [{"file": "masks/link.png"}])
    (first / "masks" / "link.png").symlink_to(secret)
    second = write_shard(tmp_path / "s2", 2, [{}])
    one_error_line(run("masks", "merge", first, second, "--out", tmp_path / "out"), "leads outside")
    assert not (tmp_path / "out" / "masks" / "link.png").exists()


def small_benchmark(raw, out):
    """`pconv masks benchmark` of one mask per bin × split at 64 px, from ``raw`` into ``out``."""
    return run("masks", "benchmark", "--raw", raw, "--out", out, "--per-bin", 1, "--size", 64, "--border", 4)


def test_the_raw_pool_reader_refuses_a_row_leading_outside(tmp_path):
    write_mask_png(tmp_path / "outside.png", np.eye(32, dtype=bool))
    raw = write_pool(tmp_path / "raw", [{"file": "../outside.png"}] * 3)
    result = small_benchmark(raw, tmp_path / "bench")
    one_error_line(result, "../outside.png", "refusing the path")
    assert not (tmp_path / "bench").exists()


def test_the_benchmark_reader_refuses_a_row_leading_outside(tmp_path):
    from pconv.maskgen.sets.bench_format import load_benchmark_hole, read_benchmark

    bench = tmp_path / "bench"
    bench.mkdir()
    row = {name: "0" for name in BENCH_COLUMNS} | {"split": "N", "source": "s"}
    header = ",".join(["file", *BENCH_COLUMNS, "sha256"])
    line = ",".join(["/etc/passwd", *(row[name] for name in BENCH_COLUMNS), "0"])
    (bench / "manifest.csv").write_text(f"{header}\n{line}\n")
    (record,) = read_benchmark(bench)
    with pytest.raises(ValueError, match="refusing the path '/etc/passwd'"):
        load_benchmark_hole(bench, record)


def eval_folder(tmp_path, **changes):
    out = tmp_path / "report"
    (out / "per_pair").mkdir(parents=True)
    config = {"methods": ["telea"], "bins": [[0, "1-10%"]], "images": "folder:x", "masks": "b", "seed": 0}
    config = {**config, "grid_pairs": 1, "size": 64, "photos": 1, **changes}
    (out / "config.json").write_text(
        json.dumps({key: value for key, value in config.items() if value is not None})
    )
    (out / "pairs.json").write_text(json.dumps({"format": 1, "pairs": [["a.png", "masks/00000.png"]]}))
    return out


def test_eval_merge_refuses_a_config_without_methods(tmp_path):
    out = eval_folder(tmp_path, methods=None)
    one_error_line(run("eval", "merge", out), "config.json", "'methods'")


def test_eval_merge_refuses_a_per_pair_line_without_pair(tmp_path):
    out = eval_folder(tmp_path)
    (out / "per_pair" / "shard-1-of-1.jsonl").write_text(json.dumps({"method": "telea", "psnr": 1.0}) + "\n")
    one_error_line(run("eval", "merge", out), "shard-1-of-1.jsonl", "'pair'")


# 4. sizes: headers checked before decoding, option bounds


def test_a_huge_png_header_is_refused_before_decoding(tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    huge = huge_png_header(folder / "bomb.png")
    assert huge.stat().st_size < 100
    one_error_line(run("masks", "stats", folder), "bomb.png", "PCONV_MAX_PIXELS")


def test_a_huge_photo_is_a_bad_image_that_training_skips(tmp_path):
    from pconv.datasets.images import BadImageError, check_image

    with pytest.raises(BadImageError, match="above the limit"):
        check_image(huge_png_header(tmp_path / "photo.png", 12000, 12000))
    with pytest.raises(BadImageError, match="more pixels than PIL decodes"):
        check_image(huge_png_header(tmp_path / "bomb.png", 60000, 60000))


def test_the_pixel_limit_is_configurable(tmp_path, monkeypatch):
    from pconv.core.masks import read_mask_png

    path = tmp_path / "m.png"
    write_mask_png(path, np.zeros((40, 50), bool))
    monkeypatch.setenv("PCONV_MAX_PIXELS", "1999")
    with pytest.raises(ValueError, match="50x40 is 2,000 pixels, above the limit of 1,999"):
        read_mask_png(path)
    monkeypatch.setenv("PCONV_MAX_PIXELS", "2000")
    assert read_mask_png(path).shape == (40, 50)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["masks", "benchmark", "--out", "b", "--workers", "0"], "--workers"),
        (["masks", "extract", "x", "--out", "r", "--shard", "3/2"], "--shard"),
        (["masks", "benchmark", "--out", "b", "--per-bin", "-1"], "--per-bin"),
        (["masks", "benchmark", "--out", "b", "--size", "40000"], "--size"),
        (["masks", "synth", "--out", "s", "--size", "60000x60000"], "--size"),
    ],
)
def test_bad_option_values_are_one_line(tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    one_error_line(run(*args), needle)
    assert list(tmp_path.iterdir()) == []


def test_help_still_works():
    result = run("masks", "benchmark", "--help")
    assert result.exit_code == 0 and "--per-bin" in result.output


# 5. malformed files: one line naming the file


def bench_folder(tmp_path, params):
    bench = tmp_path / "bench"
    (bench / "masks").mkdir(parents=True)
    (bench / "manifest.csv").write_text(",".join(["file", *BENCH_COLUMNS, "sha256"]) + "\n")
    build = {"kind": "benchmark", "params": {"size": 512, "border": 50, "seed": 0, "bin_edges": BIN_EDGES}}
    build["params"].update(params)
    (bench / "build.json").write_text(json.dumps(build))
    return bench


def test_verify_refuses_an_ill_typed_build_file(tmp_path):
    bench = bench_folder(tmp_path, {"per_bin": "5"})
    one_error_line(run("masks", "verify", bench), "build.json", "per_bin")


def test_verify_names_a_damaged_hdf5_file(tmp_path):
    bench = bench_folder(tmp_path, {"per_bin": 1})
    (bench / "masks.h5").write_bytes(b"not an hdf5 file at all")
    one_error_line(run("masks", "verify", bench), "masks.h5")


def test_verify_names_a_manifest_that_is_not_utf8(tmp_path):
    bench = bench_folder(tmp_path, {"per_bin": 1})
    with open(bench / "manifest.csv", "ab") as handle:
        handle.write(b"\xff\xfe,1\n")
    one_error_line(run("masks", "verify", bench), "manifest.csv", "UTF-8")


def test_split_refuses_a_null_height(tmp_path):
    raw = write_pool(tmp_path / "raw", [{"height": None}])
    one_error_line(run("masks", "split", raw), "manifest.jsonl")
    assert not (raw / ".pconv.lock").exists()


@pytest.mark.parametrize("text", ["[]", "{not json", '{"shard": "1/2"}'])
def test_merge_names_a_bad_run_file(tmp_path, text):
    first = write_shard(tmp_path / "s1", 1, [{}], run=text)
    second = write_shard(tmp_path / "s2", 2, [{}])
    one_error_line(run("masks", "merge", first, second, "--out", tmp_path / "out"), "run.json")
    assert not (tmp_path / "out").exists()


def test_extract_names_a_bad_run_file(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(3):
        Image.fromarray(np.full((48, 64, 3), index * 40, np.uint8)).save(frames / f"{index}.png")
    out = tmp_path / "raw"
    out.mkdir()
    (out / "run.json").write_text("[]")
    one_error_line(run("masks", "extract", frames, "--out", out, "--workers", 1), "run.json")


def small_checkpoint(path, **config):
    model = PConvUNet(layers=2, width=0.125)
    document = {"format": 1, "arch": "pconv", "phase": "initial", "step": 0, "model": model.state_dict()}
    torch.save({**document, "config": {"layers": 2, "width": 0.125, **config}}, path)
    return path


@pytest.fixture
def photo_and_mask(tmp_path):
    photo, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    write_mask_png(mask, np.eye(8, dtype=bool))
    return photo, mask


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ({"format": 1}, "'arch'"),
        ({"width": None}, "'width'"),
        ({"width": 40}, "'width'"),
        ({"width": 4}, "width=4"),
        ({"layers": 3}, "encoder.2.conv.weight is missing"),
    ],
)
def test_inpaint_refuses_a_lying_or_partial_checkpoint(tmp_path, photo_and_mask, document, needle):
    path = tmp_path / "ck.pt"
    if document == {"format": 1}:
        torch.save(document, path)
    else:
        small_checkpoint(path, **document)
    photo, mask = photo_and_mask
    out = tmp_path / "out.png"
    one_error_line(
        run("inpaint", "--checkpoint", path, "--image", photo, "--mask", mask, "--out", out), needle
    )
    assert not out.exists()


def test_inpaint_refuses_a_photo_above_its_limit(tmp_path, photo_and_mask, monkeypatch):
    photo, mask = photo_and_mask
    monkeypatch.setenv("PCONV_MAX_INPAINT_PIXELS", "63")
    checkpoint = small_checkpoint(tmp_path / "ck.pt")
    result = run(
        "inpaint", "--checkpoint", checkpoint, "--image", photo, "--mask", mask, "--out", tmp_path / "o.png"
    )
    one_error_line(result, "photo.png", "PCONV_MAX_INPAINT_PIXELS")


@pytest.mark.parametrize(
    "option", [["--width", "40"], ["--layers", "13"], ["--image-size", "40000"], ["--width", "0"]]
)
def test_train_model_options_are_bounded(tmp_path, option):
    args = [
        "train",
        "--dataset",
        "folder",
        "--data",
        tmp_path,
        "--masks",
        tmp_path,
        "--out",
        tmp_path / "run",
    ]
    one_error_line(run(*args, "--iterations", 1, *option), option[0])
    assert not (tmp_path / "run").exists()


def test_accumulate_refuses_a_row_leading_outside(tmp_path):
    write_mask_png(tmp_path / "outside.png", np.eye(32, dtype=bool))
    raw = write_pool(tmp_path / "raw", [{"file": "../outside.png"}] * 2)
    one_error_line(
        run("masks", "accumulate", raw, "--out", tmp_path / "acc"), "../outside.png", "refusing the path"
    )
    assert not (tmp_path / "acc").exists()


def test_a_pool_with_a_repeated_id_is_refused(tmp_path):
    raw = write_pool(tmp_path / "raw", [{"id": 7}, {"id": 7}])
    one_error_line(
        run("masks", "accumulate", raw, "--out", tmp_path / "acc"), "raw mask id 7 appears more than once"
    )
    assert not (tmp_path / "acc").exists()


@pytest.mark.parametrize(
    "record, row, needle",
    [
        ({"config": {}}, {}, "not a record of `pconv masks accumulate`"),
        ({"config": {"density": "xy", "gap": 1, "max_members": 2, "seed": 0}}, {}, "not a record"),
        (
            {"config": {"density": [0.1, 0.2], "gap": 1, "max_members": 2, "seed": 0}},
            {"accumulate": "xy"},
            "does not list",
        ),
    ],
)
def test_a_damaged_accumulation_record_is_one_line(tmp_path, record, row, needle):
    raw = write_pool(tmp_path / "raw", [{"params": row}] * 3)
    (raw / "accumulate.json").write_text(json.dumps(record))
    result = small_benchmark(raw, tmp_path / "bench")
    one_error_line(result, needle)
    assert not (tmp_path / "bench").exists()


# issue 23 (round two). 1. outputs never replace devices, FIFOs, sockets or inputs


def mask_folder(folder, count=2):
    for index in range(count):
        write_mask_png(folder / f"{index:05d}.png", np.eye(16, dtype=bool))
    return folder


def test_a_fifo_output_is_written_into_not_replaced(tmp_path):
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = run("masks", "stats", mask_folder(tmp_path / "masks"), "--csv", fifo, "--workers", 1)
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].startswith("file,") and len(received[0].splitlines()) == 3


def test_a_character_device_output_is_written_into(tmp_path):
    import stat

    result = run("masks", "stats", mask_folder(tmp_path / "masks"), "--csv", "/dev/null", "--workers", 1)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(__import__("os").stat("/dev/null").st_mode)
    result = run("masks", "stats", tmp_path / "masks", "--csv", "/dev/full", "--workers", 1)
    one_error_line(result, "No space left on device")
    assert stat.S_ISCHR(__import__("os").stat("/dev/full").st_mode)


def test_a_socket_output_is_refused(tmp_path):
    import socket
    import stat

    path = tmp_path / "s.csv"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        result = run("masks", "stats", mask_folder(tmp_path / "masks"), "--csv", path, "--workers", 1)
        one_error_line(result, "s.csv", "is a socket")
        assert stat.S_ISSOCK(path.stat().st_mode)
    finally:
        server.close()


def test_outputs_never_replace_their_inputs(tmp_path, photo_and_mask):
    photo, mask = photo_and_mask
    masks = mask_folder(tmp_path / "masks")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "00000.png").write_bytes(photo.read_bytes())
    checkpoint = small_checkpoint(tmp_path / "ck.pt")
    before = {path: path.read_bytes() for path in (photo, mask, checkpoint, *masks.iterdir())}
    cases = [
        (["inpaint", "--checkpoint", checkpoint, "--image", photo, "--mask", mask, "--out", photo], "is"),
        (["inpaint", "--checkpoint", checkpoint, "--image", photo, "--mask", mask, "--out", mask], "is"),
        (["inpaint", "--checkpoint", checkpoint, "--image", photos, "--mask", masks, "--out", masks], "is"),
        (["inpaint", "--checkpoint", checkpoint, "--image", photos, "--mask", masks, "--out", photos], "is"),
        (["model", "import", "--format", "naoto0804", checkpoint, "--out", checkpoint], "is"),
        (["masks", "stats", masks, "--csv", masks / "00001.png"], "lies inside"),
        (["masks", "bin", masks, "--out", tmp_path], "contains"),
    ]
    for args, how in cases:
        one_error_line(run(*args), f"the output {how} the input")
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(path.name for path in photos.iterdir()) == ["00000.png"]


def test_a_symlinked_output_folder_is_its_target(tmp_path):
    masks = mask_folder(tmp_path / "masks")
    (tmp_path / "alias").symlink_to(masks)
    one_error_line(run("masks", "stats", masks, "--csv", tmp_path / "alias" / "s.csv"), "lies inside")
    assert not (masks / "s.csv").exists()


# issue 23. 5. listers take regular files only


def test_a_fifo_among_photos_or_frames_is_skipped_and_named(tmp_path, capfd):
    import os

    from pconv.core.files import list_images

    folder = mask_folder(tmp_path / "frames", 3)
    os.mkfifo(folder / "zz.png")
    os.symlink("/dev/zero", folder / "zero.png")
    assert [path.name for path in list_images(folder)] == ["00000.png", "00001.png", "00002.png"]
    err = capfd.readouterr().err
    assert "zz.png: not a regular file" in err and "zero.png: not a regular file" in err


# issue 23. 9. temporary files: only ours, and all of ours


def test_the_sweep_leaves_a_users_own_temporary_files(tmp_path):
    from pconv.core.locks import locked_folder

    (tmp_path / "notes").mkdir()
    draft = tmp_path / "notes" / ".draft.txt.tmp-4194000"
    ours = tmp_path / "notes" / ".x.png.pconv-tmp-4194000"
    draft.write_text("mine")
    ours.write_text("half")
    with locked_folder(tmp_path):
        pass
    assert draft.read_text() == "mine" and not ours.exists()


def test_a_killed_publish_leaves_nothing_after_the_next_one(tmp_path):
    import subprocess
    import sys

    from pconv.core.files import temporary_name
    from pconv.core.locks import locked_beside

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    release = tmp_path / "release"
    left = temporary_name(release, dead.pid)  # what publish was building when kill -9 came
    (left / "masks").mkdir(parents=True)
    (left / "masks" / "00000.png").write_bytes(b"half")
    other = temporary_name(tmp_path / "other", dead.pid)
    other.mkdir()
    with locked_beside(release):
        pass
    assert not left.exists() and other.exists()


def test_a_legal_long_output_name_keeps_its_lock_and_temporary(tmp_path):
    from pconv.core.files import atomic_write_text
    from pconv.core.locks import locked_beside

    release = tmp_path / ("r" * 250)
    with locked_beside(release):
        atomic_write_text(release, "x")
    assert release.read_text() == "x" and sorted(tmp_path.iterdir()) == [release]


# issue 23. 4. memory bounded for every format, from headers


def test_an_unidentified_format_with_an_image_name_is_refused(tmp_path):
    import cv2

    folder = tmp_path / "masks"
    folder.mkdir()
    assert cv2.imwrite(str(tmp_path / "x.hdr"), np.ones((40, 40, 3), np.float32))
    (tmp_path / "x.hdr").rename(folder / "00000.png")
    one_error_line(run("masks", "stats", folder), "00000.png", "not a readable image (no PNG, JPEG")


def test_opencv_gets_our_pixel_limit(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "m.png"
    write_mask_png(path, np.zeros((40, 50), bool))
    code = (
        "import pconv.core, cv2\n"
        "try:\n"
        f"    image = cv2.imread({str(path)!r}, cv2.IMREAD_UNCHANGED)\n"
        "except cv2.error:\n"
        "    image = None\n"
        "print('decoded' if image is not None else 'refused')"
    )
    env = {**__import__("os").environ, "PCONV_MAX_PIXELS": "1999"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "refused"
    env["PCONV_MAX_PIXELS"] = "2000"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "decoded"


def test_a_checkpoint_that_inflates_is_refused_before_loading(tmp_path):
    import zipfile

    path = small_checkpoint(tmp_path / "ck.pt")
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(bomb, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        prefix = source.infolist()[0].filename.split("/")[0]
        target.writestr(f"{prefix}/data/999", bytes(80 << 20), compress_type=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 1 << 20
    one_error_line(run("model", "info", bomb), "bomb.pt", "inflate to 83,9")


def test_a_checkpoint_with_an_unknown_entry_is_refused(tmp_path):
    path = tmp_path / "ck.pt"
    small_checkpoint(path)
    document = torch.load(path, weights_only=True)
    torch.save({**document, "payload": torch.zeros(4)}, path)
    one_error_line(run("model", "info", path), "ck.pt", "unknown checkpoint entry payload")


# issue 23. 7. numbers that are not numbers


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_naming_the_tensor(tmp_path, photo_and_mask, value):
    path = small_checkpoint(tmp_path / "ck.pt")
    document = torch.load(path, weights_only=True)
    document["model"]["decoder.0.conv.weight"].view(-1)[3] = value
    torch.save(document, path)
    photo, mask = photo_and_mask
    out = tmp_path / "out.png"
    result = run("inpaint", "--checkpoint", path, "--image", photo, "--mask", mask, "--out", out)
    one_error_line(result, "ck.pt", "decoder.0.conv.weight", "NaN or infinite")
    assert not out.exists()


# issue 23. 6. one line instead of a traceback; 7. numbers that are not numbers


def test_a_manifest_header_over_the_csv_field_limit_is_one_line(tmp_path):
    bench = bench_folder(tmp_path, {"per_bin": 1})
    (bench / "manifest.csv").write_text("x" * 200_000 + "\n")
    one_error_line(run("masks", "verify", bench), "manifest.csv", "field larger than field limit")


@pytest.mark.parametrize("name", ["split.json", "manifest.jsonl"])
def test_deeply_nested_json_is_one_line(tmp_path, name):
    raw = write_pool(tmp_path / "raw", [{}, {}])
    deep = "[" * 100_000 + "]" * 100_000
    if name == "manifest.jsonl":
        with open(raw / name, "a") as handle:
            handle.write(deep + "\n")
    else:
        (raw / name).write_text(deep)
    one_error_line(run("masks", "accumulate", raw, "--out", tmp_path / "acc"), name, "nested too deeply")


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ('"id": Infinity', "manifest.jsonl:2: cannot convert float infinity"),
        ('"hole_ratio": NaN', "manifest.jsonl:2: hole_ratio nan is not a share in [0, 1]"),
        ('"hole_ratio": 1.5', "manifest.jsonl:2: hole_ratio 1.5 is not a share"),
    ],
)
def test_a_raw_row_that_is_not_a_number_names_its_line(tmp_path, row, needle):
    raw = tmp_path / "raw"
    write_mask_png(raw / "masks" / "000000.png", np.eye(32, dtype=bool))
    line = '{"file": "masks/000000.png", "source": "c0", "t": 0, "height": 32, "width": 32, "id": 0, '
    line += '"hole_ratio": 0.03, ' + row + "}"
    (raw / "manifest.jsonl").write_text("\n" + line + "\n")
    one_error_line(run("masks", "split", raw), needle)


@pytest.mark.parametrize("bins", ['[["x", "1-10%"]]', "[[0]]", "[5]"])
def test_eval_merge_names_malformed_bins(tmp_path, bins):
    out = eval_folder(tmp_path, bins=json.loads(bins))
    append_jsonl(out / "per_pair" / "shard-1-of-1.jsonl", {"method": "telea", "pair": 0, "psnr": 1.0})
    one_error_line(run("eval", "merge", out), "config.json", "'bins'")


def test_a_benchmark_mask_above_the_pixel_limit_is_a_bad_mask(tmp_path):
    from pconv.evaluator.checks import bad_masks

    bench = tmp_path / "bench"
    (bench / "masks").mkdir(parents=True)
    write_mask_png(bench / "masks" / "00000.png", np.eye(8, dtype=bool))
    huge_png_header(bench / "masks" / "00001.png", 12000, 12000)
    huge_png_header(bench / "masks" / "00002.png", 60000, 60000)
    bad, _ = bad_masks(bench, ["masks/00000.png", "masks/00001.png", "masks/00002.png", "../x.png"])
    reasons = dict(bad)
    assert "above the limit" in reasons["masks/00001.png"]
    assert reasons["masks/00002.png"] == "unreadable, DecompressionBombError"
    assert "refusing the path" in reasons["../x.png"]


# issue 23, minor: errors name their file; nothing prints above the Error: line


def test_a_huge_integer_in_build_json_names_the_file(tmp_path):
    bench = bench_folder(tmp_path, {"per_bin": 1})
    text = (bench / "build.json").read_text().replace('"per_bin": 1', '"per_bin": 1' + "0" * 5000)
    (bench / "build.json").write_text(text)
    one_error_line(run("masks", "verify", bench), "build.json", "not valid JSON")


def test_opencv_warnings_stay_quiet(tmp_path):
    import subprocess
    import sys

    code = f"import pconv.core, cv2; cv2.imread({str(tmp_path / 'missing.png')!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""


# issue 23, found by the fresh pass: stats lists regular files only; a per-pair record lacking fields


def test_stats_skips_and_names_a_fifo_and_a_symlink_loop(tmp_path):
    import os

    folder = mask_folder(tmp_path / "masks")
    os.mkfifo(folder / "f.png")
    os.symlink(folder / "loop.png", folder / "loop.png")
    result = CliRunner().invoke(cli.main, ["-q", "masks", "stats", str(folder), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "f.png: not a regular file" in result.stderr and "loop.png: not a regular file" in result.stderr


def test_eval_merge_names_a_record_without_its_bin(tmp_path):
    out = eval_folder(tmp_path)
    append_jsonl(out / "per_pair" / "shard-1-of-1.jsonl", {"method": "telea", "pair": 0, "psnr": 1.0})
    one_error_line(run("eval", "merge", out), "per_pair", "not a pconv eval result")


def test_accumulate_and_train_never_write_around_their_inputs(tmp_path):
    raw = write_pool(tmp_path / "raw", [{}, {}])
    before = sorted(path.name for path in tmp_path.iterdir())
    one_error_line(run("masks", "accumulate", raw, "--out", tmp_path), "the output contains the input RAW")
    photos = tmp_path / "photos"
    photos.mkdir()
    args = ["train", "--dataset", "folder", "--data", photos, "--masks", raw, "--iterations", 1]
    one_error_line(run(*args, "--out", photos / "run"), "the output lies inside the input --data")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*before, "photos"])
    assert list(photos.iterdir()) == []


def test_split_takes_the_pool_lock_before_reading_the_manifest(tmp_path):
    """Issue 23, item 2 audit: a pool still being written (its manifest half-made) is refused as in use,
    not read."""
    import subprocess
    import sys

    raw = write_pool(tmp_path / "raw", [{}, {}])
    with open(raw / "manifest.jsonl", "a") as handle:
        handle.write('{"id": 5}\n')  # a writer's line in progress
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pconv.core.locks import locked_folder\n"
            f"with locked_folder({str(raw)!r}):\n    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        one_error_line(run("masks", "split", raw), "in use by another writer")
    finally:
        holder.communicate("")


def test_a_short_benchmark_row_says_so(tmp_path):
    bench = bench_folder(tmp_path, {"per_bin": 1})
    with open(bench / "manifest.csv", "a") as handle:
        handle.write("masks/00000.png,1\x00\n")
    one_error_line(run("masks", "verify", bench), "manifest.csv:2: bad manifest row", "fewer fields")
