import type {
  V1Affinity,
  V1ConfigMap,
  V1Container,
  V1EnvVar,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1Pod,
  V1PodSecurityContext,
  V1SecurityContext,
  V1Secret,
  V1Service,
  V1TopologySpreadConstraint,
  V1Volume,
  V1VolumeMount
} from '@kubernetes/client-node';
import { RUN_IDENTITY_FILES, runSettingsFromHyperparameters } from '@ringtrain/proto';
import { globalRank, ranksPerPod, worldSize } from '../api/ranks.js';
import { quantityBytes, type Toleration, type TrainingRunSpec } from '../api/spec-schema.js';
import { checkpointsUri, type TrainingRun } from '../api/training-run.js';
import type { RunTlsIdentity } from './run-identity.js';
import type { UriPolicy } from '../api/uri-policy.js';
import {
  COORDINATOR_GRPC_PORT,
  COORDINATOR_HTTP_PORT,
  LABEL_ATTEMPT,
  LABEL_RANK,
  LABEL_ROLE,
  PORT_NAMES,
  RUN_CONFIG_KEY,
  RUN_CONFIG_PATH,
  TOKEN_KEY,
  WORKER_COLLECTIVE_PORT,
  collectivePorts,
  commonLabels,
  names,
  runPodLabels,
  ownerReference,
  selectorLabels
} from './names.js';

/**
 * Pure builders: (run, attempt) → the objects the run needs. No I/O, no clock, no randomness (the token is
 * passed in), so table tests pin them down and reconcile can compare desired with observed.
 *
 * Container contract (the `ringtrain` CLI in the run's image):
 *   coordinator: `ringtrain coordinator --config /etc/ringtrain/run.json --host 0.0.0.0 --port 50051
 *                --http-port 8080 --max-restarts <backoffLimit> --reconnect-deadline <reconnectDeadlineSeconds>
 *                --heartbeat-timeout <heartbeatTimeoutSeconds>`, run.json from the run's ConfigMap (its
 *                collectiveTimeoutMs from runPolicy.collectiveTimeoutSeconds, handed to the workers), the
 *                shared secret in RINGTRAIN_TOKEN; serves /status, /healthz and /metrics on 8080.
 *   worker:      `ringtrain worker --coordinator <run>-coordinator:50051 --worker-id <pod name> --host 0.0.0.0
 *                --reconnect-deadline <reconnectDeadlineSeconds>`,
 *                RINGTRAIN_TOKEN, RINGTRAIN_RANK / RINGTRAIN_WORLD_SIZE / RINGTRAIN_ATTEMPT, and where peers
 *                reach it: RINGTRAIN_COLLECTIVE_PORT (50052), RINGTRAIN_ADVERTISE_HOST (its stable DNS name
 *                worker-<rank>.<run>-workers.<ns>.svc) and RINGTRAIN_POD_IP.
 *                With spec.dataset.ingest, RINGTRAIN_COORDINATOR_WAIT_SECONDS: the coordinator ingests first.
 *                With spec.workers.gpu.count > 0, RINGTRAIN_EXPECTED_GPUS and RINGTRAIN_GPU_RESOURCE: the
 *                worker exits 69 before registering unless TensorFlow computes on a GPU.
 *                With ranksPerPod n > 1 (api/ranks.ts), RINGTRAIN_RANKS_PER_POD: the worker launches n processes,
 *                local rank l being rank RINGTRAIN_RANK + l on port RINGTRAIN_COLLECTIVE_PORT + l (each declared).
 *   both:        RINGTRAIN_S3_ENDPOINT and RINGTRAIN_S3_CREDENTIALS_DIR when spec.storage is set (the
 *                coordinator reads the ingest's source and writes the dataset with them);
 *                terminationGracePeriodSeconds from spec.runPolicy, time to finish a step and a checkpoint.
 *   placement:   workers take spec.workers' image, resources, nodeSelector and tolerations; the coordinator
 *                spec.coordinator's (image default: the workers'), never the workers' GPU placement.
 *   template:    each role's affinity, topologySpreadConstraints, priorityClassName, schedulerName,
 *                serviceAccountName, imagePullSecrets, volumes and volumeMounts (after the operator's), labels and
 *                annotations (under the operator's), env (before the operator's) and envFrom, from its part of the
 *                spec; ports, command, probes and security contexts stay the operator's.
 *   /cache:      an emptyDir; the workers' is bounded by spec.workers.cacheSizeLimit, and run.json's cacheBytes
 *                (CACHE_BUDGET_FRACTION of it) is what their shard caches keep.
 *   disk:        ephemeral-storage requested and limited unless the spec names it: the workers' cacheSizeLimit
 *                plus SCRATCH_EPHEMERAL_STORAGE_BYTES, the coordinator's the scratch alone.
 */

