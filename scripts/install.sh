#!/usr/bin/env bash
# Install privacy-clauses (editable, with test extras) into the active Python environment.
# Without an NVIDIA GPU, the CPU build of torch goes in first, so that pip does not pull
# several GB of CUDA wheels for a machine that cannot use them.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! command -v nvidia-smi >/dev/null 2>&1 && ! "$PYTHON" -c "import torch" 2>/dev/null; then
  echo "install.sh: no GPU found; installing the CPU build of torch first"
  "$PYTHON" -m pip install --quiet --no-deps "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
fi
"$PYTHON" -m pip install --quiet -e ".[test]"
