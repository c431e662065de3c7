import http from 'node:http';
import https from 'node:https';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  NetworkingV1Api,
  PatchStrategy,
  SchedulingV1Api,
  V1MicroTime,
  Watch,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type V1Lease,
  type V1Pod,
  type V1Secret
} from '@kubernetes/client-node';
import { GROUP, KIND, API_VERSION, PLURAL, VERSION } from '../api/group-version.js';
import type { TrainingRunStatus } from '../api/status-schema.js';
import type { TrainingRun } from '../api/training-run.js';
import type { RunEvent } from '../reconcile/plan.js';
import { LABEL_RUN } from '../resources/names.js';
import { POD_GROUPS, POD_GROUP_GROUP, POD_GROUP_VERSION } from '../resources/pod-group.js';
import {
  KUEUE_GROUP,
  KUEUE_VERSION,
  RESOURCE_FLAVORS,
  ResourceFlavorSchema,
  WORKLOADS,
  WORKLOAD_SELECTOR,
  type ResourceFlavor,
  type WorkloadCondition
} from '../resources/kueue.js';
import type { ListResult } from './informer.js';

/** The HTTP status of a failed API call, or undefined for a failure that never reached the API server. */
export function statusCodeOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code =
    (error as { code?: unknown; statusCode?: unknown } | null)?.statusCode ??
    (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A raw TrainingRun as listed: validated later by reconcile, so a bad object cannot stop the cache. */
export type RawRun = KubernetesObject & { spec?: unknown; status?: TrainingRunStatus };

/** A raw kueue.x-k8s.io Workload as listed: parsed later (WorkloadSchema), like a run. */
export type RawWorkload = KubernetesObject & { spec?: unknown; status?: unknown };

/**
 * Every API call the operator makes, in one place: the RBAC the chart grants is exactly this list
 * (trainingruns list/watch/delete, trainingruns/status patch, trainingruns/finalizers update for
 * blockOwnerDeletion; pods list/watch/create/delete;
 * services, secrets and configmaps get/create; networking.k8s.io networkpolicies get/create, unless started
 * with --network-policies=false; events create; leases get/create/update; secrets update, only with
 * --store-credentials-dir, to renew the per-run storage credentials it minted, putSecret; with --kueue:
 * kueue.x-k8s.io workloads list/watch/create/delete, workloads/status patch, resourceflavors get, and
 * scheduling.k8s.io priorityclasses get; with --pod-group-scheduler: scheduling.x-k8s.io podgroups get/create).
 */
export class KubeApi {
  readonly watch: Watch;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly coordination: CoordinationV1Api;
  private readonly networking: NetworkingV1Api;
  private readonly scheduling: SchedulingV1Api;
  private readonly objects: KubernetesObjectApi;

  constructor(readonly config: KubeConfig) {
    this.watch = new Watch(config);
    this.core = config.makeApiClient(CoreV1Api);
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.coordination = config.makeApiClient(CoordinationV1Api);
    this.networking = config.makeApiClient(NetworkingV1Api);
    this.scheduling = config.makeApiClient(SchedulingV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(config);
  }

  runsPath(namespace?: string): string {
    return namespace
      ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`
      : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
  }

  podsPath(namespace?: string): string {
    return namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
  }

  workloadsPath(namespace?: string): string {
    return namespace
      ? `/apis/${KUEUE_GROUP}/${KUEUE_VERSION}/namespaces/${namespace}/${WORKLOADS}`
      : `/apis/${KUEUE_GROUP}/${KUEUE_VERSION}/${WORKLOADS}`;
  }

  /** Only the Workloads of some run (labelled with it), never the cluster's others. */
  async listWorkloads(namespace?: string): Promise<ListResult<RawWorkload>> {
    const query = { group: KUEUE_GROUP, version: KUEUE_VERSION, plural: WORKLOADS, labelSelector: WORKLOAD_SELECTOR };
    const list = (
      namespace
        ? await this.custom.listNamespacedCustomObject({ ...query, namespace })
        : await this.custom.listClusterCustomObject(query)
    ) as { items: RawWorkload[]; metadata?: { resourceVersion?: string } };
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /** A ResourceFlavor (cluster-scoped), or undefined when there is none of that name. */
  async readResourceFlavor(name: string): Promise<ResourceFlavor | undefined> {
    try {
      const flavor = await this.custom.getClusterCustomObject({
        group: KUEUE_GROUP,
        version: KUEUE_VERSION,
        plural: RESOURCE_FLAVORS,
        name
      });
      return ResourceFlavorSchema.parse(flavor);
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Whether the run's PodGroup (scheduling.x-k8s.io, the coscheduling plugin's) exists: `get` on podgroups. */
  async podGroupExists(namespace: string, name: string): Promise<boolean> {
    try {
      await this.custom.getNamespacedCustomObject({
        group: POD_GROUP_GROUP,
        version: POD_GROUP_VERSION,
        namespace,
        plural: POD_GROUPS,
        name
      });
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 404) return false;
      throw error;
    }
  }

  /** The value of a PriorityClass (cluster-scoped), or undefined when there is none of that name. */
  async readPriorityClassValue(name: string): Promise<number | undefined> {
    try {
      return (await this.scheduling.readPriorityClass({ name })).value;
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Writes a Workload's conditions (and removes its admission, after an eviction) through the status subresource,
   * guarded by the resourceVersion they were decided from: Kueue writes the same status, and a write made from a
   * stale cache is refused (409) rather than undo Kueue's. A JSON patch: `patch` on workloads/status only.
   */
  async writeWorkloadStatus(
    namespace: string,
    name: string,
    resourceVersion: string,
    conditions: readonly WorkloadCondition[],
    clearAdmission: boolean
  ): Promise<void> {
    const body = [
      { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion },
      { op: 'add', path: '/status/conditions', value: conditions },
      ...(clearAdmission ? [{ op: 'remove', path: '/status/admission' }] : [])
    ];
    await this.custom.patchNamespacedCustomObjectStatus(
      { group: KUEUE_GROUP, version: KUEUE_VERSION, namespace, plural: WORKLOADS, name, body },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)
    );
  }

  async deleteWorkload(namespace: string, name: string): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({
        group: KUEUE_GROUP,
        version: KUEUE_VERSION,
        namespace,
        plural: WORKLOADS,
        name
      });
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
  }

  /** Only pods of some run: the operator never caches the cluster's other pods. */
  readonly podSelector = LABEL_RUN;

  async listRuns(namespace?: string): Promise<ListResult<RawRun>> {
    const list = (
      namespace
        ? await this.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL })
        : await this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
    ) as { items: RawRun[]; metadata?: { resourceVersion?: string } };
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  async listPods(namespace?: string): Promise<ListResult<V1Pod>> {
    const list = namespace
      ? await this.core.listNamespacedPod({ namespace, labelSelector: this.podSelector })
      : await this.core.listPodForAllNamespaces({ labelSelector: this.podSelector });
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /** Creates an object; one that already exists (a create whose answer was lost, a stale cache) counts as done. */
  async create(object: KubernetesObject): Promise<'created' | 'exists'> {
    try {
      await this.objects.create(object);
      return 'created';
    } catch (error) {
      if (statusCodeOf(error) === 409) return 'exists';
      throw error;
    }
  }

  /**
   * Creates a Secret, or replaces the one of that name (no resourceVersion: an unconditional update, so the
   * operator never reads it): renewing a run's minted storage credentials. Needs `create` and `update` on secrets.
   */
  async putSecret(secret: V1Secret): Promise<'created' | 'replaced'> {
    const namespace = secret.metadata?.namespace ?? 'default';
    try {
      await this.core.createNamespacedSecret({ namespace, body: secret });
      return 'created';
    } catch (error) {
      if (statusCodeOf(error) !== 409) throw error;
    }
    await this.core.replaceNamespacedSecret({ namespace, name: secret.metadata?.name ?? '', body: secret });
    return 'replaced';
  }

  async exists(kind: 'Service' | 'ConfigMap' | 'NetworkPolicy', namespace: string, name: string): Promise<boolean> {
    try {
      if (kind === 'Service') await this.core.readNamespacedService({ namespace, name });
      else if (kind === 'NetworkPolicy') await this.networking.readNamespacedNetworkPolicy({ namespace, name });
      else await this.core.readNamespacedConfigMap({ namespace, name });
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 404) return false;
      throw error;
    }
  }

  /** Deletes a pod; `force` skips the grace period, for pods whose kubelet will never confirm (node gone). */
  async deletePod(namespace: string, name: string, force: boolean): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ namespace, name, ...(force ? { gracePeriodSeconds: 0 } : {}) });
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
  }

  async deleteRun(namespace: string, name: string): Promise<void> {
    try {
      // Background: the run goes now, the garbage collector removes its children after.
      await this.custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name,
        propagationPolicy: 'Background'
      });
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
  }

  /**
   * Replaces the whole status through the status subresource, guarded by the resourceVersion the decision was
   * made from: a stale cache gets 409 Conflict instead of, say, counting one failure twice. A JSON patch
   * (`add /status` replaces the member whole), not a merge patch: a merge patch cannot remove a key, so a field
   * the plan drops (the ingest of an attempt that ended) would stay, and the stored status would never equal
   * the planned one. It needs only the `patch` verb on trainingruns/status, as before.
   */
  async writeRunStatus(run: TrainingRun, status: TrainingRunStatus): Promise<RawRun> {
    const body = [
      // Replacing the resourceVersion with the one read makes the write conditional on it (409 if it moved on).
      { op: 'replace', path: '/metadata/resourceVersion', value: run.metadata.resourceVersion },
      { op: 'add', path: '/status', value: status }
    ];
    return (await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: run.metadata.namespace ?? 'default',
        plural: PLURAL,
        name: run.metadata.name,
        body
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)
    )) as RawRun;
  }

  async recordEvent(
    run: { metadata: Pick<TrainingRun['metadata'], 'name' | 'namespace' | 'uid' | 'resourceVersion'> },
    event: RunEvent,
    component: string
  ): Promise<void> {
    const namespace = run.metadata.namespace ?? 'default';
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${run.metadata.name}.`, namespace },
        involvedObject: {
          apiVersion: API_VERSION,
          kind: KIND,
          name: run.metadata.name,
          namespace,
          uid: run.metadata.uid,
          resourceVersion: run.metadata.resourceVersion
        },
        type: event.type,
        reason: event.reason,
        message: event.message.slice(0, 1024),
        source: { component },
        reportingComponent: component,
        reportingInstance: component,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1
      }
    });
  }

  async readLease(namespace: string, name: string): Promise<V1Lease | undefined> {
    try {
      return await this.coordination.readNamespacedLease({ namespace, name });
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
  }

  async createLease(lease: V1Lease): Promise<V1Lease> {
    return this.coordination.createNamespacedLease({ namespace: lease.metadata?.namespace ?? 'default', body: lease });
  }

  /** Replaces the lease if nobody wrote it since it was read (resourceVersion precondition). */
  async replaceLease(lease: V1Lease): Promise<V1Lease> {
    return this.coordination.replaceNamespacedLease({
      namespace: lease.metadata?.namespace ?? 'default',
      name: lease.metadata?.name ?? '',
      body: lease
    });
  }
}

/**
 * Creates a CustomResourceDefinition as raw JSON. client-node's typed serializer maps JSON keys to its model's
 * property names and silently drops the ones it has no name for — `default`, `x-kubernetes-validations`,
 * `x-kubernetes-int-or-string`, `x-kubernetes-list-type` — which would install the CRD without its defaults
 * and CEL rules. AlreadyExists counts as done.
 */
export async function createCrd(config: KubeConfig, crd: object): Promise<'created' | 'exists'> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster: set a current context');
  const url = new URL('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', cluster.server);
  const options: https.RequestOptions = {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' }
  };
  await config.applyToHTTPSOptions(options);
  const body = JSON.stringify(crd);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, options, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    request.on('error', reject);
    request.end(body);
  });
  if (status === 409) return 'exists';
  if (status < 200 || status >= 300) throw new Error(`creating the CRD failed with HTTP ${status}: ${text}`);
  return 'created';
}

export function microTime(date: Date): V1MicroTime {
  return new V1MicroTime(date.getTime());
}
