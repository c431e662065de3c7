import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { parseTrainingRun } from '../api/validate.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import { planReconcile, type Observed, type Plan } from '../reconcile/plan.js';
import { POD_GROUP_LABEL, buildPodGroup } from './pod-group.js';

const ganged = (podGroup: Record<string, unknown> = {}) =>
  parseTrainingRun(sampleRunInput({ spec: { runPolicy: { gangScheduling: { podGroup } } } }));
const fresh = (podGroupExists?: boolean): Observed => ({
  pods: [],
  serviceNames: [],
  secretExists: true,
  configMapExists: true,
  networkPolicyExists: true,
  ...(podGroupExists !== undefined ? { podGroupExists } : {})
});
const plan = (run = ganged(), podGroupExists = false, enabled = true): Plan =>
  planReconcile(run, fresh(podGroupExists), new Date('2026-12-06T10:00:00Z'), {
    token: 'test-token-0123456789abcdef',
    ...(enabled ? { podGroups: { schedulerName: 'scheduler-plugins-scheduler' } } : {})
  });
const created = (p: Plan) => p.actions.flatMap((a) => (a.kind === 'create' ? [a.object] : []));

describe('PodGroups (runPolicy.gangScheduling.podGroup)', () => {
  it('asks for the whole gang: minMember = worker pods + the coordinator, owned by the run', () => {
    const group = buildPodGroup(ganged({ scheduleTimeoutSeconds: 60 })) as unknown as {
      spec: Record<string, unknown>;
      metadata: { name: string; ownerReferences: { uid: string }[] };
    };
    assert.deepEqual(group.spec, { minMember: 3, scheduleTimeoutSeconds: 60 });
    assert.equal(group.metadata.name, 'flowers');
    assert.equal(group.metadata.ownerReferences[0]?.uid, 'uid-flowers');
  });

  it('creates the PodGroup before the pods, and every pod joins it with the coscheduling scheduler', () => {
    const objects = created(plan());
    const kinds = objects.map((o) => o.kind);
    assert.ok(kinds.indexOf('PodGroup') >= 0 && kinds.indexOf('PodGroup') < kinds.indexOf('Pod'));
    const pods = objects.filter((o): o is V1Pod => o.kind === 'Pod');
    assert.equal(pods.length, 3);
    for (const pod of pods) {
      assert.equal(pod.metadata?.labels?.[POD_GROUP_LABEL], 'flowers');
      assert.equal(pod.spec?.schedulerName, 'scheduler-plugins-scheduler');
    }
  });

  it("uses the spec's scheduler name over the operator's, and creates an existing PodGroup no more", () => {
    const objects = created(plan(ganged({ schedulerName: 'coscheduler' }), true));
    assert.ok(!objects.some((o) => o.kind === 'PodGroup'));
    for (const pod of objects.filter((o): o is V1Pod => o.kind === 'Pod'))
      assert.equal(pod.spec?.schedulerName, 'coscheduler');
  });

  it('fails such a run before it starts when the operator makes no PodGroups', () => {
    const p = plan(ganged(), false, false);
    assert.equal(p.status?.phase, 'Failed');
    assert.equal(p.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'PodGroupsDisabled');
    assert.deepEqual(created(p), []);
  });

  it('leaves runs that do not ask for one alone', () => {
    const objects = created(plan(parseTrainingRun(sampleRunInput())));
    assert.ok(!objects.some((o) => o.kind === 'PodGroup'));
    for (const pod of objects.filter((o): o is V1Pod => o.kind === 'Pod'))
      assert.equal(pod.metadata?.labels?.[POD_GROUP_LABEL], undefined);
  });
});
