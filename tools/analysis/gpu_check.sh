#!/usr/bin/env bash
# Check a GPU machine against the paper-sized configs and the CUDA code paths:
#
#   bash tools/analysis/gpu_check.sh [OUT_DIR]        # default work_dirs/gpu_check
#
# 1. tools/analysis/train_speed.py on every paper-sized config (CKLM, KLPNet,
#    Occlusion-Net, DPAD and its FPN / PAFPN baselines on kplink-synth), fp32 and
#    AMP: real training steps and validation batches through each config's metric,
#    printed as one table (s/iter, images/s, peak memory, AMP speed-up);
# 2. the user path end to end: tools/dist_train.sh (torchrun; nccl on a GPU) with
#    --amp on a short run of the CPU-sized CKLM config, then tools/test.py on the
#    checkpoint it wrote.
# Backbones start from scratch (init_cfg=None), so no ImageNet download is needed.
# Each step's log is in OUT_DIR; the exit code is non-zero when any step failed.
# ITERS (timed steps, default 10) and PYTHON (default .venv/bin/python) are read
# from the environment.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
OUT=$(mkdir -p "${1:-$ROOT/work_dirs/gpu_check}" && cd "${1:-$ROOT/work_dirs/gpu_check}" && pwd)
ITERS=${ITERS:-10}
failed=()

step() {  # step NAME COMMAND...: run, log to OUT/NAME.log, keep going on failure
    local name=$1; shift
    local t0=$SECONDS
    echo "== $name"
    if "$@" > "$OUT/$name.log" 2>&1; then
        echo "   ok ($((SECONDS - t0)) s)"
    else
        echo "   FAILED ($((SECONDS - t0)) s), last lines of $OUT/$name.log:"
        tail -n 15 "$OUT/$name.log" | sed 's/^/   /'
        failed+=("$name")
    fi
}

"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO CUDA DEVICE")'

step generate "$PY" tools/dataset_converters/generate_synth.py --default --quiet \
    --workers "$(nproc)"
SPEED=("$PY" tools/analysis/train_speed.py --precision fp32 amp --iters "$ITERS"
       --warmup 3 --val-batches 2 --cfg-options model.backbone.init_cfg=None)
step speed_pose "${SPEED[@]}" --json "$OUT/speed_pose.json" \
    configs/cklm/cklm-3s_x101-64x4d_gpu_kplink-synth-256x192.py \
    configs/klpnet/klpnet_x101-64x4d_gpu_kplink-synth-256x192.py \
    configs/occlusion_net/occlusion-net_r50-fpn_gpu_kplink-synth-mv-car-256x256.py
step speed_det "${SPEED[@]}" --json "$OUT/speed_det.json" \
    configs/dpad/atss_dpad_x101-64x4d_gpu_kplink-synth-256.py \
    configs/baselines/atss_pafpn_x101-64x4d_gpu_kplink-synth-256.py \
    configs/baselines/atss_fpn_x101-64x4d_gpu_kplink-synth-256.py

CKLM=configs/cklm/cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128.py
step dist_train_amp env PYTHON="$PY" PORT=29511 bash tools/dist_train.sh "$CKLM" 1 --amp \
    --work-dir "$OUT/dist_train_amp" --cfg-options train_cfg.max_epochs=1 \
    train_dataloader.dataset.indices=512
step test "$PY" tools/test.py "$CKLM" "$OUT/dist_train_amp/epoch_1.pth" \
    --work-dir "$OUT/test" --cfg-options test_dataloader.dataset.indices=256

for name in speed_pose speed_det; do
    echo "== $name table"
    grep -E '^(\||device:|.*AMP train step)' "$OUT/$name.log"
done
grep -E "Epoch\(test\).*\[" "$OUT/test.log" | tail -n 1
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
echo "all steps passed"
