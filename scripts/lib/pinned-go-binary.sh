# Sourced by the scripts/install-*.sh that build one pinned binary with `go install` from the Go module proxy
# (no download site is reachable here, only the proxy) into ${RINGTRAIN_CACHE:-~/.cache/ringtrain}/bin.
#
#   install_pinned_go_binary <script name> <binary> <package@version> <stamp> [go install flags...]
#
# Idempotent: when bin/<binary> exists and bin/<binary>.version holds <stamp>, it only prints the binary's path.
# Otherwise it builds into a temporary GOBIN and moves the result into place, so an interrupted build never
# leaves a broken binary, writes the stamp, and prints the path. Builds run under `nice`: the machines this runs
# on share their cores.

install_pinned_go_binary() {
  local script="$1" binary="$2" package="$3" stamp="$4"
  shift 4
  local bin_dir="${RINGTRAIN_CACHE:-$HOME/.cache/ringtrain}/bin"
  if [[ -x "$bin_dir/$binary" && -f "$bin_dir/$binary.version" && "$(cat "$bin_dir/$binary.version")" == "$stamp" ]]; then
    echo "$bin_dir/$binary"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "$script: the go command is needed to build $package; install Go >= 1.24" >&2
    return 1
  fi
  mkdir -p "$bin_dir"
  echo "$script: building $package (a few minutes on a cold cache)" >&2
  local tmp_bin
  tmp_bin="$(mktemp -d "$bin_dir/.$binary-build.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this directory, whatever the variable holds later
  trap "rm -rf '$tmp_bin'" EXIT
  GOBIN="$tmp_bin" CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" nice -n 10 go install "$@" "$package"
  mv -f "$tmp_bin/$binary" "$bin_dir/$binary"
  echo "$stamp" >"$bin_dir/$binary.version"
  echo "$bin_dir/$binary"
}
