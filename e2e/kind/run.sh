#!/usr/bin/env bash
# The whole product on a throwaway kind cluster, built from packages only (no container registry is needed):
# builds the kind node image (e2e/kind/node-image/build.sh) and the project's images (scripts/build-images.sh),
# creates the cluster, loads the images, installs the Helm chart with its MinIO, ingests handwritten digits, then
# checks what a user would (see e2e/kind/README.md): a run Succeeded with its model in MinIO; a worker pod deleted
# mid-run makes the run Restarting, then Succeeded from its checkpoint; a pod of another run cannot reach a run's
# coordinator while the run's own pods can; the run's pods run as uid 65532 on a read-only root filesystem;
# `kubectl get tr` prints its columns; `helm uninstall` leaves nothing of the chart. Then it deletes the cluster,
# and stops the Docker daemon if it started it, also on failure and on Ctrl-C.
#
#   RINGTRAIN_KIND_CLUSTER  cluster name (default ringtrain-e2e); an existing cluster of that name is reused and
#                           left in place at the end (only a cluster this script created is deleted)
#   RINGTRAIN_KIND_KEEP=1   keep the cluster (and the runs, and a dockerd this script started) at the end
#   RINGTRAIN_RUN_TIMEOUT   seconds to wait for each run's Succeeded (default 1800)
#
# Needs Docker (a daemon, or Debian's docker.io installed: the script starts dockerd and stops it at the end),
# mmdebstrap, go, gcc, jq, zstd, curl and `npm ci` done in this checkout; kind, kubectl and helm are built by the
# scripts in scripts/.
set -euo pipefail
cd "$(dirname "$0")/../.."

cluster="${RINGTRAIN_KIND_CLUSTER:-ringtrain-e2e}"
keep="${RINGTRAIN_KIND_KEEP:-0}"
run_timeout="${RINGTRAIN_RUN_TIMEOUT:-1800}"
tag="0.1.0" # the tag deploy/examples and the chart's appVersion name
release="ringtrain"
system_ns="ringtrain-system"
run_ns="default"
context="kind-$cluster"
started=$SECONDS

step() { echo "== $* ($((SECONDS - started)) s)"; }
work="$(mktemp -d)"
background_pids=()
dockerd_pid=""
cluster_created=0

diagnose() {
  kubectl --context "$context" get tr,pods -A -o wide >&2 || true
  kubectl --context "$context" -n "$run_ns" describe tr >&2 || true
  kubectl --context "$context" get events -A --sort-by=.lastTimestamp >&2 || true
  kubectl --context "$context" -n "$system_ns" logs "deploy/$release-operator" --all-containers --tail=100 >&2 || true
  for pod in $(kubectl --context "$context" -n "$run_ns" get pods -l ringtrain.dev/run -o name 2>/dev/null); do
    echo "--- $pod" >&2
    kubectl --context "$context" -n "$run_ns" logs "$pod" --tail=50 >&2 || true
  done
}
fail() {
  echo "e2e/kind: FAILED: $*" >&2
  diagnose
  exit 1
}

cleanup() {
  local pid
  for pid in "${background_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ "$keep" == "1" ]]; then
    echo "e2e/kind: kept cluster $cluster (kind delete cluster --name $cluster)"
    if [[ -n "$dockerd_pid" ]]; then echo "e2e/kind: kept the dockerd this script started (pid $dockerd_pid)"; fi
  elif ((cluster_created)); then
    "$kind" delete cluster --name "$cluster" >/dev/null 2>&1 || true
  fi
  if [[ -n "$dockerd_pid" && "$keep" != "1" ]]; then
    echo "e2e/kind: stopping the dockerd this script started" >&2
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -----------------------------------------------------------------------------------------------------
for tool in node curl go gcc jq zstd mmdebstrap; do
  command -v "$tool" >/dev/null || { echo "e2e/kind: $tool is needed" >&2; exit 1; }
done
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { echo "e2e/kind: no Docker daemon answers and dockerd is not installed (apt-get install docker.io)" >&2; exit 1; }
  step "starting dockerd"
  dockerd_flags=()
  # kind's nodes are privileged containers; where root's bounding set lacks a capability, runc must not ask for it.
  bounding=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
  every_capability=$(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1))
  if (((bounding & every_capability) != every_capability)); then
    dockerd_flags+=(--add-runtime "ringtrain-runc=$PWD/e2e/kind/docker/runc-within-bounding-set.sh"
      --default-runtime ringtrain-runc)
  fi
  # In a session of its own: a Ctrl-C in the terminal must not stop it before the cluster is deleted.
  setsid dockerd "${dockerd_flags[@]}" >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { cat "$work/dockerd.log" >&2; echo "e2e/kind: dockerd did not start" >&2; exit 1; }
