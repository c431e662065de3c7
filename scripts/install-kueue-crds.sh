#!/usr/bin/env bash
# Puts Kueue's CustomResourceDefinitions, of one pinned release, where packages/operator's Kueue integration test
# installs them into its kube-apiserver: the operator's Workloads are checked against Kueue's real schema, not a
# copy of ours. Nothing of Kueue is committed here: the CRDs come from Kueue's module on the Go module proxy
# (`go mod download`, the proxy's ordinary client; the module zip holds config/components/crd/bases) and are cached.
# Idempotent: a cached copy of the pinned version is reused (milliseconds); cold, one ~4.7 MB download.
# Prints the directory of the CRD YAMLs on stdout.
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain); the CRDs land in $RINGTRAIN_CACHE/kueue-crds/<version>
set -euo pipefail

KUEUE_MODULE="sigs.k8s.io/kueue"
KUEUE_VERSION="v0.17.0"
# What the test uses: Workloads (the operator writes them) and ResourceFlavors (it reads them).
CRDS=(workloads resourceflavors)

name="install-kueue-crds.sh"
cache="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}"
dir="$cache/kueue-crds/$KUEUE_VERSION"

if [[ -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "$name: the go command is needed to download $KUEUE_MODULE@$KUEUE_VERSION from the Go module proxy; install Go >= 1.24" >&2
  exit 1
fi

echo "$name: downloading $KUEUE_MODULE@$KUEUE_VERSION (its CRDs) from the Go module proxy" >&2
mkdir -p "$cache/kueue-crds"
tmp="$(mktemp -d "$cache/kueue-crds/.$KUEUE_VERSION.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# From an empty directory, outside any module, so that no go.mod is read or changed.
module_dir="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$KUEUE_MODULE@$KUEUE_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "$module_dir" || ! -d "$module_dir/config/components/crd/bases" ]]; then
  echo "$name: go mod download gave no config/components/crd/bases for $KUEUE_MODULE@$KUEUE_VERSION" >&2
  exit 1
fi
for crd in "${CRDS[@]}"; do
  cp "$module_dir/config/components/crd/bases/kueue.x-k8s.io_$crd.yaml" "$tmp/"
done
chmod -R u+w "$tmp"
echo "$KUEUE_VERSION" >"$tmp/.complete"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
