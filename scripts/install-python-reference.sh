#!/usr/bin/env bash
# Installs the Python references the tests compare with:
#  - the PyTorch reference used by the model parity tests and scripts/bench/torch-train.py: Debian's
#    torch + torchvision for /usr/bin/python3 (not a pip/venv python, so CI gets the same pinned build).
#    Debian bookworm has no python3-safetensors, so the fixture script writes safetensors itself.
#  - TensorBoard's own event-file reader, which packages/worker's TensorBoard test reads our event files with:
#    the pinned `tensorboard` from PyPI (it reads event files without TensorFlow) in a venv of /usr/bin/python3
#    under the cache, which the test finds at $RINGTRAIN_CACHE/python/tensorboard-<version>/bin/python.
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain)
#
# Idempotent: does nothing when torchvision already imports and the venv holds the pinned tensorboard (a stamp
# file written after a complete install, so an interrupted one is redone). Prints nothing else on stdout.
set -euo pipefail

TENSORBOARD_VERSION="2.21.0"

# python3-venv: Debian's python3 makes venvs only with it (ensurepip).
if ! /usr/bin/python3 -c 'import torch, torchvision, ensurepip' >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends python3-torchvision python3-numpy python3-venv
  /usr/bin/python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)' >&2
fi

venv="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}/python/tensorboard-$TENSORBOARD_VERSION"
if [[ ! -f "$venv/installed" ]]; then
  echo "install-python-reference.sh: installing tensorboard $TENSORBOARD_VERSION into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "tensorboard==$TENSORBOARD_VERSION" >&2
  "$venv/bin/python" -c 'from tensorboard.backend.event_processing import event_file_loader' >&2
  echo "$TENSORBOARD_VERSION" >"$venv/installed"
fi
