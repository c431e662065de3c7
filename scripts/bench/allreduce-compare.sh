#!/usr/bin/env bash
# Measures `ringtrain bench allreduce` beside its references in one run, alternating them round by round so
# that a busy machine slows all of them alike. Prints one JSON object per measurement.
#
#   scripts/bench/allreduce-compare.sh [rounds] [workers] [mib]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
workers="${2:-2}"
mib="${3:-44.6}"
for round in $(seq "$rounds"); do
  echo "{\"round\":$round,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
  scripts/bench/iperf3_loopback.sh 3
  /usr/bin/python3 scripts/bench/gloo_allreduce.py --workers "$workers" --mib "$mib" --iters 20
  for wire in f32 bf16 f16; do
    npx ringtrain bench allreduce --workers "$workers" --mib "$mib" --wire "$wire" --iters 20 --json
  done
done
