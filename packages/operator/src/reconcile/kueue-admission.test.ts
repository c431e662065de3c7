import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { TrainingRunStatus } from '../api/status-schema.js';
import type { TrainingRun } from '../api/training-run.js';
import { parseTrainingRun } from '../api/validate.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import {
  QUEUE_NAME_LABEL,
  admittedPlacement,
  buildWorkload,
  withAdmittedPlacement,
  type ResourceFlavor,
  type Workload
} from '../resources/kueue.js';
import { planReconcile, type Action, type Observed, type Plan } from './plan.js';
import { observedPod } from './pod-fixtures.test-helper.js';

const T0 = new Date('2026-12-06T10:00:00Z');
const token = 'test-token-0123456789abcdef';

function queuedRun(status?: TrainingRunStatus, runPolicy: Record<string, unknown> = {}): TrainingRun {
  const input = sampleRunInput({ spec: { runPolicy } });
  return parseTrainingRun({
    ...input,
    metadata: { ...input.metadata, labels: { [QUEUE_NAME_LABEL]: 'gpu-queue' } },
    ...(status ? { status } : {})
  });
}

const flavor: ResourceFlavor = {
  metadata: { name: 'a100' },
  spec: {
    nodeLabels: { 'cloud.example.com/accelerator': 'a100' },
    tolerations: [{ key: 'cloud.example.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]
  }
};
const flavors = new Map([['a100', flavor]]);

const condition = (type: string, status: 'True' | 'False', reason = type) => ({
  type,
  status,
  reason,
  message: `${type} ${status}`,
  lastTransitionTime: '2026-12-06T09:00:00Z'
});

function workload(status: Workload['status'] = {}, uid = 'uid-flowers'): Workload {
  return {
    metadata: { name: 'trainingrun-flowers', resourceVersion: '7', ownerReferences: [{ uid }] },
    status
  };
}

const admitted = (): Workload['status'] => ({
  conditions: [condition('QuotaReserved', 'True'), condition('Admitted', 'True')],
  admission: {
    clusterQueue: 'cluster-gpu',
    podSetAssignments: [
      { name: 'coordinator', flavors: { cpu: 'a100' } },
      { name: 'workers', flavors: { cpu: 'a100', 'nvidia.com/gpu': 'a100' } }
    ]
  }
});

const labels = (role: 'coordinator' | 'worker', attempt: number, rank?: number) => ({
  'ringtrain.dev/run': 'flowers',
  'ringtrain.dev/role': role,
  'ringtrain.dev/attempt': String(attempt),
  ...(rank !== undefined ? { 'ringtrain.dev/rank': String(rank) } : {})
});
const gang = (attempt: number): V1Pod[] => [
  observedPod('flowers-coordinator', labels('coordinator', attempt), { phase: 'Running', ready: true }),
  observedPod('flowers-worker-0', labels('worker', attempt, 0), { phase: 'Running', ready: true }),
  observedPod('flowers-worker-1', labels('worker', attempt, 1), { phase: 'Running', ready: true })
];

function observed(pods: V1Pod[], extra: Partial<Observed> = {}): Observed {
  return {
    pods,
    serviceNames: ['flowers-coordinator', 'flowers-workers'],
    secretExists: true,
    configMapExists: true,
    networkPolicyExists: true,
    ...extra
  };
}

const plan = (run: TrainingRun, seen: Observed, kueue = true): Plan =>
  planReconcile(run, seen, T0, { token, ...(kueue ? { kueue } : {}) });
const createdPods = (p: Plan): V1Pod[] =>
  p.actions.flatMap((a) => (a.kind === 'create' && a.object.kind === 'Pod' ? [a.object as V1Pod] : []));
const kinds = (p: Plan): string[] =>
  p.actions.map((a: Action) => (a.kind === 'create' ? `create ${a.object.kind}` : a.kind));
const admittedCondition = (p: Plan) => p.status?.conditions?.find((c) => c.type === 'Admitted');

describe('buildWorkload', () => {
  it("has the run's queue, one podSet per role with the pods' requests, and the run as owner", () => {
    const workload = buildWorkload(queuedRun()) as unknown as {
      metadata: { name: string; ownerReferences: { uid: string }[] };
      spec: { queueName: string; podSets: { name: string; count: number; template: { spec: V1Pod['spec'] } }[] };
    };
    assert.equal(workload.metadata.name, 'trainingrun-flowers');
    assert.equal(workload.metadata.ownerReferences[0]?.uid, 'uid-flowers');
    assert.equal(workload.spec.queueName, 'gpu-queue');
    assert.deepEqual(
      workload.spec.podSets.map((p) => [p.name, p.count]),
      [
        ['coordinator', 1],
        ['workers', 2]
      ]
    );
    const worker = workload.spec.podSets[1]?.template.spec?.containers[0];
    assert.equal(worker?.resources?.limits?.['nvidia.com/gpu'], '1');
  });
});

describe('admittedPlacement', () => {
  it("merges the flavors' nodeLabels and tolerations and admission checks' podSetUpdates", () => {
    const status = admitted();
    const placement = admittedPlacement(
      workload({
        ...status,
        admissionChecks: [{ name: 'provisioning', podSetUpdates: [{ name: 'workers', nodeSelector: { pool: 'p1' } }] }]
      }),
      'workers',
      flavors
    );
    assert.deepEqual(placement?.nodeSelector, { 'cloud.example.com/accelerator': 'a100', pool: 'p1' });
    assert.deepEqual(placement?.tolerations, flavor.spec?.tolerations);
  });

  it('is undefined while a named flavor is unknown', () => {
    assert.equal(admittedPlacement(workload(admitted()), 'workers', new Map()), undefined);
  });

  it("keeps the spec's tolerations and lets the flavor's labels win", () => {
    const pod: V1Pod = {
      spec: {
        containers: [],
        nodeSelector: { 'cloud.example.com/accelerator': 'h100', zone: 'a' },
        tolerations: [{ key: 'x', operator: 'Exists' }]
      }
    };
    const placed = withAdmittedPlacement(pod, {
      nodeSelector: { 'cloud.example.com/accelerator': 'a100' },
      tolerations: []
    });
    assert.deepEqual(placed.spec?.nodeSelector, { 'cloud.example.com/accelerator': 'a100', zone: 'a' });
    assert.deepEqual(placed.spec?.tolerations, [{ key: 'x', operator: 'Exists' }]);
  });
});

describe('planReconcile with Kueue', () => {
  it('creates the Workload and no pod for a new queued run: Pending, Admitted False (Queued), a Queued event', () => {
    const p = plan(queuedRun(), observed([]));
    assert.ok(kinds(p).includes('create Workload'));
    assert.deepEqual(createdPods(p), []);
    assert.equal(p.status?.phase, 'Pending');
    assert.equal(p.status?.attempt, undefined, 'no attempt before admission: no deadline runs');
    assert.equal(admittedCondition(p)?.reason, 'Queued');
    assert.match(admittedCondition(p)?.message ?? '', /LocalQueue gpu-queue/);
    assert.ok(p.events.some((e) => e.reason === 'Queued'));
  });

  it("gives the Workload the run's PriorityClass and its value, and waits for a class it cannot read", () => {
    const input = sampleRunInput({
      spec: { workers: { replicas: 2, image: 'x', priorityClassName: 'research-high' } }
    });
    const run = parseTrainingRun({ ...input, metadata: { ...input.metadata, labels: { [QUEUE_NAME_LABEL]: 'q' } } });
    const created = plan(run, observed([], { priorityClassValue: 1000 })).actions.find(
      (a) => a.kind === 'create' && a.object.kind === 'Workload'
    );
    assert.ok(created && created.kind === 'create');
    assert.deepEqual((created.object as unknown as { spec: Record<string, unknown> }).spec.priorityClassRef, {
      group: 'scheduling.k8s.io',
      kind: 'PriorityClass',
      name: 'research-high'
    });
    assert.equal((created.object as unknown as { spec: Record<string, unknown> }).spec.priority, 1000);
    const unknown = plan(run, observed([]));
    assert.deepEqual(kinds(unknown), []);
    assert.equal(admittedCondition(unknown)?.reason, 'PriorityClassUnknown');
    assert.ok(unknown.events.some((e) => e.type === 'Warning' && e.reason === 'PriorityClassUnknown'));
  });

  it('replaces a queued Workload built from an older spec (podSets cannot change), and only a queued one', () => {
    const built = buildWorkload(queuedRun()) as unknown as { metadata: { annotations: Record<string, string> } };
    const current = {
      ...workload({}),
      metadata: { ...workload({}).metadata, annotations: built.metadata.annotations }
    };
    assert.deepEqual(kinds(plan(queuedRun(), observed([], { workload: current }))), []);
    const edited = parseTrainingRun({
      ...sampleRunInput({ spec: { workers: { replicas: 4, image: 'ringtrain:test' } } }),
      metadata: { ...sampleRunInput().metadata, labels: { [QUEUE_NAME_LABEL]: 'gpu-queue' } }
    });
    assert.deepEqual(kinds(plan(edited, observed([], { workload: current }))), ['delete-workload']);
    const admittedStale = { ...workload(admitted()), metadata: { ...workload({}).metadata } };
    assert.ok(!kinds(plan(edited, observed([], { workload: admittedStale, flavors }))).includes('delete-workload'));
  });

  it('waits without creating a Workload again while one exists unadmitted', () => {
    const pending = workload({ conditions: [condition('QuotaReserved', 'False', 'Pending')] });
    const built = buildWorkload(queuedRun()) as unknown as { metadata: { annotations: Record<string, string> } };
    const current = { ...pending, metadata: { ...pending.metadata, annotations: built.metadata.annotations } };
    assert.deepEqual(kinds(plan(queuedRun(), observed([], { workload: current }))), []);
  });

  it('ignores the label without PlanOptions.kueue', () => {
    const p = plan(queuedRun(), observed([]), false);
    assert.equal(createdPods(p).length, 3);
    assert.ok(!kinds(p).includes('create Workload'));
  });

  it('admitted: attempt 1 starts, its pods placed on the flavor', () => {
    const p = plan(queuedRun(), observed([], { workload: workload(admitted()), flavors }));
    assert.equal(p.status?.attempt, 1);
    const pods = createdPods(p);
    assert.equal(pods.length, 3);
    for (const pod of pods) {
      assert.equal(pod.spec?.nodeSelector?.['cloud.example.com/accelerator'], 'a100');
      assert.ok(pod.spec?.tolerations?.some((t) => t.key === 'cloud.example.com/gpu'));
    }
    assert.equal(admittedCondition(p)?.status, 'True');
  });

  it("keeps the Workload's PodsReady as Kueue's job integrations do (its waitForPodsReady evicts without it)", () => {
    const podsReady = (p: Plan) => {
      const write = p.actions.find((a) => a.kind === 'write-workload-status');
      return write?.kind === 'write-workload-status' ? write.conditions.find((c) => c.type === 'PodsReady') : undefined;
    };
    const started = plan(queuedRun(), observed([], { workload: workload(admitted()), flavors }));
    assert.equal(podsReady(started)?.reason, 'WaitForStart');
    const runningStatus: TrainingRunStatus = {
      phase: 'Pending',
      attempt: 1,
      startTime: '2026-12-06T09:00:00Z',
      lastProgressTime: '2026-12-06T09:59:00Z',
      conditions: [condition('Admitted', 'True', 'Admitted')]
    };
    const ready = plan(queuedRun(runningStatus), observed(gang(1), { workload: workload(admitted()), flavors }));
    assert.equal(podsReady(ready)?.status, 'True');
    assert.equal(podsReady(ready)?.reason, 'Started');
    const status = admitted();
    const already = workload({
      ...status,
      conditions: [...(status?.conditions ?? []), condition('PodsReady', 'True', 'Started')]
    });
    const unchanged = plan(queuedRun(runningStatus), observed(gang(1), { workload: already, flavors }));
    assert.equal(podsReady(unchanged), undefined, 'no write when nothing changed');
    const lost = plan(queuedRun(runningStatus), observed(gang(1).slice(0, 2), { workload: already, flavors }));
    assert.equal(podsReady(lost)?.reason, 'WaitForRecovery');
  });

  it('admitted on a flavor it cannot read: no pods, a FlavorUnknown wait', () => {
    const p = plan(queuedRun(), observed([], { workload: workload(admitted()), flavors: new Map() }));
    assert.deepEqual(createdPods(p), []);
    assert.equal(admittedCondition(p)?.reason, 'FlavorUnknown');
  });

  const running: TrainingRunStatus = {
    phase: 'Running',
    attempt: 1,
    startTime: '2026-12-06T09:00:00Z',
    lastProgressTime: '2026-12-06T09:00:00Z',
    conditions: [{ ...condition('Admitted', 'True', 'Admitted'), lastTransitionTime: '2026-12-06T09:00:00Z' }]
  };
  const evictedStatus = (): Workload['status'] => {
    const status = admitted();
    return { ...status, conditions: [...(status?.conditions ?? []), condition('Evicted', 'True', 'Preempted')] };
  };

  it('evicted: deletes the gang, uses no restart, and waits (no admission given back while pods remain)', () => {
    const p = plan(queuedRun(running), observed(gang(1), { workload: workload(evictedStatus()), flavors }));
    assert.deepEqual(kinds(p), ['delete-pod', 'delete-pod', 'delete-pod']);
    assert.equal(p.status?.phase, 'Pending');
    assert.equal(p.status?.restarts, undefined);
    assert.equal(admittedCondition(p)?.reason, 'Evicted');
    assert.match(admittedCondition(p)?.message ?? '', /Preempted/);
    assert.ok(p.events.some((e) => e.type === 'Warning' && e.reason === 'Evicted'));
  });

  it('evicted with no pod left: gives the quota back as Kueue does (admission removed, Requeued)', () => {
    const p = plan(queuedRun(running), observed([], { workload: workload(evictedStatus()), flavors }));
    const write = p.actions.find((a) => a.kind === 'write-workload-status');
    assert.ok(write && write.kind === 'write-workload-status');
    assert.equal(write.clearAdmission, true);
    assert.equal(write.resourceVersion, '7');
    const byType = new Map(write.conditions.map((c) => [c.type, c]));
    assert.equal(byType.get('QuotaReserved')?.status, 'False');
    assert.equal(byType.get('Admitted')?.status, 'False');
    assert.equal(byType.get('Requeued')?.status, 'True');
    assert.equal(byType.get('Evicted')?.status, 'True', "Kueue's own conditions are kept");
  });

  it('re-admitted after an eviction: a new attempt resumes from the checkpoint, the deadline clock restarted', () => {
    const waiting: TrainingRunStatus = {
      ...running,
      phase: 'Pending',
      conditions: [condition('Admitted', 'False', 'Evicted')]
    };
    const p = plan(queuedRun(waiting), observed([], { workload: workload(admitted()), flavors }));
    assert.equal(p.status?.attempt, 2);
    assert.equal(p.status?.lastProgressTime, T0.toISOString());
    assert.equal(createdPods(p).length, 3);
    assert.equal(p.status?.restarts, undefined);
  });

  it('finished: marks the Workload Finished (Succeeded or Failed), once', () => {
    const done: TrainingRunStatus = { ...running, phase: 'Succeeded', completionTime: '2026-12-06T09:30:00Z' };
    const p = plan(queuedRun(done), observed([], { workload: workload(admitted()) }));
    const write = p.actions.find((a) => a.kind === 'write-workload-status');
    assert.ok(write && write.kind === 'write-workload-status');
    assert.equal(write.conditions.find((c) => c.type === 'Finished')?.reason, 'Succeeded');
    const status = admitted();
    const again = plan(
      queuedRun(done),
      observed([], {
        workload: workload({
          ...status,
          conditions: [...(status?.conditions ?? []), condition('Finished', 'True', 'Succeeded')]
        })
      })
    );
    assert.ok(!again.actions.some((a) => a.kind === 'write-workload-status'));
  });

  it('suspended: the Workload is deleted, so a suspended run holds no quota', () => {
    const p = plan(queuedRun(running, { suspend: true }), observed(gang(1), { workload: workload(admitted()) }));
    assert.ok(p.actions.some((a) => a.kind === 'delete-workload'));
    assert.equal(p.actions.filter((a) => a.kind === 'delete-pod').length, 3);
  });

  it("does not take another run's Workload of the same name (an older run's, being garbage collected)", () => {
    const p = plan(queuedRun(), observed([], { workload: workload(admitted(), 'uid-older') }));
    assert.deepEqual(createdPods(p), []);
    assert.ok(!kinds(p).includes('create Workload'), 'its name is taken until the garbage collector deletes it');
  });
});
