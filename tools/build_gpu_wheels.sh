#!/usr/bin/env bash
# Build the wheels that put this project's OpenMMLab stack onto an offline GPU machine
# whose image already has torch (as the H200 machines here do), on a machine that
# has network access, nvcc of the same CUDA major version and the target's Python:
#
#   bash tools/build_gpu_wheels.sh OUT_DIR [PYTHON] [TORCH_VERSION] [CUDA_ARCH]
#   # defaults: python3.12, torch 2.11.0 (its PyPI build is cu130), arch 9.0 (Hopper)
#
# OUT_DIR then holds mmcv 2.1.0 compiled with its CUDA ops, xtcocotools rebuilt
# against numpy 2, and the pure-Python rest (mmengine, mmdet, mmpose, ...). On the GPU
# machine, with OUT_DIR carried along:
#
#   pip install --no-index --no-deps --target /tmp/pkgs OUT_DIR/*.whl
#   PYTHONPATH=/tmp/pkgs PYTHON=python3 bash tools/analysis/gpu_check.sh
#
# mmcv's CUDA build takes ~15 min on 2 cores. docs/environment.md says why each step.
set -euo pipefail
OUT=${1:?usage: tools/build_gpu_wheels.sh OUT_DIR [PYTHON] [TORCH_VERSION] [CUDA_ARCH]}
PY=${2:-python3.12}
TORCH=${3:-2.11.0}
ARCH=${4:-9.0}
"$PY" -c "import sys" 2>/dev/null || { echo "$PY does not run: give the path of a python of the target version" >&2; exit 1; }
command -v nvcc >/dev/null || { echo "nvcc not found: mmcv's CUDA ops need it" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# A build environment with the target's torch: mmcv's extension is compiled against it.
"$PY" -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check)
"${PIP[@]}" "torch==$TORCH" numpy "setuptools<70" wheel ninja cython
TORCH_CUDA=$("$WORK/venv/bin/python" -c 'import torch; print(torch.version.cuda)')
NVCC_CUDA=$(nvcc --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')
if [ "${TORCH_CUDA%%.*}" != "$NVCC_CUDA" ]; then
    echo "torch $TORCH is built for CUDA $TORCH_CUDA but nvcc is CUDA $NVCC_CUDA" >&2
    exit 1
fi

# Pure-Python wheels (and binary ones for the target Python), without dependencies:
# the GPU image already has numpy, scipy, opencv, matplotlib, rich, ...
"$WORK/venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps -d "$OUT" \
    mmengine==0.10.7 mmdet==3.3.0 mmpose==1.3.2 torch-geometric==2.8.1 addict yapf \
    platformdirs termcolor terminaltables json_tricks munkres shapely pycocotools six

# xtcocotools: its PyPI wheels were built against numpy 1.x.
"$WORK/venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps \
    --no-build-isolation --no-binary xtcocotools -w "$OUT" xtcocotools==1.14.3

# mmcv with CUDA ops. The toolkit may lack cusparse.h (and other library headers) that
# torch's ATen/cuda headers include; the nvidia-* pip packages that came with torch
# carry them. Only the headers the toolkit lacks are linked into an extra include
# folder: the pip copies of the runtime headers must not shadow the toolkit's.
"$WORK/venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
    --no-build-isolation --no-binary :all: -d "$WORK" mmcv==2.1.0
tar -xzf "$WORK"/mmcv-2.1.0.tar.gz -C "$WORK"
# torch >= 2.14's headers need C++20 where mmcv's setup.py asks for C++17 (as in
# tools/setup_env.sh); 2.11 still takes C++17.
if grep -q 'C++20 or later' "$("$WORK/venv/bin/python" -c \
        'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "include/ATen/ATen.h"))')"; then
    sed -i 's/-std=c++17/-std=c++20/g' "$WORK/mmcv-2.1.0/setup.py"
fi
# The toolkit's root: nvcc on the PATH may be a wrapper script outside it, from which
# torch would guess a wrong CUDA_HOME.
if [ -z "${CUDA_HOME:-}" ]; then
    if [ -x /usr/local/cuda/bin/nvcc ]; then
        CUDA_HOME=/usr/local/cuda
    else
        CUDA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
    fi
fi
export CUDA_HOME
CUDA_INC="$CUDA_HOME/include"
[ -f "$CUDA_INC/cuda_runtime_api.h" ] || { echo "no CUDA headers under $CUDA_INC: set CUDA_HOME" >&2; exit 1; }
NV_INC=$(find "$WORK/venv" -path '*/nvidia/*' -name cusparse.h -printf '%h\n' | head -n1)
EXTRA_INC="$WORK/extra_include"
mkdir -p "$EXTRA_INC"
if [ -n "$NV_INC" ]; then
    for header in "$NV_INC"/*.h; do
        [ -e "$CUDA_INC/$(basename "$header")" ] || ln -s "$header" "$EXTRA_INC/"
    done
fi
(
    cd "$WORK/mmcv-2.1.0"
    export FORCE_CUDA=1 MMCV_WITH_OPS=1 TORCH_CUDA_ARCH_LIST="$ARCH"
    export CPATH="$EXTRA_INC${CPATH:+:$CPATH}" MMCV_CUDA_ARGS="-I$EXTRA_INC"
    "$WORK/venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps \
        --no-build-isolation -w "$OUT" .
)
ls -l "$OUT"
