#!/usr/bin/env bash
# Puts Kueue's CustomResourceDefinitions, of one pinned release, where packages/operator's Kueue integration test
# installs them into its kube-apiserver: the operator's Workloads are checked against Kueue's real schema, not a
# copy of ours. They come from Kueue's module on the Go module proxy (its zip holds config/components/crd/bases):
# cold, one ~4.7 MB download (~0.5 s here); cached, milliseconds. Prints the directory of the CRD YAMLs on stdout.
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain); the CRDs land in $RINGTRAIN_CACHE/kueue-crds/<version>
set -euo pipefail

KUEUE_MODULE="sigs.k8s.io/kueue"
KUEUE_VERSION="v0.17.0"
# shellcheck source=lib/pinned-module-files.sh
source "$(dirname "$0")/lib/pinned-module-files.sh"
# What the test uses: Workloads (the operator writes them) and ResourceFlavors (it reads them).
install_pinned_module_files install-kueue-crds.sh kueue-crds "$KUEUE_MODULE" "$KUEUE_VERSION" \
  config/components/crd/bases/kueue.x-k8s.io_workloads.yaml \
  config/components/crd/bases/kueue.x-k8s.io_resourceflavors.yaml
