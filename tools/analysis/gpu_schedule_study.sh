#!/usr/bin/env bash
# Train the CPU-sized configs on one GPU machine, many runs at once, where the 2-core
# machine needs ~80 min per run:
#
#   bash tools/analysis/gpu_schedule_study.sh [OUT_DIR]     # default work_dirs/gpu_study
#
# 1. generates kplink-synth (the default splits and the 6,000-image train6k split);
# 2. trains the synth init of the detectors (the category-specific keypoint baseline,
#    10 epochs on train crops; its 10-epoch val PCK is logged too);
# 3. then, all at once on the one GPU, each run in OUT_DIR/NAME with its log NAME.log:
#    - dpad24#0, dpad24#1, pafpn24#0, pafpn24#1: the 24-epoch synth-init DPAD and PAFPN,
#      seeds 0 and 1 (is DPAD below PAFPN beyond seed noise?);
#    - dpad6k#0, pafpn6k#0: the same 4,500 iterations over 6,000 images (6 epochs of
#      train6k) instead of 24 epochs of 1,500 (does more data lift val AP50?);
#    - cklm40e, base40e (niced): CKLM catlogits and its category-specific baseline on
#      40 epochs (twice the longest CPU schedule; LR steps at 28 and 36);
#    and, only when RUNS names them (the next levers after 2026-12-04, not in the default):
#    - dpad6k#1, pafpn6k#1: the train6k pair's second seed (is the AP tie seed noise?);
#    - dpad6k12e: DPAD on twice the train6k iterations (the 6-epoch model underfits);
# 4. prints the validation curves and final tables (tools/analysis/val_curves.py).
# Cost, measured on one H200 with 16 cores (2026-12-04, docs/benchmarks.md): the
# processes time-slice the GPU (SM busy 99 %), each detector run at 0.44 s/iter, so all
# eight need ~35-40 min; the synth init alone took 3 min (data-bound, GPU ~5 % busy).
# Runs still going after BUDGET seconds (default 3600, counted from the start) are
# stopped; the validations they logged so far stay in the tables. RUNS (names from the
# list above, default all) picks a subset. PYTHON (default .venv/bin/python),
# TRAIN6K_SCENES (default 6000) and EXTRA_OPTS (cfg options added to every training,
# e.g. for a short smoke test on a CPU) are read from the environment.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DEFAULT=" dpad24#0 dpad24#1 pafpn24#0 pafpn24#1 dpad6k#0 pafpn6k#0 cklm40e base40e "
KNOWN="$DEFAULT dpad6k#1 pafpn6k#1 dpad6k12e "
RUNS=" ${RUNS:-$DEFAULT} "
for name in $RUNS; do
    [[ $KNOWN == *" $name "* ]] || { echo "RUNS: unknown run '$name' (known:$KNOWN)" >&2; exit 2; }
done
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
OUT=$(mkdir -p "${1:-$ROOT/work_dirs/gpu_study}" && cd "${1:-$ROOT/work_dirs/gpu_study}" && pwd)
BUDGET=${BUDGET:-3600}
EXTRA=(${EXTRA_OPTS:-})
NPROC=$(nproc)
export OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1

"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO CUDA DEVICE")'
"$PY" tools/dataset_converters/generate_synth.py --default --quiet --workers "$NPROC" || exit 1
if [ ! -f data/kplink_synth/annotations/train6k.json ]; then
    "$PY" tools/dataset_converters/generate_synth.py --out data/kplink_synth --split train6k \
        --num-scenes "${TRAIN6K_SCENES:-6000}" --views 1 --seed 0 --workers "$NPROC" --quiet || exit 1
fi
echo "data ready at $SECONDS s"

INIT=$OUT/init
"$PY" tools/train.py configs/baselines/topdown-heatmap_res18_kplink-synth-128x128.py \
    --work-dir "$INIT" --cfg-options train_dataloader.num_workers=$((NPROC - 2)) \
    ${EXTRA[@]+"${EXTRA[@]}"} > "$OUT/init.log" 2>&1 || { tail -n 30 "$OUT/init.log"; exit 1; }
INIT_CKPT=$(cat "$INIT/last_checkpoint")
echo "synth init $INIT_CKPT at $SECONDS s"

