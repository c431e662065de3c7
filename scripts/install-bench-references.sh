#!/usr/bin/env bash
# Installs the same-run references of the benchmarks (not needed by the tests): PyTorch (gloo, torchvision)
# for /usr/bin/python3 and iperf3, from Debian. Idempotent.
set -euo pipefail
"$(dirname "$0")/install-python-reference.sh"
if ! command -v iperf3 >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends iperf3
fi
