#!/usr/bin/env bash
# Install the serving peers of benchmarks/serving_peers.py, one virtual environment each.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: benchmarks/peers/setup.sh [--dir DIR] [--python PY] [--only PEER]... [--force] [--help]

Creates one virtual environment per serving peer under DIR (default: .peers/ at the
repository root, git-ignored) and installs it from PyPI with pip:

  torchserve  torchserve + torch-model-archiver 0.12.0, torch==2.13.0 (the CPU wheel),
              and aezoo itself (editable, core only): the handler in aezoo's .mar runs
              the artifact with aezoo's onnxruntime runtime. Needs Java 17 (java on PATH).
  litserve    litserve 0.2.19 + onnxruntime + numpy.
  pytriton    nvidia-pytriton 0.7.0 (Triton server 2.51 bundled) + onnxruntime + numpy.
              Triton's Python backend stub links libpython3.X.so.1.0 by name; when the
              interpreter is not the system's (pyenv), the stub finds the system library
              and fails (RLock._recursion_count missing). The benchmark launches the
              server with LD_LIBRARY_PATH set to the venv interpreter's LIBDIR, which fixes
              it; --python can also pick another interpreter (e.g. a Python 3.10).

onnxruntime is pinned to the version in aezoo's own .venv when there is one, so every
server runs the same kernels. Also checks that hey (the load generator) is installed.

Options:
  --dir DIR      where the environments go (default: REPO/.peers)
  --python PY    interpreter for the environments (default: python3)
  --only PEER    torchserve, litserve or pytriton; repeat for several (default: all)
  --force        delete and recreate an environment that exists
  --help         this text
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR="$REPO/.peers"
PY=python3
FORCE=0
ONLY=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) DIR=$2; shift 2 ;;
        --python) PY=$2; shift 2 ;;
        --only) ONLY+=("$2"); shift 2 ;;
        --force) FORCE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "setup.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ ${#ONLY[@]} -eq 0 ]] && ONLY=(torchserve litserve pytriton)

ORT_PIN=onnxruntime
if [[ -x "$REPO/.venv/bin/python" ]]; then
    ORT_VERSION=$("$REPO/.venv/bin/python" -c "import onnxruntime; print(onnxruntime.__version__)" 2>/dev/null || true)
    [[ -n "$ORT_VERSION" ]] && ORT_PIN="onnxruntime==$ORT_VERSION"
fi

make_venv() {  # NAME PACKAGE...
    local name=$1; shift
    local venv="$DIR/$name"
    if [[ -d "$venv" && $FORCE -eq 0 ]]; then
        echo "setup.sh: $venv exists; installing into it (--force recreates it)"
    else
        rm -rf "$venv"
        "$PY" -m venv "$venv"
    fi
    echo "setup.sh: installing $name: $*"
    # torch is constrained in every environment: an unpinned torch pulls CUDA wheels.
    "$venv/bin/pip" install -q --disable-pip-version-check -c "$DIR/constraints.txt" "$@" 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" || true
    "$venv/bin/python" -c "import sys; print('setup.sh:', '$name', 'ready,', sys.version.split()[0])"
}

mkdir -p "$DIR"
echo "torch==2.13.0" > "$DIR/constraints.txt"
for peer in "${ONLY[@]}"; do
    case "$peer" in
        torchserve)
            command -v java >/dev/null || { echo "setup.sh: TorchServe needs Java 17 (apt-get install -y openjdk-17-jre-headless)" >&2; exit 1; }
            make_venv torchserve torch==2.13.0 torchserve==0.12.0 torch-model-archiver==0.12.0 "$ORT_PIN" -e "$REPO"
            ;;
        litserve) make_venv litserve litserve==0.2.19 "$ORT_PIN" numpy ;;
        pytriton) make_venv pytriton nvidia-pytriton==0.7.0 "$ORT_PIN" numpy ;;
        *) echo "setup.sh: unknown peer $peer (torchserve, litserve, pytriton)" >&2; exit 2 ;;
    esac
done
command -v hey >/dev/null || echo "setup.sh: warning: hey is missing (apt-get install -y hey)" >&2
echo "setup.sh: done; environments in $DIR"
