import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from './backend.js';
import { decodeSafetensors, toFloat32 } from './safetensors.js';
import { Trainer } from './trainer.js';
import { loadSafetensorsWeights } from './weights.js';

/**
 * Trajectory parity with PyTorch (issue 14): from the same weights, on the same batches in the same order, with
 * the crash course's recipe (cross-entropy, Adam at lr 0.001, train mode), one rank with the whole batch or two
 * ranks with half each (against replicas averaging their gradients, as DDP does without SyncBatchNorm).
 * scripts/parity/train-trajectory.py is the PyTorch side (Debian's torch); its results are cached under
 * .cache/parity/, keyed by the script's hash and the case.
 *
 * - A frozen backbone (only fc trains, batch norm in train mode as the course leaves it): every one of 30
 *   steps' losses within 1e-3 relative of PyTorch's (measured: 8e-7).
 * - Full fine-tuning: the first two steps within 1e-5 and 3e-3 (the same forward pass, then the same first
 *   update, up to weights whose gradient is within rounding of 0). After that no implementation follows another step for step: PyTorch against itself with 2
 *   threads instead of 1 differs by 1e-3 at step 3 and 10–20% by step 20, with Adam or with SGD (Adam's
 *   first steps move every weight by ±lr whatever its gradient's size, and train-mode batch norm over a small
 *   batch spreads any flip; measured in docs/benchmarks.md). So from there the bar is PyTorch's own spread:
 *   our mean relative difference over the 30 steps at most 3× that of PyTorch at 2 threads against 1.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = `${ROOT}scripts/parity/train-trajectory.py`;
const HELPER = `${ROOT}scripts/parity/fixture_io.py`;
const STEPS = 30;
const NUM_CLASSES = 10;
const TOLERANCE = 1e-3;

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend
const slow = process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1';

interface Case {
  readonly imageSize: number;
  readonly batch: number;
  readonly ranks: number;
  readonly freezeBackbone: boolean;
}

function reference(
  c: Case,
  threads = 1
): { weights: Uint8Array; images: Float32Array; labels: Int32Array; losses: number[] } {
  const args = [
    '--image-size',
    String(c.imageSize),
    '--batch',
    String(c.batch),
    '--steps',
    String(STEPS),
    '--num-classes',
    String(NUM_CLASSES),
    '--ranks',
    String(c.ranks),
    '--threads',
    String(threads),
    ...(c.freezeBackbone ? ['--freeze-backbone'] : [])
  ];
  const key = createHash('sha256')
    .update(readFileSync(SCRIPT))
    .update(readFileSync(HELPER))
    .update(args.join(' '))
    .digest('hex')
    .slice(0, 16);
  const dir = `${ROOT}.cache/parity/trajectory-${key}`;
  if (!existsSync(`${dir}/losses.json`)) {
    try {
      execFileSync('/usr/bin/python3', [SCRIPT, '--out', dir, ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
        cwd: `${ROOT}scripts/parity`
      });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
      throw new Error(
        `the PyTorch reference could not run (${stderr.trim().split('\n').at(-1)}); install it with scripts/install-python-reference.sh`
      );
    }
  }
  const inputs = decodeSafetensors(readFileSync(`${dir}/inputs.safetensors`));
  const labels = inputs.tensors.get('labels')!;
  const view = new BigInt64Array(
    labels.data.buffer.slice(labels.data.byteOffset, labels.data.byteOffset + labels.data.byteLength)
  );
  return {
    weights: readFileSync(`${dir}/weights.safetensors`),
    images: toFloat32('images', inputs.tensors.get('images')!),
    labels: Int32Array.from(view, (value) => Number(value)),
    losses: JSON.parse(readFileSync(`${dir}/losses.json`, 'utf8')) as number[]
  };
}

const relative = (a: readonly number[], b: readonly number[]): number[] =>
  a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!));
const mean = (values: readonly number[]): number => values.reduce((sum, v) => sum + v, 0) / values.length;

/** Our side: `ranks` trainers from the same weights, each on its contiguous share, gradients averaged. */
function ourLosses(c: Case, data: ReturnType<typeof reference>): number[] {
  const trainers = Array.from({ length: c.ranks }, () => {
    const { model } = loadSafetensorsWeights(data.weights, { numClasses: NUM_CLASSES });
    return Trainer.create(
      {
        numClasses: NUM_CLASSES,
        imageSize: c.imageSize,
        freezeBackbone: c.freezeBackbone,
        optimizer: { kind: 'adam', lr: 1e-3 }
      },
      model
    );
  });
  const pixels = c.imageSize * c.imageSize * 3;
  const perRank = c.batch / c.ranks;
  const losses: number[] = [];
  try {
    for (let step = 0; step < STEPS; step++) {
      const results = trainers.map((trainer, rank) => {
        const first = step * c.batch + rank * perRank;
        return trainer.computeGradients({
          images: data.images.subarray(first * pixels, (first + perRank) * pixels),
          labels: data.labels.subarray(first, first + perRank),
          count: perRank
        });
      });
      const mean = new Float32Array(results[0]!.gradients.length);
      for (const { gradients } of results) for (let i = 0; i < mean.length; i++) mean[i]! += gradients[i]! / c.ranks;
      for (const trainer of trainers) trainer.applyGradients(mean);
      losses.push(results.reduce((sum, r) => sum + r.loss, 0) / c.ranks);
    }
  } finally {
    for (const trainer of trainers) trainer.dispose();
  }
  return losses;
}

