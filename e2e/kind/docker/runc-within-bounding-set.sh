#!/usr/bin/env bash
# A runc for Docker daemons that run without some capabilities in their bounding set (this repository's CI
# machines lack CAP_SYS_RESOURCE even for root). `docker run --privileged`, which kind's nodes need, asks runc for
# every capability Docker 20.10 knows, and runc fails ("unable to apply caps: operation not permitted") on one
# the kernel will not grant. This wrapper removes from the container's spec (create/run --bundle) or the exec'd
# process (exec --process) the capabilities the daemon itself cannot hold, then runs the real runc. A capability
# nobody here holds cannot be given to a container anyway, so nothing is lost. e2e/kind/run.sh starts dockerd
# with it as the default runtime only when the bounding set lacks a capability.
set -euo pipefail

NAMES=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
  NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE
  SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL
  SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE)

missing_capabilities() { # a JSON array of the names absent from this process's bounding set
  local bounding i names=()
  bounding=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
  for i in "${!NAMES[@]}"; do
    (((bounding >> i) & 1)) || names+=("\"CAP_${NAMES[i]}\"")
  done
  local IFS=,
  echo "[${names[*]}]"
}

drop_from() { # json-file jq-path-to-capabilities-object
  local file="$1" path="$2" missing
  missing="$(missing_capabilities)"
  [[ "$missing" == "[]" ]] && return 0
  jq --argjson missing "$missing" \
    "if $path then $path |= with_entries(.value |= (. // [] | map(select(IN(\$missing[]) | not)))) else . end" \
    "$file" >"$file.bounded"
  mv -f "$file.bounded" "$file"
}

args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --bundle | -b) drop_from "${args[i + 1]}/config.json" .process.capabilities ;;
    --bundle=*) drop_from "${args[i]#--bundle=}/config.json" .process.capabilities ;;
    --process | -p) drop_from "${args[i + 1]}" .capabilities ;;
    --process=*) drop_from "${args[i]#--process=}" .capabilities ;;
  esac
done
exec "${RINGTRAIN_REAL_RUNC:-runc}" "$@"
