#!/usr/bin/env bash
# Striped links (issue 16, item 4) beside gloo in one run: each round runs gloo's all-reduce, then ringtrain's
# threaded all-reduce over 1 and 2 links per ring edge (f32, then bf16 over 2), alternating round by round so
# that a busy machine slows all of them alike. Prints one JSON object per measurement.
#
#   scripts/bench/stripes-compare.sh [rounds] [workers] [mib] [extra bench flags, e.g. "--link-gbit 2"]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
workers="${2:-2}"
mib="${3:-44.6}"
extra="${4:-}"
for round in $(seq "$rounds"); do
  echo "{\"round\":$round,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
  /usr/bin/python3 scripts/bench/gloo_allreduce.py --workers "$workers" --mib "$mib" --iters 20
  for stripes in 1 2; do
    # shellcheck disable=SC2086 # $extra is a list of flags
    npx ringtrain bench allreduce --workers "$workers" --mib "$mib" --wire f32 --iters 20 --thread --stripes "$stripes" $extra --json
  done
  # shellcheck disable=SC2086
  npx ringtrain bench allreduce --workers "$workers" --mib "$mib" --wire bf16 --iters 20 --thread --stripes 2 $extra --json
done
