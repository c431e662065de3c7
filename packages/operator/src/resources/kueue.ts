import { createHash } from 'node:crypto';
import type { KubernetesObject, V1Pod, V1Toleration } from '@kubernetes/client-node';
import { z } from 'zod';
import type { TrainingRun } from '../api/training-run.js';
import { LABEL_ATTEMPT, LABEL_ROLE, LABEL_RUN, commonLabels, ownerReference } from './names.js';
import { buildCoordinatorPod, buildWorkerPod, type ClusterSettings } from './templates.js';

/**
 * Kueue admits a TrainingRun through a Workload the operator creates and owns: Kueue's documented way for a job
 * kind it has no integration for (its jobframework builds the same object for the kinds it knows). The operator
 * creates no pod before Kueue admits the Workload, places the pods on the flavors the admission names, gives the
 * quota back on eviction (deleting the pods, then clearing the admission as Kueue's job integrations do), and
 * marks the Workload Finished when the run ends. API: kueue.x-k8s.io/v1beta2 (Kueue v0.17, its storage version).
 */
export const KUEUE_GROUP = 'kueue.x-k8s.io';
export const KUEUE_VERSION = 'v1beta2';
export const KUEUE_API_VERSION = `${KUEUE_GROUP}/${KUEUE_VERSION}`;
export const WORKLOADS = 'workloads';
export const RESOURCE_FLAVORS = 'resourceflavors';

/** Kueue's own label for "queue this job in that LocalQueue", as on a batch/v1 Job. */
export const QUEUE_NAME_LABEL = 'kueue.x-k8s.io/queue-name';

/** The Workload's podSets: one per role, named as Kueue's podSet names must be (DNS labels). */
export const POD_SETS = { coordinator: 'coordinator', workers: 'workers' } as const;
export type PodSetName = (typeof POD_SETS)[keyof typeof POD_SETS];

/** The run's LocalQueue, from its `kueue.x-k8s.io/queue-name` label; undefined for a run no queue admits. */
export function queueNameOf(run: TrainingRun): string | undefined {
  const queue = run.metadata.labels?.[QUEUE_NAME_LABEL];
  return queue === undefined || queue === '' ? undefined : queue;
}

/**
 * The PriorityClass whose value orders the run in its ClusterQueue: the workers' (most of its quota), else the
 * coordinator's. Kueue's jobframework takes a job's pods' PriorityClass the same way.
 */
export function runPriorityClassName(run: TrainingRun): string | undefined {
  return run.spec.workers.priorityClassName ?? run.spec.coordinator.priorityClassName;
}

/** `trainingrun-<run>`, as Kueue's jobframework names a Workload after its job's kind and name. */
export function workloadName(run: TrainingRun | string): string {
  return `trainingrun-${typeof run === 'string' ? run : run.metadata.name}`;
}

/** A Workload's pod template: the pod the operator would create for the role, less what names one attempt or pod. */
function podSetTemplate(pod: V1Pod): Record<string, unknown> {
  const labels = { ...pod.metadata?.labels };
  delete labels[LABEL_ATTEMPT];
  return {
    metadata: { labels, ...(pod.metadata?.annotations ? { annotations: pod.metadata.annotations } : {}) },
    spec: pod.spec
  };
}

/**
 * The Workload Kueue admits for a run: podSets `coordinator` (1) and `workers` (replicas), each with the pod
 * template the operator creates (containers with their requests and limits, GPUs included, nodeSelector,
 * tolerations, affinity, priorityClassName), in the run's LocalQueue, owned by the run so that deleting the run
 * deletes it. Labelled with the run's name, which the operator's informer selects on. With a PriorityClass
 * (runPriorityClassName), its name and value: Kueue's schema wants both, and orders and preempts by the value.
 */
