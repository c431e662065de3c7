#!/usr/bin/env bash
# The whole product on a throwaway kind cluster, for hosts with Docker (not this repository's CI machine):
# builds the images, loads them into kind, installs the Helm chart, ingests handwritten digits into the chart's
# MinIO, applies deploy/examples/cpu-smoke.yaml, waits for phase Succeeded, checks the trained model is in
# MinIO, uninstalls and checks nothing of the chart is left, then deletes the cluster. See e2e/kind/README.md.
#
#   RINGTRAIN_KIND_CLUSTER  cluster name (default ringtrain-e2e); an existing cluster of that name is reused,
#                           and deleted at the end like a new one unless RINGTRAIN_KIND_KEEP=1
#   RINGTRAIN_KIND_KEEP=1   keep the cluster (and the run) at the end, to look around
#   RINGTRAIN_KIND_GPU=1    also build the worker-gpu image (checks its Dockerfile; kind cannot run it)
#   RINGTRAIN_RUN_TIMEOUT   seconds to wait for Succeeded (default 1800)
#
# Needs docker, kind (>= v0.24: its kindnet enforces NetworkPolicies, so the chart's policies are exercised),
# kubectl, helm (scripts/install-helm.sh) and `npm ci` done in this checkout.
set -euo pipefail
cd "$(dirname "$0")/../.."

cluster="${RINGTRAIN_KIND_CLUSTER:-ringtrain-e2e}"
keep="${RINGTRAIN_KIND_KEEP:-0}"
run_timeout="${RINGTRAIN_RUN_TIMEOUT:-1800}"
tag="0.1.0" # the tag deploy/examples and the chart's appVersion name
release="ringtrain"
system_ns="ringtrain-system"
run_ns="default"
run="cpu-smoke"
context="kind-$cluster"
started=$SECONDS

step() { echo "== $* ($((SECONDS - started)) s)"; }
fail() {
  echo "e2e/kind: FAILED: $*" >&2
  kubectl --context "$context" get tr,pods -A -o wide >&2 || true
  kubectl --context "$context" -n "$run_ns" describe tr "$run" >&2 || true
  kubectl --context "$context" -n "$system_ns" logs "deploy/$release-operator" --all-containers --tail=100 >&2 || true
  for pod in $(kubectl --context "$context" -n "$run_ns" get pods -l "ringtrain.dev/run=$run" -o name 2>/dev/null); do
    echo "--- $pod" >&2
    kubectl --context "$context" -n "$run_ns" logs "$pod" --tail=50 >&2 || true
  done
  exit 1
}

for tool in docker kind kubectl node curl; do
  command -v "$tool" >/dev/null || { echo "e2e/kind: $tool is needed" >&2; exit 1; }
done
helm="$(command -v helm || true)"
[[ -n "$helm" ]] || helm="$(scripts/install-helm.sh)"
k() { kubectl --context "$context" "$@"; }

forward_pid=""
cleanup() {
  if [[ -n "$forward_pid" ]]; then kill "$forward_pid" 2>/dev/null || true; fi
  rm -rf "${work:-}"
  if [[ "$keep" == "1" ]]; then
    echo "e2e/kind: kept cluster $cluster (kind delete cluster --name $cluster)"
  else
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
work="$(mktemp -d)"

step "kind cluster $cluster"
kind get clusters 2>/dev/null | grep -qx "$cluster" || kind create cluster --name "$cluster" --wait 180s

step "images"
targets=(control-plane worker-cpu)
[[ "${RINGTRAIN_KIND_GPU:-0}" == "1" ]] && targets+=(worker-gpu)
for target in "${targets[@]}"; do
  docker build -f deploy/docker/Dockerfile --target "$target" -t "ghcr.io/ringtrain/$target:$tag" .
done
kind load docker-image --name "$cluster" "ghcr.io/ringtrain/control-plane:$tag" "ghcr.io/ringtrain/worker-cpu:$tag"

step "helm install"
"$helm" upgrade --install "$release" helm/ringtrain --kube-context "$context" --namespace "$system_ns" --create-namespace \
  --set "datasetService.datasets={s3://datasets/digits}" \
  --set minio.persistence.size=2Gi \
  --wait --timeout 10m

step "dataset: the chart's MinIO credentials in the run's namespace, digits ingested through a port-forward"
secret="$release-minio"
access_key="$(k -n "$system_ns" get secret "$secret" -o jsonpath='{.data.AWS_ACCESS_KEY_ID}' | base64 -d)"
secret_key="$(k -n "$system_ns" get secret "$secret" -o jsonpath='{.data.AWS_SECRET_ACCESS_KEY}' | base64 -d)"
k -n "$run_ns" create secret generic minio-credentials \
  --from-literal=AWS_ACCESS_KEY_ID="$access_key" --from-literal=AWS_SECRET_ACCESS_KEY="$secret_key" \
  --dry-run=client -o yaml | k apply -f -
port=19000
k -n "$system_ns" port-forward "svc/$release-minio" "$port:9000" >"$work/port-forward.log" 2>&1 &
forward_pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/minio/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
export RINGTRAIN_S3_ENDPOINT="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key"
npx tsx e2e/kind/objects.ts digits "$work/digits"
npx ringtrain ingest "$work/digits" --to s3://datasets/digits --val-fraction 0.2 --create-bucket

step "TrainingRun $run"
k -n "$run_ns" delete tr "$run" --ignore-not-found --wait
k -n "$run_ns" apply -f "deploy/examples/$run.yaml"
deadline=$((SECONDS + run_timeout))
phase=""
while ((SECONDS < deadline)); do
  phase="$(k -n "$run_ns" get tr "$run" -o jsonpath='{.status.phase}')"
  case "$phase" in
    Succeeded) break ;;
    Failed) fail "$run failed: $(k -n "$run_ns" get tr "$run" -o jsonpath='{.status.lastFailure}')" ;;
  esac
  sleep 10
done
[[ "$phase" == "Succeeded" ]] || fail "$run not Succeeded within ${run_timeout}s (phase: ${phase:-none})"
k -n "$run_ns" get tr "$run"

step "the trained model in MinIO"
npx tsx e2e/kind/objects.ts check "s3://runs/$run" model/model.safetensors metrics.json || fail "no model in s3://runs/$run"

if [[ "$keep" == "1" ]]; then
  step "done (cluster kept)"
  exit 0
fi

step "helm uninstall leaves nothing of the chart behind"
k -n "$run_ns" delete tr "$run" --wait
"$helm" uninstall "$release" --kube-context "$context" --namespace "$system_ns" --wait --timeout 5m
# MinIO's PVC stays by design (StatefulSet volume claims outlive the release); everything else must be gone.
left="$(
  k get all,networkpolicies,secrets,configmaps,serviceaccounts,roles,rolebindings,poddisruptionbudgets -A \
    -l "app.kubernetes.io/instance=$release" -o name
  k get clusterroles,clusterrolebindings -l "app.kubernetes.io/instance=$release" -o name
)"
[[ -z "$left" ]] || fail "left behind after helm uninstall: $left"

step "done: $run Succeeded with its model in MinIO"
