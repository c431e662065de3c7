#!/usr/bin/env bash
# Installs the pinned kube-score that e2e/chart's lint of what we ship runs: the chart rendered by helm, and the
# objects the operator creates for each example TrainingRun (`ringtrain operator render`).
# Idempotent: a cached binary of the pinned version is reused. A cold install builds it from the Go module proxy.
# Prints the binary's path on stdout.
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain); the binary lands in $RINGTRAIN_CACHE/bin/kube-score
set -euo pipefail

KUBE_SCORE_MODULE="github.com/zegl/kube-score/cmd/kube-score"
KUBE_SCORE_VERSION="v1.20.0"
# shellcheck source=lib/pinned-go-binary.sh
source "$(dirname "$0")/lib/pinned-go-binary.sh"
install_pinned_go_binary install-kube-score.sh kube-score "$KUBE_SCORE_MODULE@$KUBE_SCORE_VERSION" "$KUBE_SCORE_VERSION" \
  -ldflags="-s -w -X main.version=$KUBE_SCORE_VERSION"