pids=()
declare -A run_name
launch() {  # launch NAME NICENESS CONFIG [cfg options...]
    local name=$1 niceness=$2 config=$3; shift 3
    [[ $RUNS == *" $name "* ]] || return 0
    local left=$((BUDGET - SECONDS))
    [ $left -gt 10 ] || { echo "no time left for $name"; return; }
    timeout -s INT "$left" nice -n "$niceness" "$PY" tools/train.py "$config" \
        --work-dir "$OUT/$name" --cfg-options "$@" ${EXTRA[@]+"${EXTRA[@]}"} \
        > "$OUT/$name.log" 2>&1 &
    pids+=($!)
    run_name[$!]=$name
}
DET=(model.backbone.init_cfg.checkpoint="$INIT_CKPT")
launch 'dpad24#0' 0 configs/dpad/atss_dpad_r18-synthinit_24e_cpu_kplink-synth-256.py "${DET[@]}"
launch 'pafpn24#0' 0 configs/baselines/atss_pafpn_r18-synthinit_24e_cpu_kplink-synth-256.py "${DET[@]}"
launch 'dpad24#1' 0 configs/dpad/atss_dpad_r18-synthinit_24e_cpu_kplink-synth-256.py "${DET[@]}" randomness.seed=1
launch 'pafpn24#1' 0 configs/baselines/atss_pafpn_r18-synthinit_24e_cpu_kplink-synth-256.py "${DET[@]}" randomness.seed=1
D6K=configs/dpad/atss_dpad_r18-synthinit_6e-train6k_cpu_kplink-synth-256.py
P6K=configs/baselines/atss_pafpn_r18-synthinit_6e-train6k_cpu_kplink-synth-256.py
launch 'dpad6k#0' 0 $D6K "${DET[@]}"
launch 'pafpn6k#0' 0 $P6K "${DET[@]}"
launch 'dpad6k#1' 0 $D6K "${DET[@]}" randomness.seed=1
launch 'pafpn6k#1' 0 $P6K "${DET[@]}" randomness.seed=1
launch dpad6k12e 0 configs/dpad/atss_dpad_r18-synthinit_12e-train6k_cpu_kplink-synth-256.py "${DET[@]}"
POSE40=(train_cfg.max_epochs=40 param_scheduler.1.end=40 'param_scheduler.1.milestones=[28,36]'
        train_dataloader.num_workers=3 default_hooks.checkpoint.max_keep_ckpts=1)
launch cklm40e 5 configs/cklm/cklm-3s-cls-naming-catlogits-20e_res18_cpu_kplink-synth-128x128.py "${POSE40[@]}"
launch base40e 5 configs/baselines/topdown-heatmap_res18-20e_kplink-synth-128x128.py "${POSE40[@]}"
echo "launched ${#pids[@]} runs at $SECONDS s"
status=0
for pid in "${pids[@]}"; do
    wait "$pid"; rc=$?
    # 124: stopped by timeout at the budget
    [ $rc -eq 0 ] || { echo "${run_name[$pid]} exited with $rc"; status=1; }
done
echo "all runs ended at $SECONDS s"
for f in "$OUT"/*.log; do
    echo "== $(basename "$f"): $(grep -c 'Epoch(val)' "$f") validations; last line:"
    tail -n 1 "$f" | cut -c1-300
done

det=() pose=("init10e=$INIT")
for name in $RUNS; do
    case $name in
        cklm*|base*) pose+=("$name=$OUT/$name") ;;
        *) det+=("$name=$OUT/$name") ;;
    esac
done
if [ ${#det[@]} -gt 0 ]; then
    echo "== detectors"
    baseline=()
    if [[ $RUNS == *" pafpn24#"* ]]; then baseline=(--baseline pafpn24)
    elif [[ $RUNS == *" pafpn6k#"* ]]; then baseline=(--baseline pafpn6k); fi
    "$PY" tools/analysis/val_curves.py "${det[@]}" ${baseline[@]+"${baseline[@]}"} --scale 100
fi
echo "== pose (and the 10-epoch synth init)"
baseline=()
[[ $RUNS == *" base40e "* ]] && baseline=(--baseline base40e)
"$PY" tools/analysis/val_curves.py "${pose[@]}" ${baseline[@]+"${baseline[@]}"} --scale 100 \
    --metrics kplink/PCK kplink/PCK_occluded kplink/OracleId
exit $status
