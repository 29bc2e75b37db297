"""SHA-256 of every file the main writers produce, to prove a refactor left the outputs byte-identical.

Runs, in a scratch folder and with fixed seeds: the default benchmark (``--per-bin 5`` with
``--quick``), an ``extract`` pool of generated scenes with its ``split``, an ``accumulate`` pool, a
``publish`` release of the benchmark and a small ``eval`` report (telea on generated photos). It then
writes one ``relative/path  sha256`` line per file. Run it on the commit before and after a change and
compare the two listings:

    .venv/bin/python benchmarks/output_digests.py --out before.txt            # on the old commit
    .venv/bin/python benchmarks/output_digests.py --out after.txt             # on the new commit
    .venv/bin/python benchmarks/output_digests.py --compare before.txt after.txt

``--compare`` prints how many files matched, every path whose digest differs or that only one side has,
and exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

PCONV = [sys.executable, "-c", "from pconv.cli import main; main()"]


def pconv(*args: str) -> None:
    """Run one pconv command quietly; any failure stops the script with the command's own error."""
    command = [*PCONV, "--quiet", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: pconv {' '.join(args)}\n{done.stdout}{done.stderr}")
    print(f"ran: pconv {' '.join(args)}", flush=True)


def write_photos(folder: Path, count: int = 12, size: int = 512) -> None:
    """Deterministic colour photos (smooth gradients plus seeded noise), enough for a small report."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for index in range(count):
        base = np.stack([ys * 200 + index * 4, xs * 180 + 20, (ys + xs) * 90 + 30], axis=-1)
        noisy = base + rng.normal(0, 12, base.shape)
        cv2.imwrite(str(folder / f"photo_{index:02d}.png"), np.clip(noisy, 0, 255).astype(np.uint8))


def produce(work: Path, quick: bool) -> None:
    """Every output the comparison covers, each in its own subfolder of WORK."""
    bench = work / "bench"
    pconv("masks", "benchmark", "--out", str(bench), *(["--per-bin", "5"] if quick else []), "--workers", "2")
    pconv("masks", "synth", "--out", str(work / "scenes"), "--scenes", "3", "--frames", "30",
          "--size", "320x240", "--seed", "0")
    scenes = sorted(str(path / "frames") for path in (work / "scenes").glob("scene_*"))
    pconv("masks", "extract", *scenes, "--out", str(work / "raw"), "--workers", "2")
    pconv("masks", "split", str(work / "raw"), "--test-fraction", "0.5", "--seed", "0")
    pconv("masks", "accumulate", str(work / "raw"), "--out", str(work / "raw-dense"), "--gap", "2",
          "--workers", "2")
    pconv("masks", "publish", str(bench), "--out", str(work / "release"))
    write_photos(work / "photos")
    pconv("eval", "--images", f"folder:{work / 'photos'}", "--masks", str(bench), "--method", "telea",
          "--max-pairs", "12", "--device", "cpu", "--out", str(work / "report"))


def digests(work: Path) -> list[str]:
    """``path  sha256`` for every file under WORK except the scratch inputs, sorted by path."""
    lines = []
    for path in sorted(work.rglob("*")):
        relative = path.relative_to(work)
        if path.is_file() and relative.parts[0] not in {"scenes", "photos"}:
            lines.append(f"{relative.as_posix()}  {hashlib.sha256(path.read_bytes()).hexdigest()}")
    return lines


def compare(before: Path, after: Path) -> int:
    """Print the differences between two listings; 0 when they are identical."""
    old = dict(line.rsplit("  ", 1) for line in before.read_text().splitlines())
    new = dict(line.rsplit("  ", 1) for line in after.read_text().splitlines())
    differ = sorted(path for path in old.keys() & new.keys() if old[path] != new[path])
    only_old, only_new = sorted(old.keys() - new.keys()), sorted(new.keys() - old.keys())
    sides = (("differs", differ), (f"only in {before}", only_old), (f"only in {after}", only_new))
    for label, paths in sides:
        for path in paths:
            print(f"{label}: {path}")
    same = len(old.keys() & new.keys()) - len(differ)
    print(f"{same} of {len(old.keys() | new.keys())} files byte-identical")
    return 1 if differ or only_old or only_new else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="Write the listing here.")
    parser.add_argument("--quick", action="store_true", help="A 60-mask benchmark instead of 12,000 masks.")
    parser.add_argument("--work", type=Path, help="Keep the outputs in this (new) folder.")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    if args.out is None:
        parser.error("--out or --compare is required")
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch) / "outputs"
        produce(work, args.quick)
        listing = digests(work)
    args.out.write_text("\n".join(listing) + "\n")
    print(f"{len(listing)} files listed in {args.out}")

if __name__ == "__main__":
    main()
