#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one run of at most about 9.5 minutes (a lent GPU session is short):
# the fp16 range of the network, the speed tables (eager and compiled), training speed, the loss under
# fp16/bf16 autocast with a real fp16 training run, and the tests that touch CUDA.
#
#   bash benchmarks/gpu_check.sh [VGG16_FILE]      # from the repository root; logs go to $OUT or gpu-out/
#
# Each step has its own time limit, so a slow one cannot starve the rest; every log is kept.
set -uo pipefail
export PYTHONUNBUFFERED=1
out=${OUT:-gpu-out}
vgg=${1:-}
mkdir -p "$out"
py=python3

step() {  # step NAME SECONDS COMMAND...: run with a limit, log to $out/NAME.txt, never stop the script
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit}s)"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.txt"
  echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start))s"
}

if ! $py -c "import pconv.pconv_model" 2>/dev/null; then
  $py -m pip install -q --no-deps --no-build-isolation -e . >"$out/install.txt" 2>&1 ||
    { mkdir -p /tmp/pconv-ns && ln -sfn "$PWD" /tmp/pconv-ns/pconv && export PYTHONPATH=/tmp/pconv-ns; }
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/device.txt"
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/device.txt"

step fp16_range 40 $py - <<'EOF'
import torch
from pconv.pconv_model import PConvUNet
torch.manual_seed(0)
for layers, size in ((8, 512), (7, 256)):
    net = PConvUNet(layers=layers).cuda().eval()
    image, mask = torch.rand(1, 3, size, size, device="cuda"), torch.zeros(1, 1, size, size, device="cuda")
    mask[..., size // 2, size // 2] = 1  # one valid pixel
    with torch.no_grad():
        peak = net(image, mask).abs().max().item()
        half = net.half()(image.half(), mask.half())
        net.float()
        with torch.autocast("cuda", dtype=torch.float16):
            auto = net(image, mask)
    print(f"layers={layers}: fp32 peak {peak:.3g}; .half() finite {bool(half.isfinite().all())}; "
          f"fp16 autocast finite {bool(auto.isfinite().all())}")
EOF
# Order by value; limits from an H100 run (2026-11-27): the tests take about 3 minutes, and compiling one
# PConvUNet graph 24-36 s (ConvUNet 6-13 s), so each speed row that compiles costs about a minute.
step tests 200 $py -m pytest -q -p no:cacheprovider tests/pconv_model tests/evaluator tests/core
step pconv_speed 150 $py benchmarks/pconv_speed.py --device cuda --sizes 512 256 --batches 6 1 --budget-s 90
step amp_check 70 $py benchmarks/amp_check.py --device cuda ${vgg:+--vgg-weights "$vgg"} --train /tmp/amp-check
step train_speed 100 $py benchmarks/train_speed.py --devices cuda --sizes 512 --budget-s 30
