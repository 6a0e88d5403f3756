#!/usr/bin/env bash
# One idempotent command that builds (or reuses) the pinned OpenMMLab environment
# and links it as .venv in the repo root.
#
# The environment is ~5.5 GB and mmcv's C++ build takes ~9 minutes on 2 cores, so
# it is NOT built per clone: one environment per hash of (requirements/*.txt, this
# script) lives under ${KPLINK_CACHE:-$XDG_CACHE_HOME/kplink_mm} and every clone
# links to it. The mmcv wheel is cached separately, keyed by the torch version,
# so a changed test pin does not recompile mmcv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${KPLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kplink_mm}"
PY="${PYTHON:-python3}"

# Bump when the install steps below change in a way that needs a new environment.
ENV_LAYOUT_VERSION=1
# Comments and blank lines don't count: editing the explanations must not rebuild.
HASH="$( (cat "$ROOT"/requirements/*.txt | sed 's/[[:space:]]*#.*//' | grep -v '^$'
          echo "layout=$ENV_LAYOUT_VERSION") | sha256sum | cut -c1-16)"
ENV_DIR="$CACHE/envs/$HASH"
STAMP="$ENV_DIR/.kplink_stamp"
WHEELS="$CACHE/wheels"

log() { echo "[setup_env] $*" >&2; }

link_env() {
    # .venv may be a link from an earlier hash or a real directory made by hand.
    if [ -L "$ROOT/.venv" ] || [ ! -e "$ROOT/.venv" ]; then
        ln -sfn "$ENV_DIR" "$ROOT/.venv"
    elif [ "$(readlink -f "$ROOT/.venv")" != "$(readlink -f "$ENV_DIR")" ]; then
        log "ERROR: $ROOT/.venv is a real directory, not a link to $ENV_DIR; remove it and rerun."
        exit 1
    fi
}

ensure_editable() {
    # The environment is shared between clones: point the editable install at THIS clone.
    # A .pth file is enough and costs milliseconds (pip install -e would take ~20 s).
    local site
    site="$("$ENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$ROOT" > "$site/kplink_mm_dev.pth"
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
    link_env
    ensure_editable
    log "reusing $ENV_DIR"
    exit 0
fi

start=$(date +%s)
log "building environment $ENV_DIR (first time on this machine: ~10-15 min)"
mkdir -p "$CACHE/envs" "$WHEELS"
rm -rf "$ENV_DIR"
"$PY" -m venv "$ENV_DIR"
PIP=("$ENV_DIR/bin/python" -m pip install --disable-pip-version-check)
"${PIP[@]}" --upgrade pip >/dev/null
"${PIP[@]}" -r "$ROOT/requirements/build.txt"

# The requirement line for a package, without its comment.
pin() { grep -E "^$1([=<>!~ ]|$)" "$ROOT/requirements/runtime.txt" | head -n1 | sed 's/[[:space:]]*#.*//'; }

# torch first: every later build compiles against it.
"${PIP[@]}" "$(pin torch)" "$(pin torchvision)" "$(pin numpy)"
# torch pulls in a new setuptools; mmcv's setup.py and mmengine still import pkg_resources.
"${PIP[@]}" "$(grep -E '^setuptools' "$ROOT/requirements/build.txt")"
TORCH_VER="$("$ENV_DIR/bin/python" -c 'import torch; print(torch.__version__)')"

# mmcv 2.1.0 with ops: mmdet 3.3 needs mmcv<2.2 and mmcv.ops; torch 2.14's headers need
# C++20 while mmcv's setup.py asks for C++17, so the flag is patched in the sdist.
MMCV_PIN="$(pin mmcv)"; MMCV_VER="${MMCV_PIN#*==}"
MMCV_WHEEL_DIR="$WHEELS/mmcv-$MMCV_VER-torch$TORCH_VER"
if ! ls "$MMCV_WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    log "compiling mmcv $MMCV_VER against torch $TORCH_VER (~9 min on 2 cores, cached afterwards)"
    tmp="$(mktemp -d)"
    "$ENV_DIR/bin/python" -m pip download --no-deps --no-build-isolation --no-binary :all: "$MMCV_PIN" -d "$tmp" >/dev/null
    tar -xzf "$tmp"/mmcv-*.tar.gz -C "$tmp"
    src="$(find "$tmp" -maxdepth 1 -type d -name 'mmcv-*' | head -n1)"
    grep -rl -- '-std=c++17' "$src/setup.py" | xargs sed -i 's/-std=c++17/-std=c++20/g'
    mkdir -p "$MMCV_WHEEL_DIR"
    (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="$(nproc)" \
        "$ENV_DIR/bin/python" -m pip wheel --no-deps --no-build-isolation . -w "$MMCV_WHEEL_DIR")
    rm -rf "$tmp"
fi
"${PIP[@]}" --no-deps "$MMCV_WHEEL_DIR"/mmcv-*.whl
# mmcv's own runtime deps (it was installed --no-deps above).
"${PIP[@]}" addict packaging pyyaml regex yapf "$(pin opencv-python)"

"${PIP[@]}" "$(pin mmengine)" "$(pin mmdet)"
# mmpose without its chumpy dependency (chumpy's setup.py does not build; mmpose never imports it).
"${PIP[@]}" --no-deps "$(pin mmpose)"
"${PIP[@]}" "$(pin json_tricks)" "$(pin munkres)" "$(pin scipy)" "$(pin matplotlib)" \
    "$(pin pillow)" "$(pin pycocotools)" "$(pin torch-geometric)" "$(pin tqdm)"
# xtcocotools' PyPI wheel was built for numpy 1.x ("numpy.dtype size changed"): rebuild it.
"${PIP[@]}" --no-binary xtcocotools --no-build-isolation "$(pin xtcocotools)"
"${PIP[@]}" -r "$ROOT/requirements/tests.txt"

"$ENV_DIR/bin/python" -c 'import mmdet.models, mmpose.models, mmcv.ops, torch_geometric, xtcocotools.coco' \
    || { log "ERROR: the environment does not import; not stamping $ENV_DIR"; exit 1; }
echo "$HASH" > "$STAMP"
link_env
ensure_editable
log "built in $(( $(date +%s) - start )) s"
