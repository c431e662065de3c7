import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digitsDataset, runCli, smallDigitsRun } from '../../run-cli.test-helper.js';

const slow = process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1' ? 'RINGTRAIN_SKIP_SLOW_TESTS=1' : false;

interface Metrics {
  weightsIdentical: boolean;
  weightsSha256: string[];
  final: { valAccuracy: number };
}

/**
 * `--gradient-wire bf16` halves the all-reduce's bytes. Shown on handwritten digits, the demo's run (2 workers,
 * 4 epochs, batch 16, 32 px) over two seeds per wire: bf16's mean accuracy stays within the seed-to-seed noise of
 * f32's, every rank still ends bit-identical, and the weights differ from f32's (the wire was really used).
 */
describe('ringtrain train --gradient-wire', () => {
  let work = '';
  let dataset = '';
  before(async () => {
    ({ work, dataset } = await digitsDataset('ringtrain-wire-', 60, 0.2));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    '[slow] bf16 leaves the final accuracy within noise of f32, ranks identical',
    { skip: slow, timeout: 15 * 60_000 },
    async (t) => {
      const accuracy: Record<'f32' | 'bf16', number[]> = { f32: [], bf16: [] };
      const weights: Record<string, string> = {};
      for (const seed of [0, 1]) {
        for (const wire of ['f32', 'bf16'] as const) {
          const out = path.join(work, `${wire}-${seed}`);
          const run = await runCli([
            'train',
            ...smallDigitsRun(dataset, out, { epochs: 4 }),
            '--seed',
            String(seed),
            '--gradient-wire',
            wire,
            '--json'
          ]);
          assert.equal(run.code, 0, run.stderr);
          const metrics = JSON.parse(await readFile(path.join(out, 'metrics.json'), 'utf8')) as Metrics;
          assert.equal(metrics.weightsIdentical, true, `${wire} seed ${seed}: ranks end bit-identical`);
          accuracy[wire].push(metrics.final.valAccuracy);
          weights[`${wire}-${seed}`] = metrics.weightsSha256[0]!;
        }
        assert.notEqual(weights[`bf16-${seed}`], weights[`f32-${seed}`], `seed ${seed}: bf16 rounds the gradients`);
      }
      const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
      const seedSpread = Math.abs(accuracy.f32[0]! - accuracy.f32[1]!);
      t.diagnostic(`validation accuracy f32 ${JSON.stringify(accuracy.f32)}, bf16 ${JSON.stringify(accuracy.bf16)}`);
      // 120 validation images: one image is 0.8 points. Noise: the f32 seeds' own spread, and never below 4 points.
      const tolerance = Math.max(0.04, seedSpread);
      assert.ok(
        Math.abs(mean(accuracy.bf16) - mean(accuracy.f32)) <= tolerance,
        `bf16 mean ${mean(accuracy.bf16)} vs f32 mean ${mean(accuracy.f32)} (tolerance ${tolerance})`
      );
    }
  );
});
