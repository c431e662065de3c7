#!/usr/bin/env bash
# Installs the pinned kube-controller-manager whose garbage collector the local e2e suite runs, so that deleting a
# TrainingRun is followed by what a cluster does: its pods, Services, Secret and ConfigMap deleted through their
# owner references (the operator leaves that to the garbage collector, as Kubernetes controllers do). Same
# version, same way and same cache as scripts/install-kube-test-servers.sh (which builds kube-apiserver from the
# same module: with its Go build cache warm this takes ~9 minutes on a shared 2-core machine, ~1 minute when the
# controllers' packages are cached too; milliseconds when the binary is). Prints the bin directory on stdout.
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain); the binary lands in $RINGTRAIN_CACHE/bin
#
# It belongs with kube-apiserver in scripts/install-kube-test-servers.sh; it lives here until it moves there.
set -euo pipefail

KUBERNETES_VERSION="v1.37.2" # keep equal to scripts/install-kube-test-servers.sh
STAGING_VERSION="v0.37.2"
STAGING_MODULES=(
  api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider cluster-bootstrap
  code-generator component-base component-helpers controller-manager cri-api cri-client cri-streaming
  csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
  kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
  pod-security-admission sample-apiserver streaming
)

cache="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}"
bin_dir="$cache/bin"
name="install-kube-controller-manager.sh"

if [[ -x "$bin_dir/kube-controller-manager" && "$(cat "$bin_dir/kube-controller-manager.version" 2>/dev/null)" == "$KUBERNETES_VERSION" ]]; then
  echo "$bin_dir"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "$name: the go command is needed to build kube-controller-manager $KUBERNETES_VERSION; install Go >= 1.26" >&2
  exit 1
fi

mkdir -p "$bin_dir"
work="$(mktemp -d "$bin_dir/.kcm-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
echo "$name: building kube-controller-manager $KUBERNETES_VERSION" >&2
# k8s.io/kubernetes replaces its staging modules with local paths; a throwaway module pins their published versions.
{
  echo "module ringtrain.dev/kube-test-servers"
  echo
  echo "go 1.26.0"
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo
  echo "replace ("
  for m in "${STAGING_MODULES[@]}"; do echo "	k8s.io/$m => k8s.io/$m $STAGING_VERSION"; done
  echo ")"
} >"$work/go.mod"
minor="${KUBERNETES_VERSION#v1.}"
minor="${minor%%.*}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
(cd "$work" && go build -mod=mod -ldflags="$ldflags" -o "$work/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager)
mv -f "$work/kube-controller-manager" "$bin_dir/kube-controller-manager"
echo "$KUBERNETES_VERSION" >"$bin_dir/kube-controller-manager.version"
echo "$bin_dir"