fi
kind="$(scripts/install-kind.sh)"
helm="$(scripts/install-helm.sh)"
kube_bin="$(scripts/install-kube-test-servers.sh kubelet kubeadm kubectl kube-scheduler kube-proxy)"
export PATH="$kube_bin:$PATH"
k() { kubectl --context "$context" "$@"; }

# --- images ----------------------------------------------------------------------------------------------------
step "kind node image"
node_image="$(e2e/kind/node-image/build.sh)"
docker run --rm --privileged --entrypoint true "$node_image" 2>"$work/privileged.log" || {
  cat "$work/privileged.log" >&2
  echo "e2e/kind: this Docker daemon cannot start privileged containers, which kind's nodes are. If the error is" \
    "'unable to apply caps', give dockerd e2e/kind/docker/runc-within-bounding-set.sh as its default runtime" \
    "(or stop it: this script then starts one that does)" >&2
  exit 1
}
step "the project's images"
images="$(scripts/build-images.sh)"
echo "$images"
runtime_base="$(sed -n 's/^RUNTIME_IMAGE=//p' <<<"$images")"
[[ -n "$runtime_base" ]] || fail "scripts/build-images.sh printed no RUNTIME_IMAGE="
# MinIO for the chart: the server the tests already build (scripts/install-minio.sh) on the runtime base, which
# has the shell the chart's init container runs.
minio_bin="$(scripts/install-minio.sh)"
minio_version="$(cat "$minio_bin.version")"
minio_image="ringtrain.local/minio:${minio_version#v0.0.0-}"
if ! docker image inspect "$minio_image" >/dev/null 2>&1; then
  mkdir -p "$work/minio"
  cp "$minio_bin" "$work/minio/minio"
  printf 'FROM %s\nCOPY minio /usr/local/bin/minio\nUSER 65532:65532\n' "$runtime_base" >"$work/minio/Dockerfile"
  docker build --quiet -t "$minio_image" "$work/minio" >/dev/null
fi

# --- cluster ---------------------------------------------------------------------------------------------------
step "kind cluster $cluster ($node_image)"
etcd_version="$(sed -n 's/^ETCD_VERSION="\(.*\)"/\1/p' scripts/install-kube-test-servers.sh)"
sed "s/ETCD_VERSION/$etcd_version/" e2e/kind/cluster.yaml >"$work/cluster.yaml"
if ! "$kind" get clusters 2>/dev/null | grep -qx "$cluster"; then
  cluster_created=1
  "$kind" create cluster --name "$cluster" --image "$node_image" --config "$work/cluster.yaml" --wait 300s
fi
"$kind" load docker-image --name "$cluster" "ghcr.io/ringtrain/control-plane:$tag" "ghcr.io/ringtrain/worker-cpu:$tag" \
  "$minio_image"

step "helm install"
"$helm" upgrade --install "$release" helm/ringtrain --kube-context "$context" --namespace "$system_ns" --create-namespace \
  --set "datasetService.datasets={s3://datasets/digits}" \
  --set minio.image.repository="${minio_image%:*}" --set minio.image.tag="${minio_image##*:}" \
  --set minio.persistence.enabled=false --set minio.persistence.size=8Gi --set minio.resources.requests.cpu=100m \
  --wait --timeout 10m

# The root credential is the administrator's, for the ingest from this machine; runs get their own from the operator.
step "dataset: digits ingested through a port-forward with the chart's MinIO root credential"
secret="$release-minio"
access_key="$(k -n "$system_ns" get secret "$secret" -o jsonpath='{.data.AWS_ACCESS_KEY_ID}' | base64 -d)"
secret_key="$(k -n "$system_ns" get secret "$secret" -o jsonpath='{.data.AWS_SECRET_ACCESS_KEY}' | base64 -d)"
port=19000
k -n "$system_ns" port-forward "svc/$release-minio" "$port:9000" >"$work/port-forward.log" 2>&1 &
background_pids+=($!)
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/minio/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
export RINGTRAIN_S3_ENDPOINT="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key"
npx tsx e2e/kind/objects.ts digits "$work/digits"
npx ringtrain ingest "$work/digits" --to s3://datasets/digits --val-fraction 0.2 --create-bucket

