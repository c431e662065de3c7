#!/usr/bin/env bash
# Builds a kind node image without any container registry: Kubernetes $KUBERNETES_VERSION (the version the
# operator's integration tests and e2e/local pin, from scripts/install-kube-test-servers.sh), its control-plane
# images, etcd, CoreDNS, pause, containerd and a NetworkPolicy enforcer, all from the Go module proxy (and pause
# from the Kubernetes module's C source), on a Debian root filesystem from Debian's packages. Prints the image
# reference on stdout; everything else goes to stderr.
#
# Cached by content: the image's tag is a hash of this directory, the pinned versions and kind's node files, so
# an unchanged input is not rebuilt; the image is also saved under $RINGTRAIN_CACHE/images and loaded from there
# into a Docker daemon that lacks it. Cold: the Go builds dominate (kubelet, kubeadm, kubectl, kube-scheduler and
# kube-proxy beside the kube-apiserver and kube-controller-manager CI already builds; containerd, CoreDNS,
# kube-router) — see e2e/kind/README.md for the measured times.
#
#   build.sh            builds (or loads) the image and prints its reference
#   build.sh --cached   exits 0 when the image for these inputs is saved in the cache (a build would only load
#                       it), 1 otherwise; builds nothing and needs no Docker daemon
#   RINGTRAIN_CACHE     cache root (default ~/.cache/ringtrain)
#
# Needs docker (a running daemon), mmdebstrap, gcc, go, jq.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
name="e2e/kind/node-image/build.sh"
log() { echo "$name: $*" >&2; }

KIND_VERSION="v0.33.0"            # also scripts/install-kind.sh's: its node files must match the kind that runs them
CONTAINERD_VERSION="v2.3.4"       # the containerd kind v0.33's base image pins
COREDNS_VERSION="v1.14.6"         # what kubeadm v1.37 deploys (kubeadm config images list)
PAUSE_VERSION="3.10.2"            # likewise
KUBE_ROUTER_VERSION="v2.1.0"
DEBIAN_SUITE="bookworm"
DEBIAN_MIRROR="http://deb.debian.org/debian"
# kind's base image's packages (images/base/Dockerfile), with Debian's runc and CNI plugins instead of its own
# builds, and ipset for kube-router.
NODE_PACKAGES="systemd,dbus,conntrack,iptables,nftables,ipset,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,\
pigz,e2fsprogs,bash,ca-certificates,curl,jq,procps,runc,containernetworking-plugins"
KUBERNETES_VERSION="$(sed -n 's/^KUBERNETES_VERSION="\(.*\)"/\1/p' "$root/scripts/install-kube-test-servers.sh")"
ETCD_VERSION="$(sed -n 's/^ETCD_VERSION="\(.*\)"/\1/p' "$root/scripts/install-kube-test-servers.sh")"

cache="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}"
mkdir -p "$cache/images"
for tool in go jq; do
  command -v "$tool" >/dev/null || { log "$tool is needed"; exit 1; }
done

kind_files="$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | jq -r .Dir)/images/base/files"
[[ -d "$kind_files" ]] || { log "kind's node files not found in the module sigs.k8s.io/kind@$KIND_VERSION"; exit 1; }

