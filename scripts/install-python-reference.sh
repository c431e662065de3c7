#!/usr/bin/env bash
# Installs the PyTorch reference used by the model parity test and scripts/bench/torch-train.py: Debian's
# torch + torchvision for /usr/bin/python3 (not a pip/venv python, so CI gets the same pinned build).
# Idempotent: does nothing when torchvision already imports. Debian bookworm has no python3-safetensors, so
# the fixture script writes safetensors itself.
set -euo pipefail
if /usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends python3-torchvision python3-numpy
/usr/bin/python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'