const CASES: Case[] = [
  { imageSize: 32, batch: 64, ranks: 1, freezeBackbone: false },
  { imageSize: 32, batch: 64, ranks: 1, freezeBackbone: true },
  { imageSize: 32, batch: 64, ranks: 2, freezeBackbone: false },
  { imageSize: 32, batch: 64, ranks: 2, freezeBackbone: true },
  { imageSize: 64, batch: 32, ranks: 1, freezeBackbone: false },
  { imageSize: 64, batch: 32, ranks: 1, freezeBackbone: true }
];

for (const c of CASES) {
  const what = `${c.freezeBackbone ? 'frozen backbone' : 'full fine-tuning'}, ${c.ranks === 1 ? `1 rank × ${c.batch}` : `${c.ranks} ranks × ${c.batch / c.ranks}`} at ${c.imageSize} px`;
  const bar = c.freezeBackbone
    ? `every step within ${TOLERANCE} relative`
    : "the first two steps, then PyTorch's own spread";
  test(`[slow] the per-step loss follows PyTorch's for ${STEPS} steps (${bar}): ${what}`, { skip: slow }, (t) => {
    const data = reference(c);
    const errors = relative(ourLosses(c, data), data.losses);
    const worst = Math.max(...errors);
    t.diagnostic(`relative differences per step: ${errors.map((e) => e.toExponential(1)).join(', ')}`);
    if (c.freezeBackbone) {
      assert.ok(
        worst < TOLERANCE,
        `step ${errors.indexOf(worst) + 1} differs by ${worst} (every step: ${errors.map((e) => e.toExponential(1)).join(', ')})`
      );
      return;
    }
    assert.ok(errors[0]! < 1e-5, `step 1 (the same forward pass) differs by ${errors[0]}`);
    // Adam's first update moves every weight by ±lr whatever its gradient's size, so a weight whose gradient is
    // within float noise of 0 can move the other way than in PyTorch: measured 2e-4 to 1.1e-3 at step 2 (oneDNN's
    // convolutions on tensorflow, XNNPACK's on wasm), where PyTorch against itself at 2 threads gives 1.4e-5.
    assert.ok(errors[1]! < 3 * TOLERANCE, `step 2 (after the same first update) differs by ${errors[1]}`);
    const spread = relative(reference(c, 2).losses, data.losses);
    t.diagnostic(
      `mean relative difference: ours ${mean(errors).toExponential(2)}, PyTorch at 2 threads ${mean(spread).toExponential(2)}`
    );
    assert.ok(
      mean(errors) <= 3 * mean(spread),
      `ours drift ${mean(errors)} from PyTorch, more than 3× PyTorch's own ${mean(spread)}`
    );
  });
}
