#!/usr/bin/env bash
# `make demo`: the main job (KLPNet: CKLM keypoints + CLPGM links) on the built-in
# synthetic benchmark, end to end.
#   1. generate kplink-synth's default splits (once; ~1 min on 2 cores)
#   2. train the CPU-sized config jointly (Eq. 8)       (DEMO_CONFIG, DEMO_EPOCHS)
#   3. evaluate the checkpoint on val with LIS: PCK / OracleId (all and overlapping
#      targets) and link ROC-AUC / AP / F1; dump predictions, draw a few crops
#   4. whole-image inference (kplink_mm.apis.inference_klpnet) on 4 val images:
#      keypoints and links drawn to PNGs (on DEMO_DEVICE, default cpu; training and
#      testing use a GPU when there is one)
# PYTHON overrides the interpreter (default: the project's .venv).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CONFIG="${DEMO_CONFIG:-configs/klpnet/klpnet_res18_cpu_kplink-synth-128x128.py}"
TEST_CONFIG="${DEMO_TEST_CONFIG:-configs/klpnet/klpnet-lis_res18_cpu_kplink-synth-128x128.py}"
EPOCHS="${DEMO_EPOCHS:-3}"
NAME="$(basename "$CONFIG" .py)"
WORK="$ROOT/work_dirs/demo/$NAME"

cd "$ROOT"
"$PY" tools/dataset_converters/generate_synth.py --default --out data/kplink_synth
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" \
    --cfg-options train_cfg.max_epochs="$EPOCHS" train_cfg.val_interval="$EPOCHS"
CKPT="$WORK/epoch_${EPOCHS}.pth"
"$PY" tools/test.py "$TEST_CONFIG" "$CKPT" --work-dir "$WORK/test" \
    --dump "$WORK/test/predictions.pkl" --show-dir "$WORK/test/vis" \
    --cfg-options default_hooks.visualization.interval=25
"$PY" demo/klpnet_image_demo.py "$CONFIG" "$CKPT" \
    --ann data/kplink_synth/annotations/val.json --num-images 4 --out-dir "$WORK/images" \
    --device "${DEMO_DEVICE:-cpu}"
echo "demo done: metrics above; predictions in $WORK/test/predictions.pkl," \
     "crop drawings in $WORK/test/vis, whole-image keypoints + links in $WORK/images"