const S3_CREDENTIALS_DIR = '/var/run/secrets/ringtrain/s3';
const RUN_IDENTITY_VOLUME = 'run-identity';
/** Where both roles find the run's TLS identity (RINGTRAIN_TLS_DIR). */
export const RUN_IDENTITY_DIR = '/var/run/secrets/ringtrain/identity';
const RUN_UID = 65532; // distroless "nonroot": any non-zero uid works; this one owns nothing on the image.

/**
 * The node disk a run's pod uses beside its shard cache: its logs (the kubelet keeps at most 5 × 10 MiB per
 * container by default), /tmp and the runtime's own files. The kubelet counts them, and every emptyDir, toward a
 * pod's ephemeral storage and evicts a pod past its limit.
 */
export const SCRATCH_EPHEMERAL_STORAGE_BYTES = 2 ** 30;

/**
 * Annotations of every pod the operator creates: the kube-score checks that are our deliberate choice, each
 * explained in docs/operator.md ("What kube-score says"). `container-image-pull-policy`: runs name their images by
 * tag, and nodes that load images without a registry (kind, air-gapped clusters) could not start an `Always` pod.
 */
export const POD_ANNOTATIONS: Readonly<Record<string, string>> = {
  'kube-score/ignore': 'container-image-pull-policy'
};

function metadata(run: TrainingRun, name: string, labels: Record<string, string>) {
  return {
    name,
    namespace: run.metadata.namespace,
    labels: { ...commonLabels(run), ...labels },
    ownerReferences: [ownerReference(run)]
  };
}

/**
 * The run's credentials: its shared secret (workers present it to the coordinator, and the collective derives its
 * tokens from it) and its TLS identity (its own CA, and the certificate and key every pod of the run presents).
 */
export function buildSecret(run: TrainingRun, token: string, tls?: RunTlsIdentity): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadata(run, names.secret(run.metadata.name), {}),
    type: 'Opaque',
    stringData: {
      [TOKEN_KEY]: token,
      ...(tls
        ? {
            [RUN_IDENTITY_FILES.ca]: tls.ca,
            [RUN_IDENTITY_FILES.certificate]: tls.certificate,
            [RUN_IDENTITY_FILES.privateKey]: tls.privateKey
          }
        : {})
    }
  };
}

/** What the operator knows of the cluster that a TrainingRun does not say (set by its flags, from the chart). */
export interface ClusterSettings {
  /** Which URIs a spec may name (DEFAULT_URI_POLICY: s3:// only, no file://, no metadata or link-local host). */
  readonly uriPolicy?: UriPolicy;
  /** host:port of the cluster's dataset service, which plans every run's epochs; unset, workers plan locally. */
  readonly datasetService?: string;
  /**
   * The GPU resource of the cluster's device plugin (amd.com/gpu, gpu.intel.com/i915, ...), for runs whose
   * spec.workers.gpu.resourceName is unset; nvidia.com/gpu when this is unset too.
   */
  readonly defaultGpuResource?: string;
  /** False: no per-run NetworkPolicy (a cluster without a NetworkPolicy controller, or one fenced otherwise). */
  readonly networkPolicies?: boolean;
  /**
   * Where the operator's pods are, so the per-run NetworkPolicy lets them read the coordinator's /status;
   * unset (an operator outside the cluster, whose address no pod selector names), the coordinator's HTTP port
   * is open to every source.
   */
  readonly operatorPods?: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> };
  /** More than the per-run NetworkPolicy lets a run's pods reach (`--run-egress`), e.g. a proxy or a registry. */
  readonly runEgress?: readonly { readonly cidr: string; readonly port: number }[];
}

/** The GPU resource a worker asks for when neither its run nor the cluster names one. */
export const DEFAULT_GPU_RESOURCE = 'nvidia.com/gpu';

