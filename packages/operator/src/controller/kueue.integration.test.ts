import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiextensionsV1Api,
  PatchStrategy,
  SchedulingV1Api,
  setHeaderOptions,
  type V1Pod
} from '@kubernetes/client-node';
import { eventually } from '@ringtrain/testing';
import { parse } from 'yaml';
import {
  KUEUE_GROUP,
  KUEUE_VERSION,
  QUEUE_NAME_LABEL,
  RESOURCE_FLAVORS,
  WORKLOADS,
  workloadName
} from '../resources/kueue.js';
import { GROUP, PLURAL, VERSION } from '../api/group-version.js';
import { createCrd } from './kube-api.js';
import { startOperator, type RunningOperator } from './operator.js';
import {
  createRun,
  getRun,
  namespace,
  operatorOptions,
  podsOf,
  runBody,
  runGang,
  runStatus,
  setPodPhase,
  startKubeWithTrainingRuns,
  type KubeWithTrainingRuns
} from './training-runs.test-helper.js';

/**
 * Kueue admission through the Workload the operator manages, against Kueue's own CRDs (v0.17.0, from the Go module
 * proxy by scripts/install-kueue-crds.sh) in a real kube-apiserver. No Kueue controller runs: the test writes the
 * Workload's status as Kueue's scheduler would (quota reserved and admitted on a flavor, then evicted by a
 * preemption, then admitted again), so what it proves is the operator's side of Kueue's contract, on Kueue's schema.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const installScript = path.join(repoRoot, 'scripts/install-kueue-crds.sh');

/** The CRDs' directory, or why this machine cannot get them (no Go: the installer cannot run). */
function kueueCrds(): { dir: string } | { skip: string } {
  const installed = spawnSync('bash', [installScript], { encoding: 'utf8' });
  if (installed.status === 0) return { dir: installed.stdout.trim() };
  if (spawnSync('go', ['version']).error)
    return { skip: `Kueue's CRDs are not cached and the go command is missing to fetch them (${installScript})` };
  throw new Error(`${installScript} failed: ${installed.stderr}`);
}
const crds = kueueCrds();

const QUEUE = 'gpu-queue';
const FLAVOR = 'a100-spot';
const FLAVOR_LABELS = { 'cloud.example.com/accelerator': 'a100', 'cloud.example.com/capacity': 'spot' };
const FLAVOR_TOLERATION = { key: 'cloud.example.com/spot', operator: 'Exists', effect: 'NoSchedule' };

let kube: KubeWithTrainingRuns['kube'];
let core: KubeWithTrainingRuns['core'];
let custom: KubeWithTrainingRuns['custom'];
let operator: RunningOperator | undefined;

interface WorkloadObject {
  metadata: { name: string; uid: string; ownerReferences?: { uid: string; kind: string }[] };
  spec: {
    queueName: string;
    podSets: {
      name: string;
      count: number;
      template: { spec: { containers: { resources?: { limits?: Record<string, string> } }[] } };
    }[];
  };
  status?: {
    admission?: unknown;
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

async function getWorkload(run: string): Promise<WorkloadObject | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({
      group: KUEUE_GROUP,
      version: KUEUE_VERSION,
      namespace,
      plural: WORKLOADS,
      name: workloadName(run)
    })) as WorkloadObject;
  } catch {
    return undefined;
  }
}

const condition = (workload: WorkloadObject | undefined, type: string) =>
  workload?.status?.conditions?.find((c) => c.type === type);

/** Writes the Workload's status as Kueue's scheduler does. */
async function patchWorkloadStatus(run: string, status: Record<string, unknown>): Promise<void> {
  await custom.patchNamespacedCustomObjectStatus(
    {
      group: KUEUE_GROUP,
      version: KUEUE_VERSION,
      namespace,
      plural: WORKLOADS,
      name: workloadName(run),
      body: { status }
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
  );
}

const kueueCondition = (type: string, status: 'True' | 'False', reason: string, message: string) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z')
});

/** Kueue's scheduler admitting the run's two podSets on FLAVOR, in ClusterQueue `cluster-gpu`. */
async function admit(run: string, replicas: number, evictedBefore = false): Promise<void> {
  await patchWorkloadStatus(run, {
    conditions: [
      kueueCondition('QuotaReserved', 'True', 'QuotaReserved', 'Quota reserved in ClusterQueue cluster-gpu'),
      kueueCondition('Admitted', 'True', 'Admitted', 'The workload is admitted'),
      ...(evictedBefore ? [kueueCondition('Evicted', 'False', 'QuotaReserved', 'Previously: Preempted')] : [])
    ],
    admission: {
      clusterQueue: 'cluster-gpu',
      podSetAssignments: [
        { name: 'coordinator', flavors: { cpu: FLAVOR, memory: FLAVOR }, count: 1 },
        { name: 'workers', flavors: { cpu: FLAVOR, memory: FLAVOR, 'nvidia.com/gpu': FLAVOR }, count: replicas }
      ]
    }
  });
}

