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

cache="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}"
bin_dir="$cache/bin"
stamp="$bin_dir/minio.version"

if [[ -x "$bin_dir/minio" && -f "$stamp" && "$(cat "$stamp")" == "$MINIO_VERSION" ]]; then
  echo "$bin_dir/minio"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-minio.sh: the go command is needed to build MinIO $MINIO_VERSION; install Go >= 1.24" >&2
  exit 1
fi

mkdir -p "$bin_dir"
echo "install-minio.sh: building $MINIO_MODULE@$MINIO_VERSION (takes several minutes on a cold cache)" >&2
# Build into a temporary GOBIN and move into place, so an interrupted build never leaves a broken binary.
tmp_bin="$(mktemp -d "$bin_dir/.minio-build.XXXXXX")"
trap 'rm -rf "$tmp_bin"' EXIT
GOBIN="$tmp_bin" CGO_ENABLED=0 GOFLAGS="-trimpath" nice -n 10 go install "$MINIO_MODULE@$MINIO_VERSION"
mv -f "$tmp_bin/minio" "$bin_dir/minio"
echo "$MINIO_VERSION" > "$stamp"
echo "$bin_dir/minio"