/** The port an S3 endpoint listens on (AWS S3 without one: https). */
function objectStorePort(run: TrainingRun): number {
  const endpoint = run.spec.storage?.endpoint;
  if (endpoint === undefined) return 443;
  const url = new URL(endpoint);
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/**
 * One NetworkPolicy per run over all of its pods, both directions; the ports are named, so each rule reaches
 * only the pods that declare that port, and peers are this run's pods by name and uid (LABEL_RUN_UID).
 * In: a worker's collective port and the coordinator's gRPC port from the run's own pods only, not from another
 * run's workers in the same namespace; the coordinator's HTTP port (/status, /healthz, the dashboard) from the
 * run's pods and the operator's. The kubelet's probes and `kubectl port-forward` are not pod-to-pod traffic,
 * and policy controllers let them through.
 * Out: the run's own pods, DNS, the object store's port, the dataset service's, https or http when the cluster
 * lets specs name such URIs (weights), and the cluster's opt-in list (`--run-egress`); nothing else. A
 * policy cannot name a host, so the object store and the rest are allowed by port on any address.
 */
export function buildNetworkPolicy(run: TrainingRun, cluster: ClusterSettings = {}): V1NetworkPolicy {
  const runPods: V1NetworkPolicyPeer = { podSelector: { matchLabels: runPodLabels(run) } };
  const operator = cluster.operatorPods;
  const tcp = (port: string | number) => ({ port, protocol: 'TCP' });
  const schemes = cluster.uriPolicy?.schemes ?? [];
  const outPorts = new Set<number>([objectStorePort(run)]);
  // One named port per local rank (collective, collective-1, ...) and per further stripe: a pod opens each.
  const collectivePortNames = workerCollectivePorts(run).map((port) => port.name);
  if (cluster.datasetService) outPorts.add(Number(cluster.datasetService.split(':').at(-1)));
  if (schemes.includes('https')) outPorts.add(443);
  if (schemes.includes('http')) outPorts.add(80);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(run, names.networkPolicy(run.metadata.name), {}),
    spec: {
      podSelector: { matchLabels: runPodLabels(run) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        // `_from`: client-node's model name for `from`, which its serializer writes as `from`.
        { _from: [runPods], ports: [...collectivePortNames.map(tcp), tcp(PORT_NAMES.grpc), tcp(PORT_NAMES.http)] },
        operator
          ? {
              _from: [
                {
                  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': operator.namespace } },
                  podSelector: { matchLabels: { ...operator.labels } }
                }
              ],
              ports: [tcp(PORT_NAMES.http)]
            }
          : // No `from`: every source, as an operator outside the cluster reaches /status from no pod at all.
            { ports: [tcp(PORT_NAMES.http)] }
      ],
      egress: [
        { to: [runPods], ports: [...collectivePortNames.map(tcp), tcp(PORT_NAMES.grpc), tcp(PORT_NAMES.http)] },
        { ports: [{ port: 53, protocol: 'UDP' }, tcp(53)] },
        { ports: [...outPorts].sort((x, y) => x - y).map(tcp) },
        ...(cluster.runEgress ?? []).map((rule) => ({
          to: [{ ipBlock: { cidr: rule.cidr } }],
          ports: [tcp(rule.port)]
        }))
      ]
    }
  };
}

/** The coordinator's run configuration: not secret, so a ConfigMap, mounted as a file for `--config`. */
export function buildConfigMap(run: TrainingRun, cluster: ClusterSettings = {}): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(run, names.configMap(run.metadata.name), {}),
    data: { [RUN_CONFIG_KEY]: `${JSON.stringify(coordinatorRunConfig(run, cluster), null, 2)}\n` }
  };
}

export function buildCoordinatorService(run: TrainingRun): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(run, names.coordinatorService(run.metadata.name), { [LABEL_ROLE]: 'coordinator' }),
    spec: {
      selector: selectorLabels(run, 'coordinator'),
      ports: [
        { name: PORT_NAMES.grpc, port: COORDINATOR_GRPC_PORT, targetPort: COORDINATOR_GRPC_PORT, protocol: 'TCP' },
        { name: PORT_NAMES.http, port: COORDINATOR_HTTP_PORT, targetPort: COORDINATOR_HTTP_PORT, protocol: 'TCP' }
      ]
    }
  };
}

/**
 * One headless Service for all workers (MPI Operator's and JobSet's choice, cheaper than a Service per pod).
 * publishNotReadyAddresses: peers must resolve each other during rendezvous, before any is Ready.
 */
