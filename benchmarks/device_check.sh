#!/usr/bin/env bash
# The GPU checks of issues 15 and 23, in priority order, for one run on a lent CUDA machine (see docs/benchmarks.md). Run from
# the repository root on the device machine; every step writes its output under $OUT as it goes, so a time-out keeps
# what finished. The machine lacks monai, nibabel, pytorch-ignite and fire: carry them as wheels in .whl/ (the device
# tool's README says how to download them here) and this script installs them first.
#
# For the Hausdorff losses' prediction map on the GPU, add cuCIM and cupy wheels (cucim-cu12, cupy-cuda12x) to .whl/;
# without them step 3 measures the path through the host only and says so (cuCIM distances on the GPU: False).
#
#   OUT=/tmp/out bash benchmarks/device_check.sh          # about 11 minutes on one H200; each step has its own limit
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
# 3. issue 23 steps 3-4: the README's real-data settings (128^3 patches, init_filters 16, roi 240x240x160): training
#    step fp32 vs AMP with the default loss, boundary and hausdorff_dt; the Hausdorff prediction map on the device vs
#    through the host; inference of one 240x240x155 case fp32 vs AMP; peak memory of each
step 3_realsize_device 180 python3 -m benchmarks.bench_realsize_device
# 3b. the loader side at real size on this machine's CPUs (map transforms per batch, one thread: a worker's work)
step 3b_realsize_loader 150 python3 -m benchmarks.bench_workflow --realsize True --repeats 2
# 4. the training step and sliding-window inference, ours and the zoo's settings, fp32 vs AMP
step 4_bench_workflow 120 python3 -m benchmarks.bench_workflow
# 5. the README main job under AMP (AMP is on when CUDA is available), timed
step 5_main_job 90 bash -c "time (python3 -m monai.bundle run --config_file configs/train.json --bundle_root $OUT/bundle \
    && python3 -m monai.bundle run --config_file configs/inference.json --bundle_root $OUT/bundle)"
cat "$OUT/status.txt"
