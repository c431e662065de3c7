#!/usr/bin/env bash
# The CLI's start-up from its TypeScript sources through tsx (the development condition: what every command
# ran before the packages were built, and what npm/npx run in this repository) against the built dist/ with
# plain Node (the images, `ringtrain` on PATH). Each round runs every command once, so that a busy machine
# slows all of them alike; one untimed round first, then the medians of the timed ones: wall-clock time, and
# CPU time (user + system, the process and its children), which a busy machine disturbs less. Needs
# `npm run build` and GNU time (/usr/bin/time).
#
#   scripts/bench/cli-startup.sh [rounds] [model image]   # with a trained model and an image: a real predict too
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-5}"
model="${2:-}"
image="${3:-}"
bin=packages/cli/bin/ringtrain.mjs
[ -f packages/cli/dist/main.js ] || { echo "packages/cli/dist is not built: npm run build" >&2; exit 1; }
names=() commands=()
add() { names+=("$1"); commands+=("$2"); }
add "--help, sources (tsx)" "node --conditions=development $bin --help"
add "--help, dist" "node $bin --help"
add "predict --help, sources (tsx)" "node --conditions=development $bin predict --help"
add "predict --help, dist" "node $bin predict --help"
add "npx ringtrain --help, sources (tsx)" "npx ringtrain --help"
add "npx ringtrain --help, dist" "npx --node-options= ringtrain --help"
if [ -n "$model" ]; then
  add "predict, sources (tsx)" "node --conditions=development $bin predict --model $model $image"
  add "predict, dist" "node $bin predict --model $model $image"
fi
times=$(mktemp)
trap 'rm -f "$times"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 0 "$rounds"); do
  for i in "${!commands[@]}"; do
    /usr/bin/time -f "%e %U %S" -o "$times.one" bash -c "${commands[$i]}" >/dev/null 2>&1 ||
      { echo "failed: ${commands[$i]}" >&2; exit 1; }
    [ "$round" -gt 0 ] && echo "$i $(awk '{ printf "%d %d", $1 * 1000, ($2 + $3) * 1000 }' "$times.one")" >>"$times"
  done
done
rm -f "$times.one"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for i in "${!commands[@]}"; do
  wall=$(awk -v i="$i" '$1 == i { print $2 }' "$times" | median)
  cpu=$(awk -v i="$i" '$1 == i { print $3 }' "$times" | median)
  all=$(awk -v i="$i" '$1 == i { printf "%s ", $2 }' "$times")
  printf '%-38s wall %5d ms  cpu %5d ms   (wall: %s)  %s\n' "${names[$i]}" "$wall" "$cpu" "${all% }" "${commands[$i]}"
done