export function buildWorkersService(run: TrainingRun): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(run, names.workersService(run.metadata.name), { [LABEL_ROLE]: 'worker' }),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(run, 'worker'),
      ports: workerCollectivePorts(run).map(({ name, port }) => ({ name, port, targetPort: port, protocol: 'TCP' }))
    }
  };
}

/** What the coordinator is started with: its RunConfig (packages/coordinator), derived from the spec. */
export function coordinatorRunConfig(run: TrainingRun, cluster: ClusterSettings = {}): Record<string, unknown> {
  const { spec } = run;
  const hp = spec.hyperparameters;
  const toIngest = spec.dataset.ingest;
  return {
    runId: `${run.metadata.namespace ?? 'default'}/${run.metadata.name}`,
    dataset: spec.dataset.uri ?? toIngest?.into,
    // The coordinator ingests first (one ingest per run); the run's seed splits the data, as `ringtrain train` does.
    // maxResolution unset: the coordinator downscales as `ringtrain train` does (twice imageSize; @ringtrain/dataset).
    ...(toIngest
      ? {
          ingest: {
            source: toIngest.source,
            valFraction: toIngest.valFraction,
            seed: hp.seed,
            ...(toIngest.maxResolution !== undefined ? { maxResolution: toIngest.maxResolution } : {})
          }
        }
      : {}),
    out: spec.output.uri,
    tensorboard: spec.output.tensorboard,
    // Always spelled out, so status.lastCheckpoint.uri and the workers name one place.
    checkpoints: checkpointsUri(run),
    // Ranks, not pods: each of the replicas pods runs ranksPerPod of them (ranks.ts).
    workers: worldSize(spec.workers),
    ...(ranksPerPod(spec.workers) > 1 ? { ranksPerPod: ranksPerPod(spec.workers) } : {}),
    // epochs, batch, seed, augmentation, loader threads, the gradient wire, the schedule in epochs and the model's
    // training configuration: the same mapping `ringtrain train` uses (@ringtrain/proto).
    ...withNumClasses(runSettingsFromHyperparameters(hp, spec.model), spec.model.numClasses),
    // Fixed for the run (replicas is immutable after start), so a resumed epoch plan is exact.
    partitions: worldSize(spec.workers),
    checkpointEverySteps: spec.checkpoint.everySteps,
    keepCheckpoints: spec.checkpoint.keep,
    // The workers' ring operations give up on a silent peer after this long (the coordinator hands them run.json).
    collectiveTimeoutMs: spec.runPolicy.collectiveTimeoutSeconds * 1000,
    ...(spec.model.pretrained ? { pretrained: spec.model.pretrained } : {}),
    ...(cluster.datasetService ? { datasetService: cluster.datasetService } : {}),
    cacheDir: '/cache',
    // Per rank: the ranks of a pod share its /cache emptyDir, each in a directory of its own.
    cacheBytes: Math.max(1, Math.floor(workerCacheBytes(run) / ranksPerPod(spec.workers))),
    backend: spec.workers.gpu.count > 0 ? 'tensorflow' : 'auto'
  };
}

/**
 * The part of the workers' /cache sizeLimit their shard caches fill: the rest is room for what the byte count
 * does not see (a download's file while it is renamed, an evicted file not yet deleted, filesystem overhead),
 * since the kubelet evicts a pod whose emptyDir passes its sizeLimit.
 */
export const CACHE_BUDGET_FRACTION = 0.9;

/** The byte budget of a worker's shard caches, from spec.workers.cacheSizeLimit. */
export function workerCacheBytes(run: TrainingRun): number {
  return Math.max(1, Math.floor(quantityBytes(run.spec.workers.cacheSizeLimit) * CACHE_BUDGET_FRACTION));
}

/** The class count when the spec gives one; left out, the coordinator takes it from the dataset's manifest. */
function withNumClasses<Settings extends { training: Record<string, unknown> }>(
  settings: Settings,
  numClasses: number | undefined
): Settings {
  return numClasses ? { ...settings, training: { ...settings.training, numClasses } } : settings;
}

/**
 * How the pods use the object store. RINGTRAIN_HMAC_FROM_TOKEN: the run's token (its Secret) stays the same on every
 * attempt, so checkpoint pointers and run-record.json are signed with a key derived from it, and what another
 * writer left there is refused instead of resumed from.
 */
