import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunMetrics } from '../run-metrics.js';

/** The output directory of a real `npm start` run (the digits demo: 2 workers, 4 epochs, 90% validation accuracy). */
export const demoRunDir = fileURLToPath(new URL('./demo-run', import.meta.url));

/** That run's metrics.json exactly as the coordinator wrote it: no plan and no confusion matrix (older format). */
export const demoMetricsText = readFileSync(new URL('./demo-run/metrics.json', import.meta.url), 'utf8');

export const demoMetricsJson = (): Record<string, unknown> => JSON.parse(demoMetricsText) as Record<string, unknown>;

/** A class name that must never reach the page unescaped. */
export const EVIL_CLASS = `<img src=x onerror="alert(1)">&'`;

/**
 * The same run with the fields added since: the run plan and a validation confusion matrix on each epoch,
 * with one hostile class name to prove escaping.
 */
export function demoMetricsWithPlan(): Record<string, unknown> {
  const metrics = demoMetricsJson() as RunMetrics & Record<string, unknown>;
  const classes = ['0', '1', '2', '3', '4', '5', '6', '7', '8', EVIL_CLASS];
  const confusion = Array.from({ length: 100 }, (_, cell) => (Math.floor(cell / 10) === cell % 10 ? 11 : cell % 7 === 0 ? 1 : 0));
  return {
    ...metrics,
    epochs: metrics.epochs.map((epoch) => ({ ...epoch, confusion })),
    plan: {
      runId: metrics.runId,
      dataset: { uri: '/work/main/runs/demo/dataset', classes, images: 600, trainImages: 480, valImages: 120 },
      workers: 2,
      batchPerWorker: 16,
      globalBatch: 32,
      iterationsPerEpoch: 15,
      lastIterationImages: 32,
      droppedPerEpoch: 0,
      epochs: 4,
      totalIterations: 60,
      maxSteps: null,
      optimizer: { kind: 'adam', learningRate: 0.001, momentum: null, weightDecay: 0, schedule: 'constant', warmupIterations: 0, scaledWithGlobalBatch: false },
      pretrained: null,
      seed: 0,
      frozen: 'nothing: every layer trains',
      freezeBackbone: false,
      unfreezeAfterEpochs: null,
      imageSize: 32,
      augment: false,
      backend: { requested: 'wasm', perRank: ['wasm', 'wasm'] },
      output: { dir: '/work/main/runs/demo', checkpoints: '/work/main/runs/demo/checkpoints', model: '/work/main/runs/demo/model', metrics: '/work/main/runs/demo/metrics.json', checkpointEveryIterations: 50 },
    },
  };
}