export function buildWorkload(
  run: TrainingRun,
  cluster: ClusterSettings = {},
  priority?: { readonly name: string; readonly value: number }
): KubernetesObject {
  const queue = queueNameOf(run);
  if (queue === undefined) throw new Error(`TrainingRun ${run.metadata.name} has no ${QUEUE_NAME_LABEL} label`);
  const podSets = [
    { name: POD_SETS.coordinator, count: 1, template: podSetTemplate(buildCoordinatorPod(run, 1)) },
    {
      name: POD_SETS.workers,
      count: run.spec.workers.replicas,
      template: podSetTemplate(buildWorkerPod(run, 0, 1, cluster))
    }
  ];
  const priorityRef = priority
    ? {
        priorityClassRef: { group: 'scheduling.k8s.io', kind: 'PriorityClass', name: priority.name },
        priority: priority.value
      }
    : {};
  return {
    apiVersion: KUEUE_API_VERSION,
    kind: 'Workload',
    metadata: {
      name: workloadName(run),
      namespace: run.metadata.namespace ?? 'default',
      labels: { ...commonLabels(run), [QUEUE_NAME_LABEL]: queue },
      annotations: { [SPEC_HASH_ANNOTATION]: specHash({ queue, podSets, priorityRef }) },
      ownerReferences: [ownerReference(run)]
    },
    spec: { queueName: queue, ...priorityRef, podSets }
  } as KubernetesObject;
}

/**
 * What the Workload was built from, hashed: its podSets cannot change once created, so a run edited while queued
 * (more workers, other resources, another queue) gets a new Workload, as Kueue's jobframework replaces an out-of-sync
 * one. A hash of what the operator built rather than a comparison with the stored object, which Kueue's CRD
 * defaults (a container port's protocol, spec.active) make differ from it.
 */
export const SPEC_HASH_ANNOTATION = 'ringtrain.dev/workload-spec-hash';
const specHash = (built: unknown): string =>
  createHash('sha256').update(JSON.stringify(built)).digest('hex').slice(0, 16);

/** Whether `workload` was built from the run as it is now (buildWorkload with the same inputs). */
export function workloadInSync(workload: Workload, built: KubernetesObject): boolean {
  return workload.metadata.annotations?.[SPEC_HASH_ANNOTATION] === built.metadata?.annotations?.[SPEC_HASH_ANNOTATION];
}

const ConditionSchema = z
  .object({
    type: z.string(),
    status: z.string(),
    reason: z.string().optional(),
    message: z.string().optional(),
    lastTransitionTime: z.union([z.string(), z.date()]).optional()
  })
  .loose();

const TolerationSchema = z
  .object({
    key: z.string().optional(),
    operator: z.string().optional(),
    value: z.string().optional(),
    effect: z.string().optional(),
    tolerationSeconds: z.number().optional()
  })
  .loose();

/** What the operator reads of a Workload (kueue.x-k8s.io/v1beta2); the rest passes through. */
export const WorkloadSchema = z
  .object({
    metadata: z
      .object({
        name: z.string(),
        namespace: z.string().optional(),
        resourceVersion: z.string().optional(),
        deletionTimestamp: z.union([z.string(), z.date()]).optional(),
        ownerReferences: z.array(z.object({ uid: z.string() }).loose()).optional(),
        annotations: z.record(z.string(), z.string()).optional()
      })
      .loose(),
    status: z
      .object({
        conditions: z.array(ConditionSchema).optional(),
        admission: z
          .object({
            clusterQueue: z.string(),
            podSetAssignments: z.array(
              z.object({ name: z.string(), flavors: z.record(z.string(), z.string()).optional() }).loose()
            )
          })
          .loose()
          .optional(),
        admissionChecks: z
          .array(
            z
              .object({
                name: z.string(),
                podSetUpdates: z
                  .array(
                    z
                      .object({
                        name: z.string(),
                        nodeSelector: z.record(z.string(), z.string()).optional(),
                        tolerations: z.array(TolerationSchema).optional()
                      })
                      .loose()
                  )
                  .optional()
              })
              .loose()
          )
          .optional()
      })
      .loose()
      .optional()
  })
  .loose();
export type Workload = z.output<typeof WorkloadSchema>;
export type WorkloadCondition = z.output<typeof ConditionSchema>;

/** What the operator reads of a ResourceFlavor: what it injects into the pods admitted on it. */
export const ResourceFlavorSchema = z
  .object({
    metadata: z.object({ name: z.string() }).loose(),
    spec: z
      .object({
        nodeLabels: z.record(z.string(), z.string()).optional(),
        tolerations: z.array(TolerationSchema).optional()
      })
      .loose()
      .optional()
  })
  .loose();
