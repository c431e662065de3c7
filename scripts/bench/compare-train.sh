#!/usr/bin/env bash
# Ringtrain's training step against PyTorch's on this machine: for each shape, alternating runs of
# `ringtrain bench train` and scripts/bench/torch-train.py (one process, one thread each; alternating so
# that load from anything else on the machine hits both sides alike), then the median images/s and peak RSS
# of each.
#
#   scripts/bench/compare-train.sh [runs=3] [backend=tensorflow]
#
# Prints one JSON line per run and a summary table in Markdown. Needs torch: scripts/install-python-reference.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-3}"
BACKEND="${2:-tensorflow}"
OUT="$(mktemp)"
# image size, batch size, micro-batch size (wasm only: its heap stops at 4 GiB), timed steps;
# COMPARE_SHAPES="32 64 64 3;64 32 32 3" runs a subset.
IFS=';' read -r -a SHAPES <<<"${COMPARE_SHAPES:-32 64 64 3;64 32 32 3;224 16 8 1}"
for shape in "${SHAPES[@]}"; do
  read -r size batch micro steps <<<"$shape"
  [[ "$BACKEND" == wasm ]] || micro="$batch"
  for run in $(seq "$RUNS"); do
    ours=$(nice -n 10 npx ringtrain bench train --backend "$BACKEND" --image-size "$size" --batch-size "$batch" \
      --micro-batch-size "$micro" --compute-threads 1 --steps "$steps" --warmup-steps 1 --json 2>/dev/null)
    echo "$ours" | tee -a "$OUT"
    theirs=$(OMP_NUM_THREADS=1 nice -n 10 /usr/bin/python3 scripts/bench/torch-train.py --image-size "$size" \
      --batch-size "$batch" --steps "$steps" --warmup-steps 1)
    echo "$theirs" | tee -a "$OUT"
  done
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("\n| shape | ringtrain images/s (runs) | PyTorch images/s (runs) | ratio | peak RSS ringtrain / PyTorch |\n| --- | --- | --- | --- | --- |")
for key in sorted({(r["imageSize"], r["batchSize"]) for r in rows}):
    ours = [r["imagesPerSec"] for r in rows if (r["imageSize"], r["batchSize"]) == key and not r["backend"].startswith("pytorch")]
    theirs = [r["imagesPerSec"] for r in rows if (r["imageSize"], r["batchSize"]) == key and r["backend"].startswith("pytorch")]
    mo, mt = statistics.median(ours), statistics.median(theirs)
    rss = lambda pytorch: max(r.get("peakRssBytes", 0) for r in rows if (r["imageSize"], r["batchSize"]) == key and r["backend"].startswith("pytorch") == pytorch) / 2**20
    fmt = lambda xs: ", ".join(f"{x:.2f}" for x in xs)
    print(f"| {key[0]}×{key[0]} batch {key[1]} | {mo:.2f} ({fmt(ours)}) | {mt:.2f} ({fmt(theirs)}) | {mo / mt:.2f}× | {rss(False):.0f} / {rss(True):.0f} MiB ({rss(False) / rss(True):.2f}×) |")
PY
