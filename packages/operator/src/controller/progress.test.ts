import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { progressFromCoordinatorStatus } from './progress.js';

describe('progressFromCoordinatorStatus', () => {
  it("maps the coordinator's last step and newest checkpoint", () => {
    const status = {
      runId: 'default/flowers',
      state: 'running',
      lastStep: { epoch: 3, epochStep: 5, globalStep: 305, loss: 0.42, accuracy: 0.88, imagesPerSecond: 1234.5, images: 64 },
      checkpoints: [
        { key: 'ckpt-a', globalStep: 200, at: '2026-11-27T10:00:00Z', epoch: 2, bytes: 1, samplesConsumed: 1 },
        { key: 'ckpt-b', globalStep: 300, at: '2026-11-27T10:05:00Z', epoch: 3, bytes: 1, samplesConsumed: 1 },
      ],
    };
    assert.deepEqual(progressFromCoordinatorStatus(status, 's3://runs/flowers/checkpoints/'), {
      epoch: 3,
      step: 305,
      loss: 0.42,
      accuracy: 0.88,
      imagesPerSecond: 1234.5,
      lastCheckpoint: { uri: 's3://runs/flowers/checkpoints/ckpt-b', step: 300, time: '2026-11-27T10:05:00Z' },
    });
  });

  it('maps the ingest progress a coordinator serves before training (spec.dataset.ingest)', () => {
    const status = { runId: 'default/flowers', state: 'ingesting', lastStep: null, ingest: { imagesDone: 1200, imagesTotal: 3670, shardsWritten: 2 } };
    assert.deepEqual(progressFromCoordinatorStatus(status, 's3://x'), { ingest: { imagesDone: 1200, imagesTotal: 3670, shardsWritten: 2 } });
  });

  it('says nothing before the first step or for a body it does not understand', () => {
    assert.equal(progressFromCoordinatorStatus({ state: 'rendezvous', lastStep: null }, 's3://x'), undefined);
    assert.equal(progressFromCoordinatorStatus('<html>', 's3://x'), undefined);
  });
});