key="$(
  {
    cat "$here"/* "$root/scripts/install-kube-test-servers.sh"
    echo "$KIND_VERSION $CONTAINERD_VERSION $COREDNS_VERSION $PAUSE_VERSION $KUBE_ROUTER_VERSION $DEBIAN_SUITE"
    echo "$NODE_PACKAGES"
    (cd "$kind_files" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
)"
image="ringtrain.local/kind-node:$KUBERNETES_VERSION-$key"
saved="$cache/images/kind-node-$KUBERNETES_VERSION-$key.tar.zst"

if [[ "${1:-}" == "--cached" ]]; then
  [[ -f "$saved" ]] && exit 0
  log "no saved node image for these inputs ($saved)"
  exit 1
fi
for tool in docker zstd; do
  command -v "$tool" >/dev/null || { log "$tool is needed"; exit 1; }
done
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
if [[ -f "$saved" ]]; then
  log "loading $image from $saved"
  zstd -dc "$saved" | docker load >&2
  echo "$image"
  exit 0
fi

for tool in mmdebstrap gcc; do
  command -v "$tool" >/dev/null || { log "$tool is needed"; exit 1; }
done

# --- binaries --------------------------------------------------------------------------------------------------
bin_dir="$("$root/scripts/install-kube-test-servers.sh" kubelet kubeadm kubectl kube-scheduler kube-proxy)"
# shellcheck source=../../../scripts/lib/pinned-go-binary.sh
source "$root/scripts/lib/pinned-go-binary.sh"
containerd_tags="-tags=no_aufs,no_zfs,no_btrfs,no_devmapper"
for binary in containerd ctr containerd-shim-runc-v2; do
  install_pinned_go_binary "$name" "$binary" "github.com/containerd/containerd/v2/cmd/$binary@$CONTAINERD_VERSION" \
    "$CONTAINERD_VERSION" "$containerd_tags" \
    -ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" >/dev/null
done
install_pinned_go_binary "$name" coredns "github.com/coredns/coredns@$COREDNS_VERSION" "$COREDNS_VERSION" \
  -ldflags="-s -w" >/dev/null
install_pinned_go_binary "$name" kube-router \
  "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION" "$KUBE_ROUTER_VERSION" \
  -ldflags="-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" >/dev/null

work="$(mktemp -d)"
build_container=""
cleanup() {
  [[ -n "$build_container" ]] && docker rm -f "$build_container" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# pause: the sandbox container's process, compiled from the Kubernetes module's source as its Makefile does.
kube_dir="$(cd "$root" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | jq -r .Dir)"
gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-ringtrain" -o "$work/pause" "$kube_dir/build/pause/linux/pause.c"

# --- the Debian root filesystem (the node, and the base of kube-proxy's and kube-router's images) ---------------
rootfs="ringtrain.local/kind-rootfs:$DEBIAN_SUITE-$(echo "$DEBIAN_MIRROR $NODE_PACKAGES" | sha256sum | cut -c1-16)"
if ! docker image inspect "$rootfs" >/dev/null 2>&1; then
  log "mmdebstrap $DEBIAN_SUITE ($NODE_PACKAGES)"
  nice -n 10 mmdebstrap --quiet --variant=minbase --include="$NODE_PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/{doc,man,locale}/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    "$DEBIAN_SUITE" "$work/rootfs.tar" "$DEBIAN_MIRROR" >&2
  docker import "$work/rootfs.tar" "$rootfs" >&2
  rm -f "$work/rootfs.tar"
fi

# --- the images kubeadm and the manifests run, tagged with the names they ask for -------------------------------
image_from_binary() { # tag base binary-path... (the first binary is the entrypoint)
  local tag="$1" base="$2" context="$work/image-$RANDOM"
  shift 2
  mkdir -p "$context"
  cp "$@" "$context/"
  {
    echo "FROM $base"
    for binary in "$@"; do echo "COPY $(basename "$binary") /usr/local/bin/"; done
    echo "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "ENTRYPOINT [\"/usr/local/bin/$(basename "$1")\"]"
  } >"$context/Dockerfile"
  docker build --quiet -t "$tag" "$context" >&2
}
pause_image="registry.k8s.io/pause:$PAUSE_VERSION"
kube_router_image="ringtrain.local/kube-router:$KUBE_ROUTER_VERSION"
component_images=(
  "registry.k8s.io/kube-apiserver:$KUBERNETES_VERSION" "registry.k8s.io/kube-controller-manager:$KUBERNETES_VERSION"
  "registry.k8s.io/kube-scheduler:$KUBERNETES_VERSION" "registry.k8s.io/kube-proxy:$KUBERNETES_VERSION"
  "registry.k8s.io/etcd:$ETCD_VERSION" "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$pause_image"
  "$kube_router_image"
)
log "component images"
for component in kube-apiserver kube-controller-manager kube-scheduler; do
  image_from_binary "registry.k8s.io/$component:$KUBERNETES_VERSION" scratch "$bin_dir/$component"
done
image_from_binary "registry.k8s.io/kube-proxy:$KUBERNETES_VERSION" "$rootfs" "$bin_dir/kube-proxy"
image_from_binary "registry.k8s.io/etcd:$ETCD_VERSION" scratch "$bin_dir/etcd"
# CoreDNS's own image puts the binary at /coredns, which kubeadm's Deployment does not name; the entrypoint does.
image_from_binary "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" scratch "$bin_dir/coredns"
image_from_binary "$pause_image" scratch "$work/pause"
image_from_binary "$kube_router_image" "$rootfs" "$bin_dir/kube-router"
docker save "${component_images[@]}" >"$work/images.tar"

# --- the node image: kind's files and the binaries on the root filesystem, then the images in containerd --------
context="$work/node"
mkdir -p "$context/bin" "$context/cni" "$context/manifests"
cp -r "$kind_files" "$context/kind-files"
chmod -R u+w "$context/kind-files"
cp "$bin_dir"/{containerd,ctr,containerd-shim-runc-v2,kubelet,kubeadm,kubectl} "$context/bin/"
cp "$here/10-ringtrain.conflist" "$context/cni/"
sed "s#KUBE_ROUTER_IMAGE#$kube_router_image#" "$here/default-cni.yaml" >"$context/manifests/default-cni.yaml"
cp "$here/default-storage.yaml" "$context/manifests/"
cp "$here/Dockerfile" "$context/"
log "node image (stage 1: files)"
docker build --quiet -t "$image-files" --build-arg ROOTFS_IMAGE="$rootfs" \
  --build-arg KUBERNETES_VERSION="$KUBERNETES_VERSION" --build-arg PAUSE_IMAGE="$pause_image" "$context" >&2

# As `kind build node-image` does: containerd runs in a plain container and imports the images without unpacking
# them (no snapshotter mount is needed), pinned so that the kubelet's image garbage collection keeps them.
log "node image (stage 2: images into containerd)"
build_container="ringtrain-kind-node-build-$$"
docker run -d --name "$build_container" --entrypoint=sleep "$image-files" infinity >/dev/null
docker exec "$build_container" bash -c 'nohup containerd >/tmp/containerd.log 2>&1 &'
docker exec "$build_container" bash -c \
  'for i in $(seq 1 50); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done; cat /tmp/containerd.log; exit 1' >&2
docker exec -i "$build_container" ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned \
  --all-platforms --no-unpack --digests - <"$work/images.tar" >&2
# The container's init is `sleep`, which reaps nobody: containerd stays a zombie once it has exited.
docker exec "$build_container" bash -c \
  'pkill containerd; while ps -o stat= -C containerd | grep -qv "^Z"; do sleep 0.2; done; rm -f /tmp/containerd.log'
docker commit --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' "$build_container" "$image" >/dev/null
docker rm -f "$build_container" >/dev/null
build_container=""
docker rmi "$image-files" >/dev/null
docker rmi "${component_images[@]}" >/dev/null

# One saved node image is enough: older ones (other inputs) only fill the disk.
rm -f "$cache/images"/kind-node-*.tar.zst
log "saving $image to $saved"
docker save "$image" | zstd -q -T0 -3 -o "$saved.partial"
mv -f "$saved.partial" "$saved"
echo "$image"