# --- runs ------------------------------------------------------------------------------------------------------
# Every phase a run shows, from a watch: a poll could miss a short Restarting.
watch_phases() { # run
  k -n "$run_ns" get tr "$1" --watch --output-watch-events -o jsonpath='{.object.status.phase}{"\n"}' \
    >"$work/$1.phases" 2>/dev/null &
  background_pids+=($!)
}
wait_for_phase() { # run phase
  local deadline=$((SECONDS + run_timeout)) phase=""
  while ((SECONDS < deadline)); do
    phase="$(k -n "$run_ns" get tr "$1" -o jsonpath='{.status.phase}')"
    [[ "$phase" == "$2" ]] && return 0
    [[ "$phase" == "Failed" ]] && fail "$1 failed: $(k -n "$run_ns" get tr "$1" -o jsonpath='{.status.lastFailure}')"
    sleep 5
  done
  fail "$1 not $2 within ${run_timeout}s (phase: ${phase:-none})"
}
# deploy/examples/cpu-smoke.yaml with its workers' CPU request lowered from 500m to 100m: a kind node has the host's
# cores to allocate (2 on CI's machines), and the control plane, the chart and the coordinator already request
# about 1.5 of them. The limits are the example's.
smoke_run() {
  sed -e 's/requests: { cpu: 500m,/requests: { cpu: 100m,/' deploy/examples/cpu-smoke.yaml
}
# The same under another name, with more epochs and frequent checkpoints, for the checks that need a run in
# progress.
# Two links per ring edge (hyperparameters.collectiveStripes): its steps cross the stripes' ports, which the
# run's NetworkPolicy must open (kube-router enforces it).
restart_run() { # name
  smoke_run | sed -e "s/^  name: cpu-smoke$/  name: $1/" -e "s#s3://runs/cpu-smoke#s3://runs/$1#" \
    -e 's/^    epochs: 1$/    epochs: 20\n    collectiveStripes: 2/'
  printf '  checkpoint:\n    everySteps: 10\n'
}
# A TCP connection from a new pod to host:port, with node from the worker image (5 s, then refused).
connect_probe() { # namespace pod-name labels host port
  local ns="$1" pod="$2"
  k -n "$ns" delete pod "$pod" --ignore-not-found --wait >/dev/null
  k -n "$ns" run "$pod" --image="ghcr.io/ringtrain/worker-cpu:$tag" --image-pull-policy=Never --restart=Never \
    --labels="$3" --command -- node -e "
      const socket = require('node:net').connect({ host: '$4', port: $5 });
      socket.on('connect', () => { console.log('connected'); process.exit(0); });
      socket.on('error', (error) => { console.log('refused: ' + error.code); process.exit(1); });
      setTimeout(() => { console.log('timed out'); process.exit(1); }, 5000);" >/dev/null
  local phase="" deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    phase="$(k -n "$ns" get pod "$pod" -o jsonpath='{.status.phase}')"
    [[ "$phase" == "Succeeded" ]] && return 0
    [[ "$phase" == "Failed" ]] && return 1
    sleep 1
  done
  fail "the probe pod $ns/$pod did not finish within 60 s (phase: $phase)"
}

step "TrainingRun cpu-smoke (deploy/examples/cpu-smoke.yaml)"
k -n "$run_ns" delete tr cpu-smoke --ignore-not-found --wait
smoke_run | k -n "$run_ns" apply -f -
wait_for_phase cpu-smoke Succeeded
columns="$(k -n "$run_ns" get tr cpu-smoke)"
echo "$columns"
[[ "$(head -1 <<<"$columns" | tr -s ' ')" == "NAME PHASE WORKERS RANKS EPOCH LOSS ACCURACY AGE" ]] ||
  fail "kubectl get tr printed other columns: $(head -1 <<<"$columns")"
npx tsx e2e/kind/objects.ts check s3://runs/cpu-smoke model/model.safetensors metrics.json ||
  fail "no model in s3://runs/cpu-smoke"
