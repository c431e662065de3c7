#!/usr/bin/env bash
# Builds Ringtrain's images from deploy/docker/Dockerfile on machines that reach the package registries (Debian,
# npm, PyPI) but no container registry: the base images come from scripts/build-base-images.sh, and the build
# runs with the host's network (`--network host`), so the build stages reach npm and PyPI as the host does.
#
#   scripts/build-images.sh          control-plane and worker-cpu
#   scripts/build-images.sh --gpu    worker-gpu too (or RINGTRAIN_BUILD_GPU=1)
#
# Prints on stdout, one a line: BUILD_IMAGE=<ref> and RUNTIME_IMAGE=<ref> (the base images, present in the
# daemon), then CONTROL_PLANE_IMAGE=, WORKER_CPU_IMAGE= (and WORKER_GPU_IMAGE=) with the images' references.
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain); images/ holds `docker save`s (gzip) of the images
#   DOCKER           the docker client (default /usr/bin/docker when it works, else `docker` on PATH)
#
# The images are tagged ghcr.io/ringtrain/<target>:0.1.0, the names the chart and deploy/examples use, and
# labelled org.ringtrain.inputs=<hash of what goes into them>: the base images' references (content hashes
# themselves), the Dockerfile and its .dockerignore, the lockfile, the manifests and tsconfigs, and every file
# under packages/ the build context sends (git's blob hashes of the working tree, untracked files included).
# An image whose label matches is left alone; otherwise a cached `docker save` of it is loaded, and only
# otherwise it is built. control-plane and worker-cpu are saved to the cache (below), so a new daemon with a
# warm cache only loads them; older saves of the same target are removed. worker-gpu is not saved: 4.35 GB
# (CUDA's libraries), ~3 GB gzip'd and minutes to write, for an image that builds in ~70 s from warm caches.
#
# BuildKit (DOCKER_BUILDKIT=1) is needed for the Dockerfile's RUN --mount; Docker 20.10's built-in frontend
# builds it, and `docker build --network host` works with it without an entitlement flag. BuildKit runs the
# build steps under the daemon, not under this script, so `nice` here would not reach them: while a build
# runs, its step processes (the docker/buildkit cgroups) are reniced to 10, as the other installers run their
# builds, because the machines this runs on share their cores.
#
# Measured on 2 shared cores (2026-12, Docker 20.10; the CPU shared with other builds):
#   cold, base images built too (only BuildKit's npm and TensorFlow cache mounts warm):   3 min 21 s
#   cold, base images present, empty BuildKit cache (npm ci x2, TensorFlow's 207 MB wheel): 2 min 7 s
#   after a source change (tsc, the app layer, both saves):                                54 s
#   warm, images present (hashes only):                                                    0.2 s
#   fresh daemon, warm RINGTRAIN_CACHE (docker load of the two bases and the two images):  17 s
#   --gpu, worker-gpu on top of the above (TensorFlow's 475 MB wheel, ~2.5 GB of CUDA wheels): 70 s
# Sizes: control-plane 702 MB (514 MB of node_modules, 293 MB of it @tensorflow/* that every workspace's
# production install brings), worker-cpu 1.32 GB (TensorFlow's C library is 565 MB of it). Their gzip'd saves
# (204 MB and 371 MB, ~25 s to write the larger) are kept: loading one beats rebuilding it, and only the newest
# save of each target stays.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too

VERSION="0.1.0"
REPOSITORY="ghcr.io/ringtrain"
INPUTS_LABEL="org.ringtrain.inputs"

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo_root"
cache="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}"
say() { echo "build-images.sh: $*" >&2; }

targets=(control-plane worker-cpu)
if [[ "${1:-}" == "--gpu" || "${RINGTRAIN_BUILD_GPU:-0}" == 1 ]]; then targets+=(worker-gpu); fi

if [[ -z "${DOCKER:-}" ]]; then
  # A newer static client may come first on PATH and speak an API this daemon lacks; Debian's matches it.
  if /usr/bin/docker version >/dev/null 2>&1; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
export DOCKER

