#!/usr/bin/env bash
# Reference for `ringtrain bench allreduce`: single-stream TCP bandwidth over loopback (iperf3, Debian's
# package), the ceiling any one connection between two local processes can reach. Prints one JSON object.
#
#   scripts/bench/iperf3_loopback.sh [seconds]
set -euo pipefail
seconds="${1:-5}"
command -v iperf3 >/dev/null || { echo "iperf3_loopback.sh: install iperf3 (scripts/install-bench-references.sh)" >&2; exit 1; }
port=$(( 20000 + RANDOM % 20000 ))
out=$(mktemp)
iperf3 --server --bind 127.0.0.1 --port "$port" --one-off >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$out"' EXIT
# The server needs a moment to listen; a refused connection leaves its one test unused.
for _ in $(seq 50); do
  if iperf3 --client 127.0.0.1 --port "$port" --time "$seconds" --json >"$out" 2>/dev/null && grep -q sum_received "$out"; then break; fi
  sleep 0.1
done
grep -q sum_received "$out" || { echo "iperf3_loopback.sh: no measurement: $(cat "$out")" >&2; exit 1; }
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["end"]["sum_received"]; print(json.dumps({"reference":"iperf3","streams":1,"seconds":r["seconds"],"bytesPerSec":r["bits_per_second"]/8,"GBs":r["bits_per_second"]/8/1e9}))' "$out"