const placedOnFlavor = (pod: V1Pod) =>
  Object.entries(FLAVOR_LABELS).every(([key, value]) => pod.spec?.nodeSelector?.[key] === value) &&
  (pod.spec?.tolerations ?? []).some((t) => t.key === FLAVOR_TOLERATION.key && t.effect === FLAVOR_TOLERATION.effect);

describe(
  "Kueue admits TrainingRuns through the operator's Workload, on Kueue's real CRDs",
  { timeout: 300_000, ...('skip' in crds ? { skip: crds.skip } : {}) },
  () => {
    before(async () => {
      if ('skip' in crds) return;
      ({ kube, core, custom } = await startKubeWithTrainingRuns());
      const extensions = kube.kubeConfig.makeApiClient(ApiextensionsV1Api);
      for (const plural of [WORKLOADS, RESOURCE_FLAVORS]) {
        const crd = parse(readFileSync(path.join(crds.dir, `${KUEUE_GROUP}_${plural}.yaml`), 'utf8')) as object;
        assert.equal(await createCrd(kube.kubeConfig, crd), 'created');
        await eventually(`Kueue's ${plural} CRD to be Established`, async () => {
          const stored = await extensions.readCustomResourceDefinition({ name: `${plural}.${KUEUE_GROUP}` });
          return stored.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
            ? true
            : undefined;
        });
      }
      await custom.createClusterCustomObject({
        group: KUEUE_GROUP,
        version: KUEUE_VERSION,
        plural: RESOURCE_FLAVORS,
        body: {
          apiVersion: `${KUEUE_GROUP}/${KUEUE_VERSION}`,
          kind: 'ResourceFlavor',
          metadata: { name: FLAVOR },
          spec: { nodeLabels: FLAVOR_LABELS, tolerations: [FLAVOR_TOLERATION] }
        }
      });
      operator = await startOperator({ ...operatorOptions(kube, new Map()), kueue: true });
      await operator.leading;
    });

    after(async () => {
      await operator?.stop();
      await kube?.stop();
    });

    it("queues a labelled run as a Workload Kueue's schema accepts, with no pods before admission; admitted, its pods land on the flavor; evicted, they go and the quota is given back; re-admitted, it resumes; finished, the Workload is Finished", async () => {
      const name = 'queued';
      const body = runBody(name, {}, { replicas: 2, image: 'ringtrain:test', gpu: { count: 1 } });
      (body.metadata as { labels?: Record<string, string> }).labels = { [QUEUE_NAME_LABEL]: QUEUE };
      const run = await createRun(body);

      // The API server stored it, so Kueue's CRD schema (CEL rules included) accepted what the operator built.
      const workload = await eventually('the Workload', () => getWorkload(name));
      assert.equal(workload.spec.queueName, QUEUE);
      assert.deepEqual(
        workload.spec.podSets.map((p) => [p.name, p.count]),
        [
          ['coordinator', 1],
          ['workers', 2]
        ]
      );
      const workers = workload.spec.podSets.find((p) => p.name === 'workers');
      assert.equal(workers?.template.spec.containers[0]?.resources?.limits?.['nvidia.com/gpu'], '1');
      assert.deepEqual(
        workload.metadata.ownerReferences?.map((o) => [o.kind, o.uid]),
        [['TrainingRun', run.metadata?.uid]]
      );
      const queued = await eventually(
        'the run to say it is queued',
        runStatus(name, (s) => s.conditions?.some((c) => c.type === 'Admitted' && c.reason === 'Queued') ?? false)
      );
      assert.equal(queued.phase, 'Pending');
      assert.match(queued.conditions?.find((c) => c.type === 'Admitted')?.message ?? '', /LocalQueue gpu-queue/);
      await sleep(2000);
      assert.deepEqual(await podsOf(name), [], 'no pod before admission');

      await admit(name, 2);
      const pods = await eventually('the gang on the flavor', async () => {
        const list = await podsOf(name);
        return list.length === 3 ? list : undefined;
      });
      for (const pod of pods) assert.ok(placedOnFlavor(pod), `${pod.metadata?.name}: ${JSON.stringify(pod.spec)}`);
      await runGang(name, 2);
      await eventually('the Workload to say its pods are ready (PodsReady)', async () =>
        condition(await getWorkload(name), 'PodsReady')?.status === 'True' ? true : undefined
      );
      await eventually(
        'the run to run, admitted',
        runStatus(
          name,
          (s) =>
            s.phase === 'Running' && s.conditions?.some((c) => c.type === 'Admitted' && c.status === 'True') === true
        )
      );

      // A preemption: Kueue sets Evicted and waits for the job to stop before it takes the quota back.
      await patchWorkloadStatus(name, {
        conditions: [
          kueueCondition(
            'Evicted',
            'True',
            'Preempted',
            'Preempted to accommodate a workload (UID: x) due to prioritization in the ClusterQueue'
          )
        ]
      });
      await eventually('the pods to go', async () => ((await podsOf(name)).length === 0 ? true : undefined));
      const requeued = await eventually('the admission given back', async () => {
        const current = await getWorkload(name);
        return current && current.status?.admission === undefined ? current : undefined;
      });
      assert.equal(condition(requeued, 'QuotaReserved')?.status, 'False');
      assert.equal(condition(requeued, 'Admitted')?.status, 'False');
      assert.equal(condition(requeued, 'Requeued')?.status, 'True');
      const evicted = await eventually(
        'the run to wait, evicted',
        runStatus(name, (s) => s.conditions?.some((c) => c.type === 'Admitted' && c.reason === 'Evicted') ?? false)
      );
      assert.equal(evicted.phase, 'Pending');
      assert.match(evicted.conditions?.find((c) => c.type === 'Admitted')?.message ?? '', /Preempted/);
      assert.equal(evicted.restarts ?? 0, 0, 'an eviction uses none of the restart budget');
      const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
      assert.ok(events.items.some((e) => e.type === 'Warning' && e.reason === 'Evicted'));

      await admit(name, 2, true);
      await eventually(
        'the next attempt',
        runStatus(name, (s) => s.attempt === 2)
      );
      await runGang(name, 2);
      await eventually(
        'the run to run again',
        runStatus(name, (s) => s.phase === 'Running')
      );
      assert.equal((await getRun(name)).status?.restarts ?? 0, 0);

      await setPodPhase(`${name}-coordinator`, 'Succeeded');
      await eventually(
        'the run to succeed',
        runStatus(name, (s) => s.phase === 'Succeeded')
      );
      const finished = await eventually('the Workload to be Finished', async () => {
        const current = await getWorkload(name);
        return condition(current, 'Finished')?.status === 'True' ? current : undefined;
      });
      assert.equal(condition(finished, 'Finished')?.reason, 'Succeeded');
    });

    it("queues a run with a PriorityClass: the Workload carries its name and value, as Kueue's schema requires both", async () => {
      await kube.kubeConfig.makeApiClient(SchedulingV1Api).createPriorityClass({
        body: { metadata: { name: 'research-high' }, value: 1000 }
      });
      const body = runBody(
        'prioritized',
        {},
        { replicas: 1, image: 'ringtrain:test', priorityClassName: 'research-high' }
      );
      (body.metadata as { labels?: Record<string, string> }).labels = { [QUEUE_NAME_LABEL]: QUEUE };
      await createRun(body);
      const workload = (await eventually('the Workload', () => getWorkload('prioritized'))) as WorkloadObject & {
        spec: { priorityClassRef?: unknown; priority?: number };
      };
      assert.deepEqual(workload.spec.priorityClassRef, {
        group: 'scheduling.k8s.io',
        kind: 'PriorityClass',
        name: 'research-high'
      });
      assert.equal(workload.spec.priority, 1000);
    });

    it("replaces the Workload of a run edited while it is queued (a Workload's podSets cannot change)", async () => {
      const body = runBody('edited', {}, { replicas: 1, image: 'ringtrain:test' });
      (body.metadata as { labels?: Record<string, string> }).labels = { [QUEUE_NAME_LABEL]: QUEUE };
      await createRun(body);
      const before = await eventually('the Workload', () => getWorkload('edited'));
      assert.equal(before.spec.podSets.find((p) => p.name === 'workers')?.count, 1);
      await custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name: 'edited',
          body: { spec: { workers: { replicas: 3 } } }
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
      );
      const after = await eventually('a new Workload for 3 workers', async () => {
        const current = await getWorkload('edited');
        return current?.spec.podSets.find((p) => p.name === 'workers')?.count === 3 ? current : undefined;
      });
      assert.notEqual(after.metadata.uid, before.metadata.uid);
      assert.deepEqual(await podsOf('edited'), []);
    });

    it('a run without the queue label starts at once, with no Workload', async () => {
      await createRun(runBody('unqueued'));
      await eventually('its pods', async () => ((await podsOf('unqueued')).length === 3 ? true : undefined));
      assert.equal(await getWorkload('unqueued'), undefined);
    });
  }
);
