import assert from 'node:assert/strict';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod
} from '@kubernetes/client-node';
import { eventually, startKubeTestServer, type KubeTestServer } from '@ringtrain/testing';
import pino from 'pino';
import { generateCrd } from '../api/crd.js';
import { GROUP, PLURAL, VERSION } from '../api/group-version.js';
import type { TrainingRunStatus } from '../api/status-schema.js';
import type { CoordinatorReport } from '../reconcile/plan.js';
import { createCrd, type RawRun } from './kube-api.js';
import type { OperatorOptions } from './operator.js';

/**
 * The integration suites' side of a real kube-apiserver: the server with the TrainingRun CRD Established, and the
 * reads and writes the tests make of runs and pods (playing the kubelet for the pods). One server per test file,
 * which node's test runner runs in a process of its own.
 */
export const namespace = 'default';

/** The suites' logger: silent unless RINGTRAIN_LOG_LEVEL asks for the operator's log. */
export const logger = pino({ level: process.env.RINGTRAIN_LOG_LEVEL ?? 'silent' });

export interface KubeWithTrainingRuns {
  readonly kube: KubeTestServer;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
}

let clients: KubeWithTrainingRuns | undefined;

/** A TrainingRun manifest named `name` with the given workers, `spec` laid over the minimal valid spec. */
export function runBody(
  name: string,
  spec: Record<string, unknown> = {},
  workers: Record<string, unknown> = { replicas: 2, image: 'ringtrain:test' }
): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'TrainingRun',
    metadata: { name, namespace },
    spec: {
      dataset: { uri: 's3://datasets/flowers' },
      workers,
      output: { uri: `s3://runs/${name}` },
      ...spec
    }
  };
}

/**
 * The operator a suite runs against this server: lease timings short enough that a failover takes seconds, the
 * coordinators' progress read from the suite's map (as progressFromCoordinatorStatus maps a real /status), and no
 * process metrics (one registry per process).
 */
export function operatorOptions(
  kube: KubeTestServer,
  progress: ReadonlyMap<string, CoordinatorReport>
): OperatorOptions {
  return {
    kubeConfig: kube.kubeConfig,
    namespace,
    httpPort: null,
    leaseDurationSeconds: 4,
    renewDeadlineSeconds: 3,
    retryPeriodSeconds: 1,
    progress: async (run) => progress.get(run.metadata.name),
    pollProgressSeconds: 1,
    logger,
    processMetrics: false
  };
}

export async function startKubeWithTrainingRuns(): Promise<KubeWithTrainingRuns> {
  const kube = await startKubeTestServer();
  const extensions = kube.kubeConfig.makeApiClient(ApiextensionsV1Api);
  assert.equal(await createCrd(kube.kubeConfig, generateCrd()), 'created');
  await eventually('the CRD to be Established', async () => {
    const crd = await extensions.readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
  });
  clients = {
    kube,
    core: kube.kubeConfig.makeApiClient(CoreV1Api),
    custom: kube.kubeConfig.makeApiClient(CustomObjectsApi)
  };
  return clients;
}

function started(): KubeWithTrainingRuns {
  if (clients === undefined) throw new Error("call startKubeWithTrainingRuns() in the suite's before() first");
  return clients;
}

export async function createRun(body: Record<string, unknown>): Promise<RawRun> {
  return (await started().custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body
  })) as RawRun;
}

export async function getRun(name: string): Promise<RawRun> {
  return (await started().custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    name
  })) as RawRun;
}

/** For `eventually`: the run's status once it satisfies `predicate`. */
export const runStatus =
  (name: string, predicate: (status: TrainingRunStatus) => boolean) =>
  async (): Promise<TrainingRunStatus | undefined> => {
    const status = (await getRun(name)).status;
    return status && predicate(status) ? status : undefined;
  };

/** The run's pods that are not being deleted. */
export async function podsOf(run: string): Promise<V1Pod[]> {
  return (
    await started().core.listNamespacedPod({ namespace, labelSelector: `ringtrain.dev/run=${run}` })
  ).items.filter((p) => !p.metadata?.deletionTimestamp);
}

/** Plays the kubelet: writes a pod's phase (and, for a failure, the container's exit) through pods/status. */
export async function setPodPhase(
  name: string,
  phase: 'Running' | 'Succeeded' | 'Failed',
  exit?: { exitCode: number; reason?: string }
): Promise<void> {
  const now = new Date().toISOString();
  const container = name.includes('coordinator') ? 'coordinator' : 'worker';
  const status = {
    phase,
    conditions: [{ type: 'Ready', status: phase === 'Running' ? 'True' : 'False', lastTransitionTime: now }],
    ...(exit
      ? {
          containerStatuses: [
            {
              name: container,
              image: 'ringtrain:test',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: {
                terminated: { exitCode: exit.exitCode, reason: exit.reason ?? 'Error', startedAt: now, finishedAt: now }
              }
            }
          ]
        }
      : {})
  };
  await started().core.patchNamespacedPodStatus(
    { namespace, name, body: { status } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
  );
}

/** Waits for the coordinator and `replicas` workers of the run's current attempt, and sets them all Running. */
export async function runGang(run: string, replicas: number): Promise<void> {
  const pods = await eventually(`the pods of ${run}`, async () => {
    const list = await podsOf(run);
    return list.length === replicas + 1 ? list : undefined;
  });
  for (const pod of pods) await setPodPhase(pod.metadata?.name ?? '', 'Running');
}