# It trained with keys minted for it (issue 19): its own Secret, and no Secret of the runs' namespace holds the root's.
k -n "$run_ns" get secret cpu-smoke-storage >/dev/null || fail "no per-run storage Secret cpu-smoke-storage"
root_secret_b64="$(k -n "$system_ns" get secret "$secret" -o jsonpath='{.data.AWS_SECRET_ACCESS_KEY}')"
run_secrets="$(k -n "$run_ns" get secrets -o jsonpath='{range .items[*]}{.data.AWS_SECRET_ACCESS_KEY}{"\n"}{end}')"
grep -qxF "$root_secret_b64" <<<"$run_secrets" && fail "a Secret in $run_ns holds MinIO's root credential"
echo "cpu-smoke ran with its own storage credentials (Secret cpu-smoke-storage); no root credential in $run_ns"

run=cpu-restart
step "TrainingRun $run: isolation, security context, then a worker pod deleted mid-run"
k -n "$run_ns" delete tr "$run" --ignore-not-found --wait
restart_run "$run" | k -n "$run_ns" apply -f -
watch_phases "$run"
wait_for_phase "$run" Running
deadline=$((SECONDS + run_timeout))
until [[ -n "$(k -n "$run_ns" get tr "$run" -o jsonpath='{.status.lastCheckpoint.step}')" ]]; do
  ((SECONDS < deadline)) || fail "$run wrote no checkpoint within ${run_timeout}s"
  sleep 2
done

k -n "$run_ns" logs "$run-worker-0" | grep 'joined the ring' | grep -q '"linksPerEdge":2' ||
  fail "$run's rank 0 did not form its ring with 2 links per edge: $(k -n "$run_ns" logs "$run-worker-0" | grep 'joined the ring')"
echo "$run trains over 2 links per ring edge (ports stripe-0-1, opened by its NetworkPolicy) and has checkpointed"

coordinator="$run-coordinator.$run_ns.svc"
# First from the run's own worker, so that the refusal below is the policy's, not a coordinator that has gone.
k -n "$run_ns" exec "$run-worker-0" -- node -e "
  const socket = require('node:net').connect({ host: '$coordinator', port: 50051 });
  socket.on('connect', () => process.exit(0)); socket.on('error', () => process.exit(1));
  setTimeout(() => process.exit(1), 5000);" || fail "$run's own worker cannot reach $coordinator:50051"
