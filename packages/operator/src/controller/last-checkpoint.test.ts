import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { checkpointsUri as workersCheckpointsUri, parseRunConfig } from '@ringtrain/protocol';
import { readObject } from '@ringtrain/dataset';
import { CheckpointStore, type DataCursor } from '@ringtrain/worker';
import { parseTrainingRun } from '../api/validate.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import { planReconcile } from '../reconcile/plan.js';
import { coordinatorRunConfig } from '../resources/templates.js';
import { httpProgressSource } from './progress.js';

// status.lastCheckpoint.uri must open the checkpoint it names: written where and as the workers write it, named
// by the key they report to the coordinator, read back from the URI the status shows.

const cursor = (epoch: number): DataCursor => ({
  epoch,
  samplesConsumed: 0,
  trained: { count: 0, indexSum: '0', indexSquareSum: '0', lossSum: 0, correct: 0, seconds: 0 }
});

describe('status.lastCheckpoint.uri', () => {
  let work = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-last-checkpoint-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  const cases = [
    { title: 'in <output.uri>/checkpoints by default', checkpoint: undefined },
    { title: 'in spec.checkpoint.uri when the run names one', checkpoint: 'elsewhere/ckpts' }
  ];
  for (const { title, checkpoint } of cases) {
    it(`opens the checkpoint it names, ${title}`, async () => {
      const dir = path.join(work, checkpoint ? 'b' : 'a');
      // Started already (file:// URIs stand in for s3:// here: a new run naming them would be refused).
      const run = parseTrainingRun({
        ...sampleRunInput({
          spec: {
            output: { uri: pathToFileURL(path.join(dir, 'out')).href },
            ...(checkpoint ? { checkpoint: { uri: pathToFileURL(path.join(dir, checkpoint)).href } } : {})
          }
        }),
        status: { phase: 'Pending', attempt: 1 }
      });
      // The workers get the coordinator's run configuration and open their checkpoint store as resources.ts does.
      const config = parseRunConfig(coordinatorRunConfig(run), 'the operator');
      const store = new CheckpointStore(workersCheckpointsUri(config), config.keepCheckpoints);
      await store.write(config.runId, 10, cursor(0), Uint8Array.of(1, 1));
      const newest = await store.write(config.runId, 20, cursor(1), Uint8Array.of(2, 2, 2));
      if (checkpoint)
        assert.ok(
          workersCheckpointsUri(config).endsWith('/elsewhere/ckpts'),
          'spec.checkpoint.uri reaches the workers'
        );

      // The coordinator's /status lists the checkpoints the workers reported, by their keys.
      const status = {
        state: 'running',
        lastStep: { epoch: 1, globalStep: 21 },
        checkpoints: [10, 20].map((globalStep, i) => ({
          key: i === 1 ? newest.key : 'slot-0.ckpt',
          globalStep,
          epoch: i
        }))
      };
      const source = httpProgressSource({
        url: () => `data:application/json,${encodeURIComponent(JSON.stringify(status))}`
      });
      const report = await source(run);
      assert.ok(report?.progress);
      const plan = planReconcile(
        run,
        {
          pods: [],
          serviceNames: [],
          secretExists: true,
          configMapExists: true,
          networkPolicyExists: true,
          progress: report.progress
        },
        new Date(),
        { token: 't' }
      );
      const uri = plan.status?.lastCheckpoint?.uri ?? '';
      assert.equal(plan.status?.lastCheckpoint?.step, 20);
      assert.deepEqual([...(await readObject(uri))], [2, 2, 2], `${uri} holds the newest checkpoint`);
    });
  }
});