function storageEnv(run: TrainingRun): V1EnvVar[] {
  const storage = run.spec.storage;
  const env: V1EnvVar[] = [{ name: 'RINGTRAIN_HMAC_FROM_TOKEN', value: 'true' }];
  if (storage?.endpoint) env.push({ name: 'RINGTRAIN_S3_ENDPOINT', value: storage.endpoint });
  if (storage?.credentialsSecretRef) env.push({ name: 'RINGTRAIN_S3_CREDENTIALS_DIR', value: S3_CREDENTIALS_DIR });
  return env;
}

/**
 * A coordinator that ingests does not listen until the dataset is made, which may take longer than
 * runPolicy.reconnectDeadlineSeconds (a worker that gives up exits 80: a counted gang restart, which would
 * restart the ingest too). Its workers wait for as long as it takes
 * (0): the run's deadlines bound the ingest, and a failed coordinator ends the gang anyway.
 */
function coordinatorWaitEnv(run: TrainingRun): V1EnvVar[] {
  if (!run.spec.dataset.ingest) return [];
  return [{ name: 'RINGTRAIN_COORDINATOR_WAIT_SECONDS', value: '0' }];
}

function tokenEnv(run: TrainingRun): V1EnvVar[] {
  return [
    { name: 'RINGTRAIN_TOKEN', valueFrom: { secretKeyRef: { name: names.secret(run.metadata.name), key: TOKEN_KEY } } },
    { name: 'RINGTRAIN_TLS_DIR', value: RUN_IDENTITY_DIR }
  ];
}

/**
 * What a worker given GPUs checks at start: that TensorFlow computes on one. tfjs-node-gpu would otherwise
 * fall back to the CPU without an error (no driver in the container, one too old for CUDA 12.2) and the run
 * would train many times slower with nothing failing.
 */
function gpuEnv(count: number, resource: string): V1EnvVar[] {
  if (count === 0) return [];
  return [
    { name: 'RINGTRAIN_EXPECTED_GPUS', value: String(count) },
    { name: 'RINGTRAIN_GPU_RESOURCE', value: resource }
  ];
}

/**
 * Writable places for a read-only root filesystem: /tmp, and the shard cache, bounded by `cacheSizeLimit` (the
 * workers'; the coordinator keeps no shards there).
 */
function volumes(run: TrainingRun, cacheSizeLimit?: string): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const vols: V1Volume[] = [
    { name: 'tmp', emptyDir: {} },
    { name: 'cache', emptyDir: cacheSizeLimit !== undefined ? { sizeLimit: cacheSizeLimit } : {} }
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'tmp', mountPath: '/tmp' },
    { name: 'cache', mountPath: '/cache' }
  ];
  // Both roles present the run's certificate (mutual TLS): readable by the pod's group only (fsGroup).
  vols.push({
    name: RUN_IDENTITY_VOLUME,
    secret: {
      secretName: names.secret(run.metadata.name),
      defaultMode: 0o440,
      items: Object.values(RUN_IDENTITY_FILES).map((key) => ({ key, path: key }))
    }
  });
  mounts.push({ name: RUN_IDENTITY_VOLUME, mountPath: RUN_IDENTITY_DIR, readOnly: true });
  const secretRef = run.spec.storage?.credentialsSecretRef;
  if (secretRef) {
    vols.push({ name: 's3-credentials', secret: { secretName: secretRef.name } });
    mounts.push({ name: 's3-credentials', mountPath: S3_CREDENTIALS_DIR, readOnly: true });
  }
  return { volumes: vols, mounts };
}

const podSecurity: V1PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: RUN_UID,
  runAsGroup: RUN_UID,
  fsGroup: RUN_UID,
  seccompProfile: { type: 'RuntimeDefault' }
};

const containerSecurity: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] }
};

/** Where a pod may run: each role's own nodeSelector and tolerations, from its part of the spec. */
interface Placement {
  readonly nodeSelector?: Record<string, string> | undefined;
  readonly tolerations?: readonly Toleration[] | undefined;
  readonly cacheSizeLimit?: string;
}

/** A role's pod-template fields (spec.workers or spec.coordinator; pod-template-schema.ts). */
type PodTemplateFields = Pick<
  TrainingRunSpec['workers'] & TrainingRunSpec['coordinator'],
  | 'affinity'
  | 'topologySpreadConstraints'
  | 'priorityClassName'
  | 'schedulerName'
  | 'serviceAccountName'
  | 'imagePullSecrets'
  | 'volumes'
  | 'volumeMounts'
  | 'labels'
  | 'annotations'
  | 'envFrom'
