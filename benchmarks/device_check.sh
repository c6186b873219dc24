#!/usr/bin/env bash
# The GPU checks of issue 15, in priority order, for one run on a lent CUDA machine (see docs/benchmarks.md). Run from
# the repository root on the device machine; every step writes its output under $OUT as it goes, so a time-out keeps
# what finished. The machine lacks monai, nibabel, pytorch-ignite and fire: carry them as wheels in .whl/ (the device
# tool's README says how to download them here) and this script installs them first.
#
#   OUT=/tmp/out bash benchmarks/device_check.sh          # about 8 minutes on one H200; each step has its own limit
set -uo pipefail
OUT="${OUT:-out}"
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        >"$OUT/0_install.log" 2>&1 && export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH=".:${PYTHONPATH:-}"
{ nvidia-smi; python3 -c "import torch, monai; print(torch.__version__, torch.version.cuda, monai.__version__)"; } \
    >"$OUT/0_versions.txt" 2>&1

step() {  # step NAME SECONDS COMMAND...: run with a limit, log to $OUT/NAME.log, record the exit status
    local name=$1 limit=$2
    shift 2
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "$name exit $?" >>"$OUT/status.txt"
}

# 1. the GPU tests: CUDA compiled == eager for every loss (fp32, fp16 autocast), fp16 sums over 65,504 voxels, state
step 1_gpu_tests 150 python3 -m pytest -q -p no:cacheprovider -m gpu tests
# 2. every loss on CUDA: compiled / eager / floors / MONAI, fp32 and autocast, max_memory_allocated
step 2_bench_losses 180 python3 -m benchmarks.bench_losses --json_out "$OUT/cuda_losses.json"
# 3. the training step and sliding-window inference, ours and the zoo's settings, fp32 vs AMP
step 3_bench_workflow 120 python3 -m benchmarks.bench_workflow
# 4. the README main job under AMP (AMP is on when CUDA is available), timed
step 4_main_job 90 bash -c "time (python3 -m monai.bundle run --config_file configs/train.json --bundle_root $OUT/bundle \
    && python3 -m monai.bundle run --config_file configs/inference.json --bundle_root $OUT/bundle)"
cat "$OUT/status.txt"
