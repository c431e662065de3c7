#!/usr/bin/env bash
# Installs the pinned kube-apiserver and etcd that packages/operator's integration tests start on 127.0.0.1
# (a real control plane, as envtest does; never a fake), and kube-controller-manager, whose garbage collector
# the local e2e suite runs so that deleting a TrainingRun deletes what it owns, as in a cluster. Idempotent:
# binaries of the pinned versions already in the cache are reused (a cached run takes milliseconds). A cold
# install builds them from the Go module proxy: 19.5 minutes measured on a shared 2-core machine with empty Go
# module and build caches for etcd (~4) and kube-apiserver (~15.5; ~3 GB of Go build cache), then ~9 more for
# kube-controller-manager with that build cache warm. Prints the bin directory on stdout.
#
#   install-kube-test-servers.sh [BINARY...]   also builds these cmd/ binaries of the same release (e2e/kind's
#                                              node image adds kubelet, kubeadm, kubectl, kube-scheduler and
#                                              kube-proxy: about 3-6 minutes each once kube-apiserver's build
#                                              cache is warm)
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain); binaries land in $RINGTRAIN_CACHE/bin
#
# Why build: no download site is reachable here, only the Go module proxy. k8s.io/kubernetes cannot be
# `go install`ed directly because its go.mod replaces every k8s.io/* staging module with a local directory;
# a throwaway module that requires it and replaces each staging module with its published v0.X.Y version
# builds the same cmd/kube-apiserver. Debian's etcd-server is 3.4, older than this kube-apiserver supports,
# so etcd is built the same way from go.etcd.io/etcd/server/v3 (its module root is etcd's main package).
set -euo pipefail

KUBERNETES_VERSION="v1.37.2"
STAGING_VERSION="v0.37.2" # the k8s.io/* staging modules published alongside KUBERNETES_VERSION
ETCD_VERSION="v3.7.3"

# Staging modules kube-apiserver's build graph can touch; the two sample-* modules are not published for
# this release and kube-apiserver needs neither.
STAGING_MODULES=(
  api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider cluster-bootstrap
  code-generator component-base component-helpers controller-manager cri-api cri-client cri-streaming
  csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
  kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
  pod-security-admission sample-apiserver streaming
)

cache="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}"
bin_dir="$cache/bin"
name="install-kube-test-servers.sh"

installed() { # binary version
  [[ -x "$bin_dir/$1" && -f "$bin_dir/$1.version" && "$(cat "$bin_dir/$1.version")" == "$2" ]]
}

KUBE_BINARIES=(kube-apiserver kube-controller-manager "$@")

kube_installed() {
  for binary in "${KUBE_BINARIES[@]}"; do installed "$binary" "$KUBERNETES_VERSION" || return 1; done
}

if kube_installed && installed etcd "$ETCD_VERSION"; then
  echo "$bin_dir"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "$name: the go command is needed to build kube-apiserver and kube-controller-manager $KUBERNETES_VERSION and etcd $ETCD_VERSION; install Go >= 1.26" >&2
  exit 1
fi

mkdir -p "$bin_dir"
work="$(mktemp -d "$bin_dir/.kube-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"

if ! installed etcd "$ETCD_VERSION"; then
  echo "$name: building etcd $ETCD_VERSION from go.etcd.io/etcd/server/v3" >&2
  # etcd's go.mod also replaces its sibling modules with local paths, so `go install pkg@version` refuses
  # it; a throwaway module that requires it resolves the siblings at their published versions instead.
  mod="$work/etcd-mod"
  mkdir -p "$mod"
  printf 'module ringtrain.dev/etcd-test-server\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
    "$ETCD_VERSION" >"$mod/go.mod"
  (cd "$mod" && go build -mod=mod -ldflags="-s -w" -o "$work/etcd" go.etcd.io/etcd/server/v3)
  mv -f "$work/etcd" "$bin_dir/etcd"
  echo "$ETCD_VERSION" >"$bin_dir/etcd.version"
fi

if ! kube_installed; then
  mod="$work/kube-mod"
  mkdir -p "$mod"
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
  } >"$mod/go.mod"
  minor="${KUBERNETES_VERSION#v1.}"
  minor="${minor%%.*}"
  # The version stamp is what `kube-apiserver --version` and /version report; without it the binary calls
  # itself v0.0.0-master.
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  for binary in "${KUBE_BINARIES[@]}"; do
    installed "$binary" "$KUBERNETES_VERSION" && continue
    echo "$name: building $binary $KUBERNETES_VERSION (the slow part: 10-20 minutes cold)" >&2
    (cd "$mod" && go build -mod=mod -ldflags="$ldflags" -o "$work/$binary" "k8s.io/kubernetes/cmd/$binary")
    mv -f "$work/$binary" "$bin_dir/$binary"
    echo "$KUBERNETES_VERSION" >"$bin_dir/$binary.version"
  done
fi

echo "$bin_dir"
