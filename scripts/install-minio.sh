#!/usr/bin/env bash
# Installs the pinned MinIO server that packages/dataset's integration tests start on 127.0.0.1.
# Idempotent: a cached binary of the pinned version is reused; a cold install builds it from the Go module
# proxy (several minutes on 2 cores). Prints the binary's path on stdout.
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain); the binary lands in $RINGTRAIN_CACHE/bin/minio
#
# The pin is a pseudo-version because MinIO publishes no semver tags to the module proxy.
set -euo pipefail

MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

# shellcheck source=lib/pinned-go-binary.sh
source "$(dirname "$0")/lib/pinned-go-binary.sh"
install_pinned_go_binary install-minio.sh minio "$MINIO_MODULE@$MINIO_VERSION" "$MINIO_VERSION"
