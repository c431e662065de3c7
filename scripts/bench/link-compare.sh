#!/usr/bin/env bash
# Issue 16's shaped-network baseline in one run: `bench allreduce` over loopback and behind 2 and 1 Gbit/s
# links (f32 and bf16 wires), then `bench scaling` on the native backend over loopback and behind 2 Gbit/s
# links, alternating round by round so that a busy machine slows every configuration alike. Needs root (the
# shaped links are network namespaces, see packages/collective/src/shaped-network.ts). Prints one JSON
# object per measurement, each preceded by the command and the load average.
#
#   scripts/bench/link-compare.sh [allreduce rounds] [scaling rounds] [scaling steps] [scaling warm-up steps] \
#     [more bench scaling flags, e.g. "--compute-threads 1"]
set -euo pipefail
cd "$(dirname "$0")/../.."
allreduce_rounds="${1:-3}"
scaling_rounds="${2:-1}"
steps="${3:-8}"
warmup="${4:-2}"
scaling_flags="${5:-}"
measure() {
  echo "{\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"at\":\"$(date -u +%H:%M:%S)\",\"command\":\"$*\"}"
  "$@"
}
for round in $(seq "$allreduce_rounds"); do
  for wire in f32 bf16; do
    measure npx ringtrain bench allreduce --workers 2 --mib 44.6 --wire "$wire" --iters 20 --json
    measure npx ringtrain bench allreduce --workers 2 --mib 44.6 --wire "$wire" --iters 20 --link-gbit 2 --json
    measure npx ringtrain bench allreduce --workers 2 --mib 44.6 --wire "$wire" --iters 10 --link-gbit 1 --json
  done
done
for round in $(seq "$scaling_rounds"); do
  for link in "" "--link-gbit 2"; do
    # shellcheck disable=SC2086 # $link and $scaling_flags are lists of words
    measure npx ringtrain bench scaling --backend tensorflow --workers 1,2 --image-size 64 --batch-size 32 \
      --steps "$steps" --warmup-steps "$warmup" $scaling_flags $link --json 2>/dev/null
  done
done