>;

/**
 * The scheduling and identity fields of a role's pod, each only when the spec sets it. What the operator owns is
 * not among them: ports, the token, the security context and automountServiceAccountToken are set in `pod`.
 */
function templateSpec(fields: PodTemplateFields): Partial<NonNullable<V1Pod['spec']>> {
  return {
    ...(fields.affinity ? { affinity: structuredClone(fields.affinity) as V1Affinity } : {}),
    ...(fields.topologySpreadConstraints
      ? { topologySpreadConstraints: structuredClone(fields.topologySpreadConstraints) as V1TopologySpreadConstraint[] }
      : {}),
    ...(fields.priorityClassName ? { priorityClassName: fields.priorityClassName } : {}),
    ...(fields.schedulerName ? { schedulerName: fields.schedulerName } : {}),
    ...(fields.serviceAccountName ? { serviceAccountName: fields.serviceAccountName } : {}),
    ...(fields.imagePullSecrets ? { imagePullSecrets: fields.imagePullSecrets.map(({ name }) => ({ name })) } : {})
  };
}

function pod(
  run: TrainingRun,
  name: string,
  labels: Record<string, string>,
  container: V1Container,
  placement: Placement,
  template: PodTemplateFields,
  extra: Partial<NonNullable<V1Pod['spec']>>,
  more: { volumes: V1Volume[]; mounts: V1VolumeMount[] } = { volumes: [], mounts: [] }
): V1Pod {
  const base = volumes(run, placement.cacheSizeLimit);
  // The spec's volumes after ours: admission refuses their taking our names or paths (validation-rules.ts).
  const vols = [...base.volumes, ...more.volumes, ...((structuredClone(template.volumes) ?? []) as V1Volume[])];
  const mounts = [...base.mounts, ...more.mounts, ...(structuredClone(template.volumeMounts) ?? [])];
  const meta = metadata(run, name, labels);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...meta,
      // The spec's labels and annotations first, ours over them: selectors and the NetworkPolicy find pods by ours.
      labels: { ...template.labels, ...meta.labels },
      annotations: { ...template.annotations, ...POD_ANNOTATIONS }
    },
    spec: {
      ...templateSpec(template),
      // The operator restarts the whole gang as one attempt; a kubelet restarting one container in place
      // would rejoin a ring that has moved on.
      restartPolicy: 'Never',
      // SIGTERM (a drain, a gang restart) lets a worker finish its step and rank 0 write a checkpoint first.
      terminationGracePeriodSeconds: run.spec.runPolicy.terminationGracePeriodSeconds,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: podSecurity,
      volumes: vols,
      containers: [
        {
          ...container,
          // envFrom before env in Kubernetes' precedence: the operator's variables (in env) win over a ConfigMap's.
          ...(template.envFrom ? { envFrom: structuredClone(template.envFrom) } : {}),
          volumeMounts: mounts,
          securityContext: containerSecurity,
          imagePullPolicy: 'IfNotPresent'
        }
      ],
      ...(placement.nodeSelector ? { nodeSelector: { ...placement.nodeSelector } } : {}),
      ...(placement.tolerations ? { tolerations: [...placement.tolerations] } : {}),
      ...extra
    }
  };
}

/** A spec's requests or limits as the API's strings (a quantity may be written as a number). */
function quantityStrings(quantities: Record<string, number | string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(quantities ?? {}).map(([k, v]) => [k, String(v)]));
}

/** Bytes as a quantity: in Gi or Mi when they divide evenly, else plain bytes. */
export function formatBytes(bytes: number): string {
  if (bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30}Gi`;
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20}Mi`;
  return String(bytes);
}

const EPHEMERAL_STORAGE = 'ephemeral-storage';

/**
 * Requests and limits with `ephemeral-storage` set to `bytes` (request and limit alike: what a pod will use is
 * what the scheduler should find room for, and a pod within its request is the last the kubelet evicts under disk
 * pressure), unless the spec names ephemeral-storage itself, which is then used as given.
 */