# Both base images are made present (the callers build small images of their own on the runtime base).
base_refs="$(scripts/build-base-images.sh)"
build_image="$(sed -n 's/^BUILD_IMAGE=//p' <<<"$base_refs")"
runtime_image="$(sed -n 's/^RUNTIME_IMAGE=//p' <<<"$base_refs")"
echo "$base_refs"

# What the build context sends (deploy/docker/Dockerfile.dockerignore), less its test-only files, by content.
inputs_hash() {
  local files
  files="$(git ls-files --cached --others --exclude-standard -- \
    package.json package-lock.json tsconfig.base.json tsconfig.build.base.json e2e/package.json deploy/docker packages |
    grep -vE '(^|/)(node_modules|dist|testdata)/|\.(test|test-helper|fixture)\.ts$|\.md$|^packages/testing/[^/]+/' |
    sort -u | while read -r file; do if [[ -f "$file" ]]; then echo "$file"; fi; done)"
  {
    echo "BUILD_IMAGE=$build_image RUNTIME_IMAGE=$runtime_image"
    paste <(echo "$files") <(git hash-object --stdin-paths <<<"$files")
  } | sha256sum | cut -c1-16
}
hash="$(inputs_hash)"

label_of() {
  "$DOCKER" image inspect --format "{{ index .Config.Labels \"$INPUTS_LABEL\" }}" "$1" 2>/dev/null || true
}

# Lowers the priority of BuildKit's step processes while a build runs (see the header).
renice_build_steps() {
  while sleep 2; do
    cat /sys/fs/cgroup/pids/docker/buildkit{,/*}/cgroup.procs /sys/fs/cgroup/docker/buildkit{,/*}/cgroup.procs 2>/dev/null |
      xargs -r renice -n 10 -p >/dev/null 2>&1 || true
  done
}

# The image a tag named before it was moved: removed when nothing else uses it, so rebuilds leave no untagged
# gigabytes behind (docker refuses while a container or another tag holds it, and that is fine).
drop_replaced() {
  local old_id="$1" ref="$2"
  if [[ -n "$old_id" && "$old_id" != "$("$DOCKER" image inspect --format '{{ .Id }}' "$ref")" ]]; then
    "$DOCKER" rmi "$old_id" >/dev/null 2>&1 || true
  fi
}

for target in "${targets[@]}"; do
  ref="$REPOSITORY/$target:$VERSION"
  key="$(tr 'a-z-' 'A-Z_' <<<"$target")_IMAGE"
  saved="$cache/images/$target-$hash.tar.gz"
  if [[ "$(label_of "$ref")" == "$hash" ]]; then
    echo "$key=$ref"
    continue
  fi
  old_id="$("$DOCKER" image inspect --format '{{ .Id }}' "$ref" 2>/dev/null || true)"
  if [[ -f "$saved" ]]; then
    say "loading $ref from $saved"
    "$DOCKER" load --quiet --input "$saved" >&2
    if [[ "$(label_of "$ref")" == "$hash" ]]; then
      drop_replaced "$old_id" "$ref"
      echo "$key=$ref"
      continue
    fi
  fi

  say "building $ref (inputs $hash)"
  started=$SECONDS
  renice_build_steps &
  renicer=$!
  # shellcheck disable=SC2064 # expand now: stop this build's renicer, whatever the variable holds later
  trap "kill $renicer 2>/dev/null || true" EXIT
  DOCKER_BUILDKIT=1 "$DOCKER" build --network host --progress=plain \
    -f deploy/docker/Dockerfile --target "$target" \
    --build-arg BUILD_IMAGE="$build_image" --build-arg RUNTIME_IMAGE="$runtime_image" \
    --label "$INPUTS_LABEL=$hash" -t "$ref" . >&2
  kill "$renicer" 2>/dev/null || true
  trap - EXIT
  drop_replaced "$old_id" "$ref"
  say "built $ref in $((SECONDS - started)) s"
  if [[ "$target" != worker-gpu ]]; then
    say "saving $ref to $saved"
    mkdir -p "$cache/images"
    "$DOCKER" save "$ref" | nice -n 10 gzip -1 >"$saved.partial"
    mv "$saved.partial" "$saved"
    find "$cache/images" -maxdepth 1 -name "$target-*.tar.gz" ! -name "$(basename "$saved")" -delete
  fi
  echo "$key=$ref"
done
