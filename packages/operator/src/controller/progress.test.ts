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
      progress: {
        epoch: 3,
        step: 305,
        loss: 0.42,
        accuracy: 0.88,
        imagesPerSecond: 1234.5,
        lastCheckpoint: { uri: 's3://runs/flowers/checkpoints/ckpt-b', step: 300, time: '2026-11-27T10:05:00Z' },
      },
    });
  });

  it('maps the ingest progress a coordinator serves before training (spec.dataset.ingest)', () => {
    const status = { runId: 'default/flowers', state: 'ingesting', lastStep: null, ingest: { imagesDone: 1200, imagesTotal: 3670, shardsWritten: 2 } };
    assert.deepEqual(progressFromCoordinatorStatus(status, 's3://x'), { ingest: { imagesDone: 1200, imagesTotal: 3670, shardsWritten: 2 } });
  });

  it("summarizes the coordinator's run plan in the crash course's words, before the first step too", () => {
    const plan = {
      dataset: { uri: 's3://datasets/instruments', classes: Array.from({ length: 30 }, (_, i) => `class-${i}`), images: 4800, trainImages: 3840, valImages: 960 },
      workers: 2, batchPerWorker: 32, globalBatch: 64, iterationsPerEpoch: 60, epochs: 5, totalIterations: 300,
      optimizer: { kind: 'adam', learningRate: 0.001, schedule: 'constant', momentum: null, weightDecay: 0 },
      imageSize: 224,
    };
    assert.deepEqual(progressFromCoordinatorStatus({ state: 'rendezvous', lastStep: null, plan }, 's3://x'), {
      plan: {
        summary: '30 classes; 3840 training and 960 validation images; 2 workers × 32 images = global batch 64; 60 iterations per epoch × 5 epochs = 300 iterations; Adam at learning rate 0.001 (constant)',
        classes: 30, trainImages: 3840, valImages: 960, globalBatch: 64, iterationsPerEpoch: 60, totalIterations: 300,
      },
    });
  });

  it('says nothing before the first step or for a body it does not understand', () => {
    assert.equal(progressFromCoordinatorStatus({ state: 'rendezvous', lastStep: null, plan: null }, 's3://x'), undefined);
    assert.equal(progressFromCoordinatorStatus('<html>', 's3://x'), undefined);
  });
});
