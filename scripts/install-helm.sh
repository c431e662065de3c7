#!/usr/bin/env bash
# Installs the pinned helm that e2e/chart's tests run (`helm lint`, `helm template`) on helm/ringtrain.
# Idempotent: a cached binary of the pinned version is reused (milliseconds). A cold install builds it from
# the Go module proxy: 3.2 minutes measured on a shared 2-core machine with empty Go module and build caches
# (7.2 minutes under a load average of 20; ~440 MB of modules, ~730 MB of build cache). Prints the binary's
# path on stdout.
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain); the binary lands in $RINGTRAIN_CACHE/bin/helm
#
# Why build: no download site is reachable here, only the Go module proxy; helm's own module is
# `go install`able as it is (its go.mod replaces nothing).
set -euo pipefail

HELM_MODULE="helm.sh/helm/v3/cmd/helm"
HELM_VERSION="v3.19.5"
# The Kubernetes minor of the client-go that HELM_VERSION's go.mod requires (v0.34.x): what `helm template` and
# `helm lint` assume without a cluster (`.Capabilities.KubeVersion`). Helm's Makefile stamps it; without the
# stamp go install leaves v1.20, older than the chart's kubeVersion allows.
KUBE_MINOR="34"
STAMP="$HELM_VERSION kube-1.$KUBE_MINOR"

# The version stamp is what `helm version` prints (go install leaves it at the minor version alone).
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$KUBE_MINOR"
done
# shellcheck source=lib/pinned-go-binary.sh
source "$(dirname "$0")/lib/pinned-go-binary.sh"
install_pinned_go_binary install-helm.sh helm "$HELM_MODULE@$HELM_VERSION" "$STAMP" -ldflags="$ldflags"