export type ResourceFlavor = z.output<typeof ResourceFlavorSchema>;

const conditionOf = (workload: Workload, type: string): WorkloadCondition | undefined =>
  workload.status?.conditions?.find((c) => c.type === type);
const isTrue = (workload: Workload, type: string) => conditionOf(workload, type)?.status === 'True';

/** Admitted: Kueue reserved quota and every admission check passed (condition Admitted True, with an admission). */
export const isAdmitted = (workload: Workload): boolean =>
  isTrue(workload, 'Admitted') && workload.status?.admission !== undefined;
/** Evicted (preempted, PodsReady timeout, a stopped queue, deactivated): the pods must go, the run waits again. */
export const evictionOf = (workload: Workload): WorkloadCondition | undefined =>
  isTrue(workload, 'Evicted') ? conditionOf(workload, 'Evicted') : undefined;
export const isFinished = (workload: Workload): boolean => isTrue(workload, 'Finished');
/** Whether Kueue still holds quota for it (an admission, QuotaReserved True). */
export const holdsQuota = (workload: Workload): boolean =>
  workload.status?.admission !== undefined || isTrue(workload, 'QuotaReserved');

/** The flavors of every podSet's admission, by name: what the operator must read before creating pods. */
export function admittedFlavorNames(workload: Workload): string[] {
  const flavors = (workload.status?.admission?.podSetAssignments ?? []).flatMap((a) => Object.values(a.flavors ?? {}));
  return [...new Set(flavors)].sort();
}

/** Where the admission puts one podSet's pods: node labels and tolerations to merge into each pod. */
export interface AdmittedPlacement {
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly V1Toleration[];
}

/**
 * Kueue's contract for an integration: the nodeLabels and tolerations of the ResourceFlavors assigned to the
 * podSet, and what admission checks' podSetUpdates say, go into the pods. Returns undefined while a named flavor
 * is unknown (not read yet, or deleted): pods placed without it could land where the quota is not.
 */
export function admittedPlacement(
  workload: Workload,
  podSet: PodSetName,
  flavors: ReadonlyMap<string, ResourceFlavor>
): AdmittedPlacement | undefined {
  const assignment = workload.status?.admission?.podSetAssignments.find((a) => a.name === podSet);
  const nodeSelector: Record<string, string> = {};
  const tolerations: V1Toleration[] = [];
  for (const name of [...new Set(Object.values(assignment?.flavors ?? {}))].sort()) {
    const flavor = flavors.get(name);
    if (!flavor) return undefined;
    Object.assign(nodeSelector, flavor.spec?.nodeLabels);
    tolerations.push(...((flavor.spec?.tolerations ?? []) as V1Toleration[]));
  }
  for (const check of workload.status?.admissionChecks ?? []) {
    for (const update of (check.podSetUpdates ?? []).filter((u) => u.name === podSet)) {
      Object.assign(nodeSelector, update.nodeSelector);
      tolerations.push(...((update.tolerations ?? []) as V1Toleration[]));
    }
  }
  return { nodeSelector, tolerations };
}

/** The pod with the admission's placement merged in: the spec's own nodeSelector keys give way to the flavor's. */
export function withAdmittedPlacement(pod: V1Pod, placement: AdmittedPlacement): V1Pod {
  const spec = pod.spec;
  if (!spec) return pod;
  const nodeSelector = { ...spec.nodeSelector, ...placement.nodeSelector };
  const tolerations = [...(spec.tolerations ?? [])];
  for (const toleration of placement.tolerations)
    if (!tolerations.some((t) => JSON.stringify(t) === JSON.stringify(toleration))) tolerations.push(toleration);
  return {
    ...pod,
    spec: {
      ...spec,
      ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
      ...(tolerations.length > 0 ? { tolerations } : {})
    }
  };
}

/** The podSet a pod of the run belongs to. */
export const podSetOf = (pod: V1Pod): PodSetName =>
  pod.metadata?.labels?.[LABEL_ROLE] === 'coordinator' ? POD_SETS.coordinator : POD_SETS.workers;

/** The Workload's label selector in the operator's informer: Workloads of some run, never the cluster's others. */
export const WORKLOAD_SELECTOR = LABEL_RUN;
