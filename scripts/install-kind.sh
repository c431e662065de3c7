#!/usr/bin/env bash
# Installs the pinned kind (Kubernetes in Docker) that e2e/kind runs, built from the Go module proxy (no release
# download site is reachable here). e2e/kind/node-image/build.sh takes kind's node files from the same module
# version, so the two must change together. Prints the binary's path; a cached run takes milliseconds.
set -euo pipefail

KIND_VERSION="v0.33.0"
source "$(dirname "$0")/lib/pinned-go-binary.sh"
install_pinned_go_binary install-kind.sh kind "sigs.k8s.io/kind@$KIND_VERSION" "$KIND_VERSION" -ldflags="-s -w"