echo "the run's own worker: connected to $coordinator:50051"
# Encrypted and authenticated (the run's identity): /status over HTTPS checked against the run's CA answers 401
# without the run's token and 200 with it, and plain HTTP gets no answer.
k -n "$run_ns" exec "$run-worker-0" -- node -e "
  const https = require('node:https'), fs = require('node:fs'), dir = process.env.RINGTRAIN_TLS_DIR;
  const get = (headers) => new Promise((resolve, reject) => https.get('https://$coordinator:8080/status',
    { ca: fs.readFileSync(dir + '/ca.crt'), servername: 'ringtrain-run', headers },
    (r) => { r.resume(); resolve(r.statusCode); }).on('error', reject));
  (async () => {
    const without = await get({}), withToken = await get({ authorization: 'Bearer ' + process.env.RINGTRAIN_TOKEN });
    const plain = await fetch('http://$coordinator:8080/status', { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 'refused');
    console.log('status without the token', without, 'with it', withToken, 'plain HTTP', plain);
    process.exit(without === 401 && withToken === 200 && plain !== 200 ? 0 : 1);
  })().catch((e) => { console.error(e.message); process.exit(1); });" ||
  fail "$run's /status is not HTTPS with the run's certificate, asking for the token"
connect_probe "$run_ns" probe-other-run "ringtrain.dev/run=another-run" "$coordinator" 50051 &&
  fail "a pod of another run reached $coordinator:50051: $(k -n "$run_ns" logs probe-other-run)"
echo "a pod of another run: $(k -n "$run_ns" logs probe-other-run)"
# Another tenant's namespace, even with the run's own labels (its name and uid, which the policy's peers name): a
# policy's pod selector only admits pods of its own namespace.
other_tenant="ringtrain-e2e-other-tenant"
k create namespace "$other_tenant" --dry-run=client -o yaml | k apply -f - >/dev/null
for _ in $(seq 1 30); do k -n "$other_tenant" get serviceaccount default >/dev/null 2>&1 && break; sleep 1; done
run_uid="$(k -n "$run_ns" get tr "$run" -o jsonpath='{.metadata.uid}')"
connect_probe "$other_tenant" probe-run-labels "ringtrain.dev/run=$run,ringtrain.dev/run-uid=$run_uid" "$coordinator" 50051 &&
  fail "a pod of another namespace with the run's labels reached $coordinator:50051"
echo "a pod of another namespace with the run's labels: $(k -n "$other_tenant" logs probe-run-labels)"
k delete namespace "$other_tenant" --wait=false >/dev/null
[[ "$(k -n "$run_ns" get tr "$run" -o jsonpath='{.status.phase}')" == "Running" ]] ||
  fail "$run stopped running during the isolation check: the check proved nothing"
k -n "$run_ns" delete pod probe-other-run --wait=false >/dev/null

for pod in "$run-coordinator" "$run-worker-0"; do
  uid="$(k -n "$run_ns" exec "$pod" -- id -u)"
  [[ "$uid" == "65532" ]] || fail "$pod runs as uid $uid, not 65532"
  if k -n "$run_ns" exec "$pod" -- touch /app/written-at-run-time 2>/dev/null; then
    fail "$pod could write to its root filesystem"
  fi
  echo "$pod: uid $uid, root filesystem read-only"
done

k -n "$run_ns" delete pod "$run-worker-1" --wait=false
# The second attempt's ranks say in their logs where they start from; read them while they run (the pods of a
# finished run may be cleaned away).
deadline=$((SECONDS + run_timeout))
until [[ "$(k -n "$run_ns" get tr "$run" -o jsonpath='{.status.attempt}/{.status.phase}')" == "2/Running" ]]; do
  ((SECONDS < deadline)) || fail "$run did not run a second attempt after its worker pod was deleted"
  sleep 2
done
until k -n "$run_ns" logs "$run-worker-0" 2>/dev/null | grep -q '"msg":"resuming from checkpoint"'; do
  [[ "$(k -n "$run_ns" get tr "$run" -o jsonpath='{.status.phase}')" == "Running" ]] ||
    fail "rank 0 of the second attempt did not log that it resumed from the checkpoint"
  sleep 2
done
resumed_step="$(k -n "$run_ns" logs "$run-worker-0" | grep '"msg":"resuming from checkpoint"' | grep -o '"step":[0-9]*' | head -1)"
[[ "${resumed_step#\"step\":}" -gt 0 ]] || fail "the second attempt resumed from step ${resumed_step#\"step\":}"
echo "$run-worker-0 (attempt 2): resuming from the checkpoint of step ${resumed_step#\"step\":}"
wait_for_phase "$run" Succeeded
sleep 1
phases="$(awk 'NF && $0 != previous { printf "%s ", $0; previous = $0 }' "$work/$run.phases")"
echo "phases: $phases"
[[ "$phases" == *"Running Restarting"*"Running Succeeded"* ]] || fail "$run went through: $phases"
failed_pod="$(k -n "$run_ns" get tr "$run" -o jsonpath='{.status.lastFailure.pod}')"
[[ "$failed_pod" == "$run-worker-1" ]] || fail "$run's last failure names $failed_pod, not the deleted $run-worker-1"
npx tsx e2e/kind/objects.ts check "s3://runs/$run" model/model.safetensors metrics.json ||
  fail "no model in s3://runs/$run"

if [[ "$keep" == "1" ]]; then
  step "done (cluster kept)"
  exit 0
fi

# What is left of a selector's objects, once deletions have had two minutes to finish (the garbage collector
# deletes what a TrainingRun owns; pods take their grace period to go).
leftovers_after_deletion() { # selector
  local deadline=$((SECONDS + 120)) left
  while :; do
    left="$(
      k get all,networkpolicies,secrets,configmaps,serviceaccounts,roles,rolebindings,poddisruptionbudgets,persistentvolumeclaims \
        -A -l "$1" -o name
      k get clusterroles,clusterrolebindings -l "$1" -o name
    )"
    if [[ -z "$left" ]] || ((SECONDS >= deadline)); then break; fi
    sleep 2
  done
  echo "$left"
}

step "deleting the TrainingRuns deletes everything they made"
k -n "$run_ns" delete tr cpu-smoke "$run" --wait
left="$(leftovers_after_deletion "ringtrain.dev/run in (cpu-smoke,$run)")"
[[ -z "$left" ]] || fail "left behind after deleting the TrainingRuns: $left"

step "helm uninstall leaves nothing of the chart behind"
"$helm" uninstall "$release" --kube-context "$context" --namespace "$system_ns" --wait --timeout 5m
left="$(leftovers_after_deletion "app.kubernetes.io/instance=$release")"
[[ -z "$left" ]] || fail "left behind after helm uninstall: $left"

step "done: every check passed"
