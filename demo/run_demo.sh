#!/usr/bin/env bash
# `make demo`: the main job on the built-in synthetic benchmark, end to end.
#   1. generate kplink-synth's default splits (once; ~1-2 min on 2 cores)
#   2. train the CPU-sized config       (DEMO_CONFIG, DEMO_EPOCHS)
#   3. evaluate the checkpoint on val, dump predictions, draw a few of them
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
CONFIG="${DEMO_CONFIG:-configs/baselines/topdown-heatmap_res18_kplink-synth-128x128.py}"
EPOCHS="${DEMO_EPOCHS:-3}"
NAME="$(basename "$CONFIG" .py)"
WORK="$ROOT/work_dirs/demo/$NAME"

cd "$ROOT"
"$PY" tools/dataset_converters/generate_synth.py --default --out data/kplink_synth
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" \
    --cfg-options train_cfg.max_epochs="$EPOCHS" train_cfg.val_interval="$EPOCHS"
CKPT="$WORK/epoch_${EPOCHS}.pth"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK/test" \
    --dump "$WORK/test/predictions.pkl" --show-dir "$WORK/test/vis" \
    --cfg-options default_hooks.visualization.interval=25
echo "demo done: metrics above; predictions in $WORK/test/predictions.pkl," \
     "drawings in $WORK/test/vis"