function withEphemeralStorage(
  requests: Record<string, string>,
  limits: Record<string, string>,
  bytes: number
): { requests: Record<string, string>; limits: Record<string, string> } {
  if (EPHEMERAL_STORAGE in requests || EPHEMERAL_STORAGE in limits) return { requests, limits };
  const size = formatBytes(bytes);
  return { requests: { ...requests, [EPHEMERAL_STORAGE]: size }, limits: { ...limits, [EPHEMERAL_STORAGE]: size } };
}

/**
 * A worker's ephemeral storage: its /cache emptyDir may fill up to spec.workers.cacheSizeLimit, and counts toward
 * the pod's, so the limit is that plus the scratch room; a limit at or below cacheSizeLimit would evict the pod
 * before its cache is full.
 */
export function workerEphemeralStorageBytes(run: TrainingRun): number {
  return quantityBytes(run.spec.workers.cacheSizeLimit) + SCRATCH_EPHEMERAL_STORAGE_BYTES;
}

export function buildCoordinatorPod(run: TrainingRun, attempt: number): V1Pod {
  const name = names.coordinatorPod(run.metadata.name);
  const { coordinator } = run.spec;
  // Its /cache stays empty (no shards) and its ingest streams to object storage: only the scratch room.
  const { requests, limits } = withEphemeralStorage(
    quantityStrings(coordinator.resources.requests),
    quantityStrings(coordinator.resources.limits),
    SCRATCH_EPHEMERAL_STORAGE_BYTES
  );
  return pod(
    run,
    name,
    { [LABEL_ROLE]: 'coordinator', [LABEL_ATTEMPT]: String(attempt) },
    {
      name: 'coordinator',
      // The workers' image unless set: both sides of the run's contract come from one build.
      image: coordinator.image ?? run.spec.workers.image,
      command: ['ringtrain', 'coordinator'],
      args: [
        '--config',
        RUN_CONFIG_PATH,
        '--host',
        '0.0.0.0',
        '--port',
        String(COORDINATOR_GRPC_PORT),
        '--http-port',
        String(COORDINATOR_HTTP_PORT),
        // A worker whose heartbeats stop this long is declared hung: its generation ends and /status names it.
        '--heartbeat-timeout',
        String(run.spec.runPolicy.heartbeatTimeoutSeconds),
        // Worker losses inside one attempt are the coordinator's to absorb, within the same budget.
        '--max-restarts',
        String(run.spec.runPolicy.backoffLimit),
        // How long it waits for unreachable storage before exiting 75 (retryable): a MinIO restart is not the run's end.
        '--reconnect-deadline',
        String(run.spec.runPolicy.reconnectDeadlineSeconds)
      ],
      env: [
        // User env first: ours come last and win (a duplicate name takes the last value).
        ...((coordinator.env ?? []) as V1EnvVar[]),
        ...tokenEnv(run),
        { name: 'RINGTRAIN_ATTEMPT', value: String(attempt) },
        ...storageEnv(run)
      ],
      ports: [
        { name: PORT_NAMES.grpc, containerPort: COORDINATOR_GRPC_PORT, protocol: 'TCP' },
        { name: PORT_NAMES.http, containerPort: COORDINATOR_HTTP_PORT, protocol: 'TCP' }
      ],
      // HTTPS with the run's certificate: the kubelet's probes do not check certificates, and /healthz asks no token.
      readinessProbe: { httpGet: { path: '/healthz', port: COORDINATOR_HTTP_PORT, scheme: 'HTTPS' }, periodSeconds: 5 },
      // The CLI's last line says why it failed (e.g. the run's ingest): it becomes status.lastFailure.message.
      terminationMessagePolicy: 'FallbackToLogsOnError',
      // Its limits are also what its ingest sizes its decoding to (the cgroup's CPU quota and memory limit).
      resources: {
        ...(Object.keys(requests).length ? { requests } : {}),
        ...(Object.keys(limits).length ? { limits } : {})
      }
    },
    { nodeSelector: coordinator.nodeSelector, tolerations: coordinator.tolerations },
    coordinator,
    {},
    {
      volumes: [{ name: 'run-config', configMap: { name: names.configMap(run.metadata.name) } }],
      mounts: [{ name: 'run-config', mountPath: '/etc/ringtrain', readOnly: true }]
    }
  );
}

/** A worker pod's collective ports: each local rank's ring port and its further stripes'. */
function workerCollectivePorts(run: TrainingRun): { name: string; port: number }[] {
  return collectivePorts(ranksPerPod(run.spec.workers), run.spec.hyperparameters.collectiveStripes);
}

