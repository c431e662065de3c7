import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_WORLD_SIZE } from '@ringtrain/proto';
import { eventually } from '@ringtrain/testing';
import { GROUP, PLURAL, VERSION } from '../api/group-version.js';
import type { TrainingRun } from '../api/training-run.js';
import type { CoordinatorReport } from '../reconcile/plan.js';
import { KubeApi, statusCodeOf, type RawRun } from './kube-api.js';
import { startOperator, type RunningOperator } from './operator.js';
import {
  createRun,
  getRun,
  namespace,
  operatorOptions,
  runBody,
  runGang,
  runStatus,
  setPodPhase,
  startKubeWithTrainingRuns,
  type KubeWithTrainingRuns
} from './training-runs.test-helper.js';

// What the TrainingRun's status says, read back from a real kube-apiserver and etcd: written whole, so a field
// the operator drops is gone, and written only when it changes.

let kube: KubeWithTrainingRuns['kube'];
let custom: KubeWithTrainingRuns['custom'];
let operator: RunningOperator | undefined;
const progress = new Map<string, CoordinatorReport>();

/** One CPU worker: these tests read status, and a run's pods never start here. */
const oneCpuWorker = { replicas: 1, image: 'ringtrain:test', gpu: { count: 0 } };

async function statusWrites(): Promise<number> {
  const metric = await operator?.metrics.registry.getSingleMetric('ringtrain_operator_status_writes_total')?.get();
  return metric?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
}

describe('the TrainingRun status against a real kube-apiserver and etcd', { timeout: 300_000 }, () => {
  before(async () => {
    ({ kube, custom } = await startKubeWithTrainingRuns());
    operator = await startOperator(operatorOptions(kube, progress));
    await operator.leading;
  });

  after(async () => {
    await operator?.stop();
    await kube?.stop();
  });

  it('a status written without a field it had before reads back without it', async () => {
    // Another controller's run: this operator leaves it alone, so only the test writes its status.
    await createRun(runBody('written', { managedBy: 'example.com/other' }, oneCpuWorker));
    const api = new KubeApi(kube.kubeConfig);
    const asRun = (raw: RawRun) => raw as unknown as TrainingRun;
    const first = await api.writeRunStatus(asRun(await getRun('written')), {
      phase: 'Pending',
      attempt: 1,
      ingest: { imagesDone: 3000, imagesTotal: 3670, shardsWritten: 5 }
    });
    assert.deepEqual((await getRun('written')).status?.ingest, {
      imagesDone: 3000,
      imagesTotal: 3670,
      shardsWritten: 5
    });
    await api.writeRunStatus(asRun(first), { phase: 'Restarting', attempt: 2 });
    assert.deepEqual((await getRun('written')).status, { phase: 'Restarting', attempt: 2 });
    // Guarded by the resourceVersion the decision was made from: a stale one is a conflict, not a write.
    const stale = await api.writeRunStatus(asRun(first), { phase: 'Failed' }).then(
      () => undefined,
      (error: unknown) => error
    );
    assert.equal(statusCodeOf(stale), 409);
    assert.deepEqual((await getRun('written')).status, { phase: 'Restarting', attempt: 2 });
  });

  it('a reconcile that changes nothing writes nothing', async () => {
    await createRun(runBody('quiet', {}, oneCpuWorker));
    progress.set('quiet', {
      progress: {
        epoch: 1,
        step: 7,
        loss: 1.5,
        accuracy: 0.25,
        imagesPerSecond: 100,
        lastCheckpoint: { uri: 's3://runs/quiet/checkpoints/slot-0.ckpt', step: 5 }
      }
    });
    await runGang('quiet', 1);
    await eventually(
      'Running at step 7',
      runStatus('quiet', (s) => s.phase === 'Running' && s.step === 7)
    );
    // The coordinator is polled every second; what it says does not change, so neither does the status.
    await sleep(1500);
    const before = await statusWrites();
    const resourceVersion = (await getRun('quiet')).metadata?.resourceVersion;
    await sleep(3500);
    assert.equal(await statusWrites(), before, 'status writes while nothing changed');
    assert.equal((await getRun('quiet')).metadata?.resourceVersion, resourceVersion);
  });

  it('a re-ingest after a gang restart, counting from zero again, is progress', async () => {
    await createRun(
      runBody(
        'reingest',
        { dataset: { ingest: { source: 's3://raw/flowers', into: 's3://datasets/flowers' } } },
        oneCpuWorker
      )
    );
    progress.set('reingest', { ingest: { imagesDone: 3000, imagesTotal: 3670, shardsWritten: 5 } });
    await runGang('reingest', 1);
    await eventually(
      'ingest at 3000 images',
      runStatus('reingest', (s) => s.phase === 'Running' && s.ingest?.imagesDone === 3000)
    );
    progress.delete('reingest');
    await setPodPhase('reingest-worker-0', 'Failed', { exitCode: 137 });
    const restarted = await eventually(
      'attempt 2',
      runStatus('reingest', (s) => s.attempt === 2)
    );
    assert.equal(restarted.ingest, undefined, "the first attempt's ingest is gone from the status");
    const restartedAt = Date.parse(restarted.lastProgressTime ?? '');
    await sleep(1100); // status times have a resolution of one second
    progress.set('reingest', { ingest: { imagesDone: 10, imagesTotal: 3670, shardsWritten: 0 } });
    await runGang('reingest', 1);
    const ingesting = await eventually(
      'the new ingest in the status',
      runStatus('reingest', (s) => s.ingest?.imagesDone === 10)
    );
    assert.ok(
      Date.parse(ingesting.lastProgressTime ?? '') > restartedAt,
      `lastProgressTime ${ingesting.lastProgressTime} moved on from the restart's`
    );
    const stalled = ingesting.conditions?.find((c) => c.type === 'Stalled');
    assert.equal(stalled?.status, 'False');
    assert.match(stalled?.message ?? '', /10 of 3670 images/);
    // And once the status says what the coordinator says, polling it again writes nothing.
    await sleep(1500);
    const writes = await statusWrites();
    await sleep(3000);
    assert.equal(await statusWrites(), writes, 'status writes while the ingest stood still');
  });

  it(`the API server refuses a run of more than ${MAX_WORLD_SIZE} replicas, the most the coordinator accepts`, async () => {
    const error = await createRun(runBody('too-many', {}, { ...oneCpuWorker, replicas: MAX_WORLD_SIZE + 1 })).then(
      () => undefined,
      (e: unknown) => e
    );
    assert.ok(error, `a run of ${MAX_WORLD_SIZE + 1} replicas was accepted`);
    assert.equal(statusCodeOf(error), 422);
    assert.match(
      String((error as { body?: unknown }).body),
      new RegExp(`spec\\.workers\\.replicas.*less than or equal to ${MAX_WORLD_SIZE}`)
    );
    const most = runBody('most', { runPolicy: { suspend: true } }, { ...oneCpuWorker, replicas: MAX_WORLD_SIZE });
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: most,
      dryRun: 'All'
    });
  });
});
