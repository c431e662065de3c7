import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger, parseRunConfig, type RunConfigInput } from '@ringtrain/protocol';
import { Coordinator } from './coordinator.js';
import { describeRunPlan, renderRunPlan } from './run-plan.js';

const digits = { classes: ['0', '1'], trainImages: 640, valImages: 64 };

/** A run of 4 ranks; `ranksPerPod` as a TrainingRun's spec.workers.ranksPerPod hands it over in run.json. */
function config(overrides: Partial<RunConfigInput> = {}) {
  return parseRunConfig(
    {
      runId: 'run-ranks',
      dataset: '/data/digits',
      out: '/runs/digits',
      workers: 4,
      epochs: 1,
      batchSize: 8,
      partitions: 4,
      training: { numClasses: 2 },
      cacheDir: '/tmp/cache',
      ...overrides
    },
    'the test'
  );
}

describe('a ring of several ranks per pod, as the plan and /status count it', () => {
  it('counts workers as ranks in the global batch and names the pods they run in', () => {
    const plan = describeRunPlan(config({ ranksPerPod: 2 }), digits);
    assert.equal(plan.workers, 4);
    assert.equal(plan.ranksPerPod, 2);
    assert.equal(plan.globalBatch, 32);
    assert.match(
      renderRunPlan(plan),
      /batch: +4 workers \(2 pods × 2 ranks each\) × 8 images per worker = global batch 32/
    );
    // One rank per pod (or a local run): as before, no pods mentioned.
    const single = describeRunPlan(config(), digits);
    assert.equal(single.ranksPerPod, undefined);
    assert.match(renderRunPlan(single), /batch: +4 workers × 8 images per worker = global batch 32/);
  });

  it('serves ranksPerPod beside worldSize in /status, 1 when the run does not say', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-ranks-'));
    try {
      for (const [given, expected] of [
        [2, 2],
        [undefined, 1]
      ] as const) {
        const coordinator = await Coordinator.start({
          config: config({ cacheDir: work, out: work, ...(given !== undefined ? { ranksPerPod: given } : {}) }),
          token: 'a-ranks-test-token-long-enough',
          logger: createLogger({ service: 'coordinator' }, path.join(work, 'coordinator.log')),
          httpPort: null
        });
        try {
          const status = coordinator.status();
          assert.deepEqual([status.worldSize, status.ranksPerPod], [4, expected]);
        } finally {
          await coordinator.close();
        }
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