/**
 * Worker pod `index` (its name, hostname and LABEL_RANK; one pod per rank unless ranksPerPod says more). With
 * several ranks per pod, `ringtrain worker` launches one process per rank (RINGTRAIN_RANKS_PER_POD): local rank l
 * is global rank RINGTRAIN_RANK + l and listens on RINGTRAIN_COLLECTIVE_PORT + l (its stripe k, if any, on that
 * + k · STRIPE_PORT_STEP), each port declared here.
 */
export function buildWorkerPod(run: TrainingRun, rank: number, attempt: number, cluster: ClusterSettings = {}): V1Pod {
  const runName = run.metadata.name;
  const { workers } = run.spec;
  const perPod = ranksPerPod(workers);
  const { requests, limits } = withEphemeralStorage(
    quantityStrings(workers.resources?.requests),
    quantityStrings(workers.resources?.limits),
    workerEphemeralStorageBytes(run)
  );
  const gpuResource = workers.gpu.resourceName ?? cluster.defaultGpuResource ?? DEFAULT_GPU_RESOURCE;
  if (workers.gpu.count > 0) limits[gpuResource] = String(workers.gpu.count);
  return pod(
    run,
    names.workerPod(runName, rank),
    { [LABEL_ROLE]: 'worker', [LABEL_RANK]: String(rank), [LABEL_ATTEMPT]: String(attempt) },
    {
      name: 'worker',
      image: workers.image,
      command: ['ringtrain', 'worker'],
      args: [
        '--coordinator',
        `${names.coordinatorService(runName)}:${COORDINATOR_GRPC_PORT}`,
        '--worker-id',
        names.workerPod(runName, rank),
        '--host',
        '0.0.0.0',
        // How long it waits for unreachable storage or coordinator before exiting 75 or 80 (retryable).
        '--reconnect-deadline',
        String(run.spec.runPolicy.reconnectDeadlineSeconds)
      ],
      env: [
        // User env first: ours come last so a user cannot silently break the rank contract.
        ...((workers.env ?? []) as V1EnvVar[]),
        ...tokenEnv(run),
        // The pod's first rank; its local ranks follow, so ring neighbours share the pod.
        { name: 'RINGTRAIN_RANK', value: String(globalRank(workers, rank, 0)) },
        { name: 'RINGTRAIN_WORLD_SIZE', value: String(worldSize(workers)) },
        ...(perPod > 1 ? [{ name: 'RINGTRAIN_RANKS_PER_POD', value: String(perPod) }] : []),
        { name: 'RINGTRAIN_ATTEMPT', value: String(attempt) },
        { name: 'RINGTRAIN_COLLECTIVE_PORT', value: String(WORKER_COLLECTIVE_PORT) },
        // What peers can dial: listening on 0.0.0.0 says nothing about where the pod is reachable.
        {
          name: 'RINGTRAIN_ADVERTISE_HOST',
          value: `${names.workerHostname(rank)}.${names.workersService(runName)}.${run.metadata.namespace ?? 'default'}.svc`
        },
        { name: 'RINGTRAIN_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        ...coordinatorWaitEnv(run),
        ...gpuEnv(workers.gpu.count, gpuResource),
        ...storageEnv(run)
      ],
      ports: workerCollectivePorts(run).map(({ name, port }) => ({ name, containerPort: port, protocol: 'TCP' })),
      // Ready once its ring server listens: after the GPU check, before it registers. A TCP check, which the
      // kernel answers even while a synchronous training step blocks the event loop, so a busy rank stays Ready.
      // What status.readyWorkers counts; nothing routes by it (the headless Service publishes not-ready pods).
      readinessProbe: { tcpSocket: { port: WORKER_COLLECTIVE_PORT }, periodSeconds: 5 },
      // The CLI's last line says why it failed (e.g. no GPU that TensorFlow can use): it becomes status.lastFailure.message.
      terminationMessagePolicy: 'FallbackToLogsOnError',
      resources: {
        ...(Object.keys(requests).length ? { requests } : {}),
        ...(Object.keys(limits).length ? { limits } : {})
      }
    },
    { nodeSelector: workers.nodeSelector, tolerations: workers.tolerations, cacheSizeLimit: workers.cacheSizeLimit },
    workers,
    { hostname: names.workerHostname(rank), subdomain: names.workersService(runName) }
  );
}
