# Sourced by the scripts/install-*-crds.sh that take files (CRD YAMLs) out of one pinned Go module on the Go module
# proxy (`go mod download`, the proxy's ordinary client; no download site is reachable here) into
# ${RINGTRAIN_CACHE:-~/.cache/ringtrain}/<cache name>/<version>. Nothing of the module is committed to this repository.
#
#   install_pinned_module_files <script name> <cache name> <module> <version> <path in module>...
#
# Idempotent: a complete cached copy (its .complete marker) is reused in milliseconds. Otherwise it downloads the
# module, copies the files into a temporary directory and moves that into place, so an interrupted install never
# leaves a partial copy. Prints the directory on stdout; the files keep their base names.

install_pinned_module_files() {
  local script="$1" cache_name="$2" module="$3" version="$4"
  shift 4
  local cache="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}/$cache_name"
  local dir="$cache/$version"
  if [[ -f "$dir/.complete" ]]; then
    echo "$dir"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "$script: the go command is needed to download $module@$version from the Go module proxy; install Go >= 1.24" >&2
    return 1
  fi
  echo "$script: downloading $module@$version from the Go module proxy" >&2
  mkdir -p "$cache"
  local tmp module_dir file
  tmp="$(mktemp -d "$cache/.$version.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this directory, whatever the variable holds later
  trap "rm -rf '$tmp'" EXIT
  # From an empty directory, outside any module, so that no go.mod is read or changed.
  module_dir="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$module@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [[ -z "$module_dir" || ! -d "$module_dir" ]]; then
    echo "$script: go mod download gave no directory for $module@$version" >&2
    return 1
  fi
  for file in "$@"; do
    if [[ ! -f "$module_dir/$file" ]]; then
      echo "$script: $module@$version has no $file" >&2
      return 1
    fi
    cp "$module_dir/$file" "$tmp/"
  done
  chmod -R u+w "$tmp"
  echo "$version" >"$tmp/.complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
  echo "$dir"
}
